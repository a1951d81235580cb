//! A pass judges again only what may have changed since the last judgement
//! (`reports::scope`): the deadlines due since, those whose emails may still
//! be owed, and the people and periods with a report, a reason or a ledger
//! row stored since. That must book and queue exactly what judging every
//! deadline since tracking began books and queues.
//!
//! Two databases read one Maildir through the real pipeline
//! (`Engine::pass`: store, classify, judge, book, queue) at the same rising
//! instants, with the same reasons filed between passes; before each pass
//! the second forgets its last judgement, so it judges every deadline. For
//! any arrivals (on time, late, read days later, misaddressed, a revision,
//! an earlier copy read later), reasons and pass instants, the ledger, its
//! notes and the outbox must be the same row for row after every pass. So
//! must they when the config changes which deadlines had passed.

mod app;
mod common;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use proptest::prelude::*;
use rusqlite::Connection;

use reportd::calendar::Calendar;
use reportd::config::Config;
use reportd::period::{self, Period};
use reportd::reports::compliance;
use reportd::sync::{Engine, Source};

const PEOPLE: [(&str, &str); 2] = [
    ("张伟", "zhangwei@example.com"),
    ("李娜", "lina@example.com"),
];
const SUP: &str = "王芳 <wangfang@example.com>";
const CC: &str = "赵敏 <zhaomin@example.com>";
/// Minutes either side of a deadline an arrival, a read or a reason
/// mostly falls: ten days.
const SPAN: i64 = 10 * 24 * 60;

fn periods() -> Vec<Period> {
    let weeks = (41..=49).map(|week| Period::Week { year: 2026, week });
    let months = (10..=11).map(|month| Period::Month { year: 2026, month });
    weeks.chain(months).collect()
}

/// A report: who, which period, minutes from its deadline it arrives,
/// minutes after that reportd first sees it, and whether the supervisor is
/// among its recipients.
#[derive(Debug, Clone)]
struct Report {
    person: usize,
    period: usize,
    arrives: i64,
    seen_after: i64,
    to_supervisor: bool,
}

/// A reason filed for a person's period, minutes from its deadline.
#[derive(Debug, Clone)]
struct Reason {
    person: usize,
    period: usize,
    at: i64,
}

fn report() -> impl Strategy<Value = Report> {
    (
        0..PEOPLE.len(),
        0..periods().len(),
        -SPAN..SPAN,
        // Most are read within days; some weeks later (moved out of Junk),
        // after the pass judging what may have changed has moved past them.
        prop_oneof![3 => 0..SPAN, 1 => 4 * SPAN..8 * SPAN],
        prop::bool::weighted(0.85),
    )
        .prop_map(
            |(person, period, arrives, seen_after, to_supervisor)| Report {
                person,
                period,
                arrives,
                seen_after,
                to_supervisor,
            },
        )
}

fn reason() -> impl Strategy<Value = Reason> {
    (
        0..PEOPLE.len(),
        0..periods().len(),
        prop_oneof![-SPAN..SPAN, 4 * SPAN..8 * SPAN],
    )
        .prop_map(|(person, period, at)| Reason { person, period, at })
}

/// A team reading `maildir`, tracking from `tracking_starts`.
fn config(dir: &Path, maildir: &Path, tracking_starts: &str) -> Config {
    let calendar = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/calendar/cn-2026.toml");
    let text = format!(
        "database = {:?}\ntracking_starts = {tracking_starts:?}\ncalendar = [{:?}]\n[maildir]\npath = {:?}\n{}",
        dir.join("unused.sqlite3").display().to_string(),
        calendar.display().to_string(),
        maildir.display().to_string(),
        app::ROSTER,
    );
    Config::from_toml_str(&text, Path::new("scope.toml")).expect("config")
}

fn deadline(p: Period, cfg: &Config, calendar: &Calendar) -> DateTime<Utc> {
    period::deadline(p, &cfg.rules.due, calendar, cfg.timezone)
        .expect("every period here has a deadline")
        .due
}

fn subject(name: &str, p: Period) -> String {
    match p {
        Period::Week { week, .. } => format!("{name} 第{week}周周报"),
        Period::Month { month, .. } => format!("{name} {month}月月报"),
    }
}

/// Puts report `i` in the Maildir, arrived at `at`.
fn deliver(maildir: &Path, i: usize, r: &Report, p: Period, at: DateTime<Utc>) {
    let (name, email) = PEOPLE[r.person];
    let to: &[&str] = if r.to_supervisor { &[SUP] } else { &[] };
    let raw = app::eml(
        &format!("{} <{email}>", app::utf8_word(name)),
        to,
        &[CC],
        &app::utf8_word(&subject(name, p)),
        &format!("r{i}@{email}"),
        &at.with_timezone(&Shanghai).to_rfc2822(),
    );
    let path = maildir.join("cur").join(format!("{i:04}.eml:2,S"));
    std::fs::write(&path, raw).expect("write");
    let file = std::fs::File::options()
        .write(true)
        .open(&path)
        .expect("open");
    file.set_modified(at.into()).expect("mtime");
}

