//! Hostile mail and bounded memory: what any outsider can send to cost
//! reportd time or memory changes nothing but a flag, and nothing grows with
//! the mailbox. Against real Dovecot (through a proxy that stalls one
//! message's download) and the real binary, with SQLite files on disk.
//!
//! - a message to 200,000 addresses keeps the first 1,000, is still
//!   classified and listed, and is flagged;
//! - a message over `max_message_mb` is kept raw, flagged "too large" and
//!   not read;
//! - the Maildir source stores, and the intake parses, in bounded batches;
//! - an IMAP download that stalls is retried in halves down to one message,
//!   which is skipped while newer mail is stored, and fetched on a later
//!   pass;
//! - the raw bytes of unrelated mail are dropped after
//!   `keep_unrelated_days`; those of reports and flagged mail never.

mod app;
mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use app::{App, Imap, eml, utf8_word};
use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use common::MailServers;
use rusqlite::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use reportd::config::{Config, SourceConfig};
use reportd::mail::imap::{FetchTimeout, ImapSource};
use reportd::mail::inbox::{BATCH_BYTES, BATCH_MESSAGES, FetchReport};
use reportd::mail::maildir::MaildirSource;
use reportd::mail::parse::MAX_ADDRESSES;

const ASSISTANT: &str = "zhaomin";
const SUP: &str = "王芳 <wangfang@example.com>";
const CC: &str = "赵敏 <zhaomin@example.com>";
const ZHANG: &str = "zhangwei@example.com";
const LINA: &str = "lina@example.com";
/// After the deadline of 2026-W46 (Saturday 2026-11-14 22:00 in Shanghai).
const AFTER_W46: &str = "2026-11-15T10:00:00+08:00";
const BEFORE_W46: &str = "2026-11-13T10:00:00+08:00";

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).expect("RFC 3339 test time")
}

/// Servers and a reportd reading the assistant's INBOX over plain IMAP, with
/// `extra` config sections.
fn start(extra: &str) -> (MailServers, App) {
    let servers = MailServers::start(app::USERS);
    let app = App::configure(
        Imap {
            port: servers.imap_port(),
            security: "plain",
            password: servers.password(),
            ca_file: None,
        },
        "2026-11-02",
        extra,
        app::ROSTER,
    );
    (servers, app)
}

fn message<'a>(app: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    app.iter()
        .find(|m| m["message_id"] == id)
        .unwrap_or_else(|| panic!("no message <{id}> in {app:#?}"))
}

// ---------------------------------------------------------------------------
// Caps.

#[tokio::test]
async fn report_to_200000_addresses_keeps_the_first_1000_and_is_classified_listed_and_flagged() {
    let (servers, app) = start("");
    let strangers: Vec<String> = (0..199_999)
        .map(|i| format!("u{i:06}@example.cn"))
        .collect();
    let mut to = vec![SUP];
    to.extend(strangers.iter().map(String::as_str));
    let raw = eml(
        ZHANG,
        &to,
        &[CC],
        &utf8_word("张伟 第46周周报"),
        "w46-to-everyone@zhang",
        "Fri, 13 Nov 2026 10:00:00 +0800",
    );
    assert!(raw.len() > 4_000_000, "a 4 MB header: {}", raw.len());
    servers
        .append(ASSISTANT, "INBOX", &raw, at(BEFORE_W46))
        .await
        .expect("append");

    app.sync(AFTER_W46);

    let flagged = app.messages(true);
    let m = message(&flagged, "w46-to-everyone@zhang");
    assert_eq!(m["class"], "report", "{m}");
    let reason = m["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!(
            "To: 200000 addresses; only the first {MAX_ADDRESSES} were kept"
        )),
        "{reason}"
    );
    assert_eq!(app.row(AFTER_W46, ZHANG, "2026-W46")["status"], "on_time");
}

