//! Tests of the mail harness itself (tests/common/mod.rs): a private Dovecot
//! and Postfix that really deliver, store and serve mail.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, TimeZone};
use common::{MailServers, RecipientRule};

const WAIT: Duration = Duration::from_secs(20);

fn message(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Fri, 27 Nov 2026 13:00:00 +0800\r\n\
         Message-ID: <{subject}@test.example.com>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn date(
    y: i32,
    mo: u32,
    d: u32,
    h: u32,
    mi: u32,
    s: u32,
    offset_hours: i32,
) -> DateTime<FixedOffset> {
    FixedOffset::east_opt(offset_hours * 3600)
        .expect("offset")
        .with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("date")
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn mail_sent_by_smtp_arrives_in_the_recipients_dovecot_inbox() {
    let started = Instant::now();
    let mail = MailServers::start(&["assistant", "rep1@example.com"]);
    eprintln!("MailServers::start took {:?}", started.elapsed());

    let raw = message(
        "rep1@example.com",
        "assistant@example.com",
        "weekly-1",
        "周报 本周 拜访 12 家",
    );
    mail.smtp_send("rep1", &["assistant"], &raw)
        .await
        .expect("SMTP send");

    let got = mail
        .wait_for("assistant", "INBOX", 1, WAIT)
        .await
        .expect("delivery");
    assert_eq!(got.len(), 1);
    assert!(
        contains(&got[0].raw, "Subject: weekly-1"),
        "{}",
        String::from_utf8_lossy(&got[0].raw)
    );
    assert!(contains(&got[0].raw, "周报 本周 拜访 12 家"));
    // Postfix and Dovecot add trace headers: it really went through both.
    assert!(contains(&got[0].raw, "Received: from"));
    assert!(contains(&got[0].raw, "Delivered-To: assistant@example.com"));
    // The sender's own mailbox stays empty.
    assert!(
        mail.fetch_all("rep1", "INBOX")
            .await
            .expect("fetch")
            .is_empty()
    );
}

#[tokio::test]
async fn append_keeps_the_chosen_internaldate_and_the_exact_bytes() {
    let mail = MailServers::start(&["assistant"]);
    let late = date(2026, 11, 27, 13, 0, 1, 8);
    let early = date(2025, 1, 5, 23, 59, 59, -5);
    let raw1 = message("rep1@example.com", "assistant@example.com", "late", "a");
    let raw2 = message("rep2@example.com", "assistant@example.com", "early", "b");
    mail.append("assistant", "INBOX", &raw1, late)
        .await
        .expect("append 1");
    mail.append("assistant", "INBOX", &raw2, early)
        .await
        .expect("append 2");
    // Another folder is created on demand.
    mail.append("assistant", "Reports", &raw1, early)
        .await
        .expect("append to a new folder");

    let got = mail.fetch_all("assistant", "INBOX").await.expect("fetch");
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].uid, got[1].uid), (1, 2));
    // `==` on DateTime compares instants; Maildir does not keep the offset.
    assert_eq!(got[0].internal_date, late, "got {}", got[0].internal_date);
    assert_eq!(got[1].internal_date, early, "got {}", got[1].internal_date);
    assert_eq!(got[0].raw, raw1);
    assert_eq!(got[1].raw, raw2);
    assert!(
        !got[0].flags.iter().any(|f| f == "\\Seen"),
        "{:?}",
        got[0].flags
    );

    let reports = mail
        .fetch_all("assistant", "Reports")
        .await
        .expect("fetch Reports");
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].internal_date, early);
}

#[tokio::test]
async fn imaps_with_the_generated_ca_is_verified_by_rustls() {
    let mail = MailServers::start(&["assistant"]);
    mail.append(
        "assistant",
        "INBOX",
        &message("a@example.com", "b@example.com", "x", "y"),
        date(2026, 3, 2, 9, 0, 0, 8),
    )
    .await
    .expect("append");

    // Implicit TLS with a rustls config that trusts only ca_pem().
    let mut session = mail.imaps_session("assistant").await.expect("IMAPS login");
    let mb = session.examine("INBOX").await.expect("EXAMINE over TLS");
    assert_eq!(mb.exists, 1);
    session.logout().await.expect("logout");

    // The same handshake without that CA fails: the check is real.
    let empty = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", mail.imaps_port()))
        .await
        .expect("connect");
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1")
        .expect("name")
        .to_owned();
    let err = tokio_rustls::TlsConnector::from(std::sync::Arc::new(empty))
        .connect(name, tcp)
        .await
        .expect_err("a handshake without the CA must fail");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
}

