//! The zip itself, and writing it where it is kept. The zip is
//! deterministic: entries in sorted order under one folder, every
//! timestamp the same fixed instant, fixed permissions (0600), deflate at
//! a fixed level and no extra fields, so the same files always give the
//! same bytes. Files are written privately (0600 in a 0700 directory) and
//! atomically (a temporary file renamed into place), so a reader never
//! sees half a zip. A [`Bundle`] writes the zip entry by entry, so an
//! archive goes to its file without being held in memory; deflating, most
//! of an archive's time, runs on a thread per core ([`Bundle::add_all`]).

use std::fs::File;
use std::io::{Cursor, Seek, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use chrono::{DateTime, Datelike, Timelike, Utc};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::ArchiveError;

/// A zip being written entry by entry to `W` (a file, or memory): each
/// entry under one folder with the same fixed options, so the bytes depend
/// only on the entries and their order, not on where they are written.
pub struct Bundle<W: Write + Seek> {
    writer: ZipWriter<Failed<W>>,
    folder: String,
    options: SimpleFileOptions,
}

impl<W: Write + Seek> Bundle<W> {
    /// A zip of entries under `folder`, stamped `stamp` (to the zip
    /// format's two seconds).
    pub fn new(inner: W, folder: &str, stamp: DateTime<Utc>) -> Bundle<W> {
        Bundle {
            writer: ZipWriter::new(Failed::new(inner)),
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

    /// Adds every `(path, size, key)` of `items`, in their order (callers
    /// give them sorted), with the bytes `read(key)` gives, as
    /// [`Bundle::add`] would, byte for byte. Entries deflate independently,
    /// so each is deflated by whichever of up to [`MAX_THREADS`] threads is
    /// free, into a zip of its own whose compressed entry is then copied in
    /// as it is. Entries are read on the calling thread (`read` may read a
    /// database), at most [`AHEAD_ENTRIES`] entries and [`AHEAD_BYTES`]
    /// ahead of what is added, so memory stays flat while one large
    /// attachment deflates and the other threads go on: `size`, known
    /// before the bytes, says whether an entry fits, and it is read only
    /// once it does. An error of `read` stops here.
    pub fn add_all<K>(
        &mut self,
        items: impl Iterator<Item = (String, usize, K)>,
        mut read: impl FnMut(K) -> Result<Vec<u8>, ArchiveError>,
    ) -> Result<(), ArchiveError> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_THREADS);
        let one = OneEntry {
            folder: self.folder.clone(),
            options: self.options,
        };
        // Both channels hold every entry in flight, so no send ever waits.
        let (jobs, job_queue) = mpsc::sync_channel::<Job>(AHEAD_ENTRIES);
        let (finished, done) = mpsc::sync_channel::<Deflated>(AHEAD_ENTRIES);
        let job_queue = std::sync::Mutex::new(job_queue);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                let (one, job_queue, finished) = (one.clone(), &job_queue, finished.clone());
                scope.spawn(move || {
                    while let Some((index, path, bytes)) = next_job(job_queue) {
                        if finished
                            .send((index, bytes.len(), one.zip(&path, &bytes)))
                            .is_err()
                        {
                            break;
                        }
                    }
                });
            }
            drop(finished);
            // Owned here, so that leaving early (an entry unreadable, the
            // file full) drops it and every deflating thread stops at its
            // next entry instead of working through the queue.
            let done = done;
            let mut ahead = Ahead::default();
            for (index, (path, size, key)) in items.enumerate() {
                while ahead.entries >= AHEAD_ENTRIES
                    || (ahead.entries > 0 && ahead.bytes + size > AHEAD_BYTES)
                {
                    self.add_ready(&done, &mut ahead)?;
                }
                let bytes = read(key)?;
                ahead.sent(bytes.len());
                jobs.send((index, path, bytes))
                    .map_err(|_| ArchiveError::DeflatingStopped)?;
            }
            drop(jobs);
            while ahead.entries > 0 {
                self.add_ready(&done, &mut ahead)?;
            }
            Ok(())
        })
    }

    /// Waits for one more deflated entry, then copies in every entry that
    /// is next in order.
    fn add_ready(
        &mut self,
        done: &mpsc::Receiver<Deflated>,
        ahead: &mut Ahead,
    ) -> Result<(), ArchiveError> {
        let (index, len, zipped) = done.recv().map_err(|_| ArchiveError::DeflatingStopped)?;
        ahead.waiting.insert(index, (len, zipped?));
        while let Some((len, zipped)) = ahead.waiting.remove(&ahead.next) {
            let mut one = ZipArchive::new(Cursor::new(zipped))?;
            self.writer.raw_copy_file(one.by_index_raw(0)?)?;
            ahead.added(len);
        }
        Ok(())
    }

    /// Writes the central directory and hands back the writer.
    pub fn finish(self) -> Result<W, ArchiveError> {
        Ok(self
            .writer
            .finish()?
            .into_inner()
            .map_err(zip::result::ZipError::Io)?)
    }
}

