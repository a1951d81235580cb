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
//! database gives the same bytes. It runs in memory bounded by the largest
//! message, not the month: [`build`] reads each message's bytes only to hash
//! it, and [`Built::write`] streams them one at a time into the zip file. [`issue`] keeps the `archives` table (what
//! was emailed, once per month, re-issues marked), [`email`] writes the
//! email and [`close`] hands it to the planner's monthly close.

pub mod bundle;
pub mod close;
pub mod email;
#[cfg(test)]
mod fixture;
pub mod index;
pub mod issue;
pub mod manifest;
pub mod register;
pub mod sheets;

use std::fs::File;
use std::io::{BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use crate::calendar::Calendar;
use crate::config::Config;
use crate::mail::inbox::{RawReader, hex};
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
        "cannot write {path}: {error}; check that the directory (`[archive] archive_dir` or \
         --out) exists or can be created, is writable by reportd and has room"
    )]
    Io {
        path: String,
        // Not `source`: the message says it once, the error's causes would
        // say it again.
        error: std::io::Error,
    },
    #[error(
        "message {message} ({path}) changed while its archive was written: build the archive \
         again"
    )]
    MessageChanged { message: i64, path: String },
    #[error("cannot build the zip: {0}; this is a bug in reportd, please report it")]
    Zip(#[from] zip::result::ZipError),
    /// A deflating thread stopped without an answer: only a panic does
    /// that, and the scope it ran in passes the panic on.
    #[error("a thread deflating the zip stopped; this is a bug in reportd, please report it")]
    DeflatingStopped,
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

/// Lower-case hex SHA-256 of bytes, as `sha256sum` prints it: the one the
/// inbox records for every message, so a manifest can take it from there.
pub use crate::mail::inbox::sha256_hex;

/// Lower-case hex SHA-256 of everything readable from `from`, read in
/// pieces (a zip can be larger than memory should hold).
pub fn sha256_reader(mut from: impl Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    std::io::copy(&mut from, &mut hasher)?;
    Ok(hex(&hasher.finalize()))
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

/// A filed message in an archive: its bytes stay in the database until the
/// zip is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eml {
    /// Path inside the folder, e.g. `eml/…-m12.eml`.
    pub path: String,
    /// The stored message (`messages.id`).
    pub message: i64,
    pub sha256: String,
    /// Its length, known before its bytes are read (see [`bundle::Bundle::add_all`]).
    pub bytes: u64,
}

/// A built archive, before it is written anywhere.
#[derive(Debug, Clone)]
pub struct Built {
    pub month: Month,
    /// Every filed message, by path, sorted.
    pub emls: Vec<Eml>,
    /// The register and the index page by path, sorted: small, so they are
    /// held in memory.
    pub small: Vec<(String, Vec<u8>)>,
    pub manifest: Vec<u8>,
    pub manifest_sha256: String,
    /// Lines in the register. The rows themselves are let go once written
    /// out: a month of a thousand people's is megabytes, held otherwise
    /// while every message is zipped.
    pub register_rows: usize,
    pub summary: Summary,
}

/// A zip written to disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
}

