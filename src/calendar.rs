//! The working-day calendar: the single home of "is this a working day" and
//! "first working day of a month".
//!
//! China's official schedule is built in ([`official`]: the State Council's
//! notices via tyme4rs, or for a year they do not reach yet the statutory
//! holidays, computed and provisional). TOML files named in the config's
//! `calendar` list override it day by day: a company's own days off, or a
//! notice tyme4rs does not carry yet (`official = true`).
//!
//! File format (see `config/calendar/cn-2026.toml`):
//!
//! ```toml
//! year = 2026
//! source = "国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04)"
//! official = true        # optional: this file is the year's whole notice
//! # provisional = true   # optional, instead: no notice counts for this year
//!                        # yet (built-in or not); judge on the computed
//!                        # statutory holidays and mark deadlines provisional
//!
//! [[holiday]]            # every day from `from` to `to` (inclusive) is off
//! name = "元旦"
//! from = 2026-01-01
//! to = 2026-01-03
//!
//! [[workday]]            # a Saturday or Sunday that is a working day
//! date = 2026-01-04
//! name = "元旦调休上班"
//! ```
//!
//! Dates may be TOML dates (`2026-01-01`) or strings (`"2026-01-01"`).

pub mod official;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;

use official::Basis;

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("cannot read calendar file {path}: {source}; check the `calendar` list in the config")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("calendar file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// What kind of day a date is, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind<'a> {
    /// Monday to Friday, not a public holiday.
    Workday,
    /// Saturday or Sunday, not a make-up working day.
    Weekend,
    /// A public holiday (any weekday), with its name.
    Holiday(&'a str),
    /// A weekend day that is a working day (调休上班), with its name.
    MakeupWorkday(&'a str),
}

impl DayKind<'_> {
    pub fn is_working_day(self) -> bool {
        matches!(self, DayKind::Workday | DayKind::MakeupWorkday(_))
    }
}

/// Where a year's working days come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YearBasis<'a> {
    /// A calendar file with `official = true`: the notice, written locally.
    OfficialFile(&'a Path),
    /// The State Council's notice as tyme4rs publishes it.
    Published,
    /// The statutory holidays computed from the lunar calendar, with no
    /// bridging or make-up working days: deadlines are provisional.
    Statutory,
    /// Beyond the built-in calendar: Monday to Friday, provisional.
    Weekdays,
}

impl YearBasis<'_> {
    /// Whether deadlines on this basis may still move when the notice comes.
    pub fn is_provisional(self) -> bool {
        matches!(self, YearBasis::Statutory | YearBasis::Weekdays)
    }
}

/// One year's local overrides, merged from every file for that year.
#[derive(Debug, Clone, Default)]
struct LocalYear {
    /// (file, its `source`), in the order the config lists them.
    files: Vec<(PathBuf, String)>,
    /// The file that holds the year's whole notice, if any.
    official: Option<PathBuf>,
    /// The file that says no notice counts for the year yet (not even the
    /// built-in one), if any: the year is judged provisionally.
    provisional: Option<PathBuf>,
    holidays: BTreeMap<NaiveDate, String>,
    workdays: BTreeMap<NaiveDate, String>,
}

/// The built-in official schedule, overridden day by day by the local
/// calendar files.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    years: BTreeMap<i32, LocalYear>,
    /// Provisional years already warned about (shared by clones), so the
    /// warning is logged once per year, not on every call.
    warned: Arc<Mutex<BTreeSet<i32>>>,
    /// Which days of each year are working days, worked out on first use.
    working: WorkingDays,
}

/// Each year's working days as bits, by day of the year, each year worked
/// out through [`Calendar::day_kind`] the first time a day of it is asked
/// about: a pass asks about tens of thousands of days (each reply
/// reminder's), each a few map look-ups otherwise. Years outside the
/// built-in span are not kept.
#[derive(Debug, Clone)]
struct WorkingDays(Box<[OnceLock<[u64; 6]>]>);

