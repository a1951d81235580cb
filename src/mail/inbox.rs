//! The local copy of the mailbox: every message read, raw, stored once, and
//! the checkpoint of how far each mailbox has been read. Owns the `messages`
//! and `checkpoints` tables.
//!
//! A batch of messages and the checkpoint that covers them are written in one
//! transaction, so a crash between the two can neither skip nor repeat one.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::store::{parse_ts, ts};

/// One message as read from a mail source.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Unique within the source: `UIDVALIDITY/UID` for IMAP, the file's
    /// unique name for a Maildir.
    pub key: String,
    pub uidvalidity: Option<u32>,
    pub uid: Option<u32>,
    /// When the server received it (IMAP INTERNALDATE).
    pub internaldate: DateTime<Utc>,
    pub raw: Vec<u8>,
}

/// How far an IMAP mailbox has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    pub uidvalidity: u32,
    pub last_uid: u32,
}

/// How a message was classified; `None` until it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageClass {
    Report,
    Revision,
    Misaddressed,
    Reply,
    /// A command by email (a valid reason filed by a supervisor).
    Command,
    /// A command that failed authentication: nothing done, flagged.
    Refused,
    Ignored,
    Unparsable,
}

impl MessageClass {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageClass::Report => "report",
            MessageClass::Revision => "revision",
            MessageClass::Misaddressed => "misaddressed",
            MessageClass::Reply => "reply",
            MessageClass::Command => "command",
            MessageClass::Refused => "refused",
            MessageClass::Ignored => "ignored",
            MessageClass::Unparsable => "unparsable",
        }
    }
}

/// A stored message waiting to be classified.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: i64,
    pub internaldate: DateTime<Utc>,
    pub raw: Vec<u8>,
}

/// What `reportd messages` shows of one message.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MessageRow {
    pub id: i64,
    pub internaldate: DateTime<Utc>,
    pub message_id: Option<String>,
    pub sender: Option<String>,
    pub subject: Option<String>,
    pub class: Option<String>,
    pub reason: Option<String>,
    pub flagged: bool,
}

pub fn checkpoint(conn: &Connection, source: &str) -> rusqlite::Result<Option<Checkpoint>> {
    conn.query_row(
        "SELECT uidvalidity, last_uid FROM checkpoints WHERE source = ?1",
        [source],
        |r| {
            Ok(Checkpoint {
                uidvalidity: r.get(0)?,
                last_uid: r.get(1)?,
            })
        },
    )
    .optional()
}

/// Stores a batch and, in the same transaction, the checkpoint that covers
/// it. A message already held (same source key, or same bytes, as after a
/// UIDVALIDITY change) is not stored again. Returns how many were new.
pub fn store_batch(
    conn: &mut Connection,
    source: &str,
    batch: &[Fetched],
    covers: Option<Checkpoint>,
) -> rusqlite::Result<usize> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut new = 0;
    {
        let mut insert = tx.prepare(
            "INSERT OR IGNORE INTO messages
                 (source, uidvalidity, uid, source_key, sha256, internaldate, raw, ingested_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let now = ts(Utc::now());
        for m in batch {
            new += insert.execute(params![
                source,
                m.uidvalidity,
                m.uid,
                m.key,
                sha256_hex(&m.raw),
                ts(m.internaldate),
                m.raw,
                now,
            ])?;
        }
    }
    if let Some(cp) = covers {
        tx.execute(
            "INSERT INTO checkpoints (source, uidvalidity, last_uid) VALUES (?1, ?2, ?3)
             ON CONFLICT (source) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid",
            params![source, cp.uidvalidity, cp.last_uid],
        )?;
    }
    tx.commit()?;
    Ok(new)
}

/// Source keys already stored for `source` (a Maildir skips those files).
pub fn known_keys(
    conn: &Connection,
    source: &str,
) -> rusqlite::Result<std::collections::HashSet<String>> {
    let mut stmt = conn.prepare("SELECT source_key FROM messages WHERE source = ?1")?;
    stmt.query_map([source], |r| r.get(0))?.collect()
}

/// Messages not yet classified, in arrival order.
pub fn unclassified(conn: &Connection) -> rusqlite::Result<Vec<Stored>> {
    let mut stmt = conn.prepare(
        "SELECT id, internaldate, raw FROM messages WHERE class IS NULL ORDER BY internaldate, id",
    )?;
    stmt.query_map([], |r| {
        Ok(Stored {
            id: r.get(0)?,
            internaldate: parse_ts(&r.get::<_, String>(1)?)?,
            raw: r.get(2)?,
        })
    })?
    .collect()
}

/// What classification found, written back onto the message.
#[derive(Debug, Clone)]
pub struct Classified<'a> {
    pub class: MessageClass,
    pub reason: &'a str,
    pub flagged: bool,
    pub message_id: Option<&'a str>,
    pub sender: Option<&'a str>,
    pub subject: Option<&'a str>,
}

