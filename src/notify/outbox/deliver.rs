//! Delivering the outbox: claiming each due row, sending it to each of its
//! recipients in an SMTP transaction of its own, and storing every answer.
//!
//! One transaction per recipient, because SMTP refuses a whole transaction
//! when the server refuses one `RCPT TO` (lettre gives up at the first
//! refused recipient): a rep's mailbox that no longer exists must not keep
//! the late notice from the supervisor in Cc. Each recipient's 250 is stored
//! in `outbox_recipients` before the next is tried, so a retry (after a
//! crash, a 4xx, or `reportd outbox --retry` of a failed row) reaches only
//! those the server has not taken yet.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use lettre::address::{Address, Envelope};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{OutboxError, Sender, next_attempt_at};
use crate::store::ts;

/// How much longer than the send timeout a claim on a row lasts (it covers
/// every recipient's transaction; each is bounded by the send timeout).
const CLAIM_MARGIN: Duration = Duration::from_secs(30);
/// The first retry delay; doubled on each further failure.
const BACKOFF_FIRST: Duration = Duration::from_secs(30);
/// The longest retry delay.
const BACKOFF_MAX: Duration = Duration::from_secs(3600);
/// The first wait before storing a `sent` mark again; see [`store_mark`].
const MARK_RETRY_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between tries of a `sent` mark.
const MARK_RETRY_MAX: Duration = Duration::from_secs(60);

/// The outcome of one SMTP transaction.
pub(super) enum Attempt {
    Sent,
    /// Try again later; `server_down` when the server could not be reached
    /// or stopped answering (so the rest of the batch waits too).
    Transient {
        error: String,
        server_down: bool,
    },
    Permanent(String),
}

/// What became of one row in this delivery.
enum RowOutcome {
    /// Every recipient has it.
    Sent,
    /// The server refused these recipients for good (address, answer); every
    /// other one has it.
    Refused(Vec<(String, String)>),
    /// A recipient is still owed it: try again later.
    Transient { error: String, server_down: bool },
}

/// What one [`deliver_due`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryStats {
    pub sent: usize,
    /// Left queued after a temporary failure, to be retried.
    pub deferred: usize,
    pub failed: usize,
    /// Due, but claimed by another process delivering at the same time.
    pub skipped: usize,
    /// When the next queued row becomes due, if any.
    pub next_attempt: Option<DateTime<Utc>>,
}

/// The retry delay after the `attempts`-th failed attempt.
pub fn backoff(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    BACKOFF_FIRST
        .saturating_mul(1 << doublings)
        .min(BACKOFF_MAX)
}

/// Sends every queued row due at `now` (its `not_before` and
/// `next_attempt` passed), oldest first, and records each outcome; see the
/// module documentation. Instants written are `now` plus the real time
/// elapsed since the call began, so a simulated clock keeps working.
///
/// Fails only on a database error; SMTP trouble is recorded in the rows.
pub async fn deliver_due(
    conn: &mut Connection,
    sender: &Sender,
    now: DateTime<Utc>,
) -> Result<DeliveryStats, OutboxError> {
    deliver_due_of(conn, sender, now, |_| true).await
}

/// A clock that starts at `now` and runs at real speed.
struct Clock {
    now: DateTime<Utc>,
    started: Instant,
}

impl Clock {
    fn at(&self) -> DateTime<Utc> {
        self.now + TimeDelta::from_std(self.started.elapsed()).unwrap_or(TimeDelta::zero())
    }
}

/// [`deliver_due`] for the rows whose kind `may_send` allows now (during
/// quiet hours, only digests); the others wait, untouched.
pub async fn deliver_due_of(
    conn: &mut Connection,
    sender: &Sender,
    now: DateTime<Utc>,
    may_send: impl Fn(&str) -> bool,
) -> Result<DeliveryStats, OutboxError> {
    let clock = Clock {
        now,
        started: Instant::now(),
    };
    let lease = sender.send_timeout.saturating_add(CLAIM_MARGIN);
    let mut stats = DeliveryStats::default();
    let due = due_ids(conn, now, &may_send)?;
    if !due.is_empty() {
        let mut server_down = sender.check().await.err();
        for id in due {
            let Some(attempts) = claim(conn, id, clock.at(), lease)? else {
                stats.skipped += 1;
                continue;
            };
            if let Some(error) = &server_down {
                defer(conn, id, attempts, error, clock.at())?;
                stats.deferred += 1;
                continue;
            }
            match deliver_row(conn, sender, id, &clock).await? {
                RowOutcome::Sent => {
                    mark_sent(conn, id, clock.at()).await?;
                    stats.sent += 1;
                }
                RowOutcome::Refused(refused) => {
                    let error = refused_text(&refused);
                    tracing::warn!(id, %error, "email refused for good");
                    conn.execute(
                        "UPDATE outbox SET state = 'failed', last_error = ?2, next_attempt = NULL WHERE id = ?1",
                        params![id, error],
                    )?;
                    stats.failed += 1;
                }
                RowOutcome::Transient {
                    error,
                    server_down: down,
                } => {
                    defer(conn, id, attempts, &error, clock.at())?;
                    stats.deferred += 1;
                    if down {
                        server_down = Some(error);
                    }
                }
            }
        }
    }
    stats.next_attempt = next_attempt_at(conn)?;
    Ok(stats)
}

