//! On time, late, missing, excused: the verdict for each person and period,
//! as a pure function of the reports, the excuses, the calendar and the
//! clock. Owns the `excuses` table.

use std::collections::HashMap;
use std::rc::Rc;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::calendar::Calendar;
use crate::config::{Config, Person, Role};
use crate::period::{self, ByPersonPeriod, Deadline, Kind, Period};
use crate::reports::{self, FirstReport};
use crate::store::{parse_ts, ts};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not due yet and not received.
    Pending,
    OnTime,
    Late,
    Missing,
    /// A valid reason was filed; no fine (or the fine was reversed).
    Excused,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::OnTime => "on_time",
            Status::Late => "late",
            Status::Missing => "missing",
            Status::Excused => "excused",
        }
    }
}

/// A valid reason (正当理由) filed for one person and period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excuse {
    pub id: i64,
    pub person: String,
    pub period: Period,
    pub reason: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// The judgement of one person's period at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub person: String,
    pub deadline: Deadline,
    pub status: Status,
    pub report: Option<FirstReport>,
    /// Boxed: few verdicts have one, and a year of a thousand people is
    /// 65,000 verdicts held at once.
    pub excuse: Option<Box<Excuse>>,
    /// A fine is owed: the deadline passed without a report, and no reason
    /// was filed before it.
    pub fine_owed: bool,
    /// The owed fine is to be reversed: a reason was filed after the deadline.
    pub waiver_owed: bool,
}

/// The verdict for one deadline. Pure: the same inputs always give the same
/// verdict, so recomputing from scratch agrees with what was booked.
pub fn judge(
    person: &str,
    deadline: Deadline,
    report: Option<&FirstReport>,
    excuse: Option<&Excuse>,
    now: DateTime<Utc>,
) -> Verdict {
    let on_time = report.is_some_and(|r| deadline.is_on_time(r.received));
    let passed = now >= deadline.due;
    let excused_in_advance = excuse.is_some_and(|e| e.at < deadline.due);
    let status = if on_time {
        Status::OnTime
    } else if excuse.is_some() && (passed || excused_in_advance) {
        Status::Excused
    } else if !passed {
        Status::Pending
    } else if report.is_some() {
        Status::Late
    } else {
        Status::Missing
    };
    let fine_owed = !on_time && passed && !excused_in_advance;
    Verdict {
        person: person.to_string(),
        deadline,
        status,
        report: report.cloned(),
        excuse: excuse.cloned().map(Box::new),
        fine_owed,
        waiver_owed: fine_owed && excuse.is_some(),
    }
}

/// The deadlines judged for `person`: every one due from the later of
/// `tracking_starts` and the person's `since`, up to `now`, then the next
/// open one; none after the person's `until`.
pub fn judged_deadlines(
    person: &Person,
    kind: Kind,
    cfg: &Config,
    calendar: &Calendar,
    now: DateTime<Utc>,
) -> Vec<Deadline> {
    let window = JudgedWindow::of(person, cfg);
    // Start one period early: a month's report is due in the next month.
    let mut period = Period::containing(kind, window.start_day).prev();
    let mut out = Vec::new();
    loop {
        if let Some(d) = period::deadline(period, &cfg.rules.due, calendar, cfg.timezone) {
            if window.is_past_end(&d) {
                break;
            }
            if window.contains(&d) {
                out.push(d);
                if d.due > now {
                    break;
                }
            }
        }
        period = period.next();
        if out.len() > 10_000 {
            break; // a config with tracking_starts centuries ago; stop, don't hang
        }
    }
    out
}

/// Whether `deadline` is judged for `person` (inside tracking and their
/// `since`/`until`).
pub fn is_judged(person: &Person, cfg: &Config, deadline: &Deadline) -> bool {
    JudgedWindow::of(person, cfg).contains(deadline)
}

/// The deadlines judged for a person: those whose day (a deadline at the
/// end of day D belongs to D) is on or after the later of `tracking_starts`
/// and their `since`, and on or before their `until`.
struct JudgedWindow {
    start_day: chrono::NaiveDate,
    end_day: Option<chrono::NaiveDate>,
    tz: chrono_tz::Tz,
}

