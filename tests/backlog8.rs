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
/// arrive, and returns them all.
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
