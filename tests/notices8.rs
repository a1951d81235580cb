//! What the adversarial review of issue 8 found in the notices, end to end:
//! the real `reportd` binary reads the assistant's mailbox in a real
//! Dovecot and sends through a real Postfix; each email is read back over
//! IMAP from its recipient's INBOX.
//!
//! - every fine is announced to the rep with the supervisor in Cc, also the
//!   fine of a report that came before the deadline but missed the
//!   supervisor (the misaddressed notice names it), and nobody is told "not
//!   received" about a report that came;
//! - a report a minute late gets the fine notice alone: the late notice
//!   waits `late_notice_after_minutes` past the deadline;
//! - a waiver of a fine whose payroll summary went out says it comes back
//!   as a refund in the next payroll, and reaches the supervisor too;
//! - the notices name periods and people as people do.
//!
//! The scenario is week 46 of 2026 (Mon 9 – Sun 15 November), due Saturday
//! 2026-11-14 22:00 (+08:00); tracking starts 2026-11-09.

mod app;
mod common;

use app::mail::{Mail, by_key, inbox, wait_for_key};
use app::{App, ROSTER};
use common::MailServers;
use serde_json::Value;

const SUP: &str = "王芳 <wangfang@example.com>";
const CC: &str = "赵敏 <zhaomin@example.com>";
const ZHANG: &str = "zhangwei@example.com";
const LINA: &str = "lina@example.com";
const WANG: &str = "wangfang@example.com";
const CHEN: &str = "chengang@example.com";
const TRACKING: &str = "2026-11-09";

fn start_with(roster: &str) -> (MailServers, App) {
    let servers = MailServers::start(app::USERS);
    let app = App::plain(
        servers.imap_port(),
        servers.password(),
        servers.smtp_port(),
        TRACKING,
        roster,
    );
    // The assistant's yearly request for the 2027 notice stays out of the counts.
    app.cover_2027();
    (servers, app)
}

fn start() -> (MailServers, App) {
    start_with(ROSTER)
}

/// A W46 report from `from` to `to`, Cc `cc`, arriving at `arrival`.
async fn report(
    servers: &MailServers,
    from: &str,
    to_cc: (&[&str], &[&str]),
    name: &str,
    id: &str,
    arrival: &str,
) {
    app::append_w46(servers, from, to_cc, name, id, arrival).await;
}

/// 张伟's W46 report, on time on Friday 10:00, as it should go.
async fn zhang_on_time(servers: &MailServers) {
    report(
        servers,
        ZHANG,
        (&[SUP], &[CC]),
        "张伟",
        "w46@zhang",
        "2026-11-13T10:00:00+08:00",
    )
    .await;
}

