//! Recognising every real report, against a real Dovecot read by the real
//! `reportd` binary: subjects in the shape people write, reports from a
//! rep's personal address (an alias), a report written inside last week's
//! thread, and mail that looks like a report but is not one (a newsletter)
//! or cannot be placed (flagged for the assistant, never dropped).

mod app;
mod common;

use app::{App, Imap, eml, reply_eml, utf8_word};
use chrono::{DateTime, FixedOffset};
use common::MailServers;
use serde_json::Value;

const ASSISTANT: &str = "zhaomin";
const SUP: &str = "王芳 <wangfang@example.com>";
const CC: &str = "赵敏 <zhaomin@example.com>";
const ZHANG: &str = "zhangwei@example.com";
const LINA: &str = "lina@example.com";
/// 张伟's personal mailbox, an alias in [`roster_with_alias`].
const ZHANG_163: &str = "zhangwei1985@163.com";
/// After the deadline of 2026-W46 (Saturday 2026-11-14 22:00 in Shanghai).
const AFTER_W46: &str = "2026-11-15T10:00:00+08:00";
/// After the deadline of October's monthly report (the end of Monday
/// 2026-11-02, the first working day of November). Test times stay in the
/// past: Dovecot replaces a future INTERNALDATE, and `sync --now` refuses a
/// time ahead of the clock.
const AFTER_OCTOBER: &str = "2026-11-03T10:00:00+08:00";

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).expect("RFC 3339 test time")
}

/// The test team, with `aliases` for 张伟.
fn roster_with_alias() -> String {
    let zhang = "email = \"zhangwei@example.com\"\nrole = \"rep\"\n";
    assert!(app::ROSTER.contains(zhang), "the test roster changed");
    app::ROSTER.replace(
        zhang,
        &format!("email = \"zhangwei@example.com\"\naliases = [\"{ZHANG_163}\"]\nrole = \"rep\"\n"),
    )
}

/// Servers and a reportd on the assistant's INBOX for the test team, with
/// 张伟's personal address as his alias.
fn start() -> (MailServers, App) {
    let servers = MailServers::start(app::USERS);
    let imap = Imap {
        port: servers.imap_port(),
        security: "plain",
        password: servers.password(),
        ca_file: None,
    };
    let app = App::configure(imap, "2026-11-02", "", &roster_with_alias());
    (servers, app)
}

/// Puts `raw` into the assistant's INBOX, arriving at `arrival`.
async fn arrive(servers: &MailServers, raw: &[u8], arrival: &str) {
    servers
        .append(ASSISTANT, "INBOX", raw, at(arrival))
        .await
        .expect("append");
}

/// A report from `from` to the supervisor, Cc the assistant.
fn report(from: &str, subject: &str, id: &str) -> Vec<u8> {
    eml(
        from,
        &[SUP],
        &[CC],
        &utf8_word(subject),
        id,
        "Sat, 14 Nov 2026 12:00:00 +0800",
    )
}

