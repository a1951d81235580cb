//! One pass of the pipeline: read new mail from the source, classify it,
//! judge every deadline up to `now`, book what is owed, and queue the emails
//! that are owed, in the same transaction as the judgement, then deliver
//! what is due. `sync --once` runs one pass; the daemon runs one after
//! every wake-up. Each pass ends with one log line and, when it ended
//! without an error, a record of it for `reportd health`.

use std::time::Instant;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use crate::archive::close::ArchiveClose;
use crate::calendar::Calendar;
use crate::config::{Config, SourceConfig};
use crate::ledger::{self, Entry, EntryKind};
use crate::mail::imap::{DownloadProgress, ImapError, ImapSource, Opened};
use crate::mail::inbox::{self, FetchReport};
use crate::mail::maildir::{MaildirError, MaildirSource};
use crate::notify::compose::{ComposeError, Digest, Email, Templates};
use crate::notify::outbox::{self, DeliveryStats, OutboxError, Sender};
use crate::notify::plan::{MonthlyClose, NotifyError, Planner};
use crate::ops::health::{self, PassSummary};
use crate::payroll::by_email::{self, ByEmailError};
use crate::payroll::close::PayrollClose;
use crate::reports::compliance::{self, Part};
use crate::reports::{self, IntakeStats, scope};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Imap(#[from] ImapError),
    #[error(transparent)]
    Maildir(#[from] MaildirError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Templates(#[from] ComposeError),
    #[error(transparent)]
    SalesEmail(#[from] ByEmailError),
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
}

impl SyncError {
    /// The database error behind this one, whichever step met it (storing
    /// fetched mail, planning, the outbox): a full disk, a read-only file,
    /// a lock held past the busy timeout. No reconnect to the mail server
    /// can help with it.
    pub fn database_error(&self) -> Option<&rusqlite::Error> {
        match self {
            SyncError::Db(e)
            | SyncError::Imap(ImapError::Store(e))
            | SyncError::Maildir(MaildirError::Store(e))
            | SyncError::Notify(NotifyError::Db(e))
            | SyncError::Outbox(OutboxError::Db(e))
            | SyncError::SalesEmail(ByEmailError::Db(e))
            | SyncError::SalesEmail(ByEmailError::Notify(NotifyError::Db(e))) => Some(e),
            _ => None,
        }
    }

    /// What to tell the operator when [`Self::database_error`] stopped a
    /// run over `database`: what failed, that nothing is lost, what to do.
    pub fn stopped_text(db_error: &rusqlite::Error, database: &std::path::Path) -> String {
        use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked, DiskFull, ReadOnly};
        let todo = match db_error.sqlite_error_code() {
            Some(DiskFull) => "Free space on its file system",
            Some(ReadOnly) => "Make the file and its directory writable again",
            Some(DatabaseBusy | DatabaseLocked) => {
                "Find what holds the database's write lock so long (a copy, a long query)"
            }
            _ => "Check the file and its file system",
        };
        format!(
            "stopped: cannot write the database {}: {db_error}. Nothing is lost: mail, \
             fines and emails not yet stored are read and owed again from the mailbox when \
             reportd next runs. {todo}, then run reportd again",
            database.display()
        )
    }
}

/// What one pass did.
#[derive(Debug, Default)]
pub struct PassReport {
    /// New messages stored (`fetch.new`).
    pub fetched: usize,
    pub fetch: FetchReport,
    pub intake: IntakeStats,
    pub booked: Booked,
    pub queued: usize,
}

/// What a pass booked: each entry when there are few, else only how many.
/// A first sync books tens of thousands, which the ledger keeps and
/// `reportd ledger` lists; held until the pass ended they were 11 MB of
/// its peak memory, beside the month's archive being built.
#[derive(Debug)]
pub enum Booked {
    /// At most [`BOOKED_LINES`] entries, in the order they were booked.
    Each(Vec<Entry>),
    Counted {
        fines: usize,
        waivers: usize,
    },
}

impl Default for Booked {
    fn default() -> Booked {
        Booked::Each(Vec::new())
    }
}

impl Booked {
    fn of(entries: Vec<Entry>) -> Booked {
        if entries.len() <= BOOKED_LINES {
            return Booked::Each(entries);
        }
        let fines = entries.iter().filter(|e| e.kind == EntryKind::Fine).count();
        Booked::Counted {
            fines,
            waivers: entries.len() - fines,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Booked::Each(entries) => entries.len(),
            Booked::Counted { fines, waivers } => fines + waivers,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One INFO line per entry when there are few, else one for them all.
    fn log(&self) {
        match self {
            Booked::Each(entries) => {
                for e in entries {
                    tracing::info!(person = %e.person, period = %e.period, amount = %e.amount_fen, reason = %e.reason, "booked");
                }
            }
            Booked::Counted { fines, waivers } => tracing::info!(
                fines,
                waivers,
                "booked {} ledger entries; `reportd ledger` lists them",
                fines + waivers
            ),
        }
    }
}

/// Why the mail in the database cannot be judged yet. Judging waits while
/// it is so: a deadline judged without its reports would book fines that
/// a later pass has to waive, and send a month's payroll summary or
/// archive that lacks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unready {
    /// No mailbox was ever read into the database: a new install, or a
    /// first import that stopped before it stored anything.
    #[error("reportd has not read the mailbox into this database yet")]
    NeverRead,
    /// Stored messages the intake has not read: another process is
    /// importing mail, or an import stopped between storing and reading.
    #[error(
        "{0} stored messages are not read yet: reportd is importing mail into this database, \
         or an import stopped before reading them"
    )]
    Unread(usize),
}