impl Default for WorkingDays {
    fn default() -> WorkingDays {
        let span = official::LAST_YEAR - official::FIRST_YEAR + 1;
        WorkingDays((0..span).map(|_| OnceLock::new()).collect())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRepr {
    year: i32,
    source: String,
    #[serde(default)]
    official: bool,
    #[serde(default)]
    provisional: bool,
    #[serde(default)]
    holiday: Vec<HolidayRepr>,
    #[serde(default)]
    workday: Vec<WorkdayRepr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayRepr {
    name: String,
    from: toml::Value,
    to: toml::Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkdayRepr {
    date: toml::Value,
    name: String,
}

impl Calendar {
    /// Loads and merges every file over the built-in schedule. Files for
    /// the same year merge; they may not contradict each other.
    pub fn load(paths: &[PathBuf]) -> Result<Calendar, CalendarError> {
        let mut calendar = Calendar::default();
        for path in paths {
            let text = std::fs::read_to_string(path).map_err(|source| CalendarError::Read {
                path: path.clone(),
                source,
            })?;
            let one = Calendar::from_toml_str(&text, path)?;
            calendar.merge(one)?;
        }
        Ok(calendar)
    }

    /// Parses one calendar file's text; `path` is only used in messages.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Calendar, CalendarError> {
        let invalid = |message: String| CalendarError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let repr: FileRepr = toml::from_str(text).map_err(|e| {
            invalid(format!(
                "{}; fix the file: it needs `year`, `source`, `[[holiday]]` tables with \
                 name/from/to and `[[workday]]` tables with date/name",
                e.to_string().trim_end()
            ))
        })?;
        let year = repr.year;
        if !(1..=9999).contains(&year) {
            return Err(invalid(format!(
                "`year = {year}` is not a plausible year; write the four-digit year the file covers"
            )));
        }
        if repr.source.trim().is_empty() {
            return Err(invalid(
                "`source` is empty; name the official notice the dates come from".to_string(),
            ));
        }
        if repr.official && repr.provisional {
            return Err(invalid(
                "says both `official = true` and `provisional = true`; keep `official = true` \
                 when the file holds the year's notice, `provisional = true` when no notice \
                 counts yet"
                    .to_string(),
            ));
        }
        let holidays = parse_holidays(&repr.holiday, year).map_err(&invalid)?;
        let workdays = parse_workdays(&repr.workday, year, &holidays).map_err(&invalid)?;

        let local = LocalYear {
            files: vec![(path.to_path_buf(), repr.source.trim().to_string())],
            official: repr.official.then(|| path.to_path_buf()),
            provisional: repr.provisional.then(|| path.to_path_buf()),
            holidays,
            workdays,
        };
        Ok(Calendar {
            years: BTreeMap::from([(year, local)]),
            warned: Arc::default(),
            working: WorkingDays::default(),
        })
    }

    /// Adds the files of `other`. A year both cover merges, unless a day is
    /// off in one and worked in the other, or both claim the whole notice;
    /// the error names the file that came second.
    pub fn merge(&mut self, other: Calendar) -> Result<(), CalendarError> {
        // What was worked out from the files so far no longer holds.
        self.working = WorkingDays::default();
        for (year, theirs) in other.years {
            let ours = self.years.entry(year).or_default();
            let path = theirs
                .files
                .first()
                .map(|(p, _)| p.clone())
                .unwrap_or_default();
            let invalid = |message: String| CalendarError::Invalid {
                path: path.clone(),
                message,
            };
            if let (Some(a), Some(_)) = (&ours.official, &theirs.official) {
                return Err(invalid(format!(
                    "says `official = true` for {year}, which {} already does; keep one file \
                     with the notice and drop `official` from the other",
                    a.display()
                )));
            }
            let official = ours.official.as_ref().or(theirs.official.as_ref());
            let provisional = ours.provisional.as_ref().or(theirs.provisional.as_ref());
            if let (Some(a), Some(b)) = (official, provisional) {
                return Err(invalid(format!(
                    "{} says `official = true` for {year} but {} says `provisional = true`; \
                     a year either has its notice or not: drop one of them",
                    a.display(),
                    b.display()
                )));
            }
            for (date, name) in &theirs.holidays {
                if let Some(other) = ours.workdays.get(date) {
                    return Err(invalid(format!(
                        "{date} is off (`{name}`) here but a make-up working day (`{other}`) \
                         in another calendar file; fix one of them"
                    )));
                }
            }
            for (date, name) in &theirs.workdays {
                if let Some(other) = ours.holidays.get(date) {
                    return Err(invalid(format!(
                        "{date} is a make-up working day (`{name}`) here but off (`{other}`) \
                         in another calendar file; fix one of them"
                    )));
                }
            }
            ours.official = ours.official.take().or(theirs.official);
            ours.provisional = ours.provisional.take().or(theirs.provisional);
            ours.files.extend(theirs.files);
            for (date, name) in theirs.holidays {
                ours.holidays.entry(date).or_insert(name);
            }
            for (date, name) in theirs.workdays {
                ours.workdays.entry(date).or_insert(name);
            }
        }
        Ok(())
    }

    /// Whether a calendar file covers `year`.
    pub fn covers(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// The years covered by a calendar file, ascending.
    pub fn years(&self) -> Vec<i32> {
        self.years.keys().copied().collect()
    }

    /// The calendar files for `year` with their `source` notes.
    pub fn files(&self, year: i32) -> Vec<(&Path, &str)> {
        self.years.get(&year).map_or_else(Vec::new, |y| {
            y.files
                .iter()
                .map(|(p, s)| (p.as_path(), s.as_str()))
                .collect()
        })
    }

    /// Where `year`'s days off come from.
    pub fn basis(&self, year: i32) -> YearBasis<'_> {
        let local = self.years.get(&year);
        basis(local, built_in(local, year))
    }

    /// Whether `date` is judged on a provisional calendar (no notice for its
    /// year yet), so a deadline that depends on it may still move.
    pub fn is_provisional(&self, date: NaiveDate) -> bool {
        self.basis(date.year()).is_provisional()
    }

    /// What kind of day `date` is: a local file's entry first, then the
    /// year's notice (or computed statutory holidays), then the weekday. A
    /// provisional year is warned about once.
    pub fn day_kind(&self, date: NaiveDate) -> DayKind<'_> {
        let year = date.year();
        // The year's files are looked up once, for its days and its basis.
        let local = self.years.get(&year);
        if let Some(local) = local {
            if let Some(name) = local.holidays.get(&date) {
                return DayKind::Holiday(name);
            }
            if let Some(name) = local.workdays.get(&date) {
                return DayKind::MakeupWorkday(name);
            }
        }
        let built_in = built_in(local, year);
        if basis(local, built_in).is_provisional() {
            self.warn_provisional(year);
        }
        if let Some(schedule) = built_in {
            if let Some(name) = schedule.holidays.get(&date) {
                return DayKind::Holiday(name);
            }
            if let Some(name) = schedule.workdays.get(&date) {
                return DayKind::MakeupWorkday(name);
            }
        }
        if is_weekend(date) {
            DayKind::Weekend
        } else {
            DayKind::Workday
        }
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        let slot = usize::try_from(date.year() - official::FIRST_YEAR)
            .ok()
            .and_then(|i| self.working.0.get(i));
        let Some(slot) = slot else {
            return self.day_kind(date).is_working_day();
        };
        let bits = slot.get_or_init(|| self.working_days(date.year()));
        let day = date.ordinal0() as usize;
        bits.get(day / 64)
            .is_some_and(|word| word >> (day % 64) & 1 == 1)
    }

    /// The working days of `year` as bits, by day of the year.
    fn working_days(&self, year: i32) -> [u64; 6] {
        let mut bits = [0u64; 6];
        let days = NaiveDate::from_yo_opt(year, 1)
            .into_iter()
            .flat_map(|first| first.iter_days())
            .take_while(|d| d.year() == year);
        for date in days {
            if self.day_kind(date).is_working_day() {
                let day = date.ordinal0() as usize;
                if let Some(word) = bits.get_mut(day / 64) {
                    *word |= 1 << (day % 64);
                }
            }
        }
        bits
    }

    /// The first working day of the month (may be a weekend make-up day).
    /// A month outside 1..=12 rolls over (13 is January of the next year).
    /// Should a calendar file declare a whole month off, this is the first
    /// working day after it.
    pub fn first_working_day(&self, year: i32, month: u32) -> NaiveDate {
        let first = month_start(year, month);
        if self.is_working_day(first) {
            first
        } else {
            self.next_working_day(first)
        }
    }

    /// The first working day strictly after `date`.
    pub fn next_working_day(&self, date: NaiveDate) -> NaiveDate {
        // Terminates: files cover finitely many years, and every other year
        // has Monday to Friday as working days bar a few holidays.
        let mut day = date;
        while let Some(next) = day.succ_opt() {
            if self.is_working_day(next) {
                return next;
            }
            day = next;
        }
        NaiveDate::MAX
    }

    fn warn_provisional(&self, year: i32) {
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if !warned.insert(year) {
            return;
        }
        let published =
            official::last_published_year().map_or_else(|| "none".to_string(), |y| y.to_string());
        let marked = self.years.get(&year).and_then(|y| y.provisional.as_deref());
        if let Some(file) = marked {
            tracing::warn!(
                year,
                file = %file.display(),
                "{} SAYS `provisional = true` FOR {year}: using the statutory holidays computed \
                 from the lunar calendar, with no make-up working days, so deadlines in {year} \
                 are PROVISIONAL. Remove the line when the year's notice counts.",
                file.display()
            );
        } else if official::schedule(year).is_some() {
            tracing::warn!(
                year,
                last_published = %published,
                "NO HOLIDAY NOTICE FOR {year} YET: using the statutory holidays (元旦, 春节 from \
                 除夕 to 初三, 清明, 劳动节, 端午, 中秋, 国庆) computed from the lunar calendar, \
                 with no bridging days and no make-up working days, so deadlines in {year} are \
                 PROVISIONAL. When the State Council publishes the notice, run `cargo update -p \
                 tyme4rs` and rebuild, or write config/calendar/cn-{year}.toml from it with \
                 `official = true` and add it to the `calendar` list in the config."
            );
        } else {
            tracing::warn!(
                year,
                "NO CALENDAR FOR {year}: treating Monday to Friday as working days, with no \
                 public holidays, so deadlines in {year} may be WRONG. Write \
                 config/calendar/cn-{year}.toml from the State Council's holiday notice with \
                 `official = true` and add it to the `calendar` list in the config."
            );
        }
    }
}

/// The built-in schedule that applies to a year whose files are `local`:
/// none when a file holds its notice, the computed statutory holidays when
/// a file marks it provisional, else tyme4rs's notice or, lacking it, the
/// computed days.
fn built_in(local: Option<&LocalYear>, year: i32) -> Option<&'static official::Schedule> {
    match local {
        Some(local) if local.official.is_some() => None,
        Some(local) if local.provisional.is_some() => official::computed(year),
        _ => official::schedule(year),
    }
}

/// Where the working days of a year with files `local` and the built-in
/// schedule `built_in` come from.
fn basis<'a>(
    local: Option<&'a LocalYear>,
    built_in: Option<&'static official::Schedule>,
) -> YearBasis<'a> {
    if let Some(path) = local.and_then(|y| y.official.as_deref()) {
        return YearBasis::OfficialFile(path);
    }
    match built_in.map(|s| s.basis) {
        Some(Basis::Published) => YearBasis::Published,
        Some(Basis::Statutory) => YearBasis::Statutory,
        None => YearBasis::Weekdays,
    }
}

