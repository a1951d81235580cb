//! China's official holiday schedule, built in: the State Council's yearly
//! notices (public holidays and make-up working days, 调休上班) as the
//! tyme4rs crate (6tail's Tyme) publishes them, and, for a year it does not
//! cover yet, the statutory holidays of the 全国年节及纪念日放假办法
//! computed from its lunar calendar and solar terms. The computed year is
//! provisional: the notice adds bridging days and make-up working days no
//! rule predicts, so a deadline that depends on it may still move.
//!
//! Each year is worked out once per process and kept (tyme4rs answers one
//! day at a time and is slow at it).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use tyme4rs::tyme::holiday::{LEGAL_HOLIDAY_DATA, LEGAL_HOLIDAY_NAMES};
use tyme4rs::tyme::lunar::LunarDay;
use tyme4rs::tyme::solar::{SolarDay, SolarTerm};

/// Years the built-in schedule answers for; others fall back to Monday to
/// Friday. Tyme's lunar calendar reaches far beyond, but no deadline does.
pub const FIRST_YEAR: i32 = 1902;
pub const LAST_YEAR: i32 = 2199;
const SPAN: usize = (LAST_YEAR - FIRST_YEAR + 1) as usize;

/// Where a year's days off come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The State Council's notice, as tyme4rs carries it.
    Published,
    /// The statutory holidays computed from the lunar calendar and solar
    /// terms, with no bridging or make-up working days: provisional.
    Statutory,
}

/// One year's days off and make-up working days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub basis: Basis,
    pub holidays: BTreeMap<NaiveDate, String>,
    pub workdays: BTreeMap<NaiveDate, String>,
}

/// The schedule of `year`: published when tyme4rs has the notice, computed
/// otherwise; `None` outside [`FIRST_YEAR`]..=[`LAST_YEAR`].
pub fn schedule(year: i32) -> Option<&'static Schedule> {
    static YEARS: [OnceLock<Schedule>; SPAN] = [const { OnceLock::new() }; SPAN];
    let index = usize::try_from(year.checked_sub(FIRST_YEAR)?).ok()?;
    let slot = YEARS.get(index)?;
    Some(slot.get_or_init(|| published(year).unwrap_or_else(|| statutory(year))))
}

/// The statutory holidays of `year` ([`statutory`]), worked out once per
/// process, whatever tyme4rs publishes: for a year a calendar file marks
/// `provisional = true`. `None` outside [`FIRST_YEAR`]..=[`LAST_YEAR`].
pub fn computed(year: i32) -> Option<&'static Schedule> {
    static YEARS: [OnceLock<Schedule>; SPAN] = [const { OnceLock::new() }; SPAN];
    let index = usize::try_from(year.checked_sub(FIRST_YEAR)?).ok()?;
    let slot = YEARS.get(index)?;
    Some(slot.get_or_init(|| statutory(year)))
}

/// The last year whose notice tyme4rs carries (2026 in tyme4rs 1.5).
pub fn last_published_year() -> Option<i32> {
    static LAST: OnceLock<Option<i32>> = OnceLock::new();
    *LAST.get_or_init(|| {
        // The data is contiguous from 2002: walk up to the first gap.
        (2002..=LAST_YEAR)
            .take_while(|y| published_probe(*y))
            .last()
    })
}

/// National Day (October 1st) is off in every year's notice, so a year with
/// no entry for it is a year whose notice tyme4rs does not have. Looked up
/// in its table: tyme4rs's own `LegalHoliday::from_ymd` compiles a regex
/// per call, and walking the years with it was a tenth of a quiet pass.
fn published_probe(year: i32) -> bool {
    let national_day = format!("{year:04}1001");
    LEGAL_HOLIDAY_DATA
        .as_bytes()
        .chunks_exact(ENTRY)
        .any(|entry| entry.starts_with(national_day.as_bytes()))
}

