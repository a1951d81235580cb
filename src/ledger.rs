//! The append-only ledger of fines and their reversals, in fen. The single
//! home of "one fine per person per period": the table's unique key makes a
//! second fine impossible, and triggers refuse any update or delete. What
//! became of an entry later (a missing report that then arrived late) is an
//! insert-only note beside it, so its reason reads as the final state.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::config::{Language, Rules};
use crate::money::Fen;
use crate::names;
use crate::period::{self, ByPersonPeriod, Period};
use crate::reports::compliance::Verdict;
use crate::store::{parse_ts, ts};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Fine,
    Waiver,
}

impl EntryKind {
    fn as_str(self) -> &'static str {
        match self {
            EntryKind::Fine => "fine",
            EntryKind::Waiver => "waiver",
        }
    }
}

/// One ledger row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub person: String,
    pub period: String,
    pub kind: EntryKind,
    pub amount_fen: Fen,
    pub fund_fen: Fen,
    pub reason: String,
    pub evidence: String,
    /// What became of it later, oldest first (see [`Entry::reason_now`]).
    pub notes: Vec<String>,
    /// When the report of a fine booked as missing arrived, if it did.
    #[serde(skip)]
    pub arrived: Option<DateTime<Utc>>,
}

impl Entry {
    /// The reason as the final state: the latest note, then what was
    /// booked; just the booked reason when nothing happened since.
    pub fn reason_now(&self) -> String {
        match self.notes.last() {
            Some(note) => format!("{note} (booked as {})", self.reason),
            None => self.reason.clone(),
        }
    }
}

pub mod grounds;

/// The start of the reason of a fine booked with no report.
const MISSING: &str = "missing:";

/// Books what the verdicts owe and is not booked yet: a fine for each fine
/// owed, a waiver for each fine a late reason reverses, and a waiver for a
/// fine booked before an on-time report was read (a message that arrived
/// before the deadline but reached reportd after it). Returns the new rows.
/// Running it again with the same verdicts books nothing.
pub fn settle<'v, I>(
    conn: &Connection,
    verdicts: I,
    rules: &Rules,
    tz: Tz,
) -> rusqlite::Result<Vec<Entry>>
where
    I: IntoIterator<Item = &'v Verdict>,
    I::IntoIter: Clone,
{
    let verdicts = verdicts.into_iter();
    let mut booked = Vec::new();
    // What is booked already for the verdicts' periods, read once: a pass
    // judging every period since tracking began finds almost all of it
    // settled.
    let mut periods: Vec<Period> = verdicts.clone().map(|v| v.deadline.period).collect();
    periods.sort_unstable();
    periods.dedup();
    let periods = period::json_list(Some(&periods));
    let fines = fines_of(conn, &periods)?;
    let waivers = waivers_of(conn, &periods)?;
    for v in verdicts {
        let (person, period) = (v.person.as_str(), v.deadline.period);
        let fine = match fines.get(person, period).copied() {
            Some(fine) => Some(fine),
            None if v.fine_owed => {
                let (reason, evidence) = fine_grounds(v, tz);
                let amounts = rules.fine_and_fund_share();
                let entry = insert(
                    conn,
                    v.deadline.due,
                    person,
                    &period.to_string(),
                    EntryKind::Fine,
                    amounts,
                    &reason,
                    &evidence,
                    None,
                )?;
                let fine = Fine {
                    id: entry.id,
                    amount: entry.amount_fen,
                    fund: entry.fund_fen,
                    missing: entry.reason.starts_with(MISSING),
                    arrival_noted: false,
                };
                booked.push(entry);
                Some(fine)
            }
            None => None,
        };
        if let Some(fine) = fine
            && fine.missing
            && !fine.arrival_noted
            && let Some(r) = &v.report
            && !v.deadline.is_on_time(r.received)
        {
            note_arrival(conn, fine.id, v, r.received, tz)?;
        }
        if let Some(fine) = fine
            && waivers.get(person, period).is_none()
            && let Some((at, reason, evidence)) = waiver_grounds(v, tz)
        {
            let amounts = (-fine.amount, -fine.fund);
            booked.push(insert(
                conn,
                at,
                person,
                &period.to_string(),
                EntryKind::Waiver,
                amounts,
                &reason,
                &evidence,
                Some(fine.id),
            )?);
        }
    }
    Ok(booked)
}

