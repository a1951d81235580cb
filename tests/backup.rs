//! `reportd backup` and `reportd restore` through the real binary, with a
//! real Dovecot: a backup taken while `reportd run` is ingesting a stream of
//! mail is one consistent instant (it opens, passes `integrity_check`, and
//! its IMAP checkpoint covers exactly the messages it holds), and restoring
//! it, then syncing, ends with the same ledger, messages and outbox as the
//! undisturbed daemon: nothing lost, nothing doubled. A restore is refused
//! while the daemon holds the writer lock.

mod app;
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use app::{App, Imap, USERS};
use chrono::{DateTime, FixedOffset, TimeDelta};
use common::MailServers;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

/// W45 onwards is judged (by the real clock).
const TRACKING: &str = "2026-11-02";
/// Messages delivered while the daemon runs.
const MESSAGES: usize = 400;
/// Of those, how many are held back until the backup is done, so that it
/// cannot hold them all.
const HELD_BACK: usize = 50;

/// Message `i` of the stream: every twentieth a weekly report of 张伟 or
/// 李娜 for W45, the rest a 24 KiB newsletter (so that the database spans
/// several backup steps); arrival 15 minutes apart from Tuesday 3 November.
fn message(i: usize) -> (Vec<u8>, DateTime<FixedOffset>) {
    let at = DateTime::parse_from_rfc3339("2026-11-03T09:00:00+08:00").expect("date")
        + TimeDelta::minutes(15 * i as i64);
    let date = at.to_rfc2822();
    let id = format!("m{i}@example.com");
    if i.is_multiple_of(20) {
        let (from, name) = if i.is_multiple_of(40) {
            ("zhangwei@example.com", "张伟")
        } else {
            ("lina@example.com", "李娜")
        };
        let raw = app::eml(
            &format!("{name} <{from}>"),
            &["wangfang@example.com"],
            &["zhaomin@example.com"],
            "周报 2026-W45",
            &id,
            &date,
        );
        return (raw, at);
    }
    let padding =
        format!("第{i}期行业资讯，内容从略。 industry news, nothing to report.\r\n").repeat(300);
    let raw = format!(
        "From: 行业资讯 <news@vendor.example>\r\nTo: zhaomin@example.com\r\nSubject: 行业资讯 第{i}期\r\n\
         Date: {date}\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{padding}"
    );
    (raw.into_bytes(), at)
}

/// Appends messages `range` to the assistant's INBOX in one IMAP session.
async fn deliver(servers: &MailServers, range: std::ops::Range<usize>) {
    let mut session = servers.imap_session("zhaomin").await.expect("login");
    for i in range {
        let (raw, at) = message(i);
        let date = format!("\"{}\"", common::imap_date(at));
        session
            .append("INBOX", None, Some(&date), &raw)
            .await
            .unwrap_or_else(|e| panic!("APPEND {i}: {e}"));
    }
    let _ = session.logout().await;
}

fn try_count(db: &Path, sql: &str) -> rusqlite::Result<i64> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.query_row(sql, [], |r| r.get(0))
}

