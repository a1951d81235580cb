//! One scenario's world: a private Dovecot and Postfix holding the fixture
//! mailbox, a reportd config and database, the daemon under test, and the
//! snapshot a scenario compares with the undisturbed reference.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use crate::app::{self, App, Imap};
use crate::common::{self, MailServers};
use crate::faults::fixture::{self, AUTHSERV, CLOCK_START, Fixture, TRACKING_STARTS};
use crate::faults::proxy::CutProxy;

/// How long a scenario may take to settle before it is declared stuck.
const SETTLE: Duration = Duration::from_secs(150);
/// The instant `status --json` is read as of, and the final `sync --once`
/// runs at: after every daemon clock a scenario uses, still calm.
pub const FINAL: &str = "2026-11-04T13:00:00+08:00";

/// What a run ends with; equal between runs that lost nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub ledger: Vec<String>,
    pub status: Vec<String>,
    pub messages: Vec<String>,
    /// key, kind, state, recipients, Message-ID: one line per email.
    pub outbox: Vec<String>,
}

impl Snapshot {
    /// Field by field, so that a failure shows the lines that differ.
    pub fn assert_same(&self, reference: &Snapshot, what: &str) {
        same(&self.ledger, &reference.ledger, what, "ledger");
        same(&self.status, &reference.status, what, "status board");
        same(&self.messages, &reference.messages, what, "messages");
        same(&self.outbox, &reference.outbox, what, "outbox");
    }
}

/// Fails with the lines only one side has.
fn same(got: &[String], want: &[String], what: &str, part: &str) {
    if got == want {
        return;
    }
    let only = |a: &[String], b: &[String]| -> Vec<String> {
        a.iter().filter(|l| !b.contains(l)).cloned().collect()
    };
    panic!(
        "{what}: the {part} differs from the undisturbed run's\nonly here:\n{}\nonly in the reference:\n{}",
        only(got, want).join("\n"),
        only(want, got).join("\n")
    );
}

#[derive(Default)]
pub struct Setup {
    /// Read the mailbox through a [`CutProxy`].
    pub proxy: bool,
    /// Put the database in this directory (a small file system).
    pub db_dir: Option<PathBuf>,
    /// Leave these messages out of the mailbox at the start (by Message-ID
    /// prefix); [`World::append_held`] puts them in.
    pub hold: &'static [&'static str],
}

pub struct World {
    pub servers: MailServers,
    pub app: App,
    pub fixture: Fixture,
    pub proxy: Option<CutProxy>,
    held: Vec<usize>,
    runs: usize,
}

/// A running `reportd run`; killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub log: PathBuf,
}

impl Daemon {
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and the exit status once it stopped.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        signal(self.child.id() as i32, 15);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "reportd run ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// The daemon's log, without terminal colours.
    pub fn log_text(&self) -> String {
        let text =
            String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned();
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                // ESC [ ... m
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    safe fn libc_kill(pid: i32, sig: i32) -> i32;
}

pub fn signal(pid: i32, sig: i32) {
    if pid > 0 {
        libc_kill(pid, sig);
    }
}

/// The daemon clock of the `n`-th start: three minutes apart, so that a
/// send claimed by a killed daemon (a lease of 150 s) has expired by the
/// next start.
pub fn clock_of_run(n: usize) -> String {
    let start = DateTime::parse_from_rfc3339(CLOCK_START).expect("clock start");
    (start + chrono::Duration::minutes(3 * n as i64)).to_rfc3339()
}

impl World {
    pub async fn start(setup: Setup) -> World {
        let fixture = fixture::build();
        let users: Vec<&str> = fixture.people.iter().map(|p| p.user.as_str()).collect();
        let servers = MailServers::start(&users);
        let proxy = match setup.proxy {
            true => Some(CutProxy::start(servers.imap_port()).await),
            false => None,
        };
        let port = proxy.as_ref().map_or(servers.imap_port(), |p| p.port);
        let extra = format!(
            "[notify]\nauthserv_id = \"{AUTHSERV}\"\n\n{}",
            app::smtp_section(servers.smtp_port())
        );
        let imap = Imap {
            port,
            security: "plain",
            password: servers.password(),
            ca_file: None,
        };
        let app = App::configure(
            imap,
            TRACKING_STARTS,
            &extra,
            &fixture::roster(&fixture.people),
        );
        if let Some(dir) = &setup.db_dir {
            let text = std::fs::read_to_string(&app.config).expect("config");
            let old = app.dir.path().join("reportd.sqlite3");
            let new = dir.join("reportd.sqlite3");
            let text = text.replace(
                &format!("{:?}", old.display().to_string()),
                &format!("{:?}", new.display().to_string()),
            );
            std::fs::write(&app.config, text).expect("config");
        }
        let mut held = Vec::new();
        for (i, m) in fixture.mail.iter().enumerate() {
            if setup.hold.iter().any(|h| m.message_id.starts_with(h)) {
                held.push(i);
                continue;
            }
            servers
                .append("zhaomin", "INBOX", &m.raw, m.arrival)
                .await
                .expect("append");
        }
        for [person, period, reason, by, now] in &fixture.excuses {
            app.run(&[
                "excuse", "--person", person, "--period", period, "--reason", reason, "--by", by,
                "--now", now,
            ]);
        }
        World {
            servers,
            app,
            fixture,
            proxy,
            held,
            runs: 0,
        }
    }

