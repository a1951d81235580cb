//! Running the real `reportd` binary against a test mail server: writing its
//! config, calling its commands, reading their JSON.
#![allow(dead_code)]

pub mod mail;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The shared test team (`team.toml`, also the unit tests' and the fuzz
/// targets'): a manager, a supervisor with a rep and a clerk, and the
/// assistant whose mailbox reportd reads.
pub const ROSTER: &str = include_str!("team.toml");

/// The sender of reportd's mail in [`App::with_smtp`].
pub const FROM: &str = "报告助手 <zhaomin@example.com>";

/// An `[smtp]` section for the test Postfix on `port`.
pub fn smtp_section(port: u16) -> String {
    format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"plain\"\nfrom = \"{FROM}\"\n"
    )
}

/// Mailbox users the test servers need for this roster.
pub const USERS: &[&str] = &["zhaomin", "wangfang", "zhangwei", "lina", "chengang"];

pub struct App {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

pub struct Imap<'a> {
    pub port: u16,
    pub security: &'a str,
    pub password: &'a str,
    pub ca_file: Option<&'a Path>,
}

impl<'a> Imap<'a> {
    /// Plain IMAP to the test Dovecot, with its password.
    pub fn plain(servers: &'a crate::common::MailServers) -> Imap<'a> {
        Imap {
            port: servers.imap_port(),
            security: "plain",
            password: servers.password(),
            ca_file: None,
        }
    }
}

impl App {
    /// A config reading the assistant's INBOX on the test server.
    pub fn new(imap: Imap<'_>, tracking_starts: &str) -> App {
        App::configure(imap, tracking_starts, "", ROSTER)
    }

    /// Like [`App::new`], sending its mail through the test Postfix on
    /// `smtp_port` (plain SMTP to 127.0.0.1, no login) as [`FROM`].
    pub fn with_smtp(imap: Imap<'_>, tracking_starts: &str, smtp_port: u16) -> App {
        App::configure(imap, tracking_starts, &smtp_section(smtp_port), ROSTER)
    }

    /// A config with `extra` (whole sections such as `[smtp]` or
    /// `[notify]`) and `roster` (the `[[person]]` tables) in place of the
    /// defaults.
    pub fn configure(imap: Imap<'_>, tracking_starts: &str, extra: &str, roster: &str) -> App {
        let dir = tempfile::tempdir().expect("temp dir");
        let password_file = dir.path().join("imap-password");
        std::fs::write(&password_file, imap.password).expect("password file");
        let calendars = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/calendar");
        let calendar = ["cn-2025.toml", "cn-2026.toml"]
            .map(|f| format!("{:?}", calendars.join(f).display().to_string()))
            .join(", ");
        let ca = imap
            .ca_file
            .map(|p| format!("ca_file = {:?}\n", p.display().to_string()))
            .unwrap_or_default();
        let text = format!(
            r#"
timezone = "Asia/Shanghai"
database = {db:?}
tracking_starts = "{tracking_starts}"
calendar = [{calendar}]

[imap]
host = "127.0.0.1"
port = {port}
security = "{security}"
username = "zhaomin@example.com"
password_file = {password_file:?}
mailbox = "INBOX"
poll_seconds = 1
{ca}
{extra}
[rules]
weekly_due = "SAT 22:00"
monthly_due = "first-working-day"
fine_yuan = 50
fund_share_percent = 50
reply_within_hours = 48
{roster}"#,
            db = dir.path().join("reportd.sqlite3").display().to_string(),
            port = imap.port,
            security = imap.security,
            password_file = password_file.display().to_string(),
        );
        let config = dir.path().join("reportd.toml");
        std::fs::write(&config, text).expect("config");
        App { dir, config }
    }

