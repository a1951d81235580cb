//! The assistant's mailbox over IMAP, read-only: EXAMINE, `BODY.PEEK[]`, no
//! flags, no expunge. New messages are found by UID above the checkpoint and
//! stored with the checkpoint in one transaction (see `mail::inbox`).
//!
//! async-imap has no TLS and no per-command timeouts of its own: the stream
//! is wrapped in tokio-rustls here, and every command in a timeout.
//!
//! Memory and progress do not depend on the mailbox: the sizes of new
//! messages are asked first (`RFC822.SIZE`), and bodies are fetched in
//! batches of `inbox::BATCH_MESSAGES` messages and `inbox::BATCH_BYTES`. A
//! batch that cannot be downloaded in its time ([`FetchTimeout`]) is fetched
//! again in halves over a new connection, down to one message; a message
//! that still fails is skipped (remembered in `inbox`), the checkpoint moves
//! past it, and it is tried again on a later pass.

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use async_imap::types::{Fetch, Mailbox, UnsolicitedResponse};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use rusqlite::Connection;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::config::{ImapConfig, PasswordError, Security};
use crate::mail::inbox::{self, Checkpoint, FetchReport, Fetched};
use crate::mail::storer;
use crate::mail::tls::{self, TlsError};

/// Any byte stream an IMAP session can run over (TCP or TLS over TCP).
pub trait ImapStream: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> ImapStream for T {}

pub type Session = async_imap::Session<Box<dyn ImapStream>>;

/// One command may take this long before the connection is given up.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// UIDs per `RFC822.SIZE` request (as ranges, so the line stays short).
const SIZE_CHUNK: usize = 5_000;

/// How long downloading a batch of messages may take: `floor` plus the
/// time its bytes take at `bytes_per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchTimeout {
    pub floor: Duration,
    pub bytes_per_second: u64,
}

impl Default for FetchTimeout {
    /// Two minutes plus 128 KiB/s: a full 32 MB batch gets six and a half
    /// minutes, a 25 MB message five and a half.
    fn default() -> FetchTimeout {
        FetchTimeout {
            floor: COMMAND_TIMEOUT,
            bytes_per_second: 128 << 10,
        }
    }
}

impl FetchTimeout {
    fn for_bytes(&self, bytes: u64) -> Duration {
        self.floor + Duration::from_secs(bytes / self.bytes_per_second.max(1))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("cannot connect to {host}:{port}: {source}")]
    Connect {
        host: String,
        port: u16,
        source: std::io::Error,
    },
    #[error(
        "refusing a plain connection to {0}: plain IMAP is only allowed to loopback; use security = \"tls\" or \"starttls\""
    )]
    PlainNotLoopback(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("TLS handshake with {host} failed: {source}")]
    Handshake {
        host: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("login as {user} refused: {message}; check username and password")]
    Login { user: String, message: String },
    #[error("IMAP {command} failed: {message}")]
    Command {
        command: &'static str,
        message: String,
    },
    #[error("IMAP {0} timed out after {1:?}; the connection will be retried")]
    Timeout(&'static str, Duration),
    #[error("mailbox {0} reported no UIDVALIDITY; refusing to read it without one")]
    NoUidValidity(String),
    #[error("server did not return message UID {0} though it still exists; will retry")]
    MissingUid(u32),
    #[error("downloading {messages} message(s) ({bytes} bytes) took longer than {limit:?}")]
    FetchTimeout {
        messages: usize,
        bytes: u64,
        limit: Duration,
    },
    #[error(
        "mailbox {mailbox} changed its UIDVALIDITY from {old} to {new} while it was read; the next pass reads it again"
    )]
    UidValidityChanged { mailbox: String, old: u32, new: u32 },
    #[error("cannot store fetched messages: {0}")]
    Store(#[from] rusqlite::Error),
    #[error(
        "the thread storing fetched messages stopped; its own error says why, and the next pass fetches again from the checkpoint"
    )]
    StorerGone,
}

async fn timed<T, E: std::fmt::Display>(
    command: &'static str,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, ImapError> {
    match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ImapError::Command {
            command,
            message: e.to_string(),
        }),
        Err(_) => Err(ImapError::Timeout(command, COMMAND_TIMEOUT)),
    }
}

