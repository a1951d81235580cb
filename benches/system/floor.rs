//! The bare-fetch floor: the least any client must do to read the mailbox.
//! One plain TCP connection, LOGIN, EXAMINE, then `UID FETCH a:b (UID
//! INTERNALDATE BODY.PEEK[])` in batches of 1,000 UIDs, reading every
//! literal and keeping nothing: what reportd's first sync is compared with.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// UIDs per `UID FETCH`.
pub const BATCH: u32 = 1_000;

/// What a pass over the mailbox read.
#[derive(Debug, Clone, Copy)]
pub struct Fetched {
    pub messages: usize,
    pub bytes: u64,
    pub wall: Duration,
}

struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    tag: u32,
    line: Vec<u8>,
}

impl Conn {
    fn open(port: u16) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port)).context("connecting to Dovecot")?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        let mut conn = Conn {
            reader: BufReader::with_capacity(1 << 20, stream.try_clone()?),
            writer: stream,
            tag: 0,
            line: Vec::with_capacity(4096),
        };
        conn.read_line()?; // greeting
        Ok(conn)
    }

    fn read_line(&mut self) -> anyhow::Result<()> {
        self.line.clear();
        if self.reader.read_until(b'\n', &mut self.line)? == 0 {
            bail!("Dovecot closed the connection");
        }
        Ok(())
    }

    /// The size of the literal this line announces (`... {123}\r\n`).
    fn literal(&self) -> Option<u64> {
        let l = self.line.strip_suffix(b"\r\n")?.strip_suffix(b"}")?;
        let open = l.iter().rposition(|&b| b == b'{')?;
        std::str::from_utf8(&l[open + 1..]).ok()?.parse().ok()
    }

    /// Sends a command and reads to its tagged answer; calls `untagged`
    /// with each untagged line (literals are skipped and counted).
    fn command(&mut self, text: &str, mut untagged: impl FnMut(&[u8], u64)) -> anyhow::Result<()> {
        self.tag += 1;
        let tag = format!("a{}", self.tag);
        self.writer
            .write_all(format!("{tag} {text}\r\n").as_bytes())?;
        loop {
            self.read_line()?;
            if self.line.starts_with(tag.as_bytes()) {
                if !self.line[tag.len()..].starts_with(b" OK") {
                    bail!("{text}: {}", String::from_utf8_lossy(&self.line));
                }
                return Ok(());
            }
            let mut literal_bytes = 0;
            let first = self.line.clone();
            while let Some(n) = self.literal() {
                std::io::copy(&mut (&mut self.reader).take(n), &mut std::io::sink())?;
                literal_bytes += n;
                self.read_line()?; // the rest of the response after the literal
            }
            untagged(&first, literal_bytes);
        }
    }
}

/// Reads every message of INBOX once; returns the count, the bytes of all
/// literals and the wall time from connect to the last batch.
pub fn fetch_all(port: u16, user: &str, password: &str) -> anyhow::Result<Fetched> {
    fetch_last(port, user, password, u32::MAX)
}

/// The floor of an incremental sync: connect, LOGIN, EXAMINE (which makes
/// Dovecot bring its index up to date with the Maildir), then fetch the
/// newest `count` messages, in the same batches.
pub fn fetch_last(port: u16, user: &str, password: &str, count: u32) -> anyhow::Result<Fetched> {
    let start = Instant::now();
    let mut conn = Conn::open(port)?;
    conn.command(&format!("LOGIN \"{user}\" \"{password}\""), |_, _| {})?;
    let mut uidnext = 0u32;
    conn.command("EXAMINE INBOX", |line, _| {
        let text = String::from_utf8_lossy(line);
        if let Some(rest) = text.split("[UIDNEXT ").nth(1) {
            uidnext = rest
                .split(']')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        }
    })?;
    let (mut messages, mut bytes) = (0usize, 0u64);
    let mut first = uidnext.saturating_sub(count).max(1);
    while first < uidnext {
        let last = (first + BATCH - 1).min(uidnext - 1);
        conn.command(
            &format!("UID FETCH {first}:{last} (UID INTERNALDATE BODY.PEEK[])"),
            |line, n| {
                if line.windows(7).any(|w| w == b" FETCH ") {
                    messages += 1;
                    bytes += n;
                }
            },
        )?;
        first = last + 1;
    }
    conn.command("LOGOUT", |_, _| {}).ok();
    Ok(Fetched {
        messages,
        bytes,
        wall: start.elapsed(),
    })
}
