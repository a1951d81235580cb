//! The fault suite: reportd over one fixed mailbox (October 2026 of a
//! 30-person team, see `faults/fixture.rs`), disturbed on purpose, must end
//! exactly as an undisturbed run does: the same ledger, status board and
//! messages, and every email in its recipients' mailboxes exactly once
//! (counted by Message-ID in each recipient's Dovecot mailbox).
//!
//! The undisturbed reference is computed once per test binary and shared.
//! Each scenario starts its own Dovecot and Postfix. The daemon's clock
//! starts at a fixed instant (`REPORTD_TEST_CLOCK_START`, see
//! `faults/fixture.rs`) so the result does not depend on when the suite runs.
//!
//! The long SIGKILL loop (50 kills) is `scripts/kill-loop`; a 10-kill loop
//! runs in `./scripts/test`. `REPORTD_FAULT_SEED=<n>` replays a loop.

mod app;
mod common;
mod faults {
    pub mod fixture;
    pub mod proxy;
    pub mod world;
}

use std::time::{Duration, Instant};

use chrono::DateTime;
use common::RecipientRule;
use faults::fixture::{CLOCK_START, Rng};
use faults::world::{Daemon, FINAL, Setup, Snapshot, World, clock_of_run};
use reportd::failpoint;

static REFERENCE: tokio::sync::OnceCell<Snapshot> = tokio::sync::OnceCell::const_new();

/// The undisturbed run: `reportd run` from an empty database until it has
/// read everything and sent everything.
async fn reference() -> &'static Snapshot {
    REFERENCE
        .get_or_init(|| async {
            let mut world = World::start(Setup::default()).await;
            let started = Instant::now();
            let mut daemon = world.spawn(&clock_of_run(0), None);
            world.settle(&mut daemon, None).await;
            eprintln!("reference run settled in {:?}", started.elapsed());
            world.finish(daemon);
            world.assert_each_email_once(None, &[]).await;
            world.snapshot()
        })
        .await
}

