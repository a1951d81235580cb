//! The filing register (登记表) of a month: which rows it has and what each
//! says. Every message filed in the month gets a row (with its file and
//! SHA-256), and every deadline of the month with nothing filed for it in
//! the month gets one too, so a missing report is on the register as well
//! as a late one. Each row carries its period's verdict, reply, fine or
//! waiver with the reason and who approved it.
//!
//! [`gather`] collects the facts of each period from the modules that own
//! them (verdicts, replies, the ledger, excuses); [`rows`] is a pure
//! function of those facts, tested without a database.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use crate::config::Roster;
use crate::ledger::{self, EntryKind};
use crate::money::Fen;
use crate::period::{Deadline, Kind, Period};
use crate::reports::compliance::{self, Status};
use crate::reports::filed::{self, Document, Filed, Reply};

use super::{ArchiveError, Inputs, Month};

/// A filed message as the register needs it (its bytes are in the zip).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    pub person: String,
    pub period: Period,
    pub document: Document,
    pub received: DateTime<Utc>,
    pub subject: Option<String>,
    pub reply: Option<Reply>,
    /// Path inside the archive folder, e.g. `eml/…-m12.eml`.
    pub path: String,
    pub sha256: String,
}

impl Doc {
    pub fn of(f: &Filed, path: &str, sha256: String) -> Doc {
        Doc {
            person: f.person.clone(),
            period: f.period,
            document: f.document,
            received: f.received,
            subject: f.subject.clone(),
            reply: f.reply.clone(),
            path: path.to_string(),
            sha256,
        }
    }
}

/// What is known of one person's period when the archive is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodFacts {
    pub person: String,
    pub period: Period,
    pub due: Option<Deadline>,
    /// `None`: the period is not judged for this person (before tracking
    /// started, before `since`, after `until`).
    pub status: Option<Status>,
    /// Arrival of the period's first counting report, whenever it was.
    pub first_arrival: Option<DateTime<Utc>>,
    /// The first reply to that report.
    pub reply: Option<Reply>,
    pub fine: Option<Fen>,
    /// What a waiver reversed (positive).
    pub waived: Option<Fen>,
    /// The valid reason filed, or why the fine was reversed.
    pub reason: Option<String>,
    /// Who filed the reason.
    pub approver: Option<String>,
}

impl PeriodFacts {
    /// A period known only from a filed message (no verdict, no deadline).
    fn bare(person: &str, period: Period) -> PeriodFacts {
        PeriodFacts {
            person: person.to_string(),
            period,
            due: None,
            status: None,
            first_arrival: None,
            reply: None,
            fine: None,
            waived: None,
            reason: None,
            approver: None,
        }
    }
}

/// One line of the register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRow {
    pub person: String,
    pub name: String,
    pub group: Option<String>,
    pub period: Period,
    pub due: Option<Deadline>,
    /// What this row's file is; `None` when nothing for the period was
    /// filed in the month.
    pub document: Option<Document>,
    pub subject: Option<String>,
    pub arrival: Option<DateTime<Utc>>,
    pub status: Option<Status>,
    pub reply: Option<Reply>,
    /// The fine, waiver, reason and approver are on the period's first row
    /// only, so that adding up a column counts each period once.
    pub fine: Option<Fen>,
    pub waived: Option<Fen>,
    pub reason: Option<String>,
    pub approver: Option<String>,
    pub file: Option<String>,
    pub sha256: Option<String>,
    pub first_of_period: bool,
}

impl RegisterRow {
    pub fn kind(&self) -> Kind {
        self.period.kind()
    }
}

