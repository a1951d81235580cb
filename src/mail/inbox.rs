//! The local copy of the mailbox: every message read, raw, stored once, the
//! checkpoint of how far each mailbox has been read, and the messages an
//! IMAP server would not deliver in time, to fetch again later. Owns the
//! `messages`, `checkpoints` and `skipped_fetches` tables.
//!
//! A batch of messages and the checkpoint that covers them are written in one
//! transaction, so a crash between the two can neither skip nor repeat one.
//!
//! Nothing here holds the whole mailbox: sources store and the intake reads
//! in batches of at most [`BATCH_MESSAGES`] messages and [`BATCH_BYTES`]
//! bytes ([`batch_ranges`]), and the intake reads raw bytes one message at a
//! time, outside any write transaction ([`UnclassifiedBatches`]).

use std::ops::Range;

use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::mail::parse::{self, Envelope, ParseError};
use crate::store::{parse_ts, ts};

/// Messages in one batch at most (stored by a source, or parsed by the
/// intake before one short write transaction records them).
pub const BATCH_MESSAGES: usize = 200;

/// Raw bytes in one batch at most; a single message larger than this is a
/// batch of its own.
pub const BATCH_BYTES: u64 = 16 << 20;

/// How much of a message over the size limit is read, to show the assistant
/// its sender and subject: the header block of any real message fits.
pub const HEAD_BYTES: u64 = 64 << 10;

/// Splits items of these sizes, in order, into consecutive batches of at
/// most [`BATCH_MESSAGES`] items and [`BATCH_BYTES`] bytes (an item larger
/// than that alone). Every item is in exactly one batch.
pub fn batch_ranges(sizes: &[u64]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (i, &size) in sizes.iter().enumerate() {
        let full = i - start == BATCH_MESSAGES || bytes.saturating_add(size) > BATCH_BYTES;
        if i > start && full {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes = bytes.saturating_add(size);
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// How many batches there were and the largest one: what proves that
/// memory does not grow with the mailbox.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchStats {
    pub batches: usize,
    /// Messages in the batch with the most.
    pub largest_messages: usize,
    /// Raw bytes in the batch with the most.
    pub largest_bytes: u64,
}

impl BatchStats {
    pub fn add(&mut self, messages: usize, bytes: u64) {
        self.batches += 1;
        self.largest_messages = self.largest_messages.max(messages);
        self.largest_bytes = self.largest_bytes.max(bytes);
    }

    pub fn merge(&mut self, other: BatchStats) {
        self.batches += other.batches;
        self.largest_messages = self.largest_messages.max(other.largest_messages);
        self.largest_bytes = self.largest_bytes.max(other.largest_bytes);
    }
}

/// What a source's fetch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FetchReport {
    /// Messages stored that were not held before.
    pub new: usize,
    /// The batches stored.
    pub batches: BatchStats,
    /// Messages that could not be downloaded and wait for a later pass.
    pub skipped: usize,
}

/// One message as read from a mail source, with the digest its bytes are
/// known by: made by [`Fetched::new`] only, so the two always agree.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Unique within the source: `UIDVALIDITY/UID` for IMAP, the file's
    /// unique name for a Maildir.
    pub key: String,
    pub uidvalidity: Option<u32>,
    pub uid: Option<u32>,
    /// When the server received it (IMAP INTERNALDATE).
    pub internaldate: DateTime<Utc>,
    raw: Vec<u8>,
    sha256: String,
}

impl Fetched {
    /// A message read from a source. Its digest is computed here, by the
    /// side that reads it, as each message comes in: a first sync's
    /// storing thread spent a fifth of its time hashing while the thread
    /// reading from the server waited on it.
    pub fn new(
        key: String,
        uidvalidity: Option<u32>,
        uid: Option<u32>,
        internaldate: DateTime<Utc>,
        raw: Vec<u8>,
    ) -> Fetched {
        let sha256 = sha256_hex(&raw);
        Fetched {
            key,
            uidvalidity,
            uid,
            internaldate,
            raw,
            sha256,
        }
    }

    /// The message's bytes as read; not to be changed, or the digest
    /// would no longer be theirs.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The SHA-256 of the bytes, in hex ([`sha256_hex`]).
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
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

/// Whether no message was ever stored: the next download is the first
/// import of the mailbox.
pub fn holds_no_mail(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM messages)", [], |r| {
        r.get(0)
    })
}

/// Whether no mailbox was ever read into the database: no message and no
/// checkpoint (a mailbox read empty over IMAP leaves its checkpoint).
pub fn never_read(conn: &Connection) -> rusqlite::Result<bool> {
    let no_checkpoint: bool =
        conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM checkpoints)", [], |r| {
            r.get(0)
        })?;
    Ok(no_checkpoint && holds_no_mail(conn)?)
}

