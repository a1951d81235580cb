//! Which archives were emailed: the `archives` table (insert-only, like
//! the ledger), sending a month's archive once through the outbox, and the
//! re-issue rule. A sent archive is never changed: its zip is never
//! overwritten, and when the month's archive comes out different later (a
//! late report, a reason filed after the fact), `--send` issues a new zip
//! under a new name and outbox key, marked 重发/re-issue. Sending again
//! what was already sent queues nothing.
//!
//! For the daemon's monthly close (third working day of the next month),
//! [`send`] with [`Resend::Never`] queues the first issue and nothing after
//! it; `reportd archive --send` uses [`Resend::IfChanged`].

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use rusqlite::{Connection, params};
use serde::Serialize;

use crate::notify::compose::Contact;
use crate::notify::outbox::{self, Outgoing};
use crate::store::{parse_ts, ts};

use super::email::{self, Previous};
use super::{ArchiveError, Built, Inputs, Month, bundle, sha256_hex, zip_name};

/// One archive emailed (or queued to be).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub month: String,
    /// 0 for the first issue; 1, 2, … for re-issues.
    pub number: u32,
    pub path: String,
    pub zip_sha256: String,
    pub manifest_sha256: String,
    pub bytes: i64,
    pub attached: bool,
    pub outbox_key: String,
    pub created_at: DateTime<Utc>,
}

/// Whether to send again a month that was sent before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// Once per month, whatever changed (the daemon's monthly close).
    Never,
    /// A marked re-issue when the archive differs from the last one sent
    /// (`reportd archive --send`).
    IfChanged,
}

/// What [`send`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// A new issue was written and its email queued.
    Queued(Issue),
    /// Nothing new: this issue was sent before (and is still what the
    /// archive holds, unless `Resend::Never` said not to look).
    AlreadySent(Issue),
}

/// The outbox key of issue `number` of `month`: `archive:2026-11`, then
/// `archive:2026-11:reissue-1`, …
pub fn outbox_key(month: Month, number: u32) -> String {
    if number == 0 {
        format!("archive:{month}")
    } else {
        format!("archive:{month}:reissue-{number}")
    }
}

/// Every issue of `month`, oldest first.
pub fn issues(conn: &Connection, month: Month) -> rusqlite::Result<Vec<Issue>> {
    let mut stmt = conn.prepare(
        "SELECT month, issue, path, zip_sha256, manifest_sha256, bytes, attached, outbox_key, created_at
         FROM archives WHERE month = ?1 ORDER BY issue",
    )?;
    stmt.query_map([month.to_string()], |r| {
        Ok(Issue {
            month: r.get(0)?,
            number: r.get(1)?,
            path: r.get(2)?,
            zip_sha256: r.get(3)?,
            manifest_sha256: r.get(4)?,
            bytes: r.get(5)?,
            attached: r.get(6)?,
            outbox_key: r.get(7)?,
            created_at: parse_ts(&r.get::<_, String>(8)?)?,
        })
    })?
    .collect()
}

fn record(conn: &Connection, issue: &Issue) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO archives (month, issue, path, zip_sha256, manifest_sha256, bytes, attached, outbox_key, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            issue.month,
            issue.number,
            issue.path,
            issue.zip_sha256,
            issue.manifest_sha256,
            issue.bytes,
            issue.attached,
            issue.outbox_key,
            ts(issue.created_at),
        ],
    )?;
    Ok(())
}

/// Builds `month`'s archive as of `now` and, unless it was sent before
/// (see [`Resend`]), keeps its zip under `[archive] archive_dir` and queues
/// the email to the assistants. Call it inside the transaction that should
/// own the send: the issue is recorded and the email queued only if the
/// caller commits (a zip written by a rolled-back call is unrecorded and
/// overwritten by the next).
pub fn send(
    inputs: &Inputs<'_>,
    month: Month,
    now: DateTime<Utc>,
    resend: Resend,
) -> Result<Sent, ArchiveError> {
    let cfg = inputs.cfg;
    let ends = super::ends(month, cfg.timezone);
    if now < ends {
        let ends = ends
            .with_timezone(&cfg.timezone)
            .format("%Y-%m-%d %H:%M")
            .to_string();
        return Err(ArchiveError::MonthNotOver { month, ends });
    }
    let earlier = issues(inputs.conn, month)?;
    if let Some(last) = earlier.last()
        && resend == Resend::Never
    {
        return Ok(Sent::AlreadySent(last.clone()));
    }
    let built = super::build(inputs, month, now)?;
    if let Some(last) = earlier.last()
        && last.manifest_sha256 == built.manifest_sha256
    {
        return Ok(Sent::AlreadySent(last.clone()));
    }
    let number = earlier.last().map_or(0, |l| l.number + 1);
    let zip = built.zip()?;
    let path = bundle::write_private(&cfg.archive.dir, &zip_name(month, number), &zip)?;
    let issue = Issue {
        month: month.to_string(),
        number,
        path: absolute(&path).display().to_string(),
        zip_sha256: sha256_hex(&zip),
        manifest_sha256: built.manifest_sha256.clone(),
        bytes: i64::try_from(zip.len()).unwrap_or(i64::MAX),
        attached: email::attaches(zip.len() as u64, cfg.archive.max_attachment_bytes()),
        outbox_key: outbox_key(month, number),
        created_at: now,
    };
    let previous = earlier.last().map(|l| Previous {
        name: Path::new(&l.path)
            .file_name()
            .map_or_else(|| l.path.clone(), |n| n.to_string_lossy().into_owned()),
        manifest_sha256: l.manifest_sha256.clone(),
    });
    queue_email(inputs, &built, &issue, previous, &zip, now)?;
    record(inputs.conn, &issue)?;
    Ok(Sent::Queued(issue))
}

