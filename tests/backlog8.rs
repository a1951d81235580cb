//! Replies and backlogs (issue 8, after the adversarial review), end to
//! end: the real `reportd` binary reads the assistant's mailbox in a real
//! Dovecot and sends through a real Postfix; each email is read back over
//! IMAP from its recipient's INBOX. A supervisor's reply through the
//! reminder's link counts though the mail client dropped In-Reply-To; the
//! backlog a reminder and an escalation list is the whole backlog, not the
//! last 30 days; a manager gets at most one escalation a working day.

mod app;
mod common;

use std::time::Duration;

use app::mail::Mail;
use app::{App, ROSTER, eml, utf8_word};
use chrono::DateTime;
use common::MailServers;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);
const ASSISTANT: &str = "zhaomin";
const SUP: &str = "王芳 <wangfang@example.com>";
const CC: &str = "赵敏 <zhaomin@example.com>";
const ZHANG: &str = "zhangwei@example.com";
const LINA: &str = "lina@example.com";
const WANG: &str = "wangfang@example.com";
const LIU: &str = "liuyang@example.com";

/// [`ROSTER`] and a second group: supervisor 刘洋 and his rep 孙丽.
fn roster() -> String {
    format!(
        "{ROSTER}
[[person]]
name = \"刘洋\"
email = \"{LIU}\"
role = \"supervisor\"
group = \"商务二组\"

[[person]]
name = \"孙丽\"
email = \"sunli@example.com\"
role = \"rep\"
supervisor = \"{LIU}\"
"
    )
}

fn start(tracking: &str) -> (MailServers, App) {
    let servers = MailServers::start(&[
        "zhaomin", "wangfang", "zhangwei", "lina", "chengang", "liuyang", "sunli",
    ]);
    let app = App::plain(
        servers.imap_port(),
        servers.password(),
        servers.smtp_port(),
        tracking,
        &roster(),
    );
    (servers, app)
}

/// A message from `from` to `to` (Cc the assistant) with this subject and
/// no In-Reply-To or References, arriving at `arrival`.
async fn deliver(servers: &MailServers, from: &str, to: &str, subject: &str, id: &str, at: &str) {
    let raw = eml(
        from,
        &[to],
        &[CC],
        &utf8_word(subject),
        id,
        "Thu, 12 Nov 2026 09:00:00 +0800",
    );
    let at = DateTime::parse_from_rfc3339(at).expect("RFC 3339 arrival");
    servers
        .append(ASSISTANT, "INBOX", &raw, at)
        .await
        .expect("append");
}