/// A booked fine: a waiver reverses exactly what was booked, even if the
/// configured fine or fund share changed since.
#[derive(Debug, Clone, Copy)]
struct Fine {
    id: i64,
    amount: Fen,
    fund: Fen,
    /// Booked with no report (the deadline passed with nothing).
    missing: bool,
    /// The late arrival of its report is noted already.
    arrival_noted: bool,
}

/// Notes once that the report of a fine booked as missing arrived late.
fn note_arrival(
    conn: &Connection,
    entry: i64,
    v: &Verdict,
    received: DateTime<Utc>,
    tz: Tz,
) -> rusqlite::Result<()> {
    let note = format!(
        "late, arrived {} ({} after the deadline)",
        received.with_timezone(&tz).format("%m-%d %H:%M"),
        names::duration(received - v.deadline.due, Language::En)
    );
    conn.prepare_cached(
        "INSERT OR IGNORE INTO ledger_notes (at, entry, kind, note) VALUES (?1, ?2, 'arrived', ?3)",
    )?
    .execute(params![ts(received), entry, note])?;
    Ok(())
}

/// Why a booked fine is to be reversed, if it is: a reason filed after the
/// deadline, or a report that arrived on time but was read after the fine
/// was booked. Returns when, why and the evidence.
fn waiver_grounds(v: &Verdict, tz: Tz) -> Option<(DateTime<Utc>, String, String)> {
    match (&v.report, &v.excuse) {
        (Some(r), _) if v.deadline.is_on_time(r.received) => Some((
            v.deadline.due,
            format!(
                "reversed: the report arrived {}, before the deadline, and was read after the fine was booked",
                r.received.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S")
            ),
            r.message_id
                .as_ref()
                .map_or_else(|| format!("report #{}", r.id), |m| format!("<{m}>")),
        )),
        (_, Some(e)) => Some((
            e.at.max(v.deadline.due),
            format!("reason filed by {}: {}", e.by, e.reason),
            format!("excuse #{}", e.id),
        )),
        _ => None,
    }
}

