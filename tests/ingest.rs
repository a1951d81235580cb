//! The core pipeline against real servers: messages put into a real Dovecot
//! (by IMAP APPEND with a chosen INTERNALDATE, or through Postfix as a rep's
//! client would), read by the real `reportd` binary, judged, and booked.

mod app;
mod common;

use std::time::Duration;

use app::{App, Imap, eml, encoded_word, reply_eml, utf8_word};
use chrono::{DateTime, FixedOffset};
use common::MailServers;
use serde_json::Value;

const ASSISTANT: &str = "zhaomin";
const SUP: &str = "王芳 <wangfang@example.com>";
const CC: &str = "赵敏 <zhaomin@example.com>";
const ZHANG: &str = "zhangwei@example.com";
const LINA: &str = "lina@example.com";
/// The deadline of 2026-W46 is Saturday 2026-11-14 22:00 in Shanghai. Tests
/// place arrivals in the past: Dovecot replaces a future INTERNALDATE with
/// the time of the APPEND.
const AFTER_W46: &str = "2026-11-15T10:00:00+08:00";

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).expect("RFC 3339 test time")
}

fn start() -> (MailServers, App) {
    start_with("plain")
}

/// Servers and a reportd reading the assistant's INBOX with `security`
/// (`plain` on the IMAP port, `starttls` there too, `tls` on IMAPS), trusting
/// the servers' certificate.
fn start_with(security: &str) -> (MailServers, App) {
    let servers = MailServers::start(app::USERS);
    let port = if security == "tls" {
        servers.imaps_port()
    } else {
        servers.imap_port()
    };
    let ca_file = (security != "plain").then(|| servers.ca_pem());
    let app = App::new(
        Imap {
            port,
            security,
            password: servers.password(),
            ca_file,
        },
        "2026-11-02",
    );
    (servers, app)
}

/// 张伟's W46 report, addressed as it should be, arriving at `arrival`.
async fn zhang_w46(servers: &MailServers, id: &str, arrival: &str) {
    append_report(servers, ZHANG, &utf8_word("张伟 第46周周报"), id, arrival).await;
}

async fn append_report(servers: &MailServers, from: &str, subject: &str, id: &str, arrival: &str) {
    let raw = eml(
        from,
        &[SUP],
        &[CC],
        subject,
        id,
        "Sat, 14 Nov 2026 12:00:00 +0800",
    );
    servers
        .append(ASSISTANT, "INBOX", &raw, at(arrival))
        .await
        .expect("append");
}

