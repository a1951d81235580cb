//! One pass of the pipeline: read new mail from the source, classify it,
//! judge every deadline up to `now`, and book what is owed. `sync --once`
//! runs one pass; the daemon runs one after every wake-up.

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use crate::calendar::Calendar;
use crate::config::{Config, SourceConfig};
use crate::ledger::{self, Entry};
use crate::mail::imap::{ImapError, ImapSource, Opened};
use crate::mail::maildir::{MaildirError, MaildirSource};
use crate::reports::{self, IntakeStats, compliance};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Imap(#[from] ImapError),
    #[error(transparent)]
    Maildir(#[from] MaildirError),
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
}

/// What one pass did.
#[derive(Debug, Default)]
pub struct PassReport {
    pub fetched: usize,
    pub intake: IntakeStats,
    pub booked: Vec<Entry>,
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

    /// Reads what is new, connecting and disconnecting for IMAP.
    pub async fn fetch_once(&self, conn: &mut Connection) -> Result<usize, SyncError> {
        match self {
            Source::Imap(imap) => {
                let mut opened: Opened = imap.open().await?;
                let result = imap.fetch_new(&mut opened, conn).await;
                ImapSource::close(opened).await;
                Ok(result?)
            }
            Source::Maildir(md) => Ok(md.fetch_new(conn)?),
        }
    }
}

/// Classifies what is stored, then judges and books up to `now`.
pub fn process(
    conn: &mut Connection,
    cfg: &Config,
    calendar: &Calendar,
    now: DateTime<Utc>,
    progress: impl FnMut(usize, usize),
) -> Result<(IntakeStats, Vec<Entry>), SyncError> {
    let intake = reports::intake(conn, cfg, calendar, progress)?;
    let booked = judge_and_book(conn, cfg, calendar, now)?;
    Ok((intake, booked))
}

/// Judges every deadline up to `now` and books, in one transaction, what is
/// owed and not booked yet.
pub fn judge_and_book(
    conn: &mut Connection,
    cfg: &Config,
    calendar: &Calendar,
    now: DateTime<Utc>,
) -> Result<Vec<Entry>, SyncError> {
    let tx = conn.transaction()?;
    let verdicts = compliance::verdicts(&tx, cfg, calendar, now, &[])?;
    let booked = ledger::settle(&tx, &verdicts, &cfg.rules, cfg.timezone)?;
    tx.commit()?;
    for e in &booked {
        tracing::info!(person = %e.person, period = %e.period, amount = %e.amount_fen, reason = %e.reason, "booked");
    }
    Ok(booked)
}

/// One full pass: fetch, classify, judge, book.
pub async fn pass(
    source: &Source,
    conn: &mut Connection,
    cfg: &Config,
    calendar: &Calendar,
    now: DateTime<Utc>,
    progress: impl FnMut(usize, usize),
) -> Result<PassReport, SyncError> {
    let fetched = source.fetch_once(conn).await?;
    let (intake, booked) = process(conn, cfg, calendar, now, progress)?;
    Ok(PassReport {
        fetched,
        intake,
        booked,
    })
}