/// Why the fine is owed, and what proves it: the late report's Message-ID,
/// or the deadline that passed with nothing.
fn fine_grounds(v: &Verdict, tz: Tz) -> (String, String) {
    let kind = v.deadline.period.kind().as_str();
    let period = v.deadline.period;
    let due_local = v.deadline.due.with_timezone(&tz);
    match &v.report {
        Some(r) => {
            let minutes = (r.received - v.deadline.due).num_minutes();
            let reason = format!(
                "late: {kind} report for {period} arrived {}, {minutes} min after the deadline {}",
                r.received.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S"),
                due_local.format("%Y-%m-%d %H:%M")
            );
            let evidence = r
                .message_id
                .as_ref()
                .map_or_else(|| format!("report #{}", r.id), |m| format!("<{m}>"));
            (reason, evidence)
        }
        None => (
            format!(
                "{MISSING} no {kind} report for {period} before the deadline {}",
                due_local.format("%Y-%m-%d %H:%M")
            ),
            format!("deadline {period} {}", due_local.to_rfc3339()),
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn insert(
    conn: &Connection,
    at: DateTime<Utc>,
    person: &str,
    period: &str,
    kind: EntryKind,
    (amount, fund): (Fen, Fen),
    reason: &str,
    evidence: &str,
    reverses: Option<i64>,
) -> rusqlite::Result<Entry> {
    conn.prepare_cached("INSERT INTO ledger (at, person, period, kind, amount_fen, fund_fen, reason, evidence, reverses)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")?.execute(
        params![ts(at), person, period, kind.as_str(), amount.0, fund.0, reason, evidence, reverses],
    )?;
    Ok(Entry {
        id: conn.last_insert_rowid(),
        at,
        person: person.to_string(),
        period: period.to_string(),
        kind,
        amount_fen: amount,
        fund_fen: fund,
        reason: reason.to_string(),
        evidence: evidence.to_string(),
        notes: Vec::new(),
        arrived: None,
    })
}

/// Every fine booked, by person and period.
/// The fines booked in `periods` (a [`period::json_list`]).
fn fines_of(conn: &Connection, periods: &Option<String>) -> rusqlite::Result<ByPersonPeriod<Fine>> {
    let mut stmt = conn.prepare_cached(
        "SELECT person, period, id, amount_fen, fund_fen, reason,
                EXISTS (SELECT 1 FROM ledger_notes n WHERE n.entry = ledger.id AND n.kind = 'arrived')
         FROM ledger WHERE kind = 'fine' AND period IN (SELECT value FROM json_each(?1))",
    )?;
    let mut out = ByPersonPeriod::default();
    let mut rows = stmt.query([periods])?;
    while let Some(r) = rows.next()? {
        let Ok(period) = r.get_ref(1)?.as_str()?.parse::<Period>() else {
            continue; // written by `settle` from a Period: never happens
        };
        let fine = Fine {
            id: r.get(2)?,
            amount: Fen(r.get(3)?),
            fund: Fen(r.get(4)?),
            missing: r.get_ref(5)?.as_str()?.starts_with(MISSING),
            arrival_noted: r.get(6)?,
        };
        out.insert(r.get_ref(0)?.as_str()?, period, fine);
    }
    Ok(out)
}

/// The person and period of every waiver booked in `periods` (a
/// [`period::json_list`]).
fn waivers_of(conn: &Connection, periods: &Option<String>) -> rusqlite::Result<ByPersonPeriod<()>> {
    let mut stmt = conn.prepare_cached(
        "SELECT person, period FROM ledger
         WHERE kind = 'waiver' AND period IN (SELECT value FROM json_each(?1))",
    )?;
    let mut out = ByPersonPeriod::default();
    let mut rows = stmt.query([periods])?;
    while let Some(r) = rows.next()? {
        if let Ok(period) = r.get_ref(1)?.as_str()?.parse::<Period>() {
            out.insert(r.get_ref(0)?.as_str()?, period, ());
        }
    }
    Ok(out)
}

/// The amount a waiver reversed for one person and period, if one is booked.
pub fn waived(conn: &Connection, person: &str, period: &str) -> rusqlite::Result<Option<Fen>> {
    conn.prepare_cached(
        "SELECT -amount_fen FROM ledger WHERE person = ?1 AND period = ?2 AND kind = 'waiver'",
    )?
    .query_row(params![person, period], |r| r.get(0).map(Fen))
    .optional()
}

/// Net amount booked for one person and period (fine minus waiver).
pub fn net_for(conn: &Connection, person: &str, period: &str) -> rusqlite::Result<Fen> {
    net_and_fund_for(conn, person, period).map(|(net, _)| net)
}

/// [`net_for`] with the fund's share of it, as booked (a waiver reverses
/// both): what a notice announces, whatever the config says today.
pub fn net_and_fund_for(
    conn: &Connection,
    person: &str,
    period: &str,
) -> rusqlite::Result<(Fen, Fen)> {
    conn.prepare_cached(
        "SELECT coalesce(sum(amount_fen), 0), coalesce(sum(fund_fen), 0) FROM ledger
         WHERE person = ?1 AND period = ?2",
    )?
    .query_row(params![person, period], |r| {
        Ok((Fen(r.get(0)?), Fen(r.get(1)?)))
    })
}

/// [`net_for`] of every person and period with an entry, in one read: what
/// a board of a thousand people over a year looks up.
pub fn nets(conn: &Connection) -> rusqlite::Result<ByPersonPeriod<Fen>> {
    // Summed here over one read of the table in its own order: SQLite's
    // GROUP BY walks the (person, period, kind) index and looks every row
    // up in the table again, three times as slow.
    let mut stmt = conn.prepare("SELECT person, period, amount_fen FROM ledger")?;
    let mut out = ByPersonPeriod::default();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        // Periods are written by `settle` from a `Period`; one that does
        // not read back is no deadline anyone is judged on.
        if let Ok(period) = r.get_ref(1)?.as_str()?.parse::<Period>() {
            let (person, amount) = (r.get_ref(0)?.as_str()?, Fen(r.get(2)?));
            match out.get_mut(person, period) {
                Some(net) => *net = *net + amount,
                None => {
                    out.insert(person, period, amount);
                }
            }
        }
    }
    Ok(out)
}

/// One ledger row as sums need it: without the evidence and the notes that
/// only a listing shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub person: String,
    pub period: String,
    pub kind: EntryKind,
    pub amount_fen: Fen,
    pub fund_fen: Fen,
    pub reason: String,
}

/// Every ledger row as a [`Booking`], oldest first. The payroll summary
/// sums the whole ledger; reading each row's evidence and notes as well
/// was half of its time.
pub fn bookings(conn: &Connection) -> rusqlite::Result<Vec<Booking>> {
    let mut stmt = conn
        .prepare("SELECT id, at, person, period, kind, amount_fen, fund_fen, reason FROM ledger")?;
    let rows = stmt.query_map([], booking_row)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map(oldest_first)
}

/// The ledger rows of the given periods (as the ledger writes them,
/// `2026-W46`), oldest first: a month's archive needs its own periods'
/// rows, not a year's.
pub fn bookings_for_periods(
    conn: &Connection,
    periods: &[Period],
) -> rusqlite::Result<Vec<Booking>> {
    let periods = period::json_list(Some(periods));
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, person, period, kind, amount_fen, fund_fen, reason FROM ledger
         WHERE period IN (SELECT value FROM json_each(?1))",
    )?;
    let rows = stmt.query_map([periods], booking_row)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map(oldest_first)
}