pub fn checkpoint(conn: &Connection, source: &str) -> rusqlite::Result<Option<Checkpoint>> {
    conn.prepare_cached("SELECT uidvalidity, last_uid FROM checkpoints WHERE source = ?1")?
        .query_row([source], |r| {
            Ok(Checkpoint {
                uidvalidity: r.get(0)?,
                last_uid: r.get(1)?,
            })
        })
        .optional()
}

/// Every mailbox's checkpoint, by source: what a backup holds.
pub fn checkpoints(conn: &Connection) -> rusqlite::Result<Vec<(String, Checkpoint)>> {
    conn.prepare("SELECT source, uidvalidity, last_uid FROM checkpoints ORDER BY source")?
        .query_map([], |r| {
            let checkpoint = Checkpoint {
                uidvalidity: r.get(1)?,
                last_uid: r.get(2)?,
            };
            Ok((r.get(0)?, checkpoint))
        })?
        .collect()
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
    let new = insert_batch(&tx, source, batch, covers)?;
    if !batch.is_empty() {
        crate::failpoint::hit(crate::failpoint::FETCH_BEFORE_COMMIT);
    }
    tx.commit()?;
    Ok(new)
}

/// [`store_batch`] inside a transaction the caller holds (and commits,
/// possibly after more batches: the checkpoint of each batch is written
/// with it, so whatever is committed is covered exactly).
pub fn insert_batch(
    conn: &Connection,
    source: &str,
    batch: &[Fetched],
    covers: Option<Checkpoint>,
) -> rusqlite::Result<usize> {
    let now = ts(Utc::now());
    let mut new = 0;
    for m in batch {
        new += insert_one(conn, source, m, &now)?;
    }
    after_batch(conn, source, batch, covers)?;
    Ok(new)
}

/// What storing a batch settles besides its messages: the skipped ones
/// among them are no longer owed, and the checkpoint moves to `covers`.
pub fn after_batch(
    conn: &Connection,
    source: &str,
    batch: &[Fetched],
    covers: Option<Checkpoint>,
) -> rusqlite::Result<()> {
    {
        // A message fetched at last is no longer owed.
        let mut done = conn.prepare_cached(
            "DELETE FROM skipped_fetches WHERE source = ?1 AND uidvalidity = ?2 AND uid = ?3",
        )?;
        for m in batch {
            if let (Some(uidvalidity), Some(uid)) = (m.uidvalidity, m.uid) {
                done.execute(params![source, uidvalidity, uid])?;
            }
        }
    }
    if let Some(cp) = covers {
        set_checkpoint(conn, source, cp)?;
    }
    Ok(())
}

/// Stores one message (its row, then its bytes in `message_raw`) unless
/// it is held already; returns 1 when it was new.
pub fn insert_one(
    conn: &Connection,
    source: &str,
    m: &Fetched,
    now: &str,
) -> rusqlite::Result<usize> {
    let sha256 = m.sha256();
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO messages
             (source, uidvalidity, uid, source_key, sha256, internaldate, size, ingested_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let size = i64::try_from(m.raw().len()).unwrap_or(i64::MAX);
    let row = params![
        source,
        m.uidvalidity,
        m.uid,
        m.key,
        sha256,
        ts(m.internaldate),
        size,
        now
    ];
    if insert.execute(row)? == 0 {
        // These bytes are held already: this message again, or a copy of
        // it. The server had them from the earliest INTERNALDATE, and a copy
        // moved into the mailbox later keeps its old date under a new UID,
        // so a report's on-time copy must not lose to a later one that was
        // numbered first. Only before it is classified: a verdict already
        // drawn from it is not moved under the ledger.
        conn.prepare_cached(
            "UPDATE messages SET internaldate = ?2
             WHERE sha256 = ?1 AND class IS NULL AND internaldate > ?2",
        )?
        .execute(params![sha256, ts(m.internaldate)])?;
        return Ok(0);
    }
    let id = conn.last_insert_rowid();
    let mut raw = conn.prepare_cached("INSERT INTO message_raw (message, raw) VALUES (?1, ?2)")?;
    raw.execute(params![id, m.raw()])?;
    Ok(1)
}

/// Moves the checkpoint of `source` (in the caller's transaction).
pub fn set_checkpoint(conn: &Connection, source: &str, cp: Checkpoint) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO checkpoints (source, uidvalidity, last_uid) VALUES (?1, ?2, ?3)
         ON CONFLICT (source) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid",
    )?
    .execute(params![source, cp.uidvalidity, cp.last_uid])?;
    Ok(())
}