#[tokio::test]
async fn smtp_with_starttls_auth_and_implicit_tls_is_accepted() {
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor, address::Envelope};

    let mail = MailServers::start(&["assistant", "boss"]);
    let pem = std::fs::read(mail.ca_pem()).expect("read CA");
    let tls = || {
        TlsParameters::builder("127.0.0.1".to_string())
            .certificate_store(CertificateStore::None)
            .add_root_certificate(Certificate::from_pem(&pem).expect("CA"))
            .build_rustls()
            .expect("TLS parameters")
    };
    let creds = Credentials::new("assistant@example.com".into(), mail.password().into());
    let envelope = Envelope::new(
        Some("assistant@example.com".parse().expect("from")),
        vec!["boss@example.com".parse().expect("to")],
    )
    .expect("envelope");

    let starttls = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(mail.smtp_port())
        .tls(Tls::Required(tls()))
        .credentials(creds.clone())
        .build();
    starttls
        .send_raw(
            &envelope,
            &message(
                "assistant@example.com",
                "boss@example.com",
                "via-starttls",
                "1",
            ),
        )
        .await
        .expect("STARTTLS + AUTH");

    let wrapper = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(mail.smtps_port())
        .tls(Tls::Wrapper(tls()))
        .credentials(creds)
        .build();
    wrapper
        .send_raw(
            &envelope,
            &message(
                "assistant@example.com",
                "boss@example.com",
                "via-smtps",
                "2",
            ),
        )
        .await
        .expect("implicit TLS + AUTH");

    let wrong = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(mail.smtp_port())
        .credentials(Credentials::new(
            "assistant@example.com".into(),
            "wrong".into(),
        ))
        .build();
    let err = wrong
        .send_raw(
            &envelope,
            &message("assistant@example.com", "boss@example.com", "wrong", "3"),
        )
        .await
        .expect_err("a wrong password is refused");
    assert!(err.to_string().contains("535"), "{err}");

    let got = mail
        .wait_for("boss", "INBOX", 2, WAIT)
        .await
        .expect("delivery");
    assert!(
        got.iter()
            .any(|m| contains(&m.raw, "Subject: via-starttls"))
    );
    assert!(got.iter().any(|m| contains(&m.raw, "Subject: via-smtps")));
}

#[tokio::test]
async fn change_uidvalidity_gives_imap_clients_a_new_uidvalidity_for_the_same_messages() {
    let mail = MailServers::start(&["assistant"]);
    for (i, subject) in ["one", "two"].iter().enumerate() {
        let raw = message("rep1@example.com", "assistant@example.com", subject, "x");
        mail.append(
            "assistant",
            "INBOX",
            &raw,
            date(2026, 3, 2 + i as u32, 9, 0, 0, 8),
        )
        .await
        .expect("append");
    }
    let before = mail
        .uid_validity("assistant", "INBOX")
        .await
        .expect("uidvalidity");
    let messages_before = mail.fetch_all("assistant", "INBOX").await.expect("fetch");

    let new = mail.change_uidvalidity("assistant", "INBOX");
    assert_ne!(new, before);
    assert_eq!(
        mail.uid_validity("assistant", "INBOX")
            .await
            .expect("uidvalidity"),
        new
    );
    let messages_after = mail.fetch_all("assistant", "INBOX").await.expect("fetch");
    assert_eq!(messages_after, messages_before);

    // A second change moves it again; other folders work the same way.
    let newer = mail.change_uidvalidity("assistant", "INBOX");
    assert!(newer > new);
    mail.append(
        "assistant",
        "Archive",
        &message("a@example.com", "b@example.com", "z", "z"),
        date(2026, 1, 1, 0, 0, 0, 0),
    )
    .await
    .expect("append");
    let archive_before = mail
        .uid_validity("assistant", "Archive")
        .await
        .expect("uidvalidity");
    let archive_new = mail.change_uidvalidity("assistant", "Archive");
    assert_ne!(archive_new, archive_before);
    assert_eq!(
        mail.uid_validity("assistant", "Archive")
            .await
            .expect("uidvalidity"),
        archive_new
    );
}

