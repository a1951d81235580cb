//! The monthly compliance archive (备档): what was filed in a month, and
//! proof that it is unchanged since. The single home of "what was filed,
//! unchanged since".
//!
//! An archive is a zip holding one folder, `reportd-archive-YYYY-MM/`:
//!
//! - `eml/*.eml`: every report (counting, revision, misaddressed) and every
//!   counted reply that arrived in the month (team time zone), byte for byte
//!   as the mail server gave it;
//! - `register.csv` and `register.xlsx`: the filing register (登记表), see
//!   [`register`] and [`sheets`];
//! - `index.html`: a page listing and linking all of it ([`index`]);
//! - `MANIFEST.sha256`: `sha256sum` lines for every other file
//!   ([`manifest`]), whose own SHA-256 goes into the archive email so the
//!   archive can be checked later (`reportd archive verify`).
//!
//! Building is deterministic ([`bundle`]): fixed timestamps, sorted names,
//! nothing that depends on the clock but the verdicts themselves, so the same
//! database gives the same bytes. [`issue`] keeps the `archives` table (what
//! was emailed, once per month, re-issues marked), [`email`] writes the
//! email and [`close`] hands it to the planner's monthly close.

pub mod bundle;
pub mod close;
pub mod email;
pub mod index;
pub mod issue;
pub mod manifest;
pub mod register;
pub mod sheets;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use crate::calendar::Calendar;
use crate::config::Config;
use crate::notify::schedule::at_local;
pub use crate::period::Month;
use crate::reports::filed::{self, Filed};
use register::{Doc, RegisterRow};

/// Why an archive could not be built, written or sent.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("database error while building the archive: {0}")]
    Db(#[from] rusqlite::Error),
    #[error(
        "cannot write {path}: {source}; check that the directory (`[archive] archive_dir` or \
         --out) exists or can be created and is writable by reportd"
    )]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot build the zip: {0}; this is a bug in reportd, please report it")]
    Zip(#[from] zip::result::ZipError),
    #[error("cannot build register.xlsx: {0}; this is a bug in reportd, please report it")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("cannot build register.csv: {0}; this is a bug in reportd, please report it")]
    Csv(#[from] csv::Error),
    #[error("template {name} failed: {detail}; fix it in src/archive/templates/ and rebuild")]
    Template { name: String, detail: String },
    #[error(
        "{month} is not over yet (it ends {ends}): an archive is sent once its month has ended; \
         build a preview without --send"
    )]
    MonthNotOver { month: Month, ends: String },
    #[error("nobody to send the archive to: configure a person with role \"assistant\"")]
    NoRecipient,
    #[error("the archive email cannot be built: {0}")]
    Message(String),
    #[error(
        "{path} is the archive of {month} emailed as {issue}, and the archive built now differs \
         (mail or the ledger changed since): a sent archive is never overwritten. Build elsewhere \
         with --out DIR, or send a marked re-issue with --send"
    )]
    WouldChangeSent {
        path: String,
        month: Month,
        issue: String,
    },
}

/// The month's first instant, local midnight of the 1st in `tz`.
pub fn starts(month: Month, tz: Tz) -> DateTime<Utc> {
    at_local(month.first_day(), NaiveTime::MIN, tz)
}

/// The month's end: the next month's first instant.
pub fn ends(month: Month, tz: Tz) -> DateTime<Utc> {
    starts(month.next(), tz)
}

/// Whether `day` is in `month`.
pub fn contains(month: Month, day: NaiveDate) -> bool {
    Month::containing(day) == month
}

/// The name of the folder inside every zip of `month`.
pub fn folder(month: Month) -> String {
    format!("reportd-archive-{month}")
}

/// Lower-case hex SHA-256 of `bytes`, as `sha256sum` prints it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How many messages of each kind, and what the month's deadlines came to.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub reports: usize,
    pub revisions: usize,
    pub misaddressed: usize,
    pub replies: usize,
    /// Deadlines of the month, judged, by status.
    pub on_time: usize,
    pub late: usize,
    pub missing: usize,
    pub excused: usize,
    pub pending: usize,
    /// Fines booked for the register's periods, and what waivers reversed.
    pub fines: crate::money::Fen,
    pub waived: crate::money::Fen,
}

/// A built archive, before it is written anywhere.
#[derive(Debug, Clone)]
pub struct Built {
    pub month: Month,
    /// Every file but the manifest, by path inside the folder, sorted.
    pub files: Vec<(String, Vec<u8>)>,
    pub manifest: Vec<u8>,
    pub manifest_sha256: String,
    pub rows: Vec<RegisterRow>,
    pub summary: Summary,
}