    /// A config reading the assistant's INBOX over plain IMAP on
    /// `imap_port` (password `password`) and sending through the test
    /// Postfix on `smtp_port`, for `roster`.
    pub fn plain(
        imap_port: u16,
        password: &str,
        smtp_port: u16,
        tracking_starts: &str,
        roster: &str,
    ) -> App {
        let imap = Imap {
            port: imap_port,
            security: "plain",
            password,
            ca_file: None,
        };
        App::configure(imap, tracking_starts, &smtp_section(smtp_port), roster)
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_reportd"));
        cmd.arg("--config").arg(&self.config);
        cmd.env_remove("REPORTD_CONFIG");
        cmd
    }

    /// Writes a calendar file named `name` beside the config and adds it
    /// to the config's `calendar` list.
    pub fn add_calendar(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("calendar file");
        let config = std::fs::read_to_string(&self.config).expect("config");
        assert!(config.contains("calendar = ["), "{config}");
        let listed = format!("calendar = [{:?}, ", path.display().to_string());
        std::fs::write(&self.config, config.replacen("calendar = [", &listed, 1)).expect("config");
        path
    }

    /// Gives reportd the 2027 holiday notice (an `official` calendar
    /// file), so a scenario in November 2026 judges nothing provisionally
    /// and the assistant's yearly request for the notice (see
    /// tests/calendar_notice.rs) stays out of its counts.
    pub fn cover_2027(&self) {
        self.add_calendar("cn-2027.toml", &reportd::calendar::example_file(2027));
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().expect("run reportd");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "reportd {args:?} failed: {stderr}\n{stdout}"
        );
        stdout
    }

    pub fn sync(&self, now: &str) -> String {
        self.run(&["sync", "--once", "--now", now])
    }

    pub fn status(&self, now: &str, periods: &[&str]) -> Vec<Value> {
        let mut args = vec!["status", "--json", "--now", now];
        for p in periods {
            args.push("--period");
            args.push(p);
        }
        let out = self.run(&args);
        serde_json::from_str::<Vec<Value>>(&out).expect("status JSON")
    }

    /// The status row of one person and period.
    pub fn row(&self, now: &str, person: &str, period: &str) -> Value {
        self.status(now, &[period])
            .into_iter()
            .find(|r| r["person"] == person)
            .unwrap_or_else(|| panic!("no status row for {person} {period}"))
    }

    pub fn ledger(&self) -> Value {
        serde_json::from_str(&self.run(&["ledger", "--json"])).expect("ledger JSON")
    }

    /// `reportd outbox --json`: every email queued, sent or failed.
    pub fn outbox(&self) -> Vec<Value> {
        serde_json::from_str(&self.run(&["outbox", "--json"])).expect("outbox JSON")
    }

    /// The class `reportd messages` gives the message with this
    /// Message-ID (among the flagged ones only, when `flagged`).
    pub fn class_of(&self, message_id: &str, flagged: bool) -> Option<String> {
        self.messages(flagged)
            .into_iter()
            .find(|m| m["message_id"] == message_id)
            .and_then(|m| m["class"].as_str().map(str::to_string))
    }

    pub fn messages(&self, flagged: bool) -> Vec<Value> {
        let mut args = vec!["messages", "--json"];
        if flagged {
            args.push("--flagged");
        }
        serde_json::from_str(&self.run(&args)).expect("messages JSON")
    }
}

/// `reportd [global args] run` in the background, its stderr in a file;
/// killed (SIGKILL) when dropped unless stopped first.
pub struct Running {
    pub child: std::process::Child,
    pub log: PathBuf,
}