impl JudgedWindow {
    fn of(person: &Person, cfg: &Config) -> JudgedWindow {
        JudgedWindow {
            start_day: person
                .since
                .map_or(cfg.tracking_starts, |s| s.max(cfg.tracking_starts)),
            end_day: person.until,
            tz: cfg.timezone,
        }
    }

    fn contains(&self, d: &Deadline) -> bool {
        let day = d.due_day(self.tz);
        day >= self.start_day && !self.is_past_end(d)
    }

    fn is_past_end(&self, d: &Deadline) -> bool {
        self.end_day.is_some_and(|end| d.due_day(self.tz) > end)
    }
}

/// Each reporter, in address order, with their judged deadlines of each
/// kind (weekly, monthly) in the order they fall due: what a judgement at
/// one instant covers.
pub type Schedule<'c> = Vec<(&'c Person, [Rc<[Deadline]>; 2])>;

/// The deadlines judged at `now` ([`judged_deadlines`]) of every reporter;
/// only those of the given periods when `only` is not empty.
pub fn schedule<'c>(
    cfg: &'c Config,
    calendar: &Calendar,
    now: DateTime<Utc>,
    only: &[Period],
) -> Schedule<'c> {
    // Most people share one judged window (tracking_starts, no since or
    // until): their deadlines are computed once, not once each.
    let mut by_window: HashMap<
        (Kind, chrono::NaiveDate, Option<chrono::NaiveDate>),
        Rc<[Deadline]>,
    > = HashMap::new();
    let mut people: Vec<&Person> = cfg.roster.reporters().collect();
    people.sort_by(|a, b| a.email.cmp(&b.email));
    people
        .into_iter()
        .map(|person| {
            let window = JudgedWindow::of(person, cfg);
            let of_kind = |kind: Kind| -> Rc<[Deadline]> {
                let mut deadlines: Vec<Deadline> = if only.is_empty() {
                    judged_deadlines(person, kind, cfg, calendar, now)
                } else {
                    only.iter()
                        .filter(|p| p.kind() == kind)
                        .filter_map(|p| {
                            period::deadline(*p, &cfg.rules.due, calendar, cfg.timezone)
                        })
                        .filter(|d| window.contains(d))
                        .collect()
                };
                deadlines.sort_by_key(|d| d.due);
                deadlines.into()
            };
            let lists = [Kind::Weekly, Kind::Monthly].map(|kind| {
                if only.is_empty() {
                    by_window
                        .entry((kind, window.start_day, window.end_day))
                        .or_insert_with(|| of_kind(kind))
                        .clone()
                } else {
                    of_kind(kind)
                }
            });
            (person, lists)
        })
        .collect()
}

/// Every verdict for every reporter at `now`; only the given periods when
/// `only` is not empty. Ordered by deadline, then person, weekly before
/// monthly.
pub fn verdicts(
    conn: &Connection,
    cfg: &Config,
    calendar: &Calendar,
    now: DateTime<Utc>,
    only: &[Period],
) -> rusqlite::Result<Vec<Verdict>> {
    verdicts_in(conn, &schedule(cfg, calendar, now, only), now, &Part::Whole)
}

/// Which deadlines of a [`Schedule`] a judgement looks at.
#[derive(Debug)]
pub enum Part {
    /// All of them.
    Whole,
    /// Those due after `after`, and every one of a person's period in
    /// `also`; their reports and reasons are read only for `periods`, the
    /// periods of all of these.
    Some {
        after: DateTime<Utc>,
        also: ByPersonPeriod<()>,
        periods: Vec<Period>,
    },
}

impl Part {
    /// The periods whose reports and reasons it reads; `None` for all.
    fn periods(&self) -> Option<&[Period]> {
        match self {
            Part::Whole => None,
            Part::Some { periods, .. } => Some(periods),
        }
    }

    /// Whether `person`'s deadline `d` is in this part.
    pub fn covers(&self, person: &str, d: &Deadline) -> bool {
        match self {
            Part::Whole => true,
            Part::Some { after, also, .. } => {
                d.due > *after || also.get(person, d.period).is_some()
            }
        }
    }
}