/// The first wait before a skipped message is tried again; it doubles with
/// each failure up to [`SKIP_RETRY_MAX`].
pub const SKIP_RETRY_FIRST: Duration = Duration::minutes(5);
pub const SKIP_RETRY_MAX: Duration = Duration::hours(6);

/// Remembers a message of an IMAP mailbox that could not be downloaded, so
/// that the checkpoint may pass it and it is tried again later, after
/// [`SKIP_RETRY_FIRST`] and then twice as long after each failure. Returns
/// how many times it has failed.
pub fn skip(
    conn: &Connection,
    source: &str,
    uidvalidity: u32,
    uid: u32,
    error: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<u32> {
    let attempts: u32 = conn
        .prepare_cached(
            "INSERT INTO skipped_fetches (source, uidvalidity, uid, attempts, last_error, next_try)
         VALUES (?1, ?2, ?3, 1, ?4, '')
         ON CONFLICT (source, uidvalidity, uid)
             DO UPDATE SET attempts = attempts + 1, last_error = excluded.last_error
         RETURNING attempts",
        )?
        .query_row(params![source, uidvalidity, uid, error], |r| r.get(0))?;
    // 5 min × 2^7 is past the maximum already.
    let wait = (0..attempts.saturating_sub(1).min(8))
        .try_fold(SKIP_RETRY_FIRST, |w, _| w.checked_add(&w))
        .map_or(SKIP_RETRY_MAX, |w| w.min(SKIP_RETRY_MAX));
    conn.prepare_cached("UPDATE skipped_fetches SET next_try = ?4 WHERE source = ?1 AND uidvalidity = ?2 AND uid = ?3")?.execute(
        params![source, uidvalidity, uid, ts(now + wait)],
    )?;
    Ok(attempts)
}

/// The skipped UIDs of `source` under `uidvalidity` whose retry is due at
/// `now`, lowest first. Rows of another UIDVALIDITY are dropped: that
/// mailbox is read again from the start.
pub fn skipped_due(
    conn: &Connection,
    source: &str,
    uidvalidity: u32,
    now: DateTime<Utc>,
) -> rusqlite::Result<Vec<u32>> {
    conn.prepare_cached("DELETE FROM skipped_fetches WHERE source = ?1 AND uidvalidity <> ?2")?
        .execute(params![source, uidvalidity])?;
    let mut stmt = conn.prepare(
        "SELECT uid FROM skipped_fetches WHERE source = ?1 AND uidvalidity = ?2 AND next_try <= ?3
         ORDER BY uid",
    )?;
    stmt.query_map(params![source, uidvalidity, ts(now)], |r| r.get(0))?
        .collect()
}

/// Forgets a skipped message that is gone from the mailbox.
pub fn forget_skipped(
    conn: &Connection,
    source: &str,
    uidvalidity: u32,
    uid: u32,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "DELETE FROM skipped_fetches WHERE source = ?1 AND uidvalidity = ?2 AND uid = ?3",
    )?
    .execute(params![source, uidvalidity, uid])?;
    Ok(())
}

/// Whether `source` holds a message under this key (a Maildir skips
/// those files). One indexed lookup per key, so the keys of the whole
/// mailbox are never held at once.
pub fn key_known(conn: &Connection, source: &str, key: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM messages WHERE source = ?1 AND source_key = ?2)",
    )?
    .query_row(params![source, key], |r| r.get(0))
}

/// A message waiting to be classified, read and parsed.
#[derive(Debug)]
pub struct Unclassified {
    pub stored: Stored,
    pub read: Read,
}

/// What reading a stored message gave.
#[derive(Debug)]
pub enum Read {
    Parsed(Result<Envelope, ParseError>),
    TooLarge(TooLarge),
}

/// A message larger than the limit: not parsed.
#[derive(Debug)]
pub struct TooLarge {
    pub bytes: u64,
    pub limit: u64,
    /// What its first [`HEAD_BYTES`] say (sender, subject), to show the
    /// assistant.
    pub head: Option<Envelope>,
}

/// Records a message over the size limit: `ignored`, flagged "too large",
/// with the sender and subject its head shows.
pub fn set_too_large(conn: &Connection, id: i64, big: &TooLarge) -> rusqlite::Result<MessageClass> {
    const MB: f64 = (1 << 20) as f64;
    let reason = format!(
        "too large ({:.1} MB > {:.0} MB limit): kept raw, not read; raise `max_message_mb` \
         in [limits] to have it read, or open it in a mail client",
        big.bytes as f64 / MB,
        big.limit as f64 / MB
    );
    let head = big.head.as_ref();
    let c = Classified {
        class: MessageClass::Ignored,
        reason: &reason,
        flagged: true,
        message_id: head.and_then(|e| e.message_id.as_deref()),
        sender: head.and_then(|e| e.from.as_ref()).map(|m| m.email.as_str()),
        subject: head.map(|e| e.subject.as_str()),
    };
    set_class(conn, id, &c)?;
    Ok(MessageClass::Ignored)
}

