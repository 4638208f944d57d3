//! The sync protocol between desktops and the server (issue 6, in progress).
