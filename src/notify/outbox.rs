//! The outbox: every email reportd sends, from the moment it is owed until
//! the server says yes (`sent`) or no for good (`failed`). The single home of
//! effectively-once delivery.
//!
//! # How an email travels
//!
//! 1. Whoever decides an email is owed builds it (with a Message-ID from
//!    [`message_id_for`]) and calls [`enqueue`] **inside the transaction of
//!    the state change that owes it**, under an idempotency key such as
//!    `reply-reminder:<report>:<n>`. The row is `queued`; enqueueing the same
//!    key again does nothing, so a re-run or a restart never queues a second
//!    copy, and a rollback never leaves an email for a change that did not
//!    happen.
//! 2. [`deliver_due`] sends every queued row whose `not_before` (quiet hours)
//!    and `next_attempt` have passed. Before sending a row it *claims* it
//!    (attempts + 1, `next_attempt` pushed past the send timeout) in its own
//!    small write, so two processes delivering at once (`reportd run` and a
//!    `reportd sync --once`) never send the same row twice.
//!    Each recipient gets the email in an SMTP transaction of its own
//!    (see [`deliver`]): one recipient refused for good never keeps it
//!    from the others (the supervisor in Cc of a late notice).
//! 3. On the server's 250 for the last recipient the row becomes `sent`
//!    (each recipient's 250 is stored as it comes); when such a write cannot be
//!    stored (the database locked beyond the busy timeout, a full disk), it
//!    is retried with a bounded backoff until it is, for a row left looking
//!    unsent would be sent again. A 4xx, a refused or dropped connection or
//!    a timeout leaves it `queued` with `last_error` and a backoff (30 s · 2^(attempts−1), at most 1 h); retries go on until the
//!    server answers for good. A 5xx for a recipient makes the row `failed`
//!    once every other recipient has it, with the server's answer in
//!    `last_error`; `--retry` then sends it to the refused ones only.
//!
//! # What "once" means
//!
//! A crash (SIGKILL, power loss) before the end of the message data has
//! gone out leaves the row claimed but not sent; once the claim expires
//! (send timeout + 30 s) it is sent again, and the server, which never
//! completed the first DATA, gets exactly one copy. Every commit is durable
//! (`synchronous = FULL`, see `store`), so a mark once stored survives a
//! power cut. Only a crash after the final `.` of DATA has gone out and
//! before the server's answer is stored can give that recipient a second
//! copy: the server keeps a message it has whole even when its 250 is never
//! read (RFC 1047), and that takes it a few milliseconds (the fault suite's
//! 50 random kills hit it about 3 times). The copy carries the same
//! Message-ID, so mail clients show it once. No SMTP client can do better.
//!
//! # API
//!
//! - [`Outgoing`] (or [`Outgoing::from_message`] from a lettre `Message`),
//!   [`message_id_for`], [`enqueue`], [`is_queued_or_sent`], [`state_of`]:
//!   for the code that decides what is owed.
//! - [`Sender::new`] from `[smtp]`, [`deliver_due`], [`next_attempt_at`]:
//!   for `sync --once` and the daemon.
//! - [`list`], [`table`], [`requeue`]: for `reportd outbox`.
//!
//! The transport is lettre's `AsyncSmtpTransport` (tokio, rustls with ring):
//! TLS or STARTTLS, plain only to a loopback host. Each email goes over its
//! own connection (the pool keeps none), so one bad answer never confuses the
//! next email. The password is read once in [`Sender::new`] and never logged.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use lettre::address::{Address, Envelope};
use lettre::message::{Mailbox, Mailboxes, Message, header};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::{AsyncSmtpTransport, AsyncSmtpTransportBuilder, PoolConfig};
use lettre::{AsyncTransport, Tokio1Executor};
use rusqlite::{Connection, OptionalExtension, params};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{PasswordError, Security, SmtpConfig};
use crate::mail::tls::is_loopback;
use crate::store::{parse_ts, ts};
use deliver::Attempt;
pub use deliver::{DeliveryStats, backoff, deliver_due, deliver_due_of};

mod deliver;

/// How long lettre may take to open the TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one whole send (connect, TLS, AUTH, MAIL, RCPT, DATA) may take
/// by default; see [`Sender::with_send_timeout`].
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("cannot read the SMTP password: {0}")]
    Password(#[from] PasswordError),
    #[error(
        "[smtp] username = \"{0}\" is set but no password: add password_env or password_file, \
         or remove username for a relay that needs no login"
    )]
    UsernameWithoutPassword(String),
    #[error(
        "[smtp] has a password but no username: add username = \"...\", or remove password_env / \
         password_file for a relay that needs no login"
    )]
    PasswordWithoutUsername,
    #[error(
        "[smtp] security = \"plain\" would send mail (and any password) unencrypted to \"{0}\": \
         use security = \"tls\" (port 465) or \"starttls\" (port 587), or a relay on 127.0.0.1"
    )]
    PlainNotLoopback(String),
    #[error("cannot use [smtp] ca_file {path}: {message}; give a PEM file with the CA certificate")]
    CaFile { path: String, message: String },
    #[error("cannot set up TLS for the SMTP server {host}: {message}")]
    Tls { host: String, message: String },
    #[error(
        "[smtp] from = \"{from}\" is not a mailbox: {message}; write e.g. from = \"报告助手 <assistant@example.com>\""
    )]
    From { from: String, message: String },
    #[error("the email for outbox key {key} cannot be queued: {message}")]
    Message { key: String, message: String },
    #[error("outbox database error: {0}")]
    Db(#[from] rusqlite::Error),
}