/// Whether the mail in the database can be judged: `None` when it can.
pub fn unready(conn: &Connection) -> rusqlite::Result<Option<Unready>> {
    let unread = inbox::UnclassifiedBatches::count(conn)?;
    if unread > 0 {
        return Ok(Some(Unready::Unread(unread)));
    }
    // A pass that read an empty Maildir stores nothing, but it ended.
    let never = inbox::never_read(conn)? && health::last_pass(conn)?.is_none();
    Ok(never.then_some(Unready::NeverRead))
}

/// What [`Engine::judge_and_book`] did.
#[derive(Debug)]
pub enum Judging {
    /// Judged: what it booked, and how many emails it queued.
    Done { booked: Booked, queued: usize },
    /// Not judged: the mail is not read yet. The pass that reads it judges.
    Waits(Unready),
}

/// The configured mail source.
pub enum Source {
    Imap(ImapSource),
    Maildir(MaildirSource),
}

impl Source {
    pub fn from_config(cfg: &Config) -> Source {
        match &cfg.source {
            SourceConfig::Imap(imap) => Source::Imap(ImapSource::new(imap)),
            SourceConfig::Maildir(md) => Source::Maildir(MaildirSource::new(&md.path)),
        }
    }

    /// The source, telling `progress` (downloaded, to download) as an IMAP
    /// download goes; a Maildir is read from disk at once.
    pub fn with_download_progress(self, progress: DownloadProgress) -> Source {
        match self {
            Source::Imap(imap) => Source::Imap(imap.with_progress(progress)),
            other => other,
        }
    }

    /// Reads what is new, connecting and disconnecting for IMAP; returns
    /// how many messages were new.
    pub async fn fetch_once(&self, conn: &mut Connection) -> Result<usize, SyncError> {
        Ok(self.fetch(conn).await?.new)
    }

    /// [`fetch_once`](Self::fetch_once), saying how it went.
    pub async fn fetch(&self, conn: &mut Connection) -> Result<FetchReport, SyncError> {
        match self {
            Source::Imap(imap) => {
                let mut opened: Opened = imap.open().await?;
                // Skipped messages wait by the real clock, whatever `--now` says.
                let result = imap.fetch(&mut opened, conn, Utc::now()).await;
                ImapSource::close(opened).await;
                Ok(result?)
            }
            Source::Maildir(md) => Ok(md.fetch(conn)?),
        }
    }
}

/// The loaded config, calendar and templates: what every pass needs.
pub struct Engine {
    pub cfg: Config,
    pub calendar: Calendar,
    /// Compiled when the first email is rendered (see [`Templates::lazy`]).
    pub templates: Templates,
    /// The emails owed when a month closes (the payroll summary, the
    /// compliance archive).
    pub closes: Vec<Box<dyn MonthlyClose>>,
}

impl Engine {
    pub fn new(cfg: Config, calendar: Calendar) -> Result<Engine, SyncError> {
        Ok(Engine {
            cfg,
            calendar,
            templates: Templates::lazy(),
            closes: vec![Box::new(PayrollClose), Box::new(ArchiveClose)],
        })
    }

