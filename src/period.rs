//! Report periods and their deadlines. The single home of "due Saturday
//! 22:00" and "due by the end of the first working day of the next month".

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
    Utc, Weekday,
};
use chrono_tz::Tz;

use crate::calendar::{Calendar, month_end, month_start};

/// Which report: weekly (周报) or monthly (月报).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Weekly,
    Monthly,
}

impl Kind {
    /// `weekly` | `monthly`, as stored and shown in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Weekly => "weekly",
            Kind::Monthly => "monthly",
        }
    }
}

/// A report period: an ISO week (`2026-W48`) or the month reported on
/// (`2026-11`, due early in December).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    Week { year: i32, week: u32 },
    Month { year: i32, month: u32 },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a period: write an ISO week like 2026-W48 or a month like 2026-11")]
pub struct PeriodParseError(pub String);

impl Period {
    pub fn kind(&self) -> Kind {
        match self {
            Period::Week { .. } => Kind::Weekly,
            Period::Month { .. } => Kind::Monthly,
        }
    }

    /// The period of `kind` that contains `date`.
    pub fn containing(kind: Kind, date: NaiveDate) -> Period {
        match kind {
            Kind::Weekly => {
                let iso = date.iso_week();
                Period::Week {
                    year: iso.year(),
                    week: iso.week(),
                }
            }
            Kind::Monthly => Period::Month {
                year: date.year(),
                month: date.month(),
            },
        }
    }

    pub fn next(&self) -> Period {
        match *self {
            Period::Week { .. } => {
                let monday = self.first_day();
                Period::containing(
                    Kind::Weekly,
                    monday.checked_add_days(Days::new(7)).unwrap_or(monday),
                )
            }
            Period::Month { year, month } => {
                let first = month_start(year, month.saturating_add(1));
                Period::containing(Kind::Monthly, first)
            }
        }
    }

    pub fn prev(&self) -> Period {
        match *self {
            Period::Week { .. } => {
                let monday = self.first_day();
                Period::containing(
                    Kind::Weekly,
                    monday.checked_sub_days(Days::new(7)).unwrap_or(monday),
                )
            }
            Period::Month { year, month } => {
                let first = month_start(year, month)
                    .pred_opt()
                    .unwrap_or(NaiveDate::MIN);
                Period::containing(Kind::Monthly, first)
            }
        }
    }

    /// First day of the period (Monday of the week, 1st of the month).
    pub fn first_day(&self) -> NaiveDate {
        match *self {
            Period::Week { year, week } => iso_week_monday(year, week),
            Period::Month { year, month } => month_start(year, month),
        }
    }

    /// Last day of the period (Sunday of the week, last of the month).
    pub fn last_day(&self) -> NaiveDate {
        match *self {
            Period::Week { .. } => {
                let monday = self.first_day();
                monday
                    .checked_add_days(Days::new(6))
                    .unwrap_or(NaiveDate::MAX)
            }
            Period::Month { year, month } => month_end(year, month),
        }
    }

    /// Every day of the period, first to last.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let last = self.last_day();
        self.first_day().iter_days().take_while(move |d| *d <= last)
    }
}

/// `periods` as the JSON array of their names (`["2026-W48","2026-11"]`)
/// that a query reads with `json_each`; `None` for no restriction.
pub fn json_list(periods: Option<&[Period]>) -> Option<String> {
    // A period's name is digits, `-` and `W`: nothing to escape.
    let names: Vec<String> = periods?.iter().map(|p| format!("\"{p}\"")).collect();
    Some(format!("[{}]", names.join(",")))
}

/// How many ISO weeks `year` has: 53 when it starts on a Thursday (or is a
/// leap year starting on a Wednesday), else 52.
pub fn iso_weeks_in_year(year: i32) -> u32 {
    NaiveDate::from_ymd_opt(year, 12, 28)
        .map(|d| d.iso_week().week())
        .unwrap_or(52)
}