/// Sends row `id` to each recipient the server has not taken or refused
/// yet, storing each answer as it comes. Stops at the first temporary
/// failure: the others wait for the retry with it.
async fn deliver_row(
    conn: &mut Connection,
    sender: &Sender,
    id: i64,
    clock: &Clock,
) -> Result<RowOutcome, OutboxError> {
    let (from, pending, raw) = match envelope_of(conn, id)? {
        Ok(parts) => parts,
        Err(problem) => return Ok(RowOutcome::Refused(vec![(String::new(), problem)])),
    };
    for to in pending {
        let address = to.to_string();
        let envelope = match Envelope::new(Some(from.clone()), vec![to]) {
            Ok(envelope) => envelope,
            Err(e) => {
                record(
                    conn,
                    id,
                    &address,
                    Some(&format!("no envelope: {e}")),
                    clock,
                )
                .await?;
                continue;
            }
        };
        match sender.send(&envelope, &raw).await {
            Attempt::Sent => {
                crate::failpoint::hit(crate::failpoint::SMTP_250_BEFORE_SENT);
                record(conn, id, &address, None, clock).await?;
            }
            Attempt::Permanent(answer) => {
                record(conn, id, &address, Some(&answer), clock).await?;
            }
            Attempt::Transient { error, server_down } => {
                return Ok(RowOutcome::Transient { error, server_down });
            }
        }
    }
    let refused = refused_of(conn, id)?;
    Ok(if refused.is_empty() {
        RowOutcome::Sent
    } else {
        RowOutcome::Refused(refused)
    })
}

/// Records that every recipient of row `id` has it, at `t`.
pub(super) async fn mark_sent(
    conn: &mut Connection,
    id: i64,
    t: DateTime<Utc>,
) -> rusqlite::Result<u32> {
    store_mark(conn, id, "sent", |c| {
        c.execute(
            "UPDATE outbox SET state = 'sent', sent_at = ?2, next_attempt = NULL WHERE id = ?1",
            params![id, ts(t)],
        )
    })
    .await
}

/// Stores one recipient's answer: taken (`refused` = `None`) or refused
/// for good with the server's answer.
async fn record(
    conn: &mut Connection,
    id: i64,
    address: &str,
    refused: Option<&str>,
    clock: &Clock,
) -> rusqlite::Result<u32> {
    let state = if refused.is_some() { "refused" } else { "sent" };
    store_mark(conn, id, state, |c| {
        c.execute(
            "INSERT INTO outbox_recipients (outbox, address, state, answer, at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (outbox, address) DO UPDATE SET state = excluded.state,
                 answer = excluded.answer, at = excluded.at",
            params![id, address, state, refused, ts(clock.at())],
        )
    })
    .await
}

/// The recipients refused for good, with the server's answers.
fn refused_of(conn: &Connection, id: i64) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT address, coalesce(answer, '') FROM outbox_recipients
         WHERE outbox = ?1 AND state = 'refused' ORDER BY address",
    )?;
    stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// The `last_error` of a row some recipients refused: the server's answer
