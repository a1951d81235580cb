//! One reader of the mailbox per database. `run` and `sync` first take an
//! exclusive OS lock on a file next to the database (`<database>.lock`,
//! holding the pid); a second one is refused at once instead of racing the
//! first through intake and judgement. Short writes (`excuse`, `outbox
//! --retry`, `archive --send`) and readers take no lock: SQLite serialises their transactions
//! with the daemon's, and WAL lets readers read beside it.
//!
//! The lock is `flock(2)` (through `std::fs::File::try_lock`): the kernel
//! drops it when the process ends, however it ends (SIGKILL included), so
//! there is never a stale lock to clean up. The file itself stays; removing
//! it would let a third process lock a new file while the second still holds
//! the old one.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::store::{self, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "reportd is already running (pid {pid}) and writing to {database}: only one reportd may \
         write to a database at a time. Wait for it to finish, or stop it (e.g. `systemctl stop \
         reportd`) and try again; `status`, `ledger`, `messages` and `outbox` work meanwhile"
    )]
    Held { pid: Pid, database: String },
    #[error(
        "cannot take the writer lock {path}: {error}; free space on its file system, or check \
         who may write to that directory"
    )]
    Io {
        path: String,
        // Not `source`: the message says it once, the error's causes would
        // say it again.
        error: std::io::Error,
    },
    #[error(transparent)]
    Dir(#[from] StoreError),
}

/// The pid written in a lock file, as far as it could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pid(pub Option<u32>);

impl std::fmt::Display for Pid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(pid) => write!(f, "{pid}"),
            None => f.write_str("unknown"),
        }
    }
}

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
}

/// The lock file of `database`: `<database>.lock` beside the real file, so
/// that two paths to one database (a symlink, `..`) share one lock.
pub fn lock_path(database: &Path) -> PathBuf {
    let real = std::fs::canonicalize(database).unwrap_or_else(|_| database.to_path_buf());
    let mut name = real.into_os_string();
    // A database not created yet has no link to resolve; the next writer
    // finds the file and resolves to this same name.
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the writer lock of `database` without waiting, or says who holds it.
pub fn acquire(database: &Path) -> Result<WriterLock, LockError> {
    let path = lock_path(database);
    let io = |error| LockError::Io {
        path: path.display().to_string(),
        error,
    };
    store::create_private_dir_for(database)?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(LockError::Held {
                pid: read_pid(&mut file),
                database: database.display().to_string(),
            });
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    write_pid(&mut file, std::process::id()).map_err(io)?;
    Ok(WriterLock { _file: file })
}

fn write_pid(file: &mut File, pid: u32) -> std::io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(format!("{pid}\n").as_bytes())
}

fn read_pid(file: &mut File) -> Pid {
    let mut text = String::new();
    let read = file.rewind().and_then(|()| file.read_to_string(&mut text));
    Pid(read.ok().and_then(|_| text.trim().parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_to_the_database_shares_its_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("reportd.sqlite3");
        std::fs::write(&db, b"").expect("database file");
        let link = dir.path().join("link.sqlite3");
        std::os::unix::fs::symlink(&db, &link).expect("symlink");
        let _first = acquire(&db).expect("first writer");
        assert!(matches!(acquire(&link), Err(LockError::Held { .. })));
    }

    #[test]
    fn a_second_writer_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("new/reportd.sqlite3");
        let first = acquire(&db).expect("first writer");
        let text = std::fs::read_to_string(lock_path(&db)).expect("lock file");
        assert_eq!(text, format!("{}\n", std::process::id()));
        match acquire(&db) {
            Err(LockError::Held { pid, .. }) => {
                assert_eq!(pid, Pid(Some(std::process::id())));
            }
            other => panic!("expected Held, got {other:?}"),
        }
        drop(first);
        assert!(acquire(&db).is_ok(), "free once the first is gone");
    }

    #[test]
    fn the_refusal_names_the_pid_and_what_to_do() {
        let err = LockError::Held {
            pid: Pid(Some(4242)),
            database: "/var/lib/reportd/reportd.sqlite3".into(),
        };
        let text = err.to_string();
        assert!(
            text.starts_with("reportd is already running (pid 4242)"),
            "{text}"
        );
        assert!(text.contains("systemctl stop reportd"), "{text}");
    }

    #[test]
    fn the_lock_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("reportd.sqlite3");
        let _lock = acquire(&db).expect("lock");
        let mode = std::fs::metadata(lock_path(&db))
            .expect("lock file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
