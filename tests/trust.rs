//! Careless and dishonest mail against real servers: reports sent ahead for
//! periods that have not begun, resends, forged replies and reports. Each
//! must leave the fines exactly where an honest reading puts them.

mod app;
mod common;

use app::{App, Imap, eml, reply_eml, utf8_word};
use chrono::DateTime;
use common::MailServers;
use serde_json::Value;

const ASSISTANT: &str = "zhaomin";
const SUP: &str = "王芳 <wangfang@example.com>";
const CC: &str = "赵敏 <zhaomin@example.com>";
const ZHANG: &str = "zhangwei@example.com";
const PASS: &str = "mx.test; dmarc=pass header.from=example.com";
const FAIL: &str =
    "mx.test; spf=fail smtp.mailfrom=wangfang@example.com; dmarc=fail header.from=example.com";

/// Servers and a reportd whose tracking starts on `tracking_starts`, with
/// `extra` config sections.
fn start(tracking_starts: &str, extra: &str) -> (MailServers, App) {
    let servers = MailServers::start(app::USERS);
    let app = App::configure(
        Imap {
            port: servers.imap_port(),
            security: "plain",
            password: servers.password(),
            ca_file: None,
        },
        tracking_starts,
        extra,
        app::ROSTER,
    );
    (servers, app)
}

async fn append(servers: &MailServers, raw: &[u8], arrival: &str) {
    let at = DateTime::parse_from_rfc3339(arrival).expect("time");
    servers
        .append(ASSISTANT, "INBOX", raw, at)
        .await
        .expect("append");
}

/// A report from 张伟 to his supervisor, Cc the assistant.
async fn zhang_report(servers: &MailServers, subject: &str, id: &str, arrival: &str) {
    let raw = eml(
        ZHANG,
        &[SUP],
        &[CC],
        &utf8_word(subject),
        id,
        "Tue, 10 Nov 2026 09:00:00 +0800",
    );
    append(servers, &raw, arrival).await;
}

/// `raw` with an `Authentication-Results` header of the receiving server on top.
fn with_results(raw: Vec<u8>, results: &str) -> Vec<u8> {
    let mut out = format!("Authentication-Results: {results}\r\n").into_bytes();
    out.extend(raw);
    out
}

fn message<'a>(messages: &'a [Value], id: &str) -> &'a Value {
    messages
        .iter()
        .find(|m| m["message_id"] == id)
        .unwrap_or_else(|| panic!("message {id} not listed: {messages:?}"))
}

