//! Outgoing mail end to end: the real `reportd` binary reads the assistant's
//! mailbox in a real Dovecot, judges, queues what is owed and sends it
//! through a real Postfix, which delivers into the recipients' mailboxes in
//! the same Dovecot. Every email is read back over IMAP from the mailbox it
//! was meant for (never from the outbox): its To and Cc, threading headers,
//! decoded Chinese subject, both MIME parts and its figures. Then the hard
//! cases of delivery: runs repeated, temporary and permanent refusals, a
//! server that is down for a while, and a `reportd sync --once` killed with
//! SIGKILL between "queued" and "sent".
//!
//! All arrivals are in the past (Dovecot replaces a future INTERNALDATE on
//! APPEND with the time of the APPEND) and every run names its `--now`: the
//! scenario is week 2026-W46, due Saturday 2026-11-14 22:00 (+08:00), with
//! tracking from 2026-11-09 so that W46 is the only deadline judged.

mod app;
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use app::{App, Imap, ROSTER, eml, utf8_word};
use chrono::{DateTime, FixedOffset};
use common::stall::StallingProxy;
use common::{MailServers, RecipientRule};
use mailparse::MailHeaderMap;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);
const ASSISTANT: &str = "zhaomin";
const SUP: &str = "王芳 <wangfang@example.com>";
const CC: &str = "赵敏 <zhaomin@example.com>";
const ZHANG: &str = "zhangwei@example.com";
const LINA: &str = "lina@example.com";
const WANG: &str = "wangfang@example.com";
const CHEN: &str = "chengang@example.com";
const ZHAO: &str = "zhaomin@example.com";
/// Only W46 (due 2026-11-14) is judged: W45 and October's monthly report
/// were due before this.
const TRACKING: &str = "2026-11-09";
/// W46's deadline as the emails show it (team time zone).
const DUE_SHOWN: &str = "11月14日（周六）22:00";
/// Saturday, half an hour after the 18:00 deadline reminder.
const REMINDER_NOW: &str = "2026-11-14T18:30:00+08:00";
/// Sunday morning, the deadline passed.
const LATE_NOW: &str = "2026-11-15T09:00:00+08:00";
/// Monday, just after the 08:30 digests are owed.
const DIGEST_NOW: &str = "2026-11-16T08:31:00+08:00";
/// Monday, just after the first reply reminder (due Saturday 10:00, a day
/// off) and after the digests: four emails are owed.
const MONDAY_NOW: &str = "2026-11-16T10:01:00+08:00";

// ----- set-up ------------------------------------------------------------------

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).expect("RFC 3339 test time")
}

/// `text` moved by `secs` seconds, as RFC 3339.
fn later(text: &str, secs: i64) -> String {
    (at(text) + chrono::TimeDelta::seconds(secs)).to_rfc3339()
}

fn imap(servers: &MailServers) -> Imap<'_> {
    Imap {
        port: servers.imap_port(),
        security: "plain",
        password: servers.password(),
        ca_file: None,
    }
}

/// Fresh servers and a reportd sending through their Postfix.
fn start() -> (MailServers, App) {
    start_with(ROSTER)
}

fn start_with(roster: &str) -> (MailServers, App) {
    let servers = MailServers::start(app::USERS);
    let smtp = app::smtp_section(servers.smtp_port());
    let app = App::configure(imap(&servers), TRACKING, &smtp, roster);
    app.cover_2027();
    (servers, app)
}

/// A report from `from` to `to`, CC the assistant, arriving at `arrival`.
async fn report(
    servers: &MailServers,
    from: &str,
    to: &str,
    subject: &str,
    id: &str,
    arrival: &str,
) {
    let raw = eml(
        from,
        &[to],
        &[CC],
        subject,
        id,
        "Thu, 12 Nov 2026 09:00:00 +0800",
    );
    servers
        .append(ASSISTANT, "INBOX", &raw, at(arrival))
        .await
        .expect("append report");
}

/// 张伟's W46 report, on time on Thursday; 李娜 sends none.
async fn zhang_reports_on_time(servers: &MailServers) {
    report(
        servers,
        ZHANG,
        SUP,
        &utf8_word("张伟 第46周周报"),
        "w46@zhang",
        "2026-11-12T10:00:00+08:00",
    )
    .await;
}

/// 李娜's W46 report, on time on Friday.
async fn lina_reports_on_time(servers: &MailServers) {
    report(
        servers,
        LINA,
        SUP,
        &utf8_word("李娜 第46周周报"),
        "w46@lina",
        "2026-11-13T10:00:00+08:00",
    )
    .await;
}

/// The Message-ID reportd gives the email with this outbox key (without
/// angle brackets).
fn id_for(key: &str) -> String {
    reportd::notify::outbox::message_id_for(key, "example.com")
}

// ----- reading mail back over IMAP ---------------------------------------------

/// One email as a recipient's mail client sees it.
#[derive(Debug, Clone)]
struct Mail {
    message_id: String,
    /// Decoded.
    subject: String,
    /// The Subject header as it travelled.
    raw_subject: String,
    from: String,
    from_addrs: Vec<String>,
    to: Vec<String>,
    cc: Vec<String>,
    in_reply_to: Option<String>,
    references: Option<String>,
    auto_submitted: Option<String>,
    date: String,
    mimetype: String,
    /// Each leaf part: (mimetype, charset, decoded body).
    parts: Vec<(String, String, String)>,
}

impl Mail {
    fn parse(raw: &[u8]) -> Mail {
        let m = mailparse::parse_mail(raw).expect("parse a delivered email");
        let h = &m.headers;
        let addrs = |name: &str| -> Vec<String> {
            let Some(header) = h.iter().find(|x| x.get_key().eq_ignore_ascii_case(name)) else {
                return Vec::new();
            };
            let list = mailparse::addrparse_header(header).expect("address header");
            let mut out = Vec::new();
            for a in list.iter() {
                match a {
                    mailparse::MailAddr::Single(s) => out.push(s.addr.to_lowercase()),
                    mailparse::MailAddr::Group(g) => {
                        out.extend(g.addrs.iter().map(|s| s.addr.to_lowercase()))
                    }
                }
            }
            out
        };
        let raw_subject = h
            .iter()
            .find(|x| x.get_key().eq_ignore_ascii_case("Subject"))
            .map(|x| String::from_utf8_lossy(x.get_value_raw()).into_owned())
            .unwrap_or_default();
        let mut parts = Vec::new();
        collect_parts(&m, &mut parts);
        Mail {
            message_id: h
                .get_first_value("Message-ID")
                .unwrap_or_default()
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string(),
            subject: h.get_first_value("Subject").unwrap_or_default(),
            raw_subject,
            from: h.get_first_value("From").unwrap_or_default(),
            from_addrs: addrs("From"),
            to: addrs("To"),
            cc: addrs("Cc"),
            in_reply_to: h.get_first_value("In-Reply-To"),
            references: h.get_first_value("References"),
            auto_submitted: h.get_first_value("Auto-Submitted"),
            date: h.get_first_value("Date").unwrap_or_default(),
            mimetype: m.ctype.mimetype.clone(),
            parts,
        }
    }