    /// Puts the messages [`Setup::hold`] left out into the mailbox.
    pub async fn append_held(&mut self) {
        for i in std::mem::take(&mut self.held) {
            let m = &self.fixture.mail[i];
            self.servers
                .append("zhaomin", "INBOX", &m.raw, m.arrival)
                .await
                .expect("append held");
        }
    }

    /// Appends a message to the assistant's mailbox.
    pub async fn append(&self, raw: &[u8], arrival: DateTime<FixedOffset>) {
        self.servers
            .append("zhaomin", "INBOX", raw, arrival)
            .await
            .expect("append");
    }

    /// Starts `reportd run` with its clock at `clock`, aborting at
    /// `failpoint` if given.
    pub fn spawn(&mut self, clock: &str, failpoint: Option<&str>) -> Daemon {
        self.runs += 1;
        let log = self.app.dir.path().join(format!("run-{}.log", self.runs));
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = self.app.command();
        cmd.arg("run")
            .env("REPORTD_TEST_CLOCK_START", clock)
            .env("REPORTD_LOG", "info")
            .env_remove("REPORTD_FAILPOINT")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file);
        if let Some(point) = failpoint {
            cmd.env("REPORTD_FAILPOINT", point);
        }
        Daemon {
            child: cmd.spawn().expect("spawn reportd run"),
            log,
        }
    }

    /// The `(user, Message-ID)` a killed daemon may have had the server's
    /// 250 for without storing it: of each claimed row (queued, tried, no
    /// error), the first recipient not yet recorded. A second copy of these,
    /// and only these, is the window no SMTP client can close.
    pub fn in_flight(&self) -> Vec<(String, String)> {
        let conn = rusqlite::Connection::open(self.database()).expect("open the database");
        let mut stmt = conn
            .prepare(
                "SELECT id, message_id, recipients FROM outbox
                 WHERE state = 'queued' AND attempts > 0 AND last_error IS NULL",
            )
            .expect("prepare");
        let rows: Vec<(i64, String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let mut out = Vec::new();
        for (id, mid, recipients) in rows {
            let answered: Vec<String> = conn
                .prepare("SELECT address FROM outbox_recipients WHERE outbox = ?1")
                .expect("prepare")
                .query_map([id], |r| r.get(0))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows");
            let recipients: Vec<String> = serde_json::from_str(&recipients).expect("recipients");
            if let Some(next) = recipients.into_iter().find(|r| !answered.contains(r)) {
                out.push((next.trim_end_matches("@example.com").to_string(), mid));
            }
        }
        out
    }

    /// How far the work got, from the database: for the kill loop's log.
    pub fn progress(&self) -> String {
        let conn = rusqlite::Connection::open(self.database()).expect("open the database");
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap_or(-1) };
        format!(
            "{} messages stored, {} classified, {} ledger entries, {} emails queued, {} sent",
            count("SELECT count(*) FROM messages"),
            count("SELECT count(*) FROM messages WHERE class IS NOT NULL"),
            count("SELECT count(*) FROM ledger"),
            count("SELECT count(*) FROM outbox"),
            count("SELECT count(*) FROM outbox WHERE state = 'sent'"),
        )
    }