/// Monday of ISO week `week` of ISO year `year`; weeks outside the year's
/// range count on from week 1 (week 0 is the last week of the year before).
fn iso_week_monday(year: i32, week: u32) -> NaiveDate {
    let Some(jan4) = NaiveDate::from_ymd_opt(year, 1, 4) else {
        return if year < 0 {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        };
    };
    let week1 = jan4
        .checked_sub_days(Days::new(u64::from(jan4.weekday().num_days_from_monday())))
        .unwrap_or(NaiveDate::MIN);
    match week {
        0 => week1
            .checked_sub_days(Days::new(7))
            .unwrap_or(NaiveDate::MIN),
        w => week1
            .checked_add_days(Days::new(u64::from(w - 1) * 7))
            .unwrap_or(NaiveDate::MAX),
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Week { year, week } => write!(f, "{year}-W{week:02}"),
            Period::Month { year, month } => write!(f, "{year}-{month:02}"),
        }
    }
}

impl FromStr for Period {
    type Err = PeriodParseError;
    /// Exactly `YYYY-Www` (ISO week, two digits, within the ISO year's week
    /// count) or `YYYY-MM` (month 01 to 12).
    fn from_str(s: &str) -> Result<Period, PeriodParseError> {
        let err = || PeriodParseError(s.to_string());
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        let number = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok());
        if b.len() < 7 || !digits(0..4) || b[4] != b'-' {
            return Err(err());
        }
        let year = number(0..4)
            .and_then(|y| i32::try_from(y).ok())
            .ok_or_else(err)?;
        match b.len() {
            7 if digits(5..7) => {
                let month = number(5..7).ok_or_else(err)?;
                if (1..=12).contains(&month) {
                    Ok(Period::Month { year, month })
                } else {
                    Err(err())
                }
            }
            8 if b[5] == b'W' && digits(6..8) => {
                let week = number(6..8).ok_or_else(err)?;
                if (1..=iso_weeks_in_year(year)).contains(&week) {
                    Ok(Period::Week { year, week })
                } else {
                    Err(err())
                }
            }
            _ => Err(err()),
        }
    }
}

/// When the weekly report is due: `SAT 22:00` (arrival strictly before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeeklyDue {
    pub weekday: Weekday,
    pub time: NaiveTime,
}

/// When the monthly report is due. Only one rule exists today; the enum keeps
/// room for another without a stringly-typed config value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MonthlyDue {
    /// Before the end (24:00) of the first working day of the next month.
    #[default]
    FirstWorkingDay,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a due time: {1}")]
pub struct DueParseError(pub String, pub &'static str);

const WEEKLY_DUE_FORMS: &str =
    "write a weekday and a 24-hour local time, like `SAT 22:00` or `saturday 22:00`";

impl FromStr for WeeklyDue {
    type Err = DueParseError;
    /// `SAT 22:00`, `Sat 22:00`, `saturday 22:00`.
    fn from_str(s: &str) -> Result<WeeklyDue, DueParseError> {
        let err = |why: &'static str| DueParseError(s.to_string(), why);
        let mut parts = s.split_whitespace();
        let (Some(day), Some(time), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(err(WEEKLY_DUE_FORMS));
        };
        let weekday = parse_weekday(day).ok_or_else(|| {
            err("the weekday must be MON, TUE, WED, THU, FRI, SAT or SUN (or spelled out, like saturday)")
        })?;
        let time = parse_hh_mm(time).ok_or_else(|| {
            err("the time must be HH:MM on a 24-hour clock, from 00:00 to 23:59, like 22:00")
        })?;
        Ok(WeeklyDue { weekday, time })
    }
}

fn parse_weekday(s: &str) -> Option<Weekday> {
    let lower = s.to_ascii_lowercase();
    let day = match lower.as_str() {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    };
    Some(day)
}

/// `HH:MM` (or `H:MM`), 00:00 to 23:59.
fn parse_hh_mm(s: &str) -> Option<NaiveTime> {
    let (h, m) = s.split_once(':')?;
    let ok = |t: &str, max_len: usize| {
        !t.is_empty() && t.len() <= max_len && t.bytes().all(|c| c.is_ascii_digit())
    };
    if !ok(h, 2) || m.len() != 2 || !ok(m, 2) {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

impl fmt::Display for WeeklyDue {
    /// `SAT 22:00`, which [`WeeklyDue::from_str`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let day = match self.weekday {
            Weekday::Mon => "MON",
            Weekday::Tue => "TUE",
            Weekday::Wed => "WED",
            Weekday::Thu => "THU",
            Weekday::Fri => "FRI",
            Weekday::Sat => "SAT",
            Weekday::Sun => "SUN",
        };
        write!(f, "{day} {}", self.time.format("%H:%M"))
    }
}

impl Default for WeeklyDue {
    /// `SAT 22:00`, the handbook's rule.
    fn default() -> WeeklyDue {
        WeeklyDue {
            weekday: Weekday::Sat,
            time: SAT_DUE_TIME,
        }
    }
}

const SAT_DUE_TIME: NaiveTime = match NaiveTime::from_hms_opt(22, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

impl FromStr for MonthlyDue {
    type Err = DueParseError;
    /// `first-working-day`.
    fn from_str(s: &str) -> Result<MonthlyDue, DueParseError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "first-working-day" => Ok(MonthlyDue::FirstWorkingDay),
            _ => Err(DueParseError(
                s.to_string(),
                "the only monthly rule is `first-working-day` (before the end of the first \
                 working day of the next month)",
            )),
        }
    }
}