/// The verdicts at `now` of the deadlines of `schedule` that `part` covers,
/// ordered by deadline, then person, weekly before monthly.
pub fn verdicts_in(
    conn: &Connection,
    schedule: &Schedule<'_>,
    now: DateTime<Utc>,
    part: &Part,
) -> rusqlite::Result<Vec<Verdict>> {
    let reports = reports::first_reports(conn, part.periods())?;
    let excuses = excuses_of(conn, part.periods())?;
    // Made in the board's order, by deadline, then person, weekly before
    // monthly: no sort of 65,000 verdicts, whose scratch space was the
    // peak of a pass's memory.
    let mut dues: Vec<DateTime<Utc>> = schedule
        .iter()
        .flat_map(|(_, lists)| lists.iter().flat_map(|l| l.iter().map(|d| d.due)))
        .collect();
    dues.sort_unstable();
    dues.dedup();
    // Room for all of them when all are judged: 65,000 verdicts grown by
    // doubling would briefly hold one and a half times that.
    let mut out = match part {
        Part::Whole => {
            Vec::with_capacity(schedule.iter().map(|(_, l)| l[0].len() + l[1].len()).sum())
        }
        Part::Some { .. } => Vec::new(),
    };
    let mut next = vec![[0usize; 2]; schedule.len()];
    for due in dues {
        for ((person, lists), next) in schedule.iter().zip(&mut next) {
            // Every due in a list is in `dues`: no list is ever passed over.
            for (list, i) in lists.iter().zip(next.iter_mut()) {
                while let Some(d) = list.get(*i).filter(|d| d.due == due) {
                    *i += 1;
                    if part.covers(&person.email, d) {
                        out.push(judge(
                            &person.email,
                            *d,
                            reports.get(&person.email, d.period),
                            excuses.get(&person.email, d.period),
                            now,
                        ));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The deadline of `period` under the configured rules.
pub fn deadline_of(cfg: &Config, calendar: &Calendar, period: Period) -> Option<Deadline> {
    period::deadline(period, &cfg.rules.due, calendar, cfg.timezone)
}

/// The next deadline after `now` of any reporter, so the daemon can sleep
/// until then instead of polling.
pub fn next_deadline(
    cfg: &Config,
    calendar: &Calendar,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    cfg.roster
        .reporters()
        .flat_map(|p| {
            [Kind::Weekly, Kind::Monthly].map(|k| judged_deadlines(p, k, cfg, calendar, now))
        })
        .filter_map(|ds| ds.last().map(|d| d.due))
        .filter(|due| *due > now)
        .min()
}

#[derive(Debug, thiserror::Error)]
pub enum ExcuseError {
    #[error("{0} is not a configured rep or clerk; check the address")]
    NotReporter(String),
    #[error(
        "{0} is not a configured supervisor, manager or assistant; only they can file a reason"
    )]
    NotAuthorised(String),
    #[error(
        "{by} is a supervisor, but not {person}'s; their own supervisor, a manager or the \
         assistant can file a reason for them"
    )]
    NotTheirSupervisor { by: String, person: String },
    #[error("{person} already has a reason filed for {period}; nothing changed")]
    AlreadyExcused { person: String, period: Period },
    #[error("the reason is empty; say why (leave, sickness, business trip, approval)")]
    EmptyReason,
    #[error(transparent)]
    Db(#[from] rusqlite::Error),
}

/// Files a valid reason. Nothing is ever edited: a second reason for the
/// same period is refused.
pub fn file_excuse(
    conn: &Connection,
    cfg: &Config,
    person: &str,
    period: Period,
    reason: &str,
    by: &str,
    at: DateTime<Utc>,
) -> Result<Excuse, ExcuseError> {
    // People by their roster address, so a reason filed under an alias
    // meets the fine booked under the address.
    let Some(reporter) = cfg.roster.by_email(person).filter(|p| p.role.must_report()) else {
        return Err(ExcuseError::NotReporter(person.to_lowercase()));
    };
    let person = reporter.email.clone();
    // A manager or the assistant may excuse anyone, a supervisor only
    // their own people; the same rule for the CLI and for email.
    let filer = cfg.roster.by_email(by).filter(|f| match f.role {
        Role::Manager | Role::Assistant => true,
        Role::Supervisor => cfg.roster.supervises(&f.email, reporter),
        Role::Rep | Role::Clerk => false,
    });
    let Some(filer) = filer else {
        let by = by.to_lowercase();
        return Err(match cfg.roster.by_email(&by) {
            Some(f) if f.role == Role::Supervisor => ExcuseError::NotTheirSupervisor { by, person },
            _ => ExcuseError::NotAuthorised(by),
        });
    };
    let by = filer.email.clone();
    if reason.trim().is_empty() {
        return Err(ExcuseError::EmptyReason);
    }
    let inserted = conn.prepare_cached("INSERT OR IGNORE INTO excuses (person, period, reason, by, at) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(
        params![person, period.to_string(), reason.trim(), by, ts(at)],
    )?;
    if inserted == 0 {
        return Err(ExcuseError::AlreadyExcused { person, period });
    }
    Ok(Excuse {
        id: conn.last_insert_rowid(),
        person,
        period,
        reason: reason.trim().to_string(),
        by,
        at,
    })
}

pub fn excuse_for(
    conn: &Connection,
    person: &str,
    period: Period,
) -> rusqlite::Result<Option<Excuse>> {
    conn.prepare_cached(
        "SELECT id, person, period, reason, by, at FROM excuses WHERE person = ?1 AND period = ?2",
    )?
    .query_row(params![person, period.to_string()], excuse_row)
    .optional()
    .map(Option::flatten)
}

/// Reasons filed since `since` other than by an email command (so with
/// `reportd excuse`), oldest first: each is owed a confirmation.
pub fn filed_without_email(
    conn: &Connection,
    since: DateTime<Utc>,
) -> rusqlite::Result<Vec<Excuse>> {
    let mut stmt = conn.prepare(
        "SELECT e.id, e.person, e.period, e.reason, e.by, e.at FROM excuses e
         WHERE e.at >= ?1 AND NOT EXISTS (SELECT 1 FROM commands c WHERE c.excuse = e.id)
         ORDER BY e.at, e.id",
    )?;
    let rows = stmt.query_map([crate::store::ts(since)], excuse_row)?;
    let mut out = Vec::new();
    for e in rows {
        out.extend(e?);
    }
    Ok(out)
}

/// The reasons filed, by person and period: every one, or those of
/// `periods`.
fn excuses_of(
    conn: &Connection,
    periods: Option<&[Period]>,
) -> rusqlite::Result<ByPersonPeriod<Excuse>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, person, period, reason, by, at FROM excuses
         WHERE ?1 IS NULL OR period IN (SELECT value FROM json_each(?1))",
    )?;
    let rows = stmt.query_map([period::json_list(periods)], excuse_row)?;
    let mut out = ByPersonPeriod::default();
    for e in rows {
        if let Some(e) = e? {
            out.insert(&e.person.clone(), e.period, e);
        }
    }
    Ok(out)
}

fn excuse_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<Excuse>> {
    let period: String = r.get(2)?;
    let Ok(period) = period.parse() else {
        return Ok(None);
    };
    Ok(Some(Excuse {
        id: r.get(0)?,
        person: r.get(1)?,
        period,
        reason: r.get(3)?,
        by: r.get(4)?,
        at: parse_ts(&r.get::<_, String>(5)?)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn config_with(person_extra: &str) -> Config {
        let text = format!(
            r#"
database = "x.sqlite3"
tracking_starts = "2026-01-01"
calendar = []
[maildir]
path = "/nonexistent"
[[person]]
name = "主管"
email = "sup@example.com"
role = "supervisor"
[[person]]
name = "助理"
email = "assistant@example.com"
role = "assistant"
[[person]]
name = "代表"
email = "rep@example.com"
role = "rep"
supervisor = "sup@example.com"
{person_extra}
"#
        );
        Config::from_toml_str(&text, std::path::Path::new("test.toml")).expect("config")
    }

    /// January 2026's monthly report: due at the end of Monday 2026-02-02,
    /// the first working day of February (00:00 of 02-03 as an instant).
    fn january_report() -> Deadline {
        let calendar = Calendar::from_toml_str(
            include_str!("../../config/calendar/cn-2026.toml"),
            std::path::Path::new("config/calendar/cn-2026.toml"),
        )
        .expect("calendar");
        let cfg = config_with("");
        let january = Period::Month {
            year: 2026,
            month: 1,
        };
        period::deadline(january, &cfg.rules.due, &calendar, cfg.timezone).expect("due")
    }

    #[test]
    fn a_reason_filed_under_an_alias_is_filed_for_the_roster_address_and_only_by_who_may() {
        let cfg = config_with(
            r#"aliases = ["rep88@163.com"]
[[person]]
name = "主管二"
email = "sup2@example.com"
role = "supervisor""#,
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = crate::store::open(&dir.path().join("db.sqlite3")).expect("db");
        let week = Period::Week {
            year: 2026,
            week: 46,
        };
        let at = Utc
            .with_ymd_and_hms(2026, 11, 20, 2, 0, 0)
            .single()
            .expect("instant");
        // Another group's supervisor may not, and is told whose reason
        // it is to file; the rep's own one may, by alias.
        let refused = file_excuse(
            &conn,
            &cfg,
            "rep88@163.com",
            week,
            "出差",
            "sup2@example.com",
            at,
        );
        assert!(
            matches!(
                &refused,
                Err(ExcuseError::NotTheirSupervisor { by, .. }) if by == "sup2@example.com"
            ),
            "{refused:?}"
        );
        let said = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(said.contains("their own supervisor"), "{said}");
        assert!(!said.contains("not a configured"), "{said}");
        let filed = file_excuse(
            &conn,
            &cfg,
            "REP88@163.com",
            week,
            "出差",
            "SUP@example.com",
            at,
        )
        .expect("filed");
        assert_eq!(
            (filed.person.as_str(), filed.by.as_str()),
            ("rep@example.com", "sup@example.com")
        );
        assert!(
            excuse_for(&conn, "rep@example.com", week)
                .expect("read")
                .is_some()
        );
    }

    fn judged_with(person_extra: &str) -> bool {
        let cfg = config_with(person_extra);
        let rep = cfg.roster.by_email("rep@example.com").expect("rep");
        is_judged(rep, &cfg, &january_report())
    }

    #[test]
    fn verdicts_come_by_deadline_then_person_weekly_before_monthly_whatever_their_windows() {
        let cfg = config_with(
            r#"[[person]]
name = "甲"
email = "alpha@example.com"
role = "rep"
supervisor = "sup@example.com"
since = "2026-06-01"
[[person]]
name = "乙"
email = "zed@example.com"
role = "clerk"
supervisor = "sup@example.com"
until = "2026-03-01""#,
        );
        let calendar = Calendar::from_toml_str(
            include_str!("../../config/calendar/cn-2026.toml"),
            std::path::Path::new("config/calendar/cn-2026.toml"),
        )
        .expect("calendar");
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = crate::store::open(&dir.path().join("t.sqlite3")).expect("db");
        let now = Utc
            .with_ymd_and_hms(2026, 7, 15, 4, 0, 0)
            .single()
            .expect("now");
        // The order as one stable sort by deadline of everyone's verdicts,
        // people in address order, weekly before monthly.
        let mut people: Vec<&Person> = cfg.roster.reporters().collect();
        people.sort_by(|a, b| a.email.cmp(&b.email));
        let mut expected: Vec<Verdict> = people
            .iter()
            .flat_map(|p| {
                [Kind::Weekly, Kind::Monthly]
                    .into_iter()
                    .flat_map(|k| judged_deadlines(p, k, &cfg, &calendar, now))
                    .map(|d| judge(&p.email, d, None, None, now))
            })
            .collect();
        expected.sort_by_key(|v| v.deadline.due);
        let got = verdicts(&conn, &cfg, &calendar, now, &[]).expect("verdicts");
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "the same verdicts in the same order");
        assert!(got.iter().any(|v| v.person == "alpha@example.com"));
        assert!(got.iter().any(|v| v.person == "zed@example.com"));
        // Only some periods, one named twice: each verdict as often as
        // its period is named, in the same order.
        let june = Period::Month {
            year: 2026,
            month: 6,
        };
        // Week 9 (23 February – 1 March) is zed's last.
        let w9 = Period::Week {
            year: 2026,
            week: 9,
        };
        let only = verdicts(&conn, &cfg, &calendar, now, &[june, w9, june]).expect("only");
        let names: Vec<(String, Period)> = only
            .iter()
            .map(|v| (v.person.clone(), v.deadline.period))
            .collect();
        let of = |p: &str, period| (p.to_string(), period);
        assert_eq!(
            names,
            [
                of("rep@example.com", w9),
                of("zed@example.com", w9),
                of("alpha@example.com", june),
                of("alpha@example.com", june),
                of("rep@example.com", june),
                of("rep@example.com", june),
            ]
        );
    }

    #[test]
    fn a_deadline_at_the_end_of_day_d_is_not_judged_for_someone_starting_on_d_plus_1() {
        assert!(!judged_with(r#"since = "2026-02-03""#));
        assert!(judged_with(r#"since = "2026-02-02""#));
    }

    #[test]
    fn a_deadline_at_the_end_of_day_d_is_judged_for_someone_leaving_on_d() {
        assert!(judged_with(r#"until = "2026-02-02""#));
        assert!(!judged_with(r#"until = "2026-02-01""#));
    }

    #[test]
    fn tracking_that_starts_the_day_after_a_deadline_does_not_judge_it() {
        let mut cfg = config_with("");
        cfg.tracking_starts = chrono::NaiveDate::from_ymd_opt(2026, 2, 3).expect("date");
        let rep = cfg.roster.by_email("rep@example.com").expect("rep");
        assert!(!is_judged(rep, &cfg, &january_report()));
    }

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

    fn report_at(secs_after_due: i64) -> FirstReport {
        FirstReport {
            id: 1,
            received: w48().due + chrono::Duration::seconds(secs_after_due),
            message_id: Some("m@x".into()),
            replied_at: None,
        }
    }

    fn excuse_at(secs_after_due: i64) -> Excuse {
        Excuse {
            id: 1,
            person: "a@example.com".into(),
            period: w48().period,
            reason: "sick".into(),
            by: "boss@example.com".into(),
            at: w48().due + chrono::Duration::seconds(secs_after_due),
        }
    }

    fn at(secs_after_due: i64) -> DateTime<Utc> {
        w48().due + chrono::Duration::seconds(secs_after_due)
    }

    #[test]
    fn report_one_second_before_the_deadline_is_on_time() {
        let v = judge("a@example.com", w48(), Some(&report_at(-1)), None, at(3600));
        assert_eq!(v.status, Status::OnTime);
        assert!(!v.fine_owed);
    }

    #[test]
    fn report_at_the_deadline_exactly_is_late_and_fined() {
        let v = judge("a@example.com", w48(), Some(&report_at(0)), None, at(3600));
        assert_eq!(v.status, Status::Late);
        assert!(v.fine_owed);
    }

    #[test]
    fn no_report_before_the_deadline_is_pending_then_missing() {
        assert_eq!(
            judge("a@example.com", w48(), None, None, at(-1)).status,
            Status::Pending
        );
        let v = judge("a@example.com", w48(), None, None, at(0));
        assert_eq!(v.status, Status::Missing);
        assert!(v.fine_owed);
    }

    #[test]
    fn reason_filed_before_the_deadline_prevents_the_fine() {
        let v = judge(
            "a@example.com",
            w48(),
            None,
            Some(&excuse_at(-60)),
            at(3600),
        );
        assert_eq!(v.status, Status::Excused);
        assert!(!v.fine_owed && !v.waiver_owed);
        let before = judge("a@example.com", w48(), None, Some(&excuse_at(-60)), at(-30));
        assert_eq!(before.status, Status::Excused);
    }

    #[test]
    fn reason_filed_after_the_deadline_owes_fine_and_waiver() {
        let v = judge("a@example.com", w48(), None, Some(&excuse_at(60)), at(3600));
        assert_eq!(v.status, Status::Excused);
        assert!(v.fine_owed && v.waiver_owed);
    }

    #[test]
    fn on_time_report_is_on_time_even_with_a_reason() {
        let v = judge(
            "a@example.com",
            w48(),
            Some(&report_at(-5)),
            Some(&excuse_at(60)),
            at(3600),
        );
        assert_eq!(v.status, Status::OnTime);
        assert!(!v.fine_owed && !v.waiver_owed);
    }
}
