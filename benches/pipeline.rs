//! The whole pipeline on a generated mailbox, with no server: a Maildir of
//! [`MESSAGES`] messages from a team of 50 reps and clerks under 5
//! supervisors over the first 13 weeks of 2026, written by the generator
//! the system benchmark uses too (`support/`: reports in many
//! subject styles, charsets and mail clients' header styles; on time, late,
//! missing, revised and misaddressed; replies, auto-replies, newsletters,
//! look-alikes), without attachments.
//!
//! - `pipeline/pass`: `Engine::pass` with the Maildir source into a fresh
//!   SQLite file (fetch + parse + classify + judge + book + queue emails),
//!   as the first `reportd sync --once` over an existing mailbox does.
//! - `pipeline/fetch` and `pipeline/process`: the two halves of a pass
//!   (reading the Maildir into the raw store; classifying, judging, booking
//!   and queueing what is stored).
//! - `wakeup/judge_and_book`: judging every deadline again on the
//!   already-ingested database when nothing new arrived, the cost of each
//!   wake-up of the daemon.
//!
//! `cargo bench --bench pipeline`. Under `cargo test --all-targets` each
//! benchmark runs once on a smaller mailbox ([`TEST_MESSAGES`]).

mod support;

use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Duration as Span, NaiveDate, Utc};
use chrono_tz::Asia::Shanghai;
use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use rusqlite::Connection;
use tempfile::TempDir;

use reportd::calendar::Calendar;
use reportd::config::Config;
use reportd::store;
use reportd::sync::{Engine, Judging, PassReport, Source};

use support::mailbox::{self, Spec, Team};
use support::render;

/// Messages in the benchmarked mailbox.
const MESSAGES: usize = 1_000;
/// Messages when the bench runs as a test (`cargo test --all-targets`).
const TEST_MESSAGES: usize = 120;
/// Reps and clerks.
const REPORTERS: usize = 50;
/// Weeks of mail: enough that the 1,000 messages are most reports of every
/// week, as in a small team's mailbox.
const WEEKS: i64 = 13;

fn config_text(dir: &Path, team: &Team) -> String {
    let calendar = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/calendar/cn-2026.toml");
    format!(
        "timezone = \"Asia/Shanghai\"\n\
         database = \"{db}\"\n\
         tracking_starts = \"2026-01-05\"\n\
         calendar = [\"{calendar}\"]\n\n\
         [maildir]\npath = \"{maildir}\"\n{roster}",
        db = dir.join("unused.sqlite3").display(),
        calendar = calendar.display(),
        maildir = dir.join("Maildir").display(),
        roster = team.roster_toml(),
    )
}

fn spec(messages: usize) -> Spec {
    Spec {
        messages,
        first_monday: NaiveDate::from_ymd_opt(2026, 1, 5).expect("date"),
        weeks: WEEKS,
        seed: 2026,
        attachments: false,
    }
}

/// The generated mailbox, its config and the engine, built once.
struct Fixture {
    _dir: TempDir,
    engine: Engine,
    source: Source,
    now: DateTime<Utc>,
    messages: usize,
    bytes: usize,
}