fn count(db: &Path, sql: &str) -> i64 {
    try_count(db, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Waits until `sql` on `db` counts at least `n` (a database still being
/// created counts 0).
fn wait_for_count(db: &Path, sql: &str, n: i64, daemon: &mut app::Running) {
    daemon.wait_until(&format!("{n} for {sql}"), |_| {
        try_count(db, sql).unwrap_or(0) >= n
    });
}

/// `v` without its `at` keys (when a note or an email was made differs
/// between the daemon's run and a later sync; what was booked must not).
fn without_times(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "at" | "created_at" | "not_before"))
                .map(|(k, v)| (k.clone(), without_times(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_times).collect()),
        other => other.clone(),
    }
}

/// What must come out the same: the ledger, every message and how it was
/// classified, and the keys of every email owed.
fn outcome(app: &App) -> (Value, Vec<Value>, Vec<String>) {
    let mut keys: Vec<String> = app
        .outbox()
        .iter()
        .map(|r| r["key"].as_str().expect("key").to_string())
        .collect();
    keys.sort();
    (without_times(&app.ledger()), app.messages(false), keys)
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

#[test]
fn a_backup_taken_while_run_ingests_is_one_instant_and_its_restore_plus_a_sync_ends_like_the_daemon()
 {
    let servers = MailServers::start(USERS);
    let app = App::new(Imap::plain(&servers), TRACKING);
    let db = app.database();
    let mut daemon = app.start(&[], &[]);
    // The first pass (missing reports booked) is in every backup below.
    wait_for_count(&db, "SELECT count(*) FROM last_pass", 1, &mut daemon);

    let copy = app.dir.path().join("backups/reportd-backup.sqlite3");
    std::fs::create_dir_all(copy.parent().expect("dir")).expect("backup dir");
    let copy_arg = copy.display().to_string();
    let (code, stdout, stderr) = std::thread::scope(|scope| {
        let servers = &servers;
        let stream = scope.spawn(move || block_on(deliver(servers, 0..MESSAGES - HELD_BACK)));
        // Mid-way: some mail stored, more arriving and being stored.
        wait_for_count(&db, "SELECT count(*) FROM messages", 100, &mut daemon);
        let backup = app.try_run(&["backup", &copy_arg]);
        stream.join().expect("delivery");
        backup
    });
    assert_eq!(code, Some(0), "{stderr}");
    eprintln!("{stdout}");
    assert!(stdout.contains("integrity ok"), "{stdout}");
    assert!(stdout.contains(" bytes"), "{stdout}");
    assert!(stdout.contains("last uid "), "{stdout}");
    block_on(deliver(&servers, MESSAGES - HELD_BACK..MESSAGES));

    // The copy: private, sound, and one instant of the database.
    let mode = std::fs::metadata(&copy).expect("copy").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let held = count(&copy, "SELECT count(*) FROM messages");
    assert!(
        held >= 100 && held <= (MESSAGES - HELD_BACK) as i64,
        "{held}"
    );
    let last_uid = count(&copy, "SELECT last_uid FROM checkpoints");
    assert_eq!(
        held, last_uid,
        "the checkpoint covers exactly the messages stored"
    );
    let integrity: String = Connection::open(&copy)
        .expect("open copy")
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok");

    // Refused while the daemon runs (exit 75), and nothing moved.
    let (code, _, stderr) = app.try_run(&["restore", &copy_arg]);
    assert_eq!(code, Some(75), "{stderr}");
    assert!(stderr.contains("reportd is already running"), "{stderr}");

    // The undisturbed daemon's outcome, once it has read everything.
    wait_for_count(
        &db,
        "SELECT count(*) FROM messages WHERE class IS NOT NULL",
        MESSAGES as i64,
        &mut daemon,
    );
    assert!(daemon.stop().success(), "{}", daemon.log_text());
    let reference = outcome(&app);
    assert_eq!(reference.1.len(), MESSAGES);
    assert!(
        !reference.0["entries"]
            .as_array()
            .expect("entries")
            .is_empty(),
        "a ledger to compare: {}",
        reference.0
    );

    let (code, stdout, stderr) = app.try_run(&["restore", &copy_arg]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("kept as "), "{stdout}");
    let kept: Vec<_> = std::fs::read_dir(app.dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with("reportd.sqlite3.before-restore-")
                && !n.ends_with("-wal")
                && !n.ends_with("-shm")
        })
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        count(
            &app.dir.path().join(&kept[0]),
            "SELECT count(*) FROM messages"
        ),
        MESSAGES as i64,
        "the replaced database is kept whole"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM messages"), held);

    let synced = app.run(&["sync", "--once"]);
    assert!(
        synced.starts_with(&format!(
            "fetched {} new message(s)",
            MESSAGES as i64 - held
        )),
        "{synced}"
    );
    assert_eq!(outcome(&app), reference, "nothing lost, nothing doubled");
}

#[tokio::test]
async fn backup_never_overwrites_a_file_without_force() {
    let servers = MailServers::start(USERS);
    let app = App::new(Imap::plain(&servers), TRACKING);
    deliver(&servers, 0..3).await;
    app.run(&["sync", "--once"]);
    let copy = app.dir.path().join("copy.sqlite3");
    std::fs::write(&copy, b"precious").expect("a file");
    let copy_arg = copy.display().to_string();
    let (code, _, stderr) = app.try_run(&["backup", &copy_arg]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("add --force"), "{stderr}");
    assert_eq!(std::fs::read(&copy).expect("kept"), b"precious");
    let (code, stdout, stderr) = app.try_run(&["backup", &copy_arg, "--force"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("3 message(s)"), "{stdout}");
}

#[tokio::test]
async fn backup_refuses_the_live_database_and_restore_refuses_to_drop_a_reason_filed_after_the_backup()
 {
    let servers = MailServers::start(USERS);
    let app = App::new(Imap::plain(&servers), TRACKING);
    deliver(&servers, 0..3).await;
    app.run(&["sync", "--once"]);
    let db = app.database();

    // Even with --force, and through `..`: the live database is no target.
    let sub = app.dir.path().join("sub");
    std::fs::create_dir(&sub).expect("sub");
    let via_dotdot = sub.join("..").join(db.file_name().expect("name"));
    let before = std::fs::read(&db).expect("db");
    for dest in [db.clone(), via_dotdot] {
        let dest_arg = dest.display().to_string();
        let (code, _, stderr) = app.try_run(&["backup", &dest_arg, "--force"]);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            stderr.contains("is the database reportd runs on"),
            "{stderr}"
        );
    }
    assert_eq!(std::fs::read(&db).expect("db"), before, "untouched");

    let copy = app.dir.path().join("copy.sqlite3");
    let copy_arg = copy.display().to_string();
    app.run(&["backup", &copy_arg]);
    app.run(&[
        "excuse",
        "--person",
        "zhangwei@example.com",
        "--period",
        "2026-W48",
        "--reason",
        "出差",
        "--by",
        "wangfang@example.com",
    ]);
    let (code, _, stderr) = app.try_run(&["restore", &copy_arg]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("zhangwei@example.com 2026-W48 valid reason (出差"),
        "{stderr}"
    );
    assert!(stderr.contains("add --force"), "{stderr}");
    assert_eq!(
        count(&db, "SELECT count(*) FROM excuses"),
        1,
        "nothing moved"
    );

    let (code, stdout, stderr) = app.try_run(&["restore", &copy_arg, "--force"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("kept as "), "{stdout}");
    assert!(stderr.contains("enter them again:\n"), "{stderr}");
    assert!(
        stderr.contains(
            "\n  zhangwei@example.com 2026-W48 valid reason (出差, by wangfang@example.com)"
        ),
        "{stderr}"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM excuses"), 0);
}
