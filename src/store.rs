//! The SQLite file: opening it, the schema and its migrations. Each table is
//! read and written only by the module that owns it (see each migration's
//! comment); this module only keeps the schema in one place.
//!
//! Every connection is opened here, so its settings live in one place: a
//! generous busy timeout (a writer waits for another's transaction rather
//! than failing), `synchronous = FULL` (a committed outbox transition
//! survives a power cut), and private files (the database is a raw copy of
//! the assistant's mailbox).

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot create the directory for database {path}: {source}; check the `database` path in the config and who may write to its parent"
    )]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "cannot create database {path}: {source}; check the `database` path in the config and that its directory is writable"
    )]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open database {path}: {source}; check the `database` path in the config")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error(
        "cannot migrate database {path}: {source}; is it a reportd database of a newer version?"
    )]
    Migrate {
        path: String,
        source: rusqlite_migration::Error,
    },
    #[error(
        "cannot write database {path}: {error}; free space on its file system, or make the file \
         and its directory writable, then try again"
    )]
    Write {
        path: String,
        // Not `source`: the message says it once, the error's causes would
        // say it again.
        error: rusqlite::Error,
    },
}

impl StoreError {
    /// A migration that failed on the disk (full, read-only) is the disk's
    /// problem, not a database of a newer version.
    fn of_migration(path: String, source: rusqlite_migration::Error) -> StoreError {
        match source {
            rusqlite_migration::Error::RusqliteError { err, .. } if refused_by_disk(&err) => {
                StoreError::Write { path, error: err }
            }
            source => StoreError::Migrate { path, source },
        }
    }

    /// An open or its settings that failed on the disk (full, read-only)
    /// asks for space or permissions, not for another database path.
    fn of_open(path: String, source: rusqlite::Error) -> StoreError {
        if refused_by_disk(&source) {
            StoreError::Write {
                path,
                error: source,
            }
        } else {
            StoreError::Open { path, source }
        }
    }
}

/// The file system would not take the write: full, read-only, or failing
/// (a full disk that cannot grow the WAL's shared-memory file is reported
/// as an I/O error, `SQLITE_IOERR_SHMSIZE`).
fn refused_by_disk(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::{DiskFull, ReadOnly, SystemIoFailure};
    matches!(
        e.sqlite_error_code(),
        Some(DiskFull | ReadOnly | SystemIoFailure)
    )
}

/// Schema, oldest first. Never edit a migration that has shipped; add one.
const MIGRATIONS: &[M<'static>] = &[
    M::up(
        r#"
-- mail::inbox: every message read from the mailbox, raw, once.
CREATE TABLE messages (
    id           INTEGER PRIMARY KEY,
    source       TEXT NOT NULL,
    uidvalidity  INTEGER,
    uid          INTEGER,
    source_key   TEXT NOT NULL,
    sha256       TEXT NOT NULL UNIQUE,
    internaldate TEXT NOT NULL,
    raw          BLOB NOT NULL,
    ingested_at  TEXT NOT NULL,
    message_id   TEXT,
    sender       TEXT,
    subject      TEXT,
    class        TEXT CHECK (class IN ('report', 'revision', 'misaddressed', 'reply', 'command', 'refused', 'ignored', 'unparsable')),
    reason       TEXT,
    flagged      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (source, source_key)
) STRICT;
CREATE INDEX messages_message_id ON messages (message_id);
CREATE INDEX messages_unclassified ON messages (internaldate, id) WHERE class IS NULL;

-- mail::inbox: how far each mailbox has been read.
CREATE TABLE checkpoints (
    source      TEXT PRIMARY KEY,
    uidvalidity INTEGER NOT NULL,
    last_uid    INTEGER NOT NULL
) STRICT;

-- reports: each report message with the period it was assigned to.
CREATE TABLE reports (
    id          INTEGER PRIMARY KEY,
    message     INTEGER NOT NULL UNIQUE REFERENCES messages (id),
    person      TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('weekly', 'monthly')),
    period      TEXT NOT NULL,
    received    TEXT NOT NULL,
    message_id  TEXT,
    counts      INTEGER NOT NULL CHECK (counts IN (0, 1)),
    revision_of INTEGER REFERENCES reports (id)
) STRICT;
CREATE UNIQUE INDEX reports_first ON reports (person, period) WHERE counts = 1 AND revision_of IS NULL;
CREATE INDEX reports_message_id ON reports (message_id);

-- reports: a supervisor's or manager's reply to a report.
CREATE TABLE replies (
    id      INTEGER PRIMARY KEY,
    message INTEGER NOT NULL UNIQUE REFERENCES messages (id),
    report  INTEGER NOT NULL REFERENCES reports (id),
    replier TEXT NOT NULL,
    at      TEXT NOT NULL
) STRICT;
CREATE INDEX replies_report ON replies (report);

-- reports::compliance: valid reasons (正当理由) filed for a period.
CREATE TABLE excuses (
    id     INTEGER PRIMARY KEY,
    person TEXT NOT NULL,
    period TEXT NOT NULL,
    reason TEXT NOT NULL,
    by     TEXT NOT NULL,
    at     TEXT NOT NULL,
    UNIQUE (person, period)
) STRICT;

-- ledger: fines and their reversals; rows are only ever inserted.
CREATE TABLE ledger (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    person     TEXT NOT NULL,
    period     TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('fine', 'waiver')),
    amount_fen INTEGER NOT NULL,
    fund_fen   INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    evidence   TEXT NOT NULL,
    reverses   INTEGER REFERENCES ledger (id),
    CHECK ((kind = 'fine' AND amount_fen > 0 AND reverses IS NULL)
        OR (kind = 'waiver' AND amount_fen < 0 AND reverses IS NOT NULL)),
    UNIQUE (person, period, kind)
) STRICT;
CREATE TRIGGER ledger_rows_are_never_updated BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'ledger rows are never changed: book a waiver instead'); END;
CREATE TRIGGER ledger_rows_are_never_deleted BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted: book a waiver instead'); END;
"#,
    ),
    M::up(
        r#"
-- notify::outbox: every email reportd sends, written in the transaction that
-- owes it and delivered later; `key` makes a second copy impossible.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    key             TEXT NOT NULL UNIQUE CHECK (key <> ''),
    kind            TEXT NOT NULL,
    sender          TEXT NOT NULL,
    recipients      TEXT NOT NULL CHECK (json_valid(recipients) AND json_array_length(recipients) > 0),
    message_id      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    raw             BLOB NOT NULL,
    state           TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      TEXT,
    not_before      TEXT NOT NULL,
    next_attempt    TEXT,
    created_at      TEXT NOT NULL,
    last_attempt_at TEXT,
    sent_at         TEXT,
    CHECK ((state = 'queued') = (next_attempt IS NOT NULL)),
    CHECK ((state = 'sent') = (sent_at IS NOT NULL))
) STRICT;
CREATE INDEX outbox_due ON outbox (next_attempt) WHERE state = 'queued';
CREATE INDEX outbox_message_id ON outbox (message_id);
"#,
    ),
    M::up(
        r#"
-- reports: other Message-IDs in a report's thread (reportd's own reply
-- reminders), so that a supervisor answering one counts as the reply.
CREATE TABLE report_threads (
    message_id TEXT PRIMARY KEY,
    report     INTEGER NOT NULL REFERENCES reports (id)
) STRICT;

