//! The monthly compliance archive end to end: reports and replies go into
//! the assistant's mailbox in a real Dovecot, the real `reportd` reads and
//! judges them, and `reportd archive --month 2026-10` builds the zip. Its
//! `.eml` files must equal what the server holds byte for byte, its
//! register (CSV and XLSX, read back with calamine) must agree with
//! `reportd status` and `reportd ledger`, a tampered zip must fail `verify`
//! naming the file, and `--send` through the real Postfix must deliver the
//! archive email once, then a marked re-issue only after the month changed.
//!
//! October 2026, tracking from 2026-10-12: the deadlines of the month are
//! W42 (Sat 10-17 22:00), W43 (10-24) and W44 (10-31). 张伟 reports every
//! week on time (W43 twice: a revision), and 王芳 answers W42 and W43.
//! 李娜 is late for W42, misses W43 (a reason is filed after the deadline:
//! fine and waiver), sends W44 only to the assistant (misaddressed, so W44
//! is missing) and then, on 11-02, late to her supervisor: a late W44 with
//! nothing of it filed in October.

mod app;
mod common;

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use app::{App, Imap, eml, reply_eml, utf8_word};
use chrono::{DateTime, FixedOffset};
use common::MailServers;

const ASSISTANT: &str = "zhaomin";
const SUP: &str = "王芳 <wangfang@example.com>";
const CC: &str = "赵敏 <zhaomin@example.com>";
const ZHANG: &str = "zhangwei@example.com";
const LINA: &str = "lina@example.com";
const WANG: &str = "wangfang@example.com";
const TRACKING: &str = "2026-10-12";
/// After everything above, when the archive is built and sent.
const NOW: &str = "2026-11-03T11:00:00+08:00";
const FOLDER: &str = "reportd-archive-2026-10";
const WAIT: Duration = Duration::from_secs(20);

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).expect("RFC 3339 test time")
}

fn imap(servers: &MailServers) -> Imap<'_> {
    Imap {
        port: servers.imap_port(),
        security: "plain",
        password: servers.password(),
        ca_file: None,
    }
}

/// Every message put into the assistant's mailbox, by Message-ID.
struct Mailbox {
    sent: BTreeMap<String, Vec<u8>>,
}

impl Mailbox {
    async fn put(&mut self, servers: &MailServers, id: &str, raw: Vec<u8>, arrival: &str) {
        servers
            .append(ASSISTANT, "INBOX", &raw, at(arrival))
            .await
            .expect("append");
        self.sent.insert(id.to_string(), raw);
    }

    async fn report(
        &mut self,
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
            &utf8_word(subject),
            id,
            "Fri, 16 Oct 2026 09:00:00 +0800",
        );
        self.put(servers, id, raw, arrival).await;
    }
}

/// The October of the module documentation, read and judged; the reason
/// for 李娜's W43 filed on 11-03.
async fn october() -> (MailServers, App, Mailbox) {
    let servers = MailServers::start(app::USERS);
    let app = App::with_smtp(imap(&servers), TRACKING, servers.smtp_port());
    let mut mb = Mailbox {
        sent: BTreeMap::new(),
    };
    let s = &servers;
    mb.report(
        s,
        ZHANG,
        SUP,
        "张伟 第42周周报",
        "w42@zhang",
        "2026-10-16T10:00:00+08:00",
    )
    .await;
    let reply = reply_eml(SUP, ZHANG, "回复：张伟 第42周周报", "r42@wang", "w42@zhang");
    mb.put(s, "r42@wang", reply, "2026-10-17T09:00:00+08:00")
        .await;
    mb.report(
        s,
        LINA,
        SUP,
        "李娜 第42周周报",
        "w42@lina",
        "2026-10-18T09:00:00+08:00",
    )
    .await;
    mb.report(
        s,
        ZHANG,
        SUP,
        "张伟 第43周周报",
        "w43@zhang",
        "2026-10-23T10:00:00+08:00",
    )
    .await;
    mb.report(
        s,
        ZHANG,
        SUP,
        "张伟 第43周周报（补附件）",
        "w43b@zhang",
        "2026-10-23T15:00:00+08:00",
    )
    .await;
    let reply = reply_eml(SUP, ZHANG, "回复：张伟 第43周周报", "r43@wang", "w43@zhang");
    mb.put(s, "r43@wang", reply, "2026-10-26T09:00:00+08:00")
        .await;
    mb.report(
        s,
        ZHANG,
        SUP,
        "张伟 第44周周报",
        "w44@zhang",
        "2026-10-30T10:00:00+08:00",
    )
    .await;
    mb.report(
        s,
        LINA,
        CC,
        "李娜 第44周周报",
        "w44@lina-misaddressed",
        "2026-10-30T11:00:00+08:00",
    )
    .await;
    mb.report(
        s,
        LINA,
        SUP,
        "李娜 第44周周报",
        "w44@lina",
        "2026-11-02T10:00:00+08:00",
    )
    .await;
    app.sync(NOW);
    app.run(&[
        "excuse",
        "--person",
        LINA,
        "--period",
        "2026-W43",
        "--reason",
        "病假（住院）",
        "--by",
        WANG,
        "--now",
        NOW,
    ]);
    (servers, app, mb)
}

