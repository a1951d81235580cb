//! Raw RFC 5322 bytes to a decoded [`Envelope`]: RFC 2047 headers, any
//! charset (GB2312 read as GB18030, GBK, Big5, UTF-8, raw 8-bit headers),
//! addresses, threading headers. Never panics on bad input.
//!
//! SKELETON: signatures are settled; bodies are being written.

use chrono::{DateTime, FixedOffset};

/// One address, lower-cased, with its decoded display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    /// Lower-cased `local@domain`.
    pub email: String,
}

/// What reportd needs to know about one message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// Without angle brackets.
    pub message_id: Option<String>,
    pub from: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    /// Decoded, whitespace-normalised; empty when absent.
    pub subject: String,
    /// The sender's own claim; never used to judge a deadline.
    pub date: Option<DateTime<FixedOffset>>,
    /// Message-IDs without angle brackets.
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// Raw values of every `Authentication-Results` header, top first.
    pub authentication_results: Vec<String>,
    pub x_mailer: Option<String>,
    /// The first text/plain part decoded (or text/html with tags stripped),
    /// at most 64 KiB.
    pub body_text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not a parsable message: {0}")]
    Malformed(String),
    #[error("message has no From address it could read")]
    NoSender,
}

/// Parses one message. An `Err` is recorded with the raw bytes and flagged
/// for the assistant; it never stops a run.
pub fn parse(raw: &[u8]) -> Result<Envelope, ParseError> {
    let _ = raw;
    todo!()
}
