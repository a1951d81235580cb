//! Mail people act on (issue 8), end to end: the real `reportd` binary reads
//! the assistant's mailbox in a real Dovecot and sends through a real
//! Postfix; each email is read back over IMAP from its recipient's INBOX.
//! A late arrival gets a fine notice; a waiver filed with `reportd excuse`
//! is confirmed; a report that missed the supervisor gets the misaddressed
//! notice instead of the missing notice; a supervisor gets at most one reply
//! reminder a working day and none on a day off. None of these emails shows
//! reportd's own notation (`2026-W46`, `on_time`, outbox keys).
//!
//! The scenario is week 46 of 2026 (Mon 9 – Sun 15 November), due Saturday
//! 2026-11-14 22:00 (+08:00); tracking starts 2026-11-09 so only W46 is
//! judged.

mod app;
mod common;

use app::mail::{Mail, by_key, inbox};
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

// ----- set-up ------------------------------------------------------------------

fn start() -> (MailServers, App) {
    let servers = MailServers::start(app::USERS);
    let app = App::plain(
        servers.imap_port(),
        servers.password(),
        servers.smtp_port(),
        TRACKING,
        ROSTER,
    );
    app.cover_2027();
    (servers, app)
}

/// A W46 report from `from` to `to` (Cc the assistant), arriving at `arrival`.
async fn report(servers: &MailServers, from: &str, to: &str, name: &str, id: &str, arrival: &str) {
    app::append_w46(servers, from, (&[to], &[CC]), name, id, arrival).await;
}

/// 李娜's W46 report, on time on Friday 10:00.
async fn lina_on_time(servers: &MailServers) {
    report(
        servers,
        LINA,
        SUP,
        "李娜",
        "w46@lina",
        "2026-11-13T10:00:00+08:00",
    )
    .await;
}

/// reportd's own notation, which people never see: week keys, status
/// words, outbox keys, machine dates.
const NOTATION: &[&str] = &[
    "2026-W",
    "W46",
    "on_time",
    "missing",
    "pending",
    "excused",
    "reply-reminder:",
    "fine-notice:",
    "late-notice:",
    "excuse-confirmation:",
    "misaddressed:",
    "escalation:",
    "2026-11-",
    "T22:00",
];

/// The subject and the text part speak the team's language only.
fn assert_no_notation(m: &Mail) {
    for word in NOTATION {
        assert!(
            !m.subject.contains(word),
            "{word:?} in the subject {:?}",
            m.subject
        );
        assert!(
            !m.text.contains(word),
            "{word:?} in the text of {:?}:\n{}",
            m.subject,
            m.text
        );
    }
}

