//! Mail in: reading the assistant's mailbox (IMAP or a local Maildir) and
//! decoding what is read.

pub mod parse;
