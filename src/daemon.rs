//! `reportd run`: the long-running loop. It keeps one IMAP session open,
//! waits in IDLE (or polls), wakes for new mail and for the next deadline,
//! reconnects with backoff when the connection drops, and stops cleanly on
//! SIGTERM or SIGINT.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use rusqlite::Connection;

use crate::calendar::Calendar;
use crate::config::Config;
use crate::mail::imap::ImapSource;
use crate::reports::compliance;
use crate::sync::{self, Source, SyncError};

/// IDLE is re-issued before the 29 minutes after which servers may drop it.
const MAX_IDLE: Duration = Duration::from_secs(25 * 60);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Runs until `shutdown` completes.
pub async fn run(
    cfg: &Config,
    calendar: &Calendar,
    conn: &mut Connection,
    shutdown: impl Future<Output = ()>,
) -> Result<(), SyncError> {
    tokio::pin!(shutdown);
    let source = Source::from_config(cfg);
    let mut backoff = Duration::from_secs(1);
    loop {
        let result = match &source {
            Source::Imap(imap) => {
                session(imap, cfg, calendar, conn, &mut backoff, &mut shutdown).await
            }
            Source::Maildir(_) => polling(&source, cfg, calendar, conn, &mut shutdown).await,
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

/// How long to wait before the next pass: until the next deadline, at most
/// `cap`.
fn wait_for(cfg: &Config, calendar: &Calendar, cap: Duration) -> Duration {
    let now = Utc::now();
    compliance::next_deadline(cfg, calendar, now)
        .and_then(|due| (due - now).to_std().ok())
        .map_or(cap, |d| d.min(cap) + Duration::from_secs(1))
}

async fn session(
    imap: &ImapSource,
    cfg: &Config,
    calendar: &Calendar,
    conn: &mut Connection,
    backoff: &mut Duration,
    shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Result<Stop, SyncError> {
    let mut opened = tokio::select! {
        o = imap.open() => o?,
        _ = shutdown.as_mut() => return Ok(Stop),
    };
    tracing::info!(source = imap.source_id(), idle = opened.idle, "connected");
    *backoff = Duration::from_secs(1);
    loop {
        let fetched = imap.fetch_new(&mut opened, conn).await?;
        let (intake, booked) = sync::process(conn, cfg, calendar, Utc::now(), |_, _| {})?;
        if fetched > 0 || !booked.is_empty() {
            tracing::info!(
                fetched,
                classified = intake.total(),
                booked = booked.len(),
                "pass done"
            );
        }
        let wait = wait_for(cfg, calendar, MAX_IDLE);
        opened = tokio::select! {
            o = imap.wait(opened, wait) => o?,
            _ = shutdown.as_mut() => return Ok(Stop),
        };
    }
}

async fn polling(
    source: &Source,
    cfg: &Config,
    calendar: &Calendar,
    conn: &mut Connection,
    shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Result<Stop, SyncError> {
    loop {
        sync::pass(source, conn, cfg, calendar, Utc::now(), |_, _| {}).await?;
        let wait = wait_for(cfg, calendar, Duration::from_secs(60));
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