#[tokio::test]
async fn report_over_max_message_mb_is_kept_raw_flagged_too_large_and_counts_for_nothing() {
    let (servers, app) = start("[limits]\nmax_message_mb = 1\n");
    let mut big = eml(
        ZHANG,
        &[SUP],
        &[CC],
        &utf8_word("张伟 第46周周报"),
        "w46-big@zhang",
        "Fri, 13 Nov 2026 10:00:00 +0800",
    );
    // Two MB of attachment-like text after the short body.
    for i in 0..(2 << 20) / 64 {
        big.extend_from_slice(format!("{i:062}\r\n").as_bytes());
    }
    let small = eml(
        LINA,
        &[SUP],
        &[CC],
        &utf8_word("李娜 第46周周报"),
        "w46@lina",
        "Fri, 13 Nov 2026 10:00:00 +0800",
    );
    for raw in [&big, &small] {
        servers
            .append(ASSISTANT, "INBOX", raw, at(BEFORE_W46))
            .await
            .expect("append");
    }

    app.sync(AFTER_W46);

    let flagged = app.messages(true);
    let m = message(&flagged, "w46-big@zhang");
    assert_eq!(m["class"], "ignored", "{m}");
    assert_eq!(
        m["sender"], ZHANG,
        "the head is read for the assistant: {m}"
    );
    assert_eq!(m["subject"], "张伟 第46周周报", "{m}");
    let reason = m["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("too large (2.")
            && reason.contains("MB > 1 MB limit): kept raw, not read"),
        "{reason}"
    );
    assert_eq!(app.row(AFTER_W46, ZHANG, "2026-W46")["status"], "missing");
    assert_eq!(app.row(AFTER_W46, LINA, "2026-W46")["status"], "on_time");

    let db = Connection::open(app.dir.path().join("reportd.sqlite3")).expect("db");
    let kept: Vec<u8> = db
        .query_row(
            "SELECT r.raw FROM messages m JOIN message_raw r ON r.message = m.id
             WHERE m.message_id = 'w46-big@zhang'",
            [],
            |r| r.get(0),
        )
        .expect("raw kept");
    assert_eq!(kept, big, "the raw message is kept byte for byte");
}

// ---------------------------------------------------------------------------
// Bounded batches.

/// A Maildir of `big` messages of `big_bytes` each and `small` small ones,
/// all reports or mail from the team, and a config reading it.
fn maildir_mailbox(dir: &Path, big: usize, big_bytes: usize, small: usize) -> Config {
    let maildir = dir.join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
    }
    for i in 0..big + small {
        let mut raw = eml(
            ZHANG,
            &[SUP],
            &[CC],
            &utf8_word(&format!("张伟 周报 {i}")),
            &format!("m{i}@zhang"),
            "Fri, 13 Nov 2026 10:00:00 +0800",
        );
        if i < big {
            while raw.len() < big_bytes {
                raw.extend_from_slice(&[b'x'; 999]);
                raw.push(b'\n');
            }
        }
        std::fs::write(maildir.join("new").join(format!("{i:04}.eml")), raw).expect("write");
    }
    let calendar = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/calendar/cn-2026.toml");
    let text = format!(
        "database = {:?}\ntracking_starts = \"2026-11-02\"\ncalendar = [{:?}]\n[maildir]\npath = {:?}\n{}",
        dir.join("db.sqlite3").display().to_string(),
        calendar.display().to_string(),
        maildir.display().to_string(),
        app::ROSTER,
    );
    Config::from_toml_str(&text, Path::new("resources.toml")).expect("config")
}

#[tokio::test]
async fn maildir_source_stores_and_intake_parses_in_bounded_batches() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 12 × 3 MB = 36 MB and 450 small ones: more than one batch of each kind.
    let cfg = maildir_mailbox(dir.path(), 12, 3 << 20, 450);
    let SourceConfig::Maildir(md) = &cfg.source else {
        panic!("a Maildir config")
    };
    let mut conn = reportd::store::open(&cfg.database).expect("db");

    let fetched = MaildirSource::new(&md.path)
        .fetch(&mut conn)
        .expect("fetch");
    assert_eq!(fetched.new, 462);
    let b = fetched.batches;
    assert!(b.batches >= 3, "{b:?}");
    assert!(b.largest_messages <= BATCH_MESSAGES, "{b:?}");
    assert!(b.largest_bytes <= BATCH_BYTES, "{b:?}");

    let calendar = reportd::calendar::Calendar::load(&cfg.calendar).expect("calendar");
    let stats = reportd::reports::intake(&mut conn, &cfg, &calendar, |_, _| {}).expect("intake");
    assert_eq!(stats.total(), 462);
    let b = stats.batches;
    assert!(b.batches >= 3, "{b:?}");
    assert!(b.largest_messages <= BATCH_MESSAGES, "{b:?}");
    assert!(b.largest_bytes <= BATCH_BYTES, "{b:?}");
    let unclassified: i64 = conn
        .query_row(
            "SELECT count(*) FROM messages WHERE class IS NULL",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(unclassified, 0);
}

/// What an intake decided: every message's class and every report row
/// (message, person, period), in id order.
type Decided = (Vec<(i64, String)>, Vec<(i64, String, String)>);