/// `rows` in the order they were booked (time, then id). Sorted here, not
/// by SQLite's ORDER BY: that sorts a year's ledger in a temporary B-tree,
/// five times as slow as reading it, and the rows come nearly in order,
/// which a stable sort takes in about one pass.
fn oldest_first(mut rows: Vec<Booking>) -> Vec<Booking> {
    rows.sort_by_key(|b| (b.at, b.id));
    rows
}

/// The entries of `person` for `period`, oldest first, with their
/// evidence (their notes are not read).
pub fn entries_of(conn: &Connection, person: &str, period: &str) -> rusqlite::Result<Vec<Entry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, person, period, kind, amount_fen, fund_fen, reason, evidence FROM ledger
         WHERE person = ?1 AND period = ?2 ORDER BY at, id",
    )?;
    let rows = stmt.query_map(params![person, period], entry_row)?;
    rows.collect()
}

/// A [`Booking`] from a row whose first columns are those [`bookings`]
/// selects.
fn booking_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Booking> {
    Ok(Booking {
        id: r.get(0)?,
        at: parse_ts(r.get_ref(1)?.as_str()?)?,
        person: r.get(2)?,
        period: r.get(3)?,
        kind: entry_kind(r.get_ref(4)?.as_str()?),
        amount_fen: Fen(r.get(5)?),
        fund_fen: Fen(r.get(6)?),
        reason: r.get(7)?,
    })
}

/// An [`Entry`] without its notes from a row of the columns [`bookings`]
/// selects, then `evidence`.
fn entry_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    let b = booking_row(r)?;
    Ok(Entry {
        id: b.id,
        at: b.at,
        person: b.person,
        period: b.period,
        kind: b.kind,
        amount_fen: b.amount_fen,
        fund_fen: b.fund_fen,
        reason: b.reason,
        evidence: r.get(8)?,
        notes: Vec::new(),
        arrived: None,
    })
}

/// The kind of a row, as the table's CHECK constraint allows it.
fn entry_kind(text: &str) -> EntryKind {
    if text == "fine" {
        EntryKind::Fine
    } else {
        EntryKind::Waiver
    }
}