impl fmt::Display for MonthlyDue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MonthlyDue::FirstWorkingDay => f.write_str("first-working-day"),
        }
    }
}

/// The due rules from the config, in one value. The default is `SAT 22:00`
/// and `first-working-day`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DueRules {
    pub weekly: WeeklyDue,
    pub monthly: MonthlyDue,
}

/// A period's deadline: a report is on time when it arrives strictly before
/// `due`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub period: Period,
    pub due: DateTime<Utc>,
    /// Computed on a calendar with no official notice for a day it looked
    /// at (only the statutory holidays, no make-up days): the deadline may
    /// still move when the notice comes. Show it as such.
    pub provisional: bool,
}

impl Deadline {
    /// The local day the deadline belongs to: the day of the last instant
    /// before `due`. Saturday 22:00 belongs to Saturday; a deadline at the
    /// end of day D (00:00 of D+1) belongs to D, so `since = D+1` excludes
    /// it and `until = D` includes it.
    pub fn due_day(&self, tz: Tz) -> NaiveDate {
        (self.due.with_timezone(&tz) - chrono::Duration::nanoseconds(1)).date_naive()
    }

    /// The payroll month a fine for missing this deadline belongs to (and
    /// is deducted in): the month of its [`due_day`](Self::due_day).
    pub fn payroll_month(&self, tz: Tz) -> Month {
        Month::containing(self.due_day(tz))
    }

    /// The years whose missing holiday notice makes this deadline
    /// provisional, ascending (in practice one: the year of the days it
    /// depends on); empty when it is not provisional.
    pub fn provisional_years(&self, calendar: &Calendar, tz: Tz) -> Vec<i32> {
        if !self.provisional {
            return Vec::new();
        }
        let days = [
            self.period.first_day(),
            self.period.last_day(),
            self.due_day(tz),
        ];
        let mut years: Vec<i32> = days
            .iter()
            .map(Datelike::year)
            .filter(|y| calendar.basis(*y).is_provisional())
            .collect();
        years.sort_unstable();
        years.dedup();
        if years.is_empty() {
            // Flagged by a calendar since changed: name the deadline's year.
            years.push(self.due_day(tz).year());
        }
        years
    }

    /// Whether a report arriving at `arrival` is on time (strictly before
    /// `due`).
    pub fn is_on_time(&self, arrival: DateTime<Utc>) -> bool {
        arrival < self.due
    }
}