impl ImapError {
    /// Whether the error is about the messages asked for rather than the
    /// connection or the server: fetching fewer at a time may get past it.
    fn is_stuck_download(&self) -> bool {
        matches!(
            self,
            ImapError::FetchTimeout { .. }
                | ImapError::MissingUid(_)
                | ImapError::Command {
                    command: "UID FETCH",
                    ..
                }
        )
    }
}

/// Told (messages downloaded, messages to download) as a download goes.
pub type DownloadProgress = Box<dyn Fn(usize, usize) + Send + Sync>;

/// An IMAP mailbox as a mail source.
pub struct ImapSource {
    cfg: ImapConfig,
    source_id: String,
    fetch_timeout: FetchTimeout,
    progress: Option<DownloadProgress>,
}

/// A logged-in session with the mailbox examined.
pub struct Opened {
    pub session: Session,
    pub mailbox: Mailbox,
    pub idle: bool,
    /// The server said the mailbox grew after the last search (mail came
    /// during a download): look again before waiting, since IDLE does not
    /// repeat what it already said.
    pub grew: bool,
}

impl ImapSource {
    pub fn new(cfg: &ImapConfig) -> ImapSource {
        ImapSource {
            source_id: format!(
                "imap://{}@{}:{}/{}",
                cfg.username, cfg.host, cfg.port, cfg.mailbox
            ),
            cfg: cfg.clone(),
            fetch_timeout: FetchTimeout::default(),
            progress: None,
        }
    }

    /// The same source, telling `progress` how each download goes (the
    /// CLI's progress bar: a first sync over years of mail takes a while).
    pub fn with_progress(mut self, progress: DownloadProgress) -> ImapSource {
        self.progress = Some(progress);
        self
    }

    fn tell(&self, done: usize, total: usize) {
        if let Some(progress) = &self.progress {
            progress(done, total);
        }
    }

    /// The same source with another download time limit (tests use a short
    /// one).
    pub fn with_fetch_timeout(mut self, fetch_timeout: FetchTimeout) -> ImapSource {
        self.fetch_timeout = fetch_timeout;
        self
    }

    pub fn source_id(&self) -> &str {
        &self.source_id
    }

    /// Connects, logs in and EXAMINEs the mailbox (read-only).
    pub async fn open(&self) -> Result<Opened, ImapError> {
        let mut session = self.login().await?;
        let caps = timed("CAPABILITY", session.capabilities()).await?;
        let idle = self.cfg.idle && caps.has_str("IDLE");
        let mailbox = timed("EXAMINE", session.examine(&self.cfg.mailbox)).await?;
        if mailbox.uid_validity.is_none() {
            return Err(ImapError::NoUidValidity(self.cfg.mailbox.clone()));
        }
        Ok(Opened {
            session,
            mailbox,
            idle,
            grew: false,
        })
    }

    async fn login(&self) -> Result<Session, ImapError> {
        let cfg = &self.cfg;
        let password = cfg.password.read()?.map(|p| p.0).unwrap_or_default();
        let client = self.connect().await?;
        match tokio::time::timeout(COMMAND_TIMEOUT, client.login(&cfg.username, &password)).await {
            Ok(Ok(session)) => Ok(session),
            Ok(Err((e, _))) => Err(ImapError::Login {
                user: cfg.username.clone(),
                message: e.to_string(),
            }),
            Err(_) => Err(ImapError::Timeout("LOGIN", COMMAND_TIMEOUT)),
        }
    }

    async fn connect(&self) -> Result<async_imap::Client<Box<dyn ImapStream>>, ImapError> {
        let cfg = &self.cfg;
        if cfg.security == Security::Plain && !tls::is_loopback(&cfg.host) {
            return Err(ImapError::PlainNotLoopback(cfg.host.clone()));
        }
        let connect_err = |source| ImapError::Connect {
            host: cfg.host.clone(),
            port: cfg.port,
            source,
        };
        let tcp = tokio::time::timeout(
            COMMAND_TIMEOUT,
            TcpStream::connect((cfg.host.as_str(), cfg.port)),
        )
        .await
        .map_err(|_| ImapError::Timeout("connect", COMMAND_TIMEOUT))?
        .map_err(connect_err)?;
        let client = match cfg.security {
            Security::Tls => {
                let mut client = async_imap::Client::new(self.tls(tcp).await?);
                greeting(&mut client).await?;
                client
            }
            Security::Plain => {
                let mut client = async_imap::Client::new(Box::new(tcp) as Box<dyn ImapStream>);
                greeting(&mut client).await?;
                client
            }
            Security::Starttls => {
                let mut plain = async_imap::Client::new(tcp);
                greeting(&mut plain).await?;
                timed("STARTTLS", plain.run_command_and_check_ok("STARTTLS", None)).await?;
                async_imap::Client::new(self.tls(plain.into_inner()).await?)
            }
        };
        Ok(client)
    }

