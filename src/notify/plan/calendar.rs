//! The calendar notice: one email a year to each assistant when reportd is
//! about to judge deadlines on a provisional calendar (no holiday notice for
//! their year, neither built in from tyme4rs nor in an `official` calendar
//! file). It lists the deadlines affected and says how to give reportd the
//! notice. Keyed `calendar-notice:<year>:<assistant>`, so passes, restarts
//! and a second process never send it twice; a year that is covered is
//! never asked about.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use super::{NotifyError, Owed, Planner};
use crate::calendar::{self, DayKind};
use crate::config::{Language, Person};
use crate::names;
use crate::notify::compose::{CalendarNotice, Contact, ProvisionalDeadline};
use crate::notify::outbox;
use crate::period::{Deadline, Kind, Period};
use crate::reports::compliance;

/// How far ahead a provisional deadline makes the notice owed: time enough
/// for the assistant to act before the first one is judged.
const LOOKAHEAD_DAYS: i64 = 60;
/// How many periods ahead to look for a reporter's next deadline (about a
/// year of weeks): a `tracking_starts` further off asks nothing yet.
const MAX_PERIODS: usize = 60;

/// The idempotency key of the calendar notice of `year` to `assistant`.
pub fn calendar_notice_key(year: i32, assistant: &str) -> String {
    format!("calendar-notice:{year}:{assistant}")
}