impl Fixture {
    fn new(n: usize) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("reportd-bench-")
            .tempdir()
            .expect("temp dir");
        let maildir = dir.path().join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("Maildir");
        }
        let team = Team::new(REPORTERS);
        let config_path = dir.path().join("reportd.toml");
        let cfg = Config::from_toml_str(&config_text(dir.path(), &team), &config_path)
            .unwrap_or_else(|e| panic!("bench config: {e}"));
        let calendar = Calendar::load(&cfg.calendar).expect("calendar");
        let mail = mailbox::mailbox(&spec(n), &team, &calendar);
        let mut bytes = 0;
        for (i, m) in mail.iter().enumerate() {
            let path = maildir
                .join("new")
                .join(format!("{}.bench{i}.reportd", m.at.timestamp()));
            let mut file = File::create(&path).expect("message file");
            let raw = render::render(m);
            bytes += raw.len();
            file.write_all(&raw).expect("message");
            file.set_modified(m.at.into()).expect("mtime");
        }
        // Judged an hour after the last arrival.
        let now = mail.last().map_or_else(Utc::now, |m| m.at) + Span::hours(1);
        let source = Source::from_config(&cfg);
        let engine = Engine::new(cfg, calendar).expect("engine");
        Fixture {
            _dir: dir,
            engine,
            source,
            now,
            messages: mail.len(),
            bytes,
        }
    }

    /// A fresh, migrated database in its own temp dir.
    fn fresh_db(&self) -> (Connection, TempDir) {
        let dir = tempfile::Builder::new()
            .prefix("reportd-bench-db-")
            .tempdir()
            .expect("temp dir");
        let conn = store::open(&dir.path().join("reportd.sqlite3")).expect("database");
        (conn, dir)
    }

    fn fetch(&self, conn: &mut Connection) {
        let fetched = block_on(self.source.fetch_once(conn)).expect("fetch");
        assert_eq!(fetched, self.messages);
    }

    fn pass(&self, conn: &mut Connection) -> PassReport {
        let report =
            block_on(self.engine.pass(&self.source, conn, self.now, |_, _| {})).expect("pass");
        assert_eq!(report.fetched, self.messages);
        assert_eq!(report.intake.total(), self.messages);
        report
    }
}

/// The Maildir source does no I/O that waits, so a current-thread runtime
/// serves; building it is outside every measurement.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    thread_local! {
        static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime");
    }
    RT.with(|rt| rt.block_on(future))
}

fn bench_pipeline(c: &mut Criterion) {
    // `cargo bench` passes --bench; `cargo test` runs each benchmark once.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let fx = Fixture::new(if benchmarking {
        MESSAGES
    } else {
        TEST_MESSAGES
    });
    let mut group = c.benchmark_group("pipeline");
    // A pass takes a few hundred milliseconds: the same few iterations in
    // every sample rather than criterion's 1, 2, ... 10 ramp.
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(fx.messages as u64));
    group.bench_function("pass", |b| {
        b.iter_batched(
            || fx.fresh_db(),
            |(mut conn, dir)| {
                let report = fx.pass(&mut conn);
                (conn, dir, report)
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("fetch", |b| {
        b.iter_batched(
            || fx.fresh_db(),
            |(mut conn, dir)| {
                fx.fetch(&mut conn);
                (conn, dir)
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("process", |b| {
        b.iter_batched(
            || {
                let (mut conn, dir) = fx.fresh_db();
                fx.fetch(&mut conn);
                (conn, dir)
            },
            |(mut conn, dir)| {
                let (intake, _, _) = fx
                    .engine
                    .process(&mut conn, fx.now, |_, _| {})
                    .expect("process");
                assert_eq!(intake.total(), fx.messages);
                (conn, dir)
            },
            BatchSize::PerIteration,
        )
    });
    // The daemon's wake-up with nothing new: every deadline judged again on
    // the ingested database; nothing more is booked or queued.
    let (mut conn, _dir) = fx.fresh_db();
    let first = fx.pass(&mut conn);
    eprintln!(
        "mailbox: {} messages, {} bytes; first pass at {}: {:?}; {} ledger entries booked, {} emails queued",
        fx.messages,
        fx.bytes,
        fx.now.with_timezone(&Shanghai).format("%Y-%m-%d %H:%M"),
        first.intake,
        first.booked.len(),
        first.queued,
    );
    group.finish();
    let mut group = c.benchmark_group("wakeup");
    group.bench_function("judge_and_book", |b| {
        b.iter(|| {
            let judged = fx
                .engine
                .judge_and_book(&mut conn, fx.now)
                .expect("judge_and_book");
            assert!(
                matches!(judged, Judging::Done { ref booked, queued: 0 } if booked.is_empty()),
                "{judged:?}"
            );
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    targets = bench_pipeline
}
criterion_main!(benches);
