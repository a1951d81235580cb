//! Running reportd as an operator meets it, through the real binary: one
//! writer per database (a second one is refused with exit code 75, readers
//! work beside it, a SIGKILL leaves no stale lock); a `sent` mark that meets
//! another writer's lock right after the server's 250 still gets stored, so
//! the email arrives once (real Postfix into real Dovecot); `--now` ahead of
//! the clock refused where it would book or send; output into a pipe whose
//! reader left ends quietly; no `REPORTD_LOG` prints a password; the files
//! reportd creates are private.

mod app;
mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use app::{App, Imap, ROSTER};
use chrono::{SecondsFormat, TimeDelta, Utc};
use common::MailServers;
use reportd::notify::outbox;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(20);
/// Past deadlines to judge: W45 onwards.
const TRACKING: &str = "2026-11-02";
/// A tracking start no deadline of the real clock reaches: nothing is
/// judged, so the only email sent is the one a test queues.
const NOT_YET: &str = "2099-01-05";

// ----- a team reading a local Maildir ---------------------------------------------

/// A config reading a local Maildir (no server needed), with the database
/// at `database` (relative to the test's directory).
struct Local {
    dir: tempfile::TempDir,
    config: PathBuf,
    database: PathBuf,
}

impl Local {
    fn new(database: &str) -> Local {
        let dir = tempfile::tempdir().expect("temp dir");
        let maildir = dir.path().join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
        }
        let database = dir.path().join(database);
        let calendars = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/calendar");
        let calendar = ["cn-2025.toml", "cn-2026.toml"]
            .map(|f| format!("{:?}", calendars.join(f).display().to_string()))
            .join(", ");
        let text = format!(
            "timezone = \"Asia/Shanghai\"\ndatabase = {:?}\ntracking_starts = \"{TRACKING}\"\n\
             calendar = [{calendar}]\n\n[maildir]\npath = {:?}\n{ROSTER}",
            database.display().to_string(),
            maildir.display().to_string(),
        );
        let config = dir.path().join("reportd.toml");
        std::fs::write(&config, text).expect("config");
        Local {
            dir,
            config,
            database,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_reportd"));
        cmd.arg("--config").arg(&self.config).args(args);
        cmd.env_remove("REPORTD_CONFIG").env_remove("REPORTD_LOG");
        cmd
    }

    fn output(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run reportd")
    }

    /// Runs a command that must succeed; returns its stdout.
    fn run(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "reportd {args:?}: {}\n{}",
            text(&out.stderr),
            text(&out.stdout)
        );
        text(&out.stdout)
    }

    /// `reportd run` in the background, once it holds the writer lock.
    fn daemon(&self) -> Daemon {
        let mut daemon = self.spawn_daemon();
        daemon.wait_for_lock(&self.database);
        daemon
    }

    /// `reportd run` in the background, just started.
    fn spawn_daemon(&self) -> Daemon {
        let log = self.dir.path().join("daemon.log");
        let child = self
            .command(&["run"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("daemon log"))
            .spawn()
            .expect("start reportd run");
        Daemon { child, log }
    }

    fn ledger_entries(&self) -> Vec<serde_json::Value> {
        let ledger: serde_json::Value =
            serde_json::from_str(&self.run(&["ledger", "--json"])).expect("ledger JSON");
        ledger["entries"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("no entries in {ledger}"))
    }
}