fn fines_of(app: &App, person: &str, period: &str) -> usize {
    app.ledger()["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["kind"] == "fine" && e["person"] == person && e["period"] == period)
        .count()
}

fn message(app: &App, message_id: &str) -> Value {
    app.messages(false)
        .into_iter()
        .find(|m| m["message_id"] == message_id)
        .unwrap_or_else(|| panic!("no message <{message_id}>"))
}

#[tokio::test]
async fn monthly_work_summary_with_a_dotted_month_is_the_monthly_report() {
    let (servers, app) = start();
    let raw = report(ZHANG, "张伟 2026.10 月度工作总结", "m10@zhang");
    arrive(&servers, &raw, "2026-11-02T17:30:00+08:00").await;
    // 李娜 writes it the way the old keyword list knew, as a control.
    let raw = report(LINA, "李娜 10月月报", "m10@lina");
    arrive(&servers, &raw, "2026-11-02T09:00:00+08:00").await;
    app.sync(AFTER_OCTOBER);

    assert_eq!(app.class_of("m10@zhang", false).as_deref(), Some("report"));
    let row = app.row(AFTER_OCTOBER, ZHANG, "2026-10");
    assert_eq!(row["status"], "on_time", "{row}");
    assert_eq!(row["message_id"], "m10@zhang");
    assert_eq!(row["received"], "2026-11-02T17:30:00+08:00");
    assert_eq!(fines_of(&app, ZHANG, "2026-10"), 0);
    assert_eq!(app.row(AFTER_OCTOBER, LINA, "2026-10")["status"], "on_time");
}

#[tokio::test]
async fn report_from_an_alias_address_counts_for_the_person() {
    let (servers, app) = start();
    let raw = report(
        &format!("张伟 <{ZHANG_163}>"),
        "张伟 第46周周报",
        "w46@zhang163",
    );
    arrive(&servers, &raw, "2026-11-14T20:00:00+08:00").await;
    app.sync(AFTER_W46);

    let m = message(&app, "w46@zhang163");
    assert_eq!(m["class"], "report", "{m}");
    let row = app.row(AFTER_W46, ZHANG, "2026-W46");
    assert_eq!(row["status"], "on_time", "{row}");
    assert_eq!(row["message_id"], "w46@zhang163");
    assert_eq!(fines_of(&app, ZHANG, "2026-W46"), 0);
}

#[tokio::test]
async fn report_from_an_address_not_in_the_roster_is_flagged_for_the_assistant() {
    let (servers, app) = start();
    // 李娜 writes from a personal address nobody has configured.
    let raw = report("李娜 <lina88@qq.com>", "李娜 第46周周报", "w46@lina-qq");
    arrive(&servers, &raw, "2026-11-14T20:00:00+08:00").await;
    app.sync(AFTER_W46);

    let flagged = app.messages(true);
    let m = flagged
        .iter()
        .find(|m| m["message_id"] == "w46@lina-qq")
        .unwrap_or_else(|| panic!("not flagged: {flagged:?}"));
    let reason = m["reason"].as_str().expect("reason");
    assert!(
        reason.contains("lina88@qq.com") && reason.contains("aliases"),
        "{reason}"
    );
    // Nothing counted: the assistant decides.
    assert_eq!(app.row(AFTER_W46, LINA, "2026-W46")["status"], "missing");
}

#[tokio::test]
async fn report_written_inside_last_weeks_thread_without_re_is_a_report() {
    let (servers, app) = start();
    let raw = report(ZHANG, "张伟 第45周周报", "w45@zhang");
    arrive(&servers, &raw, "2026-11-06T18:00:00+08:00").await;
    let raw = reply_eml(
        SUP,
        ZHANG,
        "回复: 张伟 第45周周报",
        "re45@wangfang",
        "w45@zhang",
    );
    arrive(&servers, &raw, "2026-11-07T09:00:00+08:00").await;
    // This week's report, written by answering last week's thread with the
    // subject edited and the prefix removed.
    let mut raw =
        String::from_utf8(report(ZHANG, "张伟 第46周周报", "w46@zhang")).expect("UTF-8 message");
    raw = raw.replacen(
        "MIME-Version",
        "In-Reply-To: <re45@wangfang>\r\nReferences: <w45@zhang> <re45@wangfang>\r\nMIME-Version",
        1,
    );
    arrive(&servers, raw.as_bytes(), "2026-11-13T17:00:00+08:00").await;
    app.sync(AFTER_W46);

    assert_eq!(
        app.class_of("re45@wangfang", false).as_deref(),
        Some("reply")
    );
    assert_eq!(app.class_of("w46@zhang", false).as_deref(), Some("report"));
    let row = app.row(AFTER_W46, ZHANG, "2026-W46");
    assert_eq!(row["status"], "on_time", "{row}");
    assert_eq!(row["message_id"], "w46@zhang");
    assert_eq!(fines_of(&app, ZHANG, "2026-W46"), 0);
}

#[tokio::test]
async fn newsletter_from_outside_is_not_a_report_and_not_flagged() {
    let (servers, app) = start();
    // Sent to the whole team, supervisor included, with report words in it.
    let raw = eml(
        "销售周刊 <news@newsletter.example.net>",
        &[SUP, CC],
        &[],
        &utf8_word("《销售周刊》第48期：本周市场总结"),
        "issue48@newsletter",
        "Thu, 12 Nov 2026 08:00:00 +0800",
    );
    arrive(&servers, &raw, "2026-11-12T08:00:00+08:00").await;
    app.sync(AFTER_W46);

    let m = message(&app, "issue48@newsletter");
    assert_eq!(m["class"], "ignored", "{m}");
    assert_eq!(m["flagged"], false, "{m}");
}

#[tokio::test]
async fn report_like_mail_from_a_rep_that_cannot_be_placed_is_flagged_not_dropped() {
    let (servers, app) = start();
    // A report word but no week or month, and a report's shape beside an
    // excluded word.
    let raw = report(ZHANG, "张伟 工作总结", "summary@zhang");
    arrive(&servers, &raw, "2026-11-13T17:00:00+08:00").await;
    let raw = report(LINA, "第46周周报（附行业周刊）", "w46@lina");
    arrive(&servers, &raw, "2026-11-13T18:00:00+08:00").await;
    app.sync(AFTER_W46);

    let flagged = app.messages(true);
    for id in ["summary@zhang", "w46@lina"] {
        assert!(
            flagged.iter().any(|m| m["message_id"] == id),
            "{id} not flagged: {flagged:?}"
        );
    }
}

#[tokio::test]
async fn reporters_reply_naming_a_period_without_a_report_is_flagged_as_the_report_written_as_a_reply()
 {
    let (servers, app) = start();
    // Last week: both report, the supervisor answers both.
    for (from, name, rep) in [(LINA, "李娜", "lina"), (ZHANG, "张伟", "zhang")] {
        let raw = report(from, &format!("{name} 第45周周报"), &format!("w45@{rep}"));
        arrive(&servers, &raw, "2026-11-06T18:00:00+08:00").await;
        let raw = reply_eml(
            SUP,
            from,
            &utf8_word(&format!("回复: {name} 第45周周报")),
            &format!("re45@{rep}"),
            &format!("w45@{rep}"),
        );
        arrive(&servers, &raw, "2026-11-07T09:00:00+08:00").await;
    }
    // 李娜 writes this week's report by answering last week's thread.
    let raw = reply_eml(
        LINA,
        SUP,
        &utf8_word("Re: 李娜 第46周周报"),
        "w46-as-reply@lina",
        "re45@lina",
    );
    arrive(&servers, &raw, "2026-11-13T17:00:00+08:00").await;
    // 张伟 reports, then answers his supervisor's reply in the same thread.
    let raw = report(ZHANG, "张伟 第46周周报", "w46@zhang");
    arrive(&servers, &raw, "2026-11-13T17:00:00+08:00").await;
    let raw = reply_eml(
        ZHANG,
        SUP,
        &utf8_word("Re: 张伟 第46周周报"),
        "thanks46@zhang",
        "re45@zhang",
    );
    arrive(&servers, &raw, "2026-11-13T19:00:00+08:00").await;
    app.sync(AFTER_W46);

    let m = message(&app, "w46-as-reply@lina");
    assert_eq!(m["class"], "ignored", "{m}");
    assert_eq!(m["flagged"], true, "{m}");
    let reason = m["reason"].as_str().expect("reason");
    assert!(
        reason.contains("2026-W46") && reason.contains("written as a reply"),
        "{reason}"
    );
    // It counts for nothing: the assistant decides.
    assert_eq!(app.row(AFTER_W46, LINA, "2026-W46")["status"], "missing");
    // 张伟's answer names a week he has reported: ignored, not flagged.
    let m = message(&app, "thanks46@zhang");
    assert_eq!(m["class"], "ignored", "{m}");
    assert_eq!(m["flagged"], false, "{m}");
    assert_eq!(app.row(AFTER_W46, ZHANG, "2026-W46")["status"], "on_time");
}