/// Where an outbox row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Queued,
    Sent,
    Failed,
    /// Withdrawn before any attempt, because it was no longer owed (a late
    /// notice held in quiet hours when the report then arrived).
    Cancelled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Sent => "sent",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> rusqlite::Result<State> {
        match text {
            "queued" => Ok(State::Queued),
            "sent" => Ok(State::Sent),
            "failed" => Ok(State::Failed),
            "cancelled" => Ok(State::Cancelled),
            other => Err(rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Text,
                format!("unknown outbox state {other:?}").into(),
            )),
        }
    }
}

/// One email to queue. `raw` is the complete RFC 5322 message (CRLF line
/// ends, as lettre's `Message::formatted` gives), already carrying
/// `Message-ID: <message_id>`. The envelope is `from`'s address to every
/// address in `to`, `cc` and `bcc` (each once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Idempotency key, e.g. `reply-reminder:<report>:<n>`: one email per key, ever.
    pub key: String,
    /// What kind of email this is (`reminder`, `digest`, ...), for the listing.
    pub kind: String,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    /// Envelope-only recipients (not in the headers).
    pub bcc: Vec<Mailbox>,
    pub subject: String,
    pub raw: Vec<u8>,
    /// Without angle brackets, e.g. from [`message_id_for`].
    pub message_id: String,
    /// Not sent before this instant (quiet hours).
    pub not_before: DateTime<Utc>,
}

