//! Which archives were emailed: the `archives` table (insert-only, like
//! the ledger) and the rule that a sent archive is never changed. Its zip
//! is never overwritten; when the month's archive comes out different
//! later (a late report, a reason filed after the fact), a re-issue is a
//! new zip under a new name and outbox key, marked 重发/re-issue, and
//! sending again what was already sent sends nothing.
//!
//! [`issue`] makes (or finds) the zip of one issue; [`unchanged`] tells
//! whether a new issue would say anything new; [`write_draft`] builds
//! without sending. The email itself goes through the planner's monthly
//! close ([`super::close`]).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use serde::Serialize;

use crate::store::{parse_ts, ts};

use super::{ArchiveError, Built, Inputs, Month, Summary, sha256_reader, zip_name};

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
    pub summary: Summary,
}

/// The outbox key of issue `number` of `month`: `archive:2026-11`, then
/// `archive:2026-11:reissue-1`, … (the planner's key for the hook).
pub fn outbox_key(month: Month, number: u32) -> String {
    let sending = match number {
        0 => crate::notify::plan::Issue::First,
        n => crate::notify::plan::Issue::Reissue(n),
    };
    crate::notify::plan::close_key(super::close::NAME, month, sending)
}

/// Every issue of `month`, oldest first.
pub fn issues(conn: &Connection, month: Month) -> rusqlite::Result<Vec<Issue>> {
    let mut stmt = conn.prepare(
        "SELECT month, issue, path, zip_sha256, manifest_sha256, bytes, attached, outbox_key, created_at, summary
         FROM archives WHERE month = ?1 ORDER BY issue",
    )?;
    stmt.query_map([month.to_string()], |r| {
        let summary: String = r.get(9)?;
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
            summary: serde_json::from_str(&summary).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    9,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?,
        })
    })?
    .collect()
}

fn record(conn: &Connection, issue: &Issue) -> Result<(), ArchiveError> {
    let summary =
        serde_json::to_string(&issue.summary).map_err(|e| ArchiveError::Message(e.to_string()))?;
    conn.execute(
        "INSERT INTO archives (month, issue, path, zip_sha256, manifest_sha256, bytes, attached, outbox_key, created_at, summary)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
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
            summary,
        ],
    )?;
    Ok(())
}

/// Refuses a month that has not ended in the team's zone: its archive
/// would change, and a sent one must not.
pub fn ensure_over(
    inputs: &Inputs<'_>,
    month: Month,
    now: DateTime<Utc>,
) -> Result<(), ArchiveError> {
    let tz = inputs.cfg.timezone;
    let ends = super::ends(month, tz);
    if now < ends {
        let ends = ends.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
        return Err(ArchiveError::MonthNotOver { month, ends });
    }
    Ok(())
}

/// The last issue of `month` when the archive built now would be the same
/// (nothing new to send); `None` when none was sent or the month changed.
pub fn unchanged(
    inputs: &Inputs<'_>,
    month: Month,
    now: DateTime<Utc>,
) -> Result<Option<Issue>, ArchiveError> {
    let Some(last) = issues(inputs.conn, month)?.pop() else {
        return Ok(None);
    };
    let built = super::build(inputs, month, now)?;
    Ok((built.manifest_sha256 == last.manifest_sha256).then_some(last))
}

/// Issue `number` of `month` and its zip's bytes when it is attached (else
/// empty): the recorded one when it exists
/// (a sent archive is never rebuilt), else built as of `now`, kept under
/// `[archive] archive_dir` and recorded. Call it inside the transaction
/// that queues the email: a zip written by a rolled-back call is unrecorded
/// and overwritten by the next.
pub fn issue(
    inputs: &Inputs<'_>,
    month: Month,
    number: u32,
    now: DateTime<Utc>,
) -> Result<(Issue, Vec<u8>), ArchiveError> {
    let cfg = inputs.cfg;
    if let Some(done) = issues(inputs.conn, month)?
        .into_iter()
        .find(|i| i.number == number)
    {
        let zip = attachment(&done)?;
        return Ok((done, zip));
    }
    let built = super::build(inputs, month, now)?;
    let written = built.write(
        inputs.conn,
        &cfg.archive.dir,
        &zip_name(month, number),
        |_| Ok(()),
    )?;
    let issue = Issue {
        month: month.to_string(),
        number,
        path: absolute(&written.path).display().to_string(),
        zip_sha256: written.sha256,
        manifest_sha256: built.manifest_sha256.clone(),
        bytes: i64::try_from(written.bytes).unwrap_or(i64::MAX),
        attached: super::email::attaches(written.bytes, cfg.archive.max_attachment_bytes()),
        outbox_key: outbox_key(month, number),
        created_at: now,
        summary: built.summary,
    };
    record(inputs.conn, &issue)?;
    let zip = attachment(&issue)?;
    Ok((issue, zip))
}

/// The zip of `issue` when it goes out attached (small enough to hold);
/// nothing when the email only names its path.
fn attachment(issue: &Issue) -> Result<Vec<u8>, ArchiveError> {
    if !issue.attached {
        return Ok(Vec::new());
    }
    std::fs::read(&issue.path).map_err(|source| ArchiveError::Io {
        path: issue.path.clone(),
        error: source,
    })
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
    let name = zip_name(month, 0);
    let target = dir.join(&name);
    let existing = match std::fs::File::open(&target) {
        Ok(file) => Some(sha256_reader(file).map_err(|source| ArchiveError::Io {
            path: target.display().to_string(),
            error: source,
        })?),
        Err(_) => None,
    };
    let sent = match existing {
        Some(existing) => issues(inputs.conn, month)?
            .into_iter()
            .find(|i| i.zip_sha256 == existing),
        None => None,
    };
    let written = built.write(inputs.conn, dir, &name, |zip_sha256| match sent {
        Some(sent) if sent.zip_sha256 != zip_sha256 => Err(ArchiveError::WouldChangeSent {
            path: target.display().to_string(),
            month,
            issue: sent.outbox_key,
        }),
        _ => Ok(()),
    })?;
    Ok(Draft {
        path: written.path,
        bytes: written.bytes,
        zip_sha256: written.sha256,
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
            summary: Summary::default(),
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
