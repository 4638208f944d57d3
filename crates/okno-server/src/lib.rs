//! The central server (issue 6, in progress).
