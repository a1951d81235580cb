//! What the commands print. Output often goes into a pipe (`reportd status
//! --json | head`); when the reader stops early, the command ends quietly
//! with exit code 0 instead of panicking as `println!` does.

use std::io::Write;

/// The reader of stdout went away; not a failure of the command.
#[derive(Debug, thiserror::Error)]
#[error("stdout was closed by its reader")]
pub struct PipeClosed;

/// Writes `text` to stdout as it is.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(PipeClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to stdout")),
        Ok(()) => Ok(()),
    }
}

/// A listing: `data()` as pretty JSON when `json`, else `table()`.
pub fn listing<T: serde::Serialize>(
    json: bool,
    data: impl FnOnce() -> T,
    table: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if json {
        print_json(&data())
    } else {
        print(&table())
    }
}

/// Writes `value` as pretty JSON and a line end to stdout as it is
/// serialised: a board of 65,000 rows is never held as one string.
pub fn print_json<T: serde::Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(PipeClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to stdout")),
        Ok(()) => Ok(()),
    }
}

/// Writes `text` and a line end to stdout.
pub fn println(text: &str) -> anyhow::Result<()> {
    print(&format!("{text}\n"))
}

/// Writes to stderr, ignoring a closed stderr (there is nobody to tell).
pub fn eprintln(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}
