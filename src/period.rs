//! Report periods and their deadlines. The single home of "due Saturday
//! 22:00" and "due by the end of the first working day of the next month".
//!
//! SKELETON: signatures are settled; bodies are being written.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

use crate::calendar::Calendar;

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
        let _ = (kind, date);
        todo!()
    }

    pub fn next(&self) -> Period {
        todo!()
    }

    pub fn prev(&self) -> Period {
        todo!()
    }

    /// First day of the period (Monday of the week, 1st of the month).
    pub fn first_day(&self) -> NaiveDate {
        todo!()
    }

    /// Last day of the period (Sunday of the week, last of the month).
    pub fn last_day(&self) -> NaiveDate {
        todo!()
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
    fn from_str(s: &str) -> Result<Period, PeriodParseError> {
        let _ = s;
        todo!()
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonthlyDue {
    /// Before the end (24:00) of the first working day of the next month.
    FirstWorkingDay,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a due time: {1}")]
pub struct DueParseError(pub String, pub &'static str);

impl FromStr for WeeklyDue {
    type Err = DueParseError;
    /// `SAT 22:00`, `Sat 22:00`, `saturday 22:00`.
    fn from_str(s: &str) -> Result<WeeklyDue, DueParseError> {
        let _ = s;
        todo!()
    }
}

impl FromStr for MonthlyDue {
    type Err = DueParseError;
    /// `first-working-day`.
    fn from_str(s: &str) -> Result<MonthlyDue, DueParseError> {
        let _ = s;
        todo!()
    }
}

/// The due rules from the config, in one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

/// The one function that computes a deadline. `None` when nothing is due:
/// a week with no working day at all (e.g. 2026-W08, Spring Festival).
pub fn deadline(period: Period, rules: &DueRules, calendar: &Calendar, tz: Tz) -> Option<Deadline> {
    let _ = (period, rules, calendar, tz);
    todo!()
}
