//! Storing what a mail source downloads on a thread of its own, so that
//! the download of the next batch overlaps hashing and writing this one,
//! in write transactions of thousands of messages rather than one each.
//!
//! Each batch is written with the checkpoint that covers it, and a
//! transaction is committed only between batches, so whatever is committed
//! is exactly what the committed checkpoint says: a crash loses nothing
//! and stores nothing twice. A transaction is committed after
//! [`COMMIT_MESSAGES`] messages, [`COMMIT_BYTES`] bytes or [`COMMIT_AFTER`],
//! whichever comes first (the last so that a slow server never keeps
//! another writer, such as `reportd excuse`, waiting long), and when the
//! source has nothing more.
//!
//! Memory stays flat: the channel holds at most [`QUEUED`] batches.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use tokio::sync::mpsc;

use crate::mail::inbox::{self, Checkpoint, Fetched};

/// Messages written in one transaction at most.
pub const COMMIT_MESSAGES: usize = 5_000;
/// Raw bytes written in one transaction at most (a larger batch is one
/// transaction of its own).
pub const COMMIT_BYTES: u64 = 64 << 20;
/// How long a transaction stays open at most while batches come.
pub const COMMIT_AFTER: Duration = Duration::from_millis(500);
/// Batches downloaded and waiting to be written.
pub const QUEUED: usize = 1;

/// What the downloading side asks the storing side to write.
#[derive(Debug)]
pub enum Op {
    /// A batch, and the checkpoint that covers it (none for a skipped
    /// message fetched again below the checkpoint).
    Batch {
        messages: Vec<Fetched>,
        covers: Option<Checkpoint>,
    },
    /// A message that could not be downloaded even alone: remembered to be
    /// tried again, and the checkpoint may pass it.
    Skip {
        uidvalidity: u32,
        uid: u32,
        error: String,
        now: DateTime<Utc>,
        covers: Option<Checkpoint>,
    },
    /// A skipped message gone from the mailbox: forgotten.
    Forget { uidvalidity: u32, uid: u32 },
}

/// The sending end, for the downloading side.
pub type Sender = mpsc::Sender<Op>;

/// Runs `download` (which sends [`Op`]s) while a blocking thread writes
/// what it sends into `conn` for `source`. Returns what `download` returned
/// and how many messages were new. `conn` is lent to the writing thread
/// meanwhile and is back in place when this returns, whatever happened.
pub async fn store_while<T, E, F>(
    conn: &mut Connection,
    source: &str,
    download: impl FnOnce(Sender) -> F,
) -> Result<(T, usize), E>
where
    F: std::future::Future<Output = Result<T, E>>,
    E: From<rusqlite::Error>,
{
    let placeholder = Connection::open_in_memory()?;
    let lent = std::mem::replace(conn, placeholder);
    let (send, receive) = mpsc::channel(QUEUED);
    let source = source.to_string();
    let writer = tokio::task::spawn_blocking(move || {
        let mut lent = lent;
        let stored = write_all(&mut lent, &source, receive);
        (lent, stored)
    });
    let downloaded = download(send).await;
    // The download has ended and dropped its sender: the writer finishes
    // what was queued and gives the connection back.
    let (back, stored) = match writer.await {
        Ok(done) => done,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    *conn = back;
    let new = stored?;
    Ok((downloaded?, new))
}

/// Writes every op received until the channel closes; returns how many
/// messages were new. On an error the receiver is dropped, so the
/// downloading side's next send fails and it stops.
fn write_all(
    conn: &mut Connection,
    source: &str,
    mut receive: mpsc::Receiver<Op>,
) -> rusqlite::Result<usize> {
    let mut new = 0;
    let mut next = receive.blocking_recv();
    while next.is_some() {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let opened = Instant::now();
        let (mut messages, mut bytes) = (0, 0u64);
        let now = crate::store::ts(Utc::now());
        while let Some(op) = next.take() {
            if let Op::Batch { messages: m, .. } = &op {
                messages += m.len();
                bytes += m.iter().map(|f| f.raw().len() as u64).sum::<u64>();
            }
            new += apply(&tx, source, op, &now)?;
            if messages >= COMMIT_MESSAGES
                || bytes >= COMMIT_BYTES
                || opened.elapsed() >= COMMIT_AFTER
            {
                break;
            }
            next = receive.blocking_recv();
        }
        if messages > 0 {
            crate::failpoint::hit(crate::failpoint::FETCH_BEFORE_COMMIT);
        }
        tx.commit()?;
        if next.is_none() {
            next = receive.blocking_recv();
        }
    }
    Ok(new)
}

fn apply(conn: &Connection, source: &str, op: Op, now: &str) -> rusqlite::Result<usize> {
    match op {
        Op::Batch { messages, covers } => {
            let mut new = 0;
            for m in &messages {
                new += inbox::insert_one(conn, source, m, now)?;
            }
            inbox::after_batch(conn, source, &messages, covers)?;
            Ok(new)
        }
        Op::Skip {
            uidvalidity,
            uid,
            error,
            now,
            covers,
        } => {
            let attempts = inbox::skip(conn, source, uidvalidity, uid, &error, now)?;
            tracing::warn!(
                uid,
                attempts,
                "message could not be downloaded even alone ({error}); skipped for now, newer mail goes on, and it is tried again later"
            );
            if let Some(cp) = covers {
                inbox::set_checkpoint(conn, source, cp)?;
            }
            Ok(0)
        }
        Op::Forget { uidvalidity, uid } => {
            inbox::forget_skipped(conn, source, uidvalidity, uid)?;
            Ok(0)
        }
    }
}