/// Every day of every `[[holiday]]` range, by date; ranges must not
/// overlap and must lie in `year`.
fn parse_holidays(list: &[HolidayRepr], year: i32) -> Result<BTreeMap<NaiveDate, String>, String> {
    let mut holidays: BTreeMap<NaiveDate, String> = BTreeMap::new();
    for h in list {
        let name = h.name.trim();
        if name.is_empty() {
            return Err(
                "a [[holiday]] has an empty `name`; give every holiday its name".to_string(),
            );
        }
        let what = format!("holiday `{name}`");
        let from = date_value(&h.from, &what, "from")?;
        let to = date_value(&h.to, &what, "to")?;
        check_year(from, year, &what)?;
        check_year(to, year, &what)?;
        if from > to {
            return Err(format!(
                "{what}: `from = {from}` is after `to = {to}`; swap them or fix the dates"
            ));
        }
        for day in from.iter_days().take_while(|d| *d <= to) {
            if let Some(other) = holidays.insert(day, name.to_string()) {
                return Err(format!(
                    "{day} is in both holiday `{other}` and holiday `{name}`; \
                     make the ranges not overlap"
                ));
            }
        }
    }
    Ok(holidays)
}

/// Every `[[workday]]` by date: a Saturday or Sunday in `year`, listed
/// once, not also a holiday.
fn parse_workdays(
    list: &[WorkdayRepr],
    year: i32,
    holidays: &BTreeMap<NaiveDate, String>,
) -> Result<BTreeMap<NaiveDate, String>, String> {
    let mut workdays: BTreeMap<NaiveDate, String> = BTreeMap::new();
    for w in list {
        let name = w.name.trim();
        if name.is_empty() {
            return Err(
                "a [[workday]] has an empty `name`; name it, e.g. \"国庆节调休上班\"".to_string(),
            );
        }
        let what = format!("make-up working day `{name}`");
        let date = date_value(&w.date, &what, "date")?;
        check_year(date, year, &what)?;
        if !is_weekend(date) {
            return Err(format!(
                "{what}: {date} is a {:?}, already a working day; \
                 [[workday]] is only for a Saturday or Sunday, so fix the date or remove it",
                date.weekday()
            ));
        }
        if let Some(holiday) = holidays.get(&date) {
            return Err(format!(
                "{date} is both in holiday `{holiday}` and a make-up working day `{name}`; \
                 a day is either off or worked, so fix one of them"
            ));
        }
        if workdays.insert(date, name.to_string()).is_some() {
            return Err(format!(
                "{date} is listed twice as a make-up working day; remove one"
            ));
        }
    }
    Ok(workdays)
}

