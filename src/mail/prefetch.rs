//! Reading and parsing stored messages ahead of the intake, on a thread of
//! its own with its own read connection, so that parsing one batch
//! overlaps classifying and recording the one before (the machine reportd
//! runs on may have two cores; the intake's writer keeps one busy). The
//! intake is told when it would wait ([`Step::Waiting`]), so it can keep a
//! write transaction open over several batches while they come and still
//! never hold one while parsing goes on.
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

/// What the intake is handed, in turn.
pub enum Step {
    /// The next batch of unclassified messages, in arrival order, with the
    /// raw bytes read for it.
    Batch(Vec<Unclassified>, u64),
    /// The next batch is not parsed yet (or there is none left): what is
    /// recorded should be committed now, so that no write transaction
    /// stays open while the intake waits for parsing.
    Waiting,
}

/// Hands every batch of unclassified messages, in arrival order, to
/// `record` as [`Step::Batch`], and [`Step::Waiting`] before each wait for
/// the next one and once at the end. Batches are read and parsed on
/// another thread when the database is a file (an in-memory one has no
/// second connection: then on this one, in turn, with a `Waiting` after
/// each). `record` gets the writer connection; stops at its first error.
pub fn for_each_batch<E: From<rusqlite::Error>>(
    conn: &mut Connection,
    max_message_bytes: u64,
    mut record: impl FnMut(&mut Connection, Step) -> Result<(), E>,
) -> Result<(), E> {
    let Some(reader) = open_reader(conn)? else {
        let mut batches = UnclassifiedBatches::new(max_message_bytes);
        while let Some((batch, bytes)) = batches.next_batch(conn)? {
            record(conn, Step::Batch(batch, bytes))?;
            record(conn, Step::Waiting)?;
        }
        return record(conn, Step::Waiting);
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
        let recorded = hand_over(&receive, |step| record(conn, step));
        // Dropping the receiver ends the reader if it is still going.
        drop(receive);
        let read = read
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        recorded?;
        Ok(read?)
    })
}

/// Hands what `receive` gets to `record`, with a [`Step::Waiting`] before
/// every wait and at the end; stops at `record`'s first error.
fn hand_over<E>(
    receive: &mpsc::Receiver<(Vec<Unclassified>, u64)>,
    mut record: impl FnMut(Step) -> Result<(), E>,
) -> Result<(), E> {
    loop {
        let next = match receive.try_recv() {
            Ok(next) => next,
            Err(mpsc::TryRecvError::Empty) => {
                record(Step::Waiting)?;
                match receive.recv() {
                    Ok(next) => next,
                    Err(mpsc::RecvError) => return Ok(()),
                }
            }
            Err(mpsc::TryRecvError::Disconnected) => return record(Step::Waiting),
        };
        record(Step::Batch(next.0, next.1))?;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A step as the test records it: a batch by its byte count.
    fn seen(step: &Step) -> Option<u64> {
        match step {
            Step::Batch(_, bytes) => Some(*bytes),
            Step::Waiting => None,
        }
    }

    #[test]
    fn the_intake_is_told_to_commit_before_each_wait_for_parsing_and_not_between_parsed_batches() {
        let (send, receive) = mpsc::sync_channel(4);
        send.send((Vec::new(), 1)).expect("send");
        send.send((Vec::new(), 2)).expect("send");
        // The third batch is parsed only once the intake has said it waits.
        let (waits, waited) = mpsc::channel::<()>();
        let parser = std::thread::spawn(move || {
            waited.recv().expect("the intake waits");
            send.send((Vec::new(), 3)).expect("send");
        });
        let mut steps = Vec::new();
        hand_over(&receive, |step| {
            if matches!(step, Step::Waiting) && steps.len() == 2 {
                waits.send(()).expect("tell the parser");
            }
            steps.push(seen(&step));
            Ok::<_, ()>(())
        })
        .expect("no error");
        parser.join().expect("parser");
        assert_eq!(steps, [Some(1), Some(2), None, Some(3), None]);
    }

    #[test]
    fn the_intake_stops_at_its_first_error_without_being_told_to_commit() {
        let (send, receive) = mpsc::sync_channel(4);
        for bytes in 1..=3 {
            send.send((Vec::new(), bytes)).expect("send");
        }
        drop(send);
        let mut steps = Vec::new();
        let result = hand_over(&receive, |step| {
            steps.push(seen(&step));
            if steps.len() == 2 {
                Err("full disk")
            } else {
                Ok(())
            }
        });
        assert_eq!(result, Err("full disk"));
        assert_eq!(steps, [Some(1), Some(2)]);
    }
}
