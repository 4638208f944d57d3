//! Email as the center works it, without I/O: what an inbound message says ([`read`]), whether
//! it may open a ticket ([`MailKind`]), which ticket it belongs to ([`thread`]), how its HTML is
//! made safe to show ([`sanitize`]), and how an operator's reply is written ([`compose`]).
//!
//! The server does the talking (IMAP intake, SMTP outbox) and the storing; everything it decides
//! about a message is decided here, so the fuzz target and the corpus tests reach every rule.
//!
//! Invariants:
//! - [`read`] never fails and never panics: a message the MIME library cannot make sense of still
//!   gives what could be read (at least the raw text) and a note saying what went wrong, so no
//!   mail is dropped for being malformed.
//! - HTML leaves this crate only sanitised, with remote images disabled (their address kept in
//!   `data-okno-src` for the desk to restore on request) and `cid:` images named by content id.
//! - MIME is the field library's (`mail-parser` reading, `lettre` writing); nothing here decodes
//!   charsets or transfer encodings by hand.

mod compose;
mod inbound;
pub mod sanitize;
pub mod thread;

pub use compose::{ComposeError, Composed, OutgoingAttachment, OutgoingMail, compose};
pub use inbound::{Attachment, Inbound, MailKind, read};
pub use okno_core::email::EmailAddress;