/// A calendar file for `year` as it is written from the State Council's
/// notice: `official = true`, one holiday range and one make-up working
/// day, for an email to show the format. A valid file, but its dates are
/// stand-ins (the computed 春节 and the first weekend day after it), not
/// the notice's.
pub fn example_file(year: i32) -> String {
    let spring: Vec<NaiveDate> = official::computed(year)
        .map(|s| {
            s.holidays
                .iter()
                .filter(|(_, name)| name.starts_with("春节"))
                .map(|(date, _)| *date)
                .collect()
        })
        .unwrap_or_default();
    let new_year = month_start(year, 1);
    let (name, from, to) = match (spring.first(), spring.last()) {
        (Some(from), Some(to)) => ("春节", *from, *to),
        _ => ("元旦", new_year, new_year),
    };
    let workday = to
        .iter_days()
        .skip(1)
        .find(|d| is_weekend(*d))
        .unwrap_or(to);
    format!(
        "year = {year}\n\
         source = \"国务院办公厅关于{year}年部分节假日安排的通知\"\n\
         official = true\n\
         \n\
         [[holiday]]\n\
         name = \"{name}\"\n\
         from = {from}\n\
         to = {to}\n\
         \n\
         [[workday]]\n\
         date = {workday}\n\
         name = \"{name}调休上班\"\n"
    )
}

/// The first day of a month; a month outside 1..=12 rolls over into the
/// neighbouring years (0 is December of the year before). Dates beyond
/// chrono's range clamp to its ends.
pub fn month_start(year: i32, month: u32) -> NaiveDate {
    let index = i64::from(year) * 12 + i64::from(month) - 1;
    let (y, m) = (index.div_euclid(12), index.rem_euclid(12) + 1);
    let date = i32::try_from(y)
        .ok()
        .zip(u32::try_from(m).ok())
        .and_then(|(y, m)| NaiveDate::from_ymd_opt(y, m, 1));
    match date {
        Some(d) => d,
        None if y < 0 => NaiveDate::MIN,
        None => NaiveDate::MAX,
    }
}

