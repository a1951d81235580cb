//! The system benchmark of issue 9: the real `reportd` binary against the
//! same private Dovecot and Postfix the tests start (tests/common), over a
//! generated year of a company's mail (benches/support/, fixed
//! seed). It prints each figure beside its target, and writes them to
//! `target/bench/latest.json` and `latest.md`.
//!
//! `scripts/bench [--quick] [--messages N] [--people N] [--runs N]
//! [--no-baseline]` runs it (`cargo bench --bench system -- ...`). Under
//! `cargo test` (no `--bench` argument) it runs once as a smoke test on 200
//! messages, with a short idle window and a few latency reports, and checks
//! that every figure was measured and recognition is complete.

#[path = "../../tests/common/mod.rs"]
mod common;
mod daemon;
mod figures;
mod floor;
mod measure;
mod recognition;
mod setup;
#[path = "../support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::json;

use figures::{Figure, Goal};
use setup::Bench;

const BIN: &str = env!("CARGO_BIN_EXE_reportd");

/// What to run, from the command line.
#[derive(Debug, Clone)]
pub struct Args {
    pub messages: usize,
    pub people: usize,
    pub runs: usize,
    pub idle: Duration,
    pub latency_reports: usize,
    pub baseline: bool,
    /// Set up the servers, the mailbox and one instance, print how to run
    /// reportd on them, and wait (for profiling by hand) instead of measuring.
    pub hold: bool,
    /// `cargo test`: a small run that checks the bench still works.
    pub smoke: bool,
}

impl Args {
    fn parse() -> anyhow::Result<Args> {
        let argv: Vec<String> = std::env::args().skip(1).collect();
        let benching = argv.iter().any(|a| a == "--bench");
        let mut a = if benching {
            Args {
                messages: 50_000,
                people: 1_000,
                runs: 3,
                idle: Duration::from_secs(60),
                latency_reports: 50,
                baseline: true,
                hold: false,
                smoke: false,
            }
        } else {
            Args {
                messages: 200,
                people: 50,
                runs: 1,
                idle: Duration::from_secs(2),
                latency_reports: 3,
                baseline: false,
                hold: false,
                smoke: true,
            }
        };
        let mut it = argv.iter();
        while let Some(arg) = it.next() {
            let mut number = |what: &str| -> anyhow::Result<usize> {
                it.next()
                    .and_then(|v| v.replace(['_', ','], "").parse().ok())
                    .with_context(|| format!("{what} takes a number, e.g. {what} 10000"))
            };
            match arg.as_str() {
                "--bench" => {}
                "--quick" => {
                    a.messages = 10_000;
                    a.idle = Duration::from_secs(20);
                }
                "--messages" => a.messages = number("--messages")?,
                "--people" => a.people = number("--people")?,
                "--runs" => a.runs = number("--runs")?.max(1),
                "--idle-seconds" => a.idle = Duration::from_secs(number("--idle-seconds")? as u64),
                "--latency-reports" => a.latency_reports = number("--latency-reports")?,
                "--no-baseline" => a.baseline = false,
                "--baseline" => a.baseline = true,
                "--hold" => a.hold = true,
                // What the test harness passes to every target.
                other if other.starts_with("--") && !benching => {}
                other => bail!(
                    "unknown argument {other}: scripts/bench [--quick] [--messages N] [--people N] [--runs N] [--idle-seconds N] [--latency-reports N] [--no-baseline] [--hold]"
                ),
            }
        }
        Ok(a)
    }
}

fn main() {
    // Under `cargo test` the smoke run counts as one test in the summary
    // line scripts/test adds up, as libtest would print it.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let result = run();
    if smoke {
        let (passed, failed) = if result.is_ok() { (1, 0) } else { (0, 1) };
        let word = if failed == 0 { "ok" } else { "FAILED" };
        println!(
            "test result: {word}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 filtered out"
        );
    }
    if let Err(e) = result {
        eprintln!("bench failed: {e:#}");
        std::process::exit(1);
    }
}