impl Built {
    /// The zip's bytes; the same archive always gives the same bytes.
    pub fn zip(&self) -> Result<Vec<u8>, ArchiveError> {
        let mut all: Vec<(String, &[u8])> = self
            .files
            .iter()
            .map(|(p, b)| (p.clone(), b.as_slice()))
            .collect();
        all.push((manifest::FILE_NAME.to_string(), self.manifest.as_slice()));
        bundle::zip(&folder(self.month), ends(self.month, chrono_tz::UTC), &all)
    }
}

/// What an archive needs from the rest of reportd.
pub struct Inputs<'a> {
    pub conn: &'a Connection,
    pub cfg: &'a Config,
    pub calendar: &'a Calendar,
}

/// Builds the archive of `month` from the database, with verdicts as of
/// `now` (once every deadline of the month has passed, they change only
/// when mail or the ledger does).
pub fn build(inputs: &Inputs<'_>, month: Month, now: DateTime<Utc>) -> Result<Built, ArchiveError> {
    let tz = inputs.cfg.timezone;
    let lang = inputs.cfg.language;
    let filed = filed::received_between(inputs.conn, starts(month, tz), ends(month, tz))?;
    let mut files = Vec::new();
    let mut docs = Vec::new();
    for f in &filed {
        let path = eml_path(f, tz);
        docs.push(Doc::of(f, &path, sha256_hex(&f.raw)));
        files.push((path, f.raw.clone()));
    }
    let facts = register::gather(inputs, month, now, &docs)?;
    let rows = register::rows(&inputs.cfg.roster, &facts, &docs);
    let summary = summarise(&rows, &docs, month, tz);
    let cells = sheets::cells(&rows, inputs.cfg, lang);
    files.push((sheets::CSV_NAME.into(), sheets::csv(&cells, lang)?));
    files.push((
        sheets::XLSX_NAME.into(),
        sheets::xlsx(&cells, &rows, lang, month)?,
    ));
    let page = index::page(&index::Page {
        month,
        lang,
        summary: &summary,
        rows: &cells,
    })?;
    files.push((index::FILE_NAME.into(), page.into_bytes()));
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let manifest = manifest::render(&files);
    Ok(Built {
        month,
        manifest_sha256: sha256_hex(&manifest),
        files,
        manifest,
        rows,
        summary,
    })
}

/// `eml/<local arrival>-<what>-<period>-<sender>-m<id>.eml`: ASCII only, so
/// every unzip tool shows it alike; sorted names are in arrival order.
fn eml_path(f: &Filed, tz: Tz) -> String {
    let local: String = f
        .person
        .split('@')
        .next()
        .unwrap_or("")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "eml/{}-{}-{}-{}-m{}.eml",
        f.received.with_timezone(&tz).format("%Y%m%d-%H%M%S"),
        f.document.as_str(),
        f.period,
        local,
        f.message
    )
}

fn summarise(rows: &[RegisterRow], docs: &[Doc], month: Month, tz: Tz) -> Summary {
    use crate::reports::compliance::Status;
    use crate::reports::filed::Document;
    let mut s = Summary::default();
    for d in docs {
        match d.document {
            Document::Report => s.reports += 1,
            Document::Revision => s.revisions += 1,
            Document::Misaddressed => s.misaddressed += 1,
            Document::Reply => s.replies += 1,
        }
    }
    // One count per deadline of the month: the first row of each period.
    for r in rows.iter().filter(|r| r.first_of_period) {
        let due_here = r.due.is_some_and(|d| contains(month, d.due_day(tz)));
        if due_here {
            match r.status {
                Some(Status::OnTime) => s.on_time += 1,
                Some(Status::Late) => s.late += 1,
                Some(Status::Missing) => s.missing += 1,
                Some(Status::Excused) => s.excused += 1,
                Some(Status::Pending) => s.pending += 1,
                None => {}
            }
        }
        s.fines = s.fines + r.fine.unwrap_or_default();
        s.waived = s.waived + r.waived.unwrap_or_default();
    }
    s
}

/// Where a zip of `month` is kept: issue 0 is `reportd-archive-YYYY-MM.zip`,
/// re-issue n `reportd-archive-YYYY-MM-reissue-n.zip`.
pub fn zip_name(month: Month, issue: u32) -> String {
    if issue == 0 {
        format!("{}.zip", folder(month))
    } else {
        format!("{}-reissue-{issue}.zip", folder(month))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_runs_from_local_midnight_to_local_midnight() {
        let m: Month = "2026-11".parse().expect("month");
        let tz = chrono_tz::Asia::Shanghai;
        assert_eq!(crate::store::ts(starts(m, tz)), "2026-10-31T16:00:00Z");
        assert_eq!(crate::store::ts(ends(m, tz)), "2026-11-30T16:00:00Z");
    }

    #[test]
    fn zip_names_mark_re_issues() {
        let m: Month = "2026-11".parse().expect("month");
        assert_eq!(zip_name(m, 0), "reportd-archive-2026-11.zip");
        assert_eq!(zip_name(m, 2), "reportd-archive-2026-11-reissue-2.zip");
    }
}
