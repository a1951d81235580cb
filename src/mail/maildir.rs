//! A local Maildir as a mail source, for a daemon running on the mail host or
//! importing an export, and for the demo. Read-only: files are never moved
//! from new/ to cur/ and flags are never changed.
//!
//! Arrival time is the file's modification time, which is what Dovecot and
//! other delivery agents set to the delivery time.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use crate::mail::inbox::{self, Fetched};

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
        if !["cur", "new", "tmp"]
            .iter()
            .all(|d| self.path.join(d).is_dir())
        {
            return Err(MaildirError::NotMaildir {
                path: self.path.display().to_string(),
            });
        }
        let known = inbox::known_keys(conn, &self.source_id)?;
        let md = maildir::Maildir::from(self.path.clone());
        let mut batch = Vec::new();
        for entry in md.list_new().chain(md.list_cur()) {
            let entry = entry.map_err(|source| MaildirError::Read {
                path: self.path.display().to_string(),
                source,
            })?;
            if known.contains(entry.id()) {
                continue;
            }
            batch.push(read_entry(entry.id(), entry.path())?);
        }
        batch.sort_by(|a, b| a.internaldate.cmp(&b.internaldate).then(a.key.cmp(&b.key)));
        let mut new = 0;
        for chunk in batch.chunks(500) {
            new += inbox::store_batch(conn, &self.source_id, chunk, None)?;
        }
        Ok(new)
    }
}

fn read_entry(id: &str, path: &Path) -> Result<Fetched, MaildirError> {
    let err = |source| MaildirError::Read {
        path: path.display().to_string(),
        source,
    };
    let raw = std::fs::read(path).map_err(err)?;
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(err)?;
    Ok(Fetched {
        key: id.to_string(),
        uidvalidity: None,
        uid: None,
        internaldate: DateTime::<Utc>::from(modified),
        raw,
    })
}
