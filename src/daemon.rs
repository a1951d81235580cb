//! `reportd run`: the long-running loop. It keeps one IMAP session open,
//! waits in IDLE (or polls), wakes for new mail and for the next deadline,
//! reconnects with backoff when the connection drops, and stops cleanly on
//! SIGTERM or SIGINT.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use rusqlite::Connection;

use crate::mail::imap::ImapSource;
use crate::notify::outbox::{self, Sender};
use crate::notify::plan::Planner;
use crate::reports::compliance;
use crate::sync::{Engine, Source, SyncError};

/// IDLE is re-issued before the 29 minutes after which servers may drop it.
const MAX_IDLE: Duration = Duration::from_secs(25 * 60);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Runs until `shutdown` completes.
pub async fn run(
    engine: &Engine,
    conn: &mut Connection,
    shutdown: impl Future<Output = ()>,
) -> Result<(), SyncError> {
    tokio::pin!(shutdown);
    let source = Source::from_config(&engine.cfg);
    let sender = engine.sender()?;
    if sender.is_none() {
        tracing::warn!("no [smtp] section: emails are queued in the outbox but not sent");
    }
    let sender = sender.as_ref();
    let mut backoff = Duration::from_secs(1);
    loop {
        let result = match &source {
            Source::Imap(imap) => {
                session(imap, engine, sender, conn, &mut backoff, &mut shutdown).await
            }
            Source::Maildir(_) => {
                polling(&source, engine, sender, conn, &mut backoff, &mut shutdown).await
            }
        };
        match result {
            Ok(Stop) => return Ok(()),
            Err(e @ SyncError::Db(_)) => return Err(e),
            Err(e) => {
                tracing::warn!("{e}; reconnecting in {}s", backoff.as_secs());
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = &mut shutdown => return Ok(()),
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// The daemon was asked to stop.
struct Stop;

/// How long to wait before the next pass: until the next deadline, the next
/// email that may become owed, or the next outbox retry; at most `cap`.
fn wait_for(
    engine: &Engine,
    sending: bool,
    conn: &Connection,
    cap: Duration,
) -> Result<Duration, SyncError> {
    let now = Utc::now();
    let planner = Planner::new(&engine.cfg, &engine.calendar, &engine.templates)?;
    let next = [
        compliance::next_deadline(&engine.cfg, &engine.calendar, now),
        planner.next_event(conn, now)?,
        // A retry that falls in the quiet hours waits for their end.
        // (Without a sender, queued mail is no reason to wake.)
        outbox::next_attempt_at(conn)?.filter(|_| sending).map(|t| {
            engine
                .cfg
                .notify
                .schedule
                .outside_quiet(t, engine.cfg.timezone)
        }),
    ]
    .into_iter()
    .flatten()
    .min();
    Ok(next
        .map(|t| (t - now).to_std().unwrap_or(Duration::ZERO))
        .map_or(cap, |d| d.min(cap) + Duration::from_secs(1)))
}

/// Classifies, judges, books, queues and delivers: everything after a fetch.
async fn after_fetch(
    engine: &Engine,
    sender: Option<&Sender>,
    conn: &mut Connection,
    fetched: usize,
) -> Result<(), SyncError> {
    let (intake, booked, queued) = engine.process(conn, Utc::now(), |_, _| {})?;
    let delivery = engine.deliver(sender, conn, Utc::now()).await?;
    if fetched > 0 || !booked.is_empty() || queued > 0 {
        tracing::info!(
            fetched,
            classified = intake.total(),
            booked = booked.len(),
            queued,
            "pass done"
        );
    }
    if let Some(d) = delivery.filter(|d| d.sent + d.deferred + d.failed > 0) {
        tracing::info!(
            sent = d.sent,
            deferred = d.deferred,
            failed = d.failed,
            "outbox delivered"
        );
    }
    Ok(())
}

async fn session(
    imap: &ImapSource,
    engine: &Engine,
    sender: Option<&Sender>,
    conn: &mut Connection,
    backoff: &mut Duration,
    shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Result<Stop, SyncError> {
    let mut opened = tokio::select! {
        o = imap.open() => o?,
        _ = shutdown.as_mut() => return Ok(Stop),
    };
    tracing::info!(source = imap.source_id(), idle = opened.idle, "connected");
    loop {
        let fetched = imap.fetch_new(&mut opened, conn).await?;
        after_fetch(engine, sender, conn, fetched).await?;
        // Only a whole pass proves the connection sound: a login that then
        // fails must not reset the wait, or a broken mailbox means a login
        // every second.
        *backoff = Duration::from_secs(1);
        let wait = wait_for(engine, sender.is_some(), conn, MAX_IDLE)?;
        opened = tokio::select! {
            o = imap.wait(opened, wait) => o?,
            _ = shutdown.as_mut() => return Ok(Stop),
        };
    }
}

async fn polling(
    source: &Source,
    engine: &Engine,
    sender: Option<&Sender>,
    conn: &mut Connection,
    backoff: &mut Duration,
    shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Result<Stop, SyncError> {
    loop {
        let fetched = source.fetch_once(conn).await?;
        after_fetch(engine, sender, conn, fetched).await?;
        *backoff = Duration::from_secs(1);
        let wait = wait_for(engine, sender.is_some(), conn, Duration::from_secs(60))?;
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.as_mut() => return Ok(Stop),
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("cannot listen for SIGTERM: {e}; only Ctrl-C stops the daemon");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("stopping");
}
