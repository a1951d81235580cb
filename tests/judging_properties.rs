//! Properties of judging and booking (issue 10, item 2), for any arrival
//! times, periods and excuses: the pure verdict ([`compliance::judge`])
//! settled into a real SQLite ledger ([`ledger::settle`]), as
//! `Engine::judge_and_book` does at each pass.
//!
//! A scenario is a few people and periods, each with an optional report
//! (arriving at any minute around its deadline and read by reportd some
//! time later) and an optional excuse (filed at any minute around it), and
//! a rising series of instants at which reportd judges what it has read so
//! far. After every pass: at most one fine per person and period, a waiver
//! never exceeds its fine, each fund share is the configured percent of its
//! fine in whole fen; judging again at the same instant books nothing.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Asia::Shanghai;
use proptest::prelude::*;
use rusqlite::Connection;

use reportd::calendar::Calendar;
use reportd::config::Rules;
use reportd::ledger::{self, EntryKind};
use reportd::money::Fen;
use reportd::period::{self, Deadline, Period};
use reportd::reports::FirstReport;
use reportd::reports::compliance::{self, Excuse, Verdict};

const PEOPLE: [&str; 3] = [
    "zhangwei@example.com",
    "lina@example.com",
    "zhaoqiang@example.com",
];
/// Minutes either side of a deadline an arrival, a read or an excuse may
/// fall: two weeks.
const SPAN: i64 = 14 * 24 * 60;

/// What happens to one person's period.
#[derive(Debug, Clone)]
struct Case {
    person: usize,
    /// A week of 2026 (weekly) or a month (monthly), by index.
    period: usize,
    /// Minutes from the deadline the report arrives, and how long after
    /// that reportd reads it.
    report: Option<(i64, i64)>,
    /// Minutes from the deadline a reason is filed.
    excuse: Option<i64>,
}

fn periods() -> Vec<Period> {
    let weeks = (40..=53).map(|week| Period::Week { year: 2026, week });
    let months = (9..=12).map(|month| Period::Month { year: 2026, month });
    weeks.chain(months).collect()
}

fn case() -> impl Strategy<Value = Case> {
    (
        0..PEOPLE.len(),
        0..periods().len(),
        proptest::option::of((-SPAN..SPAN, 0..SPAN)),
        proptest::option::of(-SPAN..SPAN),
    )
        .prop_map(|(person, period, report, excuse)| Case {
            person,
            period,
            report,
            excuse,
        })
}

/// A rule set with any fine (up to a million yuan) and fund share.
fn rules() -> impl Strategy<Value = Rules> {
    (0i64..100_000_000, 0u8..=100).prop_map(|(fine, share)| Rules {
        fine: Fen(fine),
        fund_share_percent: share,
        ..Rules::default()
    })
}

fn deadline_of(p: Period) -> Deadline {
    let rules = Rules::default();
    period::deadline(p, &rules.due, &Calendar::default(), Shanghai).expect("every period is due")
}

/// The cases that stand: a later case for the same person and period
/// replaces an earlier one (one report and one excuse each).
fn latest(cases: &[Case]) -> Vec<&Case> {
    let mut out: Vec<&Case> = Vec::new();
    for c in cases {
        out.retain(|o| (o.person, o.period) != (c.person, c.period));
        out.push(c);
    }
    out
}

/// The verdicts at `now` from what reportd has read by then: a report only
/// once read, an excuse only once filed.
fn verdicts(cases: &[Case], now: DateTime<Utc>) -> Vec<Verdict> {
    let all = periods();
    latest(cases)
        .into_iter()
        .map(|c| {
            let p = all[c.period];
            let d = deadline_of(p);
            let report = c.report.and_then(|(arrive, read)| {
                let received = d.due + Duration::minutes(arrive);
                (received + Duration::minutes(read) <= now).then(|| FirstReport {
                    id: i64::try_from(c.period).expect("small"),
                    received,
                    message_id: Some(format!("{}@{}", p, c.person)),
                    replied_at: None,
                })
            });
            let excuse = c.excuse.and_then(|at| {
                let at = d.due + Duration::minutes(at);
                (at <= now).then(|| Excuse {
                    id: 1,
                    person: PEOPLE[c.person].to_string(),
                    period: p,
                    reason: "病假".to_string(),
                    by: "wangfang@example.com".to_string(),
                    at,
                })
            });
            compliance::judge(PEOPLE[c.person], d, report.as_ref(), excuse.as_ref(), now)
        })
        .collect()
}

/// The judging instants: from two weeks before the first deadline, each
/// step forward by the given minutes.
fn instants(steps: &[i64]) -> Vec<DateTime<Utc>> {
    let mut at = deadline_of(periods()[0]).due - Duration::minutes(SPAN);
    steps
        .iter()
        .map(|s| {
            at += Duration::minutes(*s);
            at
        })
        .collect()
}

