//! Commands by email against real servers: a supervisor files a valid reason
//! by answering a late notice or by an `请假/excuse` email, which counts only
//! when the receiving server's Authentication-Results vouch for the sender.

mod app;
mod common;

use std::io::Write;
use std::time::Duration;

use app::{App, Imap, utf8_word};
use chrono::DateTime;
use common::MailServers;
use serde_json::Value;

const ZHANG: &str = "zhangwei@example.com";
const AFTER_W46: &str = "2026-11-15T10:00:00+08:00";
const PASS: &str =
    "mx.test; spf=pass smtp.mailfrom=wangfang@example.com; dmarc=pass header.from=example.com";
const FAIL: &str =
    "mx.test; spf=fail smtp.mailfrom=wangfang@example.com; dmarc=fail header.from=example.com";

/// Servers and a reportd that reads the assistant's mailbox, sends through
/// Postfix, and trusts Authentication-Results from `mx.test`.
fn start() -> (MailServers, App) {
    let servers = MailServers::start(app::USERS);
    let app = App::new(
        Imap {
            port: servers.imap_port(),
            security: "plain",
            password: servers.password(),
            ca_file: None,
        },
        "2026-11-02",
    );
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(&app.config)
        .expect("config");
    write!(
        config,
        "\n[notify]\nauthserv_id = \"mx.test\"\n\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\nfrom = \"报告助手 <zhaomin@example.com>\"\n",
        servers.smtp_port()
    )
    .expect("append config");
    (servers, app)
}