fn queue_email(
    inputs: &Inputs<'_>,
    built: &Built,
    issue: &Issue,
    previous: Option<Previous>,
    zip: &[u8],
    now: DateTime<Utc>,
) -> Result<(), ArchiveError> {
    let cfg = inputs.cfg;
    let to: Vec<Contact> = cfg.roster.assistants().map(Contact::from).collect();
    let recipient = to.first().cloned().ok_or(ArchiveError::NoRecipient)?;
    let name = zip_name(built.month, issue.number);
    let ctx = email::Context {
        recipient,
        month: built.month.to_string(),
        reissue: (issue.number > 0).then_some(issue.number),
        previous,
        fines: built.summary.fines.to_string(),
        waived: built.summary.waived.to_string(),
        summary: built.summary.clone(),
        manifest_sha256: built.manifest_sha256.clone(),
        zip_sha256: issue.zip_sha256.clone(),
        size: email::size_text(u64::try_from(issue.bytes).unwrap_or(0)),
        attached: issue.attached,
        path: issue.path.clone(),
        max_mb: cfg.archive.max_attachment_mb,
        verify: format!(
            "reportd archive verify {name} --expect {}",
            built.manifest_sha256
        ),
        zip_name: name,
    };
    let mail = email::compose(&ctx, to, cfg.language, zip)?;
    let from = sender(inputs)?;
    let id = outbox::message_id_for(&issue.outbox_key, from.email.domain());
    let message = mail.message(&from, &id, now)?;
    let not_before = cfg.notify.schedule.outside_quiet(now, cfg.timezone);
    let out = Outgoing::from_message(&issue.outbox_key, "archive", &message, not_before)
        .map_err(|e| ArchiveError::Message(e.to_string()))?;
    outbox::enqueue(inputs.conn, &out, now)?;
    Ok(())
}

/// `[smtp] from`, else the first assistant, as for every email reportd
/// sends.
fn sender(inputs: &Inputs<'_>) -> Result<Mailbox, ArchiveError> {
    match &inputs.cfg.smtp {
        Some(smtp) => outbox::from_mailbox(smtp).map_err(|e| ArchiveError::Message(e.to_string())),
        None => inputs
            .cfg
            .roster
            .assistants()
            .next()
            .and_then(|a| Contact::from(a).mailbox().ok())
            .ok_or(ArchiveError::NoSender),
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A zip written without sending.
#[derive(Debug, Clone)]
pub struct Draft {
    pub path: PathBuf,
    pub built: Built,
    pub bytes: u64,
    pub zip_sha256: String,
}

/// Builds `month`'s archive as of `now` into `dir` as
/// `reportd-archive-YYYY-MM.zip`, without recording or sending anything.
/// Refuses to replace a zip that was emailed with different bytes.
pub fn write_draft(
    inputs: &Inputs<'_>,
    month: Month,
    now: DateTime<Utc>,
    dir: &Path,
) -> Result<Draft, ArchiveError> {
    let built = super::build(inputs, month, now)?;
    let zip = built.zip()?;
    let zip_sha256 = sha256_hex(&zip);
    let target = dir.join(zip_name(month, 0));
    if let Ok(existing) = std::fs::read(&target) {
        let existing = sha256_hex(&existing);
        let sent = issues(inputs.conn, month)?
            .into_iter()
            .find(|i| i.zip_sha256 == existing);
        if let Some(sent) = sent
            && existing != zip_sha256
        {
            return Err(ArchiveError::WouldChangeSent {
                path: target.display().to_string(),
                month,
                issue: sent.outbox_key,
            });
        }
    }
    let path = bundle::write_private(dir, &zip_name(month, 0), &zip)?;
    Ok(Draft {
        path,
        bytes: zip.len() as u64,
        zip_sha256,
        built,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(number: u32) -> Issue {
        Issue {
            month: "2026-10".into(),
            number,
            path: format!("/a/{}", zip_name("2026-10".parse().expect("month"), number)),
            zip_sha256: "a".repeat(64),
            manifest_sha256: "b".repeat(64),
            bytes: 100,
            attached: true,
            outbox_key: outbox_key("2026-10".parse().expect("month"), number),
            created_at: DateTime::parse_from_rfc3339("2026-11-03T03:00:00Z")
                .expect("time")
                .with_timezone(&Utc),
        }
    }

    #[test]
    fn each_issue_has_its_own_outbox_key() {
        let m: Month = "2026-10".parse().expect("month");
        assert_eq!(outbox_key(m, 0), "archive:2026-10");
        assert_eq!(outbox_key(m, 1), "archive:2026-10:reissue-1");
    }

    #[test]
    fn a_recorded_issue_is_never_changed_deleted_or_recorded_twice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = crate::store::open(&dir.path().join("t.sqlite3")).expect("db");
        record(&conn, &issue(0)).expect("first issue");
        record(&conn, &issue(1)).expect("re-issue");
        let month: Month = "2026-10".parse().expect("month");
        assert_eq!(issues(&conn, month).expect("issues"), [issue(0), issue(1)]);
        assert!(record(&conn, &issue(1)).is_err(), "one row per issue");
        assert!(conn.execute("UPDATE archives SET bytes = 1", []).is_err());
        assert!(conn.execute("DELETE FROM archives", []).is_err());
    }
}
