//! The assistant's mailbox over IMAP, read-only: EXAMINE, `BODY.PEEK[]`, no
//! flags, no expunge. New messages are found by UID above the checkpoint and
//! stored with the checkpoint in one transaction (see `mail::inbox`).
//!
//! async-imap has no TLS and no per-command timeouts of its own: the stream
//! is wrapped in tokio-rustls here, and every command in a timeout.

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use async_imap::types::{Fetch, Mailbox};
use chrono::Utc;
use futures::TryStreamExt;
use rusqlite::Connection;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::config::{ImapConfig, PasswordError, Security};
use crate::mail::inbox::{self, Checkpoint, Fetched};
use crate::mail::tls::{self, TlsError};

/// Any byte stream an IMAP session can run over (TCP or TLS over TCP).
pub trait ImapStream: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> ImapStream for T {}

pub type Session = async_imap::Session<Box<dyn ImapStream>>;

/// One command may take this long before the connection is given up.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// Messages fetched per UID FETCH.
const FETCH_CHUNK: usize = 200;

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
    #[error("cannot store fetched messages: {0}")]
    Store(#[from] rusqlite::Error),
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

/// An IMAP mailbox as a mail source.
pub struct ImapSource {
    cfg: ImapConfig,
    source_id: String,
}

/// A logged-in session with the mailbox examined.
pub struct Opened {
    pub session: Session,
    pub mailbox: Mailbox,
    pub idle: bool,
}

impl ImapSource {
    pub fn new(cfg: &ImapConfig) -> ImapSource {
        ImapSource {
            source_id: format!(
                "imap://{}@{}:{}/{}",
                cfg.username, cfg.host, cfg.port, cfg.mailbox
            ),
            cfg: cfg.clone(),
        }
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

    /// Fetches every message above the checkpoint and stores it, chunk by
    /// chunk, each chunk with its checkpoint. Returns how many were new.
    pub async fn fetch_new(
        &self,
        opened: &mut Opened,
        conn: &mut Connection,
    ) -> Result<usize, ImapError> {
        let uidvalidity = opened
            .mailbox
            .uid_validity
            .ok_or_else(|| ImapError::NoUidValidity(self.cfg.mailbox.clone()))?;
        let last_uid = match inbox::checkpoint(conn, &self.source_id)? {
            Some(cp) if cp.uidvalidity == uidvalidity => cp.last_uid,
            Some(cp) => {
                tracing::warn!(
                    mailbox = %self.cfg.mailbox,
                    old = cp.uidvalidity,
                    new = uidvalidity,
                    "UIDVALIDITY changed: re-reading the whole mailbox; messages already held are recognised by content and not stored or judged twice"
                );
                inbox::store_batch(
                    conn,
                    &self.source_id,
                    &[],
                    Some(Checkpoint {
                        uidvalidity,
                        last_uid: 0,
                    }),
                )?;
                0
            }
            None => 0,
        };
        let session = &mut opened.session;
        let mut uids: Vec<u32> = timed(
            "UID SEARCH",
            session.uid_search(format!("UID {}:*", last_uid.saturating_add(1))),
        )
        .await?
        .into_iter()
        .filter(|&u| u > last_uid) // `N:*` always matches the last message
        .collect();
        uids.sort_unstable();
        let mut new = 0;
        for chunk in uids.chunks(FETCH_CHUNK) {
            let fetched = fetch_chunk(session, chunk, uidvalidity).await?;
            let covers = Checkpoint {
                uidvalidity,
                last_uid: chunk.last().copied().unwrap_or(last_uid),
            };
            new += inbox::store_batch(conn, &self.source_id, &fetched, Some(covers))?;
        }
        drain_unsolicited(session);
        Ok(new)
    }

    /// Waits for the mailbox to change: IDLE when the server offers it,
    /// otherwise a plain sleep of `poll_seconds`; never longer than `max`.
    /// Returns the session to fetch with again.
    pub async fn wait(&self, opened: Opened, max: Duration) -> Result<Opened, ImapError> {
        let Opened {
            session,
            mailbox,
            idle,
        } = opened;
        if !idle {
            let mut session = session;
            tokio::time::sleep(max.min(Duration::from_secs(self.cfg.poll_seconds))).await;
            timed("NOOP", session.noop()).await?;
            return Ok(Opened {
                session,
                mailbox,
                idle,
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
        drain_unsolicited(&mut session);
        Ok(Opened {
            session,
            mailbox,
            idle,
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

/// Fetches one chunk of UIDs and checks that every one came back with its
/// body and date: a clean disconnect or a tagged NO can end the stream early
/// without an error.
async fn fetch_chunk(
    session: &mut Session,
    uids: &[u32],
    uidvalidity: u32,
) -> Result<Vec<Fetched>, ImapError> {
    let set = uids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let fetches: Vec<Fetch> = {
        let stream = timed(
            "UID FETCH",
            session.uid_fetch(&set, "(UID INTERNALDATE BODY.PEEK[])"),
        )
        .await?;
        timed("UID FETCH", stream.try_collect()).await?
    };
    // Unsolicited FETCH lines (a flag changed while we read) carry no body:
    // never let one stand in for the message.
    let mut by_uid: HashMap<u32, Fetch> = HashMap::new();
    for f in fetches {
        if let Some(uid) = f.uid
            && (f.body().is_some() || !by_uid.contains_key(&uid))
        {
            by_uid.insert(uid, f);
        }
    }
    let mut out = Vec::with_capacity(uids.len());
    for &uid in uids {
        let got = by_uid.remove(&uid);
        let complete = got
            .as_ref()
            .and_then(|f| Some((f.body()?.to_vec(), f.internal_date()?)));
        match complete {
            Some((raw, date)) => out.push(Fetched {
                key: format!("{uidvalidity}/{uid}"),
                uidvalidity: Some(uidvalidity),
                uid: Some(uid),
                internaldate: date.with_timezone(&Utc),
                raw,
            }),
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

fn drain_unsolicited(session: &mut Session) {
    while session.unsolicited_responses.try_recv().is_ok() {}
}
