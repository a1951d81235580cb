//! Which deadlines a pass judges and settles again. A verdict is a pure function of a
//! deadline, its first report, its reason and whether the deadline has
//! passed (`compliance::judge`), and `ledger::settle` books nothing for a
//! verdict already settled. So a deadline that had passed when reportd last
//! judged keeps its verdict, and its ledger rows stay settled, until its
//! report, its reason or its ledger rows change, or the config or calendar
//! changes some deadline that had passed. A pass judges again the deadlines
//! due since the last judgement (and those whose emails it may still owe),
//! and those of the people and periods touched since; anything else, and it
//! judges every deadline. A pass that owes digests judges every deadline
//! for them but settles only this part. Owns the `judged` table.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::period::{ByPersonPeriod, Deadline, Period};
use crate::reports::compliance::{Part, Schedule};
use crate::store::{parse_ts, ts};

/// What a change to how deadlines are judged must change, so that a
/// database judged by an older build is judged whole once.
const JUDGING: &str = concat!("reportd ", env!("CARGO_PKG_VERSION"), " judging 1");

/// The last judgement that booked: when, what it judged, what it saw.
struct Mark {
    at: DateTime<Utc>,
    /// [`passed_digest`] of its schedule through `at`.
    passed: String,
    report: i64,
    excuse: i64,
    ledger: i64,
}

/// The part of `schedule` a pass at `now` must judge: the deadlines due
/// after `keep_from` (the emails of those may still be owed) or after the
/// last judgement, and every deadline of a person's period touched since
/// (a report, a reason or a ledger row stored); all of it when nothing was
/// judged yet, when the clock went back, or when the deadlines that had
/// passed then are not the same now (config, calendar or build changed).
pub fn part(
    conn: &Connection,
    schedule: &Schedule<'_>,
    now: DateTime<Utc>,
    keep_from: DateTime<Utc>,
) -> rusqlite::Result<Part> {
    let Some(mark) = last_mark(conn)? else {
        return Ok(Part::Whole);
    };
    if now < mark.at || passed_digest(schedule, mark.at) != mark.passed {
        return Ok(Part::Whole);
    }
    let after = keep_from.min(mark.at);
    let also = touched_since(conn, &mark)?;
    let mut periods: Vec<Period> = also.iter().map(|(_, period, _)| period).collect();
    for (_, lists) in schedule {
        for list in lists {
            periods.extend(list.iter().filter(|d| d.due > after).map(|d| d.period));
        }
    }
    periods.sort_unstable();
    periods.dedup();
    Ok(Part::Some {
        after,
        also,
        periods,
    })
}

/// Records that `schedule` was judged at `now` and its verdicts settled:
/// call it in the judging transaction, after booking.
pub fn mark(
    conn: &Connection,
    schedule: &Schedule<'_>,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO judged (id, at, passed, report, excuse, ledger) VALUES (1, ?1, ?2,
             (SELECT coalesce(max(id), 0) FROM reports),
             (SELECT coalesce(max(id), 0) FROM excuses),
             (SELECT coalesce(max(id), 0) FROM ledger))
         ON CONFLICT (id) DO UPDATE SET at = excluded.at, passed = excluded.passed,
             report = excluded.report, excuse = excluded.excuse, ledger = excluded.ledger",
    )?
    .execute(params![ts(now), passed_digest(schedule, now)])?;
    Ok(())
}

fn last_mark(conn: &Connection) -> rusqlite::Result<Option<Mark>> {
    conn.prepare_cached("SELECT at, passed, report, excuse, ledger FROM judged WHERE id = 1")?
        .query_row([], |r| {
            Ok(Mark {
                at: parse_ts(r.get_ref(0)?.as_str()?)?,
                passed: r.get(1)?,
                report: r.get(2)?,
                excuse: r.get(3)?,
                ledger: r.get(4)?,
            })
        })
        .optional()
}

/// The people and periods with a report, a reason or a ledger row stored
/// after `mark`. Reports are only inserted (a report that takes the place
/// of another is a new row of the same period), reasons and ledger rows
/// only inserted, so the highest ids tell what is new.
fn touched_since(conn: &Connection, mark: &Mark) -> rusqlite::Result<ByPersonPeriod<()>> {
    let mut stmt = conn.prepare_cached(
        "SELECT person, period FROM reports WHERE id > ?1
         UNION SELECT person, period FROM excuses WHERE id > ?2
         UNION SELECT person, period FROM ledger WHERE id > ?3",
    )?;
    let mut out = ByPersonPeriod::default();
    let mut rows = stmt.query(params![mark.report, mark.excuse, mark.ledger])?;
    while let Some(r) = rows.next()? {
        if let Ok(period) = r.get_ref(1)?.as_str()?.parse::<Period>() {
            out.insert(r.get_ref(0)?.as_str()?, period, ());
        }
    }
    Ok(out)
}

/// A digest of who is judged for which deadline among those due by
/// `through`, and of the build that judges them.
fn passed_digest(schedule: &Schedule<'_>, through: DateTime<Utc>) -> String {
    let mut all = Sha256::new();
    all.update(JUDGING);
    // People share their lists of deadlines (see `compliance::schedule`):
    // each list is digested once.
    let mut lists: HashMap<*const Deadline, [u8; 32]> = HashMap::new();
    for (person, kinds) in schedule {
        all.update(person.email.as_bytes());
        all.update([0]);
        for list in kinds {
            let digest = lists
                .entry(list.as_ptr())
                .or_insert_with(|| list_digest(list, through));
            all.update(digest);
        }
    }
    format!("{:x}", all.finalize())
}

fn list_digest(list: &[Deadline], through: DateTime<Utc>) -> [u8; 32] {
    let mut h = Sha256::new();
    for d in list.iter().filter(|d| d.due <= through) {
        h.update(d.period.to_string());
        h.update(d.due.timestamp().to_le_bytes());
        h.update([u8::from(d.provisional)]);
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;
    use crate::reports::compliance;
    use crate::test_team::shanghai as at;

    #[test]
    fn the_digest_of_passed_deadlines_sees_only_those_due_by_then_and_any_that_moved() {
        let cfg = crate::test_team::config();
        let calendar = Calendar::load(&[]).expect("calendar");
        let through = at(2026, 11, 23, 8);
        let digest_at = |cfg: &crate::config::Config, now| {
            passed_digest(&compliance::schedule(cfg, &calendar, now, &[]), through)
        };
        let then = digest_at(&cfg, through);
        // Judged later, the deadlines due since are not part of it.
        assert_eq!(digest_at(&cfg, at(2026, 12, 20, 8)), then);
        // A weekly deadline moved by an hour is.
        let mut later_due = cfg.clone();
        later_due.rules.due.weekly.time = chrono::NaiveTime::from_hms_opt(23, 0, 0).expect("time");
        assert_ne!(digest_at(&later_due, through), then);
        // So is a reporter judged from a later day.
        let mut since = cfg.clone();
        let rep = since
            .roster
            .people
            .iter_mut()
            .find(|p| p.role.must_report())
            .expect("a reporter");
        rep.since = chrono::NaiveDate::from_ymd_opt(2026, 11, 1);
        assert_ne!(digest_at(&since, through), then);
    }
}