/// The one function that computes a deadline. `None` when nothing is due:
/// a week with no working day at all (e.g. 2026-W08, Spring Festival).
///
/// Weekly: the configured weekday and local time within the ISO week.
/// Monthly (period M): 00:00 local of the day after the first working day of
/// month M+1, i.e. the end of that working day.
///
/// Provisional when a day it depends on (a week's days; the days from the
/// 1st of M+1 to its first working day) has no official notice yet.
pub fn deadline(period: Period, rules: &DueRules, calendar: &Calendar, tz: Tz) -> Option<Deadline> {
    let (due_local, provisional) = match period {
        Period::Week { .. } => {
            let provisional = period.days().any(|d| calendar.is_provisional(d));
            if !period.days().any(|d| calendar.is_working_day(d)) {
                return None;
            }
            let monday = period.first_day();
            let day = monday.checked_add_days(Days::new(u64::from(
                rules.weekly.weekday.num_days_from_monday(),
            )))?;
            (day.and_time(rules.weekly.time), provisional)
        }
        Period::Month { .. } => match rules.monthly {
            MonthlyDue::FirstWorkingDay => {
                let next = period.next();
                let first = next.first_day();
                let working = calendar.first_working_day(first.year(), first.month());
                let provisional = first
                    .iter_days()
                    .take_while(|d| *d <= working)
                    .any(|d| calendar.is_provisional(d));
                (working.succ_opt()?.and_time(NaiveTime::MIN), provisional)
            }
        },
    };
    Some(Deadline {
        period,
        due: local_to_utc(tz, due_local),
        provisional,
    })
}

/// A local wall-clock time as an instant. An ambiguous time (clocks turned
/// back) takes the earlier instant; a time skipped by a DST gap is read with
/// the offset in force before the gap, which lands just after it.
fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => {
            let before = local - chrono::Duration::days(1);
            let offset = tz
                .from_local_datetime(&before)
                .earliest()
                .map(|t| t.offset().fix())
                .unwrap_or_else(|| tz.offset_from_utc_datetime(&local).fix());
            Utc.from_utc_datetime(&(local - offset))
        }
    }
}

/// A calendar month (`2026-11`): the payroll month a fine is deducted in,
/// the month a monthly email (payroll summary, archive) closes. Unlike
/// [`Period::Month`] it is never a week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    year: i32,
    /// 1 to 12.
    month: u32,
}

impl Month {
    /// `None` unless `month` is 1 to 12.
    pub fn new(year: i32, month: u32) -> Option<Month> {
        (1..=12).contains(&month).then_some(Month { year, month })
    }

    /// The month that contains `date`.
    pub fn containing(date: NaiveDate) -> Month {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    pub fn first_day(self) -> NaiveDate {
        month_start(self.year, self.month)
    }

    pub fn last_day(self) -> NaiveDate {
        month_end(self.year, self.month)
    }

    pub fn next(self) -> Month {
        Month::containing(month_start(self.year, self.month + 1))
    }

    pub fn prev(self) -> Month {
        Month::containing(self.first_day().pred_opt().unwrap_or(NaiveDate::MIN))
    }
}

impl From<Month> for Period {
    fn from(m: Month) -> Period {
        Period::Month {
            year: m.year,
            month: m.month,
        }
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Period::from(*self).fmt(f)
    }
}

/// Why a text is not a month.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a month: write it as YYYY-MM, e.g. 2026-11")]
pub struct MonthParseError(pub String);

impl FromStr for Month {
    type Err = MonthParseError;
    /// Exactly `YYYY-MM`.
    fn from_str(s: &str) -> Result<Month, MonthParseError> {
        match s.trim().parse::<Period>() {
            Ok(Period::Month { year, month }) => Ok(Month { year, month }),
            _ => Err(MonthParseError(s.to_string())),
        }
    }
}

impl serde::Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Month, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Values by person (a roster address) and period, looked up by `&str`
/// without building an owned key: judging a thousand people over a year
/// looks up some 65,000 of them. Hashed with foldhash, not the standard
/// SipHash, which was a tenth of a pass: the keys are roster addresses and
/// periods, not chosen by whoever sends mail.
#[derive(Debug, Clone)]
pub struct ByPersonPeriod<T>(HashMap<String, HashMap<Period, T, Hasher>, Hasher>);

type Hasher = foldhash::fast::RandomState;

impl<T> Default for ByPersonPeriod<T> {
    fn default() -> Self {
        ByPersonPeriod(HashMap::default())
    }
}

impl<T> ByPersonPeriod<T> {
    pub fn get(&self, person: &str, period: Period) -> Option<&T> {
        self.0.get(person)?.get(&period)
    }

