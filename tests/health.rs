//! Watching reportd as its operators do, through the real binary against
//! real Dovecot and Postfix: `reportd health` (one line, Nagios exit codes,
//! a Prometheus textfile), `--log-format json` with its one summary line a
//! pass, and the systemd notify protocol (READY=1, WATCHDOG=1, STOPPING=1)
//! received on a Unix datagram socket standing in for systemd.

mod app;
mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use app::{App, Imap, USERS};
use chrono::{SecondsFormat, TimeDelta, Utc};
use common::{MailServers, RecipientRule};

const WAIT: Duration = Duration::from_secs(20);
/// Nothing is judged: the only mail is what a test puts in.
const NOT_YET: &str = "2099-01-05";

/// The clock moved by `minutes`, as RFC 3339.
fn clock_plus(minutes: i64) -> String {
    (Utc::now() + TimeDelta::minutes(minutes)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `reportd health ARGS`: its exit code and its stdout, which must be one
/// line.
fn health(app: &App, args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["health"];
    all.extend(args);
    let (code, stdout, stderr) = app.try_run(&all);
    assert_eq!(
        stdout.lines().count(),
        1,
        "one line, got {stdout:?} (stderr {stderr})"
    );
    (code, stdout.trim_end().to_string())
}

async fn append_report(servers: &MailServers, id: &str) {
    let raw = app::eml(
        "张伟 <zhangwei@example.com>",
        &["wangfang@example.com"],
        &["zhaomin@example.com"],
        "周报 2026-W47",
        id,
        "Fri, 20 Nov 2026 18:00:00 +0800",
    );
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-20T18:00:00+08:00").expect("date");
    servers
        .append("zhaomin", "INBOX", &raw, at)
        .await
        .expect("append");
}

#[tokio::test]
async fn health_is_ok_after_a_pass_and_critical_in_one_line_once_the_pass_is_older_than_max_age() {
    let servers = MailServers::start(USERS);
    let app = App::new(Imap::plain(&servers), NOT_YET);

    // No database yet: nothing is known, and the probe creates nothing;
    // the Prometheus file still carries the pass timestamp (0) the age
    // alert reads.
    let prom = app.dir.path().join("reportd.prom");
    let prom_arg = prom.display().to_string();
    let (code, line) = health(&app, &["--prometheus", &prom_arg]);
    assert_eq!(code, Some(3), "{line}");
    assert!(line.starts_with("REPORTD UNKNOWN - "), "{line}");
    assert!(
        !app.database().exists(),
        "health must not create the database"
    );
    let text = std::fs::read_to_string(&prom).expect("textfile");
    for want in [
        "reportd_health_status 3",
        "reportd_last_successful_pass_timestamp_seconds 0",
    ] {
        assert!(text.lines().any(|l| l == want), "{want} in\n{text}");
    }

    append_report(&servers, "w47@example.com").await;
    // Any --now: what counts is when the pass really ran.
    app.sync("2026-11-23T09:00:00+08:00");
    let (code, line) = health(&app, &[]);
    assert_eq!(code, Some(0), "{line}");
    assert!(
        line.starts_with("REPORTD OK - last successful pass ") && line.contains("s ago;"),
        "{line}"
    );

    let later = clock_plus(2 * 60 + 3);
    let (code, line) = health(&app, &["--now", &later]);
    assert_eq!(code, Some(2), "{line}");
    assert!(
        line.starts_with(
            "REPORTD CRITICAL - last successful pass 2h 3m ago (max 1h): is `reportd run` running"
        ),
        "{line}"
    );
    let (code, line) = health(&app, &["--now", &later, "--max-age", "3h"]);
    assert_eq!(code, Some(0), "a longer --max-age accepts it: {line}");
    // The default tolerates the daemon's idle stretch (a pass every 25 min).
    let (code, line) = health(&app, &["--now", &clock_plus(50)]);
    assert_eq!(code, Some(0), "{line}");

    // A limit that is not a duration: UNKNOWN (3), not a usage error (2).
    for args in [["--max-age", "fifteen"], ["--max-queue-age", "1 fortnight"]] {
        let (code, line) = health(&app, &args);
        assert_eq!(code, Some(3), "{line}");
        assert!(line.starts_with("REPORTD UNKNOWN - --max"), "{line}");
        assert!(line.contains("such as 90s, 15m"), "{line}");
    }
}

fn outbox_state(app: &App, key: &str) -> String {
    let rows = app.outbox();
    let row = rows
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no outbox row {key}"));
    row["state"].as_str().expect("state").to_string()
}

#[tokio::test]
async fn health_warns_naming_an_email_refused_for_good_and_writes_the_gauges_for_prometheus() {
    let servers = MailServers::start(USERS);
    let app = App::with_smtp(Imap::plain(&servers), NOT_YET, servers.smtp_port());
    let prom = app.dir.path().join("textfile/reportd.prom");
    std::fs::create_dir_all(prom.parent().expect("dir")).expect("textfile dir");
    let prom_arg = prom.display().to_string();

    app.run(&["sync", "--once"]);
    app.queue_digest("digest:refused", "zhangwei");
    servers.set_recipient_rule("zhangwei", RecipientRule::PermFail);
    app.run(&["sync", "--once"]);
    assert_eq!(outbox_state(&app, "digest:refused"), "failed");

    let (code, line) = health(&app, &["--prometheus", &prom_arg]);
    assert_eq!(code, Some(1), "{line}");
    assert!(
        line.starts_with("REPORTD WARNING - 1 email(s) failed: digest:refused;"),
        "{line}"
    );
    let text = std::fs::read_to_string(&prom).expect("textfile");
    for want in [
        "reportd_health_status 1",
        "reportd_outbox_failed 1",
        "reportd_outbox_pending 0",
        "reportd_messages_flagged 0",
    ] {
        assert!(text.lines().any(|l| l == want), "{want} in\n{text}");
    }
    let stamp = text
        .lines()
        .find_map(|l| l.strip_prefix("reportd_last_successful_pass_timestamp_seconds "))
        .and_then(|v| v.parse::<i64>().ok())
        .expect("a pass timestamp");
    assert!((Utc::now().timestamp() - stamp).abs() < 600, "{stamp}");
    let mode = std::fs::metadata(&prom)
        .expect("textfile")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644, "the collector runs as another user");

    // Sent once the address is fixed: healthy again.
    servers.set_recipient_rule("zhangwei", RecipientRule::Accept);
    app.run(&["outbox", "--retry", "digest:refused"]);
    app.run(&["sync", "--once"]);
    assert_eq!(outbox_state(&app, "digest:refused"), "sent");
    let (code, line) = health(&app, &["--prometheus", &prom_arg]);
    assert_eq!(code, Some(0), "{line}");
    let text = std::fs::read_to_string(&prom).expect("textfile");
    assert!(
        text.lines().any(|l| l == "reportd_health_status 0"),
        "{text}"
    );
}

#[tokio::test]
async fn emails_waiting_longer_than_max_queue_age_are_a_warning_asking_whether_smtp_is_reachable() {
    let servers = MailServers::start(USERS);
    let app = App::with_smtp(Imap::plain(&servers), NOT_YET, servers.smtp_port());
    app.run(&["sync", "--once"]);
    app.queue_digest("digest:waiting", "zhangwei");
    servers.set_recipient_rule("zhangwei", RecipientRule::TempFail);
    app.run(&["sync", "--once"]);
    assert_eq!(outbox_state(&app, "digest:waiting"), "queued");

    let (code, line) = health(&app, &["--max-age", "3h"]);
    assert_eq!(code, Some(0), "queued a minute ago is fine: {line}");
    let (code, line) = health(
        &app,
        &["--now", &clock_plus(2 * 60 + 10), "--max-age", "3h"],
    );
    assert_eq!(code, Some(1), "{line}");
    assert!(
        line.starts_with("REPORTD WARNING - 1 email waiting 2h ")
            && line.contains(" to be sent: is SMTP reachable?"),
        "{line}"
    );
    let (code, line) = health(
        &app,
        &[
            "--now",
            &clock_plus(2 * 60 + 10),
            "--max-age",
            "3h",
            "--max-queue-age",
            "3h",
        ],
    );
    assert_eq!(code, Some(0), "a longer --max-queue-age accepts it: {line}");
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_with_one_summary_line_a_pass() {
    let servers = MailServers::start(USERS);
    let app = App::new(Imap::plain(&servers), NOT_YET);
    append_report(&servers, "a@example.com").await;
    append_report(&servers, "b@example.com").await;
    let mut daemon = app.start(&["--log-format", "json"], &[("REPORTD_LOG", "info")]);

    let is_pass = |v: &serde_json::Value| v["message"] == "pass";
    let parse = |text: &str| -> Vec<serde_json::Value> {
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    daemon.wait_until("a pass line", |t| parse(t).iter().any(is_pass));
    assert!(daemon.stop().success());

    let text = daemon.log_text();
    let mut passes = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object: {line:?}: {e}"));
        assert!(v.is_object(), "{line}");
        if is_pass(&v) {
            passes.push(v);
        }
    }
    let first = &passes[0];
    assert_eq!(first["level"], "INFO", "{first}");
    assert_eq!(first["fetched"], 2, "{first}");
    assert_eq!(first["classified"], 2, "{first}");
    for field in ["booked", "queued", "sent", "duration_ms"] {
        assert!(first[field].is_u64(), "{field} in {first}");
    }
    // One line a pass: no separate line for the outbox.
    assert!(!text.contains("outbox delivered"), "{text}");
}

/// The datagrams received on `socket` until `enough` says so.
fn notifications(socket: &UnixDatagram, enough: impl Fn(&[String]) -> bool) -> Vec<String> {
    socket.set_read_timeout(Some(WAIT)).expect("read timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !enough(&got) {
        let n = socket
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no notification after {got:?}: {e}"));
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    got
}

fn count(got: &[String], line: &str) -> usize {
    got.iter().filter(|d| d.lines().any(|l| l == line)).count()
}

#[tokio::test]
async fn under_systemd_run_says_ready_after_its_first_pass_and_pings_the_watchdog_while_idle() {
    let servers = MailServers::start(USERS);
    let app = App::new(Imap::plain(&servers), NOT_YET);
    let socket_path = app.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("notify socket");
    let path = socket_path.display().to_string();
    // A 2 s watchdog: pings every second, though IDLE would wait 25 minutes.
    let mut daemon = app.start(
        &[],
        &[
            ("NOTIFY_SOCKET", path.as_str()),
            ("WATCHDOG_USEC", "2000000"),
        ],
    );

    let got = notifications(&socket, |got| count(got, "READY=1") > 0);
    let ready = got.last().expect("READY");
    assert!(
        ready
            .lines()
            .any(|l| l.starts_with("STATUS=last pass: fetched 0")),
        "{ready}"
    );
    // Ready means a pass is recorded.
    let (code, line) = health(&app, &[]);
    assert_eq!(code, Some(0), "{line}");

    // Pings while it waits in IDLE with nothing to do.
    let got = notifications(&socket, |got| count(got, "WATCHDOG=1") >= 3);
    assert_eq!(count(&got, "READY=1"), 0, "READY once: {got:?}");

    assert!(daemon.stop().success(), "{}", daemon.log_text());
    let got = notifications(&socket, |got| count(got, "STOPPING=1") > 0);
    assert!(!got.is_empty());
}
