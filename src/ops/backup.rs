//! `reportd backup FILE` and `reportd restore FILE`.
//!
//! A backup is taken beside the running daemon, without its writer lock,
//! with SQLite's online backup API. The copy is made inside one read
//! transaction on the source, so it is the database as of one instant (WAL
//! lets the daemon go on committing meanwhile; the backup never restarts),
//! in steps with a pause between them so its reads do not crowd out the
//! daemon's. The copy is written to a temporary file beside FILE (0600),
//! switched to a self-contained rollback journal, checked with
//! `PRAGMA integrity_check`, and only then renamed to FILE.
//!
//! A restore needs the daemon stopped (it takes the writer lock). It checks
//! the copy, moves the current database aside under a name that says when
//! (`<database>.before-restore-<UTC time>`, never deleted), and installs a
//! copy of FILE in its place; the next open brings its schema up to date.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use crate::mail::inbox::{self, Checkpoint};
use crate::ops::guard::{self, Missing, Team};
use crate::ops::health;
use crate::store::{self, StoreError};
use crate::writer::WriterLock;

/// Pages copied per step (1 MiB with SQLite's default page size).
const STEP_PAGES: i32 = 256;
/// The pause between steps: the daemon's turn at the disk (a 1 GiB
/// database spends 5 s in pauses).
const STEP_PAUSE: Duration = Duration::from_millis(5);

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "{path} exists: reportd does not overwrite a file; name another file, or add --force to replace it"
    )]
    Exists { path: String },
    #[error("no database at {path}: nothing to back up; check the `database` path in the config")]
    NoDatabase { path: String },
    #[error("cannot {doing} {path}: {source}; check the path and who may write there")]
    Io {
        doing: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("SQLite error while {doing} {path}: {source}")]
    Sqlite {
        doing: &'static str,
        path: String,
        source: rusqlite::Error,
    },
    #[error(
        "{path} is damaged (integrity_check: {found}); take another backup, or restore an older one"
    )]
    Damaged { path: String, found: String },
    #[error(
        "{path} is not a reportd database (no schema version); name a file written by `reportd backup`"
    )]
    NotReportd { path: String },
    #[error(
        "{path} has schema version {found}, newer than this reportd's ({ours}); restore it with the reportd that wrote it"
    )]
    Newer {
        path: String,
        found: usize,
        ours: usize,
    },
    #[error(
        "{dest} is the database reportd runs on ({file}): writing a backup over it would destroy it; name a file elsewhere"
    )]
    IsDatabase { dest: String, file: String },
    #[error(
        "{path} is not this team's backup: {}; name this team's backup, or add --force to restore it anyway",
        .differences.join("; ")
    )]
    Foreign {
        path: String,
        differences: Vec<String>,
    },
    #[error(
        "the current database holds {} entr{} that {path} lacks, which a restore would drop:\n{}\nadd --force to restore anyway, then enter them again",
        .missing.len(),
        if .missing.len() == 1 { "y" } else { "ies" },
        .missing.iter().map(|m| format!("  {m}")).collect::<Vec<_>>().join("\n")
    )]
    WouldLose { path: String, missing: Vec<Missing> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a checked copy holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    pub bytes: u64,
    pub schema_version: usize,
    /// How far each mailbox had been read.
    pub checkpoints: Vec<(String, Checkpoint)>,
    pub messages: i64,
    pub ledger_entries: i64,
    pub last_pass: Option<DateTime<Utc>>,
}

impl std::fmt::Display for Contents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} bytes, integrity ok, schema version {}; ",
            self.bytes, self.schema_version
        )?;
        if self.checkpoints.is_empty() {
            // A Maildir source keeps no checkpoint: it knows each file.
            f.write_str("no IMAP checkpoint")?;
        }
        for (i, (source, c)) in self.checkpoints.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(
                f,
                "{sep}checkpoint {source}: uidvalidity {} last uid {}",
                c.uidvalidity, c.last_uid
            )?;
        }
        write!(
            f,
            "; {} message(s), {} ledger entr{}",
            self.messages,
            self.ledger_entries,
            if self.ledger_entries == 1 { "y" } else { "ies" }
        )?;
        match self.last_pass {
            Some(t) => write!(f, "; last successful pass {}", store::ts(t)),
            None => f.write_str("; no successful pass recorded"),
        }
    }
}