fn kinds(rows: &[Value]) -> Vec<String> {
    let mut k: Vec<String> = rows
        .iter()
        .filter(|r| r["state"] != "cancelled")
        .map(|r| r["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    k.sort();
    k
}

/// Whether `m` tells its reader that nothing arrived.
fn says_not_received(m: &Mail) -> bool {
    ["未收到", "没有收到", "did not arrive", "had not received"]
        .iter()
        .any(|w| m.subject.contains(w) || m.text.contains(w))
}

// ----- every fine announced ----------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_report_sent_before_the_deadline_to_the_wrong_people_has_its_fine_announced_to_the_rep_and_the_supervisor()
 {
    let (servers, app) = start();
    zhang_on_time(&servers).await;
    // 李娜's goes to the assistant only, on Friday, written as bare
    // addresses: the notice names them as the roster does.
    report(
        &servers,
        LINA,
        (&["zhaomin@example.com"], &[CHEN]),
        "李娜",
        "w46@lina-wrong",
        "2026-11-13T19:00:00+08:00",
    )
    .await;
    app.sync("2026-11-13T19:05:00+08:00");
    let first = inbox(&servers, "lina", 1).await;
    let before = &first[0];
    assert!(
        before.text.contains("在此之前重新发送仍算准时"),
        "{}",
        before.text
    );
    assert!(before.cc.is_empty(), "no fine yet, no Cc: {:?}", before.cc);
    for body in [&before.text, &before.html] {
        assert!(
            body.contains("赵敏 <zhaomin@example.com>")
                || body.contains("赵敏 &lt;zhaomin@example.com&gt;"),
            "the assistant by her roster name: {body}"
        );
        assert!(
            !body.contains("zhaomin@example.com <zhaomin@example.com>")
                && !body.contains("zhaomin@example.com &lt;zhaomin@example.com&gt;"),
            "{body}"
        );
        assert!(body.contains("陈刚"), "the manager by name: {body}");
    }

    // The deadline passes; 15 minutes later the fine is announced.
    for now in [
        "2026-11-14T22:00:30+08:00",
        "2026-11-14T22:16:00+08:00",
        "2026-11-14T22:40:00+08:00",
    ] {
        app.sync(now);
    }
    let row = app.row("2026-11-14T22:40:00+08:00", LINA, "2026-W46");
    assert_eq!(row["status"], "missing");
    assert_eq!(row["fine_fen"], 5000);

    let key = "misaddressed-fine:lina@example.com:2026-W46";
    let got = inbox(&servers, "lina", 2).await;
    let m = by_key(&got, key);
    assert_eq!(m.to, [LINA]);
    assert_eq!(m.cc, [WANG], "the supervisor hears of every fine");
    assert_eq!(m.in_reply_to.as_deref(), Some("<w46@lina-wrong>"));
    by_key(&inbox(&servers, "wangfang", 1).await, key);
    assert!(
        m.subject.starts_with("收到了，但没有发给直属主管") && m.subject.contains("罚款 50.00 元"),
        "{}",
        m.subject
    );
    for body in [&m.text, &m.html] {
        assert!(body.contains("50.00"), "the fine: {body}");
        assert!(body.contains("25.00"), "the fund's share: {body}");
        assert!(body.contains("在11月工资中扣除"), "the payroll: {body}");
    }
    for mail in &got {
        assert!(!says_not_received(mail), "no contradiction: {mail:#?}");
    }
    let rows = app.outbox();
    assert_eq!(kinds(&rows), ["misaddressed", "misaddressed"], "{rows:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_a_minute_late_gets_the_fine_notice_alone() {
    let (servers, app) = start();
    zhang_on_time(&servers).await;
    // reportd judges the deadline at once: 李娜's is missing for a minute.
    app.sync("2026-11-14T22:00:30+08:00");
    report(
        &servers,
        LINA,
        (&[SUP], &[CC]),
        "李娜",
        "w46@lina",
        "2026-11-14T22:01:00+08:00",
    )
    .await;
    for now in ["2026-11-14T22:01:30+08:00", "2026-11-14T22:20:00+08:00"] {
        app.sync(now);
    }
    let rows = app.outbox();
    assert_eq!(kinds(&rows), ["fine_notice"], "{rows:#?}");
    let got = inbox(&servers, "lina", 1).await;
    let m = by_key(&got, "fine-notice:lina@example.com:2026-W46");
    assert!(m.subject.contains("晚到1分钟"), "{}", m.subject);
    assert!(!says_not_received(m), "{m:#?}");
    assert_eq!(m.cc, [WANG]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_late_notice_still_goes_when_nothing_arrives_within_the_grace() {
    let (servers, app) = start();
    zhang_on_time(&servers).await;
    app.sync("2026-11-14T22:00:30+08:00");
    assert!(
        app.outbox().iter().all(|r| r["state"] == "queued"),
        "held for the grace: {:#?}",
        app.outbox()
    );
    app.sync("2026-11-14T22:16:00+08:00");
    let got = inbox(&servers, "lina", 1).await;
    let m = by_key(&got, "late-notice:lina@example.com:2026-W46");
    assert!(m.subject.starts_with("未收到"), "{}", m.subject);
    assert_eq!(m.cc, [WANG]);
}

// ----- waivers after payroll ---------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_waiver_after_the_payroll_went_out_says_the_refund_month_and_reaches_the_supervisor() {
    // Week 43 (19–25 October), due Saturday 2026-10-24 22:00: its fines
    // are deducted in October's payroll, which goes out in November.
    let servers = MailServers::start(app::USERS);
    let app = App::plain(
        servers.imap_port(),
        servers.password(),
        servers.smtp_port(),
        "2026-10-19",
        ROSTER,
    );
    // 李娜's W43 never comes: fined, deducted in October's payroll.
    app.sync("2026-10-25T09:00:00+08:00");
    app.run(&[
        "payroll",
        "--month",
        "2026-10",
        "--send",
        "--now",
        "2026-11-04T09:00:00+08:00",
    ]);
    // The manager files her sick leave after October's payroll went out.
    app.run(&[
        "excuse",
        "--person",
        LINA,
        "--period",
        "2026-W43",
        "--reason",
        "病假（住院）",
        "--by",
        CHEN,
        "--now",
        "2026-11-20T10:00:00+08:00",
    ]);
    app.sync("2026-11-20T10:01:00+08:00");
    let rows = app.outbox();
    let keys: Vec<&str> = rows
        .iter()
        .filter(|r| r["kind"] == "excuse_confirmation")
        .filter_map(|r| r["key"].as_str())
        .collect();
    assert_eq!(keys.len(), 1, "{rows:#?}");
    let m = wait_for_key(&servers, "chengang", keys[0]).await;
    assert_eq!(m.to, [CHEN], "to the filer");
    assert_eq!(m.cc, [LINA, WANG], "the rep and her supervisor, once each");
    wait_for_key(&servers, "lina", keys[0]).await;
    wait_for_key(&servers, "wangfang", keys[0]).await;
    assert!(m.text.contains("本期罚款 50.00 元已撤销"), "{}", m.text);
    for body in [&m.text, &m.html] {
        assert!(body.contains("11月工资中退还"), "the refund month: {body}");
    }
    let nov: Value = serde_json::from_str(&app.run(&[
        "payroll",
        "--month",
        "2026-11",
        "--json",
        "--now",
        "2026-11-20T10:05:00+08:00",
    ]))
    .expect("payroll JSON");
    let lina = nov["people"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["email"] == LINA))
        .expect("李娜's line");
    assert_eq!(
        lina["refunds"]["items"][0]["period"], "2026-W43",
        "November's summary pays it back: {lina:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_waiver_before_the_payroll_says_no_refund_and_a_supervisor_filer_is_not_copied_twice() {
    let (servers, app) = start();
    zhang_on_time(&servers).await;
    app.sync("2026-11-15T09:00:00+08:00");
    // Her supervisor files it naming the week as the late notice does.
    app.run(&[
        "excuse",
        "--person",
        LINA,
        "--period",
        "第46周",
        "--reason",
        "出差",
        "--by",
        WANG,
        "--now",
        "2026-11-16T10:00:00+08:00",
    ]);
    app.sync("2026-11-16T10:01:00+08:00");
    let rows = app.outbox();
    let key = rows
        .iter()
        .find(|r| r["kind"] == "excuse_confirmation")
        .and_then(|r| r["key"].as_str())
        .expect("a confirmation");
    let m = wait_for_key(&servers, "wangfang", key).await;
    assert_eq!(m.to, [WANG]);
    assert_eq!(m.cc, [LINA], "the filer is the supervisor: not in Cc again");
    assert!(!m.text.contains("退还"), "{}", m.text);
}

// ----- names as people use them ------------------------------------------------

/// The test roster with 李娜 (its last person) reading English.
fn lina_en() -> String {
    format!("{ROSTER}language = \"en\"\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_late_notice_shows_an_excuse_command_written_as_people_say_the_period() {
    let (servers, app) = start_with(&lina_en());
    // Neither report comes.
    app.sync("2026-11-14T22:20:00+08:00");
    let zh = wait_for_key(
        &servers,
        "zhangwei",
        "late-notice:zhangwei@example.com:2026-W46",
    )
    .await;
    let en = wait_for_key(&servers, "lina", "late-notice:lina@example.com:2026-W46").await;
    for body in [&zh.text, &zh.html] {
        assert!(
            body.contains("请假/excuse 第46周 zhangwei@example.com"),
            "{body}"
        );
        assert!(body.contains("免罚：截止当天病假"), "{body}");
    }
    for body in [&en.text, &en.html] {
        assert!(body.contains("excuse week 46 lina@example.com"), "{body}");
        assert!(
            body.contains("excuse: on sick leave on the due day"),
            "the English waiver word, no date: {body}"
        );
        assert!(!body.contains("免罚:"), "{body}");
        assert!(
            !body.contains("26-27 Nov") && !body.contains("26–27 Nov"),
            "{body}"
        );
    }
    for m in [&zh, &en] {
        assert!(!m.text.contains("2026-W46"), "{}", m.text);
    }
}