    fn part(&self, mimetype: &str) -> &str {
        self.parts
            .iter()
            .find(|(t, _, _)| t == mimetype)
            .map(|(_, _, body)| body.as_str())
            .unwrap_or_else(|| panic!("no {mimetype} part in {self:#?}"))
    }

    fn text(&self) -> &str {
        self.part("text/plain")
    }

    fn html(&self) -> &str {
        self.part("text/html")
    }

    /// Whether some line of the plain text holds every one of `words`.
    fn has_line_with(&self, words: &[&str]) -> bool {
        self.text()
            .lines()
            .any(|l| words.iter().all(|w| l.contains(w)))
    }
}

fn collect_parts(m: &mailparse::ParsedMail<'_>, out: &mut Vec<(String, String, String)>) {
    if m.subparts.is_empty() {
        out.push((
            m.ctype.mimetype.clone(),
            m.ctype.charset.to_lowercase(),
            m.get_body().expect("decodable body"),
        ));
    }
    for p in &m.subparts {
        collect_parts(p, out);
    }
}

/// Every message in a user's INBOX, parsed.
async fn inbox(servers: &MailServers, user: &str) -> Vec<Mail> {
    servers
        .fetch_all(user, "INBOX")
        .await
        .unwrap_or_else(|e| panic!("reading the INBOX of {user}: {e:#}"))
        .iter()
        .map(|f| Mail::parse(&f.raw))
        .collect()
}

/// Waits until each user's INBOX holds its expected number of messages,
/// lets any late duplicate arrive, then checks the counts are exact.
async fn expect_inboxes(servers: &MailServers, expected: &[(&str, usize)]) -> Inboxes {
    for (user, n) in expected {
        if *n > 0 {
            servers
                .wait_for(user, "INBOX", *n, WAIT)
                .await
                .unwrap_or_else(|e| panic!("waiting for {n} message(s) to {user}: {e:#}"));
        }
    }
    // Time for a second copy (there must be none) to be delivered.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut out = BTreeMap::new();
    for (user, n) in expected {
        let mails = inbox(servers, user).await;
        let seen: Vec<(&str, &str)> = mails
            .iter()
            .map(|m| (m.message_id.as_str(), m.subject.as_str()))
            .collect();
        assert_eq!(
            mails.len(),
            *n,
            "{user} should hold exactly {n} message(s), holds {seen:#?}"
        );
        let mut ids: Vec<&str> = mails.iter().map(|m| m.message_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(
            ids.len(),
            mails.len(),
            "a duplicate arrived to {user}: {seen:#?}"
        );
        out.insert(user.to_string(), mails);
    }
    Inboxes(out)
}

struct Inboxes(BTreeMap<String, Vec<Mail>>);

impl Inboxes {
    /// The one message with this Message-ID in `user`'s INBOX.
    fn get(&self, user: &str, message_id: &str) -> &Mail {
        let mails = &self.0[user];
        let found: Vec<&Mail> = mails
            .iter()
            .filter(|m| m.message_id == message_id)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "exactly one <{message_id}> expected in the INBOX of {user}: {:#?}",
            mails
                .iter()
                .map(|m| (&m.message_id, &m.subject))
                .collect::<Vec<_>>()
        );
        found[0]
    }
}

/// Both parts of the standard body, the sender, and the auto-submitted
/// marking: what every email reportd sends has.
fn assert_well_formed(m: &Mail) {
    assert_eq!(m.mimetype, "multipart/alternative", "{m:#?}");
    let types: Vec<&str> = m.parts.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(types, ["text/plain", "text/html"], "{m:#?}");
    for (t, charset, body) in &m.parts {
        assert_eq!(charset, "utf-8", "{t} charset");
        assert!(!body.trim().is_empty(), "empty {t} part");
    }
    assert!(m.html().contains("<html"), "{}", m.html());
    assert_eq!(m.from_addrs, [ZHAO], "From: {}", m.from);
    assert!(m.from.contains("报告助手"), "From: {}", m.from);
    assert!(m.raw_subject.is_ascii(), "{:?}", m.raw_subject);
    assert!(
        m.subject.is_ascii() || m.raw_subject.contains("=?"),
        "a Chinese subject travels RFC 2047-encoded: {:?}",
        m.raw_subject
    );
    assert_eq!(m.auto_submitted.as_deref(), Some("auto-generated"));
    assert!(m.message_id.starts_with("reportd.") && m.message_id.ends_with("@example.com"));
}

// ----- outbox and status --------------------------------------------------------

fn outbox_rows<'a>(rows: &'a [Value], kind: &str) -> Vec<&'a Value> {
    rows.iter().filter(|r| r["kind"] == kind).collect()
}

fn outbox_row<'a>(rows: &'a [Value], key: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no outbox row {key}: {rows:#?}"))
}

fn keys(rows: &[Value]) -> Vec<String> {
    let mut k: Vec<String> = rows
        .iter()
        .map(|r| r["key"].as_str().unwrap_or_default().to_string())
        .collect();
    k.sort();
    k
}