/// One entry of tyme4rs's notice table (`LEGAL_HOLIDAY_DATA`): 13 ASCII
/// characters, `YYYYMMDD`, then `0` for a make-up working day or `1` for a
/// day off, then the holiday's index in `LEGAL_HOLIDAY_NAMES`, then the
/// signed distance to the holiday itself (unused here).
const ENTRY: usize = 13;

/// The notice's days of `year` as tyme4rs lists them, read from its table
/// in one pass. Asking tyme4rs day by day (`LegalHoliday::next`) compiles a
/// regex per step: about 25 ms per year, paid by every command that judges.
fn published(year: i32) -> Option<Schedule> {
    if !published_probe(year) {
        return None;
    }
    let prefix = format!("{year:04}");
    let mut schedule = Schedule {
        basis: Basis::Published,
        holidays: BTreeMap::new(),
        workdays: BTreeMap::new(),
    };
    let table = LEGAL_HOLIDAY_DATA.as_bytes();
    for entry in table.chunks_exact(ENTRY) {
        let Ok(entry) = std::str::from_utf8(entry) else {
            continue;
        };
        if !entry.starts_with(&prefix) {
            continue;
        }
        let Ok(date) = NaiveDate::parse_from_str(&entry[..8], "%Y%m%d") else {
            continue;
        };
        let Some(name) = entry[9..10]
            .parse::<usize>()
            .ok()
            .and_then(|i| LEGAL_HOLIDAY_NAMES.get(i))
        else {
            continue;
        };
        if &entry[8..9] == "0" {
            schedule.workdays.insert(date, format!("{name}调休上班"));
        } else {
            schedule.holidays.insert(date, (*name).to_string());
        }
    }
    Some(schedule)
}