-- reports::commands: reportd's own emails that a supervisor may answer to
-- file a valid reason (late notices), by Message-ID.
CREATE TABLE command_threads (
    message_id TEXT PRIMARY KEY,
    person     TEXT NOT NULL,
    period     TEXT NOT NULL
) STRICT;

-- reports::commands: every command received by email and what became of it.
CREATE TABLE commands (
    id      INTEGER PRIMARY KEY,
    message INTEGER NOT NULL UNIQUE REFERENCES messages (id),
    filer   TEXT NOT NULL,
    person  TEXT,
    period  TEXT,
    reason  TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'refused')),
    why     TEXT,
    excuse  INTEGER REFERENCES excuses (id)
) STRICT;
"#,
    ),
    M::up(
        r#"
-- payroll::sales: each sales file imported (业绩), kept whole; a month's
-- figures are those of its newest import. Rows are only ever inserted.
CREATE TABLE sales_imports (
    id     INTEGER PRIMARY KEY,
    month  TEXT NOT NULL,
    at     TEXT NOT NULL,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    by     TEXT NOT NULL
) STRICT;
CREATE INDEX sales_imports_month ON sales_imports (month, id);
CREATE TABLE sales_rows (
    import          INTEGER NOT NULL REFERENCES sales_imports (id),
    person          TEXT NOT NULL,
    row             INTEGER NOT NULL,
    own_fen         INTEGER NOT NULL CHECK (own_fen >= 0),
    proxy_fen       INTEGER NOT NULL CHECK (proxy_fen >= 0),
    sms_fen         INTEGER NOT NULL CHECK (sms_fen >= 0),
    standing        TEXT CHECK (standing IN ('probation_1', 'probation_2', 'regular')),
    team_target_fen INTEGER CHECK (team_target_fen > 0),
    level           TEXT,
    PRIMARY KEY (import, person)
) STRICT;

-- payroll::fund: money spent from the activity fund (部门活动经费).
CREATE TABLE fund_spending (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    amount_fen INTEGER NOT NULL CHECK (amount_fen <> 0),
    note       TEXT NOT NULL CHECK (note <> ''),
    by         TEXT NOT NULL
) STRICT;

-- payroll::summary: each month's summary as first issued, and the ledger
-- rows and fund spending it settled. A sent summary is never changed.
CREATE TABLE payroll_summaries (
    month     TEXT PRIMARY KEY,
    issued_at TEXT NOT NULL,
    summary   TEXT NOT NULL CHECK (json_valid(summary))
) STRICT;
CREATE TABLE payroll_settled (
    month  TEXT NOT NULL REFERENCES payroll_summaries (month),
    ledger INTEGER UNIQUE REFERENCES ledger (id),
    spend  INTEGER UNIQUE REFERENCES fund_spending (id),
    CHECK ((ledger IS NULL) <> (spend IS NULL))
) STRICT;
CREATE TRIGGER sales_rows_are_never_changed BEFORE UPDATE ON sales_rows
BEGIN SELECT RAISE(ABORT, 'sales rows are never changed: import the month again'); END;
CREATE TRIGGER fund_spending_is_never_changed BEFORE UPDATE ON fund_spending
BEGIN SELECT RAISE(ABORT, 'fund spending is never changed: record a correction'); END;
CREATE TRIGGER fund_spending_is_never_deleted BEFORE DELETE ON fund_spending
BEGIN SELECT RAISE(ABORT, 'fund spending is never deleted: record a correction'); END;
CREATE TRIGGER payroll_summaries_are_never_changed BEFORE UPDATE ON payroll_summaries
BEGIN SELECT RAISE(ABORT, 'a sent payroll summary is never changed'); END;
CREATE TRIGGER payroll_summaries_are_never_deleted BEFORE DELETE ON payroll_summaries
BEGIN SELECT RAISE(ABORT, 'a sent payroll summary is never deleted'); END;

-- payroll::by_email: sales files received by email and what became of them.
CREATE TABLE sales_emails (
    message INTEGER PRIMARY KEY REFERENCES messages (id),
    filer   TEXT NOT NULL,
    month   TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('imported', 'refused', 'ignored')),
    import  INTEGER REFERENCES sales_imports (id),
    answer  TEXT NOT NULL CHECK (json_valid(answer))
) STRICT;
"#,
    ),
    M::up(
        r#"
-- mail::inbox: IMAP messages that could not be downloaded even alone (the
-- FETCH timed out): the checkpoint moves past them and they are tried again
-- from `next_try`, so one stuck message never blocks newer mail.
CREATE TABLE skipped_fetches (
    source      TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uid         INTEGER NOT NULL,
    attempts    INTEGER NOT NULL CHECK (attempts > 0),
    last_error  TEXT NOT NULL,
    next_try    TEXT NOT NULL,
    PRIMARY KEY (source, uidvalidity, uid)
) STRICT;
"#,
    ),
    M::up(
        r#"
-- archive::issue: every monthly archive emailed (the first issue and each
-- marked re-issue); rows are only ever inserted, for a sent archive is
-- never changed.
CREATE TABLE archives (
    id              INTEGER PRIMARY KEY,
    month           TEXT NOT NULL CHECK (month GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]'),
    issue           INTEGER NOT NULL CHECK (issue >= 0),
    path            TEXT NOT NULL,
    zip_sha256      TEXT NOT NULL CHECK (length(zip_sha256) = 64),
    manifest_sha256 TEXT NOT NULL CHECK (length(manifest_sha256) = 64),
    bytes           INTEGER NOT NULL CHECK (bytes > 0),
    attached        INTEGER NOT NULL CHECK (attached IN (0, 1)),
    outbox_key      TEXT NOT NULL UNIQUE,
    created_at      TEXT NOT NULL,
    -- what the email said of the month (archive::Summary), to render it
    -- again without rebuilding
    summary         TEXT NOT NULL CHECK (json_valid(summary)),
    UNIQUE (month, issue)
) STRICT;
CREATE TRIGGER archives_rows_are_never_updated BEFORE UPDATE ON archives
BEGIN SELECT RAISE(ABORT, 'a sent archive is never changed: send a re-issue instead'); END;
CREATE TRIGGER archives_rows_are_never_deleted BEFORE DELETE ON archives
BEGIN SELECT RAISE(ABORT, 'a sent archive is never deleted: send a re-issue instead'); END;
"#,
    ),
    M::up(
        r#"
-- ledger: what became of an entry later (the report of a fine booked as
-- missing arrived late), so a reason reads as the final state while the
-- entry itself never changes; notes too are only ever inserted.
CREATE TABLE ledger_notes (
    id    INTEGER PRIMARY KEY,
    at    TEXT NOT NULL,
    entry INTEGER NOT NULL REFERENCES ledger (id),
    kind  TEXT NOT NULL CHECK (kind IN ('arrived')),
    note  TEXT NOT NULL,
    UNIQUE (entry, kind)
) STRICT;
CREATE TRIGGER ledger_notes_are_never_updated BEFORE UPDATE ON ledger_notes
BEGIN SELECT RAISE(ABORT, 'ledger notes are never changed: add a note instead'); END;
CREATE TRIGGER ledger_notes_are_never_deleted BEFORE DELETE ON ledger_notes
BEGIN SELECT RAISE(ABORT, 'ledger notes are never deleted'); END;
"#,
    ),
    M::up(
        r#"
-- ops::health: the last pass (fetch, classify, judge, book, queue, deliver)
-- that ended without an error, one row, for `reportd health`.
CREATE TABLE last_pass (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    finished_at TEXT NOT NULL,
    duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
    fetched     INTEGER NOT NULL CHECK (fetched >= 0),
    classified  INTEGER NOT NULL CHECK (classified >= 0),
    booked      INTEGER NOT NULL CHECK (booked >= 0),
    queued      INTEGER NOT NULL CHECK (queued >= 0),
    sent        INTEGER NOT NULL CHECK (sent >= 0)
) STRICT;
"#,
    ),
    M::up(
        r#"
-- notify::outbox: each recipient's answer to an email, which goes to each
-- recipient in an SMTP transaction of its own; a retry reaches only the
-- recipients without a row here, and `--retry` deletes the refused ones.
CREATE TABLE outbox_recipients (
    outbox  INTEGER NOT NULL REFERENCES outbox (id),
    address TEXT NOT NULL,
    state   TEXT NOT NULL CHECK (state IN ('sent', 'refused')),
    answer  TEXT,
    at      TEXT NOT NULL,
    PRIMARY KEY (outbox, address),
    CHECK ((state = 'refused') = (answer IS NOT NULL))
) STRICT;
"#,
    ),
    M::up(
        r#"
-- mail::inbox: the raw bytes of each message in a table of their own, so
-- that recording a message's classification rewrites a short row instead
-- of every page of its bytes (SQLite rewrites a whole record on UPDATE),
-- and so that the bytes of unrelated mail can be dropped after
-- `keep_unrelated_days` while its row (headers, hash, class) stays.
-- `size` is the length of the raw message as fetched, kept when it is
-- dropped; `raw_dropped_at` says when it was.
CREATE TABLE message_raw (
    message INTEGER PRIMARY KEY REFERENCES messages (id),
    raw     BLOB NOT NULL
) STRICT;
INSERT INTO message_raw (message, raw) SELECT id, raw FROM messages;
ALTER TABLE messages ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
UPDATE messages SET size = length(raw);
ALTER TABLE messages DROP COLUMN raw;
ALTER TABLE messages ADD COLUMN raw_dropped_at TEXT;
-- The messages whose bytes may be dropped once old enough (see
-- `inbox::drop_unrelated_raw`).
CREATE INDEX messages_raw_droppable ON messages (internaldate)
    WHERE class = 'ignored' AND flagged = 0 AND raw_dropped_at IS NULL;
-- The report and the reply a period's judgement reads, by person.
CREATE INDEX reports_person_kind ON reports (person, kind, received);
"#,
    ),
    M::up(
        r#"
-- reports::scope: the last judgement that booked and queued (one row): the
-- instant it judged at, a digest of every deadline it judged that had
-- passed, and the highest report, reason and ledger row it saw. The next
-- pass judges again only what may have changed since.
CREATE TABLE judged (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    at      TEXT NOT NULL,
    passed  TEXT NOT NULL,
    report  INTEGER NOT NULL,
    excuse  INTEGER NOT NULL,
    ledger  INTEGER NOT NULL
) STRICT;
"#,
    ),
    M::up(
        r#"
-- What every pass reads of a few rows in big tables: the misaddressed
-- reports of the last weeks (reports::misaddressed_since), and the mail left
-- ignored that a sales file by email may take over (payroll::by_email).
CREATE INDEX reports_misaddressed ON reports (received) WHERE counts = 0;
CREATE INDEX messages_ignored ON messages (id) WHERE class = 'ignored';
"#,
    ),
    M::up(
        r#"
-- What a pass judging only what may have changed reads (reports::scope):
-- the first reports and the ledger rows of a few periods.
CREATE INDEX reports_first_by_period ON reports (period) WHERE counts = 1 AND revision_of IS NULL;
CREATE INDEX ledger_period ON ledger (period, kind);
"#,
    ),
    M::up(
        r#"
-- mail::inbox: the class check as a chain of comparisons. Written as
-- `class IN (...)`, SQLite built a temporary B-tree of the eight names for
-- every message stored and every class recorded: more than half the time
-- of the UPDATE that records a class. A CHECK cannot be altered, so the
-- table is made again, its columns in the same order, as SQLite's
-- "Making Other Kinds Of Table Schema Changes" does it (`store::open`
-- turns foreign keys off while migrating; ids are kept, so every
-- reference still holds).
CREATE TABLE messages_new (
    id             INTEGER PRIMARY KEY,
    source         TEXT NOT NULL,
    uidvalidity    INTEGER,
    uid            INTEGER,
    source_key     TEXT NOT NULL,
    sha256         TEXT NOT NULL UNIQUE,
    internaldate   TEXT NOT NULL,
    ingested_at    TEXT NOT NULL,
    message_id     TEXT,
    sender         TEXT,
    subject        TEXT,
    class          TEXT CHECK (class = 'report' OR class = 'revision' OR class = 'misaddressed'
                               OR class = 'reply' OR class = 'command' OR class = 'refused'
                               OR class = 'ignored' OR class = 'unparsable'),
    reason         TEXT,
    flagged        INTEGER NOT NULL DEFAULT 0,
    size           INTEGER NOT NULL DEFAULT 0,
    raw_dropped_at TEXT,
    UNIQUE (source, source_key)
) STRICT;
INSERT INTO messages_new (id, source, uidvalidity, uid, source_key, sha256, internaldate,
                          ingested_at, message_id, sender, subject, class, reason, flagged,
                          size, raw_dropped_at)
SELECT id, source, uidvalidity, uid, source_key, sha256, internaldate, ingested_at,
       message_id, sender, subject, class, reason, flagged, size, raw_dropped_at
FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_message_id ON messages (message_id);
CREATE INDEX messages_unclassified ON messages (internaldate, id) WHERE class IS NULL;
CREATE INDEX messages_raw_droppable ON messages (internaldate)
    WHERE class = 'ignored' AND flagged = 0 AND raw_dropped_at IS NULL;
CREATE INDEX messages_ignored ON messages (id) WHERE class = 'ignored';
"#,
    ),
    M::up(
        r#"
-- payroll::by_email: every message up to `through` has been looked at for
-- a sales file while `senders` (the managers' and assistants' addresses)
-- were those who may send one, so a pass reads only the mail classified
-- since, not every ignored message of the years before.
CREATE TABLE sales_scanned (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    through INTEGER NOT NULL,
    senders TEXT NOT NULL
) STRICT;
"#,
    ),
];