impl App {
    /// Starts `reportd <global> run` with `envs` added to its environment.
    pub fn start(&self, global: &[&str], envs: &[(&str, &str)]) -> Running {
        let log = self.dir.path().join("daemon.log");
        let child = self
            .command()
            .args(global)
            .arg("run")
            .envs(envs.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).expect("daemon log"))
            .spawn()
            .expect("start reportd run");
        Running { child, log }
    }

    /// A command's exit code and stdout, whatever the code.
    pub fn try_run(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let out = self.command().args(args).output().expect("run reportd");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn database(&self) -> PathBuf {
        self.dir.path().join("reportd.sqlite3")
    }

    /// Queues a digest (which the quiet hours do not hold back) from
    /// [`FROM`] to `to` (a user or an address) under `key`, due a minute
    /// ago, straight into the outbox; returns its Message-ID in brackets.
    pub fn queue_digest(&self, key: &str, to: &str) -> String {
        use reportd::notify::outbox::{self, Outgoing};
        let id = outbox::message_id_for(key, "example.com");
        let message = lettre::Message::builder()
            .from(FROM.parse().expect("from"))
            .to(crate::common::address(to).parse().expect("to"))
            .subject(format!("测试 {key}"))
            .message_id(Some(format!("<{id}>")))
            .body(String::from("请查收。\n"))
            .expect("message");
        let now = chrono::Utc::now() - chrono::TimeDelta::minutes(1);
        let out = Outgoing::from_message(key, "digest", &message, now).expect("outgoing");
        let conn = reportd::store::open(&self.database()).expect("database");
        assert!(outbox::enqueue(&conn, &out, now).expect("enqueue"));
        format!("<{id}>")
    }
}

impl Running {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `done` (every 50 ms, for up to a minute) while the daemon
    /// runs; fails with its log if it ends or the minute passes first.
    pub fn wait_until(&mut self, what: &str, mut done: impl FnMut(&str) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let log = self.log_text();
            if done(&log) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("reportd run ended ({status}) before {what}: {log}");
            }
            assert!(std::time::Instant::now() < deadline, "never {what}: {log}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// SIGTERM, as systemd stops it; waits for the exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("a pid");
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
        self.child.wait().expect("reportd run ends")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A report as a mail client writes it. `subject` is put in as is, so a
/// test can pass an RFC 2047 encoded word in any charset.
pub fn eml(
    from: &str,
    to: &[&str],
    cc: &[&str],
    subject: &str,
    message_id: &str,
    date: &str,
) -> Vec<u8> {
    let mut m = format!("From: {from}\r\nTo: {}\r\n", to.join(", "));
    if !cc.is_empty() {
        m.push_str(&format!("Cc: {}\r\n", cc.join(", ")));
    }
    m.push_str(&format!(
        "Subject: {subject}\r\nDate: {date}\r\nMessage-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n本周工作总结见正文。\r\n"
    ));
    m.into_bytes()
}

/// A reply to `parent` (a Message-ID without brackets).
pub fn reply_eml(from: &str, to: &str, subject: &str, message_id: &str, parent: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nCc: zhaomin@example.com\r\nSubject: {subject}\r\n\
         Date: Mon, 16 Nov 2026 09:00:00 +0800\r\nMessage-ID: <{message_id}>\r\nIn-Reply-To: <{parent}>\r\n\
         References: <{parent}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n收到，辛苦了。\r\n"
    )
    .into_bytes()
}

/// `=?UTF-8?B?...?=` for a subject.
pub fn utf8_word(text: &str) -> String {
    use base64::Engine;
    format!(
        "=?UTF-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

/// `=?<label>?B?...?=` with the text encoded in `encoding`.
pub fn encoded_word(text: &str, label: &str, encoding: &'static encoding_rs::Encoding) -> String {
    use base64::Engine;
    let (bytes, _, unmappable) = encoding.encode(text);
    assert!(!unmappable, "{text} cannot be written in {label}");
    format!(
        "=?{label}?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    )
}

/// A week-46 report (`<name> 第46周周报`) from `from` to `to`, Cc `cc`,
/// put into the assistant's INBOX with INTERNALDATE `arrival` (RFC 3339).
pub async fn append_w46(
    servers: &crate::common::MailServers,
    from: &str,
    (to, cc): (&[&str], &[&str]),
    name: &str,
    id: &str,
    arrival: &str,
) {
    let subject = utf8_word(&format!("{name} 第46周周报"));
    let raw = eml(
        from,
        to,
        cc,
        &subject,
        id,
        "Thu, 12 Nov 2026 09:00:00 +0800",
    );
    let at = chrono::DateTime::parse_from_rfc3339(arrival).expect("RFC 3339 arrival");
    servers
        .append("zhaomin", "INBOX", &raw, at)
        .await
        .expect("append report");
}
