//! Media for Okno calls (issue 4, in progress).