fn classes_and_reports(conn: &Connection) -> Decided {
    let classes = conn
        .prepare("SELECT id, class FROM messages ORDER BY id")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let reports = conn
        .prepare("SELECT message, person, period FROM reports ORDER BY id")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    (classes, reports)
}

#[tokio::test]
async fn an_intake_that_fails_midway_leaves_no_transaction_open_and_the_next_one_ends_as_a_clean_run()
 {
    // More messages than one intake transaction records.
    let clean_dir = tempfile::tempdir().expect("tempdir");
    let failing_dir = tempfile::tempdir().expect("tempdir");
    let mut decided = Vec::new();
    for (dir, fail) in [(&clean_dir, false), (&failing_dir, true)] {
        let cfg = maildir_mailbox(dir.path(), 0, 0, 2_600);
        let SourceConfig::Maildir(md) = &cfg.source else {
            panic!("a Maildir config")
        };
        let calendar = reportd::calendar::Calendar::load(&cfg.calendar).expect("calendar");
        let mut conn = reportd::store::open(&cfg.database).expect("db");
        MaildirSource::new(&md.path)
            .fetch(&mut conn)
            .expect("fetch");
        if fail {
            // The disk fills while the 1,700th message is recorded.
            conn.execute_batch(
                "CREATE TRIGGER full_disk BEFORE UPDATE OF class ON messages
                 WHEN NEW.id = 1700 BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
            )
            .expect("trigger");
            let err = reportd::reports::intake(&mut conn, &cfg, &calendar, |_, _| {})
                .expect_err("the disk is full");
            assert!(err.to_string().contains("disk is full"), "{err}");
            assert!(conn.is_autocommit(), "a write transaction was left open");
            let classified: i64 = conn
                .query_row(
                    "SELECT count(*) FROM messages WHERE class IS NOT NULL",
                    [],
                    |r| r.get(0),
                )
                .expect("count");
            assert!(classified < 1_700, "{classified} classified");
            conn.execute_batch("DROP TRIGGER full_disk").expect("drop");
        }
        reportd::reports::intake(&mut conn, &cfg, &calendar, |_, _| {}).expect("intake");
        decided.push(classes_and_reports(&conn));
    }
    let (clean, after_failure) = (&decided[0], &decided[1]);
    assert_eq!(clean.0.len(), 2_600);
    assert!(!clean.1.is_empty(), "no report recorded");
    assert_eq!(after_failure, clean);
}

// ---------------------------------------------------------------------------
// A download that stalls.

/// A TCP proxy in front of Dovecot's IMAP port that, while `stalling`, stops
/// passing the server's bytes on once they contain `marker` (in the body of
/// one message), and keeps the connection open: the client's FETCH never
/// completes. Counts the connections it accepted.
struct ImapStallProxy {
    port: u16,
    stalling: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
}

impl ImapStallProxy {
    async fn start(upstream: u16, marker: &'static [u8]) -> ImapStallProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy bind");
        let port = listener.local_addr().expect("proxy addr").port();
        let stalling = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(AtomicUsize::new(0));
        let (flag, count) = (stalling.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    continue;
                };
                tokio::spawn(relay(client, server, marker, flag.clone()));
            }
        });
        ImapStallProxy {
            port,
            stalling,
            connections,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

async fn relay(
    client: tokio::net::TcpStream,
    server: tokio::net::TcpStream,
    marker: &'static [u8],
    stalling: Arc<AtomicBool>,
) {
    let (mut client_rd, mut client_wr) = client.into_split();
    let (mut server_rd, mut server_wr) = server.into_split();
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_rd, &mut server_wr).await;
    });
    let mut tail: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match server_rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut window = std::mem::take(&mut tail);
        window.extend_from_slice(&buf[..n]);
        if stalling.load(Ordering::SeqCst) && window.windows(marker.len()).any(|w| w == marker) {
            // Hold the connection open, passing nothing more, until the
            // client gives up on it.
            let _ = up.await;
            return;
        }
        if client_wr.write_all(&buf[..n]).await.is_err() {
            break;
        }
        tail = window[window.len().saturating_sub(marker.len())..].to_vec();
    }
    up.abort();
}

/// One fetch on its own connection, as `sync --once` does.
async fn pass(source: &ImapSource, conn: &mut Connection, now: DateTime<Utc>) -> FetchReport {
    let mut opened = source.open().await.expect("open");
    let report = source.fetch(&mut opened, conn, now).await.expect("fetch");
    ImapSource::close(opened).await;
    report
}

