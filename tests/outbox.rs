//! The outbox against a real Postfix delivering into a real Dovecot: emails
//! queued in SQLite arrive once, with their Message-ID, over plain SMTP,
//! STARTTLS and TLS; temporary refusals are retried until accepted; a
//! permanent refusal ends in `failed` with the server's words; and a
//! delivering process killed with SIGKILL in the middle of a send, then
//! started again, leaves exactly one copy of each email in the mailbox.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::stall::StallingProxy;
use common::{MailServers, RecipientRule, header};
use lettre::Message;
use reportd::config::{PasswordSource, Security, SmtpConfig};
use reportd::notify::outbox::{self, Outgoing, Sender, State};
use rusqlite::Connection;

const FROM: &str = "报告助手 <assistant@example.com>";
const WAIT: Duration = Duration::from_secs(20);

fn plain(servers: &MailServers) -> SmtpConfig {
    SmtpConfig {
        host: servers.host().to_string(),
        port: servers.smtp_port(),
        security: Security::Plain,
        username: None,
        password: PasswordSource::None,
        ca_file: None,
        from: FROM.to_string(),
    }
}

/// An email from the assistant under `key` to `to` (local parts or
/// addresses), due from `not_before`.
fn email(key: &str, to: &[&str], subject: &str, not_before: DateTime<Utc>) -> Outgoing {
    let id = outbox::message_id_for(key, "example.com");
    let mut builder = Message::builder()
        .from(FROM.parse().expect("from"))
        .subject(subject)
        .message_id(Some(format!("<{id}>")));
    for t in to {
        builder = builder.to(common::address(t).parse().expect("to"));
    }
    let message = builder
        .body(format!("{subject}\n请查收。\n"))
        .expect("message");
    Outgoing::from_message(key, "test", &message, not_before).expect("outgoing")
}

fn open_db(dir: &Path) -> Connection {
    reportd::store::open(&dir.join("reportd.sqlite3")).expect("open database")
}

fn row(conn: &Connection, key: &str) -> outbox::OutboxRow {
    outbox::list(conn)
        .expect("list")
        .into_iter()
        .find(|r| r.key == key)
        .unwrap_or_else(|| panic!("no outbox row {key}"))
}

fn all_headers(raw: &[u8], name: &str) -> Vec<String> {
    let (headers, _) = mailparse::parse_headers(raw).expect("headers");
    headers
        .iter()
        .filter(|h| h.get_key().eq_ignore_ascii_case(name))
        .map(|h| h.get_value())
        .collect()
}

fn message_ids(fetched: &[common::Fetched]) -> Vec<String> {
    let mut ids: Vec<String> = fetched
        .iter()
        .map(|f| header(&f.raw, "Message-ID"))
        .collect();
    ids.sort();
    ids
}

fn bracketed(key: &str) -> String {
    format!("<{}>", outbox::message_id_for(key, "example.com"))
}

/// When the last queued row is due again.
fn latest_next_attempt(conn: &Connection) -> DateTime<Utc> {
    outbox::list(conn)
        .expect("list")
        .iter()
        .filter_map(|r| r.next_attempt)
        .max()
        .expect("something queued")
}

fn secs(s: i64) -> TimeDelta {
    TimeDelta::seconds(s)
}