fn ledger_file() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = reportd::store::open(&dir.path().join("ledger.sqlite3")).expect("open the ledger");
    (dir, conn)
}

fn settle(conn: &Connection, cases: &[Case], rules: &Rules, now: DateTime<Utc>) -> usize {
    ledger::settle(conn, &verdicts(cases, now), rules, Shanghai)
        .expect("settle")
        .len()
}

/// Checks every booking property of the ledger as it stands.
fn check_ledger(conn: &Connection, rules: &Rules) -> Result<(), TestCaseError> {
    let entries = ledger::entries(conn, None, Shanghai).expect("entries");
    for person in PEOPLE {
        for p in periods() {
            let period = p.to_string();
            let of = |kind: EntryKind| -> Vec<&ledger::Entry> {
                entries
                    .iter()
                    .filter(|e| e.person == person && e.period == period && e.kind == kind)
                    .collect()
            };
            let (fines, waivers) = (of(EntryKind::Fine), of(EntryKind::Waiver));
            prop_assert!(fines.len() <= 1, "{person} {period}: {fines:?}");
            prop_assert!(waivers.len() <= 1, "{person} {period}: {waivers:?}");
            if let Some(w) = waivers.first() {
                let f = fines
                    .first()
                    .ok_or_else(|| TestCaseError::fail(format!("a waiver with no fine: {w:?}")))?;
                prop_assert!(-w.amount_fen <= f.amount_fen, "{w:?} exceeds {f:?}");
                prop_assert!(-w.fund_fen <= f.fund_fen, "{w:?} exceeds {f:?}");
                prop_assert!(w.amount_fen <= Fen::ZERO && w.fund_fen <= Fen::ZERO);
            }
            for f in fines {
                prop_assert_eq!(f.amount_fen, rules.fine);
                prop_assert_eq!(f.fund_fen, rules.fine.percent(rules.fund_share_percent));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn judging_books_at_most_one_fine_per_person_and_period_and_no_waiver_beyond_its_fine(
        cases in proptest::collection::vec(case(), 1..12),
        steps in proptest::collection::vec(0i64..3 * SPAN, 1..8),
        rules in rules(),
    ) {
        let (_dir, conn) = ledger_file();
        for now in instants(&steps) {
            settle(&conn, &cases, &rules, now);
            check_ledger(&conn, &rules)?;
        }
    }

    #[test]
    fn judging_twice_at_the_same_instant_books_nothing_new(
        cases in proptest::collection::vec(case(), 1..12),
        steps in proptest::collection::vec(0i64..3 * SPAN, 1..8),
        rules in rules(),
    ) {
        let (_dir, conn) = ledger_file();
        for now in instants(&steps) {
            settle(&conn, &cases, &rules, now);
            let before = ledger::entries(&conn, None, Shanghai).expect("entries");
            prop_assert_eq!(settle(&conn, &cases, &rules, now), 0, "at {}", now);
            let after = ledger::entries(&conn, None, Shanghai).expect("entries");
            prop_assert_eq!(before, after);
        }
    }

    #[test]
    fn a_reason_filed_before_the_deadline_means_no_fine_whatever_else_happens(
        cases in proptest::collection::vec(case(), 1..12),
        steps in proptest::collection::vec(0i64..3 * SPAN, 1..8),
    ) {
        let (_dir, conn) = ledger_file();
        let rules = Rules::default();
        for now in instants(&steps) {
            settle(&conn, &cases, &rules, now);
        }
        let all = periods();
        for c in latest(&cases).into_iter().filter(|c| c.excuse.is_some_and(|at| at < 0)) {
            let net = ledger::net_for(&conn, PEOPLE[c.person], &all[c.period].to_string())
                .expect("net");
            prop_assert_eq!(net, Fen::ZERO, "{:?}", c);
        }
    }

    #[test]
    fn the_fund_share_is_exact_in_fen_and_the_split_sums_to_the_fine(
        fine in any::<i64>(),
        share in 0u8..=100,
    ) {
        let fund = Fen(fine).percent(share);
        let exact = i128::from(fine) * i128::from(share);
        // Rounded toward zero to a whole fen: never more than the rule says.
        prop_assert!((i128::from(fund.0) * 100 - exact).abs() < 100, "{fine} {share}% -> {fund:?}");
        prop_assert!(fund.0.unsigned_abs() <= fine.unsigned_abs());
        let rest = Fen(fine) - fund;
        prop_assert_eq!(fund + rest, Fen(fine));
        prop_assert_eq!(Fen(fine).percent(50).0, fine / 2, "half to the fund");
    }
}