/// Keeps the servers and the mailbox up for work by hand (`perf record`,
/// `heaptrack`) until Enter is pressed; then they stop with the process.
/// Without a terminal it waits to be killed, and its Dovecot and Postfix
/// stay behind (their directory is printed).
fn hold(bench: &Bench) -> anyhow::Result<()> {
    let inst = bench.instance("hold")?;
    say(&format!(
        "holding; press Enter to stop (Dovecot and Postfix in {} stop too). Run, e.g.:\n  \
         {BIN} --config {} sync --once --now {}\n  \
         (digest pass: --now {}; database {})",
        bench.servers.dir().display(),
        inst.config.display(),
        bench.now,
        bench.digest_at,
        inst.database.display()
    ));
    let mut line = String::new();
    if std::io::stdin()
        .read_line(&mut line)
        .map_or(true, |n| n == 0)
    {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    Ok(())
}

fn say(text: &str) {
    eprintln!("[{}] {text}", chrono::Local::now().format("%H:%M:%S"));
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn run() -> anyhow::Result<()> {
    let args = Args::parse()?;
    say(&format!("{args:?}"));
    let load_start = setup::loadavg();
    let bench = Bench::prepare(&args)?;
    if args.hold {
        return hold(&bench);
    }
    let n = bench.messages as f64;
    let mut figures = Vec::new();

    // The floor: a warm-up pass first (Dovecot builds its index of the new
    // Maildir), then the measured passes.
    let warm = floor::fetch_all(bench.servers.imap_port(), ASSISTANT_LOGIN, common::PASSWORD)?;
    say(&format!(
        "Dovecot's first look at the mailbox (index built): {:.2} s, {:.0} MiB of messages",
        secs(warm.wall),
        mib(warm.bytes)
    ));
    if warm.messages != bench.messages {
        bail!(
            "Dovecot holds {} messages, {} were written",
            warm.messages,
            bench.messages
        );
    }
    let floor_wall = median_of(args.runs, |_| {
        Ok(floor::fetch_all(bench.servers.imap_port(), ASSISTANT_LOGIN, common::PASSWORD)?.wall)
    })?;
    let floor_rate = n / secs(floor_wall);
    say(&format!(
        "floor: {:.2} s, {floor_rate:.0} msg/s",
        secs(floor_wall)
    ));

    // The first sync from an empty database, `runs` times.
    let mut costs = Vec::new();
    let mut db_size = 0;
    let mut last = None;
    for r in 0..args.runs {
        let inst = bench.instance(&format!("sync{r}"))?;
        let cost = measure::run(
            inst.command(&["sync", "--once", "--now", &bench.now]),
            &inst.log("sync"),
        )?;
        db_size = inst.database_size();
        say(&format!(
            "sync --once from empty #{r}: {:.2} s, peak RSS {:.0} MiB, wrote {:.0} MiB (wchar {:.0} MiB), database {:.0} MiB",
            secs(cost.wall),
            mib(cost.max_rss),
            mib(cost.write_bytes),
            mib(cost.wchar),
            mib(db_size)
        ));
        costs.push(cost);
        last = Some(inst);
    }
    let inst = last.context("no sync run")?;
    let sync = measure::median_cost(&costs);
    let sync_rate = n / secs(sync.wall);

    // Recognition, on the database of the last run.
    let rec = recognition::score(&inst, &bench.labels)?;
    say(&rec.summary());

    // The Python script, over the same mailbox (nothing added yet).
    let baseline = if args.baseline {
        match bench.baseline() {
            Ok(b) => Some(b),
            Err(e) => {
                say(&format!("Python baseline not run: {e:#}"));
                None
            }
        }
    } else {
        None
    };

    // status --json for every person and period.
    let status_wall = median_of(args.runs, |r| {
        inst.time(
            &["status", "--json", "--now", &bench.now],
            &format!("status{r}"),
        )
    })?;
    let status_rows = inst.status_rows(&bench.now)?;
    say(&format!(
        "status --json: {:.3} s, {status_rows} rows",
        secs(status_wall)
    ));

    // The pass that composes the weekly digests (nothing new arrived; the
    // digest time of the last week has come), beside a pass that owes nothing.
    let mut digested = None;
    let digest_wall = median_of(args.runs, |r| {
        let copy = inst.copy(&format!("digest{r}"))?;
        let wall = copy.time(&["sync", "--once", "--now", &bench.digest_at], "digest")?;
        digested = Some(copy);
        Ok(wall)
    })?;
    let noop_wall = median_of(args.runs, |r| {
        inst.copy(&format!("noop{r}"))?
            .time(&["sync", "--once", "--now", &bench.now], "noop")
    })?;
    // A pass owing nothing in reply reminder hours, which reads every
    // report still waiting for its reply: half an hour after a pass that
    // queued the morning's reminders and digests (not timed).
    let in_hours_wall = median_of(args.runs, |r| {
        let copy = inst.copy(&format!("hours{r}"))?;
        copy.time(&["sync", "--once", "--now", &bench.reminders_at], "morning")?;
        copy.time(&["sync", "--once", "--now", &bench.in_hours], "hours")
    })?;
    let digest_count = digested
        .context("no digest run")?
        .queued_digests(&bench.digest_period)?;
    say(&format!(
        "digest pass: {:.3} s ({digest_count} digests of {}); a pass owing nothing: {:.3} s, {:.3} s in reply reminder hours",
        secs(digest_wall),
        bench.digest_period,
        secs(noop_wall),
        secs(in_hours_wall)
    ));

    // Incremental: 10 new messages, then sync --once. Its floor: 10 other
    // new messages read by the bare loop (connect, LOGIN, EXAMINE, which
    // brings Dovecot's index up to date with the Maildir, and one UID
    // FETCH), which reportd then takes in untimed so that each timed pass
    // meets exactly 10 new ones and an index as stale as the floor met.
    let mut incremental_floor = Vec::new();
    let incremental = median_of(args.runs, |r| {
        bench.deliver_new(100 + r, 10)?;
        let floor = floor::fetch_last(
            bench.servers.imap_port(),
            ASSISTANT_LOGIN,
            common::PASSWORD,
            10,
        )?;
        anyhow::ensure!(
            floor.messages == 10,
            "the floor read {} new messages, not 10",
            floor.messages
        );
        incremental_floor.push(floor.wall);
        inst.time(&["sync", "--once", "--now", &bench.now], "absorb")?;
        bench.deliver_new(r, 10)?;
        inst.time(
            &["sync", "--once", "--now", &bench.now],
            &format!("incremental{r}"),
        )
    })?;
    let incremental_floor = measure::median_duration(incremental_floor);
    say(&format!(
        "incremental sync of 10: {:.3} s; the bare loop reading 10 new: {:.3} s",
        secs(incremental),
        secs(incremental_floor)
    ));

    // The daemon: idle CPU, then IDLE latency.
    say(&format!(
        "reportd run: settling, then {} s idle, then {} reports through Postfix",
        args.idle.as_secs(),
        args.latency_reports
    ));
    let d = daemon::measure(&inst, &bench, args.idle, args.latency_reports)?;
    let p50 = measure::percentile(&d.latencies, 50.0);
    let p99 = measure::percentile(&d.latencies, 99.0);
    let idle_per_minute = secs(d.idle_cpu) * 60.0 / secs(d.idle_window);
    say(&format!(
        "run: settled in {:.1} s; idle CPU {:.3} s over {:.0} s; latency p50 {:.3} s, p99 {:.3} s over {} reports ({} missed); peak RSS {:.0} MiB",
        secs(d.settle),
        secs(d.idle_cpu),
        secs(d.idle_window),
        secs(p50),
        secs(p99),
        d.latencies.len(),
        d.missed,
        mib(d.cost.max_rss)
    ));

    // The figures, beside the targets.
    let k = |v: f64| format!("{:.0}", v);
    figures.push(fig(
        "floor_msg_per_s",
        "floor: bare UID FETCH loop (batches of 1,000)",
        floor_rate,
        "msg/s",
        Goal::None,
        "",
    ));
    figures.push(fig(
        "floor_s",
        "floor: wall",
        secs(floor_wall),
        "s",
        Goal::None,
        "",
    ));
    figures.push(fig(
        "sync_s",
        "sync --once from empty: wall",
        secs(sync.wall),
        "s",
        Goal::AtMost(n / 20_000.0),
        &format!("≤ {:.2} s", n / 20_000.0),
    ));
    figures.push(fig(
        "sync_msg_per_s",
        "sync --once from empty: throughput",
        sync_rate,
        "msg/s",
        Goal::AtLeast(20_000.0),
        "≥ 20,000 msg/s",
    ));
    figures.push(fig(
        "sync_floor_ratio",
        "sync --once: time / floor's time",
        secs(sync.wall) / secs(floor_wall),
        "×",
        Goal::AtMost(3.0),
        "≤ 3 ×",
    ));
    if let Some(b) = &baseline {
        figures.push(fig(
            "baseline_msg_per_s",
            "Python script (imaplib, email, sqlite3)",
            b.rate,
            "msg/s",
            Goal::None,
            "",
        ));
        figures.push(fig(
            "sync_baseline_ratio",
            "sync --once: speed / Python script's",
            sync_rate / b.rate,
            "×",
            Goal::AtLeast(25.0),
            "≥ 25 ×",
        ));
    }
    figures.push(fig(
        "sync_peak_rss_mib",
        "sync --once: peak RSS",
        mib(sync.max_rss),
        "MiB",
        Goal::AtMost(64.0),
        "≤ 64 MiB (50,000 msgs)",
    ));
    if let Some(rss10k) = earlier_rss(&out_dir(args.smoke), bench.messages) {
        figures.push(fig(
            "sync_peak_rss_vs_10k",
            "sync --once: peak RSS / the 10,000-message run's",
            mib(sync.max_rss) / rss10k,
            "×",
            Goal::AtMost(1.1),
            "≤ 1.1 ×",
        ));
    }
    figures.push(fig(
        "sync_cpu_s",
        "sync --once: CPU (user + system)",
        secs(sync.cpu),
        "s",
        Goal::None,
        "",
    ));
    figures.push(fig(
        "sync_written_mib",
        "sync --once: written to disk",
        mib(sync.write_bytes),
        "MiB",
        Goal::None,
        "",
    ));
    figures.push(fig(
        "database_mib",
        "database final size",
        mib(db_size),
        "MiB",
        Goal::None,
        "",
    ));
    figures.push(fig(
        "written_per_size",
        "written / database size",
        sync.write_bytes as f64 / db_size.max(1) as f64,
        "×",
        Goal::AtMost(2.0),
        "≤ 2 ×",
    ));
    figures.push(fig(
        "incremental_s",
        "incremental sync of 10 new messages (Monday 08:00)",
        secs(incremental),
        "s",
        Goal::AtMost(0.2),
        "< 0.2 s",
    ));
    figures.push(fig(
        "incremental_floor_s",
        "floor: bare loop reading 10 new messages (connect, LOGIN, EXAMINE, UID FETCH)",
        secs(incremental_floor),
        "s",
        Goal::None,
        "",
    ));
    figures.push(fig(
        "idle_latency_p50_s",
        &format!("IDLE latency p50 ({} reports)", d.latencies.len()),
        secs(p50),
        "s",
        Goal::AtMost(0.8),
        "≤ 0.8 s",
    ));
    figures.push(fig(
        "idle_latency_p99_s",
        "IDLE latency p99",
        secs(p99),
        "s",
        Goal::AtMost(1.5),
        "≤ 1.5 s",
    ));
    figures.push(fig(
        "idle_cpu_s_per_min",
        &format!(
            "idle CPU per idle minute (over {} s)",
            k(secs(d.idle_window))
        ),
        idle_per_minute,
        "s",
        Goal::AtMost(0.5),
        "< 0.5 s",
    ));
    figures.push(fig(
        "status_s",
        &format!("status --json ({status_rows} rows)"),
        secs(status_wall),
        "s",
        Goal::AtMost(0.2),
        "< 0.2 s",
    ));
    figures.push(fig(
        "digest_pass_s",
        &format!("sync pass composing {digest_count} weekly digests"),
        secs(digest_wall),
        "s",
        Goal::AtMost(0.2),
        "< 0.2 s",
    ));
    figures.push(fig(
        "noop_pass_s",
        "sync pass with nothing new or owed (Monday 08:00)",
        secs(noop_wall),
        "s",
        Goal::None,
        "",
    ));
    figures.push(fig(
        "noop_in_hours_s",
        "the same in reply reminder hours (Monday 10:30)",
        secs(in_hours_wall),
        "s",
        Goal::None,
        "",
    ));
    figures.push(fig(
        "report_recall",
        "recognition: report recall",
        rec.report.recall(),
        "",
        Goal::None,
        "same before and after",
    ));
    figures.push(fig(
        "report_precision",
        "recognition: report precision",
        rec.report.precision(),
        "",
        Goal::None,
        "same before and after",
    ));
    figures.push(fig(
        "reply_recall",
        "recognition: reply recall",
        rec.reply.recall(),
        "",
        Goal::None,
        "same before and after",
    ));
    figures.push(fig(
        "reply_precision",
        "recognition: reply precision",
        rec.reply.precision(),
        "",
        Goal::None,
        "same before and after",
    ));
    figures.push(fig(
        "class_agreement",
        "recognition: messages in their labelled class",
        rec.agreement(),
        "",
        Goal::None,
        "same before and after",
    ));
    figures.push(fig(
        "run_peak_rss_mib",
        "reportd run: peak RSS",
        mib(d.cost.max_rss),
        "MiB",
        Goal::None,
        "",
    ));

    let machine = setup::machine();
    let load = format!(
        "load average {load_start:.1} at the start, {:.1} at the end",
        setup::loadavg()
    );
    let header = format!(
        "{} messages ({:.0} MiB), {} people on the roster ({} reps and clerks), {} runs each (median); {machine}; {load}; {}",
        bench.messages,
        mib(bench.bytes),
        bench.team.size(),
        bench.team.reporters.len(),
        args.runs,
        chrono::Utc::now().format("%Y-%m-%d")
    );
    println!("\n{header}\n\n{}", figures::text_table(&figures));
    let context = json!({
        "messages": bench.messages,
        "mailbox_bytes": bench.bytes,
        "people": bench.team.size(),
        "reporters": bench.team.reporters.len(),
        "runs": args.runs,
        "machine": machine,
        "load": load,
        "date": chrono::Utc::now().to_rfc3339(),
        "git": git_head(),
        "labels": rec.labels_json(),
        "sync_runs_s": costs.iter().map(|c| secs(c.wall)).collect::<Vec<_>>(),
        "dovecot_first_index_s": secs(warm.wall),
        "daemon_settle_s": secs(d.settle),
        "latencies_s": d.latencies.iter().map(|l| secs(*l)).collect::<Vec<_>>(),
        "latency_missed": d.missed,
        "sync_wchar_bytes": sync.wchar,
    });
    let out = out_dir(args.smoke);
    figures::write(&out, bench.messages, &figures, context, &header)?;
    say(&format!(
        "written: {}/latest.json and latest.md",
        out.display()
    ));
    if args.smoke {
        smoke_checks(&rec, &d, status_rows, digest_count)?;
    }
    Ok(())
}

/// The median wall time of `runs` runs.
fn median_of(
    runs: usize,
    mut run: impl FnMut(usize) -> anyhow::Result<Duration>,
) -> anyhow::Result<Duration> {
    let mut walls = Vec::with_capacity(runs);
    for r in 0..runs {
        walls.push(run(r)?);
    }
    Ok(measure::median_duration(walls))
}

/// The IMAP login of the assistant.
const ASSISTANT_LOGIN: &str = "zhaomin@example.com";

fn fig(
    key: &'static str,
    what: &str,
    value: f64,
    unit: &'static str,
    goal: Goal,
    target: &str,
) -> Figure {
    Figure {
        key,
        what: what.to_string(),
        value,
        unit,
        goal,
        target: target.to_string(),
    }
}

fn out_dir(smoke: bool) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join(if smoke { "bench-smoke" } else { "bench" })
}

/// The peak RSS (MiB) of the first sync in the last 10,000-message run
/// (`latest-10000.json`), to compare a larger run with.
fn earlier_rss(dir: &Path, messages: usize) -> Option<f64> {
    if messages <= 10_000 {
        return None;
    }
    let text = std::fs::read_to_string(dir.join("latest-10000.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["values"]["sync_peak_rss_mib"].as_f64()
}

fn git_head() -> String {
    Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short",
            "HEAD",
        ])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Under `cargo test`: the bench still measures everything, and the
/// generator's labels and reportd's classes agree.
fn smoke_checks(
    rec: &recognition::Scores,
    d: &daemon::Figures,
    status_rows: usize,
    digests: usize,
) -> anyhow::Result<()> {
    if rec.report.recall() < 1.0 || rec.report.precision() < 1.0 || rec.agreement() < 1.0 {
        bail!(
            "recognition of the generated reports is incomplete: {}",
            rec.summary()
        );
    }
    if d.missed > 0 || d.latencies.is_empty() {
        bail!(
            "{} of the latency reports never showed in the database",
            d.missed
        );
    }
    if status_rows == 0 || digests == 0 {
        bail!("status gave {status_rows} rows and the digest pass queued {digests} digests");
    }
    Ok(())
}
