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
            // A full disk or a read-only database is no connection problem:
            // stop (systemd restarts the daemon; `health` and the journal
            // say why) rather than reconnect to the mail server forever.
            Err(e) if e.database_error().is_some() => return Err(e),
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
    wait_from(engine, sending, conn, cap, crate::clock::daemon_now())
}

fn wait_from(
    engine: &Engine,
    sending: bool,
    conn: &Connection,
    cap: Duration,
    now: chrono::DateTime<Utc>,
) -> Result<Duration, SyncError> {
    let planner = engine.planner()?;
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
    let (intake, booked, queued) = engine.process(conn, crate::clock::daemon_now(), |_, _| {})?;
    let delivery = engine
        .deliver(sender, conn, crate::clock::daemon_now())
        .await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;
    use crate::config::Config;
    use crate::notify::outbox::Outgoing;
    use chrono::TimeZone;
    use chrono_tz::Asia::Shanghai;

    fn engine(dir: &std::path::Path) -> Engine {
        let calendar =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/calendar/cn-2026.toml");
        let text = format!(
            "database = {:?}\ntracking_starts = \"2026-11-02\"\ncalendar = [{:?}]\n[maildir]\npath = {:?}\n\
             [[person]]\nname = \"赵敏\"\nemail = \"zhaomin@example.com\"\nrole = \"assistant\"\n\
             [[person]]\nname = \"王芳\"\nemail = \"wangfang@example.com\"\nrole = \"supervisor\"\n\
             [[person]]\nname = \"张伟\"\nemail = \"zhangwei@example.com\"\nrole = \"rep\"\nsupervisor = \"wangfang@example.com\"\n",
            dir.join("db.sqlite3").display().to_string(),
            calendar.display().to_string(),
            dir.display().to_string(),
        );
        let cfg = Config::from_toml_str(&text, std::path::Path::new("t.toml")).expect("config");
        let calendar = Calendar::load(&cfg.calendar).expect("calendar");
        Engine::new(cfg, calendar).expect("engine")
    }

    fn local(d: u32, h: u32, m: u32) -> chrono::DateTime<Utc> {
        Shanghai
            .with_ymd_and_hms(2026, 11, d, h, m, 0)
            .single()
            .expect("valid")
            .with_timezone(&Utc)
    }

    /// An email due since `at`.
    fn queue_due(conn: &Connection, at: chrono::DateTime<Utc>) {
        let message = lettre::Message::builder()
            .from("赵敏 <zhaomin@example.com>".parse().expect("from"))
            .to("zhangwei@example.com".parse().expect("to"))
            .message_id(Some("<t@example.com>".into()))
            .subject("t")
            .body(String::from("t"))
            .expect("message");
        let out =
            Outgoing::from_message("late-notice:t", "late_notice", &message, at).expect("outgoing");
        outbox::enqueue(conn, &out, at).expect("enqueue");
    }

    #[test]
    fn sleeps_until_the_next_deadline_reminder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = engine(dir.path());
        let conn = crate::store::open(&engine.cfg.database).expect("db");
        // Friday noon: next is Friday's 17:00 reminder, 5 h away.
        let wait = wait_from(
            &engine,
            true,
            &conn,
            Duration::from_secs(7 * 86_400),
            local(27, 12, 0),
        )
        .expect("wait");
        assert_eq!(wait, Duration::from_secs(5 * 3600 + 1));
    }

    #[test]
    fn queued_mail_without_a_sender_is_no_reason_to_wake() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = engine(dir.path());
        let conn = crate::store::open(&engine.cfg.database).expect("db");
        let now = local(27, 12, 0);
        queue_due(&conn, now - chrono::Duration::hours(1));
        let idle = wait_from(&engine, false, &conn, MAX_IDLE, now).expect("wait");
        assert_eq!(
            idle,
            MAX_IDLE + Duration::from_secs(1),
            "no busy loop over mail it cannot send"
        );
        let sending = wait_from(&engine, true, &conn, MAX_IDLE, now).expect("wait");
        assert_eq!(
            sending,
            Duration::from_secs(1),
            "with a sender, it goes now"
        );
    }

    #[test]
    fn a_retry_due_in_the_quiet_hours_waits_for_the_morning() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = engine(dir.path());
        let conn = crate::store::open(&engine.cfg.database).expect("db");
        let now = local(28, 23, 0);
        queue_due(&conn, now - chrono::Duration::minutes(10));
        let wait = wait_from(&engine, true, &conn, Duration::from_secs(86_400), now).expect("wait");
        // Sunday 08:00 is nine hours away (nothing else is due before).
        assert_eq!(wait, Duration::from_secs(9 * 3600 + 1));
    }
}
