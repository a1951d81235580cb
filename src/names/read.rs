//! Reading a period back as people write it, so that what an email shows
//! as an example (`请假/excuse 第46周 …`) is what a command accepts:
//! `第46周`, `2026年第46周`, `10月月报`, `2026年10月月报`, `week 46`,
//! `October report`, and reportd's own `2026-W46` / `2026-10`.
//!
//! A form without a year means the period of that number nearest to the
//! day it is read (the earlier one on a tie): in January, `第52周` is last
//! year's week 52 and `12月月报` last December's; in November, `12月月报`
//! is this December's (a leave filed ahead).

use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use regex::Regex;

use crate::config::Language;
use crate::period::{Month, Period};

const EN_MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

struct Forms {
    zh_week: Regex,
    zh_month: Regex,
    en_week: Regex,
    en_month: Regex,
}

static FORMS: LazyLock<Option<Forms>> = LazyLock::new(|| {
    Some(Forms {
        zh_week: Regex::new(r"^(?:(\d{4})\s*年\s*)?第\s*(\d{1,2})\s*周(?:周报)?$").ok()?,
        zh_month: Regex::new(r"^(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月份?(?:月报)?$").ok()?,
        en_week: Regex::new(r"^(?:(\d{4})\s+)?week\s*(\d{1,2})(?:\s*,?\s*(\d{4}))?(?:\s+report)?$")
            .ok()?,
        en_month: Regex::new(
            r"^(?:the\s+)?([a-z]{3})[a-z]*\.?(?:\s+(\d{4}))?(?:\s+(?:monthly\s+)?report)?$",
        )
        .ok()?,
    })
});

/// The period `text` names, read on `today` (the team's local date), or
/// `None` when it names none.
pub fn period(text: &str, today: NaiveDate) -> Option<Period> {
    let text = text.trim();
    if let Ok(p) = text.to_uppercase().parse::<Period>() {
        return Some(p);
    }
    let lower = text.to_lowercase();
    let forms = FORMS.as_ref()?;
    let number = |m: Option<regex::Match<'_>>| m.and_then(|m| m.as_str().parse::<u32>().ok());
    let year = |m: Option<regex::Match<'_>>| m.and_then(|m| m.as_str().parse::<i32>().ok());
    if let Some(c) = forms
        .zh_week
        .captures(&lower)
        .or_else(|| forms.en_week.captures(&lower))
    {
        let week = number(c.get(2))?;
        return match year(c.get(1)).or_else(|| year(c.get(3))) {
            Some(y) => week_of(y, week),
            None => nearest(today, |y| week_of(y, week)),
        };
    }
    let (y, month) = if let Some(c) = forms.zh_month.captures(&lower) {
        (year(c.get(1)), number(c.get(2))?)
    } else {
        let c = forms.en_month.captures(&lower)?;
        let name = c.get(1)?.as_str();
        let i = EN_MONTHS.iter().position(|m| *m == name)?;
        (year(c.get(2)), u32::try_from(i).ok()? + 1)
    };
    let month_of = |y: i32| Month::new(y, month).map(Period::from);
    match y {
        Some(y) => month_of(y),
        None => nearest(today, month_of),
    }
}

fn week_of(year: i32, week: u32) -> Option<Period> {
    format!("{year}-W{week:02}").parse().ok()
}

/// Of the periods `of(year)` for last, this and next year, the one whose
/// first day is nearest to `today`; the earlier one on a tie.
fn nearest(today: NaiveDate, of: impl Fn(i32) -> Option<Period>) -> Option<Period> {
    let y = today.year();
    [y - 1, y, y + 1]
        .into_iter()
        .filter_map(of)
        .min_by_key(|p| (p.first_day() - today).num_days().abs())
}

/// A period as a command names it, short and without its days: `第46周`,
/// `10月月报` / `week 46`, `October report`. [`period`] reads it back.
pub fn command_form(p: Period, lang: Language) -> String {
    match (p, lang) {
        (Period::Week { week, .. }, Language::Zh) => format!("第{week}周"),
        (Period::Month { month, .. }, Language::Zh) => format!("{month}月月报"),
        (Period::Week { week, .. }, Language::En) => format!("week {week}"),
        (Period::Month { year, month }, Language::En) => {
            let name = super::month(
                Month::new(year, month).unwrap_or_else(|| Month::containing(p.first_day())),
                Language::En,
            );
            // `October 2026` → `October report`.
            let name = name.split_whitespace().next().unwrap_or_default();
            format!("{name} report")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    fn w(year: i32, week: u32) -> Option<Period> {
        Some(Period::Week { year, week })
    }

    fn m(year: i32, month: u32) -> Option<Period> {
        Some(Period::Month { year, month })
    }

    #[test]
    fn every_form_an_email_shows_reads_back_as_its_period() {
        let today = day(2026, 11, 16);
        for (text, want) in [
            ("2026-W46", w(2026, 46)),
            ("2026-w46", w(2026, 46)),
            ("第46周", w(2026, 46)),
            ("2026年第46周", w(2026, 46)),
            ("第46周周报", w(2026, 46)),
            ("week 46", w(2026, 46)),
            ("Week 46 2026", w(2026, 46)),
            ("2026-10", m(2026, 10)),
            ("10月月报", m(2026, 10)),
            ("2026年10月月报", m(2026, 10)),
            ("10月", m(2026, 10)),
            ("October report", m(2026, 10)),
            ("Oct 2026", m(2026, 10)),
            ("the October 2026 monthly report", m(2026, 10)),
        ] {
            assert_eq!(period(text, today), want, "{text}");
        }
        for p in [
            w(2026, 46),
            m(2026, 10),
            w(2026, 30),
            m(2026, 7),
            m(2026, 12),
        ]
        .into_iter()
        .flatten()
        {
            for lang in [Language::Zh, Language::En] {
                let said = command_form(p, lang);
                assert_eq!(period(&said, today), Some(p), "{said}");
            }
        }
    }

    #[test]
    fn a_period_without_a_year_is_the_nearest_one() {
        // In January, week 52 and the December report are last year's.
        assert_eq!(period("第52周", day(2027, 1, 4)), w(2026, 52));
        assert_eq!(period("12月月报", day(2027, 1, 4)), m(2026, 12));
        // In November, December's report is this year's (filed ahead).
        assert_eq!(period("12月月报", day(2026, 11, 20)), m(2026, 12));
        // Week 53 exists in 2026 only.
        assert_eq!(period("第53周", day(2027, 1, 2)), w(2026, 53));
    }

    #[test]
    fn what_names_no_period_reads_as_none() {
        let today = day(2026, 11, 16);
        for text in [
            "下周一",
            "第60周",
            "13月月报",
            "2026-W54",
            "weekly",
            "zhangwei",
        ] {
            assert_eq!(period(text, today), None, "{text}");
        }
    }
}