/// The statutory holidays of `year` under the 全国年节及纪念日放假办法 (as
/// revised in 2024, in force from 2025): 元旦 1 day, 春节 4 days (除夕 to
/// 初三), 清明节 1, 劳动节 2, 端午节 1, 中秋节 1, 国庆节 3. A holiday on a
/// Saturday or Sunday is made up on the next working day (补假, article 6);
/// so is a day that two holidays share. No make-up working days.
pub fn statutory(year: i32) -> Schedule {
    let mut days: Vec<(NaiveDate, &'static str)> = Vec::new();
    let mut fixed = |month: u32, day: u32, count: u64, name: &'static str| {
        if let Some(first) = NaiveDate::from_ymd_opt(year, month, day) {
            days.extend(consecutive(first, count).map(|d| (d, name)));
        }
    };
    fixed(1, 1, 1, "元旦");
    fixed(5, 1, 2, "劳动节");
    fixed(10, 1, 3, "国庆节");
    if let Some(new_year) = lunar(year, 1, 1).and_then(|d| d.pred_opt()) {
        days.extend(consecutive(new_year, 4).map(|d| (d, "春节")));
    }
    days.extend(qingming(year).map(|d| (d, "清明节")));
    days.extend(lunar(year, 5, 5).map(|d| (d, "端午节")));
    days.extend(lunar(year, 8, 15).map(|d| (d, "中秋节")));
    // Stable: a day two holidays share keeps the first one's name and owes
    // the second's.
    days.sort_by_key(|(date, _)| *date);

    let mut holidays: BTreeMap<NaiveDate, String> = BTreeMap::new();
    let mut owed: Vec<(NaiveDate, &'static str)> = Vec::new();
    for (date, name) in days {
        let shared = holidays.contains_key(&date);
        if shared || is_weekend(date) {
            owed.push((date, name));
        }
        if !shared {
            holidays.insert(date, name.to_string());
        }
    }
    // After every statutory day is placed, so a day made up never lands on
    // another holiday.
    for (date, name) in owed {
        let mut day = date;
        while let Some(next) = day.succ_opt() {
            day = next;
            if !is_weekend(day) && !holidays.contains_key(&day) {
                holidays.insert(day, format!("{name}（补假）"));
                break;
            }
        }
    }
    Schedule {
        basis: Basis::Statutory,
        holidays,
        workdays: BTreeMap::new(),
    }
}

fn consecutive(first: NaiveDate, count: u64) -> impl Iterator<Item = NaiveDate> {
    (0..count).filter_map(move |n| first.checked_add_days(Days::new(n)))
}

/// The solar date of a day of the Chinese lunar year (never a leap month).
fn lunar(year: i32, month: isize, day: usize) -> Option<NaiveDate> {
    let lunar = LunarDay::new(isize::try_from(year).ok()?, month, day).ok()?;
    naive(lunar.get_solar_day())
}

/// The day of the 清明 solar term (China time).
fn qingming(year: i32) -> Option<NaiveDate> {
    let term = SolarTerm::new(isize::try_from(year).ok()?, "清明").ok()?;
    naive(term.get_julian_day().get_solar_day())
}

fn naive(day: SolarDay) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(
        i32::try_from(day.get_year()).ok()?,
        u32::try_from(day.get_month()).ok()?,
        u32::try_from(day.get_day()).ok()?,
    )
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyme4rs::tyme::Culture;
    use tyme4rs::tyme::holiday::LegalHoliday;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn off(s: &Schedule) -> Vec<NaiveDate> {
        s.holidays.keys().copied().collect()
    }

    #[test]
    fn tyme4rs_publishes_the_2026_notice_with_its_make_up_days() {
        let s = schedule(2026).unwrap();
        assert_eq!(s.basis, Basis::Published);
        assert_eq!(s.holidays.len(), 3 + 9 + 3 + 5 + 3 + 3 + 7);
        assert_eq!(
            s.workdays.keys().copied().collect::<Vec<_>>(),
            [
                d(2026, 1, 4),
                d(2026, 2, 14),
                d(2026, 2, 28),
                d(2026, 5, 9),
                d(2026, 9, 20),
                d(2026, 10, 10)
            ]
        );
        assert_eq!(s.holidays[&d(2026, 2, 17)], "春节");
        assert_eq!(s.workdays[&d(2026, 1, 4)], "元旦调休上班");
    }

    /// The schedule as tyme4rs answers it day by day: its entries walked
    /// from National Day back and forth until the year changes.
    fn walked(year: i32) -> Option<Schedule> {
        let probe = LegalHoliday::from_ymd(year as isize, 10, 1)?;
        let mut entries = vec![probe];
        for step in [-1, 1] {
            let mut at = probe;
            while let Some(next) = at.next(step) {
                if next.get_day().get_year() != year as isize {
                    break;
                }
                entries.push(next);
                at = next;
            }
        }
        let mut schedule = Schedule {
            basis: Basis::Published,
            holidays: BTreeMap::new(),
            workdays: BTreeMap::new(),
        };
        for entry in entries {
            let date = naive(entry.get_day()).expect("a date");
            let name = entry.get_name();
            if entry.is_work() {
                schedule.workdays.insert(date, format!("{name}调休上班"));
            } else {
                schedule.holidays.insert(date, name);
            }
        }
        Some(schedule)
    }

    #[test]
    fn reading_the_notice_table_gives_what_tyme4rs_answers_day_by_day() {
        let last = last_published_year().expect("a published year");
        for year in 2001..=last + 1 {
            assert_eq!(published(year), walked(year), "{year}");
        }
    }

    #[test]
    fn the_last_published_year_is_at_least_2026() {
        assert!(last_published_year().is_some_and(|y| y >= 2026));
        assert!(!published_probe(2001), "the data starts in 2002");
    }

    #[test]
    fn the_table_has_a_national_day_exactly_when_tyme4rs_answers_for_it() {
        for year in 2000..=2035 {
            assert_eq!(
                published_probe(year),
                LegalHoliday::from_ymd(year as isize, 10, 1).is_some(),
                "{year}"
            );
        }
    }

    #[test]
    fn a_year_tyme4rs_lacks_is_computed_from_the_statutory_rules() {
        let year = last_published_year().unwrap() + 1;
        assert_eq!(schedule(year).unwrap().basis, Basis::Statutory);
        assert!(schedule(FIRST_YEAR - 1).is_none());
        assert!(schedule(LAST_YEAR + 1).is_none());
    }

    #[test]
    fn statutory_2026_matches_the_lunar_dates_and_is_inside_the_notice() {
        let computed = statutory(2026);
        assert_eq!(
            off(&computed),
            [
                d(2026, 1, 1),
                // 除夕 Mon 16 Feb to 初三 Thu 19 Feb
                d(2026, 2, 16),
                d(2026, 2, 17),
                d(2026, 2, 18),
                d(2026, 2, 19),
                // 清明 Sun 5 Apr, made up on Mon 6 Apr
                d(2026, 4, 5),
                d(2026, 4, 6),
                // 劳动节 Fri 1 and Sat 2 May, made up on Mon 4 May
                d(2026, 5, 1),
                d(2026, 5, 2),
                d(2026, 5, 4),
                d(2026, 6, 19),
                d(2026, 9, 25),
                // 国庆 Thu 1 to Sat 3 Oct, made up on Mon 5 Oct
                d(2026, 10, 1),
                d(2026, 10, 2),
                d(2026, 10, 3),
                d(2026, 10, 5),
            ]
        );
        assert!(computed.workdays.is_empty());
        assert_eq!(computed.holidays[&d(2026, 4, 6)], "清明节（补假）");
        let notice = schedule(2026).unwrap();
        for day in off(&computed) {
            assert!(
                notice.holidays.contains_key(&day),
                "{day} is off in the notice"
            );
        }
    }

    #[test]
    fn statutory_2025_is_inside_the_2025_notice() {
        let computed = statutory(2025);
        // 除夕 Tue 28 Jan; 端午 Sat 31 May, made up on Mon 2 Jun; 中秋 Mon 6 Oct.
        for day in [
            d(2025, 1, 28),
            d(2025, 1, 31),
            d(2025, 6, 2),
            d(2025, 10, 6),
        ] {
            assert!(computed.holidays.contains_key(&day), "{day}");
        }
        assert_eq!(computed.holidays.len(), 13 + 1);
        let notice = schedule(2025).unwrap();
        for day in off(&computed) {
            assert!(
                notice.holidays.contains_key(&day),
                "{day} is off in the notice"
            );
        }
    }

    #[test]
    fn statutory_2027_new_year_spring_festival_and_qingming() {
        let s = statutory(2027);
        // 2027-01-01 is a Friday.
        assert_eq!(s.holidays[&d(2027, 1, 1)], "元旦");
        // 春节: 除夕 Fri 5 Feb, 初一 Sat 6, 初二 Sun 7, 初三 Mon 8; the weekend
        // two are made up on Tue 9 and Wed 10.
        for day in 5..=10 {
            assert!(s.holidays.contains_key(&d(2027, 2, day)), "Feb {day}");
        }
        assert!(!s.holidays.contains_key(&d(2027, 2, 11)));
        assert_eq!(s.holidays[&d(2027, 4, 5)], "清明节");
        assert_eq!(s.holidays[&d(2027, 6, 9)], "端午节");
        assert_eq!(s.holidays[&d(2027, 9, 15)], "中秋节");
    }

    #[test]
    fn a_day_two_holidays_share_is_made_up() {
        // 2028: 中秋 falls on Tue 3 Oct, inside 国庆 (Sun 1 to Tue 3 Oct):
        // one day for the Sunday and one for the shared day.
        let s = statutory(2028);
        assert_eq!(s.holidays[&d(2028, 10, 4)], "国庆节（补假）");
        assert_eq!(s.holidays[&d(2028, 10, 5)], "中秋节（补假）");
        assert!(!s.holidays.contains_key(&d(2028, 10, 6)));
    }
}