/// Lets a late duplicate (if there were one) arrive before counting.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queued_email_arrives_once_with_its_message_id() {
    let servers = MailServers::start(&["assistant", "alice", "bob"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut conn = open_db(dir.path());
    let sender = Sender::new(&plain(&servers)).expect("sender");
    let t0 = Utc::now();

    let out = email("reply-reminder:7:1", &["alice", "bob"], "周报回复提醒", t0);
    assert!(outbox::enqueue(&conn, &out, t0).expect("enqueue"));
    // The same key again, even with other content: nothing new.
    let again = email("reply-reminder:7:1", &["alice"], "another text", t0);
    assert!(!outbox::enqueue(&conn, &again, t0 + secs(5)).expect("enqueue again"));
    assert_eq!(outbox::list(&conn).expect("list").len(), 1);
    assert!(outbox::is_queued_or_sent(&conn, "reply-reminder:7:1").expect("state"));

    let stats = outbox::deliver_due(&mut conn, &sender, t0)
        .await
        .expect("deliver");
    assert_eq!((stats.sent, stats.deferred, stats.failed), (1, 0, 0));
    assert_eq!(stats.next_attempt, None);

    let r = row(&conn, "reply-reminder:7:1");
    assert_eq!(r.state, State::Sent);
    assert_eq!(r.attempts, 1);
    assert!(r.sent_at.is_some() && r.next_attempt.is_none());
    assert_eq!(r.last_error, None);
    assert_eq!(r.recipients, ["alice@example.com", "bob@example.com"]);

    for user in ["alice", "bob"] {
        let got = servers
            .wait_for(user, "INBOX", 1, WAIT)
            .await
            .expect("delivered");
        assert_eq!(
            header(&got[0].raw, "Message-ID"),
            bracketed("reply-reminder:7:1")
        );
        assert_eq!(header(&got[0].raw, "Subject"), "周报回复提醒");
    }

    // Delivering again (a second `sync --once`, a restart) sends nothing.
    let stats = outbox::deliver_due(&mut conn, &sender, t0 + secs(3600))
        .await
        .expect("deliver again");
    assert_eq!((stats.sent, stats.deferred, stats.failed), (0, 0, 0));
    settle().await;
    for user in ["alice", "bob"] {
        let all = servers.fetch_all(user, "INBOX").await.expect("fetch");
        assert_eq!(all.len(), 1, "exactly one copy for {user}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn quiet_hours_hold_an_email_until_not_before() {
    let servers = MailServers::start(&["assistant", "alice"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut conn = open_db(dir.path());
    let sender = Sender::new(&plain(&servers)).expect("sender");
    let t0 = Utc::now();
    let morning = t0 + secs(8 * 3600);
    outbox::enqueue(&conn, &email("digest:1", &["alice"], "digest", morning), t0).expect("enqueue");

    let stats = outbox::deliver_due(&mut conn, &sender, t0)
        .await
        .expect("deliver");
    assert_eq!(stats.sent, 0);
    assert_eq!(
        stats.next_attempt.map(|t| t.timestamp()),
        Some(morning.timestamp())
    );
    let stats = outbox::deliver_due(&mut conn, &sender, morning)
        .await
        .expect("deliver");
    assert_eq!(stats.sent, 1);
    servers
        .wait_for("alice", "INBOX", 1, WAIT)
        .await
        .expect("delivered");
}

/// `[smtp]` with a login, over STARTTLS (port `smtp_port`) or implicit TLS
/// (`smtps_port`), trusting the harness's certificate.
fn with_login(servers: &MailServers, dir: &Path, security: Security, password: &str) -> SmtpConfig {
    let file: PathBuf = dir.join(format!("smtp-password-{security}"));
    std::fs::write(&file, format!("{password}\n")).expect("password file");
    SmtpConfig {
        port: match security {
            Security::Tls => servers.smtps_port(),
            _ => servers.smtp_port(),
        },
        security,
        username: Some(servers.address("assistant")),
        password: PasswordSource::File(file),
        ca_file: Some(servers.ca_pem().to_path_buf()),
        ..plain(servers)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn starttls_and_tls_with_login_deliver() {
    let servers = MailServers::start(&["assistant", "alice"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut conn = open_db(dir.path());
    let t0 = Utc::now();

    for (n, security) in [Security::Starttls, Security::Tls].into_iter().enumerate() {
        let cfg = with_login(&servers, dir.path(), security, servers.password());
        let sender = Sender::new(&cfg).expect("sender");
        let key = format!("tls-test:{security}");
        outbox::enqueue(&conn, &email(&key, &["alice"], &key, t0), t0).expect("enqueue");
        let stats = outbox::deliver_due(&mut conn, &sender, t0)
            .await
            .expect("deliver");
        assert_eq!(stats.sent, 1, "{security}: {:?}", row(&conn, &key));
        let got = servers
            .wait_for("alice", "INBOX", n + 1, WAIT)
            .await
            .expect("delivered");
        let mine = got
            .iter()
            .find(|f| header(&f.raw, "Subject") == key)
            .expect("the email");
        // RFC 3848: ESMTPSA = ESMTP over TLS with AUTH.
        let received = all_headers(&mine.raw, "Received");
        assert!(
            received.iter().any(|r| r.contains("with ESMTPSA")),
            "{security}: {received:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_or_an_untrusted_certificate_is_retried_not_failed() {
    let servers = MailServers::start(&["assistant", "alice"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut conn = open_db(dir.path());
    let t0 = Utc::now();
    outbox::enqueue(&conn, &email("k:1", &["alice"], "x", t0), t0).expect("enqueue");

    // A wrong password is the config's fault, not the email's.
    let cfg = with_login(&servers, dir.path(), Security::Starttls, "wrong-password");
    let stats = outbox::deliver_due(&mut conn, &Sender::new(&cfg).expect("sender"), t0)
        .await
        .expect("deliver");
    assert_eq!((stats.sent, stats.deferred, stats.failed), (0, 1, 0));
    let r = row(&conn, "k:1");
    assert_eq!(r.state, State::Queued);
    let error = r.last_error.unwrap_or_default();
    assert!(
        error.contains("535") && error.contains("username and the password"),
        "{error}"
    );
    assert!(
        !error.contains("wrong-password"),
        "the password never shows: {error}"
    );

    // A certificate nobody vouches for (no ca_file) is not trusted.
    let cfg = SmtpConfig {
        ca_file: None,
        ..with_login(&servers, dir.path(), Security::Tls, servers.password())
    };
    let t1 = t0 + secs(3600);
    let stats = outbox::deliver_due(&mut conn, &Sender::new(&cfg).expect("sender"), t1)
        .await
        .expect("deliver");
    assert_eq!((stats.sent, stats.deferred, stats.failed), (0, 1, 0));
    let error = row(&conn, "k:1").last_error.unwrap_or_default();
    assert!(error.contains("ca_file"), "{error}");

    // Fixed config: it goes out.
    let cfg = with_login(&servers, dir.path(), Security::Tls, servers.password());
    let stats = outbox::deliver_due(
        &mut conn,
        &Sender::new(&cfg).expect("sender"),
        t1 + secs(3600),
    )
    .await
    .expect("deliver");
    assert_eq!(stats.sent, 1);
    assert_eq!(row(&conn, "k:1").attempts, 3);
    servers
        .wait_for("alice", "INBOX", 1, WAIT)
        .await
        .expect("delivered");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_temporary_refusal_is_retried_with_backoff_until_accepted() {
    let servers = MailServers::start(&["assistant", "bob"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut conn = open_db(dir.path());
    let sender = Sender::new(&plain(&servers)).expect("sender");
    let t0 = Utc::now();
    outbox::enqueue(&conn, &email("retry:1", &["bob"], "retry", t0), t0).expect("enqueue");

    servers.set_recipient_rule("bob", RecipientRule::TempFail);
    let stats = outbox::deliver_due(&mut conn, &sender, t0)
        .await
        .expect("deliver");
    assert_eq!((stats.sent, stats.deferred, stats.failed), (0, 1, 0));
    let r = row(&conn, "retry:1");
    assert_eq!((r.state, r.attempts), (State::Queued, 1));
    let error = r.last_error.clone().unwrap_or_default();
    assert!(
        error.contains("450") && error.contains("temporarily refused by the test harness"),
        "{error}"
    );
    // First retry 30 s later; the daemon sleeps until then.
    let first_retry = r.next_attempt.expect("next attempt");
    // (Stored to the second, so up to a second earlier than t0 + 30 s.)
    assert!(
        first_retry >= t0 + secs(29) && first_retry <= t0 + secs(40),
        "{first_retry}"
    );
    assert_eq!(
        outbox::next_attempt_at(&conn).expect("next"),
        Some(first_retry)
    );

    // Not due yet: not tried.
    let stats = outbox::deliver_due(&mut conn, &sender, t0 + secs(10))
        .await
        .expect("deliver");
    assert_eq!((stats.sent, stats.deferred), (0, 0));
    assert_eq!(row(&conn, "retry:1").attempts, 1);

    // Still refused: the next delay doubles.
    let stats = outbox::deliver_due(&mut conn, &sender, first_retry)
        .await
        .expect("deliver");
    assert_eq!(stats.deferred, 1);
    let r = row(&conn, "retry:1");
    assert_eq!(r.attempts, 2);
    let second_retry = r.next_attempt.expect("next attempt");
    assert!(
        second_retry >= first_retry + secs(60) && second_retry <= first_retry + secs(70),
        "{second_retry}"
    );

    servers.set_recipient_rule("bob", RecipientRule::Accept);
    let stats = outbox::deliver_due(&mut conn, &sender, second_retry)
        .await
        .expect("deliver");
    assert_eq!(stats.sent, 1);
    let r = row(&conn, "retry:1");
    assert_eq!((r.state, r.attempts), (State::Sent, 3));
    assert_eq!(outbox::next_attempt_at(&conn).expect("next"), None);
    let got = servers
        .wait_for("bob", "INBOX", 1, WAIT)
        .await
        .expect("delivered");
    assert_eq!(header(&got[0].raw, "Message-ID"), bracketed("retry:1"));
    settle().await;
    assert_eq!(
        servers
            .fetch_all("bob", "INBOX")
            .await
            .expect("fetch")
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_refuses_connections_for_a_while_gets_every_email() {
    let servers = MailServers::start(&["assistant", "alice", "bob"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut conn = open_db(dir.path());
    let sender = Sender::new(&plain(&servers)).expect("sender");
    let t0 = Utc::now();
    let keys = ["down:1", "down:2", "down:3"];
    for (key, to) in keys.iter().zip(["alice", "bob", "alice"]) {
        outbox::enqueue(&conn, &email(key, &[to], key, t0), t0).expect("enqueue");
    }

    servers.stop_smtp();
    let mut now = t0;
    for round in 1..=2u32 {
        let stats = outbox::deliver_due(&mut conn, &sender, now)
            .await
            .expect("deliver");
        assert_eq!((stats.sent, stats.deferred, stats.failed), (0, 3, 0));
        for key in keys {
            let r = row(&conn, key);
            assert_eq!((r.state, r.attempts), (State::Queued, round));
            let error = r.last_error.unwrap_or_default();
            assert!(error.to_lowercase().contains("refused"), "{error}");
        }
        now = latest_next_attempt(&conn);
    }

    servers.start_smtp();
    let stats = outbox::deliver_due(&mut conn, &sender, now)
        .await
        .expect("deliver");
    assert_eq!((stats.sent, stats.deferred, stats.failed), (3, 0, 0));
    let alice = servers
        .wait_for("alice", "INBOX", 2, WAIT)
        .await
        .expect("alice");
    let bob = servers
        .wait_for("bob", "INBOX", 1, WAIT)
        .await
        .expect("bob");
    assert_eq!(message_ids(&alice), {
        let mut v = vec![bracketed("down:1"), bracketed("down:3")];
        v.sort();
        v
    });
    assert_eq!(message_ids(&bob), [bracketed("down:2")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_permanent_refusal_fails_with_the_servers_answer() {
    let servers = MailServers::start(&["assistant", "alice", "bob"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut conn = open_db(dir.path());
    let sender = Sender::new(&plain(&servers)).expect("sender");
    let t0 = Utc::now();
    outbox::enqueue(&conn, &email("perm:bob", &["bob"], "to bob", t0), t0).expect("enqueue");
    outbox::enqueue(
        &conn,
        &email("perm:nobody", &["nobody"], "to nobody", t0),
        t0,
    )
    .expect("enqueue");
    outbox::enqueue(&conn, &email("perm:alice", &["alice"], "to alice", t0), t0).expect("enqueue");

    servers.set_recipient_rule("bob", RecipientRule::PermFail);
    let stats = outbox::deliver_due(&mut conn, &sender, t0)
        .await
        .expect("deliver");
    assert_eq!((stats.sent, stats.deferred, stats.failed), (1, 0, 2));
    assert_eq!(stats.next_attempt, None, "a failed email is not retried");

    let bob = row(&conn, "perm:bob");
    assert_eq!((bob.state, bob.attempts), (State::Failed, 1));
    let error = bob.last_error.unwrap_or_default();
    assert!(
        error.contains("550") && error.contains("permanently refused by the test harness"),
        "{error}"
    );
    let nobody = row(&conn, "perm:nobody");
    assert_eq!(nobody.state, State::Failed);
    let error = nobody.last_error.unwrap_or_default();
    assert!(
        error.contains("550") && error.contains("nobody@example.com"),
        "{error}"
    );
    assert_eq!(row(&conn, "perm:alice").state, State::Sent);
    assert!(!outbox::is_queued_or_sent(&conn, "perm:bob").expect("state"));

    // `reportd outbox` shows the reason.
    let table = reportd::cli::outbox_text(
        &outbox::list(&conn).expect("list"),
        reportd::config::Language::Zh,
        chrono_tz::Asia::Shanghai,
    );
    assert!(
        table.contains("发送失败") && table.contains("permanently refused"),
        "{table}"
    );
    assert!(
        table.contains("reportd outbox --retry perm:bob"),
        "how to send it again: {table}"
    );
    let json = serde_json::to_value(outbox::list(&conn).expect("list")).expect("json");
    assert_eq!(json[0]["state"], "failed");
    assert_eq!(json[2]["state"], "sent");

    // Later runs leave it alone, even after the server changed its mind,
    // until someone requeues it.
    servers.set_recipient_rule("bob", RecipientRule::Accept);
    let stats = outbox::deliver_due(&mut conn, &sender, t0 + secs(7200))
        .await
        .expect("deliver");
    assert_eq!((stats.sent, stats.failed), (0, 0));
    assert!(outbox::requeue(&conn, "perm:bob", t0 + secs(7200)).expect("requeue"));
    let stats = outbox::deliver_due(&mut conn, &sender, t0 + secs(7200))
        .await
        .expect("deliver");
    assert_eq!(stats.sent, 1);
    let got = servers
        .wait_for("bob", "INBOX", 1, WAIT)
        .await
        .expect("delivered");
    assert_eq!(header(&got[0].raw, "Message-ID"), bracketed("perm:bob"));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_deliveries_at_once_send_each_email_once() {
    let servers = MailServers::start(&["assistant", "alice"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut first = open_db(dir.path());
    let mut second = open_db(dir.path());
    let sender = Sender::new(&plain(&servers)).expect("sender");
    let t0 = Utc::now();
    let keys: Vec<String> = (1..=6).map(|n| format!("both:{n}")).collect();
    for key in &keys {
        outbox::enqueue(&first, &email(key, &["alice"], key, t0), t0).expect("enqueue");
    }

    // Like `reportd run` and `reportd sync --once` at the same moment.
    let (a, b) = tokio::join!(
        outbox::deliver_due(&mut first, &sender, t0),
        outbox::deliver_due(&mut second, &sender, t0)
    );
    let (a, b) = (a.expect("first"), b.expect("second"));
    assert_eq!(a.sent + b.sent, keys.len(), "{a:?} {b:?}");
    assert_eq!(a.failed + b.failed + a.deferred + b.deferred, 0);

    let got = servers
        .wait_for("alice", "INBOX", keys.len(), WAIT)
        .await
        .expect("delivered");
    settle().await;
    let all = servers.fetch_all("alice", "INBOX").await.expect("fetch");
    assert_eq!(
        all.len(),
        keys.len(),
        "no duplicates: {:?}",
        message_ids(&got)
    );
    let mut expected: Vec<String> = keys.iter().map(|k| bracketed(k)).collect();
    expected.sort();
    assert_eq!(message_ids(&all), expected);
    for key in &keys {
        assert_eq!(
            row(&first, key).attempts,
            1,
            "{key} was sent on the first try"
        );
    }
}

// ----- SIGKILL in the middle of a send ---------------------------------------

const CHILD_DB: &str = "REPORTD_OUTBOX_TEST_CHILD_DB";
const CHILD_PORT: &str = "REPORTD_OUTBOX_TEST_CHILD_PORT";
const CHILD_NOW: &str = "REPORTD_OUTBOX_TEST_CHILD_NOW";
/// The child's send timeout; its claims last this + 30 s.
const CHILD_SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// Not a test of its own: the child process of
/// `sigkill_in_the_middle_of_a_send_then_restart_sends_each_email_once`,
/// which runs this test binary again with the environment set. Without it,
/// it does nothing.
#[tokio::test(flavor = "multi_thread")]
async fn crash_child() {
    let (Ok(db), Ok(port), Ok(now)) = (
        std::env::var(CHILD_DB),
        std::env::var(CHILD_PORT),
        std::env::var(CHILD_NOW),
    ) else {
        return;
    };
    let mut conn = reportd::store::open(Path::new(&db)).expect("child: open");
    let cfg = SmtpConfig {
        host: "127.0.0.1".into(),
        port: port.parse().expect("child: port"),
        security: Security::Plain,
        username: None,
        password: PasswordSource::None,
        ca_file: None,
        from: FROM.into(),
    };
    let sender = Sender::new(&cfg)
        .expect("child: sender")
        .with_send_timeout(CHILD_SEND_TIMEOUT);
    let now = DateTime::parse_from_rfc3339(&now)
        .expect("child: now")
        .with_timezone(&Utc);
    // Gets stuck in the second email's DATA until the parent kills us.
    let stats = outbox::deliver_due(&mut conn, &sender, now).await;
    panic!("child: the delivery was meant to be killed, but ended: {stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_in_the_middle_of_a_send_then_restart_sends_each_email_once() {
    let servers = MailServers::start(&["assistant", "bob"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("reportd.sqlite3");
    let t0 = Utc::now();
    let keys = ["crash:1", "crash:2", "crash:3"];
    {
        let conn = open_db(dir.path());
        for key in keys {
            outbox::enqueue(&conn, &email(key, &["bob"], key, t0), t0).expect("enqueue");
        }
    }

    // The child delivers through the proxy: email 1 goes through, email 2
    // hangs at the end of its DATA, email 3 is never reached.
    let proxy = StallingProxy::start(servers.smtp_port(), 2).await;
    let exe = std::env::current_exe().expect("test binary");
    let mut child = std::process::Command::new(exe)
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DB, &db)
        .env(CHILD_PORT, proxy.port.to_string())
        .env(CHILD_NOW, outbox_ts(t0))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn child");
    proxy.wait_stalled(WAIT, || None).await;
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("reap the child");
    assert!(!status.success(), "killed: {status:?}");

    let mut conn = open_db(dir.path());
    let states: Vec<(State, u32)> = keys
        .iter()
        .map(|k| {
            let r = row(&conn, k);
            (r.state, r.attempts)
        })
        .collect();
    assert_eq!(
        states,
        [(State::Sent, 1), (State::Queued, 1), (State::Queued, 0)],
        "email 1 sent, email 2 claimed when killed, email 3 untouched"
    );
    servers
        .wait_for("bob", "INBOX", 1, WAIT)
        .await
        .expect("email 1");

    // Started again: email 3 goes at once; email 2 waits until the dead
    // process's claim expires, then goes too.
    let sender = Sender::new(&plain(&servers)).expect("sender");
    let stats = outbox::deliver_due(&mut conn, &sender, t0 + secs(1))
        .await
        .expect("restart");
    assert_eq!((stats.sent, stats.deferred, stats.failed), (1, 0, 0));
    assert_eq!(row(&conn, "crash:3").state, State::Sent);
    assert_eq!(row(&conn, "crash:2").state, State::Queued);
    let claim_ends = t0 + TimeDelta::from_std(CHILD_SEND_TIMEOUT).expect("delta") + secs(30);
    let next = stats.next_attempt.expect("email 2 still queued");
    assert!(
        next >= claim_ends - secs(1) && next <= claim_ends + secs(5),
        "{next} vs {claim_ends}"
    );
    let stats = outbox::deliver_due(&mut conn, &sender, next)
        .await
        .expect("after the claim");
    assert_eq!(stats.sent, 1);
    let r = row(&conn, "crash:2");
    assert_eq!((r.state, r.attempts), (State::Sent, 2));

    servers
        .wait_for("bob", "INBOX", 3, WAIT)
        .await
        .expect("all three");
    settle().await;
    let all = servers.fetch_all("bob", "INBOX").await.expect("fetch");
    let mut expected: Vec<String> = keys.iter().map(|k| bracketed(k)).collect();
    expected.sort();
    assert_eq!(message_ids(&all), expected, "each email exactly once");
}

fn outbox_ts(t: DateTime<Utc>) -> String {
    reportd::store::ts(t)
}