/// `reportd archive …` with `args`; returns (exit code, stdout, stderr).
fn archive(app: &App, args: &[&str]) -> (i32, String, String) {
    let out = app
        .command()
        .arg("archive")
        .args(args)
        .output()
        .expect("run reportd archive");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Builds October's archive into `dir` and returns the zip's path.
fn build_into(app: &App, dir: &Path) -> PathBuf {
    let out = dir.display().to_string();
    let (code, stdout, stderr) = archive(app, &["--month", "2026-10", "--out", &out, "--now", NOW]);
    assert_eq!(code, 0, "archive failed: {stderr}\n{stdout}");
    dir.join(format!("{FOLDER}.zip"))
}

/// Every file of a zip by name.
fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip");
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).expect("entry");
        let name = entry.name().expect("name").into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read entry");
        out.insert(name, data);
    }
    out
}

fn in_folder(name: &str) -> String {
    format!("{FOLDER}/{name}")
}

/// The CSV register as header → value maps.
fn register(files: &BTreeMap<String, Vec<u8>>) -> Vec<BTreeMap<String, String>> {
    let bytes = &files[&in_folder("register.csv")];
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "UTF-8 BOM for Excel and WPS"
    );
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let headers: Vec<String> = reader
        .headers()
        .expect("headers")
        .iter()
        .map(str::to_string)
        .collect();
    reader
        .records()
        .map(|r| {
            let r = r.expect("record");
            headers
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

fn status_word(status: &str) -> &'static str {
    match status {
        "on_time" => "按时",
        "late" => "迟交",
        "missing" => "未交",
        "excused" => "已免",
        "pending" => "待交",
        other => panic!("unexpected status {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_archive_holds_every_report_and_reply_byte_for_byte_and_a_register_that_matches_the_ledger()
 {
    let (servers, app, mb) = october().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let zip_path = build_into(&app, dir.path());
    let bytes = std::fs::read(&zip_path).expect("zip written");
    let files = unzip(&bytes);

    // The .eml files are the server's copies, byte for byte: eight
    // messages of October (not 李娜's W44 of November).
    let held: BTreeMap<String, Vec<u8>> = servers
        .fetch_all(ASSISTANT, "INBOX")
        .await
        .expect("fetch")
        .into_iter()
        .map(|f| (common::header(&f.raw, "Message-ID"), f.raw))
        .collect();
    let emls: Vec<(&String, &Vec<u8>)> =
        files.iter().filter(|(n, _)| n.ends_with(".eml")).collect();
    assert_eq!(emls.len(), 8, "{:?}", files.keys().collect::<Vec<_>>());
    for (name, data) in &emls {
        let id = common::header(data, "Message-ID");
        assert_eq!(&held[&id], *data, "{name} differs from the server's copy");
        let bare = id.trim_matches(|c| c == '<' || c == '>');
        assert_eq!(
            &mb.sent[bare], *data,
            "{name} differs from what was delivered"
        );
        assert_ne!(bare, "w44@lina", "November's mail is not October's");
    }

    // The register agrees with `reportd status` and `reportd ledger`.
    let rows = register(&files);
    let ledger = app.ledger();
    let entries = ledger["entries"].as_array().expect("entries");
    let booked = |person: &str, period: &str, kind: &str| -> String {
        entries
            .iter()
            .find(|e| e["person"] == person && e["period"] == period && e["kind"] == kind)
            .map(|e| {
                format!(
                    "{:.2}",
                    e["amount_fen"].as_i64().expect("fen").abs() as f64 / 100.0
                )
            })
            .unwrap_or_default()
    };
    for period in ["2026-W42", "2026-W43", "2026-W44"] {
        for person in [ZHANG, LINA] {
            let status = app.row(NOW, person, period)["status"]
                .as_str()
                .expect("status")
                .to_string();
            let mine: Vec<&BTreeMap<String, String>> = rows
                .iter()
                .filter(|r| r["邮箱"] == person && r["期间"] == period)
                .collect();
            assert!(!mine.is_empty(), "no register row for {person} {period}");
            for r in &mine {
                assert_eq!(r["状态"], status_word(&status), "{person} {period}");
            }
            let first = mine[0];
            assert_eq!(
                first["罚款（元）"],
                booked(person, period, "fine"),
                "{person} {period}"
            );
            assert_eq!(
                first["免罚（元）"],
                booked(person, period, "waiver"),
                "{person} {period}"
            );
            for later in &mine[1..] {
                assert_eq!(later["罚款（元）"], "", "money on the first row only");
            }
        }
    }
    let row = |person: &str, period: &str, document: &str| {
        rows.iter()
            .find(|r| r["邮箱"] == person && r["期间"] == period && r["文件类别"] == document)
            .unwrap_or_else(|| panic!("no {document} row for {person} {period}"))
    };
    let w42 = row(ZHANG, "2026-W42", "报告");
    assert_eq!(w42["到达时间"], "2026-10-16 10:00:00");
    assert_eq!(w42["截止时间"], "2026-10-17 22:00");
    assert_eq!(w42["回复时间"], "2026-10-17 09:00:00");
    assert_eq!(w42["回复人"], "王芳 <wangfang@example.com>");
    assert_eq!(w42["小组"], "商务一组");
    let file = &w42["邮件文件"];
    assert_eq!(
        w42["SHA-256"],
        reportd::archive::sha256_hex(&files[&in_folder(file)]),
        "the register's hash is the file's"
    );
    row(ZHANG, "2026-W43", "修订");
    row(ZHANG, "2026-W43", "回复");
    let excused = row(LINA, "2026-W43", "本月无文件");
    assert_eq!(excused["理由"], "病假（住院）");
    assert_eq!(excused["批准人"], "王芳 <wangfang@example.com>");
    assert_eq!(excused["罚款（元）"], "50.00");
    assert_eq!(excused["免罚（元）"], "50.00");
    let misaddressed = row(LINA, "2026-W44", "发错对象");
    assert_eq!(misaddressed["状态"], "迟交", "W44 arrived late in November");
    assert_eq!(misaddressed["罚款（元）"], "50.00");

    // The XLSX says the same, with amounts as numbers.
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(files[&in_folder("register.xlsx")].clone()))
            .expect("xlsx");
    let sheet = book.worksheet_range("登记表").expect("sheet 登记表");
    let grid: Vec<Vec<Data>> = sheet.rows().map(<[Data]>::to_vec).collect();
    assert_eq!(grid.len(), rows.len() + 1, "header and the same rows");
    for (csv_row, xlsx_row) in rows.iter().zip(&grid[1..]) {
        assert_eq!(xlsx_row[1].to_string(), csv_row["邮箱"]);
        assert_eq!(xlsx_row[17].to_string(), csv_row["SHA-256"]);
        match &xlsx_row[12] {
            Data::Float(yuan) => assert_eq!(format!("{yuan:.2}"), csv_row["罚款（元）"]),
            Data::Empty => assert_eq!(csv_row["罚款（元）"], ""),
            other => panic!("fine cell {other:?}"),
        }
    }

    // index.html links every .eml; the manifest covers every other file.
    let index = String::from_utf8(files[&in_folder("index.html")].clone()).expect("utf-8");
    let manifest = String::from_utf8(files[&in_folder("MANIFEST.sha256")].clone()).expect("utf-8");
    for (name, data) in &files {
        let inner = name
            .strip_prefix(&format!("{FOLDER}/"))
            .expect("one folder");
        if inner.ends_with(".eml") {
            assert!(
                index.contains(&format!("href=\"{inner}\"")),
                "index links {inner}"
            );
        }
        if inner != "MANIFEST.sha256" {
            let line = format!("{}  {inner}", reportd::archive::sha256_hex(data));
            assert!(
                manifest.lines().any(|l| l == line),
                "manifest lists {inner}"
            );
        }
    }
    assert_eq!(manifest.lines().count(), files.len() - 1);
    let (code, stdout, _) = archive(&app, &["verify", &zip_path.display().to_string()]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("intact"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn building_twice_gives_the_same_bytes_and_a_private_file() {
    use std::os::unix::fs::PermissionsExt;
    let (_servers, app, _) = october().await;
    let (one, two) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let first = std::fs::read(build_into(&app, one.path())).expect("first");
    // Longer than the zip format's 2-second clock, so a timestamp taken
    // from the clock (in the zip or in the XLSX inside) would differ.
    std::thread::sleep(Duration::from_millis(2100));
    let path = build_into(&app, two.path());
    assert_eq!(
        first,
        std::fs::read(&path).expect("second"),
        "deterministic"
    );
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// Rewrites a zip through `edit` (which sees every file by name).
fn rewrite(path: &Path, edit: impl FnOnce(&mut BTreeMap<String, Vec<u8>>)) {
    let mut files = unzip(&std::fs::read(path).expect("zip"));
    edit(&mut files);
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in &files {
        writer
            .start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .expect("start");
        writer.write_all(data).expect("write");
    }
    let bytes = writer.finish().expect("finish").into_inner();
    std::fs::write(path, bytes).expect("rewrite");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_archive_fails_verify_naming_each_file_changed_missing_or_added() {
    let (_servers, app, _) = october().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = build_into(&app, dir.path());
    let shown = path.display().to_string();
    let manifest_sha = {
        let files = unzip(&std::fs::read(&path).expect("zip"));
        reportd::archive::sha256_hex(&files[&in_folder("MANIFEST.sha256")])
    };
    let (code, stdout, _) = archive(&app, &["verify", &shown, "--expect", &manifest_sha]);
    assert_eq!(code, 0, "intact before: {stdout}");

    let mut changed = String::new();
    let mut removed = String::new();
    rewrite(&path, |files| {
        let emls: Vec<String> = files
            .keys()
            .filter(|n| n.ends_with(".eml"))
            .cloned()
            .collect();
        changed = emls[0].clone();
        removed = emls[1].clone();
        let data = files.get_mut(&changed).expect("eml");
        let at = data.len() - 3;
        data[at] ^= 0x20; // one letter of the body, e.g. a figure
        files.remove(&removed);
        files.insert(
            in_folder("eml/forged.eml"),
            b"Subject: forged\r\n\r\nx\r\n".to_vec(),
        );
    });
    let (code, stdout, stderr) = archive(&app, &["verify", &shown]);
    assert_eq!(code, 1, "tampering exits 1: {stdout}{stderr}");
    assert!(stdout.contains(&format!("changed: {changed}")), "{stdout}");
    assert!(stdout.contains(&format!("missing: {removed}")), "{stdout}");
    assert!(
        stdout.contains(&format!("added: {}", in_folder("eml/forged.eml"))),
        "{stdout}"
    );
    assert!(stdout.contains("NOT intact"), "{stdout}");

    // A manifest rewritten to fit the forgery does not match the email's.
    rewrite(&path, |files| {
        let listed: Vec<(String, Vec<u8>)> = files
            .iter()
            .filter(|(n, _)| !n.ends_with("MANIFEST.sha256"))
            .map(|(n, d)| {
                (
                    n.trim_start_matches(&format!("{FOLDER}/")).to_string(),
                    d.clone(),
                )
            })
            .collect();
        files.insert(
            in_folder("MANIFEST.sha256"),
            reportd::archive::manifest::render(&listed),
        );
    });
    let (code, stdout, _) = archive(&app, &["verify", &shown]);
    assert_eq!(code, 0, "self-consistent after the forger's fix: {stdout}");
    let (code, stdout, _) = archive(&app, &["verify", &shown, "--expect", &manifest_sha]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("changed: MANIFEST.sha256"), "{stdout}");

    // Not a zip at all: cannot be checked, exit 2.
    std::fs::write(&path, b"not a zip").expect("write");
    let (code, _, stderr) = archive(&app, &["verify", &shown]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a readable zip"), "{stderr}");
}

/// The archive emails in the assistant's mailbox, once at least `want`
/// arrived (or the wait ran out), after a pause that lets a duplicate, if
/// there were one, arrive too.
async fn archive_emails(servers: &MailServers, want: usize) -> Vec<common::Fetched> {
    let ids = [
        reportd::notify::outbox::message_id_for("archive:2026-10", "example.com"),
        reportd::notify::outbox::message_id_for("archive:2026-10:reissue-1", "example.com"),
    ];
    let fetch = || async {
        let all = servers.fetch_all(ASSISTANT, "INBOX").await.expect("fetch");
        all.into_iter()
            .filter(|f| {
                let id = common::header(&f.raw, "Message-ID");
                ids.iter().any(|i| id == format!("<{i}>"))
            })
            .collect::<Vec<common::Fetched>>()
    };
    let deadline = std::time::Instant::now() + WAIT;
    while fetch().await.len() < want && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    fetch().await
}

/// The zip attached to an email, and its text part.
fn attachment_and_text(raw: &[u8]) -> (Vec<u8>, String) {
    let mail = mailparse::parse_mail(raw).expect("parse");
    assert_eq!(mail.ctype.mimetype, "multipart/mixed");
    let zip = mail
        .subparts
        .iter()
        .find(|p| p.ctype.mimetype == "application/zip")
        .expect("zip attached")
        .get_body_raw()
        .expect("zip bytes");
    let text = mail.subparts[0].subparts[0].get_body().expect("text part");
    (zip, text)
}

#[tokio::test(flavor = "multi_thread")]
async fn sending_twice_delivers_once_and_a_changed_month_goes_out_as_a_marked_re_issue() {
    let (servers, app, _) = october().await;
    let kept = app.dir.path().join("archive");
    // As beside a running daemon, which holds the mailbox lock.
    let daemon = reportd::writer::acquire(&app.dir.path().join("reportd.sqlite3")).expect("lock");
    let (code, stdout, stderr) = archive(&app, &["--month", "2026-10", "--send", "--now", NOW]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("queued the archive of 2026-10"), "{stdout}");
    drop(daemon);
    // The archive, and the confirmation of the waiver `october()` filed
    // with `reportd excuse` (queued then, delivered by this command).
    assert!(stdout.contains("outbox: sent 2"), "{stdout}");
    let (code, stdout, stderr) = archive(&app, &["--month", "2026-10", "--send", "--now", NOW]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("unchanged"), "{stdout}");

    let got = archive_emails(&servers, 1).await;
    assert_eq!(got.len(), 1, "sent once");
    let subject = mailparse::parse_mail(&got[0].raw)
        .expect("parse")
        .headers
        .iter()
        .find(|h| h.get_key() == "Subject")
        .map(|h| h.get_value())
        .expect("subject");
    assert!(subject.starts_with("2026年10月报告归档"), "{subject}");
    let (zip, text) = attachment_and_text(&got[0].raw);
    let first_path = kept.join(format!("{FOLDER}.zip"));
    let kept_bytes = std::fs::read(&first_path).expect("kept under archive_dir");
    assert_eq!(zip, kept_bytes, "the attachment is the kept zip");
    let manifest_sha = reportd::archive::sha256_hex(&unzip(&zip)[&in_folder("MANIFEST.sha256")]);
    assert!(
        text.contains(&manifest_sha),
        "the body carries the manifest's SHA-256"
    );

    // A late reason changes October: a plain build may not overwrite the
    // sent zip, and --send now issues a marked re-issue beside it.
    app.run(&[
        "excuse", "--person", LINA, "--period", "2026-W44", "--reason", "出差", "--by", WANG,
        "--now", NOW,
    ]);
    let (code, _, stderr) = archive(&app, &["--month", "2026-10", "--now", NOW]);
    assert_ne!(code, 0, "the sent zip is never overwritten");
    assert!(stderr.contains("never overwritten"), "{stderr}");
    let (code, stdout, stderr) = archive(&app, &["--month", "2026-10", "--send", "--now", NOW]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("as a re-issue"), "{stdout}");
    assert_eq!(
        std::fs::read(&first_path).expect("first zip"),
        kept_bytes,
        "unchanged"
    );

    let got = archive_emails(&servers, 2).await;
    assert_eq!(got.len(), 2, "the first issue and one re-issue");
    let reissue_id =
        reportd::notify::outbox::message_id_for("archive:2026-10:reissue-1", "example.com");
    let reissue = got
        .iter()
        .find(|f| common::header(&f.raw, "Message-ID") == format!("<{reissue_id}>"))
        .expect("the re-issue");
    let parsed = mailparse::parse_mail(&reissue.raw).expect("parse");
    let subject = parsed
        .headers
        .iter()
        .find(|h| h.get_key() == "Subject")
        .map(|h| h.get_value())
        .expect("subject");
    assert!(subject.starts_with("【重发 1】"), "{subject}");
    let (zip, text) = attachment_and_text(&reissue.raw);
    assert!(text.contains(&manifest_sha), "names the previous manifest");
    let files = unzip(&zip);
    let rows = register(&files);
    let w44 = rows
        .iter()
        .find(|r| r["邮箱"] == LINA && r["期间"] == "2026-W44")
        .expect("W44 row");
    assert_eq!(w44["状态"], "已免");
    assert_eq!(w44["理由"], "出差");
    assert!(kept.join(format!("{FOLDER}-reissue-1.zip")).exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_archive_too_large_to_attach_is_named_by_its_path() {
    let servers = MailServers::start(app::USERS);
    let extra = format!(
        "{}\n[archive]\nmax_attachment_mb = 0\n",
        app::smtp_section(servers.smtp_port())
    );
    let app = App::configure(imap(&servers), TRACKING, &extra, app::ROSTER);
    let raw = eml(
        ZHANG,
        &[SUP],
        &[CC],
        &utf8_word("张伟 第42周周报"),
        "w42@zhang",
        "Fri, 16 Oct 2026 09:00:00 +0800",
    );
    servers
        .append(ASSISTANT, "INBOX", &raw, at("2026-10-16T10:00:00+08:00"))
        .await
        .expect("append");
    app.sync(NOW);
    let (code, stdout, stderr) = archive(&app, &["--month", "2026-10", "--send", "--now", NOW]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("too large to attach"), "{stdout}");
    let got = archive_emails(&servers, 1).await;
    assert_eq!(got.len(), 1);
    let mail = mailparse::parse_mail(&got[0].raw).expect("parse");
    assert_eq!(
        mail.ctype.mimetype, "multipart/alternative",
        "no attachment"
    );
    let text = mail.subparts[0].get_body().expect("text");
    let path = app.dir.path().join("archive").join(format!("{FOLDER}.zip"));
    assert!(text.contains(&path.display().to_string()), "{text}");
}

#[test]
fn sending_a_month_that_is_not_over_is_refused() {
    let app = App::new(
        Imap {
            port: 1,
            security: "plain",
            password: "x",
            ca_file: None,
        },
        TRACKING,
    );
    let (code, _, stderr) = archive(
        &app,
        &[
            "--month",
            "2026-11",
            "--send",
            "--now",
            "2026-11-03T11:00:00+08:00",
        ],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("2026-11 is not over yet"), "{stderr}");
    let (code, _, stderr) = archive(&app, &[]);
    assert_ne!(code, 0);
    assert!(stderr.contains("--month YYYY-MM"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_monthly_close_sends_the_archive_once_on_the_third_working_day() {
    let (servers, app, _) = october().await;
    // November 2026's third working day is Wednesday the 4th; the close is
    // at digest_time, 08:30.
    let queued = |app: &App| {
        app.outbox()
            .iter()
            .filter(|r| r["kind"] == "archive")
            .count()
    };
    app.sync("2026-11-04T08:00:00+08:00");
    assert_eq!(queued(&app), 0, "not before the close");
    app.sync("2026-11-04T09:00:00+08:00");
    app.sync("2026-11-05T09:00:00+08:00");
    assert_eq!(queued(&app), 1, "once");
    let got = archive_emails(&servers, 1).await;
    assert_eq!(got.len(), 1, "once");
    let (zip, text) = attachment_and_text(&got[0].raw);
    let kept = app.dir.path().join("archive").join(format!("{FOLDER}.zip"));
    assert_eq!(zip, std::fs::read(&kept).expect("kept zip"));
    let manifest_sha = reportd::archive::sha256_hex(&unzip(&zip)[&in_folder("MANIFEST.sha256")]);
    assert!(text.contains(&manifest_sha), "{text}");
    // Sending by hand now finds it unchanged.
    let (code, stdout, stderr) = archive(
        &app,
        &[
            "--month",
            "2026-10",
            "--send",
            "--now",
            "2026-11-05T09:00:00+08:00",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("unchanged"), "{stdout}");
}