fn fines_of(app: &App, period: &str) -> usize {
    app.ledger()["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["person"] == ZHANG && e["period"] == period && e["kind"] == "fine")
        .count()
}

#[tokio::test]
async fn reports_for_periods_that_have_not_begun_count_for_nothing() {
    let (servers, app) = start("2026-11-02", "");
    // One Tuesday in W46, a rep sends this week's report and then next
    // weeks' and next month's, all properly addressed.
    zhang_report(
        &servers,
        "2026-W46 周报",
        "w46@x",
        "2026-11-10T09:00:00+08:00",
    )
    .await;
    for week in 47..=52 {
        let subject = format!("2026-W{week} 周报");
        let id = format!("w{week}@x");
        zhang_report(&servers, &subject, &id, "2026-11-10T09:05:00+08:00").await;
    }
    zhang_report(
        &servers,
        "2026年12月 月报",
        "m12@x",
        "2026-11-10T09:06:00+08:00",
    )
    .await;
    let after_w47 = "2026-11-22T10:00:00+08:00";
    app.sync(after_w47);

    assert_eq!(app.row(after_w47, ZHANG, "2026-W46")["status"], "on_time");
    assert_eq!(app.row(after_w47, ZHANG, "2026-W47")["status"], "missing");
    assert_eq!(fines_of(&app, "2026-W47"), 1);
    let flagged = app.messages(true);
    for id in ["w47@x", "w52@x", "m12@x"] {
        let m = message(&flagged, id);
        assert_eq!(m["class"], "ignored");
        assert!(
            m["reason"].as_str().unwrap_or("").starts_with("early"),
            "{m}"
        );
    }
}

#[tokio::test]
async fn a_resend_minutes_later_is_a_revision_not_next_weeks_report() {
    let (servers, app) = start("2026-11-16", "");
    // Thursday of W47: the report, then the same report with the attachment
    // that was forgotten, five minutes later. Neither names a period.
    zhang_report(&servers, "张伟周报", "first@x", "2026-11-19T10:00:00+08:00").await;
    zhang_report(
        &servers,
        "张伟周报（补附件）",
        "again@x",
        "2026-11-19T10:05:00+08:00",
    )
    .await;
    let after_w48 = "2026-11-29T10:00:00+08:00";
    app.sync(after_w48);

    assert_eq!(app.row(after_w48, ZHANG, "2026-W47")["status"], "on_time");
    assert_eq!(app.row(after_w48, ZHANG, "2026-W48")["status"], "missing");
    assert_eq!(fines_of(&app, "2026-W48"), 1);
    assert_eq!(app.class_of("again@x", false).as_deref(), Some("revision"));
}

#[tokio::test]
async fn a_backfilled_report_then_this_weeks_report_fill_both_weeks() {
    let (servers, app) = start("2026-11-02", "");
    // W46 was missed. On Thursday of W48 the rep sends it as the late notice
    // says, naming the week, and then this week's report.
    zhang_report(
        &servers,
        "第46周周报（补交）",
        "back@x",
        "2026-11-26T10:00:00+08:00",
    )
    .await;
    zhang_report(&servers, "张伟周报", "w48@x", "2026-11-26T10:05:00+08:00").await;
    let after_w48 = "2026-11-29T10:00:00+08:00";
    app.sync(after_w48);
    assert_eq!(app.row(after_w48, ZHANG, "2026-W46")["status"], "late");
    assert_eq!(app.row(after_w48, ZHANG, "2026-W48")["status"], "on_time");
    assert_eq!(fines_of(&app, "2026-W48"), 0);
}

#[tokio::test]
async fn a_resend_that_says_so_days_later_is_still_a_revision() {
    let (servers, app) = start("2026-11-16", "");
    zhang_report(&servers, "张伟周报", "w47@x", "2026-11-20T17:00:00+08:00").await;
    zhang_report(
        &servers,
        "张伟周报（补附件）",
        "fix@x",
        "2026-11-23T09:00:00+08:00",
    )
    .await;
    let after_w48 = "2026-11-29T10:00:00+08:00";
    app.sync(after_w48);
    assert_eq!(app.class_of("fix@x", false).as_deref(), Some("revision"));
    assert_eq!(app.row(after_w48, ZHANG, "2026-W48")["status"], "missing");
}

#[tokio::test]
async fn a_reply_to_the_resend_answers_the_report() {
    let (servers, app) = start("2026-11-16", "");
    zhang_report(&servers, "张伟周报", "first@x", "2026-11-19T10:00:00+08:00").await;
    zhang_report(
        &servers,
        "张伟周报（补附件）",
        "again@x",
        "2026-11-19T10:05:00+08:00",
    )
    .await;
    let reply = reply_eml(SUP, ZHANG, "Re: 张伟周报（补附件）", "ans@x", "again@x");
    append(&servers, &reply, "2026-11-19T15:00:00+08:00").await;
    let now = "2026-11-20T10:00:00+08:00";
    app.sync(now);
    assert_eq!(app.class_of("ans@x", false).as_deref(), Some("reply"));
    assert!(!app.row(now, ZHANG, "2026-W47")["replied_at"].is_null());
}

#[tokio::test]
async fn a_late_report_on_monday_still_fills_last_weeks_gap() {
    let (servers, app) = start("2026-11-16", "");
    // W47 went unreported; on Monday of W48 the rep sends it, naming no week.
    zhang_report(&servers, "张伟周报", "late@x", "2026-11-23T09:00:00+08:00").await;
    let now = "2026-11-23T10:00:00+08:00";
    app.sync(now);
    assert_eq!(app.row(now, ZHANG, "2026-W47")["status"], "late");
    assert_eq!(app.row(now, ZHANG, "2026-W48")["status"], "pending");
}

#[tokio::test]
async fn a_forged_supervisor_reply_does_not_answer_the_report() {
    let (servers, app) = start("2026-11-02", "[notify]\nauthserv_id = \"mx.test\"\n");
    let report = eml(
        ZHANG,
        &[SUP],
        &[CC],
        &utf8_word("张伟 第46周周报"),
        "report@x",
        "Fri, 13 Nov 2026 18:00:00 +0800",
    );
    append(
        &servers,
        &with_results(report, PASS),
        "2026-11-13T18:00:00+08:00",
    )
    .await;
    // Someone writes "From: 王芳" in a reply; the server saw it fail.
    let forged = reply_eml(SUP, ZHANG, "Re: 周报", "forged@x", "report@x");
    append(
        &servers,
        &with_results(forged, FAIL),
        "2026-11-14T09:00:00+08:00",
    )
    .await;
    let now = "2026-11-16T10:00:00+08:00";
    app.sync(now);
    let row = app.row(now, ZHANG, "2026-W46");
    assert_eq!(row["status"], "on_time");
    assert!(row["replied_at"].is_null(), "{row}");
    let flagged = app.messages(true);
    let m = message(&flagged, "forged@x");
    assert!(
        m["reason"]
            .as_str()
            .unwrap_or("")
            .starts_with("unauthenticated"),
        "{m}"
    );

    // The real supervisor's reply, vouched for by the server, counts.
    let real = reply_eml(SUP, ZHANG, "Re: 周报", "real@x", "report@x");
    append(
        &servers,
        &with_results(real, PASS),
        "2026-11-16T11:00:00+08:00",
    )
    .await;
    let later = "2026-11-16T12:00:00+08:00";
    app.sync(later);
    assert!(!app.row(later, ZHANG, "2026-W46")["replied_at"].is_null());
}

#[tokio::test]
async fn a_report_whose_sender_the_server_does_not_vouch_for_counts_for_nothing() {
    let (servers, app) = start("2026-11-02", "[notify]\nauthserv_id = \"mx.test\"\n");
    // No Authentication-Results at all: the server never checked it.
    zhang_report(
        &servers,
        "张伟 第46周周报",
        "bare@x",
        "2026-11-13T18:00:00+08:00",
    )
    .await;
    let after_w46 = "2026-11-15T10:00:00+08:00";
    app.sync(after_w46);
    assert_eq!(app.row(after_w46, ZHANG, "2026-W46")["status"], "missing");
    let flagged = app.messages(true);
    assert!(
        message(&flagged, "bare@x")["reason"]
            .as_str()
            .unwrap_or("")
            .starts_with("unauthenticated")
    );
}
