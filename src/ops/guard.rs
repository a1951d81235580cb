//! What `reportd backup` and `reportd restore` check before they touch a
//! file: that a backup is never written over the live database (or its WAL
//! or shared memory), that a backup being restored is this team's (same
//! mailbox, people on the roster), and what a restore would lose (entries
//! made in the current database after the backup was taken).

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, params};

use crate::money::Fen;

/// The files SQLite keeps for `database`: writing over any of them
/// corrupts it under a running daemon.
fn database_files(database: &Path) -> Vec<PathBuf> {
    ["", "-wal", "-shm", "-journal"]
        .iter()
        .map(|suffix| {
            let mut name = database.as_os_str().to_os_string();
            name.push(suffix);
            PathBuf::from(name)
        })
        .collect()
}

/// `path` with its directory made absolute and free of `..` and symlinks,
/// and the file itself followed when it is a symlink.
fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = std::fs::canonicalize(path) {
        return Some(p);
    }
    let parent = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(parent).ok()?.join(path.file_name()?))
}

/// Whether `a` and `b` name one file: by resolved path, or (both existing)
/// by device and inode, which also catches a hard link.
fn same_file(a: &Path, b: &Path) -> bool {
    if let (Some(x), Some(y)) = (resolved(a), resolved(b))
        && x == y
    {
        return true;
    }
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// The file of `database` (itself, its WAL, ...) that `dest` names, if any.
pub fn database_file_named(database: &Path, dest: &Path) -> Option<PathBuf> {
    database_files(database)
        .into_iter()
        .find(|f| same_file(f, dest))
}

/// What the configured team is: its mail source and its people (names and
/// addresses).
#[derive(Debug, Clone)]
pub struct Team {
    pub source: String,
    pub people: BTreeSet<String>,
}

/// How the backup at `backup` differs from `team`: each difference as a
/// sentence; empty when it is this team's.
pub fn foreign(backup: &Connection, team: &Team) -> rusqlite::Result<Vec<String>> {
    let mut found = Vec::new();
    let sources = strings(
        backup,
        "SELECT source FROM checkpoints UNION SELECT DISTINCT source FROM messages",
    )?;
    if !sources.is_empty() && !sources.contains(&team.source) {
        found.push(format!(
            "it was read from {}, the config reads {}",
            sources.into_iter().collect::<Vec<_>>().join(", "),
            team.source
        ));
    }
    let people = strings(
        backup,
        "SELECT person FROM ledger UNION SELECT person FROM reports",
    )?;
    if !people.is_empty() && people.is_disjoint(&team.people) {
        let shown: Vec<_> = people.iter().take(5).cloned().collect();
        let more = people.len().saturating_sub(shown.len());
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        found.push(format!(
            "none of its people ({}{more}) is on the roster",
            shown.join(", ")
        ));
    }
    Ok(found)
}

fn strings(conn: &Connection, sql: &str) -> rusqlite::Result<BTreeSet<String>> {
    conn.prepare(sql)?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect()
}

/// An entry of the current database that a backup lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub person: String,
    pub period: String,
    pub kind: String,
    pub amount: Option<Fen>,
    /// How to tell it apart: a reason, a note, a file.
    pub detail: String,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.person, self.period, self.kind)?;
        if let Some(a) = self.amount {
            write!(f, " {a}")?;
        }
        write!(f, " ({})", self.detail)
    }
}

/// Data entered by hand (valid reasons and the waivers they booked, sales
/// imports, fund spending) in `current` that the backup at `backup` does
/// not hold, matched by what they are rather than their row ids: a restore
/// loses these for good, while what came by mail comes back with the mail.
pub fn missing(current: &Connection, backup: &Path) -> rusqlite::Result<Vec<Missing>> {
    let name = backup.to_string_lossy();
    current.execute("ATTACH DATABASE ?1 AS backup", params![name.as_ref()])?;
    let found = missing_attached(current);
    current.execute_batch("DETACH DATABASE backup")?;
    found
}

/// Per table: the columns person, period, kind, amount (fen or NULL) and
/// detail of a row `m`; which rows were entered by hand (what came by mail,
/// or was judged by the clock, a pass books again once the mail is read
/// again: report fines and their reversals, reasons and sales files sent by
/// email); and when a backup row `b` is the same entry.
const MISSING: &[(&str, &str, &str, &str)] = &[
    (
        "ledger",
        "person, period, kind, amount_fen, reason",
        "m.evidence LIKE 'excuse #%' AND NOT EXISTS \
         (SELECT 1 FROM main.commands c WHERE 'excuse #' || c.excuse = m.evidence)",
        "b.person = m.person AND b.period = m.period AND b.kind = m.kind",
    ),
    (
        "excuses",
        "person, period, 'valid reason', NULL, reason || ', by ' || by",
        "NOT EXISTS (SELECT 1 FROM main.commands c WHERE c.excuse = m.id)",
        "b.person = m.person AND b.period = m.period",
    ),
    (
        "sales_imports",
        "'-', month, 'sales import', NULL, source || ', by ' || by",
        "NOT EXISTS (SELECT 1 FROM main.sales_emails e WHERE e.import = m.id)",
        "b.month = m.month AND b.sha256 = m.sha256 AND b.at = m.at",
    ),
    (
        "fund_spending",
        "by, substr(at, 1, 10), 'fund spending', amount_fen, note",
        "1",
        "b.at = m.at AND b.amount_fen = m.amount_fen AND b.note = m.note",
    ),
];

fn missing_attached(conn: &Connection) -> rusqlite::Result<Vec<Missing>> {
    let mut all = Vec::new();
    // Table and column names are the constants above, never input.
    for (table, columns, by_hand, same) in MISSING {
        if !has_table(conn, "main", table)? {
            continue;
        }
        let sql = if has_table(conn, "backup", table)? {
            format!(
                "SELECT {columns} FROM main.{table} m WHERE {by_hand} AND NOT EXISTS \
                 (SELECT 1 FROM backup.{table} b WHERE {same}) ORDER BY m.id"
            )
        } else {
            // An older backup without the table: all of it is new.
            format!("SELECT {columns} FROM main.{table} m WHERE {by_hand} ORDER BY m.id")
        };
        all.extend(rows(conn, &sql)?);
    }
    Ok(all)
}

fn rows(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<Missing>> {
    conn.prepare(sql)?
        .query_map([], |r| {
            Ok(Missing {
                person: r.get(0)?,
                period: r.get(1)?,
                kind: r.get(2)?,
                amount: r.get::<_, Option<i64>>(3)?.map(Fen),
                detail: r.get(4)?,
            })
        })?
        .collect()
}

fn has_table(conn: &Connection, schema: &str, table: &str) -> rusqlite::Result<bool> {
    // `schema` is "main" or "backup", never input.
    conn.query_row(
        &format!("SELECT count(*) FROM {schema}.sqlite_schema WHERE type = 'table' AND name = ?1"),
        params![table],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// Opens a backup read-only.
pub fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
}
