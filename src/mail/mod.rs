//! Mail in: reading the assistant's mailbox (IMAP or a local Maildir), keeping
//! a raw copy of every message, and decoding what is read.

pub mod auth;
pub mod imap;
pub mod inbox;
pub mod maildir;
pub mod parse;
pub mod prefetch;
pub mod storer;
pub mod tls;