/// The schema version this build writes (SQLite's `user_version`, which
/// rusqlite_migration keeps equal to the number of migrations applied).
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// The schema version of an open database (0: not a reportd database).
pub fn schema_version(conn: &Connection) -> rusqlite::Result<usize> {
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok(usize::try_from(v).unwrap_or(0))
}

/// How long a statement waits for another connection's write transaction
/// before it fails with "database is locked". Long enough for any pass of
/// intake or judgement; rusqlite's default of 5 s is not.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Prepared statements kept per connection.
pub const STATEMENT_CACHE: usize = 64;

/// Opens (creating if needed) the database at `path` and brings its schema
/// up to date. A new database is created 0600, its WAL and shared-memory
/// files inherit that mode, and directories created for it are 0700.
pub fn open(path: &Path) -> Result<Connection, StoreError> {
    let shown = path.display().to_string();
    create_private_dir_for(path)?;
    create_private_file(path).map_err(|source| StoreError::Create {
        path: shown.clone(),
        source,
    })?;
    let mut conn =
        Connection::open(path).map_err(|source| StoreError::of_open(shown.clone(), source))?;
    prepare(&mut conn).map_err(|source| StoreError::of_open(shown.clone(), source))?;
    let migrations = Migrations::from_slice(MIGRATIONS);
    // A migration that makes a table again drops the old one, which the
    // rows of other tables still refer to: foreign keys are off while
    // migrating (they cannot be turned off inside a migration's
    // transaction), as SQLite's documentation has it.
    conn.pragma_update(None, "foreign_keys", "OFF")
        .map_err(|source| StoreError::of_open(shown.clone(), source))?;
    // rusqlite_migration reads the schema version before it opens its
    // transaction, so two processes opening a new file at once (the daemon
    // and a `reportd status`) can both start from version 0; the second then
    // fails on tables the first made. Reading the version again settles it.
    let migrated = migrations
        .to_latest(&mut conn)
        .or_else(|_| migrations.to_latest(&mut conn));
    let foreign_keys_on = conn.pragma_update(None, "foreign_keys", "ON");
    migrated.map_err(|source| StoreError::of_migration(shown.clone(), source))?;
    foreign_keys_on.map_err(|source| StoreError::of_open(shown, source))?;
    Ok(conn)
}