    async fn tls(&self, tcp: TcpStream) -> Result<Box<dyn ImapStream>, ImapError> {
        let config = tls::client_config(self.cfg.ca_file.as_deref())?;
        let name = rustls_pki_types::ServerName::try_from(self.cfg.host.clone())
            .map_err(|e| TlsError::Setup(format!("bad host name {}: {e}", self.cfg.host)))?;
        let stream = tokio::time::timeout(
            COMMAND_TIMEOUT,
            TlsConnector::from(config).connect(name, tcp),
        )
        .await
        .map_err(|_| ImapError::Timeout("TLS handshake", COMMAND_TIMEOUT))?
        .map_err(|source| ImapError::Handshake {
            host: self.cfg.host.clone(),
            source,
        })?;
        Ok(Box::new(stream))
    }

    /// Fetches every message above the checkpoint and stores it, batch by
    /// batch, each batch with its checkpoint. Returns how many were new.
    pub async fn fetch_new(
        &self,
        opened: &mut Opened,
        conn: &mut Connection,
    ) -> Result<usize, ImapError> {
        Ok(self.fetch(opened, conn, Utc::now()).await?.new)
    }

    /// [`fetch_new`](Self::fetch_new), then the skipped messages due again
    /// at `now`; says how it went. `opened` is replaced by a new connection
    /// when a download had to be given up.
    pub async fn fetch(
        &self,
        opened: &mut Opened,
        conn: &mut Connection,
        now: DateTime<Utc>,
    ) -> Result<FetchReport, ImapError> {
        let uidvalidity = opened
            .mailbox
            .uid_validity
            .ok_or_else(|| ImapError::NoUidValidity(self.cfg.mailbox.clone()))?;
        let last_uid = self.resume_point(conn, uidvalidity)?;
        let skipped = inbox::skipped_due(conn, &self.source_id, uidvalidity, now)?;
        // Downloading here, storing on a thread of its own (`storer`).
        let download = |sink: storer::Sender| async move {
            let mut report = FetchReport::default();
            let new = self.new_messages(&mut opened.session, last_uid).await?;
            let sizes: Vec<u64> = new.iter().map(|m| m.size).collect();
            self.tell(0, new.len());
            for range in inbox::batch_ranges(&sizes) {
                let end = range.end;
                let batch = Batch {
                    uidvalidity,
                    messages: &new[range],
                    moves_checkpoint: true,
                };
                self.fetch_batch(opened, &sink, batch, now, &mut report)
                    .await?;
                self.tell(end, new.len());
            }
            for uid in skipped {
                self.retry_skipped(opened, &sink, uidvalidity, uid, now, &mut report)
                    .await?;
            }
            opened.grew = drain_unsolicited(&mut opened.session, &mut opened.mailbox.exists);
            Ok::<_, ImapError>(report)
        };
        let (mut report, new) = storer::store_while(conn, &self.source_id, download).await?;
        report.new = new;
        Ok(report)
    }

    /// The last UID already read under `uidvalidity`; 0 (all of it) for a
    /// mailbox never read or whose UIDVALIDITY changed.
    fn resume_point(&self, conn: &mut Connection, uidvalidity: u32) -> Result<u32, ImapError> {
        match inbox::checkpoint(conn, &self.source_id)? {
            Some(cp) if cp.uidvalidity == uidvalidity => Ok(cp.last_uid),
            Some(cp) => {
                tracing::warn!(
                    mailbox = %self.cfg.mailbox,
                    old = cp.uidvalidity,
                    new = uidvalidity,
                    "UIDVALIDITY changed: re-reading the whole mailbox; messages already held are recognised by content and not stored or judged twice"
                );
                let reset = Checkpoint {
                    uidvalidity,
                    last_uid: 0,
                };
                inbox::store_batch(conn, &self.source_id, &[], Some(reset))?;
                Ok(0)
            }
            None => Ok(0),
        }
    }