fn message_id_of(row: &Value) -> String {
    row["message_id"]
        .as_str()
        .expect("message_id")
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

// ----- the email kinds -----------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn deadline_reminders_reach_a_rep_without_a_report_on_friday_and_saturday_evening() {
    let (servers, app) = start();
    lina_reports_on_time(&servers).await;

    // Before Friday 17:00 nothing is owed yet; then the Friday reminder,
    // and the Saturday 18:00 one, each once.
    app.sync("2026-11-13T16:59:00+08:00");
    assert!(app.outbox().is_empty(), "{:#?}", app.outbox());
    app.sync("2026-11-13T17:05:00+08:00");
    app.sync("2026-11-14T17:59:00+08:00");
    assert_eq!(app.outbox().len(), 1, "{:#?}", app.outbox());
    app.sync(REMINDER_NOW);
    let got = expect_inboxes(
        &servers,
        &[(ZHANG, 2), (LINA, 0), (WANG, 0), (CHEN, 0), (ZHAO, 1)],
    )
    .await;
    got.get(
        ZHANG,
        &id_for("deadline-reminder:zhangwei@example.com:2026-W46:2026-11-13T17:00"),
    );
    let m = got.get(
        ZHANG,
        &id_for("deadline-reminder:zhangwei@example.com:2026-W46:2026-11-14T18:00"),
    );
    assert_well_formed(m);
    assert_eq!(m.to, [ZHANG]);
    assert!(m.cc.is_empty(), "{:?}", m.cc);
    assert!(m.in_reply_to.is_none() && m.references.is_none());
    assert!(
        m.subject.contains("周报") && m.subject.contains("第46周"),
        "{}",
        m.subject
    );
    assert!(m.subject.contains(DUE_SHOWN), "{}", m.subject);
    let text = m.text();
    assert!(text.contains("张伟"), "{text}");
    assert!(text.contains(DUE_SHOWN), "{text}");
    assert!(text.contains(WANG), "where to send it: {text}");
    assert!(text.contains("50.00"), "the fine: {text}");
    assert!(m.html().contains(DUE_SHOWN), "{}", m.html());
    assert!(m.html().contains(WANG), "{}", m.html());

    let rows = app.outbox();
    assert_eq!(rows.len(), 2, "{rows:#?}");
    for r in &rows {
        assert_eq!(r["kind"], "deadline_reminder");
        assert_eq!(r["state"], "sent");
        assert_eq!(r["attempts"], 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn late_notice_goes_to_the_rep_with_the_supervisor_in_cc_and_names_the_fine() {
    let (servers, app) = start();
    lina_reports_on_time(&servers).await;

    app.sync(LATE_NOW);
    let got = expect_inboxes(&servers, &[(ZHANG, 1), (WANG, 1), (LINA, 0), (CHEN, 0)]).await;
    let id = id_for("late-notice:zhangwei@example.com:2026-W46");
    let m = got.get(ZHANG, &id);
    let copy = got.get(WANG, &id);
    assert_eq!(m.subject, copy.subject);
    assert_well_formed(m);
    assert_eq!(m.to, [ZHANG]);
    assert_eq!(m.cc, [WANG]);
    assert!(
        m.subject.contains("周报") && m.subject.contains("第46周"),
        "{}",
        m.subject
    );
    assert!(m.subject.contains("50.00"), "{}", m.subject);
    for body in [m.text(), m.html()] {
        assert!(body.contains("50.00"), "the fine: {body}");
        assert!(body.contains("25.00"), "the fund's half: {body}");
        assert!(body.contains(DUE_SHOWN), "{body}");
        assert!(
            body.contains("请假/excuse 第46周 zhangwei@example.com"),
            "the subject that files a reason: {body}"
        );
    }
    assert_eq!(app.row(LATE_NOW, ZHANG, "2026-W46")["fine_fen"], 5000);
}

#[tokio::test(flavor = "multi_thread")]
async fn misaddressed_report_gets_a_notice_naming_the_supervisors_address() {
    let (servers, app) = start();
    // To the manager instead of the supervisor.
    report(
        &servers,
        LINA,
        "陈刚 <chengang@example.com>",
        &utf8_word("李娜 第46周周报"),
        "w46@lina-wrong",
        "2026-11-14T10:00:00+08:00",
    )
    .await;
    let now = "2026-11-14T12:00:00+08:00";
    app.sync(now);
    assert_eq!(app.row(now, LINA, "2026-W46")["status"], "pending");

    // 李娜 gets the misaddressed notice and no deadline reminder (张伟, who
    // sent nothing, gets Friday's, on this first run).
    let got = expect_inboxes(&servers, &[(LINA, 1), (WANG, 0), (CHEN, 0), (ZHANG, 1)]).await;
    let m = &got.0[LINA][0];
    assert_well_formed(m);
    let rows = app.outbox();
    let to_lina: Vec<&Value> = rows
        .iter()
        .filter(|r| {
            r["recipients"]
                .as_array()
                .is_some_and(|a| a.contains(&LINA.into()))
        })
        .collect();
    assert_eq!(to_lina.len(), 1, "{rows:#?}");
    assert_eq!(to_lina[0]["kind"], "misaddressed");
    assert_eq!(m.message_id, message_id_of(to_lina[0]));
    assert_eq!(m.to, [LINA]);
    assert!(m.cc.is_empty(), "{:?}", m.cc);
    assert_eq!(m.in_reply_to.as_deref(), Some("<w46@lina-wrong>"));
    assert!(
        m.subject.contains("周报") && m.subject.contains("第46周"),
        "{}",
        m.subject
    );
    for body in [m.text(), m.html()] {
        assert!(
            body.contains(WANG),
            "names the supervisor's address: {body}"
        );
        assert!(body.contains(CHEN), "names where it went: {body}");
        assert!(body.contains(DUE_SHOWN), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reply_reminder_is_threaded_under_the_report_and_an_answer_to_it_counts_as_the_reply() {
    let (servers, app) = start();
    zhang_reports_on_time(&servers).await;

    // Received Thursday 10:00: 48 hours later is Saturday 10:00, a day
    // off, so the supervisor is reminded on Monday at the reply reminder
    // time, 09:00.
    app.sync("2026-11-14T10:30:00+08:00");
    assert!(
        outbox_rows(&app.outbox(), "reply_reminder").is_empty(),
        "{:#?}",
        app.outbox()
    );
    app.sync("2026-11-16T08:59:00+08:00");
    assert!(
        outbox_rows(&app.outbox(), "reply_reminder").is_empty(),
        "{:#?}",
        app.outbox()
    );
    let now = "2026-11-16T10:30:00+08:00";
    app.sync(now);
    // 王芳 also has 李娜's late notice in Cc and the weekly digest; 李娜
    // has Friday's deadline reminder (sent on Saturday's run) and the late
    // notice.
    let got = expect_inboxes(&servers, &[(WANG, 3), (ZHANG, 0), (LINA, 2), (CHEN, 1)]).await;
    let rows = app.outbox();
    let reminders = outbox_rows(&rows, "reply_reminder");
    assert_eq!(reminders.len(), 1, "{rows:#?}");
    assert_eq!(
        reminders[0]["key"], "reply-reminder:wangfang@example.com:2026-11-16",
        "{rows:#?}"
    );
    let m = got.get(WANG, &message_id_of(reminders[0]));
    assert_well_formed(m);
    assert_eq!(m.to, [WANG]);
    assert!(m.cc.is_empty(), "{:?}", m.cc);
    assert_eq!(m.subject, "Re: 张伟 第46周周报");
    assert_eq!(m.in_reply_to.as_deref(), Some("<w46@zhang>"));
    assert_eq!(m.references.as_deref(), Some("<w46@zhang>"));
    for body in [m.text(), m.html()] {
        assert!(body.contains("张伟"), "{body}");
        assert!(body.contains("张伟 第46周周报"), "{body}");
        assert!(body.contains("48"), "the rule's hours: {body}");
    }

    // The supervisor answers the reminder itself (to the assistant, who
    // sent it), not the report.
    let reminder = m.message_id.clone();
    let answer = format!(
        "From: 王芳 <wangfang@example.com>\r\nTo: 报告助手 <zhaomin@example.com>\r\n\
         Subject: {}\r\nDate: Mon, 16 Nov 2026 10:45:00 +0800\r\n\
         Message-ID: <answer@wang>\r\nIn-Reply-To: <{reminder}>\r\nReferences: <{reminder}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n已阅，下周重点跟进两家客户。\r\n",
        utf8_word("回复: 张伟 第46周周报")
    );
    servers
        .smtp_send(WANG, &[ZHAO], answer.as_bytes())
        .await
        .expect("the supervisor's answer");
    servers
        .wait_for(ASSISTANT, "INBOX", 2, WAIT)
        .await
        .expect("the answer reaches the assistant's mailbox");

    let after = "2026-11-16T11:00:00+08:00";
    app.sync(after);
    let row = app.row(after, ZHANG, "2026-W46");
    assert_eq!(row["status"], "on_time");
    assert!(
        row["replied_at"].is_string(),
        "the answer to the reminder counts as the reply: {row:#}"
    );
    let answer_row = app
        .messages(false)
        .into_iter()
        .find(|r| r["message_id"] == "answer@wang")
        .expect("the answer was read");
    assert_eq!(answer_row["class"], "reply", "{answer_row:#}");

    // No second reminder on Tuesday 10:00 and no escalation on Wednesday.
    app.sync("2026-11-17T10:30:00+08:00");
    app.sync("2026-11-18T10:30:00+08:00");
    let rows = app.outbox();
    let reminders = outbox_rows(&rows, "reply_reminder");
    assert_eq!(reminders.len(), 1, "{rows:#?}");
    assert!(outbox_rows(&rows, "escalation").is_empty(), "{rows:#?}");
    let threaded = inbox(&servers, WANG)
        .await
        .into_iter()
        .filter(|m| m.in_reply_to.as_deref() == Some("<w46@zhang>"))
        .count();
    assert_eq!(threaded, 1);
}

/// 王芳's reply to 张伟's week-46 report, dated `date` and arriving at `arrival`.
async fn wang_answers_w46(servers: &MailServers, date: &str, arrival: &str) {
    let reply = format!(
        "From: {SUP}\r\nTo: 张伟 <{ZHANG}>\r\nCc: {CC}\r\nSubject: {}\r\n\
         Date: {date}\r\nMessage-ID: <answer@wang>\r\n\
         In-Reply-To: <w46@zhang>\r\nReferences: <w46@zhang>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         收到，明天再聊。\r\n",
        utf8_word("回复: 张伟 第46周周报")
    );
    servers
        .append(ASSISTANT, "INBOX", reply.as_bytes(), at(arrival))
        .await
        .expect("append reply");
}

/// Monday morning's reply reminder is queued and not sent (no [smtp]); 王芳
/// answers the report at `arrival` (her Date header `date`); after the
/// passes at `passes`, the reminder is withdrawn.
async fn mondays_reminder_is_withdrawn_after_an_answer(date: &str, arrival: &str, passes: &[&str]) {
    let servers = MailServers::start(app::USERS);
    let app = App::configure(imap(&servers), TRACKING, "", ROSTER);
    app.cover_2027();
    zhang_reports_on_time(&servers).await;
    app.sync("2026-11-16T10:30:00+08:00");
    let key = "reply-reminder:wangfang@example.com:2026-11-16";
    assert_eq!(outbox_row(&app.outbox(), key)["state"], "queued");

    wang_answers_w46(&servers, date, arrival).await;
    for at in passes {
        app.sync(at);
    }
    let row = outbox_row(&app.outbox(), key).clone();
    assert_eq!(row["state"], "cancelled", "{row:#}");
    assert!(
        row["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("no longer owed")),
        "{row:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_reminder_queued_yesterday_is_withdrawn_once_the_supervisor_replied_after_midnight()
{
    // Monday's reminder is no longer today's on Tuesday, and must not go
    // out then about an answered report.
    mondays_reminder_is_withdrawn_after_an_answer(
        "Tue, 17 Nov 2026 00:10:00 +0800",
        "2026-11-17T00:10:00+08:00",
        &["2026-11-17T00:30:00+08:00", "2026-11-17T10:30:00+08:00"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_reminder_not_sent_yet_is_withdrawn_at_night_once_the_supervisor_replied() {
    // The pass after the evening's answer runs in quiet hours, when no
    // reply reminder is ever queued.
    mondays_reminder_is_withdrawn_after_an_answer(
        "Mon, 16 Nov 2026 22:40:00 +0800",
        "2026-11-16T22:40:00+08:00",
        &["2026-11-16T23:30:00+08:00"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unanswered_report_is_escalated_to_the_manager_after_two_reminders() {
    let (servers, app) = start();
    zhang_reports_on_time(&servers).await;

    // Due Saturday 10:00, a day off: reminder 1 on Monday 09:00, reminder
    // 2 the next working day (Tuesday) at the same time, the escalation on
    // Wednesday.
    app.sync("2026-11-14T10:30:00+08:00");
    app.sync("2026-11-16T10:30:00+08:00");
    app.sync("2026-11-17T10:30:00+08:00");
    app.sync("2026-11-18T10:30:00+08:00");
    // Nothing more afterwards.
    app.sync("2026-11-19T10:30:00+08:00");

    let rows = app.outbox();
    let reminders = outbox_rows(&rows, "reply_reminder");
    assert_eq!(reminders.len(), 2, "{rows:#?}");
    let escalations = outbox_rows(&rows, "escalation");
    assert_eq!(escalations.len(), 1, "{rows:#?}");
    assert!(rows.iter().all(|r| r["state"] == "sent"), "{rows:#?}");

    // 王芳: two reminders, 李娜's late notice in CC, the weekly digest and
    // the escalation in CC. 陈刚: the manager digest and the escalation.
    // 李娜: Friday's deadline reminder (sent on Saturday's run), the late
    // notice.
    let got = expect_inboxes(&servers, &[(WANG, 5), (CHEN, 2), (LINA, 2), (ZHANG, 0)]).await;
    for (n, r) in reminders.iter().enumerate() {
        let m = got.get(WANG, &message_id_of(r));
        assert_well_formed(m);
        assert_eq!(m.to, [WANG]);
        assert_eq!(m.subject, "Re: 张伟 第46周周报");
        assert_eq!(m.in_reply_to.as_deref(), Some("<w46@zhang>"));
        if n == 1 {
            assert!(
                m.text().contains("将上报") && m.text().contains("陈刚"),
                "the last reminder names the escalation: {}",
                m.text()
            );
        }
    }
    let id = message_id_of(escalations[0]);
    let m = got.get(CHEN, &id);
    got.get(WANG, &id);
    assert_well_formed(m);
    assert_eq!(m.to, [CHEN]);
    assert_eq!(m.cc, [WANG]);
    assert_eq!(m.in_reply_to.as_deref(), Some("<w46@zhang>"));
    assert!(
        m.references
            .as_deref()
            .unwrap_or_default()
            .contains("<w46@zhang>")
    );
    assert!(
        m.subject.contains("王芳") && m.subject.contains("1 份报告"),
        "{}",
        m.subject
    );
    for body in [m.text(), m.html()] {
        assert!(body.contains("张伟"), "{body}");
        assert!(body.contains("张伟 第46周周报"), "{body}");
        assert!(body.contains(WANG), "{body}");
    }
    assert!(
        m.has_line_with(&["张伟", "第46周"]) && m.has_line_with(&["已提醒 2 次"]),
        "two reminders were sent: {}",
        m.text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn monday_digests_reach_the_supervisor_and_the_manager_in_their_languages() {
    let roster = ROSTER.replacen(
        "role = \"manager\"",
        "role = \"manager\"\nlanguage = \"en\"",
        1,
    );
    let (servers, app) = start_with(&roster);
    zhang_reports_on_time(&servers).await;

    // A minute before 08:30: the late notice, no digest yet (the first
    // reply reminder comes at 10:00).
    app.sync("2026-11-16T08:29:00+08:00");
    let rows = app.outbox();
    assert_eq!(
        keys(&rows).iter().filter(|k| k.contains("digest")).count(),
        0,
        "{rows:#?}"
    );
    app.sync(DIGEST_NOW);

    let got = expect_inboxes(&servers, &[(WANG, 2), (CHEN, 1), (LINA, 1), (ZHANG, 0)]).await;

    let d = got.get(WANG, &id_for("digest:weekly:wangfang@example.com:2026-W46"));
    assert_well_formed(d);
    assert_eq!(d.to, [WANG]);
    assert!(d.cc.is_empty(), "{:?}", d.cc);
    assert!(
        d.subject.contains("周报汇总 第46周") && d.subject.contains("准时 1/2"),
        "{}",
        d.subject
    );
    assert!(d.subject.contains("1 份待您回复"), "{}", d.subject);
    assert!(
        d.has_line_with(&["张伟：准时"]) && d.has_line_with(&["收到：11月12日（周四）10:00"]),
        "{}",
        d.text()
    );
    assert!(d.has_line_with(&["李娜", "未交", "50.00"]), "{}", d.text());
    assert!(d.text().contains("本期罚款 50.00 元"), "{}", d.text());
    assert!(
        d.text().contains("准时 1，迟交 0，未交 1"),
        "the counts: {}",
        d.text()
    );
    for name in ["张伟", "李娜", "50.00", "准时", "未交"] {
        assert!(d.html().contains(name), "{name} in {}", d.html());
    }

    let e = got.get(
        CHEN,
        &id_for("manager-digest:weekly:chengang@example.com:2026-W46"),
    );
    assert_well_formed(e);
    assert_eq!(e.to, [CHEN]);
    assert!(
        e.subject.starts_with(
            "Weekly report digest week 46 (9–15 Nov) (all groups): this period 1/2 on time"
        ),
        "{}",
        e.subject
    );
    let text = e.text();
    assert!(text.contains("Dear 陈刚"), "{text}");
    assert!(text.contains("商务一组"), "the group: {text}");
    assert!(e.has_line_with(&["张伟", "on time"]), "{text}");
    assert!(e.has_line_with(&["李娜", "missing", "50.00"]), "{text}");
    assert!(text.contains("fines this period: 50.00 yuan"), "{text}");
    assert!(
        !text.contains("未交") && !text.contains("准时"),
        "statuses in English: {text}"
    );
    for word in ["on time", "missing", "50.00", "张伟", "李娜"] {
        assert!(e.html().contains(word), "{word} in {}", e.html());
    }
    // The supervisor kept Chinese.
    assert!(!d.text().contains("on time"), "{}", d.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn late_notice_owed_at_night_waits_for_the_end_of_quiet_hours() {
    let (servers, app) = start();
    lina_reports_on_time(&servers).await;
    let key = "late-notice:zhangwei@example.com:2026-W46";

    // Owed from 22:00, but 23:00 is in the quiet hours (22:30–08:00).
    app.sync("2026-11-14T23:00:00+08:00");
    app.sync("2026-11-15T07:59:00+08:00");
    let rows = app.outbox();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let r = outbox_row(&rows, key);
    assert_eq!(r["state"], "queued", "{r:#}");
    assert_eq!(r["attempts"], 0, "not even tried: {r:#}");
    let not_before = DateTime::parse_from_rfc3339(r["not_before"].as_str().expect("not_before"))
        .expect("not_before is RFC 3339");
    assert_eq!(not_before, at("2026-11-15T08:00:00+08:00"));
    expect_inboxes(&servers, &[(ZHANG, 0), (WANG, 0)]).await;

    app.sync("2026-11-15T08:00:00+08:00");
    let got = expect_inboxes(&servers, &[(ZHANG, 1), (WANG, 1)]).await;
    let m = got.get(ZHANG, &id_for(key));
    assert_eq!(m.to, [ZHANG]);
    assert_eq!(m.cc, [WANG]);
    assert_eq!(
        mailparse::dateparse(&m.date).expect("Date header"),
        at("2026-11-15T08:00:00+08:00").timestamp(),
        "dated when it may go, not when it was queued: {}",
        m.date
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn after_downtime_only_the_latest_reply_reminder_is_sent_not_a_backlog() {
    let (servers, app) = start();
    zhang_reports_on_time(&servers).await;

    // reportd was down from before the report until Tuesday 10:30: reminder
    // 1 (Monday) was missed; one email, Tuesday's, is owed now.
    app.sync("2026-11-17T10:30:00+08:00");
    let rows = app.outbox();
    let reminders = outbox_rows(&rows, "reply_reminder");
    assert_eq!(reminders.len(), 1, "{rows:#?}");
    assert!(
        reminders[0]["key"]
            .as_str()
            .is_some_and(|k| k == "reply-reminder:wangfang@example.com:2026-11-17"),
        "{rows:#?}"
    );
    assert!(outbox_rows(&rows, "escalation").is_empty(), "{rows:#?}");
    // 王芳: the reminder, 李娜's late notice in CC, the weekly digest.
    let got = expect_inboxes(&servers, &[(WANG, 3), (CHEN, 1), (LINA, 1), (ZHANG, 0)]).await;
    let m = got.get(WANG, &message_id_of(reminders[0]));
    assert_eq!(m.subject, "Re: 张伟 第46周周报");
    assert_eq!(m.in_reply_to.as_deref(), Some("<w46@zhang>"));
    let threaded = got.0[WANG]
        .iter()
        .filter(|m| m.in_reply_to.as_deref() == Some("<w46@zhang>"))
        .count();
    assert_eq!(threaded, 1, "one reminder, not a backlog");
}

// ----- delivering exactly once ----------------------------------------------------

/// The Monday morning (`MONDAY_NOW`) of the scenario where 张伟 reported on
/// time and 李娜 did not: four emails are owed.
const MONDAY_KEYS: [&str; 4] = [
    "digest:weekly:wangfang@example.com:2026-W46",
    "late-notice:lina@example.com:2026-W46",
    "manager-digest:weekly:chengang@example.com:2026-W46",
    "reply-reminder:",
];

fn assert_monday_keys(rows: &[Value]) {
    let k = keys(rows);
    assert_eq!(k.len(), 4, "{rows:#?}");
    for (have, want) in k.iter().zip(MONDAY_KEYS) {
        assert!(have.starts_with(want), "{have} vs {want}: {rows:#?}");
    }
}

/// Every Monday email arrived exactly once in each mailbox it was for.
async fn assert_monday_mail_arrived_once(servers: &MailServers, rows: &[Value]) {
    let got = expect_inboxes(servers, &[(WANG, 3), (CHEN, 1), (LINA, 1), (ZHANG, 0)]).await;
    for r in rows {
        let id = message_id_of(r);
        let recipients: Vec<&str> = r["recipients"]
            .as_array()
            .expect("recipients")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(!recipients.is_empty(), "{r:#}");
        for to in recipients {
            got.get(to, &id);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn running_sync_again_sends_nothing_twice() {
    let (servers, app) = start();
    zhang_reports_on_time(&servers).await;

    app.sync(MONDAY_NOW);
    app.sync(MONDAY_NOW);
    app.sync(&later(MONDAY_NOW, 60));
    app.sync(&later(MONDAY_NOW, 3600));

    let rows = app.outbox();
    assert_monday_keys(&rows);
    for r in &rows {
        assert_eq!(r["state"], "sent", "{r:#}");
        assert_eq!(r["attempts"], 1, "{r:#}");
    }
    assert_monday_mail_arrived_once(&servers, &rows).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn temporary_refusal_is_retried_until_accepted_and_delivered_once() {
    let (servers, app) = start();
    lina_reports_on_time(&servers).await;
    let key = "late-notice:zhangwei@example.com:2026-W46";

    servers.set_recipient_rule("zhangwei", RecipientRule::TempFail);
    app.sync(LATE_NOW);
    let rows = app.outbox();
    let r = outbox_row(&rows, key);
    assert_eq!(r["state"], "queued", "{r:#}");
    assert_eq!(r["attempts"], 1, "{r:#}");
    let error = r["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("450") && error.contains("temporarily refused by the test harness"),
        "{error}"
    );

    // Not due again yet (the first retry is 30 s later): not tried.
    app.sync(&later(LATE_NOW, 10));
    assert_eq!(outbox_row(&app.outbox(), key)["attempts"], 1);

    // Due, still refused: a second attempt, the next one 60 s later.
    app.sync(&later(LATE_NOW, 40));
    let rows = app.outbox();
    let r = outbox_row(&rows, key);
    assert_eq!(
        (r["state"].as_str(), r["attempts"].as_u64()),
        (Some("queued"), Some(2))
    );

    servers.set_recipient_rule("zhangwei", RecipientRule::Accept);
    app.sync(&later(LATE_NOW, 120));
    let rows = app.outbox();
    let r = outbox_row(&rows, key);
    assert_eq!(r["state"], "sent", "{r:#}");
    assert_eq!(r["attempts"], 3, "{r:#}");
    assert_eq!(rows.len(), 1, "{rows:#?}");

    // The supervisor in CC was never refused, yet gets one copy too.
    let got = expect_inboxes(&servers, &[(ZHANG, 1), (WANG, 1), (LINA, 0)]).await;
    let m = got.get(ZHANG, &id_for(key));
    got.get(WANG, &id_for(key));
    assert_eq!(m.cc, [WANG]);
    assert!(m.text().contains("50.00") && m.text().contains("25.00"));
}

#[tokio::test(flavor = "multi_thread")]
async fn permanent_refusal_ends_failed_with_the_servers_words_and_is_not_retried() {
    let (servers, app) = start();
    servers.set_recipient_rule("zhangwei", RecipientRule::PermFail);
    app.sync(REMINDER_NOW);

    let zhang_key = "deadline-reminder:zhangwei@example.com:2026-W46:2026-11-14T18:00";
    let lina_key = "deadline-reminder:lina@example.com:2026-W46:2026-11-14T18:00";
    let rows = app.outbox();
    let r = outbox_row(&rows, zhang_key);
    assert_eq!(r["state"], "failed", "{r:#}");
    assert_eq!(r["attempts"], 1, "{r:#}");
    assert!(r["next_attempt"].is_null(), "{r:#}");
    let error = r["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("550") && error.contains("permanently refused by the test harness"),
        "{error}"
    );
    assert_eq!(outbox_row(&rows, lina_key)["state"], "sent");
    let table = app.run(&["outbox"]);
    assert!(
        table.contains("发送失败") && table.contains("permanently refused"),
        "{table}"
    );

    // The server changed its mind; reportd does not try again by itself,
    // nor queue a second reminder.
    servers.set_recipient_rule("zhangwei", RecipientRule::Accept);
    app.sync("2026-11-14T19:30:00+08:00");
    let rows = app.outbox();
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let r = outbox_row(&rows, zhang_key);
    assert_eq!(
        (r["state"].as_str(), r["attempts"].as_u64()),
        (Some("failed"), Some(1))
    );

    let got = expect_inboxes(&servers, &[(LINA, 1), (ZHANG, 0)]).await;
    got.get(LINA, &id_for(lina_key));

    // The assistant puts it back in the queue by hand; it goes, once.
    app.run(&[
        "outbox",
        "--retry",
        zhang_key,
        "--now",
        "2026-11-14T19:31:00+08:00",
    ]);
    app.sync("2026-11-14T19:31:00+08:00");
    assert_eq!(outbox_row(&app.outbox(), zhang_key)["state"], "sent");
    let got = expect_inboxes(&servers, &[(LINA, 1), (ZHANG, 1)]).await;
    got.get(ZHANG, &id_for(zhang_key));
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_server_down_for_a_while_gets_every_email_once_it_is_back() {
    let (servers, app) = start();
    zhang_reports_on_time(&servers).await;

    servers.stop_smtp();
    app.sync(MONDAY_NOW);
    let rows = app.outbox();
    assert_monday_keys(&rows);
    for r in &rows {
        assert_eq!(r["state"], "queued", "{r:#}");
        assert_eq!(r["attempts"], 1, "{r:#}");
        let error = r["last_error"].as_str().unwrap_or_default();
        assert!(error.to_lowercase().contains("refused"), "{error}");
    }
    // Still down at the first retry.
    app.sync(&later(MONDAY_NOW, 40));
    for r in &app.outbox() {
        assert_eq!(
            (r["state"].as_str(), r["attempts"].as_u64()),
            (Some("queued"), Some(2))
        );
    }

    servers.start_smtp();
    app.sync(&later(MONDAY_NOW, 240));
    let rows = app.outbox();
    assert_monday_keys(&rows);
    for r in &rows {
        assert_eq!(r["state"], "sent", "{r:#}");
        assert_eq!(r["attempts"], 3, "{r:#}");
    }
    assert_monday_mail_arrived_once(&servers, &rows).await;
}

// ----- SIGKILL between queued and sent ----------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_between_queued_and_sent_then_restart_sends_each_email_once() {
    let servers = MailServers::start(app::USERS);
    // reportd's SMTP goes through the proxy: the first email (a late
    // notice to 李娜 with 王芳 in Cc: one SMTP transaction per recipient,
    // so two messages) passes, the second email hangs at the end of its
    // first DATA, the rest wait their turn.
    let proxy = StallingProxy::start(servers.smtp_port(), 3).await;
    let app = App::configure(
        imap(&servers),
        TRACKING,
        &app::smtp_section(proxy.port),
        ROSTER,
    );
    app.cover_2027();
    zhang_reports_on_time(&servers).await;

    let mut child = app
        .command()
        .args(["sync", "--once", "--now", MONDAY_NOW])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start reportd sync --once");
    proxy
        .wait_stalled(WAIT, || {
            child.try_wait().ok().flatten().map(|s| s.to_string())
        })
        .await;
    child.kill().expect("SIGKILL reportd");
    let status = child.wait().expect("reap reportd");
    assert!(!status.success(), "killed: {status:?}");

    // Everything owed was queued before the first send; one email went,
    // one was in the middle of its send, two were not tried yet.
    let rows = app.outbox();
    assert_monday_keys(&rows);
    let mut states: Vec<(String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["state"].as_str().unwrap_or_default().to_string(),
                r["attempts"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    states.sort();
    assert_eq!(
        states,
        [
            ("queued".to_string(), 0),
            ("queued".to_string(), 0),
            ("queued".to_string(), 1),
            ("sent".to_string(), 1),
        ],
        "{rows:#?}"
    );
    let interrupted = rows
        .iter()
        .find(|r| r["state"] == "queued" && r["attempts"] == 1)
        .map(|r| r["key"].clone())
        .expect("the interrupted email");

    // Started again once the dead process's claim (send timeout + 30 s)
    // has run out.
    app.sync(&later(MONDAY_NOW, 300));
    let rows = app.outbox();
    assert_monday_keys(&rows);
    for r in &rows {
        assert_eq!(r["state"], "sent", "{r:#}");
        let attempts = if r["key"] == interrupted { 2 } else { 1 };
        assert_eq!(r["attempts"], attempts, "{r:#}");
    }
    assert_monday_mail_arrived_once(&servers, &rows).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn late_notice_held_in_quiet_hours_is_withdrawn_when_the_report_arrives() {
    let (servers, app) = start();
    lina_reports_on_time(&servers).await;
    let key = "late-notice:zhangwei@example.com:2026-W46";
    // 23:00: 张伟's report is missing; the notice waits for 08:00.
    app.sync("2026-11-14T23:00:00+08:00");
    assert_eq!(outbox_row(&app.outbox(), key)["state"], "queued");
    // 23:30: it arrives, late.
    report(
        &servers,
        ZHANG,
        SUP,
        &utf8_word("张伟 第46周周报"),
        "w46@zhang",
        "2026-11-14T23:30:00+08:00",
    )
    .await;
    app.sync("2026-11-15T08:30:00+08:00");
    let rows = app.outbox();
    let r = outbox_row(&rows, key);
    assert_eq!(r["state"], "cancelled", "{r:#}");
    assert_eq!(r["attempts"], 0);
    assert!(
        r["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("report arrived"),
        "{r:#}"
    );
    assert_eq!(
        app.row("2026-11-15T08:30:00+08:00", ZHANG, "2026-W46")["status"],
        "late"
    );
    // No late notice reached the rep or the supervisor: the fine notice
    // for the late arrival did, once, naming how late it came.
    let got = expect_inboxes(&servers, &[(ZHANG, 1), (WANG, 1)]).await;
    let fine = id_for("fine-notice:zhangwei@example.com:2026-W46");
    let m = got.get(ZHANG, &fine);
    got.get(WANG, &fine);
    assert_eq!(m.to, [ZHANG]);
    assert_eq!(m.cc, [WANG]);
    assert!(
        m.subject.contains("迟交罚款") && m.subject.contains("1小时"),
        "{}",
        m.subject
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_missed_while_down_is_sent_once_on_start_and_says_it_is_late() {
    let (servers, app) = start();
    zhang_reports_on_time(&servers).await;
    // reportd was down over Monday's 08:30 digest and starts on Tuesday.
    let tuesday = "2026-11-17T09:00:00+08:00";
    app.sync(tuesday);
    app.sync(&later(tuesday, 600));
    let rows = app.outbox();
    let digests: Vec<_> = outbox_rows(&rows, "digest");
    assert_eq!(
        digests.len(),
        2,
        "one to the supervisor, one to the manager: {rows:#?}"
    );
    // 王芳 also gets Monday's reply reminder and 李娜's late notice in Cc.
    let got = expect_inboxes(&servers, &[(CHEN, 1), (WANG, 3)]).await;
    let key = "digest:weekly:wangfang@example.com:2026-W46";
    let sup = got.get(WANG, &id_for(key));
    let text = &sup
        .parts
        .iter()
        .find(|p| p.0 == "text/plain")
        .expect("text part")
        .2;
    assert!(
        text.contains("原定 11月16日（周一）08:30"),
        "marked late: {text}"
    );
    let html = &sup
        .parts
        .iter()
        .find(|p| p.0 == "text/html")
        .expect("html part")
        .2;
    assert!(
        html.contains("11月16日（周一）08:30"),
        "marked late in HTML too"
    );
    let copies = got.0[WANG]
        .iter()
        .filter(|m| m.message_id.contains(&id_for(key)))
        .count();
    assert_eq!(copies, 1, "sent once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_that_falls_in_the_quiet_hours_waits_for_the_morning() {
    let (servers, app) = start();
    lina_reports_on_time(&servers).await;
    let key = "late-notice:zhangwei@example.com:2026-W46";
    servers.set_recipient_rule("zhangwei", RecipientRule::TempFail);
    // The late notice goes 15 minutes after the deadline (and is refused).
    app.sync("2026-11-14T22:20:00+08:00");
    assert_eq!(outbox_row(&app.outbox(), key)["attempts"], 1);
    servers.set_recipient_rule("zhangwei", RecipientRule::Accept);
    // The retry is long due, but 23:00 is quiet: nothing goes.
    app.sync("2026-11-14T23:00:00+08:00");
    let r = outbox_row(&app.outbox(), key).clone();
    assert_eq!(
        (r["state"].as_str(), r["attempts"].as_u64()),
        (Some("queued"), Some(1)),
        "{r:#}"
    );
    expect_inboxes(&servers, &[(ZHANG, 0)]).await;
    app.sync("2026-11-15T08:00:00+08:00");
    assert_eq!(outbox_row(&app.outbox(), key)["state"], "sent");
    expect_inboxes(&servers, &[(ZHANG, 1)]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_reminder_still_queued_at_the_deadline_is_withdrawn() {
    let (servers, app) = start();
    lina_reports_on_time(&servers).await;
    let key = "deadline-reminder:zhangwei@example.com:2026-W46:2026-11-14T18:00";
    servers.set_recipient_rule("zhangwei", RecipientRule::TempFail);
    app.sync(REMINDER_NOW);
    assert_eq!(outbox_row(&app.outbox(), key)["attempts"], 1);
    servers.set_recipient_rule("zhangwei", RecipientRule::Accept);
    // 22:20: the deadline has passed; "please send by 22:00" would be
    // wrong. (The late notice waits 15 minutes past the deadline.)
    app.sync("2026-11-14T22:20:00+08:00");
    let rows = app.outbox();
    let r = outbox_row(&rows, key);
    assert_eq!(r["state"], "cancelled", "{rows:#?}");
    assert!(
        r["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("deadline passed"),
        "{r:#}"
    );
    assert_eq!(
        outbox_row(&rows, "late-notice:zhangwei@example.com:2026-W46")["state"],
        "sent"
    );
    expect_inboxes(&servers, &[(ZHANG, 1)]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn monthly_reminder_late_notice_and_digests_follow_the_first_working_day() {
    let servers = MailServers::start(app::USERS);
    // Tracking from Monday 2026-11-02, the first working day of November:
    // October's monthly report is due by the end of that day.
    let app = App::with_smtp(imap(&servers), "2026-11-02", servers.smtp_port());
    report(
        &servers,
        ZHANG,
        SUP,
        &utf8_word("张伟 10月月报"),
        "m10@zhang",
        "2026-11-02T08:40:00+08:00",
    )
    .await;
    app.sync("2026-11-02T09:05:00+08:00");
    let got = expect_inboxes(&servers, &[(LINA, 1), (ZHANG, 0)]).await;
    let reminder = got.get(
        LINA,
        &id_for("deadline-reminder:lina@example.com:2026-10:2026-11-02T09:00"),
    );
    assert_well_formed(reminder);
    assert!(
        reminder.subject.contains("10月月报") && reminder.subject.contains("11月2日（周一）当天"),
        "{}",
        reminder.subject
    );

    // Tuesday 08:31: 李娜 never sent hers; the digests of 2026-10 go out.
    app.sync("2026-11-03T08:31:00+08:00");
    let got = expect_inboxes(&servers, &[(LINA, 2), (WANG, 2), (CHEN, 1)]).await;
    let late = got.get(LINA, &id_for("late-notice:lina@example.com:2026-10"));
    assert_eq!(late.cc, [WANG]);
    let digest = got.get(WANG, &id_for("digest:monthly:wangfang@example.com:2026-10"));
    assert_well_formed(digest);
    assert!(
        digest.subject.contains("月报汇总 10月"),
        "{}",
        digest.subject
    );
    let text = &digest
        .parts
        .iter()
        .find(|p| p.0 == "text/plain")
        .expect("text part")
        .2;
    assert!(
        text.contains("张伟")
            && text.contains("准时")
            && text.contains("未交")
            && text.contains("50.00"),
        "{text}"
    );
    let manager = got.get(
        CHEN,
        &id_for("manager-digest:monthly:chengang@example.com:2026-10"),
    );
    let text = &manager
        .parts
        .iter()
        .find(|p| p.0 == "text/plain")
        .expect("text part")
        .2;
    assert!(
        text.contains("商务一组") && text.contains("50%（1/2）"),
        "on-time rate per group: {text}"
    );
}