/// alone when it names one recipient (or the row itself), else each
/// address with its answer.
fn refused_text(refused: &[(String, String)]) -> String {
    match refused {
        [(_, answer)] => answer.clone(),
        many => many
            .iter()
            .map(|(address, answer)| format!("{address}: {answer}"))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// Stores a write that records what the server already did (its 250 for a
/// recipient, the row's `sent` mark). Until it is stored the row looks
/// unsent and would go out again once its claim expires, so a failure that
/// can pass (the database busy or locked past the busy timeout, a full
/// disk, an I/O error) is retried, with a bounded backoff and a warning
/// each time, until it is stored. Returns how many tries it took.
async fn store_mark(
    conn: &mut Connection,
    id: i64,
    what: &str,
    write: impl Fn(&Connection) -> rusqlite::Result<usize>,
) -> rusqlite::Result<u32> {
    let mut tries = 1;
    loop {
        match write(conn) {
            Ok(_) => return Ok(tries),
            Err(e) if may_pass(&e) => {
                let wait = mark_retry_delay(tries);
                tracing::warn!(
                    id,
                    tries,
                    error = %e,
                    retry_in_s = wait.as_secs(),
                    "the server answered but its `{what}` mark is not stored yet; retrying, so that the email is never sent twice"
                );
                tokio::time::sleep(wait).await;
                tries += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether a failed write may succeed if tried again later.
fn may_pass(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked, DiskFull, SystemIoFailure};
    matches!(
        e.sqlite_error_code(),
        Some(DatabaseBusy | DatabaseLocked | DiskFull | SystemIoFailure)
    )
}

/// The wait after the `tries`-th failed `sent` mark: 1 s, doubled each
/// time, at most a minute (each try already waited the busy timeout).
pub(super) fn mark_retry_delay(tries: u32) -> Duration {
    let doublings = tries.saturating_sub(1).min(16);
    MARK_RETRY_FIRST
        .saturating_mul(1 << doublings)
        .min(MARK_RETRY_MAX)
}

pub(super) fn due_ids(
    conn: &Connection,
    now: DateTime<Utc>,
    may_send: &impl Fn(&str) -> bool,
) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare(
        "SELECT id, kind FROM outbox
         WHERE state = 'queued' AND not_before <= ?1 AND next_attempt <= ?1
         ORDER BY not_before, id",
    )?;
    let rows = stmt.query_map([ts(now)], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut ids = Vec::new();
    for row in rows {
        let (id, kind) = row?;
        if may_send(&kind) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Takes the row for this delivery if it is still queued and due: one more
/// attempt, and nobody else tries it until the lease ends. Returns the new
/// attempt count, or `None` when another process got there first.
pub(super) fn claim(
    conn: &Connection,
    id: i64,
    t: DateTime<Utc>,
    lease: Duration,
) -> rusqlite::Result<Option<u32>> {
    let until = t + TimeDelta::from_std(lease).unwrap_or(TimeDelta::hours(1));
    conn.query_row(
        "UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?2, next_attempt = ?3
         WHERE id = ?1 AND state = 'queued' AND next_attempt <= ?2 AND not_before <= ?2
         RETURNING attempts",
        params![id, ts(t), ts(until)],
        |r| r.get(0),
    )
    .optional()
}

/// Leaves a claimed row queued for a retry after the backoff.
fn defer(
    conn: &Connection,
    id: i64,
    attempts: u32,
    error: &str,
    t: DateTime<Utc>,
) -> rusqlite::Result<()> {
    let next = t + TimeDelta::from_std(backoff(attempts)).unwrap_or(TimeDelta::hours(1));
    tracing::info!(id, attempts, next = %ts(next), %error, "email not sent yet, will retry");
    conn.execute(
        "UPDATE outbox SET last_error = ?2, next_attempt = ?3 WHERE id = ?1 AND state = 'queued'",
        params![id, error, ts(next)],
    )?;
    Ok(())
}

/// The sender, the recipients the server has not answered for good yet,
/// and the message of a row; `Err` with the reason when the stored
/// addresses cannot make an envelope (the row then fails for good).
type Parts = (Address, Vec<Address>, Vec<u8>);

fn envelope_of(conn: &Connection, id: i64) -> rusqlite::Result<Result<Parts, String>> {
    let (sender, recipients, raw): (String, String, Vec<u8>) = conn.query_row(
        "SELECT sender, recipients, raw FROM outbox WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let answered: Vec<String> = {
        let mut stmt = conn.prepare("SELECT address FROM outbox_recipients WHERE outbox = ?1")?;
        stmt.query_map([id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    let build = || -> Result<(Address, Vec<Address>), String> {
        let from: Address = sender
            .parse()
            .map_err(|e| format!("stored sender {sender:?} is not an address: {e}"))?;
        let to: Vec<String> = serde_json::from_str(&recipients)
            .map_err(|e| format!("stored recipients are not a list: {e}"))?;
        let to = to
            .iter()
            .filter(|a| !answered.contains(a))
            .map(|a| {
                a.parse::<Address>()
                    .map_err(|e| format!("stored recipient {a:?} is not an address: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((from, to))
    };
    Ok(build().map(|(from, to)| (from, to, raw)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reads_as_the_servers_answer_or_each_address_with_its_answer() {
        let one = [("a@example.com".to_string(), "550 no such user".to_string())];
        assert_eq!(refused_text(&one), "550 no such user");
        let two = [
            ("a@example.com".to_string(), "550 no".to_string()),
            ("b@example.com".to_string(), "553 bad".to_string()),
        ];
        assert_eq!(
            refused_text(&two),
            "a@example.com: 550 no; b@example.com: 553 bad"
        );
    }
}