/// The register: for each period (ordered by deadline, then group, then
/// the roster's order), a row per message filed for it in the month, in
/// arrival order, or a single row when none was.
pub fn rows(roster: &Roster, facts: &[PeriodFacts], docs: &[Doc]) -> Vec<RegisterRow> {
    // A month has thousands of periods and filed messages: each is found
    // by its (person, period) key, never by a scan of the others.
    let mut by_key: HashMap<(&str, Period), Vec<&Doc>> = HashMap::new();
    for d in docs {
        by_key.entry((&d.person, d.period)).or_default().push(d);
    }
    // A period with filed messages but no facts gets a bare row; the sort
    // below orders them all, so the order they are added in is no matter.
    let known: HashSet<(&str, Period)> = facts
        .iter()
        .map(|f| (f.person.as_str(), f.period))
        .collect();
    let bare: Vec<PeriodFacts> = by_key
        .keys()
        .filter(|key| !known.contains(*key))
        .map(|&(person, period)| PeriodFacts::bare(person, period))
        .collect();
    let mut facts: Vec<PeriodFacts> = facts.iter().cloned().chain(bare).collect();
    let mut place: HashMap<&str, usize> = HashMap::new();
    for (i, p) in roster.people.iter().enumerate() {
        place.entry(p.email.as_str()).or_insert(i);
    }
    let group = |email: &str| {
        roster
            .by_email(email)
            .and_then(|p| roster.group_of(p))
            .map(str::to_string)
    };
    // (person, period) is unique among the facts, so the key orders them
    // completely.
    facts.sort_by_cached_key(|f| {
        (
            f.due.map(|d| d.due),
            group(&f.person),
            place.get(f.person.as_str()).copied().unwrap_or(usize::MAX),
            f.person.clone(),
            f.period,
        )
    });
    let mut out = Vec::new();
    for f in &facts {
        let mut mine = by_key
            .get(&(f.person.as_str(), f.period))
            .cloned()
            .unwrap_or_default();
        mine.sort_by(|a, b| (a.received, &a.path).cmp(&(b.received, &b.path)));
        let name = roster
            .by_email(&f.person)
            .map(|p| p.name.clone())
            .unwrap_or_default();
        let base = RegisterRow {
            person: f.person.clone(),
            name,
            group: group(&f.person),
            period: f.period,
            due: f.due,
            document: None,
            subject: None,
            arrival: f.first_arrival,
            status: f.status,
            reply: f.reply.clone(),
            fine: f.fine,
            waived: f.waived,
            reason: f.reason.clone(),
            approver: f.approver.clone(),
            file: None,
            sha256: None,
            first_of_period: true,
        };
        if mine.is_empty() {
            out.push(base);
            continue;
        }
        for (i, d) in mine.into_iter().enumerate() {
            let first = i == 0;
            out.push(RegisterRow {
                document: Some(d.document),
                subject: d.subject.clone(),
                arrival: Some(d.received),
                reply: d.reply.clone(),
                fine: base.fine.filter(|_| first),
                waived: base.waived.filter(|_| first),
                reason: base.reason.clone().filter(|_| first),
                approver: base.approver.clone().filter(|_| first),
                file: Some(d.path.clone()),
                sha256: Some(d.sha256.clone()),
                first_of_period: first,
                ..base.clone()
            });
        }
    }
    out
}

/// The facts of every period on the register: each deadline of `month`
/// judged for a reporter, and each period a filed message belongs to.
pub fn gather(
    inputs: &Inputs<'_>,
    month: Month,
    now: DateTime<Utc>,
    docs: &[Doc],
) -> Result<Vec<PeriodFacts>, ArchiveError> {
    let (conn, cfg) = (inputs.conn, inputs.cfg);
    let due_here = periods_due_in(inputs, month);
    let mut periods: BTreeSet<Period> = due_here.iter().copied().collect();
    periods.extend(docs.iter().map(|d| d.period));
    let periods: Vec<Period> = periods.into_iter().collect();
    let verdicts = compliance::verdicts(conn, cfg, inputs.calendar, now, &periods)?;
    let mut keys: BTreeSet<(String, Period)> = verdicts
        .iter()
        .filter(|v| due_here.contains(&v.deadline.period))
        .map(|v| (v.person.clone(), v.deadline.period))
        .collect();
    keys.extend(docs.iter().map(|d| (d.person.clone(), d.period)));
    let booked = booked_by_period(conn, &periods)?;
    let mut by_key: HashMap<(&str, Period), &compliance::Verdict> = HashMap::new();
    for v in &verdicts {
        by_key
            .entry((v.person.as_str(), v.deadline.period))
            .or_insert(v);
    }
    let mut out = Vec::new();
    for (person, period) in keys {
        let verdict = by_key.get(&(person.as_str(), period)).copied();
        let excuse = match verdict {
            Some(v) => v.excuse.as_deref().cloned(),
            None => compliance::excuse_for(conn, &person, period)?,
        };
        let booked = booked.get(&(person.clone(), period.to_string()));
        let report = verdict.and_then(|v| v.report.as_ref());
        let reply = match report {
            Some(r) => filed::first_reply(conn, r.id)?,
            None => None,
        };
        let (reason, approver) = match (&excuse, booked) {
            (Some(e), _) => (Some(e.reason.clone()), Some(e.by.clone())),
            (None, Some(b)) => (b.waiver_reason.clone(), None),
            (None, None) => (None, None),
        };
        out.push(PeriodFacts {
            due: verdict
                .map(|v| v.deadline)
                .or_else(|| compliance::deadline_of(cfg, inputs.calendar, period)),
            status: verdict.map(|v| v.status),
            first_arrival: report.map(|r| r.received),
            reply,
            fine: booked.and_then(|b| b.fine),
            waived: booked.and_then(|b| b.waived),
            reason,
            approver,
            person,
            period,
        });
    }
    Ok(out)
}