/// The unclassified messages in arrival order, a batch at a time, each
/// read and parsed outside any transaction: the intake then records a
/// batch in one short write transaction. Holds one raw message at a time.
pub struct UnclassifiedBatches {
    /// (internaldate, id) of the last message handed out.
    after: (String, i64),
    max_message_bytes: u64,
}

impl UnclassifiedBatches {
    /// Messages over `max_message_bytes` are not parsed ([`Read::TooLarge`]).
    pub fn new(max_message_bytes: u64) -> UnclassifiedBatches {
        UnclassifiedBatches {
            after: (String::new(), 0),
            max_message_bytes,
        }
    }

    /// How many messages wait to be classified.
    pub fn count(conn: &Connection) -> rusqlite::Result<usize> {
        let n: i64 = conn
            .prepare_cached("SELECT count(*) FROM messages WHERE class IS NULL")?
            .query_row([], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or_default())
    }

    /// The next batch and its raw bytes read, or `None` when all were
    /// handed out.
    pub fn next_batch(
        &mut self,
        conn: &Connection,
    ) -> rusqlite::Result<Option<(Vec<Unclassified>, u64)>> {
        let page = self.page(conn)?;
        let sizes: Vec<u64> = page.iter().map(|(_, size)| self.read_size(*size)).collect();
        let Some(first) = batch_ranges(&sizes).into_iter().next() else {
            return Ok(None);
        };
        let mut batch = Vec::with_capacity(first.len());
        let mut raw = RawReader::new(conn);
        for (stored, size) in page.into_iter().take(first.end) {
            self.after = (ts(stored.internaldate), stored.id);
            let read = self.read(conn, &mut raw, stored.id, size)?;
            batch.push(Unclassified { stored, read });
        }
        Ok(Some((batch, sizes[first].iter().sum())))
    }

    /// Up to a batch of the next messages, with their sizes, no bytes.
    fn page(&self, conn: &Connection) -> rusqlite::Result<Vec<(Stored, u64)>> {
        let mut stmt = conn.prepare_cached(
            "SELECT id, internaldate, size FROM messages
             WHERE class IS NULL AND (internaldate, id) > (?1, ?2)
             ORDER BY internaldate, id LIMIT ?3",
        )?;
        let limit = i64::try_from(BATCH_MESSAGES).unwrap_or(i64::MAX);
        stmt.query_map(params![self.after.0, self.after.1, limit], |r| {
            let stored = Stored {
                id: r.get(0)?,
                internaldate: parse_ts(&r.get::<_, String>(1)?)?,
            };
            Ok((stored, r.get::<_, i64>(2)?.unsigned_abs()))
        })?
        .collect()
    }

    /// The bytes reading a message of `size` takes.
    fn read_size(&self, size: u64) -> u64 {
        if size > self.max_message_bytes {
            size.min(HEAD_BYTES)
        } else {
            size
        }
    }

    fn read(
        &self,
        conn: &Connection,
        raw: &mut RawReader<'_>,
        id: i64,
        size: u64,
    ) -> rusqlite::Result<Read> {
        if size > self.max_message_bytes {
            let head: Vec<u8> = conn
                .prepare_cached("SELECT substr(raw, 1, ?2) FROM message_raw WHERE message = ?1")?
                .query_row(params![id, HEAD_BYTES as i64], |r| r.get(0))?;
            return Ok(Read::TooLarge(TooLarge {
                bytes: size,
                limit: self.max_message_bytes,
                head: parse::parse(&head).ok(),
            }));
        }
        let raw = raw.read(id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
        Ok(Read::Parsed(parse::parse(&raw)))
    }
}

/// Stored raw messages, read through SQLite's incremental blob I/O: each
/// is copied once, into the `Vec` returned. `SELECT raw` assembles a
/// message longer than a page in SQLite's own buffer first and is copied
/// out of it, so the archive's peak held its largest attachment twice and
/// a first import copied every message twice. One handle moves from row to
/// row; it reads in the transaction of its connection, so keep a reader no
/// longer than one batch or one archive outside a transaction.
pub struct RawReader<'c> {
    conn: &'c Connection,
    blob: Option<rusqlite::blob::Blob<'c>>,
}