impl Outgoing {
    /// Takes sender, recipients, subject and Message-ID from a lettre
    /// message (its `Bcc` is dropped from the headers by lettre but kept in
    /// its envelope, and so here). Fails when the message has no
    /// Message-ID or no recipient.
    pub fn from_message(
        key: &str,
        kind: &str,
        message: &Message,
        not_before: DateTime<Utc>,
    ) -> Result<Outgoing, OutboxError> {
        let problem = |message: &str| OutboxError::Message {
            key: key.to_string(),
            message: message.to_string(),
        };
        let headers = message.headers();
        let envelope = message.envelope();
        let from = headers
            .get::<header::From>()
            .and_then(|f| Mailboxes::from(f).into_iter().next())
            .or_else(|| envelope.from().map(|a| Mailbox::new(None, a.clone())))
            .ok_or_else(|| problem("it has no From"))?;
        let to: Vec<Mailbox> = headers
            .get::<header::To>()
            .map(|h| Mailboxes::from(h).into_iter().collect())
            .unwrap_or_default();
        let cc: Vec<Mailbox> = headers
            .get::<header::Cc>()
            .map(|h| Mailboxes::from(h).into_iter().collect())
            .unwrap_or_default();
        let in_headers = |a: &Address| to.iter().chain(&cc).any(|m| same_address(&m.email, a));
        let bcc = envelope
            .to()
            .iter()
            .filter(|a| !in_headers(a))
            .map(|a| Mailbox::new(None, a.clone()))
            .collect();
        let subject = headers
            .get::<header::Subject>()
            .map(|s| s.as_ref().to_string())
            .unwrap_or_default();
        let message_id = headers
            .get::<header::MessageId>()
            .map(|m| {
                m.as_ref()
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
            .filter(|m| !m.is_empty())
            .ok_or_else(|| problem("it has no Message-ID: set one with outbox::message_id_for"))?;
        let out = Outgoing {
            key: key.to_string(),
            kind: kind.to_string(),
            from,
            to,
            cc,
            bcc,
            subject,
            raw: message.formatted(),
            message_id,
            not_before,
        };
        if out.recipients().is_empty() {
            return Err(problem("it has no recipient"));
        }
        Ok(out)
    }

    /// The envelope recipients: `to`, `cc`, `bcc`, each address once.
    pub fn recipients(&self) -> Vec<Address> {
        let mut all: Vec<Address> = Vec::new();
        for m in self.to.iter().chain(&self.cc).chain(&self.bcc) {
            if !all.iter().any(|a| same_address(a, &m.email)) {
                all.push(m.email.clone());
            }
        }
        all
    }
}

fn same_address(a: &Address, b: &Address) -> bool {
    AsRef::<str>::as_ref(a).eq_ignore_ascii_case(b.as_ref())
}

/// The Message-ID of the email queued under `key`, without angle brackets:
/// `reportd.<first 24 hex digits of sha256(key)>@<from_domain>`. The same
/// key always gives the same Message-ID, so a resent copy is recognisably
/// the same email.
pub fn message_id_for(key: &str, from_domain: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("reportd.{hex}@{from_domain}")
}

/// The sender mailbox of `[smtp] from`.
pub fn from_mailbox(cfg: &SmtpConfig) -> Result<Mailbox, OutboxError> {
    cfg.from.parse::<Mailbox>().map_err(|e| OutboxError::From {
        from: cfg.from.clone(),
        message: e.to_string(),
    })
}

/// Queues `out` unless its key is already in the outbox (whatever its
/// state). Returns whether a row was added. Takes a `&Connection` so that
/// it runs inside the caller's transaction (`&Transaction` derefs to it):
/// the email is queued if and only if the caller commits.
///
/// An email without recipients is a caller's bug and an error (which rolls
/// the caller's transaction back).
pub fn enqueue(conn: &Connection, out: &Outgoing, now: DateTime<Utc>) -> rusqlite::Result<bool> {
    let recipients: Vec<String> = out.recipients().iter().map(|a| a.to_string()).collect();
    if recipients.is_empty() {
        return Err(rusqlite::Error::ToSqlConversionFailure(
            format!("the email for outbox key {} has no recipient", out.key).into(),
        ));
    }
    let recipients = serde_json::to_string(&recipients)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    // ON CONFLICT (key) rather than INSERT OR IGNORE: only a second copy is
    // ignored; any other constraint violation is an error, not a lost email.
    let added = conn.execute(
        "INSERT INTO outbox (key, kind, sender, recipients, message_id, subject, raw, state,
                             attempts, not_before, next_attempt, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', 0, ?8, ?8, ?9)
         ON CONFLICT (key) DO NOTHING",
        params![
            out.key,
            out.kind,
            out.from.email.to_string(),
            recipients,
            out.message_id,
            out.subject,
            out.raw,
            ts(out.not_before),
            ts(now),
        ],
    )?;
    Ok(added == 1)
}

/// The state of the row under `key`, if there is one.
pub fn state_of(conn: &Connection, key: &str) -> rusqlite::Result<Option<State>> {
    conn.prepare_cached("SELECT state FROM outbox WHERE key = ?1")?
        .query_row([key], |r| r.get::<_, String>(0))
        .optional()?
        .map(|s| State::parse(&s))
        .transpose()
}

/// When the newest queued or sent email whose key starts with `prefix` was
/// queued: e.g. a supervisor's last reply reminder (`reply-reminder:<email>:`).
pub fn last_queued(conn: &Connection, prefix: &str) -> rusqlite::Result<Option<DateTime<Utc>>> {
    // substr rather than LIKE: an address may hold `_` or `%`. The range on
    // `key` lets the unique index on it find the keys with the prefix
    // instead of reading the whole outbox on every pass (U+10FFFF, a
    // noncharacter, sorts after anything a key holds after the prefix).
    let newest: Option<String> = conn
        .prepare_cached(
            "SELECT max(created_at) FROM outbox
             WHERE key >= ?1 AND key <= ?1 || char(1114111)
               AND substr(key, 1, length(?1)) = ?1 AND state IN ('queued', 'sent')",
        )?
        .query_row([prefix], |r| r.get(0))?;
    newest.as_deref().map(parse_ts).transpose()
}

/// Whether an email under `key` is queued or already sent (not failed, not
/// absent).
pub fn is_queued_or_sent(conn: &Connection, key: &str) -> rusqlite::Result<bool> {
    Ok(matches!(
        state_of(conn, key)?,
        Some(State::Queued | State::Sent)
    ))
}

/// Puts a `failed` row back in the queue (after the address was fixed on
/// the server, say), due now, with its attempts reset. Returns whether a
/// failed row under `key` existed.
pub fn requeue(conn: &Connection, key: &str, now: DateTime<Utc>) -> rusqlite::Result<bool> {
    // The recipients that refused get it again; those that took it do not.
    conn.execute(
        "DELETE FROM outbox_recipients WHERE state = 'refused'
           AND outbox = (SELECT id FROM outbox WHERE key = ?1 AND state = 'failed')",
        [key],
    )?;
    let changed = conn.execute(
        "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt = ?2
         WHERE key = ?1 AND state = 'failed'",
        params![key, ts(now)],
    )?;
    Ok(changed == 1)
}

/// Withdraws a queued email that no send can be under way for: never
/// tried, or last tried longer ago than any send's lease ([`IDLE_CLAIM`]).
/// Returns whether it did; `why` is kept as the row's last error.
pub fn cancel_unsent(
    conn: &Connection,
    key: &str,
    why: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<bool> {
    let idle_since = now - TimeDelta::from_std(IDLE_CLAIM).unwrap_or(TimeDelta::hours(1));
    let changed = conn
        .prepare_cached(
            "UPDATE outbox SET state = 'cancelled', next_attempt = NULL, last_error = ?2
             WHERE key = ?1 AND state = 'queued' AND (attempts = 0 OR last_attempt_at < ?3)",
        )?
        .execute(params![key, why, ts(idle_since)])?;
    Ok(changed > 0)
}

/// The keys of the emails queued and not sent, read once: a pass looks at
/// thousands of deadlines for a reminder or notice to withdraw, and almost
/// never finds one queued.
pub struct Unsent(std::collections::BTreeSet<String>);

impl Unsent {
    pub fn load(conn: &Connection) -> rusqlite::Result<Unsent> {
        let mut stmt = conn.prepare_cached("SELECT key FROM outbox WHERE state = 'queued'")?;
        let keys = stmt.query_map([], |r| r.get(0))?;
        Ok(Unsent(keys.collect::<rusqlite::Result<_>>()?))
    }

    /// The keys starting with `prefix` that were queued and not sent.
    pub fn with_prefix<'u>(&'u self, prefix: &'u str) -> impl Iterator<Item = &'u str> {
        self.0
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .map(String::as_str)
            .take_while(move |k| k.starts_with(prefix))
    }

    /// Whether a key starting with `prefix` was queued and not sent.
    pub fn any_with_prefix(&self, prefix: &str) -> bool {
        self.with_prefix(prefix).next().is_some()
    }

    /// [`cancel_unsent`], only if `key` was queued and not sent when this
    /// was read: an email queued since is not looked at.
    pub fn cancel(
        &self,
        conn: &Connection,
        key: &str,
        why: &str,
        now: DateTime<Utc>,
    ) -> rusqlite::Result<bool> {
        if !self.0.contains(key) {
            return Ok(false);
        }
        cancel_unsent(conn, key, why, now)
    }
}

/// Longer than any send's claim (send timeout plus margin): a row last
/// tried this long ago is not being sent by anyone.
pub const IDLE_CLAIM: Duration = Duration::from_secs(15 * 60);

/// Every queued or sent email as it goes out: key, kind and the raw
/// message, in queue order (the demo writes them out as `.eml` files).
pub fn raw_messages(conn: &Connection) -> rusqlite::Result<Vec<(String, String, Vec<u8>)>> {
    let mut stmt = conn.prepare(
        "SELECT key, kind, raw FROM outbox WHERE state IN ('queued', 'sent') ORDER BY id",
    )?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect()
}

/// When the next queued row becomes due (its `not_before` and its
/// `next_attempt` both passed), for the daemon to sleep until; `None` when
/// nothing is queued.
pub fn next_attempt_at(conn: &Connection) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let next: Option<String> = conn.query_row(
        "SELECT min(max(not_before, next_attempt)) FROM outbox WHERE state = 'queued'",
        [],
        |r| r.get(0),
    )?;
    next.as_deref().map(parse_ts).transpose()
}

/// Emails still to send (`queued`) and those refused for good (`failed`),
/// with the keys of the failed ones, oldest first: what `reportd health`
/// watches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backlog {
    pub queued: usize,
    pub failed: Vec<String>,
    /// Since when each queued email could have gone (its queueing, or the
    /// end of its quiet hours), oldest first.
    pub due_since: Vec<DateTime<Utc>>,
}

pub fn backlog(conn: &Connection) -> rusqlite::Result<Backlog> {
    let queued: i64 = conn.query_row(
        "SELECT count(*) FROM outbox WHERE state = 'queued'",
        [],
        |r| r.get(0),
    )?;
    let failed = conn
        .prepare("SELECT key FROM outbox WHERE state = 'failed' ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    // Both are stored by `ts`, so the text's order is the time's.
    let due_since = conn
        .prepare(
            "SELECT max(created_at, not_before) AS due FROM outbox
             WHERE state = 'queued' ORDER BY due",
        )?
        .query_map([], |r| parse_ts(&r.get::<_, String>(0)?))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Backlog {
        queued: usize::try_from(queued).unwrap_or(0),
        failed,
        due_since,
    })
}

/// One outbox row, for `reportd outbox [--json]`. Times are UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxRow {
    pub key: String,
    pub kind: String,
    pub sender: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub message_id: String,
    pub state: State,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub not_before: DateTime<Utc>,
    /// When a queued row is tried next (or its claim expires); `None` once
    /// sent or failed.
    pub next_attempt: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Every outbox row, oldest first.
pub fn list(conn: &Connection) -> rusqlite::Result<Vec<OutboxRow>> {
    let mut stmt = conn.prepare(
        "SELECT key, kind, sender, recipients, subject, message_id, state, attempts, last_error,
                not_before, next_attempt, created_at, last_attempt_at, sent_at
         FROM outbox ORDER BY id",
    )?;
    let opt_ts = |v: Option<String>| v.as_deref().map(parse_ts).transpose();
    let rows = stmt.query_map([], |r| {
        let recipients: String = r.get(3)?;
        Ok(OutboxRow {
            key: r.get(0)?,
            kind: r.get(1)?,
            sender: r.get(2)?,
            recipients: serde_json::from_str(&recipients).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    3,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?,
            subject: r.get(4)?,
            message_id: r.get(5)?,
            state: State::parse(&r.get::<_, String>(6)?)?,
            attempts: r.get(7)?,
            last_error: r.get(8)?,
            not_before: parse_ts(&r.get::<_, String>(9)?)?,
            next_attempt: opt_ts(r.get(10)?)?,
            created_at: parse_ts(&r.get::<_, String>(11)?)?,
            last_attempt_at: opt_ts(r.get(12)?)?,
            sent_at: opt_ts(r.get(13)?)?,
        })
    })?;
    rows.collect()
}

/// The SMTP side: lettre's `AsyncSmtpTransport` built from `[smtp]`.
///
/// The transport is built on first use, inside the caller's Tokio runtime
/// (lettre's pool spawns a task when built), so `Sender::new` itself needs
/// no runtime.
pub struct Sender {
    endpoint: String,
    builder: AsyncSmtpTransportBuilder,
    transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
    send_timeout: Duration,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("endpoint", &self.endpoint)
            .field("send_timeout", &self.send_timeout)
            .finish_non_exhaustive()
    }
}