    /// The planner, with the monthly-close hooks.
    pub fn planner(&self) -> Result<Planner<'_>, SyncError> {
        Ok(Planner::new(&self.cfg, &self.calendar, &self.templates)?
            .with_monthly_closes(&self.closes))
    }

    /// Classifies what is stored, then judges, books and queues up to `now`.
    pub fn process(
        &self,
        conn: &mut Connection,
        now: DateTime<Utc>,
        progress: impl FnMut(usize, usize),
    ) -> Result<(IntakeStats, Booked, usize), SyncError> {
        crate::failpoint::hit(crate::failpoint::STORED_BEFORE_INTAKE);
        // A first import's download was written with a rollback journal
        // (`store::use_rollback_journal`); from here the database is in WAL
        // mode again, so the intake's reader parses beside the intake's
        // commits instead of waiting for each, and no email is sent before.
        crate::store::use_wal(conn)?;
        let intake = reports::intake(conn, &self.cfg, &self.calendar, progress)?;
        // Sales files by email take over messages intake left ignored.
        by_email::take(conn, &self.planner()?, now)?;
        // Only then is it known which ignored messages nothing acts on.
        let keep = chrono::Duration::days(i64::from(self.cfg.store.keep_unrelated_days));
        let dropped = inbox::drop_unrelated_raw(conn, now - keep, now)?;
        if dropped > 0 {
            tracing::info!(
                dropped,
                "raw bytes of unrelated mail past keep_unrelated_days dropped"
            );
        }
        match self.judge(conn, now, true)? {
            Judging::Done { booked, queued } => Ok((intake, booked, queued)),
            Judging::Waits(_) => Ok((intake, Booked::default(), 0)),
        }
    }

    /// Judges every deadline up to `now` and, in one transaction, books what
    /// is owed and queues the emails owed, each only once; or, while the
    /// mail is not read yet ([`unready`]: never read, or stored by
    /// an import still running), judges nothing and says why. For a
    /// judgement outside a pass (`reportd excuse`).
    pub fn judge_and_book(
        &self,
        conn: &mut Connection,
        now: DateTime<Utc>,
    ) -> Result<Judging, SyncError> {
        self.judge(conn, now, false)
    }

    /// [`Engine::judge_and_book`]; `mail_just_read` by a pass, which needs
    /// no check: only a process that holds the writer lock stores mail, and
    /// the pass has read all it stored (an empty mailbox too).
    fn judge(
        &self,
        conn: &mut Connection,
        now: DateTime<Utc>,
        mail_just_read: bool,
    ) -> Result<Judging, SyncError> {
        // Checked in the write transaction: no importer can store more
        // before judging has committed.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if !mail_just_read && let Some(unready) = unready(&tx)? {
            return Ok(Judging::Waits(unready));
        }
        let (booked, queued) = self.book_in(&tx, now)?;
        tx.commit()?;
        booked.log();
        Ok(Judging::Done { booked, queued })
    }

    /// Judges the deadlines up to `now` that may have changed (every one
    /// when digests are owed), books what is owed for those that may have
    /// changed and queues the emails owed, in `tx`.
    fn book_in(
        &self,
        tx: &rusqlite::Transaction<'_>,
        now: DateTime<Utc>,
    ) -> Result<(Booked, usize), SyncError> {
        let planner = self.planner()?;
        let schedule = compliance::schedule(&self.cfg, &self.calendar, now, &[]);
        // What may have changed since the last judgement (all of it the
        // first time) is judged and settled; every deadline is judged when
        // digests are owed (their trends and lists reach back to
        // tracking's start), but the rest of them are settled already.
        let changed = scope::part(tx, &schedule, now, Planner::notices_from(now))?;
        let judged = if planner.needs_every_verdict(tx, now)? {
            &Part::Whole
        } else {
            &changed
        };
        let verdicts = compliance::verdicts_in(tx, &schedule, now, judged)?;
        let booked = Booked::of(ledger::settle(
            tx,
            verdicts
                .iter()
                .filter(|v| changed.covers(&v.person, &v.deadline)),
            &self.cfg.rules,
            self.cfg.timezone,
        )?);
        if !booked.is_empty() {
            crate::failpoint::hit(crate::failpoint::LEDGER_BEFORE_OUTBOX);
        }
        let mut queued = planner.queue_judged(tx, &verdicts, now)?;
        // A first sync judges a year: its verdicts are not held while the
        // month's archive is built.
        drop(verdicts);
        scope::mark(tx, &schedule, now)?;
        queued += planner.queue_closes(tx, now)?;
        Ok((booked, queued))
    }

    /// One full pass: fetch, classify, judge, book, queue.
    pub async fn pass(
        &self,
        source: &Source,
        conn: &mut Connection,
        now: DateTime<Utc>,
        progress: impl FnMut(usize, usize),
    ) -> Result<PassReport, SyncError> {
        let fetch = source.fetch(conn).await?;
        let (intake, booked, queued) = self.process(conn, now, progress)?;
        Ok(PassReport {
            fetched: fetch.new,
            fetch,
            intake,
            booked,
            queued,
        })
    }

    /// Everything after a fetch of `fetched` new messages, in a pass that
    /// began at `started`: classify, judge, book, queue (as of `now()`),
    /// deliver what is due (as of `now()` again, once that is done); then
    /// the pass is logged in one line and recorded as the last successful
    /// one.
    pub async fn finish_pass(
        &self,
        sender: Option<&Sender>,
        conn: &mut Connection,
        now: impl Fn() -> DateTime<Utc>,
        (fetched, started): (usize, Instant),
        progress: impl FnMut(usize, usize),
    ) -> Result<(PassSummary, Option<DeliveryStats>), SyncError> {
        let (intake, booked, queued) = self.process(conn, now(), progress)?;
        let delivery = self.deliver(sender, conn, now()).await?;
        let d = delivery.clone().unwrap_or_default();
        let summary = PassSummary {
            fetched,
            classified: intake.total(),
            booked: booked.len(),
            queued,
            sent: d.sent,
            deferred: d.deferred,
            failed: d.failed,
            duration: started.elapsed(),
        };
        // The pass in one line, for journald or (`--log-format json`) a log
        // shipper.
        tracing::info!(
            fetched,
            classified = summary.classified,
            booked = summary.booked,
            queued,
            sent = summary.sent,
            deferred = summary.deferred,
            failed = summary.failed,
            duration_ms = health::millis(summary.duration),
            "pass"
        );
        // The real clock: health asks how long ago, whatever `--now` said.
        health::record_pass(conn, &summary, Utc::now())?;
        Ok((summary, delivery))
    }

    /// The SMTP sender, when `[smtp]` is configured.
    pub fn sender(&self) -> Result<Option<Sender>, SyncError> {
        self.cfg
            .smtp
            .as_ref()
            .map(Sender::new)
            .transpose()
            .map_err(SyncError::from)
    }

    /// Delivers what is due in the outbox, if there is a sender. In the
    /// quiet hours only digests go; the rest wait for the morning.
    pub async fn deliver(
        &self,
        sender: Option<&Sender>,
        conn: &mut Connection,
        now: DateTime<Utc>,
    ) -> Result<Option<DeliveryStats>, SyncError> {
        let Some(sender) = sender else {
            return Ok(None);
        };
        let quiet = self.cfg.notify.schedule.is_quiet(now, self.cfg.timezone);
        let may_send = |kind: &str| !quiet || kind == <Digest as Email>::KIND;
        Ok(Some(
            outbox::deliver_due_of(conn, sender, now, may_send).await?,
        ))
    }
}