/// Opens a database that must already exist, with the same settings as
/// [`open`] but without creating or migrating it: for `health` and `backup`,
/// which only read and must not change a file the daemon owns.
pub fn open_existing(path: &Path) -> Result<Connection, StoreError> {
    let shown = path.display().to_string();
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags)
        .map_err(|source| StoreError::of_open(shown.clone(), source))?;
    prepare(&mut conn).map_err(|source| StoreError::of_open(shown, source))?;
    Ok(conn)
}

/// Creates the directory `path` lives in (and its parents) when missing,
/// mode 0700: nobody else may list or read what reportd keeps there.
pub fn create_private_dir_for(path: &Path) -> Result<(), StoreError> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::Dir {
            path: dir.display().to_string(),
            source,
        })
}

/// Creates an empty database file, mode 0600, unless it exists. SQLite
/// gives its `-wal` and `-shm` files the mode of the database file, so they
/// are private too whatever the process umask.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let created = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match created {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The page size of a new database file.
pub const PAGE_SIZE: i64 = 16 * 1024;

fn prepare(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // The statements a pass runs once per message or per verdict are
    // cached (`prepare_cached`); rusqlite's default of 16 is fewer than
    // there are.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Most of the file is raw messages of 10 KB and more: on 16 KiB pages
    // a first sync of 50,000 messages writes a third less to the kernel
    // (fewer overflow pages, WAL frames and checksums) and takes 15 % less
    // time than on SQLite's 4 KiB. Only a new, empty file takes it; an
    // existing database keeps its page size.
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    // A database left in rollback mode (a first import running beside this
    // open, or one killed) goes back to WAL.
    switch_to_wal(conn)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // FULL: every commit (an email claimed, marked sent) is on disk before
    // the call returns, power cut included; NORMAL in WAL mode may lose the
    // last commits. A pass commits a handful of transactions, so the
    // extra fsyncs are few.
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

/// Switches the database to WAL, trying for about a second. Switching
/// needs a lock that SQLite's busy timeout does not wait for; another
/// process creating the same file, or writing it in rollback mode (see
/// [`use_rollback_journal`]), holds it for moments. If it still holds it
/// (an import's long transaction), the connection works in the mode the
/// file is in: its statements wait for the writer's commits as SQLite's
/// locking has them do, and the next open or pass switches.
fn switch_to_wal(conn: &Connection) -> rusqlite::Result<()> {
    let mut tries = 0;
    while let Err(e) = conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(())) {
        tries += 1;
        if !is_busy(&e) {
            return Err(e);
        }
        if tries > 20 {
            tracing::debug!(error = %e, "database stays in rollback-journal mode for now");
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(())
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// The journal mode of `conn`'s database: `wal`, `delete`, ….
pub fn journal_mode(conn: &Connection) -> rusqlite::Result<String> {
    conn.pragma_query_value(None, "journal_mode", |r| r.get(0))
}

/// Writes the database with a rollback journal instead of the WAL, for a
/// first import: in WAL mode every page reaches the file twice (in the
/// WAL, then at the checkpoint), while a rollback journal keeps only the
/// old content of pages a transaction changes, and a new file has almost
/// none. A first sync of 50,000 messages wrote 1,711 MiB for a 634 MiB
/// database in WAL mode, 1,155 MiB with a rollback journal, in the same
/// time. Readers then wait for each commit instead of reading beside it,
/// which only a download can afford: a pass goes back with [`use_wal`]
/// before its intake, whose reader parses beside its commits, and so does
/// every [`open`]: a crash mid-import leaves nothing to undo by hand.
/// Only the writer may call it, holding the writer lock (`crate::writer`).
///
/// It is only a saving: when the switch fails (another process has the
/// file open, or the disk has no room for the pages the WAL held), the
/// import goes on in WAL and the pass meets whatever the disk says in its
/// own words. Returns whether the switch was made.
pub fn use_rollback_journal(conn: &Connection) -> bool {
    match conn.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get::<_, String>(0)) {
        Ok(mode) => mode == "delete",
        Err(e) => {
            tracing::debug!(error = %e, "first import stays in WAL mode");
            false
        }
    }
}

/// Back to WAL after [`use_rollback_journal`]; nothing when already there.
pub fn use_wal(conn: &Connection) -> rusqlite::Result<()> {
    if journal_mode(conn)? != "wal" {
        switch_to_wal(conn)?;
    }
    Ok(())
}

/// How an instant is stored: RFC 3339 in UTC with a `Z`, to the second, so
/// that text order is time order.
pub fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Reads an instant written by [`ts`].
pub fn parse_ts(text: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of a table of the tests' own (each real table belongs to its
    /// module).
    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM written", [], |r| r.get(0))
            .expect("count")
    }

    fn write(conn: &mut Connection, n: i64) {
        let tx = conn.transaction().expect("tx");
        tx.execute_batch("CREATE TABLE IF NOT EXISTS written (n INTEGER)")
            .expect("table");
        tx.execute("INSERT INTO written (n) VALUES (?1)", [n])
            .expect("insert");
        tx.commit().expect("commit");
    }

    /// A new database in its first import, one row written.
    fn importing() -> (tempfile::TempDir, std::path::PathBuf, Connection) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("import.sqlite3");
        let mut conn = open(&path).expect("open");
        assert!(use_rollback_journal(&conn), "rollback journal");
        assert_eq!(journal_mode(&conn).expect("mode"), "delete");
        write(&mut conn, 1);
        (dir, path, conn)
    }

    #[test]
    fn a_first_import_written_with_a_rollback_journal_goes_back_to_wal_with_all_it_wrote() {
        let (dir, path, mut conn) = importing();
        assert!(!dir.path().join("import.sqlite3-wal").exists(), "no WAL");
        use_wal(&conn).expect("wal");
        assert_eq!(journal_mode(&conn).expect("mode"), "wal");
        write(&mut conn, 2);
        drop(conn);
        let again = open(&path).expect("open again");
        assert_eq!(count(&again), 2);
        assert_eq!(journal_mode(&again).expect("mode"), "wal");
    }

    #[test]
    fn a_reader_opening_during_a_rollback_import_turns_it_to_wal_and_loses_nothing() {
        let (_dir, path, mut importer) = importing();
        // `reportd status` beside the import: every open sets WAL.
        let reader = open(&path).expect("reader");
        assert_eq!(journal_mode(&reader).expect("mode"), "wal");
        assert_eq!(count(&reader), 1);
        // The importer's next transactions go through the WAL.
        write(&mut importer, 2);
        assert_eq!(count(&reader), 2);
        use_wal(&importer).expect("wal");
        assert_eq!(journal_mode(&importer).expect("mode"), "wal");
    }

    #[test]
    fn an_open_beside_a_long_transaction_of_a_first_import_reads_in_rollback_mode() {
        let (_dir, path, mut importer) = importing();
        // A transaction of the import that outlasts the switch's tries.
        let tx = importer
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .expect("tx");
        tx.execute("INSERT INTO written (n) VALUES (2)", [])
            .expect("insert");
        let reader = open(&path).expect("an open beside it works");
        assert_eq!(journal_mode(&reader).expect("mode"), "delete");
        assert_eq!(count(&reader), 1, "what is committed");
        tx.commit().expect("commit");
        assert_eq!(count(&reader), 2);
        drop(reader);
        use_wal(&importer).expect("wal");
        assert_eq!(journal_mode(&importer).expect("mode"), "wal");
    }

    #[test]
    fn an_open_or_a_migration_the_disk_refused_says_so_rather_than_blaming_the_path_or_a_newer_version()
     {
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        let err = StoreError::of_migration(
            "/var/lib/reportd/reportd.sqlite3".into(),
            rusqlite_migration::Error::RusqliteError {
                query: "CREATE TABLE …".into(),
                err: full,
            },
        );
        let text = err.to_string();
        assert!(matches!(err, StoreError::Write { .. }), "{err:?}");
        assert!(
            text.contains("/var/lib/reportd/reportd.sqlite3") && text.contains("free space"),
            "{text}"
        );
        assert!(!text.contains("newer version"), "{text}");
        // Nor does an open whose settings the full disk refused send the
        // reader to check the database path.
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        let opened = StoreError::of_open("/var/lib/reportd/reportd.sqlite3".into(), full);
        assert!(matches!(opened, StoreError::Write { .. }), "{opened:?}");
        assert!(opened.to_string().contains("free space"), "{opened}");
        // Nor one that could not make the WAL's shared-memory file.
        let shm = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR_SHMSIZE),
            None,
        );
        let opened = StoreError::of_open("x".into(), shm);
        assert!(matches!(opened, StoreError::Write { .. }), "{opened:?}");
        let other =
            StoreError::of_migration("x".into(), rusqlite_migration::Error::InvalidUserVersion);
        assert!(other.to_string().contains("newer version"), "{other}");
    }

    #[test]
    fn two_processes_opening_a_new_database_at_once_both_succeed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("race.sqlite3");
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || open(&path).map(|_| ()).map_err(|e| e.to_string()))
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().expect("thread"), Ok(()));
        }
    }

    #[test]
    fn a_new_database_has_16_kib_pages_and_an_old_one_keeps_its_own() {
        let dir = tempfile::tempdir().expect("tempdir");
        let page_size = |c: &Connection| -> i64 {
            c.pragma_query_value(None, "page_size", |r| r.get(0))
                .expect("pragma")
        };
        let new = dir.path().join("new.sqlite3");
        assert_eq!(page_size(&open(&new).expect("open")), PAGE_SIZE);
        // A database made with SQLite's default before this setting.
        let old = dir.path().join("old.sqlite3");
        Connection::open(&old)
            .and_then(|c| c.execute_batch("CREATE TABLE t (x); PRAGMA journal_mode = WAL;"))
            .expect("old database");
        let reopened = open(&old).expect("reopen");
        assert_eq!(page_size(&reopened), 4096, "kept, not rewritten");
        assert_eq!(page_size(&open(&new).expect("reopen")), PAGE_SIZE);
    }

    #[test]
    fn every_connection_waits_30_seconds_for_a_writer_and_commits_durably() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = open(&dir.path().join("t.sqlite3")).expect("open");
        let pragma = |name: &str| -> i64 {
            conn.pragma_query_value(None, name, |r| r.get(0))
                .expect("pragma")
        };
        assert_eq!(pragma("busy_timeout"), 30_000);
        assert_eq!(pragma("synchronous"), 2, "2 is FULL");
    }

    #[test]
    fn a_new_database_its_wal_and_its_new_directory_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("new/sub/reportd.sqlite3");
        let _conn = open(&db).expect("open");
        let mode = |p: &Path| {
            std::fs::metadata(p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
                .permissions()
                .mode()
                & 0o777
        };
        let with = |suffix: &str| Path::new(&format!("{}{suffix}", db.display())).to_path_buf();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&with("-wal")), 0o600);
        assert_eq!(mode(&with("-shm")), 0o600);
        assert_eq!(mode(&dir.path().join("new/sub")), 0o700);
        assert_eq!(mode(&dir.path().join("new")), 0o700);
    }

    #[test]
    fn migrations_are_valid() {
        assert!(Migrations::from_slice(MIGRATIONS).validate().is_ok());
    }

    /// Every row of `sql`, each as its values.
    fn rows_of(conn: &Connection, sql: &str) -> Vec<Vec<rusqlite::types::Value>> {
        let mut stmt = conn.prepare(sql).expect("prepare");
        let width = stmt.column_count();
        stmt.query_map([], |r| {
            (0..width)
                .map(|i| r.get::<_, rusqlite::types::Value>(i))
                .collect()
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
    }

    /// What the `messages` table is: its columns with their types,
    /// defaults and keys, whether it is STRICT, its indexes with their
    /// columns and conditions, and every row.
    fn messages_table(conn: &Connection) -> Vec<Vec<Vec<rusqlite::types::Value>>> {
        vec![
            rows_of(conn, "SELECT * FROM pragma_table_xinfo('messages')"),
            rows_of(conn, "SELECT strict FROM pragma_table_list('messages')"),
            rows_of(
                conn,
                "SELECT l.name, l.\"unique\", l.origin, l.partial, i.seqno, i.name, i.\"desc\", i.coll, i.key
                 FROM pragma_index_list('messages') AS l, pragma_index_xinfo(l.name) AS i
                 ORDER BY l.name, i.seqno",
            ),
            rows_of(
                conn,
                "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'messages' ORDER BY name",
            ),
            rows_of(conn, "SELECT * FROM messages ORDER BY id"),
        ]
    }

    #[test]
    fn remaking_the_messages_table_keeps_every_row_column_index_and_reference_and_its_class_check()
    {
        const CLASSES: [&str; 8] = [
            "report",
            "revision",
            "misaddressed",
            "reply",
            "command",
            "refused",
            "ignored",
            "unparsable",
        ];
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.sqlite3");
        // A database one migration behind, holding a message of every class
        // and one not classified yet, each with its own value in every
        // column, the bytes of one and a report of it.
        let before = {
            let mut conn = Connection::open(&path).expect("open");
            Migrations::from_slice(&MIGRATIONS[..MIGRATIONS.len() - 1])
                .to_latest(&mut conn)
                .expect("migrate to the version before");
            conn.pragma_update(None, "foreign_keys", "ON").expect("fk");
            for (i, class) in CLASSES.iter().map(Some).chain([None]).enumerate() {
                conn.execute(
                    "INSERT INTO messages (source, uidvalidity, uid, source_key, sha256, internaldate,
                                           ingested_at, message_id, sender, subject, class, reason,
                                           flagged, size, raw_dropped_at)
                     VALUES ('imap', 7, ?1, '7/' || ?1, 'hash' || ?1, '2026-11-2' || ?1 || 'T10:00:00Z',
                             '2026-11-30T01:00:0' || ?1 || 'Z', '<m' || ?1 || '@example.com>',
                             'p' || ?1 || '@example.com', '第' || ?1 || '周周报', ?2, 'why ' || ?1,
                             ?1 % 2, 100 + ?1, CASE WHEN ?1 = 6 THEN '2026-11-30T02:00:00Z' END)",
                    rusqlite::params![i64::try_from(i).expect("small"), class],
                )
                .expect("a message");
            }
            conn.execute_batch(
                "INSERT INTO message_raw (message, raw) VALUES (1, x'616263');
                 INSERT INTO reports (message, person, kind, period, received, counts)
                 VALUES (1, 'p0@example.com', 'weekly', '2026-W48', '2026-11-20T10:00:00Z', 1);",
            )
            .expect("rows referring to a message");
            messages_table(&conn)
        };
        let conn = open(&path).expect("open migrates");
        assert_eq!(schema_version(&conn).expect("version"), SCHEMA_VERSION);
        assert_eq!(messages_table(&conn), before);
        let violations: i64 = conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .expect("foreign key check");
        assert_eq!(violations, 0);
        let integrity: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity check");
        assert_eq!(integrity, "ok");
        // Foreign keys are on again once migrated.
        let orphan = conn.execute(
            "INSERT INTO message_raw (message, raw) VALUES (99, x'00')",
            [],
        );
        assert!(orphan.is_err(), "bytes of no message must be refused");
        // Every class and none are taken; anything else is refused.
        for class in CLASSES.iter().map(Some).chain([None]) {
            conn.execute("UPDATE messages SET class = ?1 WHERE id = 1", [class])
                .unwrap_or_else(|e| panic!("{class:?} must be taken: {e}"));
        }
        for bogus in ["Report", "report ", "", "bogus"] {
            let refused = conn.execute("UPDATE messages SET class = ?1 WHERE id = 1", [bogus]);
            assert!(refused.is_err(), "{bogus:?} must be refused");
        }
        // And checked without a temporary B-tree per row.
        let mut explain = conn
            .prepare("EXPLAIN UPDATE messages SET class = ?2 WHERE id = ?1")
            .expect("explain");
        let opcodes: Vec<String> = explain
            .query_map(rusqlite::params![1, "reply"], |r| r.get::<_, String>(1))
            .expect("opcodes")
            .collect::<Result<_, _>>()
            .expect("opcodes");
        assert!(
            !opcodes.iter().any(|op| op == "OpenEphemeral"),
            "{opcodes:?}"
        );
    }

    #[test]
    fn ledger_refuses_updates_and_deletes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = open(&dir.path().join("t.sqlite3")).expect("open");
        conn.execute(
            "INSERT INTO ledger (at, person, period, kind, amount_fen, fund_fen, reason, evidence)
             VALUES ('2026-11-28T14:00:00Z', 'a@example.com', '2026-W48', 'fine', 5000, 2500, 'missing', 'deadline')",
            [],
        )
        .expect("insert");
        let update = conn.execute("UPDATE ledger SET amount_fen = 1", []);
        assert!(update.is_err(), "an update must be refused");
        let delete = conn.execute("DELETE FROM ledger", []);
        assert!(delete.is_err(), "a delete must be refused");
        let second_fine = conn.execute(
            "INSERT INTO ledger (at, person, period, kind, amount_fen, fund_fen, reason, evidence)
             VALUES ('2026-11-29T14:00:00Z', 'a@example.com', '2026-W48', 'fine', 5000, 2500, 'late', 'x')",
            [],
        );
        assert!(
            second_fine.is_err(),
            "a second fine for one period must be impossible"
        );
        conn.execute(
            "INSERT INTO ledger_notes (at, entry, kind, note)
             VALUES ('2026-11-30T01:10:00Z', 1, 'arrived', 'late, arrived 11-30 09:10')",
            [],
        )
        .expect("a note");
        assert!(
            conn.execute("UPDATE ledger_notes SET note = 'x'", [])
                .is_err()
        );
        assert!(conn.execute("DELETE FROM ledger_notes", []).is_err());
    }
}