/// The bundle's writer, which remembers the first write that failed (a
/// full disk) and takes nothing after it. A zip abandoned on an error is
/// finished again when dropped, writing its directory into the same full
/// disk and printing the zip crate's own error on stderr beside reportd's;
/// that write now goes nowhere, and [`Bundle::finish`] still fails.
struct Failed<W> {
    inner: W,
    failed: Option<std::io::ErrorKind>,
}

impl<W> Failed<W> {
    fn new(inner: W) -> Failed<W> {
        Failed {
            inner,
            failed: None,
        }
    }

    fn into_inner(self) -> std::io::Result<W> {
        match self.failed {
            None => Ok(self.inner),
            Some(kind) => Err(std::io::Error::new(kind, "an earlier write failed")),
        }
    }

    fn noting<T>(&mut self, result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &result {
            self.failed.get_or_insert(e.kind());
        }
        result
    }
}

impl<W: Write> Write for Failed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.failed.is_some() {
            return Ok(buf.len());
        }
        let written = self.inner.write(buf);
        self.noting(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.failed.is_some() {
            return Ok(());
        }
        let flushed = self.inner.flush();
        self.noting(flushed)
    }
}

impl<W: Seek> Seek for Failed<W> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        if self.failed.is_some() {
            return Ok(0);
        }
        let sought = self.inner.seek(pos);
        self.noting(sought)
    }
}

/// Deflating threads [`Bundle::add_all`] uses at most (one per core).
pub const MAX_THREADS: usize = 4;
/// Entries [`Bundle::add_all`] reads ahead of what it has added, at most.
/// Many: while one thread deflates a 4 MB attachment (80 ms), the others
/// get through hundreds of ordinary messages, which wait their turn to be
/// added (a month's archive took 1.5 s with 32, 1.1 s with 512).
pub const AHEAD_ENTRIES: usize = 512;
/// Bytes of entries read ahead, at most (a larger entry goes alone). The
/// peak of a first sync's memory is here. Measured on a month of a thousand
/// people (6,813 files, the archive alone): 4 MiB, 1.25 s and 56 MiB; 6 MiB,
/// 1.19 s and 53 MiB; 8 MiB, 1.03 s and 59 MiB, with a first sync's peak at
/// 61 to 62 MiB for 6 and 63 to 69 MiB for 8. Less than 6 holds the other
/// thread up behind one large attachment again.
pub const AHEAD_BYTES: usize = 6 << 20;

/// An entry to deflate: its place, path and bytes.
type Job = (usize, String, Vec<u8>);
/// A deflated entry: its place, its size before, and its one-entry zip.
type Deflated = (usize, usize, Result<Vec<u8>, ArchiveError>);

/// The next entry to deflate, or none once the reading side is done (or
/// another deflating thread panicked holding the queue).
fn next_job(queue: &std::sync::Mutex<mpsc::Receiver<Job>>) -> Option<Job> {
    queue.lock().ok()?.recv().ok()
}