/// Entries booked in a local calendar month (`at` in that month in `tz`), or
/// all entries; oldest first.
pub fn entries(
    conn: &Connection,
    month: Option<(i32, u32)>,
    tz: Tz,
) -> rusqlite::Result<Vec<Entry>> {
    let mut stmt = conn.prepare(
        "SELECT id, at, person, period, kind, amount_fen, fund_fen, reason, evidence FROM ledger ORDER BY at, id",
    )?;
    let rows = stmt.query_map([], entry_row)?;
    let mut notes: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
    let mut arrived: std::collections::HashMap<i64, DateTime<Utc>> =
        std::collections::HashMap::new();
    let mut stmt =
        conn.prepare("SELECT entry, note, kind, at FROM ledger_notes ORDER BY at, id")?;
    let read = |r: &rusqlite::Row<'_>| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    };
    for n in stmt.query_map([], read)? {
        let (entry, note, kind, at) = n?;
        if kind == "arrived" {
            arrived.insert(entry, parse_ts(&at)?);
        }
        notes.entry(entry).or_default().push(note);
    }
    let mut out = Vec::new();
    for e in rows {
        let mut e = e?;
        e.notes = notes.remove(&e.id).unwrap_or_default();
        e.arrived = arrived.remove(&e.id);
        let local = e.at.with_timezone(&tz);
        if month.is_none_or(|(y, m)| {
            chrono::Datelike::year(&local) == y && chrono::Datelike::month(&local) == m
        }) {
            out.push(e);
        }
    }
    Ok(out)
}

/// Sums of amounts and fund shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Totals {
    pub fines_fen: Fen,
    pub fund_fen: Fen,
}