/// One database and what it holds after a pass.
struct Db {
    conn: Connection,
    _dir: tempfile::TempDir,
}

impl Db {
    fn new() -> Db {
        let dir = tempfile::tempdir().expect("dir");
        let conn = reportd::store::open(&dir.path().join("db.sqlite3")).expect("db");
        Db { conn, _dir: dir }
    }

    /// The ledger, its notes and the outbox, row by row.
    fn books(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sql in [
            "SELECT id, at, person, period, kind, amount_fen, fund_fen, reason, evidence, reverses FROM ledger ORDER BY id",
            "SELECT entry, kind, note FROM ledger_notes ORDER BY entry, kind",
            "SELECT id, key, kind, state, not_before, last_error FROM outbox ORDER BY id",
        ] {
            let mut stmt = self.conn.prepare(sql).expect(sql);
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    let cells = (0..n)
                        .map(|i| Ok(format!("{:?}", r.get::<_, rusqlite::types::Value>(i)?)))
                        .collect::<rusqlite::Result<Vec<String>>>()?;
                    Ok(cells.join(" | "))
                })
                .expect(sql);
            out.extend(rows.map(|r| r.expect("row")));
        }
        out
    }

    /// The digests queued so far.
    fn digests(&self) -> i64 {
        self.conn
            .query_row(
                "SELECT count(*) FROM outbox WHERE kind = 'digest'",
                [],
                |r| r.get(0),
            )
            .expect("digests")
    }

    fn judged_every_deadline(&self) -> bool {
        let marks: i64 = self
            .conn
            .query_row("SELECT count(*) FROM judged", [], |r| r.get(0))
            .expect("judged");
        marks == 0
    }
}

/// Runs `reports` and `reasons` through passes at `instants` (minutes from
/// the first period's deadline), first over `cfgs[0]`, from the pass
/// `switch` on over `cfgs[1]`; checks after every pass that a database
/// judging what may have changed holds what one judging everything holds.
/// Returns how many of the narrowed passes queued digests (which judge
/// every deadline but settle only what may have changed).
fn run(
    cfgs: [&Config; 2],
    switch: usize,
    reports: &[Report],
    reasons: &[Reason],
    instants: &[i64],
    maildir: &Path,
) -> Result<usize, TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let calendar = Calendar::load(&cfgs[0].calendar).expect("calendar");
    let engines = cfgs.map(|c| Engine::new(c.clone(), calendar.clone()).expect("engine"));
    let source = Source::Maildir(reportd::mail::maildir::MaildirSource::new(maildir));
    let ps = periods();
    let first = deadline(ps[0], cfgs[0], &calendar);
    let (mut scoped, mut whole) = (Db::new(), Db::new());
    let (mut delivered, mut filed) = (vec![false; reports.len()], vec![false; reasons.len()]);
    let mut narrowed = 0;
    let mut narrowed_digests = 0;
    for (step, minutes) in instants.iter().enumerate() {
        let now = first + Duration::minutes(*minutes);
        let engine = &engines[usize::from(step >= switch)];
        for (i, r) in reports.iter().enumerate() {
            let p = ps[r.period];
            let at = deadline(p, cfgs[0], &calendar) + Duration::minutes(r.arrives);
            if !delivered[i] && at + Duration::minutes(r.seen_after) <= now {
                deliver(maildir, i, r, p, at);
                delivered[i] = true;
            }
        }
        for (i, e) in reasons.iter().enumerate() {
            let p = ps[e.period];
            let at = deadline(p, cfgs[0], &calendar) + Duration::minutes(e.at);
            if !filed[i] && at <= now {
                filed[i] = true;
                for db in [&scoped, &whole] {
                    // A reason for a period already excused is refused in both.
                    let _ = compliance::file_excuse(
                        &db.conn,
                        &engine.cfg,
                        PEOPLE[e.person].1,
                        p,
                        "出差",
                        "wangfang@example.com",
                        at,
                    );
                }
            }
        }
        whole
            .conn
            .execute("DELETE FROM judged", [])
            .expect("forget");
        let (was_narrowed, digests) = (!scoped.judged_every_deadline(), scoped.digests());
        for db in [&mut scoped, &mut whole] {
            runtime
                .block_on(engine.pass(&source, &mut db.conn, now, |_, _| {}))
                .expect("pass");
        }
        if !scoped.judged_every_deadline() {
            narrowed += 1;
        }
        if was_narrowed && scoped.digests() > digests {
            narrowed_digests += 1;
        }
        let (a, b) = (scoped.books(), whole.books());
        prop_assert_eq!(
            a.len(),
            b.len(),
            "after the pass at {} (step {})",
            now,
            step
        );
        for (x, y) in a.iter().zip(&b) {
            prop_assert_eq!(x, y, "after the pass at {} (step {})", now, step);
        }
    }
    prop_assert!(narrowed > 0 || instants.is_empty());
    Ok(narrowed_digests)
}

fn maildir(dir: &Path) -> PathBuf {
    let maildir = dir.join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
    }
    maildir
}