/// Settles, stops and compares with the reference; each email must be in
/// its recipients' mailboxes once (twice at most for those in `cut_short`).
async fn ends_as_the_reference(
    world: &World,
    mut daemon: Daemon,
    what: &str,
    cut_short: &[(String, String)],
) {
    world.settle(&mut daemon, None).await;
    world.finish(daemon);
    world.snapshot().assert_same(reference().await, what);
    world.assert_each_email_once(None, cut_short).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_undisturbed_run_books_fines_and_sends_each_email_once() {
    let reference = reference().await;
    // The fixture exercises what it claims to.
    let ledger = reference.ledger.join("\n");
    for needle in [
        "\"fine\"",
        "\"waiver\"",
        "rep03@example.com",
        "rep07@example.com",
    ] {
        assert!(
            ledger.contains(needle),
            "no {needle} in the ledger:\n{ledger}"
        );
    }
    let messages = reference.messages.join("\n");
    for class in [
        "\"report\"",
        "\"reply\"",
        "misaddressed",
        "\"ignored\"",
        "command",
    ] {
        assert!(messages.contains(class), "no {class} among the messages");
    }
    let outbox = reference.outbox.join("\n");
    for kind in [
        "late_notice",
        "fine_notice",
        "confirmation",
        "payroll",
        "archive",
    ] {
        assert!(
            outbox.contains(kind),
            "no {kind} email in the outbox:\n{outbox}"
        );
    }
    assert!(
        !outbox.contains("queued") && !outbox.contains("failed"),
        "{outbox}"
    );
    eprintln!(
        "reference: {} ledger entries, {} status rows, {} messages, {} emails",
        reference.ledger.len() - 1,
        reference.status.len(),
        reference.messages.len(),
        reference.outbox.len()
    );
}

/// `REPORTD_FAULT_SEED`, or a new seed from the clock; printed either way.
fn seed() -> u64 {
    let seed = std::env::var("REPORTD_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("kill loop seed: {seed} (replay with REPORTD_FAULT_SEED={seed})");
    seed
}

/// SIGKILLs `reportd run` `kills` times, each after a random delay, each
/// followed by a restart; then lets the last one finish.
async fn kill_loop(kills: usize) {
    let seed = seed();
    let mut rng = Rng(seed);
    let max_delay: u64 = std::env::var("REPORTD_FAULT_MAX_DELAY_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(900);
    let mut world = World::start(Setup::default()).await;
    let mut delays = Vec::new();
    let mut in_flight = Vec::new();
    let mut progress = Vec::new();
    for n in 0..kills {
        let mut daemon = world.spawn(&clock_of_run(n), None);
        let delay = rng.below(max_delay);
        delays.push(delay);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        if let Some(status) = daemon.exited() {
            panic!(
                "reportd run ended by itself ({status}):\n{}",
                daemon.log_text()
            );
        }
        daemon.kill();
        if std::env::var_os("REPORTD_FAULT_VERBOSE").is_some() {
            eprintln!(
                "--- run {n}, killed after {delay} ms:\n{}",
                daemon.log_text()
            );
        }
        progress.push(world.progress());
        in_flight.extend(world.in_flight());
    }
    for (n, (delay, done)) in delays.iter().zip(&progress).enumerate() {
        eprintln!("kill {:>2} after {delay:>4} ms: {done}", n + 1);
    }
    eprintln!("sends cut short (claimed, not marked; the 250 may have come): {in_flight:?}");
    let daemon = world.spawn(&clock_of_run(kills + 1), None);
    // Exactly once, but for a send killed between the server's 250 and its
    // mark: that recipient may hold a second copy (same Message-ID).
    ends_as_the_reference(
        &world,
        daemon,
        &format!("kill loop, seed {seed}"),
        &in_flight,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_sigkills_at_random_moments_each_restarted_end_as_the_undisturbed_run() {
    kill_loop(10).await;
}

/// The long loop: `scripts/kill-loop` (`REPORTD_FAULT_KILLS`, default 50).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "long: run by scripts/kill-loop"]
async fn fifty_sigkills_at_random_moments_each_restarted_end_as_the_undisturbed_run() {
    let kills = std::env::var("REPORTD_FAULT_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    kill_loop(kills).await;
}

/// Runs the daemon with `point` armed, expects it to abort there, then
/// restarts it. Returns the world and the daemon's log of the crash.
async fn crash_at(point: &str) -> (World, Vec<String>) {
    let mut world = World::start(Setup::default()).await;
    let before = outbox_lines(&world);
    let mut daemon = world.spawn(&clock_of_run(0), Some(point));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = daemon.exited() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "never reached {point}:\n{}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let log = daemon.log_text();
    assert!(!status.success(), "{status}");
    assert!(log.contains(&format!("failpoint {point} reached")), "{log}");
    (world, before)
}

/// The outbox as `reportd outbox --json` lists it, one line per email.
fn outbox_lines(world: &World) -> Vec<String> {
    world
        .app
        .outbox()
        .iter()
        .map(|r| format!("{} {}", r["key"], r["state"]))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_after_fetch_before_commit_stores_nothing_and_a_restart_reads_it_all() {
    let (mut world, _) = crash_at(failpoint::FETCH_BEFORE_COMMIT).await;
    assert!(
        world.app.messages(false).is_empty(),
        "the batch was not committed"
    );
    let daemon = world.spawn(&clock_of_run(1), None);
    ends_as_the_reference(&world, daemon, "crash before the fetch commit", &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_after_the_ledger_write_before_the_outbox_insert_books_and_queues_together() {
    let (mut world, before) = crash_at(failpoint::LEDGER_BEFORE_OUTBOX).await;
    let fines = world.app.ledger()["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["kind"] == "fine")
        .count();
    assert_eq!(
        fines, 0,
        "the fines went with the transaction that owed emails"
    );
    assert_eq!(
        outbox_lines(&world),
        before,
        "no email queued without its fines"
    );
    let daemon = world.spawn(&clock_of_run(1), None);
    ends_as_the_reference(&world, daemon, "crash between ledger and outbox", &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_after_the_servers_250_before_the_sent_mark_sends_that_one_email_at_most_twice() {
    let (mut world, _) = crash_at(failpoint::SMTP_250_BEFORE_SENT).await;
    // The email the server took is the one claimed and not marked.
    let in_flight = world.in_flight();
    assert_eq!(in_flight.len(), 1, "{in_flight:?}");
    let (user, mid) = in_flight[0].clone();
    world.wait_delivered_one(&user, &mid).await;
    let daemon = world.spawn(&clock_of_run(1), None);
    // The one window no SMTP client can close: that recipient may hold a
    // second copy, with the same Message-ID; nobody else does.
    let cut_short = [(user, mid)];
    ends_as_the_reference(
        &world,
        daemon,
        "crash between 250 and the sent mark",
        &cut_short,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dovecot_killed_mid_fetch_and_restarted_ends_as_the_undisturbed_run() {
    let mut world = World::start(Setup {
        proxy: true,
        ..Setup::default()
    })
    .await;
    let proxy = world.proxy.as_ref().expect("proxy");
    // Well inside the first FETCH of bodies: the mailbox is ~200 KB.
    proxy.stall_at(60_000);
    let mut daemon = world.spawn(&clock_of_run(0), None);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !world.proxy.as_ref().expect("proxy").stalled() {
        assert!(
            daemon.exited().is_none() && Instant::now() < deadline,
            "{}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(world.app.messages(false).is_empty(), "held mid-FETCH");
    world.servers.kill_dovecot();
    let proxy = world.proxy.as_ref().expect("proxy");
    proxy.stall_at(u64::MAX);
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    world.servers.restart_dovecot();
    ends_as_the_reference(&world, daemon, "dovecot killed mid-FETCH", &[]).await;
    let proxy = world.proxy.as_ref().expect("proxy");
    assert!(proxy.accepted() >= 2, "it reconnected");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_connection_cut_during_idle_is_reopened_and_loses_nothing() {
    let mut world = World::start(Setup {
        proxy: true,
        hold: &["late-newsletter"],
        ..Setup::default()
    })
    .await;
    let mut daemon = world.spawn(&clock_of_run(0), None);
    world.settle(&mut daemon, None).await;
    assert!(
        daemon.log_text().contains("idle=true"),
        "{}",
        daemon.log_text()
    );
    let proxy = world.proxy.as_ref().expect("proxy");
    let before = proxy.accepted();
    proxy.cut();
    world.append_held().await;
    ends_as_the_reference(&world, daemon, "connection cut during IDLE", &[]).await;
    let proxy = world.proxy.as_ref().expect("proxy");
    assert!(proxy.accepted() > before, "it reconnected");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mailbox_recreated_with_new_uids_stores_books_and_sends_nothing_twice() {
    let mut world = World::start(Setup::default()).await;
    let mut daemon = world.spawn(&clock_of_run(0), None);
    world.settle(&mut daemon, None).await;
    let old = world
        .servers
        .uid_validity("zhaomin", "INBOX")
        .await
        .expect("uidvalidity");
    let new = world.servers.renumber_uids("zhaomin", "INBOX");
    assert_ne!(old, new);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !daemon.log_text().contains("UIDVALIDITY changed") {
        assert!(Instant::now() < deadline, "{}", daemon.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ends_as_the_reference(&world, daemon, "UIDVALIDITY change", &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_delivered_twice_and_two_messages_with_one_message_id_are_each_kept_once() {
    let mut world = World::start(Setup::default()).await;
    // The same bytes again (a server delivering twice), a day later.
    let report = world
        .fixture
        .mail
        .iter()
        .find(|m| m.message_id.starts_with("report-"))
        .expect("a report");
    let (raw, arrival, twin_id) = (
        report.raw.clone(),
        report.arrival,
        report.message_id.clone(),
    );
    world
        .append(&raw, arrival + chrono::Duration::days(1))
        .await;
    // Another message under that Message-ID (a broken client).
    let other = format!(
        "From: 冯敏 <rep24@example.com>\r\nTo: 孙浩 <sunhao@example.com>\r\nSubject: 本周拜访计划\r\n\
         Date: Fri, 16 Oct 2026 18:00:00 +0800\r\nMessage-ID: <{twin_id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n下周计划。\r\n"
    );
    world
        .append(
            other.as_bytes(),
            DateTime::parse_from_rfc3339("2026-10-16T18:00:00+08:00").expect("t"),
        )
        .await;
    let daemon = world.spawn(&clock_of_run(0), None);
    let mut d = daemon;
    world.settle(&mut d, None).await;
    world.finish(d);
    let snapshot = world.snapshot();
    let reference = reference().await;
    assert_eq!(snapshot.ledger, reference.ledger);
    assert_eq!(snapshot.status, reference.status);
    assert_eq!(snapshot.outbox, reference.outbox);
    let added: Vec<&String> = snapshot
        .messages
        .iter()
        .filter(|m| !reference.messages.contains(m))
        .collect();
    assert_eq!(
        added.len(),
        1,
        "only the different message is new: {added:#?}"
    );
    assert!(
        added[0].contains("本周拜访计划") && added[0].contains(&twin_id),
        "{}",
        added[0]
    );
    assert!(
        added[0].contains("\"ignored\"")
            && added[0].contains("\"flagged\":true")
            && added[0].contains("different sender or subject"),
        "{}",
        added[0]
    );
    assert!(
        reference
            .messages
            .iter()
            .all(|m| snapshot.messages.contains(m)),
        "nothing of the reference is lost"
    );
    world.assert_each_email_once(None, &[]).await;
}

/// `--now` instants `minutes` after the daemon's clock start.
fn at(minutes: i64) -> String {
    let start = DateTime::parse_from_rfc3339(CLOCK_START).expect("start");
    (start + chrono::Duration::minutes(minutes)).to_rfc3339()
}

#[tokio::test(flavor = "multi_thread")]
async fn postfix_refusing_for_an_hour_then_accepting_gets_each_email_out_once() {
    let world = World::start(Setup::default()).await;
    world
        .servers
        .set_recipient_rule("example.com", RecipientRule::TempFail);
    for minutes in [0, 10, 25, 45, 60] {
        world.app.sync(&at(minutes));
        let outbox = world.app.outbox();
        assert!(
            outbox
                .iter()
                .all(|r| r["state"] == "queued" || r["state"] == "cancelled"),
            "nothing sent or failed at +{minutes} min: {outbox:#?}"
        );
        assert!(
            outbox
                .iter()
                .any(|r| r["last_error"].as_str().is_some_and(|e| e.contains("450"))),
            "the 4xx is recorded"
        );
    }
    assert!(world.delivered().await.is_empty());
    world
        .servers
        .set_recipient_rule("example.com", RecipientRule::Accept);
    let mut minutes = 61;
    while world.app.outbox().iter().any(|r| r["state"] == "queued") {
        assert!(
            minutes < 150,
            "still queued at +{minutes} min: {:#?}",
            world.app.outbox()
        );
        world.app.sync(&at(minutes));
        minutes += 4;
    }
    world.wait_delivered(None).await;
    world.app.sync(FINAL);
    world
        .snapshot()
        .assert_same(reference().await, "Postfix refusing for an hour");
    world.assert_each_email_once(None, &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recipient_refused_for_good_still_lets_the_supervisor_in_cc_get_the_notice() {
    let mut world = World::start(Setup::default()).await;
    let late_rep = format!("{}@example.com", world.fixture.late_rep);
    world
        .servers
        .set_recipient_rule(&late_rep, RecipientRule::PermFail);
    let mut daemon = world.spawn(&clock_of_run(0), None);
    world.settle(&mut daemon, Some(&late_rep)).await;
    world.finish(daemon);
    let outbox = world.app.outbox();
    let failed: Vec<&serde_json::Value> =
        outbox.iter().filter(|r| r["state"] == "failed").collect();
    assert!(!failed.is_empty(), "the refused rep had mail");
    for row in &failed {
        let recipients = row["recipients"].to_string();
        assert!(
            recipients.contains(&late_rep),
            "only mail to {late_rep} fails: {row}"
        );
        assert!(
            row["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("550")),
            "{row}"
        );
    }
    let notice = failed
        .iter()
        .find(|r| r["kind"] == "late_notice")
        .expect("the late notice to the refused rep");
    assert!(
        notice["recipients"]
            .to_string()
            .contains("sunhao@example.com"),
        "{notice}"
    );
    world.assert_each_email_once(Some(&late_rep), &[]).await;

    // The address is fixed; a retry reaches the rep, and nobody twice.
    world
        .servers
        .set_recipient_rule(&late_rep, RecipientRule::Accept);
    for row in &failed {
        world.app.run(&[
            "outbox",
            "--retry",
            row["key"].as_str().expect("key"),
            "--now",
            FINAL,
        ]);
    }
    world.app.sync(FINAL);
    world.wait_delivered(None).await;
    world.app.sync(FINAL);
    world
        .snapshot()
        .assert_same(reference().await, "5xx for one recipient, then --retry");
    world.assert_each_email_once(None, &[]).await;
}

/// A small tmpfs for the database, unmounted when dropped.
struct SmallFs(tempfile::TempDir);

impl SmallFs {
    fn mount(size: &str) -> SmallFs {
        let dir = tempfile::tempdir().expect("mount point");
        mount(
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ],
            dir.path(),
        );
        SmallFs(dir)
    }
    fn remount(&self, mode: &str) {
        mount(&["-o", &format!("remount,{mode}")], self.0.path());
    }
    /// Fills the file system up to `leave` free bytes.
    fn fill(&self, leave: u64) -> std::path::PathBuf {
        let filler = self.0.path().join("filler");
        let free = free_bytes(self.0.path());
        let file = std::fs::File::create(&filler).expect("filler");
        file.set_len(0).expect("len");
        use std::io::Write as _;
        let mut w = std::io::BufWriter::new(file);
        let chunk = vec![0u8; 4096];
        let mut left = free.saturating_sub(leave);
        while left > 0 {
            let n = left.min(4096) as usize;
            if w.write_all(&chunk[..n]).is_err() {
                break;
            }
            left -= n as u64;
        }
        let _ = w.flush();
        filler
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

fn mount(args: &[&str], at: &std::path::Path) {
    let out = std::process::Command::new("mount")
        .args(args)
        .arg(at)
        .output()
        .expect("mount");
    assert!(
        out.status.success(),
        "mount {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_bytes(path: &std::path::Path) -> u64 {
    let out = std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .expect("df");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df avail")
}

/// Runs `reportd run` until it exits by itself; its exit status and log.
async fn run_until_it_stops(world: &mut World, n: usize) -> (std::process::ExitStatus, String) {
    let mut daemon = world.spawn(&clock_of_run(n), None);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = daemon.exited() {
            return (status, daemon.log_text());
        }
        assert!(
            Instant::now() < deadline,
            "reportd run kept going:\n{}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_or_full_database_stops_reportd_with_a_clear_error_and_a_restart_loses_nothing()
{
    let fs = SmallFs::mount("32m");
    let mut world = World::start(Setup {
        db_dir: Some(fs.0.path().to_path_buf()),
        ..Setup::default()
    })
    .await;
    // Read-only: it says so and stops.
    fs.remount("ro");
    let (status, log) = run_until_it_stops(&mut world, 0).await;
    assert!(!status.success(), "{log}");
    assert!(log.to_lowercase().contains("read-only"), "{log}");
    assert!(
        log.contains(&world.database().display().to_string()),
        "names the file: {log}"
    );
    fs.remount("rw");
    // Full: the first batch of mail does not fit.
    let filler = fs.fill(48 * 1024);
    let (status, log) = run_until_it_stops(&mut world, 1).await;
    eprintln!("on a full disk:\n{log}");
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("disk is full") || log.contains("No space"),
        "{log}"
    );
    assert!(
        log.to_lowercase().contains("free space"),
        "says what to do: {log}"
    );
    assert!(
        world.app.messages(false).len() < world.fixture.mail.len(),
        "it stopped early"
    );
    // Space returns: it goes on as if nothing happened.
    std::fs::remove_file(filler).expect("free the space");
    let daemon = world.spawn(&clock_of_run(2), None);
    ends_as_the_reference(&world, daemon, "full and read-only database", &[]).await;
}