    /// UIDs above `last_uid`, lowest first, with their sizes.
    async fn new_messages(
        &self,
        session: &mut Session,
        last_uid: u32,
    ) -> Result<Vec<NewMessage>, ImapError> {
        let mut uids: Vec<u32> = timed(
            "UID SEARCH",
            session.uid_search(format!("UID {}:*", last_uid.saturating_add(1))),
        )
        .await?
        .into_iter()
        .filter(|&u| u > last_uid) // `N:*` always matches the last message
        .collect();
        uids.sort_unstable();
        let mut out = Vec::with_capacity(uids.len());
        for chunk in uids.chunks(SIZE_CHUNK) {
            let stream = timed(
                "UID FETCH",
                session.uid_fetch(uid_set(chunk), "(UID RFC822.SIZE)"),
            )
            .await?;
            // Each response is read and let go: every one keeps its own
            // copy of the read buffer, and 5,000 held at once were 30 MB,
            // the first sync's largest allocation.
            let sizes: HashMap<u32, u32> = timed(
                "UID FETCH",
                stream
                    .try_filter_map(|f| async move { Ok(f.uid.zip(f.size)) })
                    .try_collect(),
            )
            .await?;
            // A message expunged since the search has no size: it is
            // skipped when its body does not come either.
            out.extend(chunk.iter().map(|&uid| NewMessage {
                uid,
                size: sizes.get(&uid).copied().map_or(0, u64::from),
            }));
        }
        Ok(out)
    }