#[tokio::test]
async fn stalled_download_shrinks_to_one_message_which_is_skipped_and_fetched_on_a_later_pass() {
    const MARKER: &[u8] = b"STALL-HERE-PLEASE";
    let servers = MailServers::start(app::USERS);
    let mut ids = Vec::new();
    for i in 1..=5 {
        let id = format!("m{i}@zhang");
        let mut raw = eml(
            ZHANG,
            &[SUP],
            &[CC],
            &format!("note {i}"),
            &id,
            "Fri, 13 Nov 2026 10:00:00 +0800",
        );
        if i == 2 {
            // A large message whose bytes stall mid-way.
            raw.extend_from_slice(&vec![b'y'; 200_000]);
            raw.extend_from_slice(MARKER);
            raw.extend_from_slice(&vec![b'z'; 200_000]);
        }
        servers
            .append(ASSISTANT, "INBOX", &raw, at(BEFORE_W46))
            .await
            .expect("append");
        ids.push(id);
    }
    let proxy = ImapStallProxy::start(servers.imap_port(), MARKER).await;
    let app = App::new(
        Imap {
            port: proxy.port,
            security: "plain",
            password: servers.password(),
            ca_file: None,
        },
        "2026-11-02",
    );
    let cfg = Config::load(&app.config).expect("config");
    let source = ImapSource::new(imap_of(&cfg)).with_fetch_timeout(FetchTimeout {
        floor: Duration::from_secs(1),
        bytes_per_second: u64::MAX,
    });
    let mut conn = reportd::store::open(&cfg.database).expect("db");
    let t0 = Utc
        .with_ymd_and_hms(2026, 11, 13, 3, 0, 0)
        .single()
        .expect("t0");
    let stored = |conn: &Connection| -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT uid FROM messages ORDER BY uid")
            .expect("prepare");
        stmt.query_map([], |r| r.get::<_, u32>(0))
            .expect("query")
            .map(|u| u.expect("uid").to_string())
            .collect()
    };

    // All five in one batch: it stalls; [1,2] and [3,4,5]; [1,2] stalls;
    // [1] and [2]; [2] stalls alone and is skipped.
    let mut opened = source.open().await.expect("open");
    let first = source
        .fetch(&mut opened, &mut conn, t0)
        .await
        .expect("fetch");
    assert_eq!((first.new, first.skipped), (4, 1), "{first:?}");
    assert_eq!(
        first.batches.batches, 2,
        "[1] and [3,4,5] stored: {first:?}"
    );
    assert_eq!(
        proxy.connections(),
        4,
        "one connection, then a new one per stalled batch"
    );
    assert_eq!(stored(&conn), ["1", "3", "4", "5"]);
    let checkpoint: u32 = conn
        .query_row("SELECT last_uid FROM checkpoints", [], |r| r.get(0))
        .expect("checkpoint");
    assert_eq!(
        checkpoint, 5,
        "the checkpoint moves past the skipped message"
    );

    // The server delivers again; the skipped message waits for its time
    // while new mail goes on.
    proxy.stalling.store(false, Ordering::SeqCst);
    let raw = eml(
        ZHANG,
        &[SUP],
        &[CC],
        "note 6",
        "m6@zhang",
        "Fri, 13 Nov 2026 11:00:00 +0800",
    );
    servers
        .append(ASSISTANT, "INBOX", &raw, at(BEFORE_W46))
        .await
        .expect("append");
    ImapSource::close(opened).await;
    let soon = t0 + chrono::Duration::minutes(1);
    let second = pass(&source, &mut conn, soon).await;
    assert_eq!((second.new, second.skipped), (1, 0), "{second:?}");
    assert_eq!(stored(&conn), ["1", "3", "4", "5", "6"]);

    let later = t0 + chrono::Duration::minutes(6);
    let third = pass(&source, &mut conn, later).await;
    assert_eq!((third.new, third.skipped), (1, 0), "{third:?}");
    assert_eq!(stored(&conn), ["1", "2", "3", "4", "5", "6"]);
    let waiting: i64 = conn
        .query_row("SELECT count(*) FROM skipped_fetches", [], |r| r.get(0))
        .expect("count");
    assert_eq!(waiting, 0, "fetched at last, it is no longer owed");
}

// ---------------------------------------------------------------------------
// What the database keeps.