    pub fn database(&self) -> PathBuf {
        let text = std::fs::read_to_string(&self.app.config).expect("config");
        let line = text
            .lines()
            .find(|l| l.starts_with("database = "))
            .expect("database line");
        PathBuf::from(line["database = ".len()..].trim_matches('"'))
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.app.run(args)).expect("JSON")
    }

    /// Waits until the daemon read every message of the mailbox, has no
    /// email queued, and every email it sent is in its recipients'
    /// mailboxes; fails (with the daemon's log) after [`SETTLE`]. An
    /// address in `refused` is one the server refuses for good.
    pub async fn settle(&self, daemon: &mut Daemon, refused: Option<&str>) {
        let deadline = Instant::now() + SETTLE;
        let wanted: BTreeSet<String> = self
            .fixture
            .mail
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.held.contains(i))
            .map(|(_, m)| m.message_id.clone())
            .collect();
        let mut calm = 0;
        loop {
            if let Some(status) = daemon.exited() {
                panic!(
                    "reportd run exited ({status}) before settling:\n{}",
                    daemon.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "not settled after {SETTLE:?}:\n{}\noutbox: {:#}",
                daemon.log_text(),
                self.json(&["outbox", "--json"])
            );
            let read: BTreeSet<String> = self
                .app
                .messages(false)
                .iter()
                .filter(|m| !m["class"].is_null())
                .filter_map(|m| m["message_id"].as_str().map(str::to_string))
                .collect();
            let outbox = self.app.outbox();
            let queued = outbox.iter().any(|r| r["state"] == "queued");
            let done = wanted.is_subset(&read)
                && !queued
                && self.missing_deliveries(&outbox, refused).await.is_empty();
            calm = if done { calm + 1 } else { 0 };
            if calm >= 2 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Waits until every email the outbox says went out is in its
    /// recipients' mailboxes (Postfix delivers on its own time).
    pub async fn wait_delivered(&self, refused: Option<&str>) {
        let deadline = Instant::now() + SETTLE;
        loop {
            let missing = self.missing_deliveries(&self.app.outbox(), refused).await;
            if missing.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "never delivered: {missing:?}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Waits until `user` holds the email `mid`.
    pub async fn wait_delivered_one(&self, user: &str, mid: &str) {
        let deadline = Instant::now() + SETTLE;
        while !self
            .delivered()
            .await
            .contains_key(&(user.to_string(), mid.to_string()))
        {
            assert!(Instant::now() < deadline, "{user} never got <{mid}>");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `(user, Message-ID)` of each email the outbox says went out: every
    /// recipient of a sent row, every recipient but `refused` of a failed one.
    pub fn expected_deliveries(
        outbox: &[Value],
        refused: Option<&str>,
    ) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for row in outbox {
            let state = row["state"].as_str().unwrap_or("");
            if state != "sent" && state != "failed" {
                continue;
            }
            for r in row["recipients"].as_array().expect("recipients") {
                let r = r.as_str().expect("address");
                if state == "failed" && Some(r) == refused {
                    continue;
                }
                let user = r.trim_end_matches("@example.com").to_string();
                let mid = row["message_id"].as_str().expect("message_id").to_string();
                out.insert((user, mid));
            }
        }
        out
    }

    async fn missing_deliveries(
        &self,
        outbox: &[Value],
        refused: Option<&str>,
    ) -> Vec<(String, String)> {
        let counts = self.delivered().await;
        World::expected_deliveries(outbox, refused)
            .into_iter()
            .filter(|k| !counts.contains_key(k))
            .collect()
    }

    /// How many copies of each reportd email every user holds, by
    /// `(user, Message-ID)`.
    pub async fn delivered(&self) -> BTreeMap<(String, String), usize> {
        let mut counts = BTreeMap::new();
        for p in &self.fixture.people {
            for f in self
                .servers
                .fetch_all(&p.user, "INBOX")
                .await
                .expect("fetch")
            {
                let mid = common::header(&f.raw, "Message-ID");
                let mid = mid.trim().trim_start_matches('<').trim_end_matches('>');
                if mid.starts_with("reportd.") {
                    *counts.entry((p.user.clone(), mid.to_string())).or_insert(0) += 1;
                }
            }
        }
        counts
    }

    /// Every email the outbox sent is in each recipient's mailbox exactly
    /// once, and no other reportd email is anywhere; one extra copy is
    /// allowed for each time a `(user, Message-ID)` is listed in `extra`
    /// (a send cut short by a kill, see [`World::in_flight`]).
    pub async fn assert_each_email_once(&self, refused: Option<&str>, extra: &[(String, String)]) {
        tokio::time::sleep(Duration::from_millis(1500)).await; // late duplicates show up
        let outbox = self.app.outbox();
        let expected = World::expected_deliveries(&outbox, refused);
        let counts = self.delivered().await;
        let extra_copies: usize = counts.values().map(|n| n.saturating_sub(1)).sum();
        if !extra.is_empty() {
            eprintln!(
                "{extra_copies} second copies from {} sends cut short",
                extra.len()
            );
        }
        assert!(
            extra_copies <= extra.len(),
            "{extra_copies} extra copies for {} interrupted sends",
            extra.len()
        );
        let wrong: Vec<String> = counts
            .iter()
            .filter(|(k, n)| {
                // One more copy for each time its send was cut short.
                let allowed = 1 + extra.iter().filter(|e| *e == *k).count();
                !expected.contains(k) || **n > allowed
            })
            .map(|((u, m), n)| format!("{u} holds {n} of <{m}>"))
            .chain(
                expected
                    .iter()
                    .filter(|k| !counts.contains_key(k))
                    .map(|(u, m)| format!("{u} never got <{m}>")),
            )
            .collect();
        assert!(
            wrong.is_empty(),
            "emails not delivered exactly once:\n{}",
            wrong.join("\n")
        );
        assert!(!expected.is_empty(), "the fixture owes emails");
    }

    /// Stops the daemon, then one `sync --once` at [`FINAL`] reads
    /// reportd's own mail that reached the assistant's mailbox last.
    pub fn finish(&self, mut daemon: Daemon) {
        let status = daemon.stop();
        assert!(
            status.success(),
            "reportd run did not stop cleanly ({status}):\n{}",
            daemon.log_text()
        );
        self.app.run(&["sync", "--once", "--now", FINAL]);
    }

    pub fn snapshot(&self) -> Snapshot {
        let ledger = self.json(&["ledger", "--json"]);
        let mut entries: Vec<String> = ledger["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| without(e, &["at"]))
            .collect();
        entries.sort();
        entries.push(ledger["totals"].to_string());
        let status = self
            .app
            .status(FINAL, &[])
            .iter()
            .map(Value::to_string)
            .collect();
        let mut messages: Vec<String> = self
            .app
            .messages(false)
            .iter()
            .filter_map(|m| {
                // reportd's own mail arrives when it was sent: real time.
                let own = m["message_id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("reportd."));
                // A second copy of its own email (see `in_flight`; the
                // delivery count decides whether it was allowed).
                let again = m["reason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("duplicate of"));
                if own && again {
                    return None;
                }
                Some(without(
                    m,
                    if own {
                        &["id", "internaldate"]
                    } else {
                        &["id"]
                    },
                ))
            })
            .collect();
        messages.sort();
        let mut outbox: Vec<String> = self
            .app
            .outbox()
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {} <{}>",
                    r["key"],
                    r["kind"],
                    r["state"],
                    r["recipients"],
                    r["message_id"].as_str().unwrap_or("")
                )
            })
            .collect();
        outbox.sort();
        Snapshot {
            ledger: entries,
            status,
            messages,
            outbox,
        }
    }
}

/// The JSON of `v` without the keys `drop` (at its top level).
fn without(v: &Value, drop: &[&str]) -> String {
    let mut v = v.clone();
    if let Some(map) = v.as_object_mut() {
        for k in drop {
            map.remove(*k);
        }
    }
    v.to_string()
}