    pub fn get_mut(&mut self, person: &str, period: Period) -> Option<&mut T> {
        self.0.get_mut(person)?.get_mut(&period)
    }

    /// `person`'s values by period.
    pub fn of(&self, person: &str) -> Option<&HashMap<Period, T, Hasher>> {
        self.0.get(person)
    }

    /// Sets `person`'s `period` to `value`; the address is copied only the
    /// first time it is seen.
    pub fn insert(&mut self, person: &str, period: Period, value: T) -> Option<T> {
        match self.0.get_mut(person) {
            Some(theirs) => theirs.insert(period, value),
            None => {
                let mut theirs = HashMap::default();
                theirs.insert(period, value);
                self.0.insert(person.to_string(), theirs);
                None
            }
        }
    }

    /// Every (person, period, value), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Period, &T)> {
        self.0
            .iter()
            .flat_map(|(p, m)| m.iter().map(move |(q, v)| (p.as_str(), *q, v)))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn by_person_period_finds_each_value_by_address_and_period_only() {
        let w = |week| Period::Week { year: 2026, week };
        let mut map = ByPersonPeriod::default();
        assert_eq!(map.insert("a@x.com", w(47), 1), None);
        assert_eq!(map.insert("a@x.com", w(48), 2), None);
        assert_eq!(map.insert("b@x.com", w(47), 3), None);
        assert_eq!(map.insert("a@x.com", w(48), 4), Some(2), "replaced");
        assert_eq!(map.get("a@x.com", w(47)), Some(&1));
        assert_eq!(map.get("a@x.com", w(48)), Some(&4));
        assert_eq!(map.get("b@x.com", w(48)), None);
        assert_eq!(map.get("A@x.com", w(47)), None, "addresses as written");
        assert_eq!(map.of("a@x.com").map(|m| m.len()), Some(2));
        let mut all: Vec<_> = map.iter().map(|(p, q, v)| (p.to_string(), q, *v)).collect();
        all.sort();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0], ("a@x.com".to_string(), w(47), 1));
    }

    const CN_2026: &str = include_str!("../config/calendar/cn-2026.toml");

    fn cn2026() -> Calendar {
        Calendar::from_toml_str(CN_2026, Path::new("config/calendar/cn-2026.toml")).unwrap()
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn week(year: i32, week: u32) -> Period {
        Period::Week { year, week }
    }

    fn month(year: i32, month: u32) -> Period {
        Period::Month { year, month }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn due(period: Period) -> Option<DateTime<Utc>> {
        deadline(
            period,
            &DueRules::default(),
            &cn2026(),
            chrono_tz::Asia::Shanghai,
        )
        .map(|d| d.due)
    }

    #[test]
    fn weekly_deadline_of_2026_w48_is_saturday_22_00_shanghai() {
        assert_eq!(due(week(2026, 48)), Some(utc("2026-11-28T14:00:00Z")));
    }

    #[test]
    fn january_2026_monthly_report_for_2025_12_is_due_by_end_of_sunday_the_4th() {
        let deadline = deadline(
            month(2025, 12),
            &DueRules::default(),
            &cn2026(),
            chrono_tz::Asia::Shanghai,
        )
        .unwrap();
        assert_eq!(deadline.period, month(2025, 12));
        assert_eq!(deadline.due, utc("2026-01-05T00:00:00+08:00"));
        assert_eq!(deadline.due_day(chrono_tz::Asia::Shanghai), d(2026, 1, 4));
        assert!(deadline.is_on_time(utc("2026-01-04T23:59:59+08:00")));
        assert!(!deadline.is_on_time(utc("2026-01-05T00:00:00+08:00")));
    }

    #[test]
    fn november_2026_monthly_report_is_due_by_end_of_december_1st() {
        assert_eq!(due(month(2026, 11)), Some(utc("2026-12-02T00:00:00+08:00")));
    }

    #[test]
    fn september_2026_monthly_report_waits_for_national_day_to_end() {
        assert_eq!(due(month(2026, 9)), Some(utc("2026-10-09T00:00:00+08:00")));
    }

    #[test]
    fn spring_festival_week_2026_w08_has_no_weekly_deadline() {
        assert_eq!(week(2026, 8).first_day(), d(2026, 2, 16));
        assert_eq!(week(2026, 8).last_day(), d(2026, 2, 22));
        assert_eq!(due(week(2026, 8)), None);
    }

    #[test]
    fn week_with_a_make_up_saturday_still_has_a_deadline() {
        // 2026-W07: Mon 9 – Sun 15 Feb, Sat 14 is a make-up working day.
        assert_eq!(due(week(2026, 7)), Some(utc("2026-02-14T22:00:00+08:00")));
        // 2026-W09: Tue 24 – Fri 27 worked after the festival.
        assert_eq!(due(week(2026, 9)), Some(utc("2026-02-28T22:00:00+08:00")));
    }

    #[test]
    fn national_day_week_2026_w40_still_has_a_deadline() {
        // Mon 28 Sep – Wed 30 Sep are working days.
        assert_eq!(due(week(2026, 40)), Some(utc("2026-10-03T22:00:00+08:00")));
    }

    #[test]
    fn year_end_2026_w53_is_due_on_saturday_2027_01_02() {
        let p = Period::containing(Kind::Weekly, d(2026, 12, 31));
        assert_eq!(p, week(2026, 53));
        assert_eq!(
            Period::containing(Kind::Weekly, d(2027, 1, 1)),
            week(2026, 53)
        );
        assert_eq!(
            Period::containing(Kind::Weekly, d(2027, 1, 3)),
            week(2026, 53)
        );
        assert_eq!(
            Period::containing(Kind::Weekly, d(2027, 1, 4)),
            week(2027, 1)
        );
        assert_eq!(p.first_day(), d(2026, 12, 28));
        assert_eq!(p.last_day(), d(2027, 1, 3));
        assert_eq!(due(p), Some(utc("2027-01-02T22:00:00+08:00")));
    }

    #[test]
    fn first_week_of_2026_starts_in_december_2025() {
        let p = Period::containing(Kind::Weekly, d(2025, 12, 29));
        assert_eq!(p, week(2026, 1));
        assert_eq!(p.first_day(), d(2025, 12, 29));
        assert_eq!(due(p), Some(utc("2026-01-03T22:00:00+08:00")));
    }

    #[test]
    fn december_2026_report_is_not_due_on_new_years_day_2027_and_is_provisional() {
        let cal = cn2026();
        assert!(!cal.covers(2027));
        let got = deadline(
            month(2026, 12),
            &DueRules::default(),
            &cal,
            chrono_tz::Asia::Shanghai,
        )
        .unwrap();
        // 2027-01-01 (Fri) is 元旦, 2-3 Jan a weekend: due by the end of Mon 4 Jan.
        assert_eq!(got.due, utc("2027-01-05T00:00:00+08:00"));
        assert_eq!(got.due_day(chrono_tz::Asia::Shanghai), d(2027, 1, 4));
        assert!(got.provisional);
    }

    #[test]
    fn a_deadline_judged_only_on_notified_days_is_not_provisional() {
        let cal = cn2026();
        let tz = chrono_tz::Asia::Shanghai;
        let rules = DueRules::default();
        for p in [month(2026, 11), week(2026, 52), month(2025, 12)] {
            let got = deadline(p, &rules, &cal, tz).unwrap();
            assert!(!got.provisional, "{p}");
        }
        // 2026-W53 runs to Sun 3 Jan 2027.
        assert!(
            deadline(week(2026, 53), &rules, &cal, tz)
                .unwrap()
                .provisional
        );
        assert!(
            deadline(week(2027, 10), &rules, &cal, tz)
                .unwrap()
                .provisional
        );
    }

    #[test]
    fn provisional_2027_spring_festival_and_may_day_move_deadlines() {
        // 春节 2027: 除夕 Fri 5 Feb to 初三 Mon 8 Feb, the weekend two made up
        // on Tue 9 and Wed 10: the week of Feb 8 still has Thu and Fri.
        assert_eq!(due(week(2027, 6)), Some(utc("2027-02-13T22:00:00+08:00")));
        // May 2027: 1 and 2 May are Sat and Sun, made up on Mon 3 and Tue 4.
        assert_eq!(due(month(2027, 4)), Some(utc("2027-05-06T00:00:00+08:00")));
    }

    #[test]
    fn weekly_deadline_follows_the_configured_weekday_and_time() {
        let rules = DueRules {
            weekly: "FRI 18:30".parse().unwrap(),
            monthly: MonthlyDue::FirstWorkingDay,
        };
        let got = deadline(week(2026, 48), &rules, &cn2026(), chrono_tz::Asia::Shanghai);
        assert_eq!(got.map(|d| d.due), Some(utc("2026-11-27T18:30:00+08:00")));
    }

    #[test]
    fn deadline_uses_the_given_time_zone() {
        let got = deadline(
            week(2026, 48),
            &DueRules::default(),
            &cn2026(),
            chrono_tz::Europe::Berlin,
        );
        assert_eq!(got.map(|d| d.due), Some(utc("2026-11-28T21:00:00Z")));
    }

    #[test]
    fn a_local_time_in_a_dst_gap_lands_just_after_the_gap() {
        // Berlin skips 02:00–03:00 on 2026-03-29 (a Sunday).
        let got = local_to_utc(
            chrono_tz::Europe::Berlin,
            d(2026, 3, 29).and_hms_opt(2, 30, 0).unwrap(),
        );
        assert_eq!(got, utc("2026-03-29T01:30:00Z"));
    }

    #[test]
    fn periods_parse_the_two_canonical_forms() {
        assert_eq!("2026-W48".parse(), Ok(week(2026, 48)));
        assert_eq!("2026-W01".parse(), Ok(week(2026, 1)));
        assert_eq!("2026-W53".parse(), Ok(week(2026, 53)));
        assert_eq!("2026-11".parse(), Ok(month(2026, 11)));
        assert_eq!("2025-12".parse(), Ok(month(2025, 12)));
    }

    #[test]
    fn periods_reject_everything_else() {
        for bad in [
            "2026-W1",
            "2026-W001",
            "2026-w48",
            "2026W48",
            "2026-W00",
            "2027-W53",
            "2026-W54",
            "2026-13",
            "2026-00",
            "2026-1",
            "2026-011",
            "26-11",
            " 2026-11",
            "2026-11 ",
            "2026-+1",
            "+026-11",
            "2026-W+1",
            "",
            "2026",
            "２０２６-11",
        ] {
            assert_eq!(
                bad.parse::<Period>(),
                Err(PeriodParseError(bad.to_string())),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn period_parse_error_says_what_to_write() {
        let msg = "week 48".parse::<Period>().unwrap_err().to_string();
        assert!(msg.contains("2026-W48") && msg.contains("2026-11"), "{msg}");
    }

    #[test]
    fn periods_display_as_they_parse() {
        for text in ["2026-W48", "2026-W01", "2026-W53", "2026-11", "2026-01"] {
            assert_eq!(text.parse::<Period>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn iso_week_counts_match_the_calendar() {
        assert_eq!(iso_weeks_in_year(2026), 53);
        assert_eq!(iso_weeks_in_year(2025), 52);
        assert_eq!(iso_weeks_in_year(2027), 52);
        assert_eq!(iso_weeks_in_year(2020), 53);
    }

    #[test]
    fn next_and_prev_cross_year_ends() {
        assert_eq!(week(2026, 52).next(), week(2026, 53));
        assert_eq!(week(2026, 53).next(), week(2027, 1));
        assert_eq!(week(2027, 1).prev(), week(2026, 53));
        assert_eq!(week(2026, 1).prev(), week(2025, 52));
        assert_eq!(week(2025, 52).next(), week(2026, 1));
        assert_eq!(month(2026, 12).next(), month(2027, 1));
        assert_eq!(month(2026, 1).prev(), month(2025, 12));
        assert_eq!(month(2026, 5).next(), month(2026, 6));
        assert_eq!(month(2026, 5).prev(), month(2026, 4));
    }

    #[test]
    fn containing_a_month_gives_the_calendar_month() {
        assert_eq!(
            Period::containing(Kind::Monthly, d(2026, 11, 30)),
            month(2026, 11)
        );
        assert_eq!(
            Period::containing(Kind::Monthly, d(2027, 1, 1)),
            month(2027, 1)
        );
    }

    #[test]
    fn month_first_and_last_days() {
        assert_eq!(month(2026, 2).first_day(), d(2026, 2, 1));
        assert_eq!(month(2026, 2).last_day(), d(2026, 2, 28));
        assert_eq!(month(2028, 2).last_day(), d(2028, 2, 29));
        assert_eq!(month(2026, 12).last_day(), d(2026, 12, 31));
        assert_eq!(month(2026, 2).days().count(), 28);
    }

    #[test]
    fn every_week_of_2026_runs_monday_to_sunday_and_contains_itself() {
        for w in 1..=iso_weeks_in_year(2026) {
            let p = week(2026, w);
            assert_eq!(p.first_day().weekday(), Weekday::Mon);
            assert_eq!(p.last_day().weekday(), Weekday::Sun);
            assert_eq!(Period::containing(Kind::Weekly, p.first_day()), p);
            assert_eq!(Period::containing(Kind::Weekly, p.last_day()), p);
            assert_eq!(p.days().count(), 7);
        }
    }

    #[test]
    fn weekly_due_parses_abbreviated_capitalised_and_full_weekdays() {
        let sat = WeeklyDue {
            weekday: Weekday::Sat,
            time: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
        };
        for text in [
            "SAT 22:00",
            "Sat 22:00",
            "saturday 22:00",
            "SATURDAY  22:00",
            " sat 22:00 ",
        ] {
            assert_eq!(text.parse(), Ok(sat), "{text}");
        }
        assert_eq!(WeeklyDue::default(), sat);
        assert_eq!(sat.to_string(), "SAT 22:00");
        assert_eq!(
            "mon 9:05".parse::<WeeklyDue>().map(|w| w.to_string()),
            Ok("MON 09:05".to_string())
        );
    }

    #[test]
    fn weekly_due_rejects_bad_times_with_a_helpful_message() {
        for bad in [
            "SAT 24:00",
            "SAT 22:60",
            "SAT 22",
            "SAT 22:0",
            "SAT 10pm",
            "SAT -1:00",
            "SAT 22:00:00",
        ] {
            let err = bad.parse::<WeeklyDue>().unwrap_err();
            assert!(err.to_string().contains("HH:MM"), "{bad}: {err}");
            assert!(err.to_string().contains(bad), "{bad}: {err}");
        }
        let err = "SATUR 22:00".parse::<WeeklyDue>().unwrap_err();
        assert!(err.to_string().contains("weekday"), "{err}");
        let err = "22:00".parse::<WeeklyDue>().unwrap_err();
        assert!(err.to_string().contains("like `SAT 22:00`"), "{err}");
        let err = "SAT 22:00 CST".parse::<WeeklyDue>().unwrap_err();
        assert!(err.to_string().contains("like `SAT 22:00`"), "{err}");
    }

    #[test]
    fn monthly_due_accepts_first_working_day_only() {
        assert_eq!("first-working-day".parse(), Ok(MonthlyDue::FirstWorkingDay));
        assert_eq!(MonthlyDue::FirstWorkingDay.to_string(), "first-working-day");
        let err = "last-day".parse::<MonthlyDue>().unwrap_err();
        assert!(err.to_string().contains("`first-working-day`"), "{err}");
    }

    #[test]
    fn month_reads_writes_and_steps_over_the_year_end() {
        let dec: Month = "2026-12".parse().expect("month");
        assert_eq!(dec.to_string(), "2026-12");
        assert_eq!(dec.next().to_string(), "2027-01");
        assert_eq!(dec.next().prev(), dec);
        assert_eq!(
            dec.last_day(),
            NaiveDate::from_ymd_opt(2026, 12, 31).expect("date")
        );
        assert!("2026-W48".parse::<Month>().is_err());
        assert!("2026-13".parse::<Month>().is_err());
        assert_eq!(Month::new(2026, 0), None);
        let json = serde_json::to_string(&dec).expect("json");
        assert_eq!(json, "\"2026-12\"");
        assert_eq!(serde_json::from_str::<Month>(&json).expect("back"), dec);
    }
}