pub fn set_class(conn: &Connection, id: i64, c: &Classified<'_>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE messages SET class = ?2, reason = ?3, flagged = ?4, message_id = ?5, sender = ?6, subject = ?7
         WHERE id = ?1",
        params![id, c.class.as_str(), c.reason, c.flagged, c.message_id, c.sender, c.subject],
    )?;
    Ok(())
}

/// Changes a classified message's class and reason (a report that turned
/// out to be a revision, because an earlier one was read after it).
pub fn reclassify(
    conn: &Connection,
    id: i64,
    class: MessageClass,
    reason: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE messages SET class = ?2, reason = ?3 WHERE id = ?1",
        params![id, class.as_str(), reason],
    )?;
    Ok(())
}

/// Ids and subjects of messages classified `ignored` whose subject holds
/// one of `words` (ASCII case-insensitive), oldest first: what a later step
/// (sales files by email) may take over.
pub fn ignored_with_subject(
    conn: &Connection,
    words: &[&str],
) -> rusqlite::Result<Vec<(i64, String)>> {
    let mut stmt = conn.prepare(
        "SELECT id, subject FROM messages
         WHERE class = 'ignored' AND subject IS NOT NULL AND instr(lower(subject), lower(?1)) > 0
         ORDER BY internaldate, id",
    )?;
    let mut out: Vec<(i64, String)> = Vec::new();
    for word in words {
        for row in stmt.query_map([word], |r| Ok((r.get(0)?, r.get(1)?)))? {
            let row = row?;
            if !out.iter().any(|(id, _)| *id == row.0) {
                out.push(row);
            }
        }
    }
    out.sort_by_key(|(id, _)| *id);
    Ok(out)
}

/// One stored message, raw.
pub fn stored(conn: &Connection, id: i64) -> rusqlite::Result<Stored> {
    conn.query_row(
        "SELECT id, internaldate, raw FROM messages WHERE id = ?1",
        [id],
        |r| {
            Ok(Stored {
                id: r.get(0)?,
                internaldate: parse_ts(&r.get::<_, String>(1)?)?,
                raw: r.get(2)?,
            })
        },
    )
}

/// Whether any stored message carries this Message-ID.
pub fn message_id_known(conn: &Connection, message_id: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM messages WHERE message_id = ?1)",
        [message_id],
        |r| r.get(0),
    )
}

/// Every message, newest first; only flagged ones when `flagged_only`.
pub fn list(conn: &Connection, flagged_only: bool) -> rusqlite::Result<Vec<MessageRow>> {
    let mut stmt = conn.prepare(
        "SELECT id, internaldate, message_id, sender, subject, class, reason, flagged
         FROM messages WHERE (?1 = 0 OR flagged = 1) ORDER BY internaldate DESC, id DESC",
    )?;
    stmt.query_map([flagged_only], |r| {
        Ok(MessageRow {
            id: r.get(0)?,
            internaldate: parse_ts(&r.get::<_, String>(1)?)?,
            message_id: r.get(2)?,
            sender: r.get(3)?,
            subject: r.get(4)?,
            class: r.get(5)?,
            reason: r.get(6)?,
            flagged: r.get(7)?,
        })
    })?
    .collect()
}

fn sha256_hex(raw: &[u8]) -> String {
    let digest = Sha256::digest(raw);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