/// Entries booked in one pass that are kept, logged one line each at INFO
/// and printed by `reportd excuse`; beyond it only their count is.
const BOOKED_LINES: usize = 20;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Fen;

    fn entry(id: i64, kind: EntryKind) -> Entry {
        Entry {
            id,
            at: Utc::now(),
            person: format!("rep{id}@example.com"),
            period: "2026-W47".into(),
            kind,
            amount_fen: Fen(5000),
            fund_fen: Fen(2500),
            reason: "missing: no report".into(),
            evidence: String::new(),
            notes: Vec::new(),
            arrived: None,
        }
    }

    #[test]
    fn a_pass_keeps_the_entries_it_booked_when_few_and_only_counts_them_when_many() {
        let few: Vec<Entry> = (0..BOOKED_LINES as i64)
            .map(|id| entry(id, EntryKind::Fine))
            .collect();
        match Booked::of(few.clone()) {
            Booked::Each(kept) => assert_eq!(kept, few),
            other => panic!("{other:?}"),
        }
        let many: Vec<Entry> = (0..=BOOKED_LINES as i64)
            .map(|id| {
                entry(
                    id,
                    [EntryKind::Fine, EntryKind::Waiver][id as usize % 3 / 2],
                )
            })
            .collect();
        let booked = Booked::of(many);
        assert!(
            matches!(
                booked,
                Booked::Counted {
                    fines: 14,
                    waivers: 7
                }
            ),
            "{booked:?}"
        );
        assert_eq!(booked.len(), BOOKED_LINES + 1);
    }
}