/// Waits until `user`'s INBOX holds at least `n` messages, lets any more
/// arrive, and returns them all but those with attachments.
async fn inbox(servers: &MailServers, user: &str, n: usize) -> Vec<Mail> {
    if n > 0 {
        servers
            .wait_for(user, "INBOX", n, WAIT)
            .await
            .unwrap_or_else(|e| panic!("waiting for {n} message(s) to {user}: {e:#}"));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    servers
        .fetch_all(user, "INBOX")
        .await
        .expect("fetch INBOX")
        .iter()
        // The monthly payroll summary and archive carry attachments and no
        // wording under test here.
        .filter(|f| !String::from_utf8_lossy(&f.raw).contains("Content-Disposition: attachment"))
        .map(|f| Mail::parse(&f.raw))
        .collect()
}

fn replied(app: &App, now: &str, person: &str, period: &str) -> Value {
    app.row(now, person, period)["replied_at"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_through_the_link_counts_without_in_reply_to_and_one_from_another_supervisor_does_not()
 {
    let (servers, app) = start("2026-11-09");
    let subject = "周报 第46周（11月9日–15日） 李娜";
    deliver(
        &servers,
        LINA,
        SUP,
        subject,
        "w46@lina",
        "2026-11-12T10:00:00+08:00",
    )
    .await;
    // Two reps' reports with one subject.
    deliver(
        &servers,
        ZHANG,
        SUP,
        "第46周周报",
        "w46@zhang",
        "2026-11-12T11:00:00+08:00",
    )
    .await;
    deliver(
        &servers,
        "lina@example.com",
        SUP,
        "第46周周报 补充",
        "w46b@lina",
        "2026-11-12T11:30:00+08:00",
    )
    .await;
    // 刘洋 is no supervisor of 李娜: his reply with her subject counts for
    // nothing.
    deliver(
        &servers,
        LIU,
        "李娜 <lina@example.com>",
        &format!("Re: {subject}"),
        "re@liu",
        "2026-11-13T08:30:00+08:00",
    )
    .await;
    app.sync("2026-11-13T08:40:00+08:00");
    assert_eq!(app.class_of("re@liu", false).as_deref(), Some("ignored"));
    assert!(replied(&app, "2026-11-13T08:40:00+08:00", LINA, "2026-W46").is_null());

    // 王芳 answers through the link: the mail client kept the subject
    // ("Re: " and the report's own subject, spaced its own way) and
    // dropped In-Reply-To.
    deliver(
        &servers,
        WANG,
        "李娜 <lina@example.com>",
        "回复：周报　第46周（11月9日–15日）李娜",
        "re@wang",
        "2026-11-13T09:00:00+08:00",
    )
    .await;
    // And answers 张伟's "第46周周报", a subject 李娜's revision does not
    // share; addressed to 张伟.
    deliver(
        &servers,
        WANG,
        "张伟 <zhangwei@example.com>",
        "Re: 第46周周报",
        "re2@wang",
        "2026-11-13T09:10:00+08:00",
    )
    .await;
    app.sync("2026-11-13T09:30:00+08:00");
    assert_eq!(app.class_of("re@wang", false).as_deref(), Some("reply"));
    assert_eq!(app.class_of("re2@wang", false).as_deref(), Some("reply"));
    let now = "2026-11-13T09:30:00+08:00";
    assert!(
        replied(&app, now, LINA, "2026-W46").is_string(),
        "{:?}",
        app.row(now, LINA, "2026-W46")
    );
    assert!(replied(&app, now, ZHANG, "2026-W46").is_string());

    // Nothing left waiting: no reply reminder on Monday.
    app.sync("2026-11-16T09:30:00+08:00");
    let rows = app.outbox();
    assert!(
        rows.iter().all(|r| r["kind"] != "reply_reminder"),
        "{rows:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_whose_subject_two_reps_share_and_names_neither_is_flagged_not_counted() {
    let (servers, app) = start("2026-11-09");
    deliver(
        &servers,
        ZHANG,
        SUP,
        "第46周周报",
        "w46@zhang",
        "2026-11-12T10:00:00+08:00",
    )
    .await;
    deliver(
        &servers,
        LINA,
        SUP,
        "第46周周报",
        "w46@lina",
        "2026-11-12T11:00:00+08:00",
    )
    .await;
    deliver(
        &servers,
        WANG,
        "陈刚 <chengang@example.com>",
        "Re: 第46周周报",
        "re@wang",
        "2026-11-13T09:00:00+08:00",
    )
    .await;
    app.sync("2026-11-13T09:30:00+08:00");
    assert_eq!(app.class_of("re@wang", true).as_deref(), Some("ignored"));
    let now = "2026-11-13T09:30:00+08:00";
    assert!(replied(&app, now, LINA, "2026-W46").is_null());
    assert!(replied(&app, now, ZHANG, "2026-W46").is_null());
    // Addressed to 李娜: hers.
    deliver(
        &servers,
        WANG,
        "李娜 <lina@example.com>",
        "Re: 第46周周报",
        "re2@wang",
        "2026-11-13T10:00:00+08:00",
    )
    .await;
    let now = "2026-11-13T10:30:00+08:00";
    app.sync(now);
    assert_eq!(app.class_of("re2@wang", false).as_deref(), Some("reply"));
    assert!(replied(&app, now, LINA, "2026-W46").is_string());
    assert!(replied(&app, now, ZHANG, "2026-W46").is_null());
}

#[test]
fn the_demos_digests_go_out_at_their_time_with_no_delayed_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = dir.path().join("demo");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reportd"))
        .args(["demo", "--dir", &demo.display().to_string()])
        .env_remove("REPORTD_CONFIG")
        .output()
        .expect("run the demo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let digests: Vec<Mail> = std::fs::read_dir(demo.join("outbox"))
        .expect("outbox dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with("digest.eml"))
        .map(|e| Mail::parse(&std::fs::read(e.path()).expect("read eml")))
        .collect();
    assert!(!digests.is_empty(), "the demo sends digests");
    for m in &digests {
        assert!(
            !m.text.contains("延后") && !m.html.contains("延后"),
            "{}: {}",
            m.subject,
            m.text
        );
    }
}

/// `name`'s weekly reports of weeks `weeks` of 2026, each on the Friday of
/// its week at 10:00, to `supervisor`.
async fn weekly_reports(
    servers: &MailServers,
    from: &str,
    name: &str,
    supervisor: &str,
    weeks: std::ops::RangeInclusive<u32>,
) {
    for week in weeks {
        let friday = chrono::NaiveDate::from_isoywd_opt(2026, week, chrono::Weekday::Fri)
            .expect("a Friday of 2026");
        let at = format!("{friday}T10:00:00+08:00");
        let id = format!("w{week}@{}", from.split('@').next().unwrap_or("x"));
        let subject = format!("{name} 第{week}周周报");
        deliver(servers, from, supervisor, &subject, &id, &at).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_backlog_since_tracking_began_is_counted_and_a_manager_gets_one_escalation_a_day()
{
    // Tracking began Monday 3 August; 王芳 never answered a report of
    // 张伟 or 李娜 (30 of them, the oldest 7 August), nor 刘洋 those of
    // 孙丽 since week 44.
    let (servers, app) = start("2026-08-03");
    weekly_reports(&servers, ZHANG, "张伟", SUP, 32..=46).await;
    weekly_reports(&servers, LINA, "李娜", SUP, 32..=46).await;
    weekly_reports(
        &servers,
        "sunli@example.com",
        "孙丽",
        "刘洋 <liuyang@example.com>",
        44..=46,
    )
    .await;
    // Monday 16 November: the digest at 08:30, the reply reminders at
    // 09:00, not before; several runs a day.
    app.sync("2026-11-16T08:45:00+08:00");
    let kinds = |rows: &[Value], kind: &str| -> Vec<String> {
        let mut keys: Vec<String> = rows
            .iter()
            .filter(|r| r["kind"] == kind)
            .filter_map(|r| r["key"].as_str().map(str::to_string))
            .collect();
        keys.sort_unstable();
        keys
    };
    assert!(
        kinds(&app.outbox(), "reply_reminder").is_empty(),
        "none before 09:00"
    );
    for now in [
        "2026-11-16T09:30:00+08:00",
        "2026-11-16T16:00:00+08:00",
        "2026-11-17T09:30:00+08:00",
        "2026-11-17T15:00:00+08:00",
        "2026-11-18T09:10:00+08:00",
    ] {
        app.sync(now);
    }
    let rows = app.outbox();
    // One escalation a working day at most, covering both supervisors;
    // none on Tuesday, when no report newly passed its reminders.
    assert_eq!(
        kinds(&rows, "escalation"),
        [
            "escalation:chengang@example.com:2026-11-16",
            "escalation:chengang@example.com:2026-11-18"
        ],
        "{rows:#?}"
    );

    // The digest and the reminders of Monday and Tuesday (none on
    // Wednesday: no report reached a reminder step, only the escalation).
    let wang = inbox(&servers, "wangfang", 3).await;
    assert_eq!(wang.len(), 3);
    let reminder = wang
        .iter()
        .find(|m| m.subject.starts_with("待您回复"))
        .expect("王芳's reply reminder");
    assert_eq!(reminder.subject, "待您回复：30 份报告，30 份已超过 48 小时");
    assert!(
        reminder
            .text
            .contains("以及另外 15 份更早的报告（最早 8月7日（周五））"),
        "{}",
        reminder.text
    );
    assert!(
        reminder.text.contains("已上报经理陈刚"),
        "{}",
        reminder.text
    );
    assert!(!reminder.text.contains("将上报"), "{}", reminder.text);
    let digest = wang
        .iter()
        .find(|m| m.subject.contains("周报汇总") || m.subject.contains("汇总"))
        .expect("王芳's digest");
    assert!(
        digest.text.contains("回复的报告（30 份")
            && digest.text.contains("以及另外 15 份更早的报告"),
        "{}",
        digest.text
    );
    for m in &wang {
        assert!(
            !m.text.contains("已等待 ") && !m.text.contains("已等待刚收到"),
            "{}",
            m.text
        );
    }

    let chen = inbox(&servers, "chengang", 2).await;
    let escalations: Vec<&Mail> = chen
        .iter()
        .filter(|m| m.subject.starts_with("上报"))
        .collect();
    assert_eq!(escalations.len(), 2, "{chen:#?}");
    let first = escalations
        .iter()
        .find(|m| m.text.contains("孙丽"))
        .expect("Monday's escalation");
    assert_eq!(
        first.subject,
        "上报：2 位主管共有 33 份报告待回复（王芳 30 份、刘洋 3 份）"
    );
    assert!(
        first
            .text
            .contains("主管王芳（wangfang@example.com）：30 份待回复")
            && first
                .text
                .contains("以及另外 15 份更早的报告（最早 8月7日（周五））"),
        "{}",
        first.text
    );
    let size = first.html.len();
    assert!(size < 102_000, "the escalation's HTML is {size} bytes");
}