    /// Downloads and stores one batch; when the download fails, again in
    /// halves over a new connection, down to single messages, which are
    /// skipped (see the module comment) if they fail alone.
    async fn fetch_batch(
        &self,
        opened: &mut Opened,
        sink: &storer::Sender,
        batch: Batch<'_>,
        now: DateTime<Utc>,
        report: &mut FetchReport,
    ) -> Result<(), ImapError> {
        let mut work = vec![batch.messages];
        while let Some(part) = work.pop() {
            let Some(last) = part.last().map(|m| m.uid) else {
                continue;
            };
            let covers = batch.moves_checkpoint.then_some(Checkpoint {
                uidvalidity: batch.uidvalidity,
                last_uid: last,
            });
            let bytes = part.iter().map(|m| m.size).sum();
            let limit = self.fetch_timeout.for_bytes(bytes);
            let got = download(&mut opened.session, part, batch.uidvalidity, bytes, limit).await;
            match got {
                Ok(fetched) => {
                    let got_bytes = fetched.iter().map(|m| m.raw().len() as u64).sum();
                    report.batches.add(fetched.len(), got_bytes);
                    let op = storer::Op::Batch {
                        messages: fetched,
                        covers,
                    };
                    send(sink, op).await?;
                }
                Err(e) if e.is_stuck_download() => {
                    tracing::info!(
                        messages = part.len(),
                        "download failed ({e}); fetching in smaller batches"
                    );
                    self.reconnect(opened, batch.uidvalidity).await?;
                    if let [one] = part {
                        let op = storer::Op::Skip {
                            uidvalidity: batch.uidvalidity,
                            uid: one.uid,
                            error: e.to_string(),
                            now,
                            covers,
                        };
                        send(sink, op).await?;
                        report.skipped += 1;
                    } else {
                        let (first, second) = part.split_at(part.len() / 2);
                        work.push(second);
                        work.push(first);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Fetches a skipped message again; forgets it when it is gone.
    async fn retry_skipped(
        &self,
        opened: &mut Opened,
        sink: &storer::Sender,
        uidvalidity: u32,
        uid: u32,
        now: DateTime<Utc>,
        report: &mut FetchReport,
    ) -> Result<(), ImapError> {
        let found = timed(
            "UID FETCH",
            opened
                .session
                .uid_fetch(uid.to_string(), "(UID RFC822.SIZE)"),
        )
        .await?;
        let fetches: Vec<Fetch> = timed("UID FETCH", found.try_collect()).await?;
        let Some(size) = fetches
            .iter()
            .find(|f| f.uid == Some(uid))
            .and_then(|f| f.size)
        else {
            tracing::info!(uid, "skipped message is gone from the mailbox; forgotten");
            return send(sink, storer::Op::Forget { uidvalidity, uid }).await;
        };
        let one = [NewMessage {
            uid,
            size: u64::from(size),
        }];
        let batch = Batch {
            uidvalidity,
            messages: &one,
            moves_checkpoint: false,
        };
        self.fetch_batch(opened, sink, batch, now, report).await
    }

    /// A new connection in place of one whose state is unknown after a
    /// failed download (its answer may still be on the way).
    async fn reconnect(&self, opened: &mut Opened, uidvalidity: u32) -> Result<(), ImapError> {
        let fresh = self.open().await?;
        let now_valid = fresh.mailbox.uid_validity.unwrap_or_default();
        if now_valid != uidvalidity {
            return Err(ImapError::UidValidityChanged {
                mailbox: self.cfg.mailbox.clone(),
                old: uidvalidity,
                new: now_valid,
            });
        }
        // The old connection is dropped, not logged out: it may be stuck.
        *opened = fresh;
        Ok(())
    }

    /// Waits for the mailbox to change: IDLE when the server offers it,
    /// otherwise a plain sleep of `poll_seconds`; never longer than `max`.
    /// Returns the session to fetch with again.
    pub async fn wait(&self, opened: Opened, max: Duration) -> Result<Opened, ImapError> {
        let Opened {
            session,
            mut mailbox,
            idle,
            grew,
        } = opened;
        if grew {
            // Mail came while the last download ran, after its search.
            return Ok(Opened {
                session,
                mailbox,
                idle,
                grew: false,
            });
        }
        if !idle {
            let mut session = session;
            tokio::time::sleep(max.min(Duration::from_secs(self.cfg.poll_seconds))).await;
            timed("NOOP", session.noop()).await?;
            return Ok(Opened {
                session,
                mailbox,
                idle,
                grew: false,
            });
        }
        let mut handle = session.idle();
        timed("IDLE", handle.init()).await?;
        {
            let (wait, _stop) = handle.wait_with_timeout(max);
            // The library's own timer restarts on every keep-alive line, so
            // it may never fire: hold an overall deadline of our own.
            let _ = tokio::time::timeout(max + Duration::from_secs(5), wait).await;
        }
        let mut session = timed("DONE", handle.done()).await?;
        // What ended the wait is read by the next download anyway.
        drain_unsolicited(&mut session, &mut mailbox.exists);
        Ok(Opened {
            session,
            mailbox,
            idle,
            grew: false,
        })
    }

    /// Logs out politely; errors are only logged, the connection is gone anyway.
    pub async fn close(opened: Opened) {
        let mut session = opened.session;
        if let Err(e) = tokio::time::timeout(Duration::from_secs(5), session.logout()).await {
            tracing::debug!("logout: {e}");
        }
    }
}

async fn greeting<T: AsyncRead + AsyncWrite + Unpin + Debug + Send>(
    client: &mut async_imap::Client<T>,
) -> Result<(), ImapError> {
    match tokio::time::timeout(COMMAND_TIMEOUT, client.read_response()).await {
        Ok(Ok(Some(_))) => Ok(()),
        Ok(Ok(None)) => Err(ImapError::Command {
            command: "greeting",
            message: "server closed the connection".into(),
        }),
        Ok(Err(e)) => Err(ImapError::Command {
            command: "greeting",
            message: e.to_string(),
        }),
        Err(_) => Err(ImapError::Timeout("greeting", COMMAND_TIMEOUT)),
    }
}

/// A message above the checkpoint, before it is downloaded.
#[derive(Debug, Clone, Copy)]
struct NewMessage {
    uid: u32,
    /// `RFC822.SIZE`; 0 when the server gave none.
    size: u64,
}

/// Messages downloaded and stored together.
#[derive(Clone, Copy)]
struct Batch<'a> {
    uidvalidity: u32,
    messages: &'a [NewMessage],
    /// Whether storing them moves the checkpoint to the last one (not for
    /// a skipped message fetched again, which lies below it).
    moves_checkpoint: bool,
}

/// `1:3,7,9:10`: UIDs (ascending) as an IMAP sequence set.
fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while uids.get(i + 1) == Some(&end.saturating_add(1)) {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if end == start {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// Downloads a batch within `limit` and checks that every message came
/// back with its body and date: a clean disconnect or a tagged NO can end
/// the stream early without an error.
async fn download(
    session: &mut Session,
    messages: &[NewMessage],
    uidvalidity: u32,
    bytes: u64,
    limit: Duration,
) -> Result<Vec<Fetched>, ImapError> {
    let uids: Vec<u32> = messages.iter().map(|m| m.uid).collect();
    let by_uid = tokio::time::timeout(limit, fetch_bodies(session, &uids, uidvalidity))
        .await
        .map_err(|_| ImapError::FetchTimeout {
            messages: uids.len(),
            bytes,
            limit,
        })??;
    complete(session, &uids, by_uid).await
}

/// The bodies the server sends for `uids`, by UID, each turned into a
/// [`Fetched`] as it arrives (so the server's copy is not held as well).
async fn fetch_bodies(
    session: &mut Session,
    uids: &[u32],
    uidvalidity: u32,
) -> Result<HashMap<u32, Fetched>, ImapError> {
    let command_failed = |e: async_imap::error::Error| ImapError::Command {
        command: "UID FETCH",
        message: e.to_string(),
    };
    let mut stream = session
        .uid_fetch(uid_set(uids), "(UID INTERNALDATE BODY.PEEK[])")
        .await
        .map_err(command_failed)?;
    let mut by_uid = HashMap::new();
    while let Some(f) = stream.try_next().await.map_err(command_failed)? {
        // Unsolicited FETCH lines (a flag changed while we read) carry no
        // body: never let one stand in for the message.
        let (Some(uid), Some(raw), Some(date)) = (f.uid, f.body(), f.internal_date()) else {
            continue;
        };
        by_uid.insert(
            uid,
            Fetched::new(
                format!("{uidvalidity}/{uid}"),
                Some(uidvalidity),
                Some(uid),
                date.with_timezone(&Utc),
                raw.to_vec(),
            ),
        );
    }
    Ok(by_uid)
}

/// The fetched messages in UID order; a UID that did not come back is
/// skipped when it was expunged meanwhile, else an error.
async fn complete(
    session: &mut Session,
    uids: &[u32],
    mut by_uid: HashMap<u32, Fetched>,
) -> Result<Vec<Fetched>, ImapError> {
    let mut out = Vec::with_capacity(uids.len());
    for &uid in uids {
        match by_uid.remove(&uid) {
            Some(m) => out.push(m),
            None => {
                // Gone since the search (expunged by the assistant): skip it.
                let still_there =
                    timed("UID SEARCH", session.uid_search(format!("UID {uid}"))).await?;
                if still_there.contains(&uid) {
                    return Err(ImapError::MissingUid(uid));
                }
                tracing::info!(uid, "message expunged before it could be read; skipped");
            }
        }
    }
    Ok(out)
}

/// Hands an op to the storing thread; fails when that thread stopped on an
/// error (which [`storer::store_while`] returns instead of this one).
async fn send(sink: &storer::Sender, op: storer::Op) -> Result<(), ImapError> {
    sink.send(op).await.map_err(|_| ImapError::StorerGone)
}

/// Empties the unsolicited responses, keeping `exists` (the mailbox's
/// message count) up to date; returns whether the count went up. Only a
/// higher count: a server may repeat EXISTS with the same number, and
/// RECENT says nothing new, so neither may keep reportd from waiting.
fn drain_unsolicited(session: &mut Session, exists: &mut u32) -> bool {
    let mut grew = false;
    while let Ok(response) = session.unsolicited_responses.try_recv() {
        match response {
            UnsolicitedResponse::Exists(n) => {
                grew |= n > *exists;
                *exists = n;
            }
            UnsolicitedResponse::Expunge(_) => *exists = exists.saturating_sub(1),
            _ => {}
        }
    }
    grew
}
