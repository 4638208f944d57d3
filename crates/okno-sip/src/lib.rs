//! SIP and SDP for Okno (in progress, see issue 3).