/// The periods whose deadline falls on a day of `month` (a deadline at the
/// end of day D belongs to D): the Saturdays' weeks, and the monthly report
/// of the month before.
fn periods_due_in(inputs: &Inputs<'_>, month: Month) -> Vec<Period> {
    let tz = inputs.cfg.timezone;
    let first = month.first_day();
    let mut candidates = vec![
        Period::containing(Kind::Monthly, month.prev().first_day()),
        Period::containing(Kind::Monthly, first),
    ];
    let mut day = first - Duration::days(7);
    while day <= month.next().first_day() + Duration::days(7) {
        let week = Period::containing(Kind::Weekly, day);
        if !candidates.contains(&week) {
            candidates.push(week);
        }
        day += Duration::days(7);
    }
    candidates
        .into_iter()
        .filter_map(|p| compliance::deadline_of(inputs.cfg, inputs.calendar, p))
        .filter(|d| super::contains(month, d.due_day(tz)))
        .map(|d| d.period)
        .collect()
}

/// What the ledger holds for one person and period.
#[derive(Debug, Clone, Default)]
struct Booked {
    fine: Option<Fen>,
    waived: Option<Fen>,
    waiver_reason: Option<String>,
}

/// What the ledger holds for each person of `periods`.
fn booked_by_period(
    conn: &rusqlite::Connection,
    periods: &[Period],
) -> rusqlite::Result<HashMap<(String, String), Booked>> {
    let mut out: HashMap<(String, String), Booked> = HashMap::new();
    for e in ledger::bookings_for_periods(conn, periods)? {
        let b = out.entry((e.person.clone(), e.period.clone())).or_default();
        match e.kind {
            EntryKind::Fine => b.fine = Some(e.amount_fen),
            EntryKind::Waiver => {
                b.waived = Some(-e.amount_fen);
                b.waiver_reason = Some(e.reason.clone());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn roster() -> Roster {
        crate::test_team::config().roster
    }

    fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(2026, 11, d, h, m, 0)
            .single()
            .expect("time")
            .with_timezone(&Utc)
    }

    fn w(week: u32) -> Period {
        Period::Week { year: 2026, week }
    }

    fn facts(person: &str, week: u32, due_day: u32, status: Status) -> PeriodFacts {
        PeriodFacts {
            due: Some(Deadline {
                period: w(week),
                due: at(due_day, 22, 0),
                provisional: false,
            }),
            status: Some(status),
            ..PeriodFacts::bare(person, w(week))
        }
    }

    fn doc(person: &str, week: u32, document: Document, arrival: DateTime<Utc>) -> Doc {
        Doc {
            person: person.into(),
            period: w(week),
            document,
            received: arrival,
            subject: Some(format!("{person} W{week}")),
            reply: None,
            path: format!("eml/{}-{person}.eml", arrival.timestamp()),
            sha256: format!("{:064x}", arrival.timestamp()),
        }
    }

    #[test]
    fn a_missing_report_has_a_row_without_a_file_carrying_the_fine() {
        let mut f = facts("lina@example.com", 48, 28, Status::Missing);
        f.fine = Some(Fen(5000));
        let rows = rows(&roster(), &[f], &[]);
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r.name, "李娜");
        assert_eq!(
            r.group.as_deref(),
            Some("商务一组"),
            "the supervisor's group"
        );
        assert_eq!(r.status, Some(Status::Missing));
        assert_eq!(
            (r.document, r.file.as_deref(), r.sha256.as_deref()),
            (None, None, None)
        );
        assert_eq!(r.fine, Some(Fen(5000)));
        assert!(r.first_of_period);
    }

    #[test]
    fn each_filed_message_gets_a_row_and_the_money_is_on_the_first_only() {
        let mut f = facts("zhangwei@example.com", 48, 28, Status::Excused);
        f.fine = Some(Fen(5000));
        f.waived = Some(Fen(5000));
        f.reason = Some("病假".into());
        f.approver = Some("wangfang@example.com".into());
        let report = doc("zhangwei@example.com", 48, Document::Report, at(29, 9, 0));
        let mut reply = doc("zhangwei@example.com", 48, Document::Reply, at(30, 10, 0));
        reply.reply = Some(Reply {
            at: at(30, 10, 0),
            replier: "wangfang@example.com".into(),
        });
        let revision = doc(
            "zhangwei@example.com",
            48,
            Document::Revision,
            at(29, 11, 0),
        );
        // Given out of order: the register sorts by arrival.
        let rows = rows(&roster(), &[f], &[reply.clone(), report.clone(), revision]);
        let kinds: Vec<_> = rows.iter().map(|r| r.document).collect();
        assert_eq!(
            kinds,
            [
                Some(Document::Report),
                Some(Document::Revision),
                Some(Document::Reply)
            ]
        );
        assert_eq!(rows[0].file.as_deref(), Some(report.path.as_str()));
        assert_eq!(rows[0].sha256.as_deref(), Some(report.sha256.as_str()));
        assert_eq!(rows[0].arrival, Some(report.received));
        assert_eq!(
            (rows[0].fine, rows[0].waived),
            (Some(Fen(5000)), Some(Fen(5000)))
        );
        assert_eq!(rows[0].reason.as_deref(), Some("病假"));
        assert_eq!(rows[0].approver.as_deref(), Some("wangfang@example.com"));
        for later in &rows[1..] {
            assert_eq!((later.fine, later.waived), (None, None));
            assert_eq!(
                (later.reason.as_deref(), later.approver.as_deref()),
                (None, None)
            );
            assert!(!later.first_of_period);
            assert_eq!(later.status, Some(Status::Excused), "status on every row");
        }
        assert_eq!(rows[2].reply, reply.reply, "a reply row shows itself");
    }

    #[test]
    fn rows_follow_the_deadline_then_the_roster_order() {
        let all = [
            facts("lina@example.com", 48, 28, Status::OnTime),
            facts("zhangwei@example.com", 48, 28, Status::Late),
            facts("lina@example.com", 47, 21, Status::OnTime),
        ];
        let rows = rows(&roster(), &all, &[]);
        let order: Vec<(String, String)> = rows
            .iter()
            .map(|r| (r.period.to_string(), r.person.clone()))
            .collect();
        assert_eq!(
            order,
            [
                ("2026-W47".to_string(), "lina@example.com".to_string()),
                ("2026-W48".to_string(), "zhangwei@example.com".to_string()),
                ("2026-W48".to_string(), "lina@example.com".to_string()),
            ]
        );
    }

    #[test]
    fn a_message_for_a_period_without_facts_still_gets_a_row() {
        let d = doc("zhangwei@example.com", 44, Document::Report, at(2, 9, 0));
        let rows = rows(&roster(), &[], std::slice::from_ref(&d));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status, None, "not judged");
        assert_eq!(rows[0].file.as_deref(), Some(d.path.as_str()));
    }
}
