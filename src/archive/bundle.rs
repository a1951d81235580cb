//! The zip itself, and writing it where it is kept. The zip is
//! deterministic: entries in sorted order under one folder, every
//! timestamp the same fixed instant, fixed permissions (0600), deflate at
//! a fixed level and no extra fields, so the same files always give the
//! same bytes. Files are written privately (0600 in a 0700 directory) and
//! atomically (a temporary file renamed into place), so a reader never
//! sees half a zip. A [`Bundle`] writes the zip entry by entry, so an
//! archive goes to its file without being held in memory.

use std::fs::File;
use std::io::{Cursor, Seek, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Timelike, Utc};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::ArchiveError;

/// A zip being written entry by entry to `W` (a file, or memory): each
/// entry under one folder with the same fixed options, so the bytes depend
/// only on the entries and their order, not on where they are written.
pub struct Bundle<W: Write + Seek> {
    writer: ZipWriter<W>,
    folder: String,
    options: SimpleFileOptions,
}

impl<W: Write + Seek> Bundle<W> {
    /// A zip of entries under `folder`, stamped `stamp` (to the zip
    /// format's two seconds).
    pub fn new(inner: W, folder: &str, stamp: DateTime<Utc>) -> Bundle<W> {
        Bundle {
            writer: ZipWriter::new(inner),
            folder: folder.to_string(),
            options: SimpleFileOptions::default()
                .compression_method(CompressionMethod::Deflated)
                .compression_level(Some(6))
                .last_modified_time(zip_time(stamp))
                .unix_permissions(0o600),
        }
    }

    /// Adds `<folder>/<path>` holding `bytes`; callers add in sorted order.
    pub fn add(&mut self, path: &str, bytes: &[u8]) -> Result<(), ArchiveError> {
        self.writer
            .start_file(format!("{}/{path}", self.folder), self.options)?;
        self.writer
            .write_all(bytes)
            .map_err(zip::result::ZipError::Io)?;
        Ok(())
    }

    /// Writes the central directory and hands back the writer.
    pub fn finish(self) -> Result<W, ArchiveError> {
        Ok(self.writer.finish()?)
    }
}

/// Builds the zip in memory: each `(path, bytes)` as `<folder>/<path>`, in
/// sorted order, stamped `stamp`. The same bytes as a [`Bundle`] written to
/// a file with the same entries.
pub fn zip(
    folder: &str,
    stamp: DateTime<Utc>,
    files: &[(String, &[u8])],
) -> Result<Vec<u8>, ArchiveError> {
    let mut sorted: Vec<&(String, &[u8])> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut bundle = Bundle::new(Cursor::new(Vec::new()), folder, stamp);
    for (path, bytes) in sorted {
        bundle.add(path, bytes)?;
    }
    Ok(bundle.finish()?.into_inner())
}

/// `stamp` as a zip time; the zip epoch (1980-01-01) if it cannot be one.
fn zip_time(stamp: DateTime<Utc>) -> zip::DateTime {
    let fields = (
        u16::try_from(stamp.year()).ok(),
        u8::try_from(stamp.month()).ok(),
        u8::try_from(stamp.day()).ok(),
        u8::try_from(stamp.hour()).ok(),
        u8::try_from(stamp.minute()).ok(),
        u8::try_from(stamp.second()).ok(),
    );
    match fields {
        (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) => {
            zip::DateTime::from_date_and_time(y, mo, d, h, mi, s).unwrap_or_default()
        }
        _ => zip::DateTime::default(),
    }
}

/// Writes `bytes` to `dir/name`, replacing any file there, mode 0600; `dir`
/// and its missing parents are created 0700.
pub fn write_private(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, ArchiveError> {
    let (path, ()) = write_private_with(dir, name, |mut file| {
        file.write_all(bytes).map_err(|source| ArchiveError::Io {
            path: dir.join(name).display().to_string(),
            source,
        })
    })?;
    Ok(path)
}

/// Like [`write_private`], with the contents written by `fill` into the
/// (temporary, 0600) file: it is renamed to `dir/name` only once `fill`
/// succeeded and the bytes are on disk, so nobody sees half a file and a
/// failure (or a refusal by `fill`) leaves what was there.
pub fn write_private_with<T>(
    dir: &Path,
    name: &str,
    fill: impl FnOnce(&File) -> Result<T, ArchiveError>,
) -> Result<(PathBuf, T), ArchiveError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| ArchiveError::Io { path, source }
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    let target = dir.join(name);
    // tempfile creates 0600; the rename keeps the mode.
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    let filled = fill(tmp.as_file())?;
    tmp.as_file().sync_all().map_err(io(&target))?;
    tmp.persist(&target).map_err(|e| ArchiveError::Io {
        path: target.display().to_string(),
        source: e.error,
    })?;
    Ok((target, filled))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn stamp() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn the_same_files_in_any_order_give_the_same_bytes() {
        let a: &[u8] = b"first";
        let b: &[u8] = "第二".as_bytes();
        let one = zip("f", stamp(), &[("a.txt".into(), a), ("b.txt".into(), b)]).expect("zip");
        let two = zip("f", stamp(), &[("b.txt".into(), b), ("a.txt".into(), a)]).expect("zip");
        assert_eq!(one, two);
        let mut archive = zip::ZipArchive::new(Cursor::new(one)).expect("read back");
        let names: Vec<String> = archive
            .file_names()
            .map(|n| n.expect("name").into_owned())
            .collect();
        assert_eq!(names, ["f/a.txt", "f/b.txt"]);
        let mut entry = archive.by_name("f/b.txt").expect("entry");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o600));
        let modified = entry.last_modified().expect("time");
        assert_eq!(
            (modified.year(), modified.month(), modified.day()),
            (2026, 12, 1)
        );
        let mut text = String::new();
        entry.read_to_string(&mut text).expect("read");
        assert_eq!(text, "第二");
    }

    #[test]
    fn written_files_are_private_and_replace_what_was_there() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let kept = dir.path().join("new/archive");
        write_private(&kept, "x.zip", b"old").expect("write");
        let path = write_private(&kept, "x.zip", b"new").expect("write again");
        assert_eq!(std::fs::read(&path).expect("read"), b"new");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&kept), 0o700);
        assert_eq!(
            std::fs::read_dir(&kept).expect("dir").count(),
            1,
            "no temp file left"
        );
    }
}