/// A `reportd run` child, killed when dropped.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the lock file next to `database` names this daemon.
    fn wait_for_lock(&mut self, database: &Path) {
        let lock = PathBuf::from(format!("{}.lock", database.display()));
        let deadline = Instant::now() + WAIT;
        let mine = format!("{}\n", self.pid());
        while std::fs::read_to_string(&lock).ok().as_deref() != Some(mine.as_str()) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("reportd run ended ({status}): {}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "reportd run never took the lock {}: {}",
                lock.display(),
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, then reap it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `reportd excuse` for 张伟's `period`, approved by 王芳, at `now`.
fn excuse<'a>(period: &'a str, now: &'a str) -> Vec<&'a str> {
    let who = [
        "--person",
        "zhangwei@example.com",
        "--by",
        "wangfang@example.com",
    ];
    let mut args = vec![
        "excuse", "--period", period, "--reason", "病假", "--now", now,
    ];
    args.extend(who);
    args
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The clock moved by `minutes`, as RFC 3339.
fn clock_plus(minutes: i64) -> String {
    (Utc::now() + TimeDelta::minutes(minutes)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Waits (up to [`WAIT`]) until `path` exists.
fn wait_until_exists(path: &Path) {
    let deadline = Instant::now() + WAIT;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

// ----- 8. one writer per database ---------------------------------------------------

#[test]
fn a_second_writer_beside_the_daemon_is_refused_at_once_with_exit_75_and_readers_work() {
    let team = Local::new("reportd.sqlite3");
    let mut daemon = team.daemon();
    let running = format!("reportd is already running (pid {})", daemon.pid());
    let past = "2026-11-16T10:00:00+08:00";
    for writer in [
        vec!["sync", "--once"],
        vec!["sync", "--once", "--now", past],
        vec!["run"],
    ] {
        let out = team.output(&writer);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(75), "{writer:?}: {stderr}");
        assert!(stderr.contains(&running), "{writer:?}: {stderr}");
    }
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&team.run(&["status", "--json", "--now", past])).expect("status");
    assert!(
        rows.iter().any(|r| r["person"] == "zhangwei@example.com"),
        "{rows:?}"
    );
    for reader in [
        vec!["ledger", "--json"],
        vec!["messages", "--json"],
        vec!["outbox", "--json"],
        vec!["calendar", "--month", "2026-11"],
        vec!["check-config"],
    ] {
        team.run(&reader);
    }
    // The assistant files a reason while the daemon runs.
    let filed = team.output(&excuse("2026-W46", past));
    assert!(filed.status.success(), "{}", text(&filed.stderr));
    // The team's language is Chinese, the default.
    assert!(
        text(&filed.stdout).starts_with("已登记"),
        "{}",
        text(&filed.stdout)
    );
    let still = daemon.child.try_wait().expect("daemon state");
    assert!(still.is_none(), "the daemon runs on: {still:?}");
}

#[test]
fn a_daemon_killed_with_sigkill_leaves_no_lock_behind() {
    let team = Local::new("reportd.sqlite3");
    let mut daemon = team.daemon();
    let refused = team.output(&["sync", "--once"]);
    assert_eq!(refused.status.code(), Some(75), "{}", text(&refused.stderr));
    daemon.kill();
    let out = team.run(&["sync", "--once", "--now", "2026-11-16T10:00:00+08:00"]);
    assert!(out.contains("fetched 0 new message(s)"), "{out}");
    assert!(
        !team.ledger_entries().is_empty(),
        "the pass ran and fined the missing W45 reports"
    );
}

// ----- 13. private files --------------------------------------------------------------

#[test]
fn a_new_database_its_wal_lock_and_new_directories_are_private() {
    let team = Local::new("private/data/reportd.sqlite3");
    let _daemon = team.spawn_daemon();
    let db = &team.database;
    let beside = |suffix: &str| PathBuf::from(format!("{}{suffix}", db.display()));
    // The daemon keeps its connection open, so the WAL files stay.
    wait_until_exists(&beside("-shm"));
    wait_until_exists(&beside("-wal"));
    assert_eq!(mode(db), 0o600, "database");
    assert_eq!(mode(&beside("-wal")), 0o600, "WAL");
    assert_eq!(mode(&beside("-shm")), 0o600, "shared memory");
    assert_eq!(mode(&beside(".lock")), 0o600, "lock file");
    assert_eq!(mode(&team.dir.path().join("private/data")), 0o700);
    assert_eq!(mode(&team.dir.path().join("private")), 0o700);
}

#[test]
fn a_first_sync_leaves_the_database_in_wal_mode_for_readers_beside_the_daemon() {
    let team = Local::new("reportd.sqlite3");
    // The first import is written with a rollback journal; the pass ends
    // in WAL, in which `status` reads beside a writer.
    team.run(&["sync", "--once", "--now", "2026-11-16T10:00:00+08:00"]);
    let conn = rusqlite::Connection::open(&team.database).expect("open");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal mode");
    assert_eq!(mode, "wal");
}

// ----- 10. --now later than the clock -------------------------------------------------

#[test]
fn sync_and_excuse_refuse_a_now_later_than_the_clock_and_book_nothing() {
    let team = Local::new("reportd.sqlite3");
    let tomorrow = clock_plus(24 * 60);
    for args in [
        vec!["sync", "--once", "--now", &tomorrow],
        excuse("2026-W48", &tomorrow),
    ] {
        let out = team.output(&args);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} must be refused: {stderr}");
        assert!(
            stderr.contains("later than this machine's clock")
                && stderr.contains("Leave out --now"),
            "{args:?}: {stderr}"
        );
    }
    assert!(team.ledger_entries().is_empty(), "nothing was booked");
    // A clock a few minutes behind is no reason to refuse.
    team.run(&["sync", "--once", "--now", &clock_plus(3)]);
}

#[test]
fn read_only_commands_accept_any_now() {
    let team = Local::new("reportd.sqlite3");
    team.run(&["sync", "--once", "--now", "2026-11-16T10:00:00+08:00"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&team.run(&[
        "status",
        "--json",
        "--now",
        "2027-03-01T10:00:00+08:00",
        "--period",
        "2027-W08",
    ]))
    .expect("status JSON");
    assert!(
        rows.iter()
            .any(|r| r["person"] == "lina@example.com" && r["period"] == "2027-W08"),
        "{rows:?}"
    );
}

// ----- 9. broken pipes -----------------------------------------------------------------

#[test]
fn a_reader_that_closes_the_pipe_early_ends_each_listing_quietly() {
    let team = Local::new("reportd.sqlite3");
    team.run(&["sync", "--once", "--now", "2026-11-30T10:00:00+08:00"]);
    let now = "2026-11-30T10:00:00+08:00";
    for args in [
        &["status", "--json", "--now", now][..],
        &["status", "--now", now],
        &["ledger", "--json"],
        &["ledger"],
        &["messages", "--json"],
        &["messages"],
        &["outbox", "--json"],
        &["calendar", "--month", "2026-11"],
    ] {
        let mut child = team
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start reportd");
        // The reader leaves before reportd writes a byte.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("reportd ends");
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        let quiet = out.status.code() == Some(0) || out.status.signal() == Some(13);
        assert!(quiet, "{args:?} ended {:?}: {stderr}", out.status);
    }
}

// ----- with real Dovecot and Postfix ----------------------------------------------------

fn imap(servers: &MailServers) -> Imap<'_> {
    Imap {
        port: servers.imap_port(),
        security: "plain",
        password: servers.password(),
        ca_file: None,
    }
}

fn database(app: &App) -> PathBuf {
    app.dir.path().join("reportd.sqlite3")
}

fn queue_email(app: &App, key: &str, to: &str) -> String {
    app.queue_digest(key, to)
}

fn outbox_state(app: &App, key: &str) -> String {
    app.outbox()
        .into_iter()
        .find(|r| r["key"] == key)
        .and_then(|r| r["state"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no outbox row {key}"))
}

/// Runs a blocking command off the async runtime.
async fn output_of(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("run reportd"))
        .await
        .expect("join")
}

// ----- 7. the `sent` mark after the server's 250 ------------------------------------

/// How long the test's own connection holds the write lock from just before
/// the server's 250: beyond rusqlite's default busy timeout of 5 s.
const HOLD: Duration = Duration::from_secs(8);

#[tokio::test(flavor = "multi_thread")]
async fn a_writer_holding_the_lock_across_the_250_delays_the_sent_mark_and_the_email_arrives_once()
{
    let servers = MailServers::start(app::USERS);
    let key = "ops-test:held-lock";
    let proxy = LockingProxy::bind().await;
    let app = App::configure(
        imap(&servers),
        NOT_YET,
        &app::smtp_section(proxy.port),
        ROSTER,
    );
    let held = proxy.serve(
        servers.smtp_port(),
        Locker {
            marker: outbox::message_id_for(key, "example.com").into_bytes(),
            database: database(&app),
            hold: HOLD,
            held: Arc::default(),
        },
    );
    let message_id = queue_email(&app, key, "wangfang");

    let mut first = app.command();
    first.args(["sync", "--once"]);
    let out = output_of(first).await;
    assert!(
        out.status.success(),
        "the pass outlasts the held lock: {}",
        text(&out.stderr)
    );
    assert!(
        held.load(Ordering::SeqCst),
        "the lock was held across the 250"
    );
    assert_eq!(outbox_state(&app, key), "sent");

    // Past the claim's lease (send timeout + 30 s): a row still queued would
    // be sent again now.
    let mut again = app.command();
    again.args(["sync", "--once", "--now", &clock_plus(4)]);
    let out = output_of(again).await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    servers
        .wait_for("wangfang", "INBOX", 1, WAIT)
        .await
        .expect("the email arrives");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let copies = servers
        .fetch_all("wangfang", "INBOX")
        .await
        .expect("fetch")
        .iter()
        .filter(|f| common::header(&f.raw, "Message-ID") == message_id)
        .count();
    assert_eq!(copies, 1, "exactly one copy of {message_id}");
    assert_eq!(outbox_state(&app, key), "sent");
}

/// A TCP proxy in front of Postfix that, when the client ends the DATA of
/// the message carrying `marker`, takes the database's write lock (BEGIN
/// IMMEDIATE on its own connection) before it lets the end of DATA through,
/// and keeps it for `hold`: the server's 250 reaches reportd while another
/// writer holds the lock.
struct LockingProxy {
    port: u16,
    listener: tokio::net::TcpListener,
}

impl LockingProxy {
    async fn bind() -> LockingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy bind");
        let port = listener.local_addr().expect("proxy addr").port();
        LockingProxy { port, listener }
    }

    /// Relays to `upstream` with `locker` watching; returns whether the
    /// lock has been taken.
    fn serve(self, upstream: u16, locker: Locker) -> Arc<AtomicBool> {
        let held = locker.held.clone();
        let locker = Arc::new(locker);
        tokio::spawn(async move {
            while let Ok((client, _)) = self.listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    continue;
                };
                tokio::spawn(locker.clone().relay(client, server));
            }
        });
        held
    }
}

struct Locker {
    marker: Vec<u8>,
    database: PathBuf,
    hold: Duration,
    held: Arc<AtomicBool>,
}

impl Locker {
    async fn relay(self: Arc<Self>, client: tokio::net::TcpStream, server: tokio::net::TcpStream) {
        let (mut client_rd, mut client_wr) = client.into_split();
        let (mut server_rd, mut server_wr) = server.into_split();
        let down = tokio::spawn(async move {
            let _ = tokio::io::copy(&mut server_rd, &mut client_wr).await;
        });
        let mut seen: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match client_rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let from = seen.len().saturating_sub(4);
            seen.extend_from_slice(&buf[..n]);
            let data_ends = seen[from..].windows(5).any(|w| w == b"\r\n.\r\n");
            if data_ends && contains(&seen, &self.marker) && !self.held.load(Ordering::SeqCst) {
                self.take_lock().await;
            }
            if server_wr.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        drop(server_wr);
        let _ = down.await;
    }

    /// Returns once the lock is taken; a thread lets it go after `hold`.
    async fn take_lock(&self) {
        let path = self.database.clone();
        let hold = self.hold;
        let (taken, is_taken) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let conn = rusqlite::Connection::open(&path).expect("open the database");
            conn.busy_timeout(Duration::from_secs(30)).expect("timeout");
            conn.execute_batch("BEGIN IMMEDIATE")
                .expect("take the write lock");
            taken.send(()).expect("signal");
            std::thread::sleep(hold);
            conn.execute_batch("ROLLBACK").expect("let go");
        });
        tokio::task::spawn_blocking(move || is_taken.recv().expect("lock taken"))
            .await
            .expect("join");
        self.held.store(true, Ordering::SeqCst);
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

// ----- 13. no log setting prints a password --------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn no_reportd_log_setting_prints_the_imap_or_smtp_password() {
    use base64::Engine;
    let servers = MailServers::start(app::USERS);
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp_password = dir.path().join("smtp-password");
    std::fs::write(&smtp_password, servers.password()).expect("password file");
    let user = "zhaomin@example.com";
    // Plain SMTP with AUTH, which the test Postfix allows on 127.0.0.1: the
    // login is in the clear on the wire, the worst case for a trace.
    let smtp = format!(
        "{}username = \"{user}\"\npassword_file = {:?}\n",
        app::smtp_section(servers.smtp_port()),
        smtp_password.display().to_string()
    );
    let app = App::configure(imap(&servers), NOT_YET, &smtp, ROSTER);
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let secrets = [
        servers.password().to_string(),
        b64(servers.password()),
        b64(&format!("\0{user}\0{}", servers.password())),
    ];
    for (n, setting) in [
        "trace",
        "async_imap::imap_stream=trace",
        "lettre=trace",
        "async_imap=trace,imap_proto=trace,lettre=trace,rustls=trace,tokio_rustls=trace",
    ]
    .into_iter()
    .enumerate()
    {
        let key = format!("ops-test:log-{n}");
        queue_email(&app, &key, "wangfang");
        let mut cmd = app.command();
        cmd.args(["sync", "--once"]).env("REPORTD_LOG", setting);
        let out = output_of(cmd).await;
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{setting}: {stderr}");
        assert_eq!(outbox_state(&app, &key), "sent", "{setting}: {stderr}");
        for secret in &secrets {
            assert!(
                !stderr.contains(secret.as_str()),
                "REPORTD_LOG={setting} printed a secret ({secret}):\n{stderr}"
            );
        }
    }
    let postfix = servers.postfix_log();
    assert!(
        postfix.contains(&format!("sasl_username={user}")),
        "reportd logged in to SMTP: {postfix}"
    );
}