#[tokio::test]
async fn renumber_uids_reuses_uids_for_other_messages_under_a_new_uidvalidity() {
    let mail = MailServers::start(&["assistant"]);
    for (i, subject) in ["first", "second", "third"].iter().enumerate() {
        let raw = message("rep1@example.com", "assistant@example.com", subject, "x");
        mail.append(
            "assistant",
            "INBOX",
            &raw,
            date(2026, 3, 2 + i as u32, 9, 0, 0, 8),
        )
        .await
        .expect("append");
    }
    let before = mail
        .uid_validity("assistant", "INBOX")
        .await
        .expect("uidvalidity");
    // An open session is disconnected, as by a server rebuild.
    let mut open = mail.imap_session("assistant").await.expect("login");
    open.select("INBOX").await.expect("select");

    let new = mail.renumber_uids("assistant", "INBOX");
    assert_ne!(new, before);
    assert!(
        open.noop().await.is_err(),
        "the open session should have been kicked"
    );

    assert_eq!(
        mail.uid_validity("assistant", "INBOX")
            .await
            .expect("uidvalidity"),
        new
    );
    let after = mail.fetch_all("assistant", "INBOX").await.expect("fetch");
    let subjects: Vec<(u32, bool)> = after
        .iter()
        .map(|m| (m.uid, contains(&m.raw, "Subject: third")))
        .collect();
    assert_eq!(subjects, vec![(1, true), (2, false), (3, false)]);
    assert!(contains(&after[2].raw, "Subject: first"));
    // Dates travel with the messages.
    assert_eq!(after[0].internal_date, date(2026, 3, 4, 9, 0, 0, 8));

    // New mail continues after the renumbered ones.
    mail.smtp_send(
        "rep1",
        &["assistant"],
        &message("rep1@example.com", "assistant@example.com", "fourth", "x"),
    )
    .await
    .expect("send");
    let after = mail
        .wait_for("assistant", "INBOX", 4, WAIT)
        .await
        .expect("delivery");
    assert_eq!(after[3].uid, 4);
}

#[tokio::test]
async fn postfix_refuses_recipients_temporarily_or_permanently_on_request() {
    let mail = MailServers::start(&["assistant", "boss", "rep1"]);
    let raw = message("assistant@example.com", "boss@example.com", "digest", "x");

    mail.set_recipient_rule("boss", RecipientRule::TempFail);
    let err = mail
        .smtp_send("assistant", &["boss"], &raw)
        .await
        .expect_err("4xx");
    assert!(format!("{err:#}").contains("450"), "{err:#}");

    mail.set_recipient_rule("boss@example.com", RecipientRule::PermFail);
    let err = mail
        .smtp_send("assistant", &["boss"], &raw)
        .await
        .expect_err("5xx");
    assert!(format!("{err:#}").contains("550"), "{err:#}");

    // Other recipients are unaffected; an unknown user is refused anyway.
    mail.smtp_send("assistant", &["rep1"], &raw)
        .await
        .expect("rep1 accepted");
    let err = mail
        .smtp_send("assistant", &["nobody"], &raw)
        .await
        .expect_err("unknown user");
    assert!(format!("{err:#}").contains("550"), "{err:#}");

    // A domain rule covers everyone in it.
    mail.set_recipient_rule("boss", RecipientRule::Accept);
    mail.set_recipient_rule("example.com", RecipientRule::TempFail);
    let err = mail
        .smtp_send("assistant", &["rep1"], &raw)
        .await
        .expect_err("domain 4xx");
    assert!(format!("{err:#}").contains("450"), "{err:#}");

    mail.set_recipient_rule("example.com", RecipientRule::Accept);
    mail.smtp_send("assistant", &["boss"], &raw)
        .await
        .expect("accepted again");
    mail.wait_for("boss", "INBOX", 1, WAIT)
        .await
        .expect("delivered");
    mail.wait_for("rep1", "INBOX", 1, WAIT)
        .await
        .expect("delivered");
}

#[tokio::test]
async fn stopped_smtp_refuses_connections_and_delivers_again_after_restart() {
    let mail = MailServers::start(&["assistant", "boss"]);
    let raw = message("assistant@example.com", "boss@example.com", "digest", "x");

    mail.stop_smtp();
    assert!(
        TcpStream::connect(("127.0.0.1", mail.smtp_port())).is_err(),
        "SMTP port still open"
    );
    assert!(mail.smtp_send("assistant", &["boss"], &raw).await.is_err());
    // IMAP is unaffected.
    assert!(
        mail.fetch_all("boss", "INBOX")
            .await
            .expect("IMAP still up")
            .is_empty()
    );

    mail.start_smtp();
    mail.smtp_send("assistant", &["boss"], &raw)
        .await
        .expect("send after restart");
    mail.wait_for("boss", "INBOX", 1, WAIT)
        .await
        .expect("delivered");
}

