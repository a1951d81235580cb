//! A local Maildir as a mail source, for a daemon running on the mail host or
//! importing an export, and for the demo. Read-only: files are never moved
//! from new/ to cur/ and flags are never changed.
//!
//! Arrival time is the file's modification time, which is what Dovecot and
//! other delivery agents set to the delivery time.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use crate::mail::inbox::{self, FetchReport, Fetched};
use crate::mail::storer;

#[derive(Debug, thiserror::Error)]
pub enum MaildirError {
    #[error(
        "{path} is not a Maildir (it needs cur/, new/ and tmp/); check `maildir.path` in the config"
    )]
    NotMaildir { path: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot store messages: {0}")]
    Store(#[from] rusqlite::Error),
}

pub struct MaildirSource {
    path: PathBuf,
    source_id: String,
}

impl MaildirSource {
    pub fn new(path: &Path) -> MaildirSource {
        MaildirSource {
            path: path.to_path_buf(),
            source_id: format!("maildir:{}", path.display()),
        }
    }

    pub fn source_id(&self) -> &str {
        &self.source_id
    }

    /// Stores every file not stored before; returns how many were new.
    pub fn fetch_new(&self, conn: &mut Connection) -> Result<usize, MaildirError> {
        Ok(self.fetch(conn)?.new)
    }

    /// Stores every file not stored before, oldest first, in batches of at
    /// most [`inbox::BATCH_MESSAGES`] files and [`inbox::BATCH_BYTES`]:
    /// only the names, sizes and times of new files are listed first, and
    /// one batch of contents is held at a time.
    pub fn fetch(&self, conn: &mut Connection) -> Result<FetchReport, MaildirError> {
        if !["cur", "new", "tmp"]
            .iter()
            .all(|d| self.path.join(d).is_dir())
        {
            return Err(MaildirError::NotMaildir {
                path: self.path.display().to_string(),
            });
        }
        let mut files = self.new_files(conn)?;
        files.sort_by(|a, b| a.modified.cmp(&b.modified).then(a.key.cmp(&b.key)));
        let sizes: Vec<u64> = files.iter().map(|f| f.size).collect();
        let mut report = FetchReport::default();
        // Batches are read one at a time and written a few to a
        // transaction (see `storer` for the sizes).
        let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (mut messages, mut bytes) = (0, 0);
        for range in inbox::batch_ranges(&sizes) {
            let mut batch = Vec::with_capacity(range.len());
            for file in &files[range] {
                if let Some(m) = read_file(file)? {
                    batch.push(m);
                }
            }
            let batch_bytes: u64 = batch.iter().map(|m| m.raw().len() as u64).sum();
            report.batches.add(batch.len(), batch_bytes);
            report.new += inbox::insert_batch(&tx, &self.source_id, &batch, None)?;
            messages += batch.len();
            bytes += batch_bytes;
            if messages >= storer::COMMIT_MESSAGES || bytes >= storer::COMMIT_BYTES {
                crate::failpoint::hit(crate::failpoint::FETCH_BEFORE_COMMIT);
                tx.commit()?;
                tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                (messages, bytes) = (0, 0);
            }
        }
        if messages > 0 {
            crate::failpoint::hit(crate::failpoint::FETCH_BEFORE_COMMIT);
        }
        tx.commit()?;
        Ok(report)
    }

    /// Files in new/ and cur/ not stored before: names, sizes, times.
    fn new_files(&self, conn: &Connection) -> Result<Vec<NewFile>, MaildirError> {
        let md = maildir::Maildir::from(self.path.clone());
        let mut files = Vec::new();
        for entry in md.list_new().chain(md.list_cur()) {
            let entry = entry.map_err(|source| MaildirError::Read {
                path: self.path.display().to_string(),
                source,
            })?;
            if inbox::key_known(conn, &self.source_id, entry.id())? {
                continue;
            }
            let path = entry.path().clone();
            let meta = match std::fs::metadata(&path) {
                Ok(meta) => meta,
                // Moved from new/ to cur/ by a mail client since the
                // listing: it is read under its new name next time.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(read_error(&path, source)),
            };
            let modified = meta.modified().map_err(|e| read_error(&path, e))?;
            files.push(NewFile {
                key: entry.id().to_string(),
                path,
                size: meta.len(),
                modified: DateTime::<Utc>::from(modified),
            });
        }
        Ok(files)
    }
}

/// A file of the Maildir not stored yet, before it is read.
struct NewFile {
    key: String,
    path: PathBuf,
    size: u64,
    /// The delivery time (see the module comment).
    modified: DateTime<Utc>,
}

fn read_error(path: &Path, source: std::io::Error) -> MaildirError {
    MaildirError::Read {
        path: path.display().to_string(),
        source,
    }
}

/// The file's contents, or `None` when it was moved away since the listing
/// (a mail client marking it read): it is read under its new name next time.
fn read_file(file: &NewFile) -> Result<Option<Fetched>, MaildirError> {
    let raw = match std::fs::read(&file.path) {
        Ok(raw) => raw,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(read_error(&file.path, source)),
    };
    Ok(Some(Fetched::new(
        file.key.clone(),
        None,
        None,
        file.modified,
        raw,
    )))
}