impl<'c> RawReader<'c> {
    pub fn new(conn: &'c Connection) -> RawReader<'c> {
        RawReader { conn, blob: None }
    }

    /// The bytes of message `id` as the server gave them; `None` when they
    /// are not held (never stored, or dropped as unrelated).
    pub fn read(&mut self, id: i64) -> rusqlite::Result<Option<Vec<u8>>> {
        let held = self
            .conn
            .prepare_cached("SELECT 1 FROM message_raw WHERE message = ?1")?
            .exists([id])?;
        if !held {
            return Ok(None);
        }
        // A handle that failed to move is spent: `take` drops it.
        let blob = match self.blob.take() {
            Some(mut blob) => {
                blob.reopen(id)?;
                blob
            }
            None => self
                .conn
                .blob_open(rusqlite::MAIN_DB, "message_raw", "raw", id, true)?,
        };
        let mut raw = vec![0; blob.len()];
        blob.read_at_exact(&mut raw, 0)?;
        self.blob = Some(blob);
        Ok(Some(raw))
    }
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
    conn.prepare_cached(
        "UPDATE messages SET class = ?2, reason = ?3, flagged = ?4, message_id = ?5, sender = ?6, subject = ?7
         WHERE id = ?1",
    )?
    .execute(params![id, c.class.as_str(), c.reason, c.flagged, c.message_id, c.sender, c.subject])?;
    Ok(())
}

/// Flags a classified message for the assistant and adds `note` to its
/// reason (a message over one of the parser's caps).
pub fn flag(conn: &Connection, id: i64, note: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE messages SET flagged = 1, reason = coalesce(reason || '; ', '') || ?2 WHERE id = ?1")?.execute(
        params![id, note],
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
    conn.prepare_cached("UPDATE messages SET class = ?2, reason = ?3 WHERE id = ?1")?
        .execute(params![id, class.as_str(), reason])?;
    Ok(())
}

/// An ignored message a later step (sales files by email) may take over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredMessage {
    pub id: i64,
    pub subject: String,
    pub sender: Option<String>,
    pub flagged: bool,
}

/// Messages numbered after `after` and classified `ignored` whose subject
/// holds one of `words` (ASCII case-insensitive), oldest first.
pub fn ignored_with_subject(
    conn: &Connection,
    words: &[&str],
    after: i64,
) -> rusqlite::Result<Vec<IgnoredMessage>> {
    if words.is_empty() {
        return Ok(Vec::new());
    }
    // One pass over the messages for all the words, not one per word. LIKE
    // ignores ASCII case, as SQLite's lower() folds only ASCII, without
    // making a lowered copy of every subject.
    let any_word = (2..=words.len() + 1)
        .map(|i| format!("subject LIKE ?{i} ESCAPE '\\'"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let patterns = words.iter().map(|w| {
        let escaped = w
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, subject, sender, flagged FROM messages
         WHERE class = 'ignored' AND id > ?1 AND subject IS NOT NULL AND ({any_word})
         ORDER BY id"
    ))?;
    let params = std::iter::once(rusqlite::types::Value::Integer(after))
        .chain(patterns.map(rusqlite::types::Value::Text));
    let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
        Ok(IgnoredMessage {
            id: r.get(0)?,
            subject: r.get(1)?,
            sender: r.get(2)?,
            flagged: r.get(3)?,
        })
    })?;
    rows.collect()
}

/// The highest message number up to which every stored message has a
/// class (0 for none): what a later intake classifies is numbered after
/// it.
pub fn classified_through(conn: &Connection) -> rusqlite::Result<i64> {
    // The few unclassified messages are read from their index; left to
    // itself SQLite walked every message from the first, looking for one
    // without a class (11 ms of 50,000, every pass).
    conn.prepare_cached(
        "SELECT COALESCE(
             (SELECT MIN(id) - 1 FROM messages INDEXED BY messages_unclassified
              WHERE class IS NULL),
             (SELECT MAX(id) FROM messages), 0)",
    )?
    .query_row([], |r| r.get(0))
}

/// A stored message with its raw bytes, for the few readers that need one
/// whole message (a sales file sent by email).
#[derive(Debug, Clone)]
pub struct StoredRaw {
    pub id: i64,
    pub internaldate: DateTime<Utc>,
    pub raw: Vec<u8>,
}

/// One stored message, raw.
pub fn stored(conn: &Connection, id: i64) -> rusqlite::Result<StoredRaw> {
    conn.prepare_cached(
        "SELECT m.id, m.internaldate, r.raw FROM messages m JOIN message_raw r ON r.message = m.id
         WHERE m.id = ?1",
    )?
    .query_row([id], |r| {
        Ok(StoredRaw {
            id: r.get(0)?,
            internaldate: parse_ts(&r.get::<_, String>(1)?)?,
            raw: r.get(2)?,
        })
    })
}

