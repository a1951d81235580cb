//! A provisional calendar made visible (issue 8, item 5), end to end: the
//! real `reportd` binary reads the assistant's mailbox in a real Dovecot and
//! sends through a real Postfix; each email is read back over IMAP.
//!
//! - When a deadline reportd will judge within 60 days falls in a year with
//!   no holiday notice, the assistant gets one email asking for it, once,
//!   however many passes and restarts; a year covered by an `official`
//!   calendar file is never asked about.
//! - A late notice and a fine notice of a deadline judged on a provisional
//!   calendar say so; on a covered year they do not.
//!
//! Time: `sync --now` may not run in the future (it books fines), and the
//! year after the last notice tyme4rs carries is always in the future. So a
//! calendar file with `provisional = true` marks a year as having no notice
//! yet (2027 here, so the test holds after `cargo update -p tyme4rs` too,
//! and 2026 for the notices), with times in November 2026.

mod app;
mod common;

use app::mail::{Mail, by_key, inbox};
use app::{App, ROSTER, eml, utf8_word};
use chrono::DateTime;
use common::MailServers;

const ASSISTANT: &str = "zhaomin";
const ASSISTANT_EMAIL: &str = "zhaomin@example.com";
const SUP: &str = "王芳 <wangfang@example.com>";
const CC: &str = "赵敏 <zhaomin@example.com>";
const ZHANG: &str = "zhangwei@example.com";
const FINE: &str = "fine-notice:zhangwei@example.com:2026-W46";
const LATE: &str = "late-notice:lina@example.com:2026-W46";

fn start(tracking: &str) -> (MailServers, App) {
    let servers = MailServers::start(app::USERS);
    let app = App::plain(
        servers.imap_port(),
        servers.password(),
        servers.smtp_port(),
        tracking,
        ROSTER,
    );
    (servers, app)
}

/// A file saying `year` has no notice yet, whatever tyme4rs carries.
fn mark_provisional(app: &App, year: i32) {
    let text = format!("year = {year}\nsource = \"test: no notice yet\"\nprovisional = true\n");
    app.add_calendar(&format!("pending-{year}.toml"), &text);
}

fn calendar_rows(app: &App) -> usize {
    app.outbox()
        .iter()
        .filter(|r| r["kind"] == "calendar_notice")
        .count()
}

// ----- the calendar notice -----------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn the_assistant_gets_exactly_one_2027_calendar_email_over_two_passes_and_a_restart() {
    let (servers, app) = start("2026-11-09");
    mark_provisional(&app, 2027);
    // Monday 23 November: week 53 (due Sat 2 Jan 2027) and the December
    // report (due Mon 4 Jan 2027) are within 60 days.
    app.sync("2026-11-23T10:00:00+08:00");
    app.sync("2026-11-23T10:05:00+08:00");
    // A restart days later: a new process, the same database.
    app.sync("2026-11-27T10:00:00+08:00");

    let mails = inbox(&servers, ASSISTANT, 1).await;
    let key = reportd::notify::plan::calendar_notice_key(2027, ASSISTANT_EMAIL);
    let m = by_key(&mails, &key);
    assert_eq!(calendar_rows(&app), 1);
    assert!(m.subject.contains("2027年放假安排"), "{}", m.subject);
    for said in [
        "第53周（12月28日–1月3日）周报",
        "12月月报",
        "1月4日（周一）当天（暂定）",
        "cn-2027.toml",
        "official = true",
        "[[holiday]]",
        "[[workday]]",
        "from = 2027-02-05",
        "cargo update -p tyme4rs",
        "reportd check-config",
        "元旦 1月1日（周五）",
    ] {
        assert!(m.text.contains(said), "text lacks {said}:\n{}", m.text);
        assert!(m.html.contains(said), "html lacks {said}:\n{}", m.html);
    }
    // The config line names the file beside the other calendar files.
    let config = app.config.display().to_string();
    assert!(m.text.contains(&config), "{}", m.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_an_official_2027_calendar_file_no_calendar_email_is_sent() {
    let (servers, app) = start("2026-11-09");
    app.cover_2027();
    app.sync("2026-11-23T10:00:00+08:00");
    app.sync("2026-11-27T10:00:00+08:00");
    // The late notice of week 47 went out, so the passes sent mail.
    inbox(&servers, "zhangwei", 1).await;
    let mails = inbox(&servers, ASSISTANT, 0).await;
    assert!(mails.is_empty(), "{mails:#?}");
    assert_eq!(calendar_rows(&app), 0);
}

// ----- notices of a provisional deadline ---------------------------------------

/// A week-46 report from `from`, Cc the assistant, arriving at `arrival`.
async fn report(servers: &MailServers, from: &str, name: &str, id: &str, arrival: &str) {
    let subject = utf8_word(&format!("{name} 第46周周报"));
    let raw = eml(
        from,
        &[SUP],
        &[CC],
        &subject,
        id,
        "Sat, 14 Nov 2026 09:00:00 +0800",
    );
    let at = DateTime::parse_from_rfc3339(arrival).expect("RFC 3339 arrival");
    servers
        .append(ASSISTANT, "INBOX", &raw, at)
        .await
        .expect("append report");
}

/// Week 46 of 2026, due Sat 14 Nov 22:00: 张伟's report arrives at 23:30
/// (a fine notice), 李娜's never (a late notice). Returns 张伟's fine
/// notice and 李娜's late notice, read from their INBOXes.
async fn notices(provisional_2026: bool) -> (Vec<Mail>, Vec<Mail>) {
    let (servers, app) = start("2026-11-09");
    if provisional_2026 {
        mark_provisional(&app, 2026);
    }
    report(
        &servers,
        ZHANG,
        "张伟",
        "w46@zhang",
        "2026-11-14T23:30:00+08:00",
    )
    .await;
    app.sync("2026-11-15T09:00:00+08:00");
    let fine = inbox(&servers, "zhangwei", 1).await;
    let late = inbox(&servers, "lina", 1).await;
    (fine, late)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fine_notice_and_a_late_notice_of_a_provisional_deadline_say_provisional() {
    let (fine, late) = notices(true).await;
    let (fine, late) = (by_key(&fine, FINE), by_key(&late, LATE));
    let mark = "11月14日（周六）22:00（暂定：2026年放假安排尚未公布）";
    for m in [fine, late] {
        assert!(m.text.contains(mark), "text lacks {mark}:\n{}", m.text);
        assert!(
            m.html.contains("（暂定：2026年放假安排尚未公布）"),
            "{}",
            m.html
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fine_notice_and_a_late_notice_of_a_covered_year_do_not_say_provisional() {
    let (fine, late) = notices(false).await;
    let (fine, late) = (by_key(&fine, FINE), by_key(&late, LATE));
    for m in [fine, late] {
        assert!(m.text.contains("11月14日（周六）22:00"), "{}", m.text);
        assert!(!m.text.contains("暂定"), "{}", m.text);
        assert!(!m.html.contains("暂定"), "{}", m.html);
    }
}
