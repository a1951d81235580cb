//! Reading and parsing stored messages ahead of the intake, on a thread of
//! its own with its own read connection, so that parsing one batch
//! overlaps classifying and recording the one before (the machine reportd
//! runs on may have two cores; the intake's writer keeps one busy).
//!
//! Memory stays flat: batches come through a bounded channel
//! ([`AHEAD`] batches at most wait, each within the bounds of
//! [`inbox::batch_ranges`]).

use std::sync::mpsc;

use rusqlite::{Connection, OpenFlags};

use crate::mail::inbox::{Unclassified, UnclassifiedBatches};
use crate::store::BUSY_TIMEOUT;

/// Batches read and parsed ahead of the one being recorded.
pub const AHEAD: usize = 2;

/// Hands every batch of unclassified messages, in arrival order, to
/// `record`, with the raw bytes it read. Batches are read and parsed on
/// another thread when the database is a file (an in-memory one has no
/// second connection: then on this one, in turn). `record` gets the
/// writer connection; stops at its first error.
pub fn for_each_batch<E: From<rusqlite::Error>>(
    conn: &mut Connection,
    max_message_bytes: u64,
    mut record: impl FnMut(&mut Connection, Vec<Unclassified>, u64) -> Result<(), E>,
) -> Result<(), E> {
    let Some(reader) = open_reader(conn)? else {
        let mut batches = UnclassifiedBatches::new(max_message_bytes);
        while let Some((batch, bytes)) = batches.next_batch(conn)? {
            record(conn, batch, bytes)?;
        }
        return Ok(());
    };
    std::thread::scope(|scope| {
        let (send, receive) = mpsc::sync_channel(AHEAD);
        let read = scope.spawn(move || -> rusqlite::Result<()> {
            let mut batches = UnclassifiedBatches::new(max_message_bytes);
            while let Some(batch) = batches.next_batch(&reader)? {
                if send.send(batch).is_err() {
                    break; // the writer stopped on an error of its own
                }
            }
            Ok(())
        });
        let mut recorded = Ok(());
        for (batch, bytes) in receive.iter() {
            recorded = record(conn, batch, bytes);
            if recorded.is_err() {
                break;
            }
        }
        // Dropping the receiver ends the reader if it is still going.
        drop(receive);
        let read = read
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        recorded?;
        Ok(read?)
    })
}

/// A second, read-only connection to the same database file, or `None`
/// for an in-memory database.
fn open_reader(conn: &Connection) -> rusqlite::Result<Option<Connection>> {
    let Some(path) = conn.path().filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let reader = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    reader.busy_timeout(BUSY_TIMEOUT)?;
    Ok(Some(reader))
}
