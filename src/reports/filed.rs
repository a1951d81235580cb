//! What the assistant files (备档) for a span of time: every report
//! (counting, revision or misaddressed) and every counted reply that
//! arrived in it, for the monthly archive, and the original bytes of each,
//! read one message at a time ([`raw`]) so that a month of mail is never
//! held at once. Reads the `reports` and `replies` tables this module owns,
//! and the raw message each row points at.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::mail::inbox::RawReader;
use crate::period::Period;
use crate::store::{parse_ts, ts};

/// What a filed message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Document {
    /// The first report of its period to the direct supervisor.
    Report,
    /// A later report of the same period (补附件, a correction).
    Revision,
    /// A report that missed the direct supervisor; it does not count.
    Misaddressed,
    /// A supervisor's or manager's reply to a report.
    Reply,
}

impl Document {
    pub fn as_str(self) -> &'static str {
        match self {
            Document::Report => "report",
            Document::Revision => "revision",
            Document::Misaddressed => "misaddressed",
            Document::Reply => "reply",
        }
    }
}

/// A reply: when it arrived and who wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub at: DateTime<Utc>,
    pub replier: String,
}

/// One filed message (its bytes: [`raw`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filed {
    /// The stored message's id (`messages.id`).
    pub message: i64,
    pub document: Document,
    /// The report's author (for a reply, the author of the report answered).
    pub person: String,
    pub period: Period,
    /// Arrival (INTERNALDATE).
    pub received: DateTime<Utc>,
    pub subject: Option<String>,
    /// For a report, the first reply to it; for a reply, itself.
    pub reply: Option<Reply>,
}

/// Every report and reply that arrived in `[from, until)`, oldest first.
/// Rows whose period no longer parses are left out (none are written so).
pub fn received_between(
    conn: &Connection,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> rusqlite::Result<Vec<Filed>> {
    // Reports carry their id (to find the first reply), replies their
    // replier; both in one column order.
    let mut stmt = conn.prepare(
        "SELECT r.message, CASE WHEN r.counts = 0 THEN 'misaddressed'
                                WHEN r.revision_of IS NOT NULL THEN 'revision'
                                ELSE 'report' END,
                r.person, r.period, r.received, m.subject, r.id, NULL
         FROM reports r JOIN messages m ON m.id = r.message
         WHERE r.received >= ?1 AND r.received < ?2
         UNION ALL
         SELECT p.message, 'reply', r.person, r.period, p.at, m.subject, NULL, p.replier
         FROM replies p JOIN reports r ON r.id = p.report JOIN messages m ON m.id = p.message
         WHERE p.at >= ?1 AND p.at < ?2
         ORDER BY 5, 1",
    )?;
    let mut rows = stmt.query(params![ts(from), ts(until)])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let Ok(period) = r.get::<_, String>(3)?.parse() else {
            continue;
        };
        let received = parse_ts(&r.get::<_, String>(4)?)?;
        let (document, reply) = match r.get::<_, String>(1)?.as_str() {
            "reply" => (
                Document::Reply,
                Some(Reply {
                    at: received,
                    replier: r.get(7)?,
                }),
            ),
            other => {
                let document = match other {
                    "misaddressed" => Document::Misaddressed,
                    "revision" => Document::Revision,
                    _ => Document::Report,
                };
                (document, first_reply(conn, r.get(6)?)?)
            }
        };
        out.push(Filed {
            message: r.get(0)?,
            document,
            person: r.get(2)?,
            period,
            received,
            subject: r.get(5)?,
            reply,
        });
    }
    Ok(out)
}

/// The SHA-256 the inbox recorded for `message`'s bytes when it stored
/// them, and their length; `None` when its bytes are not kept (then hash
/// what [`raw`] gives).
pub fn stored_digest(conn: &Connection, message: i64) -> rusqlite::Result<Option<(String, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.sha256, m.size FROM messages m
         WHERE m.id = ?1 AND EXISTS (SELECT 1 FROM message_raw x WHERE x.message = m.id)",
    )?;
    stmt.query_row([message], |r| {
        Ok((r.get(0)?, r.get::<_, i64>(1)?.unsigned_abs()))
    })
    .optional()
}

/// The message `message` exactly as the server gave it; empty when its
/// bytes are not held.
pub fn raw(conn: &Connection, message: i64) -> rusqlite::Result<Vec<u8>> {
    raw_with(&mut RawReader::new(conn), message)
}

/// [`raw`], read with `reader`, which moves from message to message.
pub fn raw_with(reader: &mut RawReader<'_>, message: i64) -> rusqlite::Result<Vec<u8>> {
    Ok(reader.read(message)?.unwrap_or_default())
}

/// The first reply to a report, if any.
pub fn first_reply(conn: &Connection, report: i64) -> rusqlite::Result<Option<Reply>> {
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT at, replier FROM replies WHERE report = ?1 ORDER BY at, id LIMIT 1",
            [report],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(at, replier)| {
        Ok(Reply {
            at: parse_ts(&at)?,
            replier,
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::inbox::{self, Fetched};

    #[test]
    fn the_stored_hash_is_the_inbox_hash_of_the_bytes_and_none_once_they_are_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = crate::store::open(&dir.path().join("f.sqlite3")).expect("db");
        let raw = b"Subject: hello\r\n\r\nbody\r\n".to_vec();
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let fetched = Fetched::new("1/1".into(), Some(1), Some(1), at, raw.clone());
        inbox::store_batch(&mut conn, "test", &[fetched], None).expect("store");
        let id: i64 = conn
            .query_row("SELECT id FROM messages", [], |r| r.get(0))
            .expect("id");
        assert_eq!(
            stored_digest(&conn, id).expect("sha"),
            Some((inbox::sha256_hex(&raw), raw.len() as u64))
        );
        conn.execute("UPDATE messages SET class = 'ignored', flagged = 0", [])
            .expect("classify");
        let later = at + chrono::Duration::days(1);
        assert_eq!(
            inbox::drop_unrelated_raw(&mut conn, later, later).expect("drop"),
            1
        );
        assert_eq!(stored_digest(&conn, id).expect("sha"), None);
        assert!(raw_of_nothing(&conn, id));
    }

    fn raw_of_nothing(conn: &Connection, id: i64) -> bool {
        raw(conn, id).expect("raw").is_empty()
    }
}