/// What [`Bundle::add_all`] has read but not added yet.
#[derive(Default)]
struct Ahead {
    /// The place of the next entry to add.
    next: usize,
    entries: usize,
    bytes: usize,
    /// Deflated, waiting for the entries before them.
    waiting: std::collections::BTreeMap<usize, (usize, Vec<u8>)>,
}

impl Ahead {
    fn sent(&mut self, len: usize) {
        self.entries += 1;
        self.bytes += len;
    }

    fn added(&mut self, len: usize) {
        self.next += 1;
        self.entries -= 1;
        self.bytes -= len;
    }
}

/// A zip of one entry, with a bundle's folder and options: what a
/// deflating thread makes for [`Bundle::add_all`] to copy in.
#[derive(Clone)]
struct OneEntry {
    folder: String,
    options: SimpleFileOptions,
}

impl OneEntry {
    fn zip(&self, path: &str, bytes: &[u8]) -> Result<Vec<u8>, ArchiveError> {
        let mut writer = ZipWriter::new(Cursor::new(Vec::with_capacity(bytes.len() / 2 + 256)));
        writer.start_file(format!("{}/{path}", self.folder), self.options)?;
        writer.write_all(bytes).map_err(zip::result::ZipError::Io)?;
        let mut zipped = writer.finish()?.into_inner();
        // It waits for the entries before it: at its size, not at the
        // capacity it grew to (up to twice that).
        zipped.shrink_to_fit();
        Ok(zipped)
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
            error: source,
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
        move |source| ArchiveError::Io {
            path,
            error: source,
        }
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    let target = dir.join(name);
    remove_stale_partials(dir);
    // tempfile creates 0600; the rename keeps the mode.
    let tmp = tempfile::Builder::new()
        .prefix(PARTIAL_PREFIX)
        .tempfile_in(dir)
        .map_err(io(dir))?;
    let filled = fill(tmp.as_file())?;
    tmp.as_file().sync_all().map_err(io(&target))?;
    tmp.persist(&target).map_err(|e| ArchiveError::Io {
        path: target.display().to_string(),
        error: e.error,
    })?;
    Ok((target, filled))
}

/// How the temporary file of a zip or sheet being written is named. A
/// process killed while writing (SIGKILL, a power cut) leaves it behind;
/// the next write in the same directory removes it once it is
/// [`PARTIAL_STALE_AFTER`] old. Only files of this name: `--out` may be a
/// directory others use, such as /tmp.
pub const PARTIAL_PREFIX: &str = ".reportd-partial-";
/// Older than any write in progress (a month's archive takes seconds).
pub const PARTIAL_STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes what killed writes left in `dir`; what cannot be removed or
/// read stays (it is hidden, and the write goes on).
fn remove_stale_partials(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry
            .file_name()
            .to_string_lossy()
            .starts_with(PARTIAL_PREFIX)
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > PARTIAL_STALE_AFTER);
        if stale && std::fs::remove_file(entry.path()).is_ok() {
            tracing::info!(file = %entry.path().display(), "removed a partial file a killed write left");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_partial_file_a_killed_write_left_is_removed_by_the_next_write_once_stale() {
        let dir = tempfile::tempdir().expect("tempdir");
        let aged = |name: &str, age: std::time::Duration| {
            let path = dir.path().join(name);
            let file = File::create(&path).expect("create");
            file.set_modified(std::time::SystemTime::now() - age)
                .expect("mtime");
            path
        };
        let hour = std::time::Duration::from_secs(3600);
        let stale = aged(&format!("{PARTIAL_PREFIX}abc123"), 2 * hour);
        let writing = aged(&format!("{PARTIAL_PREFIX}def456"), hour / 60);
        let someone_elses = aged(".tmpXYZ789", 2 * hour);
        write_private(dir.path(), "2026-10.zip", b"zip").expect("write");
        assert!(!stale.exists(), "a stale partial file is removed");
        assert!(writing.exists(), "a write in progress is left alone");
        assert!(
            someone_elses.exists(),
            "another program's file is left alone"
        );
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(PARTIAL_PREFIX))
            .collect();
        assert_eq!(
            left,
            [format!("{PARTIAL_PREFIX}def456")],
            "and the write left none of its own"
        );
    }