/// One entry of the zip: bytes at hand, or a message still in the database.
enum Entry<'a> {
    Bytes(&'a [u8]),
    Message(&'a Eml),
}

impl Built {
    /// Every entry of the zip, the manifest among them, in the zip's order.
    fn entries(&self) -> Vec<(&str, Entry<'_>)> {
        let mut all: Vec<(&str, Entry<'_>)> = self
            .emls
            .iter()
            .map(|e| (e.path.as_str(), Entry::Message(e)))
            .chain(
                self.small
                    .iter()
                    .map(|(p, b)| (p.as_str(), Entry::Bytes(b.as_slice()))),
            )
            .collect();
        all.push((manifest::FILE_NAME, Entry::Bytes(&self.manifest)));
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }

    /// Writes the zip to `dir/name` (0600, atomically), streaming each
    /// message from `conn` into it one at a time, and checking each against
    /// the SHA-256 the manifest gives it. `keep` sees the finished zip's
    /// SHA-256 and may refuse it, leaving what was at `dir/name`. The same
    /// archive always gives the same bytes.
    pub fn write(
        &self,
        conn: &Connection,
        dir: &Path,
        name: &str,
        keep: impl FnOnce(&str) -> Result<(), ArchiveError>,
    ) -> Result<Written, ArchiveError> {
        let target = dir.join(name);
        let io = |source| ArchiveError::Io {
            path: target.display().to_string(),
            error: source,
        };
        let (path, (bytes, sha256)) = bundle::write_private_with(dir, name, |file| {
            self.stream(conn, file, &target)?;
            let bytes = file.metadata().map_err(io)?.len();
            let mut reader = file;
            reader.rewind().map_err(io)?;
            let sha256 = sha256_reader(reader).map_err(io)?;
            keep(&sha256)?;
            Ok((bytes, sha256))
        })?;
        Ok(Written {
            path,
            bytes,
            sha256,
        })
    }

    /// The zip into `file`, which becomes `target`.
    fn stream(&self, conn: &Connection, file: &File, target: &Path) -> Result<(), ArchiveError> {
        let stamp = ends(self.month, chrono_tz::UTC);
        let mut zip = bundle::Bundle::new(BufWriter::new(file), &folder(self.month), stamp);
        let mut reader = RawReader::new(conn);
        let items = self.entries().into_iter().map(|(path, entry)| {
            let size = match entry {
                Entry::Bytes(bytes) => bytes.len(),
                Entry::Message(eml) => usize::try_from(eml.bytes).unwrap_or(usize::MAX),
            };
            (path.to_string(), size, entry)
        });
        let read = |entry| match entry {
            Entry::Bytes(bytes) => Ok(bytes.to_vec()),
            Entry::Message(eml) => {
                let raw = filed::raw_with(&mut reader, eml.message)?;
                if sha256_hex(&raw) != eml.sha256 {
                    return Err(ArchiveError::MessageChanged {
                        message: eml.message,
                        path: eml.path.clone(),
                    });
                }
                Ok(raw)
            }
        };
        zip.add_all(items, read).map_err(|e| refused(e, target))?;
        let mut out = zip.finish().map_err(|e| refused(e, target))?;
        out.flush().map_err(|source| ArchiveError::Io {
            path: target.display().to_string(),
            error: source,
        })
    }
}

/// The zip crate reports the file refusing bytes (a full disk, a quota) as
/// its own error; it is the file's, which the assistant can act on, not a
/// bug in reportd.
fn refused(e: ArchiveError, target: &Path) -> ArchiveError {
    match e {
        ArchiveError::Zip(zip::result::ZipError::Io(source)) => ArchiveError::Io {
            path: target.display().to_string(),
            error: source,
        },
        e => e,
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
    let mut emls = Vec::new();
    let mut docs = Vec::new();
    // The hash the inbox recorded at download: the month's bytes are read
    // once, when the zip is written, which checks each against it.
    for f in &filed {
        let path = eml_path(f, tz);
        let (sha256, bytes) = match filed::stored_digest(inputs.conn, f.message)? {
            Some(digest) => digest,
            None => {
                let raw = filed::raw(inputs.conn, f.message)?;
                (sha256_hex(&raw), raw.len() as u64)
            }
        };
        docs.push(Doc::of(f, &path, sha256.clone()));
        emls.push(Eml {
            path,
            message: f.message,
            sha256,
            bytes,
        });
    }
    drop(filed);
    let facts = register::gather(inputs, month, now, &docs)?;
    let rows = register::rows(&inputs.cfg.roster, &facts, &docs);
    let summary = summarise(&rows, &docs, month, tz);
    let register_rows = rows.len();
    let cells = sheets::cells(&rows, inputs.cfg, lang);
    // Only the words of the register are written from here on: its facts
    // and rows (megabytes for a month of a thousand people) go first.
    drop((facts, docs, rows));
    // The XLSX first: rust_xlsxwriter holds every cell while it writes
    // (18 MB for a month of a thousand people), so the page and the CSV are
    // not made yet. Each is kept at its size, not its buffer's.
    let xlsx = sheets::xlsx(&cells, lang, month)?;
    let mut csv = sheets::csv(&cells, lang)?;
    csv.shrink_to_fit();
    let mut page = index::page(&index::Page {
        month,
        lang,
        summary: &summary,
        rows: &cells,
    })?
    .into_bytes();
    page.shrink_to_fit();
    drop(cells);
    let mut small = vec![
        (sheets::CSV_NAME.to_string(), csv),
        (sheets::XLSX_NAME.to_string(), xlsx),
        (index::FILE_NAME.to_string(), page),
    ];
    small.sort_by(|a, b| a.0.cmp(&b.0));
    emls.sort_by(|a, b| a.path.cmp(&b.path));
    let mut listed: Vec<(&str, String)> = emls
        .iter()
        .map(|e| (e.path.as_str(), e.sha256.clone()))
        .chain(small.iter().map(|(p, b)| (p.as_str(), sha256_hex(b))))
        .collect();
    listed.sort_by(|a, b| a.0.cmp(b.0));
    let manifest = manifest::from_hashes(&listed);
    Ok(Built {
        month,
        manifest_sha256: sha256_hex(&manifest),
        emls,
        small,
        manifest,
        register_rows,
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
    use crate::calendar::Calendar;

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

    /// The SHA-256 of the zip of [`fixture::october`] as main built it in
    /// memory (`Built::zip`) before archives were streamed to disk.
    const OCTOBER_ZIP_SHA256: &str =
        "4169e639d3e5e653cee6c08c5992df32912a3fc1b6253f756e942cb9ac56bcca";

    struct Db {
        dir: tempfile::TempDir,
        conn: Connection,
        cfg: Config,
        calendar: Calendar,
    }

    fn db(mails: &[fixture::Mail<'_>]) -> Db {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = crate::store::open(&dir.path().join("t.sqlite3")).expect("db");
        fixture::insert(&conn, mails);
        let mut cfg = crate::test_team::config();
        cfg.archive.dir = dir.path().join("archive");
        Db {
            dir,
            conn,
            cfg,
            calendar: Calendar::load(&[]).expect("calendar"),
        }
    }

    impl Db {
        fn inputs(&self) -> Inputs<'_> {
            Inputs {
                conn: &self.conn,
                cfg: &self.cfg,
                calendar: &self.calendar,
            }
        }
    }

    fn october() -> Month {
        "2026-10".parse().expect("month")
    }

    fn now() -> DateTime<Utc> {
        crate::test_team::shanghai(2026, 12, 1, 9)
    }

    /// The zip the old builder made: every file read into memory, zipped in
    /// a Vec.
    fn in_memory(conn: &Connection, built: &Built) -> Vec<u8> {
        let mut files: Vec<(String, Vec<u8>)> = built
            .emls
            .iter()
            .map(|e| (e.path.clone(), filed::raw(conn, e.message).expect("raw")))
            .chain(built.small.iter().cloned())
            .collect();
        files.push((manifest::FILE_NAME.to_string(), built.manifest.clone()));
        let borrowed: Vec<(String, &[u8])> = files
            .iter()
            .map(|(p, b)| (p.clone(), b.as_slice()))
            .collect();
        bundle::zip(
            &folder(built.month),
            ends(built.month, chrono_tz::UTC),
            &borrowed,
        )
        .expect("zip")
    }

    #[test]
    fn a_streamed_archive_has_exactly_the_bytes_main_built_in_memory() {
        let db = db(&fixture::october());
        let out = db.dir.path().join("out");
        let draft = issue::write_draft(&db.inputs(), october(), now(), &out).expect("draft");
        let zip = std::fs::read(&draft.path).expect("zip");
        assert_eq!(sha256_hex(&zip), OCTOBER_ZIP_SHA256);
        assert_eq!(draft.zip_sha256, OCTOBER_ZIP_SHA256);
        assert_eq!(draft.bytes, zip.len() as u64);
        assert_eq!(zip, in_memory(&db.conn, &draft.built));
        assert_eq!(draft.built.emls.len(), 7);
    }

    #[test]
    fn a_full_disk_while_the_zip_is_written_is_an_error_of_the_file_not_a_bug() {
        let db = db(&fixture::october());
        let built = build(&db.inputs(), october(), now()).expect("build");
        // /dev/full takes no byte: every write fails with "no space left".
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let target = db.dir.path().join("october.zip");
        let err = built
            .stream(&db.conn, &full, &target)
            .expect_err("the disk is full");
        match &err {
            ArchiveError::Io { path, error } => {
                assert_eq!(path, &target.display().to_string());
                assert_eq!(error.kind(), std::io::ErrorKind::StorageFull, "{err}");
                // The message says it; a cause would say it again.
                assert!(std::error::Error::source(&err).is_none(), "{err:?}");
            }
            other => panic!("not an I/O error of the file: {other}"),
        }
        assert!(!err.to_string().contains("bug"), "{err}");
    }

    #[test]
    fn a_month_of_large_messages_streams_to_disk_verifies_and_is_named_not_attached() {
        const MB: usize = 1024 * 1024;
        let mut mails = fixture::october();
        for (i, at) in [
            "2026-10-20T01:00:00Z",
            "2026-10-21T01:00:00Z",
            "2026-10-22T01:00:00Z",
        ]
        .into_iter()
        .enumerate()
        {
            let id = 10 + i as i64;
            mails.push(fixture::Mail {
                id,
                person: "lina@example.com",
                period: ["2026-W43", "2026-W43", "2026-W43"][i],
                class: ["report", "reply", "revision"][i],
                at,
                raw: fixture::raw("big", 2 * MB + i, id as u64),
            });
        }
        let mut db = db(&mails);
        db.cfg.archive.max_attachment_mb = 1;
        let built = build(&db.inputs(), october(), now()).expect("build");
        // Only hashes of the messages are held, never their bytes.
        let held: usize =
            built.small.iter().map(|(_, b)| b.len()).sum::<usize>() + built.manifest.len();
        assert!(held < MB / 4, "{held} bytes held");
        let (issued, attached) = issue::issue(&db.inputs(), october(), 0, now()).expect("issue");
        assert!(issued.bytes > 4 * MB as i64, "{} bytes", issued.bytes);
        assert!(!issued.attached);
        assert!(attached.is_empty(), "a zip over the limit is not read back");
        let path = std::path::Path::new(&issued.path);
        let verdict = manifest::verify(path, Some(&issued.manifest_sha256)).expect("verify");
        assert!(verdict.intact(), "{:?}", verdict.findings);
        assert_eq!(verdict.matching, 10 + 3);
        let zip = std::fs::read(path).expect("zip");
        assert_eq!(sha256_hex(&zip), issued.zip_sha256);
        assert_eq!(zip, in_memory(&db.conn, &built));
    }

    #[test]
    fn an_archive_small_enough_is_read_back_to_be_attached() {
        let db = db(&fixture::october());
        let (issued, attached) = issue::issue(&db.inputs(), october(), 0, now()).expect("issue");
        assert!(issued.attached);
        assert_eq!(sha256_hex(&attached), OCTOBER_ZIP_SHA256);
        let (again, bytes) = issue::issue(&db.inputs(), october(), 0, now()).expect("again");
        assert_eq!((again, bytes), (issued, attached), "the recorded issue");
    }

    #[test]
    fn a_message_that_changes_while_written_fails_the_archive_and_leaves_no_file() {
        let db = db(&fixture::october());
        let built = build(&db.inputs(), october(), now()).expect("build");
        db.conn
            .execute("UPDATE message_raw SET raw = x'00' WHERE message = 3", [])
            .expect("change");
        let out = db.dir.path().join("out");
        let err = built
            .write(&db.conn, &out, "a.zip", |_| Ok(()))
            .expect_err("refused");
        assert!(
            matches!(err, ArchiveError::MessageChanged { message: 3, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("build the archive again"));
        assert_eq!(std::fs::read_dir(&out).expect("dir").count(), 0, "no file");
    }
}