fn kinds(rows: &[Value]) -> Vec<String> {
    let mut k: Vec<String> = rows
        .iter()
        .map(|r| r["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    k.sort();
    k
}

// ----- the emails --------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_late_arrival_gets_a_fine_notice_naming_the_amount_the_fund_share_and_the_payroll_month()
{
    let (servers, app) = start();
    lina_on_time(&servers).await;
    // 张伟's arrives at 23:30, an hour and a half after the deadline, before
    // reportd judged the deadline: no missing notice, a fine notice.
    report(
        &servers,
        ZHANG,
        SUP,
        "张伟",
        "w46@zhang",
        "2026-11-14T23:30:00+08:00",
    )
    .await;
    let now = "2026-11-15T09:00:00+08:00";
    app.sync(now);
    assert_eq!(app.row(now, ZHANG, "2026-W46")["status"], "late");
    assert_eq!(kinds(&app.outbox()), ["fine_notice"]);

    let key = "fine-notice:zhangwei@example.com:2026-W46";
    let got = inbox(&servers, "zhangwei", 1).await;
    let m = by_key(&got, key);
    by_key(&inbox(&servers, "wangfang", 1).await, key);
    inbox(&servers, "lina", 0).await;
    assert_eq!(m.to, [ZHANG]);
    assert_eq!(m.cc, [WANG]);
    assert_eq!(m.in_reply_to.as_deref(), Some("<w46@zhang>"));
    assert!(
        m.subject.contains("迟交罚款") && m.subject.contains("50.00"),
        "{}",
        m.subject
    );
    for body in [&m.text, &m.html] {
        assert!(body.contains("50.00"), "the fine: {body}");
        assert!(body.contains("25.00"), "the fund's share: {body}");
        assert!(body.contains("在11月工资中扣除"), "the payroll: {body}");
        assert!(body.contains("晚了1小时"), "how late: {body}");
        assert!(
            body.contains("11月14日（周六）22:00"),
            "the deadline: {body}"
        );
        assert!(
            body.contains("11月14日（周六）23:30"),
            "the arrival: {body}"
        );
    }
    assert_no_notation(m);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_waiver_filed_with_reportd_excuse_is_confirmed_to_the_filer_with_the_rep_in_cc() {
    let (servers, app) = start();
    lina_on_time(&servers).await;
    // Sunday: 张伟's is missing, the fine is booked and he is told.
    app.sync("2026-11-15T09:00:00+08:00");
    let filed = "2026-11-16T09:00:00+08:00";
    app.run(&[
        "excuse",
        "--person",
        ZHANG,
        "--period",
        "2026-W46",
        "--reason",
        "病假（住院）",
        "--by",
        WANG,
        "--now",
        filed,
    ]);
    app.sync("2026-11-16T09:01:00+08:00");
    // Once: a second run sends nothing more.
    app.sync("2026-11-16T09:30:00+08:00");
    let rows = app.outbox();
    let confirmations: Vec<&Value> = rows
        .iter()
        .filter(|r| r["kind"] == "excuse_confirmation")
        .collect();
    assert_eq!(confirmations.len(), 1, "{rows:#?}");

    // 王芳: the missing notice in Cc, the confirmation, the Monday digest,
    // and the day's 09:00 reply reminder about 李娜's report.
    let wang = inbox(&servers, "wangfang", 4).await;
    let key = confirmations[0]["key"].as_str().expect("key");
    let m = by_key(&wang, key);
    // 张伟: the missing notice and the confirmation in Cc.
    by_key(&inbox(&servers, "zhangwei", 2).await, key);
    assert_eq!(m.to, [WANG], "to the filer");
    assert_eq!(m.cc, [ZHANG], "the rep in Cc");
    assert!(
        m.subject.contains("已登记理由") && m.subject.contains("张伟"),
        "{}",
        m.subject
    );
    assert!(m.subject.contains("第46周"), "{}", m.subject);
    for body in [&m.text, &m.html] {
        assert!(body.contains("病假（住院）"), "the reason: {body}");
    }
    assert!(m.text.contains("本期罚款 50.00 元已撤销"), "{}", m.text);
    assert!(
        m.html
            .contains("本期罚款 <strong>50.00&nbsp;元</strong>已撤销"),
        "{}",
        m.html
    );
    assert_no_notation(m);
    assert_eq!(
        app.row(filed, ZHANG, "2026-W46")["status"],
        "excused",
        "the waiver stands"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_that_missed_the_supervisor_gets_the_misaddressed_notice_instead_of_the_missing_notice()
 {
    let (servers, app) = start();
    report(
        &servers,
        ZHANG,
        SUP,
        "张伟",
        "w46@zhang",
        "2026-11-12T10:00:00+08:00",
    )
    .await;
    // 李娜's goes to the manager, not her supervisor, on Friday.
    report(
        &servers,
        LINA,
        "陈刚 <chengang@example.com>",
        "李娜",
        "w46@lina-wrong",
        "2026-11-13T10:00:00+08:00",
    )
    .await;
    // reportd first reads it after the deadline.
    let now = "2026-11-15T09:00:00+08:00";
    app.sync(now);
    app.sync("2026-11-15T09:30:00+08:00");
    let row = app.row(now, LINA, "2026-W46");
    assert_eq!(row["status"], "missing");
    assert_eq!(row["fine_fen"], 5000);
    let rows = app.outbox();
    assert_eq!(
        kinds(&rows),
        ["misaddressed"],
        "no missing notice: {rows:#?}"
    );

    let got = inbox(&servers, "lina", 1).await;
    let m = by_key(&got, rows[0]["key"].as_str().expect("key"));
    assert_eq!(m.to, [LINA]);
    assert_eq!(
        m.cc,
        [WANG],
        "it names the fine: the supervisor hears of it"
    );
    assert_eq!(m.in_reply_to.as_deref(), Some("<w46@lina-wrong>"));
    assert!(
        m.subject.starts_with("收到了，但没有发给直属主管"),
        "{}",
        m.subject
    );
    for body in [&m.text, &m.html] {
        assert!(body.contains(WANG), "where it should go: {body}");
        assert!(body.contains(CHEN), "where it went: {body}");
        assert!(body.contains("50.00"), "the fine booked: {body}");
    }
    assert_no_notation(m);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_supervisor_gets_one_reply_reminder_a_working_day_listing_every_report_and_none_on_a_day_off()
 {
    let (servers, app) = start();
    report(
        &servers,
        ZHANG,
        SUP,
        "张伟",
        "w46@zhang",
        "2026-11-12T10:00:00+08:00",
    )
    .await;
    lina_on_time(&servers).await;
    // 张伟's reply time ends Saturday 10:00, 李娜's Sunday 10:00: both days
    // off, so no reminder, however often reportd runs.
    for now in [
        "2026-11-14T10:30:00+08:00",
        "2026-11-14T16:00:00+08:00",
        "2026-11-15T10:30:00+08:00",
        "2026-11-15T16:00:00+08:00",
    ] {
        app.sync(now);
    }
    assert!(app.outbox().is_empty(), "{:#?}", app.outbox());
    // Monday and Tuesday, several runs each: one reminder a day.
    for now in [
        "2026-11-16T10:30:00+08:00",
        "2026-11-16T11:00:00+08:00",
        "2026-11-16T16:00:00+08:00",
        "2026-11-17T10:30:00+08:00",
        "2026-11-17T16:00:00+08:00",
    ] {
        app.sync(now);
    }
    let rows = app.outbox();
    let mut reminders: Vec<&str> = rows
        .iter()
        .filter(|r| r["kind"] == "reply_reminder")
        .filter_map(|r| r["key"].as_str())
        .collect();
    reminders.sort_unstable();
    assert_eq!(
        reminders,
        [
            "reply-reminder:wangfang@example.com:2026-11-16",
            "reply-reminder:wangfang@example.com:2026-11-17"
        ],
        "{rows:#?}"
    );

    // 王芳: the two reminders and Monday's digest.
    let got = inbox(&servers, "wangfang", 3).await;
    for key in reminders {
        let m = by_key(&got, key);
        assert_eq!(m.to, [WANG]);
        assert!(m.cc.is_empty(), "{:?}", m.cc);
        assert_eq!(
            m.subject, "待您回复：2 份报告，2 份已超过 48 小时",
            "one email for both reports"
        );
        assert!(m.in_reply_to.is_none(), "about two reports, in no thread");
        let zhang = m
            .text
            .find("张伟 第46周周报")
            .expect("张伟's report listed");
        let lina = m
            .text
            .find("李娜 第46周周报")
            .expect("李娜's report listed");
        assert!(zhang < lina, "oldest first:\n{}", m.text);
        for id in ["w46%40zhang", "w46%40lina"] {
            assert!(m.html.contains(id), "a reply link into {id}: {}", m.html);
        }
        assert_no_notation(m);
    }
    inbox(&servers, "zhangwei", 0).await;
    inbox(&servers, "lina", 0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_tables_speak_the_team_language_and_status_names_the_instant_it_judges_as_of() {
    let (servers, app) = start();
    lina_on_time(&servers).await;
    report(
        &servers,
        ZHANG,
        SUP,
        "张伟",
        "w46@zhang",
        "2026-11-14T23:30:00+08:00",
    )
    .await;
    let now = "2026-11-16T09:00:00+08:00";
    app.sync(now);

    let board = app.run(&["status", "--now", now, "--period", "2026-W46"]);
    assert!(
        board.starts_with("判定时间：11月16日（周一）09:00\n"),
        "{board}"
    );
    assert!(board.contains("第46周（11月9日–15日）周报"), "{board}");
    assert!(board.contains("11月14日（周六）22:00"), "{board}");
    for (name, status) in [("李娜", "准时"), ("张伟", "迟交")] {
        assert!(
            board
                .lines()
                .any(|l| l.contains(name) && l.contains(status)),
            "{name} {status}:\n{board}"
        );
    }
    let ledger = app.run(&["ledger"]);
    assert!(ledger.contains("罚款合计（净额）：50.00 元"), "{ledger}");
    assert!(ledger.contains("第46周（11月9日–15日）"), "{ledger}");
    let outbox = app.run(&["outbox"]);
    assert!(
        outbox.contains("罚款通知") && outbox.contains("已发送"),
        "{outbox}"
    );
    assert!(
        ledger.contains("迟交：11月14日（周六）23:30 到达，截止 11月14日（周六）22:00，晚了1小时"),
        "{ledger}"
    );
    for table in [&board, &outbox, &ledger] {
        for word in [
            "on_time",
            "late_notice",
            "fine_notice",
            "2026-W46",
            "queued",
            "late:",
            "min after",
        ] {
            assert!(!table.contains(word), "{word:?} in:\n{table}");
        }
    }

    // --json keeps its keys and values, and no as-of line.
    let rows = app.status(now, &["2026-W46"]);
    let zhang = rows
        .iter()
        .find(|r| r["person"] == ZHANG)
        .expect("张伟's row");
    assert_eq!(zhang["status"], "late");
    assert_eq!(zhang["period"], "2026-W46");
    assert_eq!(zhang["kind"], "weekly");
    assert_eq!(zhang["due"], "2026-11-14T22:00:00+08:00");
    assert_eq!(zhang["fine_fen"], 5000);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ledger_says_a_missing_report_arrived_late_without_changing_its_entry() {
    let (servers, app) = start();
    lina_on_time(&servers).await;
    // Sunday: 张伟's is missing and fined.
    app.sync("2026-11-15T09:00:00+08:00");
    let before = app.ledger()["entries"].clone();
    // Monday 09:10 it arrives, late.
    report(
        &servers,
        ZHANG,
        SUP,
        "张伟",
        "w46@zhang",
        "2026-11-16T09:10:00+08:00",
    )
    .await;
    app.sync("2026-11-16T09:30:00+08:00");
    app.sync("2026-11-16T10:30:00+08:00");

    let ledger = app.ledger();
    let entries = ledger["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "one fine, not two: {ledger:#}");
    let fine = &entries[0];
    for key in [
        "at",
        "person",
        "period",
        "kind",
        "amount_fen",
        "fund_fen",
        "reason",
        "evidence",
    ] {
        assert_eq!(fine[key], before[0][key], "{key} as booked: {fine:#}");
    }
    assert!(
        fine["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("missing:"))
    );
    assert_eq!(
        fine["notes"],
        serde_json::json!(["late, arrived 11-16 09:10 (1 day after the deadline)"])
    );
    let table = app.run(&["ledger"]);
    assert!(
        table.contains("迟交：11月16日（周一）09:10 补交，晚了1天（截止时记为未交）"),
        "the reason reads as the final state, in the team's words: {table}"
    );
    assert!(
        table.contains("截止时间 11月14日（周六）22:00"),
        "the evidence: {table}"
    );
    for word in [
        "late,",
        "missing:",
        "booked as",
        "deadline 2026-W46",
        "T22:00",
    ] {
        assert!(!table.contains(word), "{word:?} in:\n{table}");
    }
}