/// Copies `database` to `dest` while the daemon may be writing to it.
pub fn backup(database: &Path, dest: &Path, force: bool) -> Result<Contents, BackupError> {
    // Even with --force: replacing the live database (or its WAL) with a
    // copy corrupts it under the running daemon.
    if let Some(file) = guard::database_file_named(database, dest) {
        return Err(BackupError::IsDatabase {
            dest: dest.display().to_string(),
            file: file.display().to_string(),
        });
    }
    if !force && dest.exists() {
        return Err(BackupError::Exists {
            path: dest.display().to_string(),
        });
    }
    if !database.exists() {
        return Err(BackupError::NoDatabase {
            path: database.display().to_string(),
        });
    }
    let source = store::open_existing(database)?;
    let dir = parent_of(dest);
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|source| BackupError::Io {
        doing: "create a file in",
        path: dir.display().to_string(),
        source,
    })?;
    copy_snapshot(&source, tmp.path()).map_err(|source| BackupError::Sqlite {
        doing: "copying the database to",
        path: dest.display().to_string(),
        source,
    })?;
    let contents = inspect(tmp.path(), dest)?;
    let io = |doing, source| BackupError::Io {
        doing,
        path: dest.display().to_string(),
        source,
    };
    tmp.as_file().sync_all().map_err(|e| io("write", e))?;
    let persisted = if force {
        tmp.persist(dest)
    } else {
        // Another file may have appeared meanwhile: still never overwrite.
        tmp.persist_noclobber(dest)
    };
    persisted.map_err(|e| match e.error.kind() {
        std::io::ErrorKind::AlreadyExists => BackupError::Exists {
            path: dest.display().to_string(),
        },
        _ => io("write", e.error),
    })?;
    sync_dir(dir).map_err(|e| io("write", e))?;
    Ok(contents)
}

/// Copies `source`, as of one read transaction, into a new database at
/// `dest` in rollback-journal mode (one file, nothing beside it).
fn copy_snapshot(source: &Connection, dest: &Path) -> rusqlite::Result<()> {
    let mut target = Connection::open(dest)?;
    target.busy_timeout(store::BUSY_TIMEOUT)?;
    // Pin one snapshot: the daemon's commits during the copy are not in it,
    // so SQLite never has to start the copy over.
    source.execute_batch("BEGIN DEFERRED")?;
    let copied = source
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
            r.get::<_, i64>(0)
        })
        .and_then(|_| run_steps(source, &mut target));
    // Ending a read transaction cannot lose anything.
    let ended = source.execute_batch("COMMIT");
    copied?;
    ended?;
    target.pragma_update(None, "journal_mode", "DELETE")?;
    Ok(())
}

fn run_steps(source: &Connection, target: &mut Connection) -> rusqlite::Result<()> {
    let backup = Backup::new(source, target)?;
    // Busy steps are retried for as long as any statement waits for a lock.
    let mut busy_left = store::BUSY_TIMEOUT.as_millis() / STEP_PAUSE.as_millis();
    loop {
        match backup.step(STEP_PAGES)? {
            StepResult::Done => return Ok(()),
            StepResult::Busy | StepResult::Locked if busy_left == 0 => {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                    Some("the database stayed locked for the whole busy timeout".into()),
                ));
            }
            StepResult::Busy | StepResult::Locked => busy_left -= 1,
            _ => {}
        }
        std::thread::sleep(STEP_PAUSE);
    }
}

/// Checks the copy at `path` (shown as `shown`): integrity, a reportd
/// schema no newer than this build's, and what it holds.
pub fn inspect(path: &Path, shown: &Path) -> Result<Contents, BackupError> {
    let name = shown.display().to_string();
    let sqlite = |doing| {
        let name = name.clone();
        move |source| BackupError::Sqlite {
            doing,
            path: name,
            source,
        }
    };
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(sqlite("opening"))?;
    let found: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(sqlite("checking"))?;
    if found != "ok" {
        return Err(BackupError::Damaged { path: name, found });
    }
    let schema_version = store::schema_version(&conn).map_err(sqlite("reading"))?;
    if schema_version == 0 {
        return Err(BackupError::NotReportd { path: name });
    }
    if schema_version > store::SCHEMA_VERSION {
        return Err(BackupError::Newer {
            path: name,
            found: schema_version,
            ours: store::SCHEMA_VERSION,
        });
    }
    let count = |table: &str| -> rusqlite::Result<i64> {
        // `table` is one of the two names below, never input.
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
    };
    let bytes = std::fs::metadata(path)
        .map_err(|source| BackupError::Io {
            doing: "read",
            path: name.clone(),
            source,
        })?
        .len();
    let last_pass = if schema_version == store::SCHEMA_VERSION {
        health::last_pass(&conn)
            .map_err(sqlite("reading"))?
            .map(|p| p.finished_at)
    } else {
        None
    };
    Ok(Contents {
        bytes,
        schema_version,
        checkpoints: inbox::checkpoints(&conn).map_err(sqlite("reading"))?,
        messages: count("messages").map_err(sqlite("reading"))?,
        ledger_entries: count("ledger").map_err(sqlite("reading"))?,
        last_pass,
    })
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub contents: Contents,
    /// Where the database that was in place went, if there was one.
    pub moved_aside: Option<PathBuf>,
    /// How the backup is not this team's (restored with `force`).
    pub foreign: Vec<String>,
    /// What the replaced database held that the backup lacks (restored
    /// with `force`): to be entered again.
    pub missing: Vec<Missing>,
}

