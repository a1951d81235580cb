//! `reportd archive`: wiring for building, sending and verifying the
//! monthly compliance archive. The rules live in `crate::archive`.
//!
//! `archive --month M` only reads the database (it writes a zip, records
//! nothing). `--send` records the issue and queues the email in one short
//! write transaction, taken before the archive is built: like `excuse` it
//! works beside a running daemon (no mailbox lock), and two `--send` at
//! once are serialised by SQLite, the second then finding the first's
//! issue. The outbox's claims keep its delivery from racing the daemon's.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, FixedOffset, Utc};
use clap::Subcommand;

use crate::archive::close::ArchiveClose;
use crate::archive::issue;
use crate::archive::manifest::{self, FILE_NAME};
use crate::archive::{Inputs, Month};
use crate::sync::Engine;
use crate::{clock, store};

use super::output;

#[derive(Debug, Subcommand)]
pub enum ArchiveAction {
    /// Check every file of an archive zip against its MANIFEST.sha256 and
    /// name each file changed, missing or added. Exit code: 0 intact, 1
    /// changed (any finding), 2 not checkable (unreadable, not a zip, no
    /// manifest). Needs no config.
    Verify {
        /// The archive zip.
        file: PathBuf,
        /// The SHA-256 of MANIFEST.sha256 given in the archive email; the
        /// manifest itself must match it.
        #[arg(long, value_name = "SHA256")]
        expect: Option<String>,
    },
}

/// Exit code of `archive verify` when a file differs from the manifest.
pub const EXIT_CHANGED: u8 = 1;
/// Exit code of `archive verify` when the file cannot be checked at all.
pub const EXIT_UNCHECKABLE: u8 = 2;

/// `archive verify FILE [--expect SHA256]`.
pub fn verify(file: &Path, expect: Option<&str>) -> ExitCode {
    let verdict = match manifest::verify(file, expect) {
        Ok(v) => v,
        Err(e) => {
            output::eprintln(&format!("error: {e}"));
            return ExitCode::from(EXIT_UNCHECKABLE);
        }
    };
    let mut text = String::new();
    for f in &verdict.findings {
        text += &format!("{f}\n");
    }
    if verdict.intact() {
        text += &format!(
            "intact: all {} files match {}\n",
            verdict.matching, verdict.manifest
        );
    } else {
        text += &format!(
            "NOT intact: {} finding(s); {} file(s) match {}\n",
            verdict.findings.len(),
            verdict.matching,
            verdict.manifest
        );
    }
    text += &format!(
        "SHA-256 of {FILE_NAME}: {}{}\n",
        verdict.manifest_sha256,
        if expect.is_some() {
            ""
        } else {
            " (compare it with the archive email, or pass --expect)"
        }
    );
    // A reader that left early does not change the verdict.
    let _ = output::print(&text);
    if verdict.intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CHANGED)
    }
}

/// `archive --month M [--out DIR] [--send] [--now T]`.
pub async fn build(
    engine: &Engine,
    month: Month,
    out: Option<PathBuf>,
    send: bool,
    now: Option<DateTime<FixedOffset>>,
) -> Result<()> {
    if send {
        return send_month(engine, month, now).await;
    }
    let cfg = &engine.cfg;
    let conn = store::open(&cfg.database)?;
    super::note_unready(&conn, cfg)?;
    let inputs = Inputs {
        conn: &conn,
        cfg,
        calendar: &engine.calendar,
    };
    let dir = out.unwrap_or_else(|| cfg.archive.dir.clone());
    let draft = issue::write_draft(&inputs, month, clock::viewing_at(now, Utc::now()), &dir)
        .with_context(|| format!("building the archive of {month}"))?;
    let s = &draft.built.summary;
    output::print(&format!(
        "wrote {} ({})\n{} reports, {} revisions, {} misaddressed, {} replies; {} register rows\n\
         SHA-256 of {FILE_NAME}: {}\nSHA-256 of the zip: {}\n",
        draft.path.display(),
        crate::archive::email::size_text(draft.bytes),
        s.reports,
        s.revisions,
        s.misaddressed,
        s.replies,
        draft.built.register_rows,
        draft.built.manifest_sha256,
        draft.zip_sha256,
    ))
}

async fn send_month(
    engine: &Engine,
    month: Month,
    now: Option<DateTime<FixedOffset>>,
) -> Result<()> {
    let now = clock::acting_at(now, Utc::now())?;
    let mut conn = store::open(&engine.cfg.database)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let inputs = Inputs {
        conn: &tx,
        cfg: &engine.cfg,
        calendar: &engine.calendar,
    };
    let sending = format!("sending the archive of {month}");
    issue::ensure_over(&inputs, month, now).context(sending.clone())?;
    super::refuse_unready(&tx, &format!("the archive of {month}"))?;
    let text = match issue::unchanged(&inputs, month, now).context(sending.clone())? {
        Some(last) => format!(
            "the archive of {month} is unchanged since it was queued under {} ({}): nothing new to send",
            last.outbox_key, last.path
        ),
        None => {
            engine
                .planner()?
                .issue_monthly(&tx, &ArchiveClose, month, now)
                .context(sending)?;
            let issued = issue::issues(&tx, month)?;
            let i = issued
                .last()
                .context("the archive was queued but not recorded")?;
            format!(
                "queued the archive of {month}{} under outbox key {}: {} ({})\nSHA-256 of {FILE_NAME}: {}",
                if i.number > 0 { " as a re-issue" } else { "" },
                i.outbox_key,
                i.path,
                if i.attached {
                    "attached"
                } else {
                    "too large to attach: the email names its path"
                },
                i.manifest_sha256,
            )
        }
    };
    tx.commit()?;
    output::println(&text)?;
    let sender = engine.sender()?;
    let delivered = engine.deliver(sender.as_ref(), &mut conn, now).await?;
    output::println(&super::delivery_line(delivered.as_ref()))
}