impl Sender {
    /// Checks `[smtp]` (plain only to loopback, username and password
    /// together, the CA file), reads the password and prepares the
    /// transport. Connects to nothing yet.
    pub fn new(cfg: &SmtpConfig) -> Result<Sender, OutboxError> {
        let host = cfg.host.trim().to_string();
        let tls_params = || -> Result<TlsParameters, OutboxError> {
            let mut params = TlsParameters::builder(host.clone());
            if let Some(path) = &cfg.ca_file {
                params = params.add_root_certificate(ca_certificate(path)?);
            }
            params.build_rustls().map_err(|e| OutboxError::Tls {
                host: host.clone(),
                message: e.to_string(),
            })
        };
        let tls = match cfg.security {
            Security::Tls => Tls::Wrapper(tls_params()?),
            Security::Starttls => Tls::Required(tls_params()?),
            Security::Plain if is_loopback(&host) => Tls::None,
            Security::Plain => return Err(OutboxError::PlainNotLoopback(host)),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(cfg.port)
            .tls(tls)
            .timeout(Some(CONNECT_TIMEOUT))
            // No idle connections: each email gets a fresh connection, and a
            // send cut off by the timeout never leaves a half-used one behind.
            .pool_config(PoolConfig::new().max_size(0));
        match (&cfg.username, cfg.password.read()?) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.clone(), password.0));
            }
            (Some(user), None) => return Err(OutboxError::UsernameWithoutPassword(user.clone())),
            (None, Some(_)) => return Err(OutboxError::PasswordWithoutUsername),
            (None, None) => {}
        }
        Ok(Sender {
            endpoint: format!("{host}:{}", cfg.port),
            builder,
            transport: OnceLock::new(),
            send_timeout: DEFAULT_SEND_TIMEOUT,
        })
    }

    /// Limits each send (connect to final answer) to `timeout` instead of
    /// [`DEFAULT_SEND_TIMEOUT`]. A claimed row is not sent again by anyone
    /// until `timeout` + 30 s after its claim.
    pub fn with_send_timeout(mut self, timeout: Duration) -> Sender {
        self.send_timeout = timeout;
        self
    }

    /// `host:port`, for messages.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn transport(&self) -> &AsyncSmtpTransport<Tokio1Executor> {
        self.transport.get_or_init(|| self.builder.clone().build())
    }

    /// Connects, says EHLO, upgrades to TLS and logs in, then NOOP: whether
    /// the server can take mail at all. An error here is the server's or
    /// the config's, never one email's.
    async fn check(&self) -> Result<(), String> {
        match tokio::time::timeout(self.send_timeout, self.transport().test_connection()).await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(format!("SMTP server {} did not answer NOOP", self.endpoint)),
            Ok(Err(e)) => Err(self.describe_connection_error(&e)),
            Err(_) => Err(self.timeout_text()),
        }
    }

    async fn send(&self, envelope: &Envelope, raw: &[u8]) -> Attempt {
        match tokio::time::timeout(self.send_timeout, self.transport().send_raw(envelope, raw))
            .await
        {
            Ok(Ok(_)) => Attempt::Sent,
            Ok(Err(e)) if e.is_permanent() || e.is_client() => Attempt::Permanent(e.to_string()),
            Ok(Err(e)) if e.is_transient() => Attempt::Transient {
                error: e.to_string(),
                server_down: false,
            },
            Ok(Err(e)) => Attempt::Transient {
                error: self.describe_connection_error(&e),
                server_down: true,
            },
            Err(_) => Attempt::Transient {
                error: self.timeout_text(),
                server_down: true,
            },
        }
    }

    fn timeout_text(&self) -> String {
        format!(
            "SMTP server {} did not finish within {} s",
            self.endpoint,
            self.send_timeout.as_secs()
        )
    }

    fn describe_connection_error(&self, e: &lettre::transport::smtp::Error) -> String {
        let hint = match e.status().map(u16::from) {
            Some(530 | 534 | 535 | 538 | 454) => "; check [smtp] username and the password",
            _ if is_tls_failure(e) => "; check [smtp] security, port and ca_file",
            Some(_) => "",
            None => "; is the server up, and are [smtp] host, port and security right?",
        };
        format!("SMTP server {}: {e}{hint}", self.endpoint)
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        // lettre's pool spawns a clean-up task when dropped, which panics
        // outside a Tokio runtime; with no runtime left there is nothing to
        // clean up, so let it go.
        if tokio::runtime::Handle::try_current().is_err()
            && let Some(transport) = self.transport.take()
        {
            std::mem::forget(transport);
        }
    }
}