#[tokio::test]
async fn unrelated_mail_loses_its_raw_bytes_after_keep_unrelated_days_but_reports_and_flagged_mail_never()
 {
    let (servers, app) = start("[store]\nkeep_unrelated_days = 3\n");
    let old = "Tue, 10 Nov 2026 10:00:00 +0800";
    let mail = [
        // Five days before the pass: past the window.
        (
            "news@example.net",
            "行业周刊 第46期",
            "old-news@x",
            old,
            "2026-11-10T10:00:00+08:00",
        ),
        (
            ZHANG,
            "张伟 第46周周报",
            "w46@zhang",
            old,
            "2026-11-10T10:00:00+08:00",
        ),
        // Looks like a report, from nobody in the roster: flagged.
        (
            "stranger@example.org",
            "第46周周报",
            "w46@stranger",
            old,
            "2026-11-10T10:00:00+08:00",
        ),
        // A day before the pass: inside the window.
        (
            "news@example.net",
            "行业周刊 第47期",
            "new-news@x",
            old,
            "2026-11-14T10:00:00+08:00",
        ),
    ];
    let mut raws = std::collections::HashMap::new();
    for (from, subject, id, date, arrival) in mail {
        let raw = eml(from, &[SUP], &[CC], &utf8_word(subject), id, date);
        servers
            .append(ASSISTANT, "INBOX", &raw, at(arrival))
            .await
            .expect("append");
        raws.insert(id, raw);
    }

    app.sync(AFTER_W46);
    // A second pass over a database with a dropped message changes nothing.
    app.sync(AFTER_W46);

    let db = Connection::open(app.dir.path().join("reportd.sqlite3")).expect("db");
    let raw_of = |id: &str| -> Option<Vec<u8>> {
        db.query_row(
            "SELECT r.raw FROM messages m LEFT JOIN message_raw r ON r.message = m.id
             WHERE m.message_id = ?1",
            [id],
            |r| r.get(0),
        )
        .expect("the message row stays")
    };
    assert_eq!(raw_of("old-news@x"), None, "past the window: dropped");
    for kept in ["w46@zhang", "w46@stranger", "new-news@x"] {
        assert_eq!(
            raw_of(kept).as_ref(),
            raws.get(kept),
            "{kept} is kept whole"
        );
    }
    let (sha, size, dropped_at): (String, i64, Option<String>) = db
        .query_row(
            "SELECT sha256, size, raw_dropped_at FROM messages WHERE message_id = 'old-news@x'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("row");
    assert_eq!(sha.len(), 64, "its hash stays");
    assert_eq!(size, raws["old-news@x"].len() as i64, "its size stays");
    assert!(dropped_at.is_some(), "when it was dropped is recorded");

    // `messages` still lists it, with what classification found.
    let all = app.messages(false);
    let news = message(&all, "old-news@x");
    assert_eq!(news["class"], "ignored", "{news}");
    assert_eq!(news["subject"], "行业周刊 第46期", "{news}");
    assert_eq!(news["sender"], "news@example.net", "{news}");
    assert_eq!(message(&all, "w46@zhang")["class"], "report");
    assert_eq!(message(&all, "w46@stranger")["flagged"], true);
    assert_eq!(app.row(AFTER_W46, ZHANG, "2026-W46")["status"], "on_time");
}

#[tokio::test]
async fn a_download_tells_its_progress_from_none_to_every_message() {
    let servers = MailServers::start(app::USERS);
    // More than one batch, so that progress is told along the way.
    let count = BATCH_MESSAGES + 7;
    for i in 1..=count {
        let raw = eml(
            ZHANG,
            &[SUP],
            &[CC],
            &format!("note {i}"),
            &format!("p{i}@zhang"),
            "Fri, 13 Nov 2026 10:00:00 +0800",
        );
        servers
            .append(ASSISTANT, "INBOX", &raw, at(BEFORE_W46))
            .await
            .expect("append");
    }
    let app = App::new(Imap::plain(&servers), "2026-11-02");
    let cfg = Config::load(&app.config).expect("config");
    let told = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&told);
    let source = ImapSource::new(imap_of(&cfg)).with_progress(Box::new(move |done, total| {
        sink.lock().expect("lock").push((done, total));
    }));
    let mut conn = reportd::store::open(&cfg.database).expect("db");
    let report = pass(&source, &mut conn, Utc::now()).await;
    assert_eq!(report.new, count);
    let told = told.lock().expect("lock").clone();
    assert_eq!(told.first(), Some(&(0, count)), "{told:?}");
    assert_eq!(told.last(), Some(&(count, count)), "{told:?}");
    assert!(told.len() >= 3, "told along the way: {told:?}");
    assert!(told.windows(2).all(|w| w[0].0 <= w[1].0), "{told:?}");
}

/// The IMAP settings of a config that reads an IMAP mailbox.
fn imap_of(cfg: &Config) -> &reportd::config::ImapConfig {
    let SourceConfig::Imap(imap) = &cfg.source else {
        panic!("an IMAP config")
    };
    imap
}