    fn stamp() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
    }

    /// Entries of different sizes, some empty, some larger than a deflate
    /// block, more than the threads have in flight.
    fn many() -> Vec<(String, Vec<u8>)> {
        (0..60u32)
            .map(|i| {
                let len = (i as usize * 7919) % 200_000;
                let bytes = (0..len)
                    .map(|j| ((j as u32 * 31 + i) % 251) as u8)
                    .collect();
                (format!("{i:03}.eml"), bytes)
            })
            .collect()
    }

    /// A file that takes `room` bytes, then says the disk is full; it
    /// counts what was tried after that.
    struct FullDisk {
        inner: Cursor<Vec<u8>>,
        room: usize,
        tried_after: std::rc::Rc<std::cell::Cell<usize>>,
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.inner.get_ref().len() + buf.len() > self.room {
                self.tried_after.set(self.tried_after.get() + 1);
                return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
            }
            self.inner.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Seek for FullDisk {
        fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
            self.inner.seek(pos)
        }
    }

    #[test]
    fn a_bundle_on_a_full_disk_fails_once_and_writes_nothing_more_when_dropped() {
        let tried_after = std::rc::Rc::new(std::cell::Cell::new(0));
        let disk = FullDisk {
            inner: Cursor::new(Vec::new()),
            room: 50_000,
            tried_after: std::rc::Rc::clone(&tried_after),
        };
        let mut bundle = Bundle::new(disk, "f", stamp());
        let err = many()
            .iter()
            .try_for_each(|(path, bytes)| bundle.add(path, bytes))
            .expect_err("the disk fills");
        assert!(
            matches!(&err, ArchiveError::Zip(zip::result::ZipError::Io(e)) if e.kind() == std::io::ErrorKind::StorageFull),
            "{err}"
        );
        assert_eq!(tried_after.get(), 1, "the failing write");
        // Dropped unfinished, the zip tries to finish itself: nothing of
        // that reaches the full disk (nor is an error printed).
        drop(bundle);
        assert_eq!(tried_after.get(), 1, "nothing after it");
    }

    #[test]
    fn entries_deflated_on_threads_give_the_bytes_of_one_added_after_another() {
        let files = many();
        let mut one_by_one = Bundle::new(Cursor::new(Vec::new()), "f", stamp());
        for (path, bytes) in &files {
            one_by_one.add(path, bytes).expect("add");
        }
        let one_by_one = one_by_one.finish().expect("finish").into_inner();
        let mut threaded = Bundle::new(Cursor::new(Vec::new()), "f", stamp());
        threaded
            .add_all(
                files
                    .iter()
                    .map(|(path, bytes)| (path.clone(), bytes.len(), bytes)),
                |bytes| Ok(bytes.clone()),
            )
            .expect("add_all");
        let threaded = threaded.finish().expect("finish").into_inner();
        assert_eq!(threaded, one_by_one);
        let mut read = ZipArchive::new(Cursor::new(threaded)).expect("a zip");
        assert_eq!(read.len(), files.len());
        let mut last = Vec::new();
        read.by_name("f/059.eml")
            .expect("entry")
            .read_to_end(&mut last)
            .expect("read");
        assert_eq!(last, files[59].1);
    }

    #[test]
    fn an_entry_that_cannot_be_read_stops_the_bundle_with_its_error() {
        let items = many()
            .into_iter()
            .enumerate()
            .map(|(i, (path, bytes))| (path, bytes.len(), (i, bytes)));
        let read = |(i, bytes)| match i {
            30 => Err(ArchiveError::MessageChanged {
                message: 30,
                path: "030.eml".into(),
            }),
            _ => Ok(bytes),
        };
        let mut bundle = Bundle::new(Cursor::new(Vec::new()), "f", stamp());
        let err = bundle.add_all(items, read).expect_err("stops");
        assert!(
            matches!(err, ArchiveError::MessageChanged { message: 30, .. }),
            "{err}"
        );
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