/// An email from the supervisor, with the receiving server's verdict on top.
fn command(auth: &str, subject: &str, id: &str, in_reply_to: Option<&str>, body: &str) -> Vec<u8> {
    let threading = in_reply_to.map_or_else(String::new, |p| {
        format!("In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n")
    });
    format!(
        "Authentication-Results: {auth}\r\nFrom: 王芳 <wangfang@example.com>\r\nTo: zhaomin@example.com\r\n\
         Subject: {subject}\r\nDate: Mon, 16 Nov 2026 09:00:00 +0800\r\nMessage-ID: <{id}>\r\n{threading}\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

async fn append(servers: &MailServers, raw: &[u8], at: &str) {
    let at = DateTime::parse_from_rfc3339(at).expect("time");
    servers
        .append("zhaomin", "INBOX", raw, at)
        .await
        .expect("append");
}

/// Waits (up to 20 s) for a message in `user`'s INBOX whose headers match;
/// returns its raw bytes.
async fn find_mail(
    servers: &MailServers,
    user: &str,
    matches: impl Fn(&dyn Fn(&str) -> String) -> bool,
) -> Vec<u8> {
    for _ in 0..100 {
        for f in servers.fetch_all(user, "INBOX").await.expect("fetch") {
            let m = mailparse::parse_mail(&f.raw).expect("parse");
            let header = |name: &str| header(&m, name);
            if matches(&header) {
                return f.raw;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no matching mail for {user}:\n{}", servers.postfix_log());
}

fn header(m: &mailparse::ParsedMail<'_>, name: &str) -> String {
    m.headers
        .iter()
        .find(|h| h.get_key_ref().eq_ignore_ascii_case(name))
        .map(|h| h.get_value())
        .unwrap_or_default()
}

fn w46_entries(app: &App) -> Vec<Value> {
    let ledger = app.ledger();
    ledger["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["person"] == ZHANG && e["period"] == "2026-W46")
        .cloned()
        .collect()
}

#[tokio::test]
async fn spoofed_excuse_command_changes_nothing_and_is_flagged() {
    let (servers, app) = start();
    app.sync(AFTER_W46);
    let subject = utf8_word("请假/excuse 2026-W46 zhangwei@example.com");
    append(
        &servers,
        &command(FAIL, &subject, "spoof@x", None, "病假"),
        "2026-11-16T09:00:00+08:00",
    )
    .await;
    app.sync("2026-11-16T10:00:00+08:00");
    let entries = w46_entries(&app);
    assert_eq!(entries.len(), 1, "the fine stands, no waiver: {entries:?}");
    assert_eq!(
        app.row("2026-11-16T10:00:00+08:00", ZHANG, "2026-W46")["status"],
        "missing"
    );
    let flagged = app.messages(true);
    let m = flagged
        .iter()
        .find(|m| m["message_id"] == "spoof@x")
        .expect("the spoofed command is flagged");
    assert_eq!(m["class"], "refused");
    assert!(
        m["reason"]
            .as_str()
            .unwrap_or("")
            .contains("Authentication-Results"),
        "{m}"
    );
}

#[tokio::test]
async fn excuse_command_without_any_authentication_results_is_refused() {
    let (servers, app) = start();
    app.sync(AFTER_W46);
    let raw = String::from_utf8(command(
        PASS,
        "请假 2026-W46 zhangwei@example.com",
        "noauth@x",
        None,
        "病假",
    ))
    .expect("utf8")
    .replacen(&format!("Authentication-Results: {PASS}\r\n"), "", 1);
    append(&servers, raw.as_bytes(), "2026-11-16T09:00:00+08:00").await;
    app.sync("2026-11-16T10:00:00+08:00");
    assert_eq!(w46_entries(&app).len(), 1);
    assert_eq!(app.class_of("noauth@x", true).as_deref(), Some("refused"));
}

#[tokio::test]
async fn authenticated_excuse_email_reverses_the_fine_and_is_confirmed_by_email() {
    let (servers, app) = start();
    app.sync(AFTER_W46);
    // The subject as the late notice writes it: the week without its year.
    let subject = utf8_word("请假/excuse 第46周 zhangwei@example.com");
    append(
        &servers,
        &command(PASS, &subject, "cmd@x", None, "出差拜访客户，已批准。"),
        "2026-11-16T09:00:00+08:00",
    )
    .await;
    app.sync("2026-11-16T10:00:00+08:00");
    let entries = w46_entries(&app);
    assert_eq!(entries.len(), 2, "fine and waiver: {entries:?}");
    assert_eq!(entries[1]["kind"], "waiver");
    assert!(
        entries[1]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("出差拜访客户"),
        "{entries:?}"
    );
    assert_eq!(
        app.row("2026-11-16T10:00:00+08:00", ZHANG, "2026-W46")["status"],
        "excused"
    );

    // The confirmation reaches the supervisor, threaded under the command,
    // with the rep in Cc.
    let confirmation = find_mail(&servers, "wangfang", |header| {
        header("In-Reply-To").contains("cmd@x")
    })
    .await;
    let confirmation = mailparse::parse_mail(&confirmation).expect("parse");
    assert!(header(&confirmation, "Cc").contains(ZHANG), "rep in Cc");
}

#[tokio::test]
async fn answering_the_late_notice_files_the_reason() {
    let (servers, app) = start();
    app.sync(AFTER_W46);
    // The late notice went to the rep with the supervisor in Cc.
    // Both reps missed W46, so the supervisor gets two notices (and a digest).
    let notice = find_mail(&servers, "wangfang", |header| {
        header("Subject").contains("未收到：第46周") && header("To").contains(ZHANG)
    })
    .await;
    let notice = mailparse::parse_mail(&notice).expect("parse");
    let notice_id = header(&notice, "Message-ID")
        .trim()
        .trim_matches(|c| c == '<' || c == '>')
        .to_string();
    let reply = command(
        PASS,
        &utf8_word("回复: 未收到周报"),
        "answer@x",
        Some(&notice_id),
        "病假：他本周病假。\r\n\r\n> 未收到您的周报",
    );
    append(&servers, &reply, "2026-11-16T09:00:00+08:00").await;
    app.sync("2026-11-16T10:00:00+08:00");
    let entries = w46_entries(&app);
    assert_eq!(entries.len(), 2, "{entries:?}\n{:?}", app.messages(false));
    assert_eq!(
        entries[1]["reason"],
        "reason filed by wangfang@example.com: 病假：他本周病假。"
    );
    assert_eq!(app.class_of("answer@x", false).as_deref(), Some("command"));
}

/// The Message-ID of the late notice for 张伟's W46, as the supervisor got it.
async fn late_notice_id(servers: &MailServers) -> String {
    let notice = find_mail(servers, "wangfang", |header| {
        header("Subject").contains("未收到：第46周") && header("To").contains(ZHANG)
    })
    .await;
    let notice = mailparse::parse_mail(&notice).expect("parse");
    header(&notice, "Message-ID")
        .trim()
        .trim_matches(|c| c == '<' || c == '>')
        .to_string()
}

#[tokio::test]
async fn a_reply_all_asking_for_the_report_files_no_reason() {
    let (servers, app) = start();
    app.sync(AFTER_W46);
    let notice_id = late_notice_id(&servers).await;
    let reply = command(
        PASS,
        &utf8_word("回复: 未收到周报"),
        "hurry@x",
        Some(&notice_id),
        "请尽快补交。\r\n\r\n> 未收到您的周报",
    );
    append(&servers, &reply, "2026-11-16T09:00:00+08:00").await;
    app.sync("2026-11-16T10:00:00+08:00");
    assert_eq!(w46_entries(&app).len(), 1, "the fine stands");
    assert_eq!(
        app.row("2026-11-16T10:00:00+08:00", ZHANG, "2026-W46")["status"],
        "missing"
    );
    let row = app
        .messages(false)
        .into_iter()
        .find(|m| m["message_id"] == "hurry@x")
        .expect("listed");
    assert_eq!(row["class"], "ignored");
    assert!(
        row["reason"].as_str().unwrap_or("").contains("waiver word"),
        "{row}"
    );
}

#[tokio::test]
async fn an_out_of_office_answer_to_the_late_notice_files_no_reason() {
    let (servers, app) = start();
    app.sync(AFTER_W46);
    let notice_id = late_notice_id(&servers).await;
    // An auto-reply whose first line even starts with a waiver word.
    let reply = String::from_utf8(command(
        PASS,
        "Automatic reply: 2026-W46",
        "ooo@x",
        Some(&notice_id),
        "出差：11月20日返回。I am out of the office until 20 Nov.",
    ))
    .expect("utf8")
    .replacen("From:", "Auto-Submitted: auto-replied\r\nFrom:", 1);
    append(&servers, reply.as_bytes(), "2026-11-16T09:00:00+08:00").await;
    app.sync("2026-11-16T10:00:00+08:00");
    assert_eq!(w46_entries(&app).len(), 1, "the fine stands");
    assert_eq!(app.class_of("ooo@x", false).as_deref(), Some("ignored"));
}

#[tokio::test]
async fn the_late_notice_tells_the_supervisor_how_to_answer_with_a_reason() {
    let (servers, app) = start();
    app.sync(AFTER_W46);
    let notice = find_mail(&servers, "wangfang", |header| {
        header("Subject").contains("未收到：第46周") && header("To").contains(ZHANG)
    })
    .await;
    let notice = mailparse::parse_mail(&notice).expect("parse");
    let text = notice
        .subparts
        .iter()
        .find(|p| p.ctype.mimetype == "text/plain")
        .map(|p| p.get_body().expect("body"))
        .unwrap_or_default();
    assert!(text.contains("第一行以"), "{text}");
    assert!(text.contains("请尽快补交"), "{text}");
    assert!(text.contains("免罚：截止当天病假"), "{text}");
}

#[tokio::test]
async fn a_rep_cannot_excuse_anyone_by_email() {
    let (servers, app) = start();
    app.sync(AFTER_W46);
    let from_rep = String::from_utf8(command(
        PASS,
        "请假 2026-W46 zhangwei@example.com",
        "rep@x",
        None,
        "我请假了",
    ))
    .expect("utf8")
    .replace("王芳 <wangfang@example.com>", "李娜 <lina@example.com>")
    .replace("wangfang@example.com", "lina@example.com");
    append(&servers, from_rep.as_bytes(), "2026-11-16T09:00:00+08:00").await;
    app.sync("2026-11-16T10:00:00+08:00");
    assert_eq!(w46_entries(&app).len(), 1, "a rep cannot excuse anyone");
    assert_eq!(
        app.row("2026-11-16T10:00:00+08:00", ZHANG, "2026-W46")["status"],
        "missing"
    );
}

#[tokio::test]
async fn a_forged_pass_below_the_servers_own_fail_is_not_believed() {
    let (servers, app) = start();
    app.sync(AFTER_W46);
    let subject = utf8_word("请假/excuse 2026-W46 zhangwei@example.com");
    // The server's verdict is on top; the sender wrote a "pass" of his own.
    let raw = String::from_utf8(command(FAIL, &subject, "forged@x", None, "病假"))
        .expect("utf8")
        .replacen(
            "From:",
            &format!("Authentication-Results: {PASS}\r\nFrom:"),
            1,
        );
    append(&servers, raw.as_bytes(), "2026-11-16T09:00:00+08:00").await;
    app.sync("2026-11-16T10:00:00+08:00");
    assert_eq!(w46_entries(&app).len(), 1, "the fine stands");
    assert_eq!(app.class_of("forged@x", true).as_deref(), Some("refused"));
}

#[tokio::test]
async fn a_colleague_writing_as_the_supervisor_is_refused() {
    let (servers, app) = start();
    app.sync(AFTER_W46);
    let subject = utf8_word("请假/excuse 2026-W46 zhangwei@example.com");
    // Sent through the company's server by 张伟 himself: the domain passes,
    // but the server saw his own address as the envelope sender.
    let own = "mx.test; dkim=pass header.d=example.com; spf=pass smtp.mailfrom=zhangwei@example.com; dmarc=pass header.from=example.com";
    append(
        &servers,
        &command(own, &subject, "as-boss@x", None, "病假"),
        "2026-11-16T09:00:00+08:00",
    )
    .await;
    // The supervisor's address hidden in an encoded word, which the server
    // does not read as an address.
    let hidden = String::from_utf8(command(PASS, &subject, "hidden@x", None, "病假"))
        .expect("utf8")
        .replace(
            "From: 王芳 <wangfang@example.com>",
            "From: =?UTF-8?B?PHdhbmdmYW5nQGV4YW1wbGUuY29tPg==?=",
        );
    append(&servers, hidden.as_bytes(), "2026-11-16T09:01:00+08:00").await;
    app.sync("2026-11-16T10:00:00+08:00");
    assert_eq!(w46_entries(&app).len(), 1, "the fine stands");
    for id in ["as-boss@x", "hidden@x"] {
        assert_eq!(app.class_of(id, true).as_deref(), Some("refused"), "{id}");
    }
}
