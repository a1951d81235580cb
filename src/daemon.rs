//! `reportd run`: the long-running loop. It keeps one IMAP session open,
//! waits in IDLE (or polls), wakes for new mail and for the next deadline,
//! reconnects with backoff when the connection drops, and stops cleanly on
//! SIGTERM or SIGINT. Under systemd (`Type=notify`) it says when it is
//! ready and pings the watchdog from the loop (see `ops::systemd`).

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::Utc;
use rusqlite::Connection;

use crate::mail::imap::ImapSource;
use crate::notify::outbox::{self, Sender};
use crate::ops::systemd::Systemd;
use crate::reports::compliance;
use crate::sync::{Engine, Source, SyncError};

/// IDLE is re-issued before the 29 minutes after which servers may drop it.
pub(crate) const MAX_IDLE: Duration = Duration::from_secs(25 * 60);
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
    let mut ctx = Loop {
        engine,
        sender: sender.as_ref(),
        systemd: Systemd::from_env(),
        backoff: Duration::from_secs(1),
    };
    let stopped = ctx.run(&source, conn, &mut shutdown).await;
    ctx.systemd.stopping();
    stopped
}

/// What the loop carries from one connection to the next.
struct Loop<'a> {
    engine: &'a Engine,
    sender: Option<&'a Sender>,
    systemd: Systemd,
    /// The wait before the next reconnection.
    backoff: Duration,
}

impl Loop<'_> {
    async fn run(
        &mut self,
        source: &Source,
        conn: &mut Connection,
        shutdown: &mut Shutdown<'_, impl Future<Output = ()>>,
    ) -> Result<(), SyncError> {
        loop {
            let result = match source {
                Source::Imap(imap) => self.session(imap, conn, shutdown).await,
                Source::Maildir(_) => self.polling(source, conn, shutdown).await,
            };
            match result {
                Ok(Stop) => return Ok(()),
                // A full disk or a read-only database is no connection
                // problem: stop (systemd restarts the daemon; `health` and
                // the journal say why) rather than reconnect forever.
                Err(e) if e.database_error().is_some() => return Err(e),
                Err(e) => {
                    tracing::warn!("{e}; reconnecting in {}s", self.backoff.as_secs());
                    // A pass that failed half way freed what it held too.
                    crate::malloc::release_freed();
                    tokio::select! {
                        _ = self.systemd.sleep(self.backoff) => {}
                        _ = shutdown.as_mut() => return Ok(()),
                    }
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Everything after a fetch, then the pass reported to systemd. Only a
    /// whole pass proves the connection sound: a login that then fails must
    /// not reset the backoff, or a broken mailbox means a login every second.
    async fn after_fetch(
        &mut self,
        conn: &mut Connection,
        fetched: usize,
        started: Instant,
    ) -> Result<(), SyncError> {
        // Each batch classified is progress: a long first pass over a big
        // mailbox must not look hung to the watchdog.
        let systemd = &self.systemd;
        let (pass, _) = self
            .engine
            .finish_pass(
                self.sender,
                conn,
                crate::clock::daemon_now,
                (fetched, started),
                |_, _| systemd.alive(),
            )
            .await?;
        self.systemd.pass_done(&pass);
        self.backoff = Duration::from_secs(1);
        // The daemon waits now, for minutes or days: not at the peak of
        // the pass it just finished.
        crate::malloc::release_freed();
        Ok(())
    }

    /// How long to wait for mail now: until the next thing is due, at most
    /// `cap`, and short enough for the watchdog.
    fn wait(&self, conn: &Connection, cap: Duration) -> Result<Duration, SyncError> {
        let wait = wait_for(self.engine, self.sender.is_some(), conn, cap)?;
        Ok(self.systemd.cap(wait))
    }

    async fn session(
        &mut self,
        imap: &ImapSource,
        conn: &mut Connection,
        shutdown: &mut Shutdown<'_, impl Future<Output = ()>>,
    ) -> Result<Stop, SyncError> {
        let mut opened = tokio::select! {
            o = imap.open() => o?,
            _ = shutdown.as_mut() => return Ok(Stop),
        };
        tracing::info!(source = imap.source_id(), idle = opened.idle, "connected");
        loop {
            let started = Instant::now();
            let fetched = imap.fetch_new(&mut opened, conn).await?;
            self.after_fetch(conn, fetched, started).await?;
            let wait = self.wait(conn, MAX_IDLE)?;
            opened = tokio::select! {
                o = imap.wait(opened, wait) => o?,
                _ = shutdown.as_mut() => return Ok(Stop),
            };
            self.systemd.alive();
        }
    }

    async fn polling(
        &mut self,
        source: &Source,
        conn: &mut Connection,
        shutdown: &mut Shutdown<'_, impl Future<Output = ()>>,
    ) -> Result<Stop, SyncError> {
        loop {
            let started = Instant::now();
            let fetched = source.fetch_once(conn).await?;
            self.after_fetch(conn, fetched, started).await?;
            let wait = self.wait(conn, Duration::from_secs(60))?;
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.as_mut() => return Ok(Stop),
            }
            self.systemd.alive();
        }
    }
}

/// The pinned shutdown future.
type Shutdown<'p, F> = std::pin::Pin<&'p mut F>;

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
        // A retry that falls in the quiet hours waits for their end, and
        // so does one due before them that is still queued in them (it
        // would otherwise wake the daemon every second all night).
        // (Without a sender, queued mail is no reason to wake.)
        outbox::next_attempt_at(conn)?.filter(|_| sending).map(|t| {
            engine
                .cfg
                .notify
                .schedule
                .outside_quiet(t.max(now), engine.cfg.timezone)
        }),
    ]
    .into_iter()
    .flatten()
    .min();
    Ok(next
        .map(|t| (t - now).to_std().unwrap_or(Duration::ZERO))
        .map_or(cap, |d| d.min(cap) + Duration::from_secs(1)))
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
    fn mail_due_before_the_quiet_hours_and_still_queued_in_them_waits_for_the_morning() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = engine(dir.path());
        let conn = crate::store::open(&engine.cfg.database).expect("db");
        // Due Saturday 21:00, before the quiet hours; still queued at
        // Sunday 02:11 (the server refused it all evening, say).
        queue_due(&conn, local(28, 21, 0));
        let now = local(29, 2, 11);
        let wait = wait_from(&engine, true, &conn, Duration::from_secs(86_400), now).expect("wait");
        // Sunday 08:00 is 5 h 49 min away: no pass every second all night.
        assert_eq!(wait, Duration::from_secs(5 * 3600 + 49 * 60 + 1));
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