/// Installs the backup `from` as `database`, keeping the current one aside.
/// The writer lock of `database` proves that no daemon is running on it.
/// Without `force`, a backup that is not `team`'s, or that lacks entries
/// the current database holds, is refused before anything moves.
pub fn restore(
    _held: &WriterLock,
    database: &Path,
    from: &Path,
    team: &Team,
    force: bool,
    now: DateTime<Utc>,
) -> Result<Restored, BackupError> {
    let contents = inspect(from, from)?;
    let (foreign, missing) = compare(database, from, team)?;
    if !force && !foreign.is_empty() {
        return Err(BackupError::Foreign {
            path: from.display().to_string(),
            differences: foreign,
        });
    }
    if !force && !missing.is_empty() {
        return Err(BackupError::WouldLose {
            path: from.display().to_string(),
            missing,
        });
    }
    let dir = parent_of(database);
    let io = |doing, path: &Path, source| BackupError::Io {
        doing,
        path: path.display().to_string(),
        source,
    };
    // The copy goes beside the database first, so that the rename below is
    // atomic and FILE itself stays as it was.
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| io("create a file in", dir, e))?;
    std::fs::copy(from, tmp.path()).map_err(|e| io("copy", from, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| io("write", tmp.path(), e))?;
    let moved_aside = move_aside(database, now)?;
    tmp.persist(database)
        .map_err(|e| io("install the copy as", database, e.error))?;
    sync_dir(dir).map_err(|e| io("write", dir, e))?;
    // Back to WAL and up to the current schema, as every open does.
    store::open(database)?;
    Ok(Restored {
        contents,
        moved_aside,
        foreign,
        missing,
    })
}

/// How the backup `from` is not `team`'s, and what the current `database`
/// (if any) holds that it lacks.
fn compare(
    database: &Path,
    from: &Path,
    team: &Team,
) -> Result<(Vec<String>, Vec<Missing>), BackupError> {
    let sqlite = |path: &Path| {
        let path = path.display().to_string();
        move |source| BackupError::Sqlite {
            doing: "comparing",
            path,
            source,
        }
    };
    let backup = guard::open_read_only(from).map_err(sqlite(from))?;
    let foreign = guard::foreign(&backup, team).map_err(sqlite(from))?;
    drop(backup);
    if !database.exists() {
        return Ok((foreign, Vec::new()));
    }
    let current = store::open_existing(database)?;
    let missing = guard::missing(&current, from).map_err(sqlite(database))?;
    Ok((foreign, missing))
}