#[tokio::test]
async fn two_instances_run_side_by_side_without_sharing_anything() {
    let a = MailServers::start(&["assistant"]);
    let b = MailServers::start(&["assistant"]);
    let ports = |m: &MailServers| [m.imap_port(), m.imaps_port(), m.smtp_port(), m.smtps_port()];
    for p in ports(&a) {
        assert!(!ports(&b).contains(&p), "port {p} shared");
    }
    assert_ne!(a.dir(), b.dir());
    assert_ne!(a.ca_pem(), b.ca_pem());

    a.smtp_send(
        "x@example.org",
        &["assistant"],
        &message("x@example.org", "assistant@example.com", "for-a", "a"),
    )
    .await
    .expect("send to a");
    b.smtp_send(
        "x@example.org",
        &["assistant"],
        &message("x@example.org", "assistant@example.com", "for-b", "b"),
    )
    .await
    .expect("send to b");
    let in_a = a.wait_for("assistant", "INBOX", 1, WAIT).await.expect("a");
    let in_b = b.wait_for("assistant", "INBOX", 1, WAIT).await.expect("b");
    assert!(contains(&in_a[0].raw, "Subject: for-a"));
    assert!(contains(&in_b[0].raw, "Subject: for-b"));

    // Stopping one leaves the other running.
    drop(a);
    b.smtp_send(
        "x@example.org",
        &["assistant"],
        &message("x@example.org", "assistant@example.com", "b-again", "b"),
    )
    .await
    .expect("b still accepts");
    b.wait_for("assistant", "INBOX", 2, WAIT)
        .await
        .expect("b still delivers");
}

/// Processes whose working directory or command line points into `dir`.
fn processes_using(dir: &std::path::Path) -> Vec<String> {
    let name = dir
        .file_name()
        .expect("dir name")
        .to_string_lossy()
        .into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let cwd = std::fs::read_link(entry.path().join("cwd")).unwrap_or_default();
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cwd.starts_with(dir) || cmdline.contains(&name) {
            found.push(format!("{pid}: {cmdline} (cwd {})", cwd.display()));
        }
    }
    found
}

#[tokio::test]
async fn drop_stops_both_servers_and_leaves_no_process_behind() {
    let mail = MailServers::start(&["assistant"]);
    // Exercise every server process type first.
    mail.smtp_send(
        "rep1@example.org",
        &["assistant"],
        &message("rep1@example.org", "assistant@example.com", "x", "x"),
    )
    .await
    .expect("send");
    mail.wait_for("assistant", "INBOX", 1, WAIT)
        .await
        .expect("delivery");
    let dir = mail.dir().to_path_buf();
    let ports = [
        mail.imap_port(),
        mail.imaps_port(),
        mail.smtp_port(),
        mail.smtps_port(),
    ];
    assert!(
        !processes_using(&dir).is_empty(),
        "the probe should see the running servers"
    );

    let started = Instant::now();
    drop(mail);
    eprintln!("drop took {:?}", started.elapsed());

    for port in ports {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still answers"
        );
    }
    // Children exit right after their masters; allow them a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = processes_using(&dir);
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "processes left behind:\n{}",
            left.join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!dir.exists(), "temp dir not removed");
}

#[tokio::test]
async fn imap_idle_wakes_up_when_postfix_delivers_a_message() {
    let mail = MailServers::start(&["assistant", "rep1"]);
    let mut session = mail.imap_session("assistant").await.expect("login");
    session.select("INBOX").await.expect("select");
    let mut idle = session.idle();
    idle.init().await.expect("IDLE");
    let (wait, _stop) = idle.wait_with_timeout(Duration::from_secs(15));

    let raw = message("rep1@example.com", "assistant@example.com", "idle", "x");
    let started = Instant::now();
    let (woke, sent) = tokio::join!(wait, mail.smtp_send("rep1", &["assistant"], &raw));
    sent.expect("send");
    let woke = woke.expect("IDLE wait");
    assert!(
        matches!(woke, async_imap::extensions::idle::IdleResponse::NewData(_)),
        "{woke:?} after {:?}",
        started.elapsed()
    );
    let mut session = idle.done().await.expect("DONE");
    session.logout().await.expect("logout");
}