/// The last day of a month (same rolling-over as [`month_start`]).
pub fn month_end(year: i32, month: u32) -> NaiveDate {
    let start = month_start(year, month);
    month_start(start.year(), start.month() + 1)
        .pred_opt()
        .unwrap_or(NaiveDate::MIN)
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

fn check_year(date: NaiveDate, year: i32, what: &str) -> Result<(), String> {
    if date.year() == year {
        Ok(())
    } else {
        Err(format!(
            "{what}: {date} is not in {year}, the file's `year`; \
             put it in that year's file or fix the date"
        ))
    }
}

/// Reads a date written as a TOML date (`2026-01-01`) or a string.
fn date_value(value: &toml::Value, what: &str, field: &str) -> Result<NaiveDate, String> {
    let help = || {
        format!(
            "{what}: `{field} = {value}` is not a date; write it like {field} = 2026-01-01 \
             (a date only, no time)"
        )
    };
    match value {
        toml::Value::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
            (Some(d), None, None) => {
                NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
                    .ok_or_else(help)
            }
            _ => Err(help()),
        },
        toml::Value::String(s) => {
            NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| help())
        }
        _ => Err(help()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CN_2026: &str = include_str!("../config/calendar/cn-2026.toml");

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn cn2026() -> Calendar {
        Calendar::from_toml_str(CN_2026, Path::new("config/calendar/cn-2026.toml")).unwrap()
    }

    #[test]
    fn first_working_days_of_2025_follow_the_2024_notice() {
        let text = include_str!("../config/calendar/cn-2025.toml");
        let cal = Calendar::from_toml_str(text, Path::new("config/calendar/cn-2025.toml")).unwrap();
        let firsts: Vec<u32> = (1..=12)
            .map(|m| cal.first_working_day(2025, m).day())
            .collect();
        // Feb 5 after the Spring Festival, Jun 3 after Dragon Boat, Oct 9
        // after the National Day week.
        assert_eq!(firsts, [2, 5, 3, 1, 6, 3, 1, 1, 1, 9, 3, 1]);
        assert!(cal.is_working_day(d(2025, 1, 26)), "Sunday make-up day");
        assert!(!cal.is_working_day(d(2025, 10, 8)));
        assert!(cal.is_working_day(d(2025, 10, 11)), "Saturday make-up day");
    }

    fn invalid_message(text: &str) -> String {
        match Calendar::from_toml_str(text, Path::new("cal/x.toml")) {
            Err(CalendarError::Invalid { path, message }) => {
                assert_eq!(path, Path::new("cal/x.toml"));
                message
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn first_working_day_of_january_2026_is_sunday_the_4th() {
        let cal = cn2026();
        assert_eq!(cal.first_working_day(2026, 1), d(2026, 1, 4));
        assert_eq!(d(2026, 1, 4).weekday(), Weekday::Sun);
    }

    #[test]
    fn first_working_day_of_february_2026_is_monday_the_2nd() {
        assert_eq!(cn2026().first_working_day(2026, 2), d(2026, 2, 2));
    }

    #[test]
    fn first_working_day_of_march_2026_is_monday_the_2nd() {
        assert_eq!(cn2026().first_working_day(2026, 3), d(2026, 3, 2));
    }

    #[test]
    fn first_working_day_of_april_2026_is_the_1st() {
        assert_eq!(cn2026().first_working_day(2026, 4), d(2026, 4, 1));
    }

    #[test]
    fn first_working_day_of_may_2026_is_the_6th_after_labour_day() {
        assert_eq!(cn2026().first_working_day(2026, 5), d(2026, 5, 6));
    }

    #[test]
    fn first_working_day_of_june_2026_is_the_1st() {
        assert_eq!(cn2026().first_working_day(2026, 6), d(2026, 6, 1));
    }

    #[test]
    fn first_working_day_of_july_2026_is_the_1st() {
        assert_eq!(cn2026().first_working_day(2026, 7), d(2026, 7, 1));
    }

    #[test]
    fn first_working_day_of_august_2026_is_monday_the_3rd() {
        assert_eq!(cn2026().first_working_day(2026, 8), d(2026, 8, 3));
    }

    #[test]
    fn first_working_day_of_september_2026_is_the_1st() {
        assert_eq!(cn2026().first_working_day(2026, 9), d(2026, 9, 1));
    }

    #[test]
    fn first_working_day_of_october_2026_is_the_8th_after_national_day() {
        assert_eq!(cn2026().first_working_day(2026, 10), d(2026, 10, 8));
    }

    #[test]
    fn first_working_day_of_november_2026_is_monday_the_2nd() {
        assert_eq!(cn2026().first_working_day(2026, 11), d(2026, 11, 2));
    }

    #[test]
    fn first_working_day_of_december_2026_is_the_1st() {
        assert_eq!(cn2026().first_working_day(2026, 12), d(2026, 12, 1));
    }

    #[test]
    fn every_official_2026_holiday_is_a_day_off() {
        let cal = cn2026();
        let ranges = [
            (d(2026, 1, 1), d(2026, 1, 3)),
            (d(2026, 2, 15), d(2026, 2, 23)),
            (d(2026, 4, 4), d(2026, 4, 6)),
            (d(2026, 5, 1), d(2026, 5, 5)),
            (d(2026, 6, 19), d(2026, 6, 21)),
            (d(2026, 9, 25), d(2026, 9, 27)),
            (d(2026, 10, 1), d(2026, 10, 7)),
        ];
        let mut count = 0;
        for (from, to) in ranges {
            for day in from.iter_days().take_while(|x| *x <= to) {
                assert!(!cal.is_working_day(day), "{day} should be off");
                assert!(matches!(cal.day_kind(day), DayKind::Holiday(_)), "{day}");
                count += 1;
            }
        }
        assert_eq!(count, 3 + 9 + 3 + 5 + 3 + 3 + 7);
    }

    #[test]
    fn every_official_2026_make_up_day_is_a_working_weekend_day() {
        let cal = cn2026();
        for day in [
            d(2026, 1, 4),
            d(2026, 2, 14),
            d(2026, 2, 28),
            d(2026, 5, 9),
            d(2026, 9, 20),
            d(2026, 10, 10),
        ] {
            assert!(is_weekend(day), "{day}");
            assert!(cal.is_working_day(day), "{day}");
            assert!(
                matches!(cal.day_kind(day), DayKind::MakeupWorkday(_)),
                "{day}"
            );
        }
    }

    #[test]
    fn ordinary_weekdays_work_and_ordinary_weekends_rest_in_2026() {
        let cal = cn2026();
        assert_eq!(cal.day_kind(d(2026, 3, 4)), DayKind::Workday);
        assert_eq!(cal.day_kind(d(2026, 3, 7)), DayKind::Weekend);
        assert_eq!(cal.day_kind(d(2026, 3, 8)), DayKind::Weekend);
    }

    #[test]
    fn holiday_names_come_from_the_file() {
        let cal = cn2026();
        assert_eq!(cal.day_kind(d(2026, 2, 17)), DayKind::Holiday("春节"));
        assert_eq!(cal.day_kind(d(2026, 10, 1)), DayKind::Holiday("国庆节"));
        assert!(cal.files(2026)[0].1.contains("2025-11-04"));
    }

    #[test]
    fn shipped_2025_and_2026_files_agree_with_tyme4rs_day_for_day() {
        let shipped = [
            (2025, include_str!("../config/calendar/cn-2025.toml")),
            (2026, CN_2026),
        ];
        for (year, text) in shipped {
            let file = Calendar::from_toml_str(text, Path::new("shipped.toml")).unwrap();
            let local = &file.years[&year];
            let notice = official::schedule(year).unwrap();
            assert_eq!(notice.basis, Basis::Published, "{year}");
            let dates = |m: &BTreeMap<NaiveDate, String>| m.keys().copied().collect::<Vec<_>>();
            assert_eq!(
                dates(&local.holidays),
                dates(&notice.holidays),
                "{year} days off"
            );
            assert_eq!(
                dates(&local.workdays),
                dates(&notice.workdays),
                "{year} make-up days"
            );
        }
    }

    #[test]
    fn without_files_the_built_in_2026_notice_applies() {
        let cal = Calendar::default();
        assert_eq!(cal.basis(2026), YearBasis::Published);
        assert_eq!(cal.first_working_day(2026, 1), d(2026, 1, 4));
        assert_eq!(cal.first_working_day(2026, 10), d(2026, 10, 8));
        assert_eq!(
            cal.day_kind(d(2026, 2, 28)),
            DayKind::MakeupWorkday("春节调休上班")
        );
        assert!(!cal.is_provisional(d(2026, 12, 31)));
        assert!(cal.warned.lock().unwrap().is_empty());
    }

    #[test]
    fn new_years_day_2027_is_off_without_a_2027_file() {
        let cal = cn2026();
        assert!(!cal.covers(2027));
        assert_eq!(cal.basis(2027), YearBasis::Statutory);
        // 2027-01-01 is a Friday: off by the statutory rule, not a working day.
        assert_eq!(cal.day_kind(d(2027, 1, 1)), DayKind::Holiday("元旦"));
        assert_eq!(cal.first_working_day(2027, 1), d(2027, 1, 4));
        assert!(cal.is_provisional(d(2027, 1, 4)));
        assert!(!cal.is_provisional(d(2026, 12, 31)));
    }

    #[test]
    fn beyond_the_built_in_calendar_falls_back_to_monday_to_friday() {
        let cal = Calendar::default();
        let year = official::LAST_YEAR + 1;
        assert_eq!(cal.basis(year), YearBasis::Weekdays);
        let jan1 = d(year, 1, 1);
        assert_eq!(cal.is_working_day(jan1), !is_weekend(jan1));
        assert!(cal.is_provisional(jan1));
    }

    #[test]
    fn provisional_years_are_warned_about_once_per_year() {
        let cal = Calendar::default();
        for day in 1..=20 {
            cal.is_working_day(d(2030, 1, day));
        }
        cal.is_working_day(d(2031, 1, 1));
        let warned = cal.warned.lock().unwrap().clone();
        assert_eq!(warned, BTreeSet::from([2030, 2031]));
        // Clones share the record, so they do not warn again.
        let clone = cal.clone();
        clone.is_working_day(d(2032, 1, 1));
        assert!(cal.warned.lock().unwrap().contains(&2032));
    }

    #[test]
    fn a_year_with_an_official_file_is_not_provisional_and_ignores_the_computed_days() {
        let cal = Calendar::from_toml_str(
            "year = 2027\nsource = \"notice\"\nofficial = true\n[[holiday]]\nname = \"元旦\"\nfrom = 2027-01-01\nto = 2027-01-03\n",
            Path::new("cn-2027.toml"),
        )
        .unwrap();
        assert_eq!(
            cal.basis(2027),
            YearBasis::OfficialFile(Path::new("cn-2027.toml"))
        );
        assert!(!cal.is_provisional(d(2027, 1, 4)));
        // 清明 2027 (Mon 5 Apr) is computed, but the file is the whole notice.
        assert!(cal.is_working_day(d(2027, 4, 5)));
        assert!(cal.warned.lock().unwrap().is_empty());
    }

    #[test]
    fn a_local_file_adds_company_days_off_to_the_notice() {
        let cal = Calendar::from_toml_str(
            "year = 2026\nsource = \"公司年会\"\n[[holiday]]\nname = \"公司年会\"\nfrom = 2026-12-31\nto = 2026-12-31\n",
            Path::new("company-2026.toml"),
        )
        .unwrap();
        assert_eq!(cal.basis(2026), YearBasis::Published);
        assert_eq!(cal.day_kind(d(2026, 12, 31)), DayKind::Holiday("公司年会"));
        // The notice still applies around it.
        assert_eq!(cal.first_working_day(2026, 1), d(2026, 1, 4));
    }

    #[test]
    fn a_working_day_is_what_the_day_kind_says_in_every_year_and_after_a_merge() {
        let company = "year = 2026\nsource = \"公司年会\"\n[[holiday]]\nname = \"公司年会\"\nfrom = 2026-12-31\nto = 2026-12-31\n";
        let mut cal = cn2026();
        // Asked before the merge, answered from the notice alone.
        assert!(cal.is_working_day(d(2026, 12, 31)));
        let file = Calendar::from_toml_str(company, Path::new("company-2026.toml")).unwrap();
        cal.merge(file).unwrap();
        assert!(
            !cal.is_working_day(d(2026, 12, 31)),
            "the merged file counts"
        );
        for day in d(2024, 1, 1).iter_days().take_while(|x| x.year() <= 2028) {
            assert_eq!(
                cal.is_working_day(day),
                cal.day_kind(day).is_working_day(),
                "{day}"
            );
        }
        // Outside the built-in span: the weekdays.
        assert!(cal.is_working_day(d(2300, 1, 2)));
        assert!(!cal.is_working_day(d(2300, 1, 6)), "a Saturday");
    }

    #[test]
    fn covered_year_never_warns() {
        let cal = cn2026();
        for day in d(2026, 1, 1).iter_days().take(365) {
            cal.is_working_day(day);
        }
        assert!(cal.warned.lock().unwrap().is_empty());
    }

    #[test]
    fn next_working_day_skips_spring_festival() {
        let cal = cn2026();
        assert_eq!(cal.next_working_day(d(2026, 2, 14)), d(2026, 2, 24));
        assert_eq!(cal.next_working_day(d(2026, 2, 27)), d(2026, 2, 28));
    }

    #[test]
    fn next_working_day_crosses_into_a_provisional_year_past_new_years_day() {
        let cal = cn2026();
        // 2026-12-31 is a Thursday; 2027-01-01 a Friday, off (元旦).
        assert_eq!(cal.next_working_day(d(2026, 12, 31)), d(2027, 1, 4));
    }

    #[test]
    fn dates_may_be_written_as_strings() {
        let cal = Calendar::from_toml_str(
            "year = 2026\nsource = \"test\"\n[[holiday]]\nname = \"x\"\nfrom = \"2026-03-03\"\nto = \"2026-03-04\"\n",
            Path::new("t.toml"),
        )
        .unwrap();
        assert!(!cal.is_working_day(d(2026, 3, 4)));
        assert!(cal.is_working_day(d(2026, 3, 5)));
    }

    #[test]
    fn a_date_outside_the_files_year_is_rejected() {
        let msg = invalid_message(
            "year = 2026\nsource = \"s\"\n[[holiday]]\nname = \"元旦\"\nfrom = 2027-01-01\nto = 2027-01-01\n",
        );
        assert!(msg.contains("2027-01-01 is not in 2026"), "{msg}");
        assert!(msg.contains("元旦"), "{msg}");
    }

    #[test]
    fn a_make_up_day_outside_the_files_year_is_rejected() {
        let msg = invalid_message(
            "year = 2026\nsource = \"s\"\n[[workday]]\ndate = 2025-12-27\nname = \"x\"\n",
        );
        assert!(msg.contains("not in 2026"), "{msg}");
    }

    #[test]
    fn a_day_both_holiday_and_make_up_day_is_rejected() {
        let msg = invalid_message(
            "year = 2026\nsource = \"s\"\n[[holiday]]\nname = \"春节\"\nfrom = 2026-02-14\nto = 2026-02-16\n\
             [[workday]]\ndate = 2026-02-14\nname = \"春节调休上班\"\n",
        );
        assert!(
            msg.contains("2026-02-14 is both in holiday `春节`"),
            "{msg}"
        );
        assert!(msg.contains("fix one of them"), "{msg}");
    }

    #[test]
    fn a_range_ending_before_it_starts_is_rejected() {
        let msg = invalid_message(
            "year = 2026\nsource = \"s\"\n[[holiday]]\nname = \"x\"\nfrom = 2026-05-05\nto = 2026-05-01\n",
        );
        assert!(msg.contains("is after `to = 2026-05-01`"), "{msg}");
    }

    #[test]
    fn overlapping_holidays_are_rejected() {
        let msg = invalid_message(
            "year = 2026\nsource = \"s\"\n[[holiday]]\nname = \"a\"\nfrom = 2026-05-01\nto = 2026-05-03\n\
             [[holiday]]\nname = \"b\"\nfrom = 2026-05-03\nto = 2026-05-04\n",
        );
        assert!(
            msg.contains("2026-05-03 is in both holiday `a` and holiday `b`"),
            "{msg}"
        );
    }

    #[test]
    fn a_make_up_day_on_a_weekday_is_rejected() {
        let msg = invalid_message(
            "year = 2026\nsource = \"s\"\n[[workday]]\ndate = 2026-01-05\nname = \"x\"\n",
        );
        assert!(msg.contains("only for a Saturday or Sunday"), "{msg}");
    }

    #[test]
    fn a_date_with_a_time_is_rejected_with_an_example() {
        let msg = invalid_message(
            "year = 2026\nsource = \"s\"\n[[workday]]\ndate = 2026-01-04T08:00:00\nname = \"x\"\n",
        );
        assert!(msg.contains("date = 2026-01-01"), "{msg}");
    }

    #[test]
    fn a_missing_source_or_unknown_field_is_a_toml_error_naming_the_file() {
        let err = Calendar::from_toml_str("year = 2026\n", Path::new("cal/x.toml")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("cal/x.toml"), "{text}");
        assert!(text.contains("source"), "{text}");
        let msg = invalid_message(
            "year = 2026\nsource = \"s\"\n[[holiday]]\nname = \"a\"\nfrom = 2026-05-01\nuntil = 2026-05-03\n",
        );
        assert!(msg.contains("until"), "{msg}");
    }

    #[test]
    fn two_files_for_the_same_year_merge_unless_they_contradict() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.toml");
        let b = dir.path().join("b.toml");
        let c = dir.path().join("c.toml");
        std::fs::write(&a, CN_2026).unwrap();
        std::fs::write(
            &b,
            "year = 2026\nsource = \"company\"\n[[holiday]]\nname = \"年会\"\nfrom = 2026-12-31\nto = 2026-12-31\n",
        )
        .unwrap();
        let cal = Calendar::load(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(cal.files(2026).len(), 2);
        assert_eq!(cal.day_kind(d(2026, 12, 31)), DayKind::Holiday("年会"));
        std::fs::write(
            &c,
            "year = 2026\nsource = \"company\"\n[[holiday]]\nname = \"x\"\nfrom = 2026-01-04\nto = 2026-01-04\n",
        )
        .unwrap();
        match Calendar::load(&[a.clone(), c.clone()]) {
            Err(CalendarError::Invalid { path, message }) => {
                assert_eq!(path, c);
                assert!(message.contains("2026-01-04 is off"), "{message}");
                assert!(message.contains("fix one of them"), "{message}");
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn two_official_files_for_the_same_year_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.toml");
        let b = dir.path().join("b.toml");
        std::fs::write(&a, "year = 2027\nsource = \"n\"\nofficial = true\n").unwrap();
        std::fs::write(&b, "year = 2027\nsource = \"m\"\nofficial = true\n").unwrap();
        match Calendar::load(&[a, b.clone()]) {
            Err(CalendarError::Invalid { path, message }) => {
                assert_eq!(path, b);
                assert!(message.contains("official = true"), "{message}");
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn files_for_different_years_merge() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("cn-2026.toml");
        let b = dir.path().join("cn-2027.toml");
        std::fs::write(&a, CN_2026).unwrap();
        std::fs::write(
            &b,
            "year = 2027\nsource = \"s\"\n[[holiday]]\nname = \"元旦\"\nfrom = 2027-01-01\nto = 2027-01-03\n",
        )
        .unwrap();
        let cal = Calendar::load(&[a, b.clone()]).unwrap();
        assert_eq!(cal.years(), vec![2026, 2027]);
        assert_eq!(cal.files(2027)[0].0, b.as_path());
        assert!(!cal.is_working_day(d(2027, 1, 1)));
        assert!(!cal.is_working_day(d(2026, 1, 1)));
        // Not official, so 2027 stays provisional.
        assert_eq!(cal.basis(2027), YearBasis::Statutory);
    }

    #[test]
    fn a_missing_file_says_to_check_the_config() {
        let err = Calendar::load(&[PathBuf::from("/nonexistent/cn-2099.toml")]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nonexistent/cn-2099.toml"), "{text}");
        assert!(text.contains("`calendar` list"), "{text}");
    }

    #[test]
    fn the_example_file_is_a_valid_official_file_for_its_year() {
        for year in [2027, 2031, official::LAST_YEAR + 1] {
            let text = example_file(year);
            let cal = Calendar::from_toml_str(&text, Path::new("cn-example.toml"))
                .unwrap_or_else(|e| panic!("{year}: {e}\n{text}"));
            assert!(!cal.basis(year).is_provisional(), "{year}");
            assert!(!cal.years[&year].holidays.is_empty(), "{year}");
            assert_eq!(cal.years[&year].workdays.len(), 1, "{year}");
        }
        let text = example_file(2027);
        // 春节 2027: 除夕 Fri 5 Feb to the 补假 on Wed 10 Feb; Sat 13 Feb worked.
        assert!(
            text.contains("from = 2027-02-05\nto = 2027-02-10"),
            "{text}"
        );
        assert!(text.contains("date = 2027-02-13"), "{text}");
    }

    #[test]
    fn a_file_marking_a_published_year_provisional_uses_the_computed_days() {
        let cal = Calendar::from_toml_str(
            "year = 2026\nsource = \"notice not counted yet\"\nprovisional = true\n",
            Path::new("pending-2026.toml"),
        )
        .unwrap();
        assert_eq!(cal.basis(2026), YearBasis::Statutory);
        assert!(cal.is_provisional(d(2026, 11, 14)));
        // The notice's make-up day (Sun 4 Jan) is not worked; its bridging
        // days (Sat 3 Jan is a weekend anyway; Fri 20 Feb) are not off.
        assert!(!cal.is_working_day(d(2026, 1, 4)));
        assert!(cal.is_working_day(d(2026, 2, 20)));
        assert_eq!(cal.first_working_day(2026, 1), d(2026, 1, 2));
        assert!(cal.warned.lock().unwrap().contains(&2026));
        assert!(!cal.is_provisional(d(2025, 12, 31)));
    }

    #[test]
    fn official_and_provisional_for_one_year_are_rejected() {
        let msg =
            invalid_message("year = 2027\nsource = \"s\"\nofficial = true\nprovisional = true\n");
        assert!(msg.contains("provisional = true"), "{msg}");
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.toml");
        let b = dir.path().join("b.toml");
        std::fs::write(&a, "year = 2027\nsource = \"n\"\nofficial = true\n").unwrap();
        std::fs::write(&b, "year = 2027\nsource = \"m\"\nprovisional = true\n").unwrap();
        match Calendar::load(&[a, b.clone()]) {
            Err(CalendarError::Invalid { path, message }) => {
                assert_eq!(path, b);
                assert!(message.contains("drop one of them"), "{message}");
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn month_start_and_end_roll_over() {
        assert_eq!(month_start(2026, 13), d(2027, 1, 1));
        assert_eq!(month_start(2026, 0), d(2025, 12, 1));
        assert_eq!(month_end(2026, 2), d(2026, 2, 28));
        assert_eq!(month_end(2028, 2), d(2028, 2, 29));
        assert_eq!(month_end(2026, 12), d(2026, 12, 31));
    }
}