/// Drops the raw bytes of every message that arrived before `before` and
/// is nothing reportd acts on: classified `ignored`, not flagged, and not
/// a sales file by email (those keep their attachment). Reports, replies,
/// commands and flagged messages are never in that set, so the archive and
/// the assistant always have them whole. The row (sender, subject, hash,
/// class, reason) stays and `raw_dropped_at` says when. Returns how many
/// were dropped.
pub fn drop_unrelated_raw(
    conn: &mut Connection,
    before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> rusqlite::Result<usize> {
    const DROPPABLE: &str = "class = 'ignored' AND flagged = 0 AND raw_dropped_at IS NULL
         AND internaldate < ?1
         AND NOT EXISTS (SELECT 1 FROM sales_emails s WHERE s.message = messages.id)";
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute(
        &format!(
            "DELETE FROM message_raw WHERE message IN (SELECT id FROM messages WHERE {DROPPABLE})"
        ),
        [ts(before)],
    )?;
    let dropped = tx.execute(
        &format!("UPDATE messages SET raw_dropped_at = ?2 WHERE {DROPPABLE}"),
        params![ts(before), ts(now)],
    )?;
    tx.commit()?;
    Ok(dropped)
}

/// Whether any stored message carries this Message-ID.
pub fn message_id_known(conn: &Connection, message_id: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM messages WHERE message_id = ?1)")?
        .query_row([message_id], |r| r.get(0))
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

pub fn sha256_hex(raw: &[u8]) -> String {
    hex(&Sha256::digest(raw))
}

/// A digest in lower-case hex, as `sha256sum` prints it.
pub fn hex(digest: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut hex = String::with_capacity(2 * digest.len());
    for b in digest {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = crate::store::open(&dir.path().join("t.sqlite3")).expect("open");
        (dir, conn)
    }

    fn fetched(key: &str, uid: u32, raw: &[u8]) -> Fetched {
        Fetched::new(
            key.into(),
            Some(7),
            Some(uid),
            DateTime::from_timestamp(1_800_000_000 + i64::from(uid), 0).unwrap_or_default(),
            raw.to_vec(),
        )
    }

    #[test]
    fn a_raw_reader_gives_each_message_byte_for_byte_in_any_order_and_none_for_one_not_held() {
        let (_dir, mut conn) = db();
        // Over a page and under, so both inline and overflow blobs are read.
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let raws = [b"Subject: a\r\n\r\nsmall".to_vec(), big, Vec::new()];
        let batch: Vec<Fetched> = raws
            .iter()
            .enumerate()
            .map(|(i, raw)| fetched(&format!("7/{i}"), i as u32 + 1, raw))
            .collect();
        store_batch(&mut conn, "s", &batch, None).expect("store");
        let ids: Vec<i64> = conn
            .prepare("SELECT id FROM messages ORDER BY id")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("ids")
            .collect::<rusqlite::Result<_>>()
            .expect("ids");
        assert_eq!(ids.len(), 3);
        conn.execute("DELETE FROM message_raw WHERE message = ?1", [ids[0]])
            .expect("drop one");
        let mut reader = RawReader::new(&conn);
        assert_eq!(reader.read(ids[1]).expect("big"), Some(raws[1].clone()));
        assert_eq!(reader.read(ids[0]).expect("dropped"), None);
        assert_eq!(reader.read(ids[2]).expect("empty"), Some(Vec::new()));
        assert_eq!(reader.read(ids[1]).expect("again"), Some(raws[1].clone()));
        assert_eq!(reader.read(9_999).expect("never stored"), None);
    }

    #[test]
    fn ignored_mail_is_found_by_a_word_in_its_subject_in_any_ascii_case_and_literally() {
        let (_dir, mut conn) = db();
        let subjects = [
            "2026年9月业绩",
            "SALES 2026-09",
            "Re: sales",
            "50% off",
            "500 tips",
            "周报",
        ];
        let batch: Vec<Fetched> = subjects
            .iter()
            .enumerate()
            .map(|(i, s)| {
                fetched(
                    &format!("7/{i}"),
                    i as u32 + 1,
                    format!("Subject: {s}\r\n\r\nx").as_bytes(),
                )
            })
            .collect();
        store_batch(&mut conn, "s", &batch, None).expect("store");
        conn.execute(
            "UPDATE messages SET class = 'ignored', subject = (SELECT value FROM json_each(?1) WHERE key = messages.id - 1)",
            [serde_json::to_string(&subjects).expect("json")],
        )
        .expect("classify");
        conn.execute(
            "UPDATE messages SET class = 'report' WHERE subject = '周报'",
            [],
        )
        .expect("one report");
        let found = |words: &[&str]| -> Vec<String> {
            ignored_with_subject(&conn, words, 0)
                .expect("query")
                .into_iter()
                .map(|m| m.subject)
                .collect()
        };
        assert_eq!(
            found(&["业绩", "sales"]),
            ["2026年9月业绩", "SALES 2026-09", "Re: sales"]
        );
        // `%` and `_` are letters here, not wildcards.
        assert_eq!(found(&["50%"]), ["50% off"]);
        assert_eq!(found(&["5_0"]), Vec::<String>::new());
        assert_eq!(found(&["周报"]), Vec::<String>::new(), "only ignored mail");
        let after_two: Vec<String> = ignored_with_subject(&conn, &["业绩", "sales"], 2)
            .expect("query")
            .into_iter()
            .map(|m| m.subject)
            .collect();
        assert_eq!(after_two, ["Re: sales"], "only those numbered after");
    }

    #[test]
    fn of_two_identical_copies_the_one_kept_arrived_when_the_earlier_did() {
        let (_dir, mut conn) = db();
        let raw = b"From: a@x.com\r\nSubject: w46\r\n\r\nreport";
        let arrival = |conn: &Connection| -> String {
            conn.query_row("SELECT internaldate FROM messages", [], |r| r.get(0))
                .expect("one row")
        };
        // The later copy was numbered first (moved into the mailbox later).
        let late = fetched("7/2", 2, raw);
        let mut early = fetched("7/9", 9, raw);
        early.internaldate = late.internaldate - chrono::Duration::days(3);
        store_batch(&mut conn, "s", std::slice::from_ref(&late), None).expect("late copy");
        store_batch(&mut conn, "s", std::slice::from_ref(&early), None).expect("early copy");
        assert_eq!(
            arrival(&conn),
            ts(early.internaldate),
            "the earlier arrival"
        );
        let held: i64 = conn
            .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
            .expect("count");
        assert_eq!(held, 1, "stored once");
        // Once classified, a copy seen later moves nothing.
        conn.execute("UPDATE messages SET class = 'report'", [])
            .expect("classify");
        let mut earlier = fetched("7/11", 11, raw);
        earlier.internaldate = early.internaldate - chrono::Duration::days(1);
        store_batch(&mut conn, "s", &[earlier], None).expect("another copy");
        assert_eq!(arrival(&conn), ts(early.internaldate), "unchanged");
    }

    #[test]
    fn batches_end_at_the_message_count_or_the_byte_budget() {
        let ranges = batch_ranges(&vec![1; BATCH_MESSAGES * 2 + 1]);
        assert_eq!(
            ranges,
            [
                0..BATCH_MESSAGES,
                BATCH_MESSAGES..2 * BATCH_MESSAGES,
                2 * BATCH_MESSAGES..2 * BATCH_MESSAGES + 1
            ]
        );
        let third = BATCH_BYTES / 3;
        assert_eq!(batch_ranges(&[third, third, third, third, 1]), [0..3, 3..5]);
        // Larger than the budget: alone, and nothing is lost.
        assert_eq!(batch_ranges(&[1, BATCH_BYTES * 2, 1]), [0..1, 1..2, 2..3]);
        assert!(batch_ranges(&[]).is_empty());
    }

    #[test]
    fn unclassified_batches_are_read_and_parsed_while_another_connection_holds_the_write_lock() {
        let (dir, mut conn) = db();
        let raws: Vec<Vec<u8>> = (0..3)
            .map(|i| format!("From: a@x.com\r\nSubject: n{i}\r\n\r\nbody").into_bytes())
            .collect();
        let batch: Vec<Fetched> = raws
            .iter()
            .enumerate()
            .map(|(i, r)| fetched(&format!("k{i}"), i as u32 + 1, r))
            .collect();
        store_batch(&mut conn, "s", &batch, None).expect("store");

        // Another writer (the outbox marking an email sent) holds the lock.
        let writer = crate::store::open(&dir.path().join("t.sqlite3")).expect("open");
        writer.execute_batch("BEGIN IMMEDIATE").expect("lock");
        conn.busy_timeout(std::time::Duration::ZERO)
            .expect("no waiting");

        let mut batches = UnclassifiedBatches::new(1 << 20);
        let (got, bytes) = batches.next_batch(&conn).expect("read").expect("a batch");
        let subjects: Vec<String> = got
            .iter()
            .map(|m| match &m.read {
                Read::Parsed(Ok(env)) => env.subject.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(subjects, ["n0", "n1", "n2"]);
        assert_eq!(bytes, raws.iter().map(|r| r.len() as u64).sum::<u64>());
        assert!(batches.next_batch(&conn).expect("read").is_none());
        writer.execute_batch("ROLLBACK").expect("unlock");
    }

    #[test]
    fn a_message_over_the_limit_is_not_parsed_only_its_head_read() {
        let (_dir, mut conn) = db();
        let mut raw = b"From: a@x.com\r\nSubject: big\r\n\r\n".to_vec();
        raw.extend(std::iter::repeat_n(b'x', 3 * HEAD_BYTES as usize));
        store_batch(&mut conn, "s", &[fetched("k", 1, &raw)], None).expect("store");
        let mut batches = UnclassifiedBatches::new(HEAD_BYTES);
        let (got, bytes) = batches.next_batch(&conn).expect("read").expect("a batch");
        assert_eq!(bytes, HEAD_BYTES, "only the head is read");
        match &got[0].read {
            Read::TooLarge(big) => {
                assert_eq!(big.bytes, raw.len() as u64);
                assert_eq!(big.head.as_ref().map(|e| e.subject.as_str()), Some("big"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_skipped_message_waits_longer_after_each_failure_and_is_owed_until_stored() {
        let (_dir, mut conn) = db();
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        assert_eq!(skip(&conn, "s", 7, 9, "timed out", t0), Ok(1));
        assert!(
            skipped_due(&conn, "s", 7, t0 + Duration::minutes(4))
                .expect("due")
                .is_empty()
        );
        assert_eq!(
            skipped_due(&conn, "s", 7, t0 + Duration::minutes(5)),
            Ok(vec![9])
        );
        let t1 = t0 + Duration::minutes(5);
        assert_eq!(skip(&conn, "s", 7, 9, "timed out", t1), Ok(2));
        assert!(
            skipped_due(&conn, "s", 7, t1 + Duration::minutes(9))
                .expect("due")
                .is_empty()
        );
        assert_eq!(
            skipped_due(&conn, "s", 7, t1 + Duration::minutes(10)),
            Ok(vec![9])
        );
        for _ in 0..20 {
            skip(&conn, "s", 7, 9, "timed out", t1).expect("skip");
        }
        assert_eq!(skipped_due(&conn, "s", 7, t1 + SKIP_RETRY_MAX), Ok(vec![9]));

        store_batch(
            &mut conn,
            "s",
            &[fetched("7/9", 9, b"From: a@x.com\r\n\r\n")],
            None,
        )
        .expect("store");
        assert!(
            skipped_due(&conn, "s", 7, t1 + SKIP_RETRY_MAX)
                .expect("due")
                .is_empty()
        );
    }

    #[test]
    fn only_old_unflagged_ignored_mail_that_is_no_sales_file_loses_its_raw() {
        let (_dir, mut conn) = db();
        let batch: Vec<Fetched> = (1..=5)
            .map(|i| {
                fetched(
                    &format!("k{i}"),
                    i,
                    format!("Subject: {i}\r\n\r\n").as_bytes(),
                )
            })
            .collect();
        store_batch(&mut conn, "s", &batch, None).expect("store");
        let ignored = |flagged| Classified {
            class: MessageClass::Ignored,
            reason: "newsletter",
            flagged,
            message_id: None,
            sender: None,
            subject: None,
        };
        set_class(&conn, 1, &ignored(false)).expect("class");
        set_class(&conn, 2, &ignored(true)).expect("class");
        let report = Classified {
            class: MessageClass::Report,
            ..ignored(false)
        };
        set_class(&conn, 3, &report).expect("class");
        set_class(&conn, 4, &ignored(false)).expect("class");
        conn.execute(
            "INSERT INTO sales_emails (message, filer, outcome, answer) VALUES (4, '', 'ignored', 'null')",
            [],
        )
        .expect("a sales email");
        // Message 5 is not classified yet.
        let before = DateTime::from_timestamp(1_800_000_100, 0).unwrap_or_default();
        assert_eq!(drop_unrelated_raw(&mut conn, before, before), Ok(1));
        let kept: Vec<i64> = conn
            .prepare("SELECT message FROM message_raw ORDER BY message")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(kept, [2, 3, 4, 5]);
        assert_eq!(drop_unrelated_raw(&mut conn, before, before), Ok(0), "once");
        // Arrived after `before`: kept whatever its class.
        let earlier = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        set_class(&conn, 5, &ignored(false)).expect("class");
        assert_eq!(drop_unrelated_raw(&mut conn, earlier, before), Ok(0));
    }

    #[test]
    fn skipped_messages_of_an_old_uidvalidity_are_dropped() {
        let (_dir, conn) = db();
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        skip(&conn, "s", 7, 9, "timed out", t0).expect("skip");
        let later = t0 + Duration::days(1);
        assert!(skipped_due(&conn, "s", 8, later).expect("due").is_empty());
        assert!(skipped_due(&conn, "s", 7, later).expect("due").is_empty());
    }
}