/// Moves `database` (with its WAL, after folding the WAL into it) to
/// `<database>.before-restore-<time>`; `None` when there is none.
fn move_aside(database: &Path, now: DateTime<Utc>) -> Result<Option<PathBuf>, BackupError> {
    if !database.exists() {
        return Ok(None);
    }
    {
        let conn = store::open_existing(database)?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(|source| BackupError::Sqlite {
                doing: "checkpointing",
                path: database.display().to_string(),
                source,
            })?;
    }
    let stamp = now.format("%Y%m%dT%H%M%SZ");
    let aside = with_suffix(database, &format!(".before-restore-{stamp}"));
    for (from, to) in [
        (database.to_path_buf(), aside.clone()),
        (with_suffix(database, "-wal"), with_suffix(&aside, "-wal")),
        (with_suffix(database, "-shm"), with_suffix(&aside, "-shm")),
    ] {
        if from.exists() {
            std::fs::rename(&from, &to).map_err(|source| BackupError::Io {
                doing: "move aside",
                path: from.display().to_string(),
                source,
            })?;
        }
    }
    Ok(Some(aside))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(db: &Path) -> WriterLock {
        crate::writer::acquire(db).expect("writer lock")
    }

    fn team() -> Team {
        Team {
            source: "imap:INBOX".into(),
            people: ["张伟".to_string()].into(),
        }
    }

    fn database(dir: &Path) -> PathBuf {
        let path = dir.join("reportd.sqlite3");
        let conn = store::open(&path).expect("open");
        conn.execute(
            "INSERT INTO checkpoints (source, uidvalidity, last_uid) VALUES ('imap:INBOX', 7, 42)",
            [],
        )
        .expect("checkpoint");
        path
    }

    #[test]
    fn a_backup_is_private_checked_and_never_overwrites_without_force() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(dir.path());
        let dest = dir.path().join("copy.sqlite3");
        let contents = backup(&db, &dest, false).expect("backup");
        assert_eq!(contents.schema_version, store::SCHEMA_VERSION);
        assert_eq!(
            contents.checkpoints,
            [(
                "imap:INBOX".to_string(),
                Checkpoint {
                    uidvalidity: 7,
                    last_uid: 42
                }
            )]
        );
        let mode = std::fs::metadata(&dest).expect("copy").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(
            !with_suffix(&dest, "-wal").exists(),
            "the copy is one self-contained file"
        );
        assert!(matches!(
            backup(&db, &dest, false),
            Err(BackupError::Exists { .. })
        ));
        backup(&db, &dest, true).expect("--force replaces it");
    }

    #[test]
    fn a_damaged_or_foreign_file_is_refused_before_anything_moves() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(dir.path());
        let junk = dir.path().join("junk.sqlite3");
        std::fs::write(&junk, b"not a database at all, just some bytes").expect("junk");
        assert!(restore(&lock(&db), &db, &junk, &team(), false, Utc::now()).is_err());
        let foreign = dir.path().join("foreign.sqlite3");
        Connection::open(&foreign)
            .and_then(|c| c.execute_batch("CREATE TABLE t (x)"))
            .expect("foreign");
        assert!(matches!(
            restore(&lock(&db), &db, &foreign, &team(), false, Utc::now()),
            Err(BackupError::NotReportd { .. })
        ));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("before-restore"))
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }

    #[test]
    fn a_copy_from_a_newer_reportd_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(dir.path());
        let copy = dir.path().join("copy.sqlite3");
        backup(&db, &copy, false).expect("backup");
        Connection::open(&copy)
            .and_then(|c| c.pragma_update(None, "user_version", 999))
            .expect("a newer schema");
        match restore(&lock(&db), &db, &copy, &team(), false, Utc::now()) {
            Err(BackupError::Newer { found: 999, .. }) => {}
            other => panic!("expected Newer, got {other:?}"),
        }
        assert!(inbox::checkpoints(&store::open(&db).expect("db")).is_ok());
    }

    #[test]
    fn a_restore_keeps_the_database_it_replaces() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(dir.path());
        let copy = dir.path().join("copy.sqlite3");
        backup(&db, &copy, false).expect("backup");
        store::open(&db)
            .and_then(|c| {
                c.execute("DELETE FROM checkpoints", [])
                    .map_err(|e| StoreError::Open {
                        path: String::new(),
                        source: e,
                    })
            })
            .expect("change after the backup");
        let restored =
            restore(&lock(&db), &db, &copy, &team(), false, Utc::now()).expect("restore");
        let aside = restored.moved_aside.expect("moved aside");
        let old = Connection::open(&aside).expect("old");
        let n: i64 = old
            .query_row("SELECT count(*) FROM checkpoints", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 0, "the replaced database is kept as it was");
        let conn = store::open(&db).expect("restored");
        assert_eq!(inbox::checkpoints(&conn).expect("read").len(), 1);
    }

    #[test]
    fn a_backup_never_goes_over_the_live_database_by_any_name_even_with_force() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(dir.path());
        std::fs::create_dir(dir.path().join("sub")).expect("sub");
        std::os::unix::fs::symlink(&db, dir.path().join("link")).expect("symlink");
        std::fs::hard_link(&db, dir.path().join("hard")).expect("hard link");
        let names = [
            db.clone(),
            with_suffix(&db, "-wal"),
            with_suffix(&db, "-shm"),
            dir.path().join("sub/../reportd.sqlite3"),
            dir.path().join("sub/../reportd.sqlite3-wal"),
            dir.path().join("link"),
            dir.path().join("hard"),
        ];
        let before = std::fs::read(&db).expect("db");
        for dest in names {
            match backup(&db, &dest, true) {
                Err(e @ BackupError::IsDatabase { .. }) => {
                    assert!(e.to_string().contains("name a file elsewhere"), "{e}")
                }
                other => panic!("{}: expected IsDatabase, got {other:?}", dest.display()),
            }
        }
        assert_eq!(std::fs::read(&db).expect("db"), before, "untouched");
        backup(&db, &dir.path().join("sub/copy.sqlite3"), true).expect("elsewhere is fine");
    }

    fn exec(db: &Path, sql: &str) {
        Connection::open(db)
            .and_then(|c| c.execute_batch(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    #[test]
    fn another_teams_backup_is_refused_naming_the_difference_unless_forced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(dir.path());
        let copy = dir.path().join("copy.sqlite3");
        backup(&db, &copy, false).expect("backup");
        exec(
            &copy,
            "UPDATE checkpoints SET source = 'imap://other@mail.example.com:993/INBOX';
             INSERT INTO ledger (at, person, period, kind, amount_fen, fund_fen, reason, evidence)
             VALUES ('2026-11-02T00:00:00Z', '王五', '2026-W45', 'fine', 5000, 2500, 'missing', '-');",
        );
        let err = restore(&lock(&db), &db, &copy, &team(), false, Utc::now())
            .expect_err("another team's");
        let text = err.to_string();
        assert!(
            text.contains(
                "read from imap://other@mail.example.com:993/INBOX, the config reads imap:INBOX"
            ),
            "{text}"
        );
        assert!(
            text.contains("none of its people (王五) is on the roster"),
            "{text}"
        );
        assert!(text.contains("--force"), "{text}");
        let restored = restore(&lock(&db), &db, &copy, &team(), true, Utc::now()).expect("forced");
        assert_eq!(restored.foreign.len(), 2, "{:?}", restored.foreign);
    }

    #[test]
    fn a_restore_that_would_drop_entries_made_after_the_backup_lists_them_and_needs_force() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database(dir.path());
        exec(
            &db,
            "INSERT INTO ledger (at, person, period, kind, amount_fen, fund_fen, reason, evidence)
             VALUES ('2026-11-02T00:00:00Z', '张伟', '2026-W44', 'fine', 5000, 2500, 'missing', '-');",
        );
        let copy = dir.path().join("copy.sqlite3");
        backup(&db, &copy, false).expect("backup");
        exec(
            &db,
            "INSERT INTO ledger (at, person, period, kind, amount_fen, fund_fen, reason, evidence, reverses)
             VALUES ('2026-11-03T00:00:00Z', '张伟', '2026-W44', 'waiver', -5000, -2500, 'sick', 'excuse #1', 1);
             INSERT INTO ledger (at, person, period, kind, amount_fen, fund_fen, reason, evidence)
             VALUES ('2026-11-03T00:00:00Z', '张伟', '2026-W45', 'fine', 5000, 2500, 'late', '<late@example.com>');
             INSERT INTO excuses (person, period, reason, by, at)
             VALUES ('张伟', '2026-W44', 'sick', 'assistant', '2026-11-03T00:00:00Z');
             INSERT INTO fund_spending (at, amount_fen, note, by)
             VALUES ('2026-11-04T00:00:00Z', 12000, 'team dinner', 'assistant');
             INSERT INTO sales_imports (month, at, source, sha256, by)
             VALUES ('2026-10', '2026-11-05T00:00:00Z', 'sales.xlsx', 'abc', 'assistant');",
        );
        let err = restore(&lock(&db), &db, &copy, &team(), false, Utc::now())
            .expect_err("would lose entries");
        let text = err.to_string();
        for line in [
            "holds 4 entries",
            "  张伟 2026-W44 waiver -50.00 (sick)",
            "  张伟 2026-W44 valid reason (sick, by assistant)",
            "  - 2026-10 sales import (sales.xlsx, by assistant)",
            "  assistant 2026-11-04 fund spending 120.00 (team dinner)",
            "add --force",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert!(
            !text.contains("fine 50.00"),
            "the fine is in the backup: {text}"
        );
        assert!(
            inbox::checkpoints(&store::open(&db).expect("db")).is_ok_and(|c| c.len() == 1),
            "nothing moved"
        );
        let restored = restore(&lock(&db), &db, &copy, &team(), true, Utc::now()).expect("forced");
        assert_eq!(restored.missing.len(), 4, "{:?}", restored.missing);
        assert_eq!(
            restored.missing[0].to_string(),
            "张伟 2026-W44 waiver -50.00 (sick)"
        );
    }
}