/// Whether TLS failed (lettre reports a failed handshake over tokio as a
/// connection error wrapping the rustls error).
fn is_tls_failure(e: &lettre::transport::smtp::Error) -> bool {
    if e.is_tls() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let inner = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map_or(s, |i| i as &(dyn std::error::Error + 'static));
        if inner.is::<rustls::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}

fn ca_certificate(path: &std::path::Path) -> Result<Certificate, OutboxError> {
    let shown = path.display().to_string();
    let err = |message: String| OutboxError::CaFile {
        path: shown.clone(),
        message,
    };
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let count = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?
        .len();
    if count == 0 {
        return Err(err(
            "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Certificate::from_pem(&pem).map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::deliver::{claim, due_ids, mark_retry_delay, mark_sent};
    use super::*;
    use chrono::TimeZone;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = crate::store::open(&dir.path().join("t.sqlite3")).expect("open");
        (dir, conn)
    }

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, h, m, s)
            .single()
            .expect("valid time")
    }

    #[test]
    fn unsent_knows_the_keys_queued_when_read_and_cancels_only_those() {
        let (_dir, conn) = db();
        let held = "deadline-reminder:zhang.wei@example.com:2026-W48:2026-11-28T20:00";
        enqueue(&conn, &outgoing(held, at(12, 0, 0)), at(9, 0, 0)).expect("enqueue");
        let unsent = Unsent::load(&conn).expect("load");
        assert!(unsent.any_with_prefix("deadline-reminder:zhang.wei@example.com:2026-W48:"));
        assert!(!unsent.any_with_prefix("deadline-reminder:zhang.wei@example.com:2026-W47:"));
        assert!(!unsent.any_with_prefix("deadline-reminder:zhang.wei@example.com:2026-W48:x"));
        // Queued after it was read: not looked at.
        let later = "late-notice:zhang.wei@example.com:2026-W48";
        enqueue(&conn, &outgoing(later, at(12, 0, 0)), at(9, 0, 0)).expect("enqueue");
        assert!(
            !unsent
                .cancel(&conn, later, "test", at(10, 0, 0))
                .expect("cancel")
        );
        assert!(
            unsent
                .cancel(&conn, held, "test", at(10, 0, 0))
                .expect("cancel")
        );
        assert_eq!(
            state_of(&conn, held).expect("state"),
            Some(State::Cancelled)
        );
        assert_eq!(state_of(&conn, later).expect("state"), Some(State::Queued));
    }

    fn outgoing(key: &str, not_before: DateTime<Utc>) -> Outgoing {
        let id = message_id_for(key, "example.com");
        let message = Message::builder()
            .from("报告助手 <assistant@example.com>".parse().expect("from"))
            .to("张伟 <zhang.wei@example.com>".parse().expect("to"))
            .cc("Li Na <li.na@example.com>".parse().expect("cc"))
            .bcc("audit@example.com".parse().expect("bcc"))
            .subject("周报提醒 reminder")
            .message_id(Some(format!("<{id}>")))
            .body(String::from("请提交周报。\n"))
            .expect("message");
        Outgoing::from_message(key, "reminder", &message, not_before).expect("outgoing")
    }

    #[test]
    fn message_ids_are_deterministic_and_distinct() {
        let a = message_id_for("reply-reminder:7:1", "example.com");
        assert_eq!(a, message_id_for("reply-reminder:7:1", "example.com"));
        assert_ne!(a, message_id_for("reply-reminder:7:2", "example.com"));
        assert!(a.starts_with("reportd."));
        assert!(a.ends_with("@example.com"));
        assert_eq!(a.len(), "reportd.".len() + 24 + "@example.com".len());
        assert!(!a.contains('<') && !a.contains('>'));
    }

    #[test]
    fn from_message_reads_envelope_subject_and_message_id() {
        let out = outgoing("k:1", at(1, 0, 0));
        assert_eq!(out.from.email.to_string(), "assistant@example.com");
        assert_eq!(out.subject, "周报提醒 reminder");
        assert_eq!(out.message_id, message_id_for("k:1", "example.com"));
        let rcpts: Vec<String> = out.recipients().iter().map(|a| a.to_string()).collect();
        assert_eq!(
            rcpts,
            [
                "zhang.wei@example.com",
                "li.na@example.com",
                "audit@example.com"
            ]
        );
        let raw = String::from_utf8_lossy(&out.raw);
        assert!(raw.contains(&format!("Message-ID: <{}>", out.message_id)));
        assert!(
            !raw.contains("audit@example.com"),
            "Bcc stays out of the headers"
        );
    }

    #[test]
    fn from_message_refuses_a_message_without_message_id() {
        let message = Message::builder()
            .from("a@example.com".parse().expect("from"))
            .to("b@example.com".parse().expect("to"))
            .subject("x")
            .body(String::from("x"))
            .expect("message");
        let err = Outgoing::from_message("k", "reminder", &message, at(0, 0, 0))
            .expect_err("no Message-ID");
        assert!(err.to_string().contains("message_id_for"), "{err}");
    }

    #[test]
    fn enqueue_is_idempotent_by_key_and_follows_the_transaction() {
        let (_dir, mut conn) = db();
        let out = outgoing("reply-reminder:1:1", at(1, 0, 0));
        assert!(enqueue(&conn, &out, at(0, 0, 0)).expect("enqueue"));
        assert!(!enqueue(&conn, &out, at(0, 5, 0)).expect("enqueue again"));
        assert!(is_queued_or_sent(&conn, "reply-reminder:1:1").expect("state"));
        assert!(!is_queued_or_sent(&conn, "other").expect("state"));

        // Rolled back with the state change that owed it.
        let tx = conn.transaction().expect("tx");
        assert!(enqueue(&tx, &outgoing("rolled-back", at(1, 0, 0)), at(0, 0, 0)).expect("enqueue"));
        drop(tx);
        assert_eq!(state_of(&conn, "rolled-back").expect("state"), None);

        let rows = list(&conn).expect("list");
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.state, State::Queued);
        assert_eq!(row.attempts, 0);
        assert_eq!(row.created_at, at(0, 0, 0));
        assert_eq!(row.recipients.len(), 3);
        assert_eq!(next_attempt_at(&conn).expect("next"), Some(at(1, 0, 0)));
    }

    #[test]
    fn enqueue_refuses_an_email_without_recipients() {
        let (_dir, conn) = db();
        let mut out = outgoing("k", at(0, 0, 0));
        out.to.clear();
        out.cc.clear();
        out.bcc.clear();
        assert!(enqueue(&conn, &out, at(0, 0, 0)).is_err());
        assert!(list(&conn).expect("list").is_empty());
    }

    #[test]
    fn backoff_doubles_from_30_seconds_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::from_secs(30));
        assert_eq!(backoff(2), Duration::from_secs(60));
        assert_eq!(backoff(4), Duration::from_secs(240));
        assert_eq!(backoff(8), Duration::from_secs(3600));
        assert_eq!(backoff(u32::MAX), Duration::from_secs(3600));
    }

    #[test]
    fn a_sent_mark_blocked_past_the_busy_timeout_is_retried_until_stored() {
        let (dir, mut conn) = db();
        enqueue(&conn, &outgoing("k", at(0, 0, 0)), at(0, 0, 0)).expect("enqueue");
        let id: i64 = conn
            .query_row("SELECT id FROM outbox", [], |r| r.get(0))
            .expect("id");
        // A short busy timeout stands in for a writer that outlasts 30 s.
        conn.busy_timeout(Duration::from_millis(50))
            .expect("busy timeout");
        let path = dir.path().join("t.sqlite3");
        let (locked, is_locked) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            let other = Connection::open(&path).expect("second connection");
            other
                .execute_batch("BEGIN IMMEDIATE")
                .expect("take the write lock");
            locked.send(()).expect("signal");
            std::thread::sleep(Duration::from_millis(800));
            other.execute_batch("COMMIT").expect("release");
        });
        is_locked.recv().expect("the lock is held");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let tries = runtime
            .block_on(mark_sent(&mut conn, id, at(1, 0, 0)))
            .expect("stored in the end");
        holder.join().expect("holder");
        assert!(tries >= 2, "the first try met the lock ({tries} tries)");
        let row = &list(&conn).expect("list")[0];
        assert_eq!((row.state, row.sent_at), (State::Sent, Some(at(1, 0, 0))));
    }

    #[test]
    fn sent_marks_are_retried_after_1_s_doubling_up_to_a_minute() {
        assert_eq!(mark_retry_delay(1), Duration::from_secs(1));
        assert_eq!(mark_retry_delay(3), Duration::from_secs(4));
        assert_eq!(mark_retry_delay(7), Duration::from_secs(60));
        assert_eq!(mark_retry_delay(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn a_claim_is_taken_once_and_expires() {
        let (_dir, conn) = db();
        enqueue(&conn, &outgoing("k", at(0, 0, 0)), at(0, 0, 0)).expect("enqueue");
        let id: i64 = conn
            .query_row("SELECT id FROM outbox", [], |r| r.get(0))
            .expect("id");
        let lease = Duration::from_secs(150);
        assert_eq!(
            claim(&conn, id, at(1, 0, 0), lease).expect("claim"),
            Some(1)
        );
        assert_eq!(
            claim(&conn, id, at(1, 0, 1), lease).expect("claim"),
            None,
            "claimed already"
        );
        assert_eq!(
            due_ids(&conn, at(1, 2, 29), &|_: &str| true).expect("due"),
            Vec::<i64>::new()
        );
        assert_eq!(next_attempt_at(&conn).expect("next"), Some(at(1, 2, 30)));
        // The claimant died: after the lease anyone may take it.
        assert_eq!(
            claim(&conn, id, at(1, 2, 30), lease).expect("claim"),
            Some(2)
        );
    }

    #[test]
    fn quiet_hours_hold_an_email_back() {
        let (_dir, conn) = db();
        enqueue(&conn, &outgoing("k", at(9, 0, 0)), at(0, 0, 0)).expect("enqueue");
        assert!(
            due_ids(&conn, at(8, 59, 59), &|_: &str| true)
                .expect("due")
                .is_empty()
        );
        assert_eq!(
            due_ids(&conn, at(9, 0, 0), &|_: &str| true)
                .expect("due")
                .len(),
            1
        );
    }

    #[test]
    fn requeue_only_touches_failed_rows() {
        let (_dir, conn) = db();
        enqueue(&conn, &outgoing("k", at(0, 0, 0)), at(0, 0, 0)).expect("enqueue");
        assert!(!requeue(&conn, "k", at(1, 0, 0)).expect("requeue"));
        conn.execute(
            "UPDATE outbox SET state = 'failed', attempts = 1, last_error = '550 no', next_attempt = NULL",
            [],
        )
        .expect("fail");
        assert!(!is_queued_or_sent(&conn, "k").expect("state"));
        assert!(requeue(&conn, "k", at(1, 0, 0)).expect("requeue"));
        assert_eq!(
            due_ids(&conn, at(1, 0, 0), &|_: &str| true)
                .expect("due")
                .len(),
            1
        );
    }

    #[test]
    fn requeue_forgets_the_refused_recipients_and_keeps_those_that_got_it() {
        let (_dir, conn) = db();
        enqueue(&conn, &outgoing("k", at(0, 0, 0)), at(0, 0, 0)).expect("enqueue");
        conn.execute_batch(
            "INSERT INTO outbox_recipients (outbox, address, state, answer, at) VALUES
                 (1, 'zhang.wei@example.com', 'refused', '550 no such user', 'x'),
                 (1, 'li.na@example.com', 'sent', NULL, 'x');
             UPDATE outbox SET state = 'failed', attempts = 1, last_error = '550 no', next_attempt = NULL;",
        )
        .expect("a partly refused email");
        assert!(requeue(&conn, "k", at(1, 0, 0)).expect("requeue"));
        let left: Vec<String> = conn
            .prepare("SELECT address FROM outbox_recipients ORDER BY address")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(left, ["li.na@example.com"], "the Cc is not sent again");
    }

    #[test]
    fn plain_is_refused_to_a_remote_host() {
        let cfg = SmtpConfig {
            host: "smtp.example.com".into(),
            port: 25,
            security: Security::Plain,
            username: None,
            password: crate::config::PasswordSource::None,
            ca_file: None,
            from: "a@example.com".into(),
        };
        let err = Sender::new(&cfg).expect_err("plain to a remote host");
        assert!(err.to_string().contains("starttls"), "{err}");
        let local = SmtpConfig {
            host: "127.0.0.1".into(),
            ..cfg.clone()
        };
        assert!(Sender::new(&local).is_ok());
        let half_login = SmtpConfig {
            username: Some("a".into()),
            ..local
        };
        assert!(matches!(
            Sender::new(&half_login),
            Err(OutboxError::UsernameWithoutPassword(_))
        ));
    }

    #[test]
    fn a_refused_connection_defers_and_the_sender_outlives_its_runtime() {
        let (_dir, mut conn) = db();
        enqueue(&conn, &outgoing("k", at(0, 0, 0)), at(0, 0, 0)).expect("enqueue");
        // A port nobody listens on: bind one, then let it go.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let cfg = SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            security: Security::Plain,
            username: None,
            password: crate::config::PasswordSource::None,
            ca_file: None,
            from: "a@example.com".into(),
        };
        let sender = Sender::new(&cfg).expect("sender");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let stats = runtime
            .block_on(deliver_due(&mut conn, &sender, at(1, 0, 0)))
            .expect("deliver");
        assert_eq!((stats.sent, stats.deferred, stats.failed), (0, 1, 0));
        let row = &list(&conn).expect("list")[0];
        assert_eq!((row.state, row.attempts), (State::Queued, 1));
        assert!(
            row.last_error
                .as_deref()
                .is_some_and(|e| e.contains("refused")),
            "{row:?}"
        );
        assert_eq!(stats.next_attempt, row.next_attempt);
        drop(runtime);
        // lettre's pool would spawn on drop; without a runtime that must not panic.
        drop(sender);
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").expect("write");
        let cfg = SmtpConfig {
            host: "smtp.example.com".into(),
            port: 465,
            security: Security::Tls,
            username: None,
            password: crate::config::PasswordSource::None,
            ca_file: Some(path),
            from: "a@example.com".into(),
        };
        let err = Sender::new(&cfg).expect_err("bad ca file");
        assert!(err.to_string().contains("ca_file"), "{err}");
    }
}
