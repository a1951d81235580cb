//! `reportd run` against the private Dovecot and Postfix: how much CPU it
//! uses while nothing arrives, and how long a report takes from Postfix's
//! `250` to being classified in reportd's database (Dovecot tells the IDLE
//! session, reportd fetches, parses, classifies and commits).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{Datelike, Utc};
use chrono_tz::Asia::Shanghai;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::measure::{self, Cost};
use crate::setup::{Bench, Instance};
use crate::support::mailbox::{ASSISTANT, Team};

/// Longest wait for the daemon to settle after its start.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest wait for one report to show.
const SHOW_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between two reports, once the daemon is idle again, so each is an
/// arrival on its own rather than one queued behind the previous pass.
const GAP: Duration = Duration::from_millis(200);

pub struct Daemon {
    child: Option<Child>,
    started: Instant,
    pub log: std::path::PathBuf,
}

/// What the daemon did.
pub struct Figures {
    /// From the start until it was connected and idle.
    pub settle: Duration,
    pub idle_window: Duration,
    pub idle_cpu: Duration,
    /// Sorted.
    pub latencies: Vec<Duration>,
    /// Reports that did not show within [`SHOW_TIMEOUT`].
    pub missed: usize,
    /// The daemon's own cost over its whole life (peak RSS, CPU).
    pub cost: Cost,
}

impl Daemon {
    pub fn start(bin: &str, config: &Path, log: &Path) -> anyhow::Result<Daemon> {
        let out = std::fs::File::create(log)?;
        let child = Command::new(bin)
            .arg("--config")
            .arg(config)
            .arg("run")
            .env_remove("REPORTD_CONFIG")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting reportd run")?;
        Ok(Daemon {
            child: Some(child),
            started: Instant::now(),
            log: log.to_path_buf(),
        })
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to `timeout`) until the daemon's CPU time stops growing
    /// over `every`: its pass is done.
    fn quiet(&self, every: Duration, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let mut last = measure::cpu_of(self.pid())?;
        while Instant::now() < deadline {
            std::thread::sleep(every);
            let now = measure::cpu_of(self.pid())?;
            if now - last < Duration::from_millis(10) {
                return Ok(());
            }
            last = now;
        }
        Ok(())
    }

    /// Waits until the daemon says it is connected and its CPU time stops
    /// growing (its first pass over the mailbox is done).
    fn settle(&mut self) -> anyhow::Result<Duration> {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let mut last = measure::cpu_of(self.pid())?;
        loop {
            std::thread::sleep(Duration::from_secs(1));
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                bail!("reportd run exited ({status}):\n{}", self.log_text());
            }
            let now = measure::cpu_of(self.pid())?;
            if self.log_text().contains("connected") && now - last < Duration::from_millis(30) {
                return Ok(self.started.elapsed());
            }
            if Instant::now() > deadline {
                bail!(
                    "reportd run did not settle in {SETTLE_TIMEOUT:?}:\n{}",
                    self.log_text()
                );
            }
            last = now;
        }
    }

    /// SIGTERM, then wait and measure.
    fn stop(&mut self) -> anyhow::Result<Cost> {
        let Some(child) = self.child.take() else {
            bail!("the daemon was stopped before");
        };
        // Its peak since exec, read while it still runs: `ru_maxrss` would
        // be the bench's own peak when it was spawned, if higher.
        let peak = measure::peak_since_exec(child.id());
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let (mut cost, _) = measure::wait(child, self.started)?;
        if let Some(peak) = peak {
            cost.max_rss = peak;
        }
        Ok(cost)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A report from one of the team, for the current week, as a mail client
/// sends it.
fn report_eml(team: &Team, k: usize, message_id: &str) -> (String, Vec<u8>) {
    let p = &team.reporters[k % team.reporters.len()];
    let sup = &team.supervisors[p.boss];
    let week = Utc::now().with_timezone(&Shanghai).iso_week().week();
    let subject = crate::support::render::utf8_word(&format!("{} 第{week}周周报", p.name));
    let date = Utc::now().with_timezone(&Shanghai).to_rfc2822();
    let raw = format!(
        "From: {from}\r\nTo: {to}\r\nCc: {cc}\r\nSubject: {subject}\r\nDate: {date}\r\n\
         Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         本周工作总结见正文。\r\n",
        from = p.email,
        to = sup.email,
        cc = ASSISTANT.1,
    );
    (p.email.clone(), raw.into_bytes())
}

/// Whether reportd has classified the message with this Message-ID.
fn classified(db: &Connection, message_id: &str) -> anyhow::Result<bool> {
    let class: Option<Option<String>> = db
        .query_row(
            "SELECT class FROM messages WHERE message_id IN (?1, ?2) LIMIT 1",
            [message_id, &format!("<{message_id}>")],
            |r| r.get(0),
        )
        .optional()?;
    Ok(matches!(class, Some(Some(_))))
}

/// Runs the daemon on an already synced database: settles, sits idle for
/// `idle`, then times `reports` reports sent through Postfix.
pub fn measure(
    inst: &Instance,
    bench: &Bench,
    idle: Duration,
    reports: usize,
) -> anyhow::Result<Figures> {
    let (servers, team, database) = (&bench.servers, &bench.team, &inst.database);
    let mut daemon = Daemon::start(crate::BIN, &inst.config, &inst.log("run"))?;
    let settle = daemon.settle()?;
    let before = measure::cpu_of(daemon.pid())?;
    let t = Instant::now();
    std::thread::sleep(idle);
    let idle_cpu = measure::cpu_of(daemon.pid())? - before;
    let idle_window = t.elapsed();

    let db = Connection::open_with_flags(database, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", database.display()))?;
    db.busy_timeout(Duration::from_secs(5))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut latencies = Vec::new();
    let mut missed = 0;
    let stamp = Utc::now().timestamp();
    for k in 0..reports {
        let id = format!(
            "latency.{stamp}.{k}@bench.{}",
            crate::support::mailbox::DOMAIN
        );
        let (from, raw) = report_eml(team, k, &id);
        rt.block_on(servers.smtp_send(&from, &[ASSISTANT.1], &raw))?;
        let accepted = Instant::now();
        loop {
            if classified(&db, &id)? {
                latencies.push(accepted.elapsed());
                break;
            }
            if accepted.elapsed() > SHOW_TIMEOUT {
                missed += 1;
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        daemon.quiet(Duration::from_millis(200), SHOW_TIMEOUT)?;
        std::thread::sleep(GAP);
    }
    latencies.sort();
    let cost = daemon.stop()?;
    Ok(Figures {
        settle,
        idle_window,
        idle_cpu,
        latencies,
        missed,
        cost,
    })
}