/// Pass instants: minutes from the first deadline, rising, over the
/// periods' span and a little beyond.
fn instants() -> impl Strategy<Value = Vec<i64>> {
    prop::collection::vec(60i64..12 * 24 * 60, 3..14).prop_map(|steps| {
        let mut at = -2 * 24 * 60;
        steps
            .into_iter()
            .map(|s| {
                at += s * 2;
                at
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn judging_what_may_have_changed_books_and_queues_what_judging_everything_does(
        reports in prop::collection::vec(report(), 0..14),
        reasons in prop::collection::vec(reason(), 0..4),
        instants in instants(),
    ) {
        let dir = tempfile::tempdir().expect("dir");
        let maildir = maildir(dir.path());
        let cfg = config(dir.path(), &maildir, "2026-10-05");
        run([&cfg, &cfg], usize::MAX, &reports, &reasons, &instants, &maildir)?;
    }

    #[test]
    fn when_the_config_changes_which_deadlines_had_passed_everything_is_judged_again(
        reports in prop::collection::vec(report(), 0..10),
        instants in instants(),
        switch in 1usize..4,
    ) {
        let dir = tempfile::tempdir().expect("dir");
        let maildir = maildir(dir.path());
        // Tracking moves back two weeks: deadlines that had passed before
        // are judged for the first time.
        let late = config(dir.path(), &maildir, "2026-10-19");
        let early = config(dir.path(), &maildir, "2026-10-05");
        run([&late, &early], switch, &reports, &[], &instants, &maildir)?;
    }
}

#[test]
fn a_digest_pass_books_what_changed_as_judging_everything_does() {
    // Passes on Monday mornings, each when the weekly digests fall due:
    // a digest judges every deadline, but settles only what may have
    // changed since the last judgement. Between them, a report read days
    // late (a late fine, its arrival noted), an on-time report read after
    // its fine was booked (a waiver) and a reason filed after the
    // deadline (a waiver).
    let dir = tempfile::tempdir().expect("dir");
    let maildir = maildir(dir.path());
    let cfg = config(dir.path(), &maildir, "2026-10-05");
    let day = 24 * 60;
    let reports = [
        Report {
            person: 0,
            period: 1,
            arrives: 3 * day,
            seen_after: 60,
            to_supervisor: true,
        },
        Report {
            person: 1,
            period: 2,
            arrives: -60,
            seen_after: 9 * day,
            to_supervisor: true,
        },
        Report {
            person: 0,
            period: 3,
            arrives: -day,
            seen_after: 60,
            to_supervisor: true,
        },
    ];
    let reasons = [Reason {
        person: 1,
        period: 3,
        at: 2 * day,
    }];
    // Saturday 22:00 to Monday 08:31, then a week at a time.
    let monday = day + 10 * 60 + 31;
    let instants: Vec<i64> = (0..7).map(|w| monday + w * 7 * day).collect();
    let digest_passes = run(
        [&cfg, &cfg],
        usize::MAX,
        &reports,
        &reasons,
        &instants,
        &maildir,
    )
    .expect("the narrowed passes book and queue what judging everything does");
    assert!(digest_passes >= 5, "{digest_passes} narrowed digest passes");
}

#[test]
fn a_pass_after_a_judgement_judges_only_what_may_have_changed() {
    // The scope is narrowed at all: after a first pass, a pass an hour later
    // with nothing new covers the deadlines of the last weeks, not all.
    let dir = tempfile::tempdir().expect("dir");
    let maildir = maildir(dir.path());
    let cfg = config(dir.path(), &maildir, "2026-06-01");
    let calendar = Calendar::load(&cfg.calendar).expect("calendar");
    let db = Db::new();
    let mut conn = db.conn;
    let now = Utc
        .with_ymd_and_hms(2026, 11, 23, 0, 0, 0)
        .single()
        .expect("instant");
    let engine = Engine::new(cfg.clone(), calendar.clone()).expect("engine");
    let source = Source::Maildir(reportd::mail::maildir::MaildirSource::new(&maildir));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime
        .block_on(engine.pass(&source, &mut conn, now, |_, _| {}))
        .expect("first pass");
    let later = now + Duration::hours(1);
    let schedule = compliance::schedule(&cfg, &calendar, later, &[]);
    let part = reportd::reports::scope::part(&conn, &schedule, later, later - Duration::days(30))
        .expect("part");
    let all =
        compliance::verdicts_in(&conn, &schedule, later, &compliance::Part::Whole).expect("all");
    let some = compliance::verdicts_in(&conn, &schedule, later, &part).expect("some");
    assert!(matches!(part, compliance::Part::Some { .. }), "{part:?}");
    assert!(
        some.len() < all.len() / 3,
        "{} of {}",
        some.len(),
        all.len()
    );
    assert!(
        some.iter()
            .all(|v| v.deadline.due > later - Duration::days(30)),
        "{some:?}"
    );
    // Going back in time judges everything.
    let earlier = now - Duration::hours(1);
    let schedule = compliance::schedule(&cfg, &calendar, earlier, &[]);
    let part =
        reportd::reports::scope::part(&conn, &schedule, earlier, earlier - Duration::days(30))
            .expect("part");
    assert!(matches!(part, compliance::Part::Whole), "{part:?}");
}