impl Planner<'_> {
    /// Queues the calendar notice of each provisional year an upcoming
    /// deadline depends on, to each assistant, unless it went out before.
    pub(super) fn calendar_notices(
        &self,
        conn: &rusqlite::Connection,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        let mut queued = 0;
        for (year, deadlines) in self.provisional_deadlines(now) {
            for assistant in self.cfg.roster.assistants() {
                let key = calendar_notice_key(year, &assistant.email);
                if !self.active(assistant, now) || outbox::state_of(conn, &key)?.is_some() {
                    continue;
                }
                let lang = self.lang(assistant);
                let ctx = self.calendar_notice(assistant, year, &deadlines, lang);
                let owed = Owed {
                    key,
                    lang,
                    ctx: &ctx,
                    to: vec![ctx.assistant.clone()],
                    cc: vec![],
                    in_reply_to: None,
                    not_before: self.quiet(now),
                };
                queued += self.queue(conn, owed, now)?;
            }
        }
        Ok(queued)
    }

    /// The upcoming deadlines judged provisionally, by the year whose
    /// notice they wait for, soonest first: those some reporter is judged
    /// on within [`LOOKAHEAD_DAYS`], and each reporter's next one however
    /// far.
    fn provisional_deadlines(&self, now: DateTime<Utc>) -> BTreeMap<i32, Vec<Deadline>> {
        let tz = self.cfg.timezone;
        let mut by_year: BTreeMap<i32, Vec<Deadline>> = BTreeMap::new();
        // Everyone shares the deadlines and the years they wait for: each is
        // computed once, not once per reporter.
        let mut deadlines = HashMap::new();
        let mut years = HashMap::new();
        for person in self.cfg.roster.reporters() {
            for kind in [Kind::Weekly, Kind::Monthly] {
                for d in self.upcoming(person, kind, now, &mut deadlines) {
                    let waits_for = years
                        .entry(d.period)
                        .or_insert_with(|| d.provisional_years(self.calendar, tz));
                    for &year in waits_for.iter() {
                        let list = by_year.entry(year).or_default();
                        if !list.iter().any(|x| x.period == d.period) {
                            list.push(d);
                        }
                    }
                }
            }
        }
        for list in by_year.values_mut() {
            list.sort_by_key(|d| (d.due, d.period.kind().as_str()));
        }
        by_year
    }

    /// `person`'s judged deadlines of `kind` due after `now`: every one
    /// within [`LOOKAHEAD_DAYS`], and at least the next.
    fn upcoming(
        &self,
        person: &Person,
        kind: Kind,
        now: DateTime<Utc>,
        deadlines: &mut HashMap<Period, Option<Deadline>>,
    ) -> Vec<Deadline> {
        let horizon = now + Duration::days(LOOKAHEAD_DAYS);
        let today = now.with_timezone(&self.cfg.timezone).date_naive();
        let mut period = Period::containing(kind, today).prev();
        let mut out = Vec::new();
        for _ in 0..MAX_PERIODS {
            let due = *deadlines
                .entry(period)
                .or_insert_with(|| compliance::deadline_of(self.cfg, self.calendar, period));
            let due = due.filter(|d| d.due > now && compliance::is_judged(person, self.cfg, d));
            if let Some(d) = due {
                if d.due > horizon && !out.is_empty() {
                    break;
                }
                out.push(d);
                if d.due > horizon {
                    break;
                }
            }
            period = period.next();
        }
        out
    }

    fn calendar_notice(
        &self,
        assistant: &Person,
        year: i32,
        deadlines: &[Deadline],
        lang: Language,
    ) -> CalendarNotice {
        let dir = self
            .cfg
            .calendar
            .last()
            .and_then(|p| p.parent())
            .unwrap_or(Path::new("config/calendar"));
        let file = dir.join(format!("cn-{year}.toml")).display().to_string();
        let listed = self
            .cfg
            .calendar
            .iter()
            .map(|p| p.display().to_string())
            .chain([file.clone()])
            .map(|p| format!("{p:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        CalendarNotice {
            assistant: Contact::from(assistant),
            year,
            deadlines: deadlines
                .iter()
                .map(|d| ProvisionalDeadline {
                    report: names::report(d.period, lang),
                    // The notice is about `year`: its dates go without it.
                    due: names::deadline(d, self.cfg.timezone, lang),
                })
                .collect(),
            days_off: self.days_off(year, lang),
            file,
            example: calendar::example_file(year),
            config: self.cfg.path.display().to_string(),
            calendar_line: format!("calendar = [{listed}]"),
        }
    }

    /// The days off of `year` reportd counts meanwhile, a run of days with
    /// one holiday's name (its 补假 included) as one range:
    /// `春节 2月5日（周五）–2月10日（周三）`.
    fn days_off(&self, year: i32, lang: Language) -> Vec<String> {
        let mut runs: Vec<(String, NaiveDate, NaiveDate)> = Vec::new();
        let first = calendar::month_start(year, 1);
        for day in first.iter_days().take_while(|d| d.year() == year) {
            let DayKind::Holiday(name) = self.calendar.day_kind(day) else {
                continue;
            };
            let name = name.trim_end_matches("（补假）");
            match runs.last_mut() {
                Some((n, _, to)) if n == name && to.succ_opt() == Some(day) => *to = day,
                _ => runs.push((name.to_string(), day, day)),
            }
        }
        runs.into_iter()
            .map(|(name, from, to)| {
                if from == to {
                    format!("{name} {}", names::day(from, lang))
                } else {
                    format!("{name} {}–{}", names::day(from, lang), names::day(to, lang))
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;
    use crate::config::Config;
    use crate::notify::compose::Templates;

    struct World {
        _dir: tempfile::TempDir,
        conn: rusqlite::Connection,
        cfg: Config,
        templates: Templates,
    }

    fn world() -> World {
        let dir = tempfile::tempdir().expect("dir");
        let conn = crate::store::open(&dir.path().join("c.sqlite3")).expect("db");
        World {
            _dir: dir,
            conn,
            cfg: crate::test_team::config(),
            templates: Templates::new().expect("templates"),
        }
    }

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        crate::test_team::shanghai(y, m, d, 10)
    }

    /// 2027 as a year with no notice whatever tyme4rs carries.
    fn pending_2027() -> Calendar {
        Calendar::from_toml_str(
            "year = 2027\nsource = \"test\"\nprovisional = true\n",
            Path::new("pending-2027.toml"),
        )
        .expect("calendar")
    }

    #[test]
    fn the_2027_notice_is_owed_once_when_a_deadline_within_60_days_falls_in_2027() {
        let w = world();
        let calendar = pending_2027();
        let planner = Planner::new(&w.cfg, &calendar, &w.templates).expect("planner");
        let owed = planner.provisional_deadlines(at(2026, 11, 23));
        let periods: Vec<String> = owed[&2027].iter().map(|d| d.period.to_string()).collect();
        // Week 53 (due Sat 2 Jan), the December report (end of Mon 4 Jan),
        // weeks 1 and 2 of 2027; nothing of 2026 is provisional.
        assert_eq!(periods, ["2026-W53", "2026-12", "2027-W01", "2027-W02"]);
        assert_eq!(owed.keys().copied().collect::<Vec<_>>(), [2027]);
        let now = at(2026, 11, 23);
        assert_eq!(planner.calendar_notices(&w.conn, now).expect("queue"), 1);
        assert_eq!(planner.calendar_notices(&w.conn, now).expect("again"), 0);
        let later = at(2026, 12, 20);
        assert_eq!(planner.calendar_notices(&w.conn, later).expect("later"), 0);
        let key = calendar_notice_key(2027, "zhaomin@example.com");
        assert!(outbox::is_queued_or_sent(&w.conn, &key).expect("state"));
    }

    #[test]
    fn no_notice_while_every_deadline_within_60_days_is_on_a_published_year() {
        let w = world();
        let calendar = pending_2027();
        let planner = Planner::new(&w.cfg, &calendar, &w.templates).expect("planner");
        // Up to 1 December: the last deadline of 2026 in reach is week 48.
        assert!(planner.provisional_deadlines(at(2026, 10, 1)).is_empty());
        assert_eq!(
            planner
                .calendar_notices(&w.conn, at(2026, 10, 1))
                .expect("q"),
            0
        );
    }

    #[test]
    fn a_year_with_an_official_calendar_file_is_never_asked_about() {
        let w = world();
        let calendar =
            Calendar::from_toml_str(&calendar::example_file(2027), Path::new("cn-2027.toml"))
                .expect("calendar");
        let planner = Planner::new(&w.cfg, &calendar, &w.templates).expect("planner");
        assert!(planner.provisional_deadlines(at(2026, 12, 20)).is_empty());
        assert_eq!(
            planner
                .calendar_notices(&w.conn, at(2026, 12, 20))
                .expect("q"),
            0
        );
    }

    #[test]
    fn the_notice_names_the_computed_days_off_as_ranges_and_the_file_to_write() {
        let w = world();
        let calendar = pending_2027();
        let planner = Planner::new(&w.cfg, &calendar, &w.templates).expect("planner");
        let off = planner.days_off(2027, Language::Zh);
        assert_eq!(off[0], "元旦 1月1日（周五）");
        assert!(
            off.contains(&"春节 2月5日（周五）–2月10日（周三）".to_string()),
            "{off:?}"
        );
        let assistant = w.cfg.roster.assistants().next().expect("assistant");
        let ctx = planner.calendar_notice(assistant, 2027, &[], Language::Zh);
        assert_eq!(ctx.file, "config/calendar/cn-2027.toml");
        assert_eq!(
            ctx.calendar_line,
            r#"calendar = ["config/calendar/cn-2027.toml"]"#
        );
    }
}