pub fn totals(entries: &[Entry]) -> Totals {
    Totals {
        fines_fen: entries.iter().map(|e| e.amount_fen).sum(),
        fund_fen: entries.iter().map(|e| e.fund_fen).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::period::{Deadline, DueRules, Period};
    use crate::reports::compliance::{Excuse, judge};
    use chrono::TimeZone;

    fn w48() -> Deadline {
        Deadline {
            period: Period::Week {
                year: 2026,
                week: 48,
            },
            due: Utc
                .with_ymd_and_hms(2026, 11, 28, 14, 0, 0)
                .single()
                .expect("valid"),
            provisional: false,
        }
    }

    fn rules(share: u8) -> Rules {
        Rules {
            due: DueRules::default(),
            fine: Fen::from_yuan(50),
            fund_share_percent: share,
            reply_within_hours: 48,
        }
    }

    #[test]
    fn the_bookings_of_some_periods_are_those_periods_and_no_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = crate::store::open(&dir.path().join("l.sqlite3")).expect("db");
        let w47 = Deadline {
            period: Period::Week {
                year: 2026,
                week: 47,
            },
            due: w48().due - chrono::Duration::days(7),
            provisional: false,
        };
        let after = w48().due + chrono::Duration::hours(1);
        let verdicts: Vec<Verdict> = ["a@example.com", "b@example.com"]
            .into_iter()
            .flat_map(|p| {
                [
                    judge(p, w47, None, None, after),
                    judge(p, w48(), None, None, after),
                ]
            })
            .collect();
        settle(&conn, &verdicts, &rules(50), chrono_tz::Asia::Shanghai).expect("settle");
        let of = |periods: &[&str]| -> Vec<(String, String)> {
            let periods: Vec<Period> = periods.iter().map(|p| p.parse().expect("period")).collect();
            bookings_for_periods(&conn, &periods)
                .expect("bookings")
                .into_iter()
                .map(|b| (b.person, b.period))
                .collect()
        };
        let w48_only = of(&["2026-W48"]);
        assert_eq!(w48_only.len(), 2, "{w48_only:?}");
        assert!(w48_only.iter().all(|(_, p)| p == "2026-W48"));
        assert_eq!(of(&["2026-W47", "2026-W48"]).len(), 4);
        assert!(of(&["2026-10"]).is_empty());
        assert!(of(&[]).is_empty());
    }

    #[test]
    fn bookings_come_in_the_order_they_were_booked_for_not_the_order_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = crate::store::open(&dir.path().join("l.sqlite3")).expect("db");
        let w47 = Deadline {
            period: "2026-W47".parse().expect("period"),
            due: w48().due - chrono::Duration::days(7),
            provisional: false,
        };
        let after = w48().due + chrono::Duration::hours(1);
        let tz = chrono_tz::Asia::Shanghai;
        // Week 48 written first, then the earlier week 47 (a later id).
        for d in [w48(), w47] {
            let v = ["b@example.com", "a@example.com"].map(|p| judge(p, d, None, None, after));
            settle(&conn, &v, &rules(50), tz).expect("settle");
        }
        let order = |rows: Vec<Booking>| -> Vec<(String, String)> {
            rows.into_iter().map(|b| (b.period, b.person)).collect()
        };
        let expected: Vec<(String, String)> = [
            ("2026-W47", "b@example.com"),
            ("2026-W47", "a@example.com"),
            ("2026-W48", "b@example.com"),
            ("2026-W48", "a@example.com"),
        ]
        .map(|(period, person)| (period.to_string(), person.to_string()))
        .into();
        assert_eq!(order(bookings(&conn).expect("bookings")), expected);
        let both: Vec<Period> = [w47.period, w48().period].into();
        assert_eq!(
            order(bookings_for_periods(&conn, &both).expect("bookings")),
            expected
        );
    }

    #[test]
    fn missing_report_is_fined_once_however_often_it_is_settled() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = crate::store::open(&dir.path().join("l.sqlite3")).expect("db");
        let v = judge(
            "a@example.com",
            w48(),
            None,
            None,
            w48().due + chrono::Duration::hours(1),
        );
        let first = settle(
            &conn,
            std::slice::from_ref(&v),
            &rules(50),
            chrono_tz::Asia::Shanghai,
        )
        .expect("settle");
        let again = settle(&conn, &[v], &rules(50), chrono_tz::Asia::Shanghai).expect("settle");
        assert_eq!(first.len(), 1);
        assert_eq!(
            (first[0].amount_fen, first[0].fund_fen),
            (Fen(5000), Fen(2500))
        );
        assert!(again.is_empty());
    }

    #[test]
    fn a_missing_report_that_arrives_late_gets_a_note_and_its_fine_stays_as_booked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = crate::store::open(&dir.path().join("l.sqlite3")).expect("db");
        let tz = chrono_tz::Asia::Shanghai;
        let missing = judge("a@example.com", w48(), None, None, w48().due);
        settle(&conn, &[missing], &rules(50), tz).expect("fine");
        // Monday 2026-11-30 09:10 (+08:00), 1 day 11 h after the deadline.
        let report = crate::reports::FirstReport {
            id: 7,
            received: w48().due + chrono::Duration::minutes(35 * 60 + 10),
            message_id: Some("w48@a".into()),
            replied_at: None,
        };
        let late = judge("a@example.com", w48(), Some(&report), None, report.received);
        for pass in 0..2 {
            let changes = conn.total_changes();
            let booked =
                settle(&conn, std::slice::from_ref(&late), &rules(50), tz).expect("settle");
            assert!(booked.is_empty(), "no second fine: {booked:?}");
            let written = conn.total_changes() - changes;
            // The note is written once; a pass after it writes nothing.
            assert_eq!(
                written,
                u64::from(pass == 0),
                "pass {pass} wrote {written} rows"
            );
        }
        let all = entries(&conn, None, tz).expect("entries");
        assert_eq!(all.len(), 1);
        let fine = &all[0];
        assert!(
            fine.reason.starts_with("missing:"),
            "as booked: {}",
            fine.reason
        );
        assert_eq!(
            fine.notes,
            ["late, arrived 11-30 09:10 (1 day after the deadline)"],
            "one note, however often it is settled"
        );
        assert!(
            fine.reason_now().starts_with("late, arrived 11-30 09:10")
                && fine.reason_now().contains("(booked as missing:"),
            "{}",
            fine.reason_now()
        );
    }

    #[test]
    fn a_fine_booked_as_late_gets_no_note() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = crate::store::open(&dir.path().join("l.sqlite3")).expect("db");
        let tz = chrono_tz::Asia::Shanghai;
        let report = crate::reports::FirstReport {
            id: 7,
            received: w48().due + chrono::Duration::minutes(90),
            message_id: Some("w48@a".into()),
            replied_at: None,
        };
        let late = judge("a@example.com", w48(), Some(&report), None, report.received);
        settle(&conn, std::slice::from_ref(&late), &rules(50), tz).expect("fine");
        settle(&conn, &[late], &rules(50), tz).expect("again");
        let all = entries(&conn, None, tz).expect("entries");
        assert!(all[0].notes.is_empty(), "{:?}", all[0].notes);
        assert_eq!(all[0].reason_now(), all[0].reason);
    }

    #[test]
    fn waiver_reverses_what_was_booked_even_after_the_rules_changed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = crate::store::open(&dir.path().join("l.sqlite3")).expect("db");
        let later = w48().due + chrono::Duration::hours(1);
        let v = judge("a@example.com", w48(), None, None, later);
        settle(&conn, &[v], &rules(50), chrono_tz::Asia::Shanghai).expect("fine");
        let excuse = Excuse {
            id: 1,
            person: "a@example.com".into(),
            period: w48().period,
            reason: "病假".into(),
            by: "boss@example.com".into(),
            at: later,
        };
        let v = judge("a@example.com", w48(), None, Some(&excuse), later);
        let booked = settle(&conn, &[v], &rules(0), chrono_tz::Asia::Shanghai).expect("waiver");
        assert_eq!(booked.len(), 1);
        assert_eq!(
            (booked[0].kind, booked[0].amount_fen, booked[0].fund_fen),
            (EntryKind::Waiver, Fen(-5000), Fen(-2500))
        );
        let all = entries(&conn, None, chrono_tz::Asia::Shanghai).expect("entries");
        assert_eq!(
            totals(&all),
            Totals {
                fines_fen: Fen(0),
                fund_fen: Fen(0)
            }
        );
    }

    #[test]
    fn bookings_are_the_entries_in_order_without_evidence_or_notes_and_nets_their_sums() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = crate::store::open(&dir.path().join("l.sqlite3")).expect("db");
        let tz = chrono_tz::Asia::Shanghai;
        let later = w48().due + chrono::Duration::hours(1);
        let fined = ["b@example.com", "a@example.com"].map(|p| judge(p, w48(), None, None, later));
        settle(&conn, &fined, &rules(50), tz).expect("fines");
        let excuse = Excuse {
            id: 1,
            person: "a@example.com".into(),
            period: w48().period,
            reason: "病假".into(),
            by: "boss@example.com".into(),
            at: later + chrono::Duration::hours(1),
        };
        let excused = judge("a@example.com", w48(), None, Some(&excuse), later);
        settle(&conn, &[excused], &rules(50), tz).expect("waiver");
        let nets = nets(&conn).expect("nets");
        assert_eq!(
            nets.get("a@example.com", w48().period),
            Some(&Fen(0)),
            "fine and waiver"
        );
        assert_eq!(nets.get("b@example.com", w48().period), Some(&Fen(5000)));
        assert_eq!(nets.iter().count(), 2);
        let entries = entries(&conn, None, tz).expect("entries");
        let bookings = bookings(&conn).expect("bookings");
        assert_eq!(bookings.len(), 3);
        let as_booked: Vec<Booking> = entries
            .into_iter()
            .map(|e| Booking {
                id: e.id,
                at: e.at,
                person: e.person,
                period: e.period,
                kind: e.kind,
                amount_fen: e.amount_fen,
                fund_fen: e.fund_fen,
                reason: e.reason,
            })
            .collect();
        assert_eq!(bookings, as_booked);
        assert_eq!(
            bookings
                .iter()
                .map(|b| (b.kind, b.amount_fen))
                .collect::<Vec<_>>(),
            [
                (EntryKind::Fine, Fen(5000)),
                (EntryKind::Fine, Fen(5000)),
                (EntryKind::Waiver, Fen(-5000))
            ]
        );
    }
}