fn fines(ledger: &Value) -> Vec<&Value> {
    ledger["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["kind"] == "fine")
        .collect()
}

#[tokio::test]
async fn report_one_second_before_the_deadline_is_on_time() {
    let (servers, app) = start();
    zhang_w46(&servers, "w46@zhang", "2026-11-14T21:59:59+08:00").await;
    app.sync(AFTER_W46);
    let row = app.row(AFTER_W46, ZHANG, "2026-W46");
    assert_eq!(row["status"], "on_time");
    assert_eq!(row["fine_fen"], 0);
    assert_eq!(row["received"], "2026-11-14T21:59:59+08:00");
    assert_eq!(row["message_id"], "w46@zhang");
}

#[tokio::test]
async fn report_arriving_at_the_deadline_second_is_late_and_fined_once() {
    let (servers, app) = start();
    zhang_w46(&servers, "w46@zhang", "2026-11-14T22:00:00+08:00").await;
    app.sync(AFTER_W46);
    app.sync(AFTER_W46);
    let row = app.row(AFTER_W46, ZHANG, "2026-W46");
    assert_eq!(row["status"], "late");
    assert_eq!(row["fine_fen"], 5000);
    let ledger = app.ledger();
    let f: Vec<_> = fines(&ledger)
        .into_iter()
        .filter(|e| e["person"] == ZHANG && e["period"] == "2026-W46")
        .collect();
    assert_eq!(f.len(), 1, "one fine: {ledger}");
    assert_eq!(f[0]["amount_fen"], 5000);
    assert_eq!(f[0]["fund_fen"], 2500);
    assert_eq!(f[0]["evidence"], "<w46@zhang>");
}

#[tokio::test]
async fn missing_report_is_fined_at_the_deadline_and_not_again_when_it_arrives_late() {
    let (servers, app) = start();
    app.sync(AFTER_W46);
    assert_eq!(app.row(AFTER_W46, ZHANG, "2026-W46")["status"], "missing");
    assert_eq!(
        fines(&app.ledger())
            .iter()
            .filter(|e| e["person"] == ZHANG && e["period"] == "2026-W46")
            .count(),
        1
    );

    // Monday morning, no week named: it fills last week's gap, late.
    append_report(
        &servers,
        ZHANG,
        &utf8_word("张伟 周报"),
        "late@zhang",
        "2026-11-16T09:10:00+08:00",
    )
    .await;
    let monday = "2026-11-16T12:00:00+08:00";
    app.sync(monday);
    let row = app.row(monday, ZHANG, "2026-W46");
    assert_eq!(row["status"], "late");
    assert_eq!(row["fine_fen"], 5000);
    let ledger = app.ledger();
    let w46: Vec<_> = fines(&ledger)
        .into_iter()
        .filter(|e| e["person"] == ZHANG && e["period"] == "2026-W46")
        .collect();
    assert_eq!(w46.len(), 1, "still one fine: {ledger}");
}

#[tokio::test]
async fn reason_filed_before_the_deadline_prevents_the_fine() {
    let (_servers, app) = start();
    app.run(&[
        "excuse",
        "--person",
        ZHANG,
        "--period",
        "2026-W46",
        "--reason",
        "出差",
        "--by",
        "wangfang@example.com",
        "--now",
        "2026-11-13T09:00:00+08:00",
    ]);
    app.sync(AFTER_W46);
    let row = app.row(AFTER_W46, ZHANG, "2026-W46");
    assert_eq!(row["status"], "excused");
    assert_eq!(row["fine_fen"], 0);
    assert!(
        app.ledger()["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .all(|e| e["person"] != ZHANG || e["period"] != "2026-W46")
    );
}

#[tokio::test]
async fn reason_filed_after_the_deadline_books_a_reversal_and_keeps_the_fine() {
    let (_servers, app) = start();
    app.sync(AFTER_W46);
    app.run(&[
        "excuse",
        "--person",
        ZHANG,
        "--period",
        "2026-W46",
        "--reason",
        "病假",
        "--by",
        "wangfang@example.com",
        "--now",
        "2026-11-16T09:00:00+08:00",
    ]);
    app.sync("2026-11-16T10:00:00+08:00");
    let ledger = app.ledger();
    let rows: Vec<_> = ledger["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["person"] == ZHANG && e["period"] == "2026-W46")
        .collect();
    assert_eq!(rows.len(), 2, "fine and waiver: {ledger}");
    assert_eq!(rows[0]["kind"], "fine");
    assert_eq!(rows[1]["kind"], "waiver");
    assert_eq!(rows[1]["amount_fen"], -5000);
    assert_eq!(rows[1]["fund_fen"], -2500);
    assert!(
        rows[1]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("wangfang@example.com")
    );
    let row = app.row("2026-11-16T10:00:00+08:00", ZHANG, "2026-W46");
    assert_eq!(row["status"], "excused");
    assert_eq!(row["fine_fen"], 0);
}

#[tokio::test]
async fn report_not_addressed_to_the_supervisor_does_not_count_and_is_flagged() {
    let (servers, app) = start();
    let raw = eml(
        ZHANG,
        &[CC],
        &[],
        &utf8_word("张伟 第46周周报"),
        "mis@zhang",
        "Fri, 13 Nov 2026 18:00:00 +0800",
    );
    servers
        .append(ASSISTANT, "INBOX", &raw, at("2026-11-13T18:00:00+08:00"))
        .await
        .expect("append");
    app.sync(AFTER_W46);
    assert_eq!(app.row(AFTER_W46, ZHANG, "2026-W46")["status"], "missing");
    assert_eq!(
        app.class_of("mis@zhang", true).as_deref(),
        Some("misaddressed"),
        "the misaddressed report is flagged"
    );
}

#[tokio::test]
async fn supervisor_reply_sent_through_smtp_is_recorded_on_the_report() {
    let (servers, app) = start();
    zhang_w46(&servers, "w46@zhang", "2026-11-13T17:00:00+08:00").await;
    let reply = reply_eml(
        SUP,
        ZHANG,
        &utf8_word("回复: 张伟 第46周周报"),
        "re1@wangfang",
        "w46@zhang",
    );
    servers
        .smtp_send(
            "wangfang@example.com",
            &[ZHANG, "zhaomin@example.com"],
            &reply,
        )
        .await
        .expect("smtp send");
    servers
        .wait_for(ASSISTANT, "INBOX", 2, Duration::from_secs(20))
        .await
        .expect("reply delivered");
    let now = "2026-11-20T10:00:00+08:00";
    app.sync(now);
    let row = app.row(now, ZHANG, "2026-W46");
    assert_eq!(row["status"], "on_time");
    assert!(row["replied_at"].is_string(), "reply time recorded: {row}");
    assert_eq!(
        app.class_of("re1@wangfang", false).as_deref(),
        Some("reply")
    );
}

#[tokio::test]
async fn subjects_in_gb2312_gbk_big5_and_utf8_are_recognised_through_smtp() {
    let (servers, app) = start();
    let subjects = [
        (
            ZHANG,
            encoded_word("张伟 第46周周报", "GB2312", encoding_rs::GBK),
            "gb2312@x",
        ),
        // 镕 is in GBK but not in GB2312: real clients still label it GB2312.
        (
            LINA,
            encoded_word("李娜 周报 W46 朱镕基路拜访", "GB2312", encoding_rs::GBK),
            "gbk@x",
        ),
    ];
    let monthly = [
        (
            ZHANG,
            encoded_word("張偉 11月月報", "big5", encoding_rs::BIG5),
            "big5@x",
        ),
        (LINA, utf8_word("李娜 11月月报"), "utf8@x"),
    ];
    let dated = subjects
        .iter()
        .map(|s| (s, "Fri, 13 Nov 2026 18:00:00 +0800"))
        .chain(
            monthly
                .iter()
                .map(|s| (s, "Tue, 01 Dec 2026 10:00:00 +0800")),
        );
    for ((from, subject, id), date) in dated {
        let raw = eml(from, &[SUP], &[CC], subject, id, date);
        servers
            .smtp_send(from, &["wangfang@example.com", "zhaomin@example.com"], &raw)
            .await
            .expect("send");
    }
    servers
        .wait_for(ASSISTANT, "INBOX", 4, Duration::from_secs(20))
        .await
        .expect("delivered");
    let now = "2026-11-20T10:00:00+08:00";
    app.sync(now);
    let messages = app.messages(false);
    for id in ["gb2312@x", "gbk@x", "big5@x", "utf8@x"] {
        let m = messages
            .iter()
            .find(|m| m["message_id"] == id)
            .unwrap_or_else(|| panic!("{id} ingested: {messages:?}"));
        assert_eq!(m["class"], "report", "{id}: {m}");
    }
    let gbk = messages
        .iter()
        .find(|m| m["message_id"] == "gbk@x")
        .expect("gbk");
    assert!(
        gbk["subject"].as_str().unwrap_or("").contains("朱镕基"),
        "GBK-only character decoded: {gbk}"
    );
    let big5 = messages
        .iter()
        .find(|m| m["message_id"] == "big5@x")
        .expect("big5");
    assert!(
        big5["subject"].as_str().unwrap_or("").contains("月報"),
        "Big5 decoded: {big5}"
    );
    // Delivered by Postfix just now: both monthly reports count for 2026-11.
    let monthly = app.status(now, &["2026-11"]);
    assert_eq!(
        monthly.iter().filter(|r| r["received"].is_string()).count(),
        2,
        "{monthly:?}"
    );
}

#[tokio::test]
async fn arrival_time_is_the_servers_not_the_senders_date_header() {
    let (servers, app) = start();
    // The client claims Friday; the server received it on Sunday.
    let raw = eml(
        ZHANG,
        &[SUP],
        &[CC],
        &utf8_word("张伟 第46周周报"),
        "forged@zhang",
        "Fri, 13 Nov 2026 10:00:00 +0800",
    );
    servers
        .append(ASSISTANT, "INBOX", &raw, at("2026-11-15T08:00:00+08:00"))
        .await
        .expect("append");
    app.sync(AFTER_W46);
    let row = app.row(AFTER_W46, ZHANG, "2026-W46");
    assert_eq!(row["status"], "late");
    assert_eq!(row["received"], "2026-11-15T08:00:00+08:00");
}

#[tokio::test]
async fn running_sync_twice_changes_nothing() {
    let (servers, app) = start();
    zhang_w46(&servers, "w46@zhang", "2026-11-14T23:00:00+08:00").await;
    app.sync(AFTER_W46);
    let (status1, ledger1, messages1) = (
        app.status(AFTER_W46, &[]),
        app.ledger(),
        app.messages(false),
    );
    app.sync(AFTER_W46);
    assert_eq!(status1, app.status(AFTER_W46, &[]));
    assert_eq!(ledger1, app.ledger());
    assert_eq!(messages1, app.messages(false));
}

#[tokio::test]
async fn sync_killed_mid_run_and_restarted_books_no_second_fine() {
    let (servers, app) = start();
    for i in 0..30 {
        append_report(
            &servers,
            LINA,
            &utf8_word("李娜 周报 W46"),
            &format!("rev{i}@lina"),
            "2026-11-14T23:00:00+08:00",
        )
        .await;
    }
    zhang_w46(&servers, "w46@zhang", "2026-11-15T09:00:00+08:00").await;
    let mut child = app
        .command()
        .args(["sync", "--once", "--now", AFTER_W46])
        .spawn()
        .expect("start sync");
    // Let it get part of the way, then kill it hard.
    tokio::time::sleep(Duration::from_millis(400)).await;
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    app.sync(AFTER_W46);
    app.sync(AFTER_W46);
    let ledger = app.ledger();
    assert_eq!(
        fines(&ledger)
            .iter()
            .filter(|e| e["person"] == LINA && e["period"] == "2026-W46")
            .count(),
        1
    );
    assert_eq!(
        fines(&ledger)
            .iter()
            .filter(|e| e["person"] == ZHANG && e["period"] == "2026-W46")
            .count(),
        1
    );
    assert_eq!(
        app.messages(false).len(),
        31,
        "every message stored exactly once"
    );
}

#[tokio::test]
async fn uidvalidity_change_stores_and_fines_nothing_twice() {
    let (servers, app) = start();
    zhang_w46(&servers, "w46@zhang", "2026-11-15T09:00:00+08:00").await;
    app.sync(AFTER_W46);
    let before = app.ledger();
    servers.change_uidvalidity(ASSISTANT, "INBOX");
    append_report(
        &servers,
        LINA,
        &utf8_word("李娜 第46周周报"),
        "w46@lina",
        "2026-11-14T20:00:00+08:00",
    )
    .await;
    app.sync(AFTER_W46);
    let after = app.ledger();
    let zhang_w46 = |l: &Value| {
        fines(l)
            .iter()
            .filter(|e| e["person"] == ZHANG && e["period"] == "2026-W46")
            .count()
    };
    assert_eq!(
        (zhang_w46(&before), zhang_w46(&after)),
        (1, 1),
        "nothing booked twice: {after}"
    );
    assert_eq!(
        app.messages(false).len(),
        2,
        "the old message is recognised, the new one read"
    );
    let lina = app.row(AFTER_W46, LINA, "2026-W46");
    assert_eq!(lina["status"], "on_time");
    assert_eq!(
        lina["fine_fen"], 0,
        "the fine booked before her on-time report was read is reversed"
    );
}

#[tokio::test]
async fn malformed_message_is_kept_and_flagged_and_the_run_goes_on() {
    let (servers, app) = start();
    servers
        .append(
            ASSISTANT,
            "INBOX",
            b"\x00\x01 this is not a message at all\r\n",
            at("2026-11-13T10:00:00+08:00"),
        )
        .await
        .expect("append junk");
    zhang_w46(&servers, "w46@zhang", "2026-11-13T11:00:00+08:00").await;
    app.sync(AFTER_W46);
    let flagged = app.messages(true);
    assert!(
        flagged.iter().any(|m| m["class"] == "unparsable"),
        "{flagged:?}"
    );
    assert_eq!(app.row(AFTER_W46, ZHANG, "2026-W46")["status"], "on_time");
}

#[tokio::test]
async fn monthly_report_for_december_2025_is_due_on_sunday_january_4() {
    let servers = MailServers::start(app::USERS);
    let app = App::new(
        Imap {
            port: servers.imap_port(),
            security: "plain",
            password: servers.password(),
            ca_file: None,
        },
        "2025-12-01",
    );
    append_report(
        &servers,
        ZHANG,
        &utf8_word("张伟 12月月报"),
        "dec@zhang",
        "2026-01-04T23:59:59+08:00",
    )
    .await;
    append_report(
        &servers,
        LINA,
        &utf8_word("李娜 2025年12月 月报"),
        "dec@lina",
        "2026-01-05T00:00:00+08:00",
    )
    .await;
    let now = "2026-01-05T09:00:00+08:00";
    app.sync(now);
    let zhang = app.row(now, ZHANG, "2025-12");
    assert_eq!(zhang["due"], "2026-01-05T00:00:00+08:00");
    assert_eq!(zhang["status"], "on_time");
    assert_eq!(app.row(now, LINA, "2025-12")["status"], "late");
}

#[tokio::test]
async fn tls_connection_with_the_servers_certificate_reads_the_mailbox_without_changing_it() {
    let (servers, app) = start_with("tls");
    zhang_w46(&servers, "w46@zhang", "2026-11-13T11:00:00+08:00").await;
    app.sync(AFTER_W46);
    assert_eq!(app.row(AFTER_W46, ZHANG, "2026-W46")["status"], "on_time");
    let left = servers.fetch_all(ASSISTANT, "INBOX").await.expect("fetch");
    assert_eq!(left.len(), 1, "nothing deleted");
    assert!(
        left[0].flags.iter().all(|f| !f.contains("Seen")),
        "no flag set: {:?}",
        left[0].flags
    );
}

/// Starts `reportd run`, puts a report in the mailbox while it runs, and
/// says whether the daemon classified it within ten seconds.
async fn daemon_picks_up_new_mail(servers: &MailServers, app: &App, id: &str) -> bool {
    let mut child = app.command().arg("run").spawn().expect("start daemon");
    tokio::time::sleep(Duration::from_secs(2)).await;
    append_report(
        servers,
        ZHANG,
        &utf8_word("张伟 第46周周报"),
        id,
        "2026-11-13T11:00:00+08:00",
    )
    .await;
    let mut seen = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if app.class_of(id, false).as_deref() == Some("report") {
            seen = true;
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    seen
}

#[tokio::test]
async fn daemon_notices_new_mail_through_idle() {
    let (servers, app) = start();
    assert!(
        daemon_picks_up_new_mail(&servers, &app, "idle@zhang").await,
        "picked up through IDLE"
    );
}

#[tokio::test]
async fn daemon_without_idle_notices_new_mail_by_polling() {
    let (servers, app) = start();
    let config = std::fs::read_to_string(&app.config).expect("config");
    std::fs::write(
        &app.config,
        config.replacen("poll_seconds = 1", "poll_seconds = 1\nidle = false", 1),
    )
    .expect("config");
    assert!(
        daemon_picks_up_new_mail(&servers, &app, "poll@zhang").await,
        "picked up by polling"
    );
}

#[tokio::test]
async fn daemon_reconnects_after_the_server_drops_it_and_renumbers_the_mailbox() {
    let (servers, app) = start();
    append_report(
        &servers,
        LINA,
        &utf8_word("李娜 第46周周报"),
        "first@lina",
        "2026-11-13T10:00:00+08:00",
    )
    .await;
    let mut child = app.command().arg("run").spawn().expect("start daemon");
    let seen = |app: &App, id: &str| app.messages(false).iter().any(|m| m["message_id"] == id);
    for _ in 0..40 {
        if seen(&app, "first@lina") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The server kicks every session and gives the mailbox a new
    // UIDVALIDITY, with the same UIDs now naming other messages.
    servers.renumber_uids(ASSISTANT, "INBOX");
    zhang_w46(&servers, "after@zhang", "2026-11-13T11:00:00+08:00").await;
    let mut picked_up = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if seen(&app, "after@zhang") {
            picked_up = true;
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(picked_up, "the daemon reconnected and read the new message");
    assert_eq!(
        app.messages(false).len(),
        2,
        "the old message was not stored again"
    );
}

#[tokio::test]
async fn daemon_stops_cleanly_on_sigterm() {
    let (_servers, app) = start();
    let mut child = app.command().arg("run").spawn().expect("start daemon");
    tokio::time::sleep(Duration::from_secs(2)).await;
    // No `kill` binary: procps is not on every fresh machine.
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("a child's pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
    let mut status = None;
    for _ in 0..40 {
        if let Some(s) = child.try_wait().expect("wait") {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("the daemon did not stop within 10 s of SIGTERM");
    };
    assert!(status.success(), "a clean stop exits 0: {status}");
}

#[tokio::test]
async fn report_naming_no_week_on_the_first_tracked_monday_counts_for_that_week() {
    let (servers, app) = start();
    // Tracking starts Monday 2026-11-02: last week (W44) is not judged.
    append_report(
        &servers,
        ZHANG,
        &utf8_word("张伟 本周周报"),
        "w45@zhang",
        "2026-11-02T10:00:00+08:00",
    )
    .await;
    let now = "2026-11-08T10:00:00+08:00";
    app.sync(now);
    let row = app.row(now, ZHANG, "2026-W45");
    assert_eq!(row["status"], "on_time", "{row}");
    assert_eq!(row["message_id"], "w45@zhang");
}

#[tokio::test]
async fn report_naming_no_week_is_not_spent_on_an_excused_week() {
    let (servers, app) = start();
    app.run(&[
        "excuse",
        "--person",
        ZHANG,
        "--period",
        "2026-W45",
        "--reason",
        "年假",
        "--by",
        "wangfang@example.com",
        "--now",
        "2026-11-02T09:00:00+08:00",
    ]);
    append_report(
        &servers,
        ZHANG,
        &utf8_word("张伟 周报"),
        "w46@zhang",
        "2026-11-09T10:00:00+08:00",
    )
    .await;
    app.sync(AFTER_W46);
    assert_eq!(app.row(AFTER_W46, ZHANG, "2026-W45")["status"], "excused");
    let w46 = app.row(AFTER_W46, ZHANG, "2026-W46");
    assert_eq!(w46["status"], "on_time", "{w46}");
    assert_eq!(w46["fine_fen"], 0);
}

#[tokio::test]
async fn earlier_report_read_later_decides_the_period_and_reverses_the_fine() {
    let (servers, app) = start();
    append_report(
        &servers,
        ZHANG,
        &utf8_word("张伟 第46周周报（补）"),
        "late@zhang",
        "2026-11-15T09:00:00+08:00",
    )
    .await;
    app.sync(AFTER_W46);
    assert_eq!(app.row(AFTER_W46, ZHANG, "2026-W46")["status"], "late");
    // The on-time one turns up (moved out of Junk, say), received Friday.
    zhang_w46(&servers, "ontime@zhang", "2026-11-13T17:00:00+08:00").await;
    app.sync(AFTER_W46);
    let row = app.row(AFTER_W46, ZHANG, "2026-W46");
    assert_eq!(row["status"], "on_time", "{row}");
    assert_eq!(row["message_id"], "ontime@zhang");
    assert_eq!(row["fine_fen"], 0, "the fine is reversed, not deleted");
    let messages = app.messages(false);
    let late = messages
        .iter()
        .find(|m| m["message_id"] == "late@zhang")
        .expect("late one kept");
    assert_eq!(late["class"], "revision");
}

#[tokio::test]
async fn starttls_connection_reads_the_mailbox() {
    let (servers, app) = start_with("starttls");
    zhang_w46(&servers, "w46@zhang", "2026-11-13T11:00:00+08:00").await;
    app.sync(AFTER_W46);
    assert_eq!(app.row(AFTER_W46, ZHANG, "2026-W46")["status"], "on_time");
}

#[tokio::test]
async fn plain_imap_to_a_remote_host_is_refused_by_the_config_check() {
    let (_servers, app) = start();
    let config = std::fs::read_to_string(&app.config).expect("config");
    std::fs::write(
        &app.config,
        config.replacen("host = \"127.0.0.1\"", "host = \"imap.example.com\"", 1),
    )
    .expect("config");
    let out = app
        .command()
        .args(["sync", "--once", "--now", AFTER_W46])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("imap.security") && err.contains("unencrypted"),
        "{err}"
    );
}
