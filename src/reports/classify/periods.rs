//! Reading the period a subject names: `W48`, `第48周`, `2026-W48`,
//! `11.23-11.28`, `11月`, `2026.06`, `November 2026`. The year, when not
//! written, is the one that puts the period nearest the arrival. Also where
//! each number-written period or day is, which recognising a report needs
//! (`shape`).

use std::ops::Range;
use std::sync::LazyLock;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use regex::{Captures, Regex};

use crate::period::{Kind, Period};

use super::fold::{fold, skip_fillers};

/// Compiles a pattern written in this file. Only a typo can fail, which the
/// `every_pattern_compiles` test catches; at run time a failed pattern
/// just matches nothing.
fn compile(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

type Pattern = LazyLock<Option<Regex>>;

/// Week or month numbers written with digits or Chinese numerals.
const NUM: &str = "[0-9]{1,2}|[一二三四五六七八九十两]{1,3}";

// `2026-W48`, `2026W48`, `2026 week 48`, `2026年W48`.
static YEAR_W: Pattern = LazyLock::new(|| {
    compile(
        r"(?:^|[^0-9])([0-9]{4})\s*(?:年\s*)?[-_/.]?\s*(?:week|wk|w)\s*[-_.#]?\s*([0-9]{1,2})(?:[^0-9]|$)",
    )
});
// `W48-2026`, `week 48, 2026`.
static W_YEAR: Pattern = LazyLock::new(|| {
    compile(
        r"(?:^|[^a-z0-9])(?:week|wk|w)\s*[-_.#]?\s*([0-9]{1,2})\s*[-_/,]?\s*([0-9]{4})(?:[^0-9]|$)",
    )
});
// `2026年第48周`.
static YEAR_CN_W: Pattern = LazyLock::new(|| {
    compile(&format!(
        r"(?:^|[^0-9])([0-9]{{4}})\s*年\s*(?:度\s*)?第\s*({NUM})\s*周"
    ))
});
// `第48周`, `第四十八周`; group 2 marks a week of a month (`本月第2周`),
// group 1 its month (`11月第4周`).
static CN_W: Pattern = LazyLock::new(|| {
    compile(&format!(
        r"(?:({NUM})?\s*(月)\s*(?:份\s*)?)?第\s*({NUM})\s*周"
    ))
});
// `48周` (checked in `week_matches`: not `5周年`, not `近3周`).
static N_W: Pattern = LazyLock::new(|| compile(r"(?:^|[^0-9a-z.])([0-9]{1,2})周"));
// `W48`, `w48`, `WK48`, `Week 48`, `week rpt 48`, `week report #48`.
static W: Pattern = LazyLock::new(|| {
    compile(
        r"(?:^|[^a-z0-9])(?:week|wk|w)(?:\s*(?:rpt|report))?\s*[-_.#]?\s*([0-9]{1,2})(?:[^0-9]|$)",
    )
});
// Date ranges name their parts: start year, month, day (`sy`, `sm`, `sd`)
// and end year, month, day (`ey`, `em`, `ed`); a month may be a word.
//
// `11.23-11.28`, `11.23~11.29`, `11/23-29`, `2026.11.23-2026.11.29`,
// `2026-11-23 至 2026-11-29`.
static RANGE: Pattern = LazyLock::new(|| {
    compile(concat!(
        r"(?:^|[^0-9.])(?:(?P<sy>[0-9]{4})\s*[./-]\s*)?(?P<sm>[0-9]{1,2})\s*[./-]\s*(?P<sd>[0-9]{1,2})",
        r"\s*(?:-|~|至|到)\s*",
        r"(?:(?:(?P<ey>[0-9]{4})\s*[./-]\s*)?(?P<em>[0-9]{1,2})\s*[./-]\s*)?(?P<ed>[0-9]{1,2})(?:[^0-9.]|$)",
    ))
});
// `11月23日-11月29日`, `11月23日至29日`, `2026年11月23日-2026年11月29日`.
static CN_RANGE: Pattern = LazyLock::new(|| {
    compile(concat!(
        r"(?:^|[^0-9])(?:(?P<sy>[0-9]{4})\s*年\s*)?(?P<sm>[0-9]{1,2})\s*月\s*(?P<sd>[0-9]{1,2})\s*[日号]?",
        r"\s*(?:-|~|至|到)\s*",
        r"(?:(?P<ey>[0-9]{4})\s*年\s*)?(?:(?P<em>[0-9]{1,2})\s*月\s*)?(?P<ed>[0-9]{1,2})\s*[日号]?(?:[^0-9]|$)",
    ))
});
// `20261123-20261129`, `20261123-1129`, `20261123-29`.
static COMPACT_RANGE: Pattern = LazyLock::new(|| {
    compile(concat!(
        r"(?:^|[^0-9])(?P<sy>20[0-9]{2})(?P<sm>[01][0-9])(?P<sd>[0-3][0-9])",
        r"\s*(?:-|~|至|到)\s*",
        r"(?:(?P<ey>20[0-9]{2})?(?P<em>[01][0-9]))?(?P<ed>[0-3][0-9])(?:[^0-9]|$)",
    ))
});
// `1123-1129`, `1123-29`; not inside a longer run of numbers and dashes
// (`138-1234-5678`).
static MMDD_RANGE: Pattern = LazyLock::new(|| {
    compile(concat!(
        r"(?:^|[^0-9./-])(?P<sm>0[1-9]|1[0-2])(?P<sd>[0-3][0-9])",
        r"\s*(?:-|~|至|到)\s*",
        r"(?P<em>0[1-9]|1[0-2])?(?P<ed>[0-3][0-9])(?:[^0-9./-]|$)",
    ))
});
const EN_MONTH: &str = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec";
// `Nov 23-29`, `Nov 23 - Nov 28`, `Nov. 23rd to 29th`.
static EN_RANGE: Pattern = LazyLock::new(|| {
    compile(&format!(
        concat!(
            r"(?:^|[^a-z])(?P<sm>{m})[a-z]*\.?\s*(?P<sd>[0-9]{{1,2}})(?:st|nd|rd|th)?",
            r"\s*(?:-|~|to)\s*",
            r"(?:(?P<em>{m})[a-z]*\.?\s*)?(?P<ed>[0-9]{{1,2}})(?:st|nd|rd|th)?(?:[^0-9]|$)",
        ),
        m = EN_MONTH
    ))
});
// `23-29 Nov`, `(23-29 Nov)`.
static DAYS_EN_MONTH: Pattern = LazyLock::new(|| {
    compile(&format!(
        r"(?:^|[^0-9./-])(?P<sd>[0-9]{{1,2}})\s*(?:-|~|to)\s*(?P<ed>[0-9]{{1,2}})\s*(?P<sm>{EN_MONTH})"
    ))
});
// `2026年11月`, `2026年十一月`.
static YEAR_CN_M: Pattern =
    LazyLock::new(|| compile(&format!(r"(?:^|[^0-9])([0-9]{{4}})\s*年\s*({NUM})\s*月")));
// `202611`.
static YEAR_M6: Pattern =
    LazyLock::new(|| compile(r"(?:^|[^0-9])(20[0-9]{2})(0[1-9]|1[0-2])(?:[^0-9]|$)"));
// `2026-11`, `2026.11`, `2026/11`.
static YEAR_M: Pattern =
    LazyLock::new(|| compile(r"(?:^|[^0-9.])([0-9]{4})\s*[-./]\s*([0-9]{1,2})(?:[^0-9]|$)"));
// `11月`, `11月份`, `十一月`.
static CN_M: Pattern = LazyLock::new(|| {
    compile(&format!(
        r"(?:^|[^0-9a-z一二三四五六七八九十两])({NUM})\s*月"
    ))
});
// `November 2026`, `Nov. 2026`, `Nov`.
static EN_M: Pattern = LazyLock::new(|| {
    compile(
        r"(?:^|[^a-z])(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)([a-z]*)\.?(?:\s*,?\s*([0-9]{4})(?:[^0-9]|$))?",
    )
});

fn captures<'h>(pattern: &Pattern, hay: &'h str) -> Vec<Captures<'h>> {
    match pattern.as_ref() {
        Some(re) => re.captures_iter(hay).collect(),
        None => Vec::new(),
    }
}

fn num(c: &Captures, i: usize) -> Option<u32> {
    c.get(i).and_then(|m| cn_number(m.as_str()))
}

/// A named part of a date range: a number, or a month's English name.
fn part(c: &Captures, name: &str) -> Option<u32> {
    let text = c.name(name)?.as_str();
    cn_number(text).or_else(|| {
        FULL_MONTHS
            .iter()
            .position(|m| m.starts_with(text))
            .map(|i| i as u32 + 1)
    })
}

fn part_year(c: &Captures, name: &str) -> Option<i32> {
    c.name(name).and_then(|m| m.as_str().parse().ok())
}

fn year(c: &Captures, i: usize) -> Option<i32> {
    c.get(i).and_then(|m| m.as_str().parse().ok())
}

/// `48`, `四十八`, `十一`, `两` → the number (up to 99).
fn cn_number(s: &str) -> Option<u32> {
    if let Ok(n) = s.parse() {
        return Some(n);
    }
    let digit = |c: char| {
        "零一二三四五六七八九"
            .chars()
            .position(|d| d == c)
            .map(|d| d as u32)
            .or((c == '两').then_some(2))
    };
    let chars: Vec<char> = s.chars().collect();
    match chars.as_slice() {
        [c] if *c == '十' => Some(10),
        [c] => digit(*c),
        ['十', o] => Some(10 + digit(*o)?),
        [t, '十'] => Some(digit(*t)? * 10),
        [t, '十', o] => Some(digit(*t)? * 10 + digit(*o)?),
        _ => None,
    }
}

/// A week named in a subject, before its year is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WeekRef {
    Iso {
        year: Option<i32>,
        week: u32,
    },
    /// The `n`th week of a month (`11月第4周`), read only for a month
    /// that starts on a Monday, where every way of counting agrees.
    OfMonth {
        month: u32,
        n: u32,
    },
    /// A date range: (year, month, day) to (year, month, day); a missing
    /// end month is the start's.
    Range {
        start: (Option<i32>, u32, u32),
        end: (Option<i32>, Option<u32>, u32),
    },
}

/// A month named in a subject, before its year is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MonthRef {
    year: Option<i32>,
    month: u32,
}

/// Whether `hay[end..]` continues a date (`23日`, `.23`, `-23`), so the month
/// just read is part of a day, not a month of its own.
fn continues_as_date(hay: &str, end: usize) -> bool {
    let rest = hay[end..].trim_start();
    let rest = rest
        .strip_prefix(['-', '.', '/'])
        .unwrap_or(rest)
        .trim_start();
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || "一二三四五六七八九十".contains(*c))
        .collect();
    if digits.is_empty() {
        return false;
    }
    let after = rest[digits.len()..].trim_start();
    after.starts_with(['日', '号'])
        || (hay[end..].trim_start().starts_with(['-', '.', '/'])
            && digits.chars().all(|c| c.is_ascii_digit()))
}

/// Matches of the patterns, in order, skipping a match that overlaps one
/// of an earlier pattern (so the `W53` of `2025-W53`, an impossible week,
/// is not read again as a bare `W53`). Spans run from the first to the
/// last capture group.
fn matches_in_order<'h>(patterns: &[&Pattern], hay: &'h str) -> Vec<(usize, Captures<'h>)> {
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let mut out = Vec::new();
    for (k, pattern) in patterns.iter().enumerate() {
        let mut mine = Vec::new();
        for c in captures(pattern, hay) {
            let groups: Vec<_> = c.iter().skip(1).flatten().collect();
            let (Some(first), Some(last)) = (groups.first(), groups.last()) else {
                continue;
            };
            let span = (first.start(), last.end());
            if taken.iter().any(|&(a, b)| span.0 < b && a < span.1) {
                continue;
            }
            mine.push(span);
            out.push((k, c));
        }
        taken.extend(mine);
    }
    out
}

/// Where a match is written: from its first capture group through the
/// unit after its last one when the pattern has one (`第48周` through 周,
/// `11月份` through 份, `11月23日-29日` through 日).
fn span_of(c: &Captures, hay: &str, units: &[char]) -> Range<usize> {
    let groups: Vec<_> = c.iter().skip(1).flatten().collect();
    let start = groups.first().map_or(0, |m| m.start());
    let mut end = groups.last().map_or(start, |m| m.end());
    let rest = &hay[end..];
    let unit = rest.trim_start();
    if let Some(u) = unit.chars().next().filter(|u| units.contains(u)) {
        end += rest.len() - unit.len() + u.len_utf8();
        if u == '月' && hay[end..].starts_with('份') {
            end += '份'.len_utf8();
        }
    }
    start..end
}

/// The kind of period a date range spans: up to two weeks is a week, a
/// whole month (1st to its last day) is a month, anything else neither.
fn range_kind(c: &Captures) -> Option<Kind> {
    let (sm, sd, ed) = (part(c, "sm")?, part(c, "sd")?, part(c, "ed")?);
    let em = part(c, "em").unwrap_or(sm);
    // A leap year, so that 2.29 is a day.
    let start = NaiveDate::from_ymd_opt(2024, sm, sd)?;
    let mut end = NaiveDate::from_ymd_opt(2024, em, ed)?;
    if end < start {
        end = NaiveDate::from_ymd_opt(2025, em, ed)?;
    }
    let whole_month = sd == 1 && em == sm && end.succ_opt().is_some_and(|d| d.day() == 1);
    match (end - start).num_days() {
        0..=13 => Some(Kind::Weekly),
        _ if whole_month => Some(Kind::Monthly),
        _ => None,
    }
}

/// Every week spelling in a (folded) subject, most explicit first: where
/// it is written, the ISO week, week of a month or date range it names (if
/// it names one), and the kind of period the spelling is a word for
/// (`W60` is nothing).
fn week_matches(hay: &str) -> Vec<(Range<usize>, Option<WeekRef>, Option<Kind>)> {
    let iso = |year: Option<i32>, week: Option<u32>| {
        week.filter(|w| (1..=53).contains(w))
            .map(|week| WeekRef::Iso { year, week })
    };
    let patterns = [
        &YEAR_W,
        &YEAR_CN_W,
        &W_YEAR,
        &CN_W,
        &W,
        &N_W,
        &CN_RANGE,
        &RANGE,
        &COMPACT_RANGE,
        &MMDD_RANGE,
        &EN_RANGE,
        &DAYS_EN_MONTH,
    ];
    let mut out = Vec::new();
    for (k, c) in matches_in_order(&patterns, hay) {
        let (units, found): (&[char], _) = match k {
            0 => (&[], iso(year(&c, 1), num(&c, 2))),
            1 => (&['周'], iso(year(&c, 1), num(&c, 2))),
            2 => (&[], iso(year(&c, 2), num(&c, 1))),
            // `11月第4周` counts weeks of a month: still a week.
            3 if c.get(2).is_some() => {
                let of_month = num(&c, 1)
                    .zip(num(&c, 3))
                    .map(|(month, n)| WeekRef::OfMonth { month, n });
                out.push((span_of(&c, hay, &['周']), of_month, Some(Kind::Weekly)));
                continue;
            }
            3 => (&['周'], iso(None, num(&c, 3))),
            4 => (&[], iso(None, num(&c, 1))),
            5 if !counts_a_week(hay, &c) => continue,
            5 => (&['周'], iso(None, num(&c, 1))),
            _ => {
                let range = match (part(&c, "sm"), part(&c, "sd"), part(&c, "ed")) {
                    (Some(sm), Some(sd), Some(ed)) => Some(WeekRef::Range {
                        start: (part_year(&c, "sy"), sm, sd),
                        end: (part_year(&c, "ey"), part(&c, "em"), ed),
                    }),
                    _ => None,
                };
                out.push((span_of(&c, hay, &['日', '号']), range, range_kind(&c)));
                continue;
            }
        };
        let kind = found.map(|_| Kind::Weekly);
        out.push((span_of(&c, hay, units), found, kind));
    }
    out
}

/// Whether a match of `N_W` (`48周`) names a week: not an anniversary or
/// age (`5周年`, `3周岁`), a weekday or weekend (`2周末`), nor a number of
/// weeks (`近3周`, `前2周`, `每2周`).
fn counts_a_week(hay: &str, c: &Captures) -> bool {
    let Some(m) = c.get(0) else {
        return false;
    };
    let next = hay[m.end()..].chars().next();
    let number_start = c.get(1).map_or(m.start(), |n| n.start());
    let before = hay[..number_start].chars().next_back();
    !next.is_some_and(|n| "年岁末刊期一二三四五六日天边转".contains(n))
        && !before.is_some_and(|b| "近前后每这隔".contains(b))
}

const FULL_MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// An English month name (`nov`, `November`, `sept`), when the match is
/// one: `may` and `mar(ch)` are also English words, so only with a year.
fn english_month(c: &Captures) -> Option<MonthRef> {
    let (abbr, tail) = (c.get(1)?.as_str(), c.get(2)?.as_str());
    let word = format!("{abbr}{tail}");
    let i = FULL_MONTHS.iter().position(|f| f.starts_with(abbr))?;
    let named = FULL_MONTHS[i] == word || tail.is_empty() || word == "sept";
    let year = year(c, 3);
    (named && (year.is_some() || !matches!(abbr, "may" | "mar"))).then_some(MonthRef {
        year,
        month: i as u32 + 1,
    })
}

/// Every month spelling in a (folded) subject, most explicit first: where
/// it is written and the month it names, `None` when it is part of a day
/// (`11月23日`, `2026-11-30`) or out of range. English words that are not
/// month names (`market`) are left out.
fn month_matches(hay: &str) -> Vec<(Range<usize>, Option<MonthRef>)> {
    let month = |year: Option<i32>, m: Option<u32>| {
        m.filter(|m| (1..=12).contains(m))
            .map(|month| MonthRef { year, month })
    };
    let patterns = [&YEAR_CN_M, &YEAR_M6, &YEAR_M, &CN_M, &EN_M];
    let mut out = Vec::new();
    for (k, c) in matches_in_order(&patterns, hay) {
        let span = span_of(&c, hay, if k == 0 || k == 3 { &['月'] } else { &[] });
        let found = match k {
            1 => month(year(&c, 1), num(&c, 2)),
            0 | 2 => {
                // `2026年11月30日` and `2026-11-30` are days, not months.
                let end = c.get(2).map(|m| m.end()).unwrap_or_default();
                let end = if k == 0 {
                    hay[end..]
                        .find('月')
                        .map(|i| end + i + '月'.len_utf8())
                        .unwrap_or(end)
                } else {
                    end
                };
                if continues_as_date(hay, end) {
                    None
                } else {
                    month(year(&c, 1), num(&c, 2))
                }
            }
            3 => {
                let end = c.get(0).map(|m| m.end()).unwrap_or_default();
                if continues_as_date(hay, end) {
                    None
                } else {
                    month(None, num(&c, 1))
                }
            }
            _ => match english_month(&c) {
                Some(m) => Some(m),
                None => continue,
            },
        };
        out.push((span, found));
    }
    out
}

/// A period or a day written with numbers in a folded subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbered {
    /// Where it is written (see `span_of`).
    pub span: Range<usize>,
    /// The kind of period it is a word for; `None` for a day (`11月23日`)
    /// or a number that names nothing (`W60`).
    pub kind: Option<Kind>,
}

/// Every week, month and day written with numbers in a folded subject, in
/// no particular order (spans of a week and a month may overlap, as in
/// `11月第4周`).
pub fn numbered(hay: &str) -> Vec<Numbered> {
    let weeks = week_matches(hay)
        .into_iter()
        .map(|(span, _, kind)| Numbered { span, kind });
    let months = month_matches(hay).into_iter().map(|(span, m)| Numbered {
        span,
        kind: m.map(|_| Kind::Monthly),
    });
    weeks.chain(months).collect()
}

/// Days from `date` to the interval `[first, last]` (0 inside).
fn distance(date: NaiveDate, first: NaiveDate, last: NaiveDate) -> i64 {
    if date < first {
        (first - date).num_days()
    } else if date > last {
        (date - last).num_days()
    } else {
        0
    }
}

/// The year (of `candidates`) that puts the period nearest `arrival`;
/// ties go to the earlier year (reports look back).
fn nearest<T>(
    arrival: NaiveDate,
    explicit: Option<i32>,
    make: impl Fn(i32) -> Option<(T, NaiveDate, NaiveDate)>,
) -> Option<T> {
    let years: Vec<i32> = match explicit {
        Some(y) => vec![y],
        None => vec![arrival.year() - 1, arrival.year(), arrival.year() + 1],
    };
    years
        .into_iter()
        .filter_map(|y| make(y).map(|(t, first, last)| (distance(arrival, first, last), y, t)))
        .min_by_key(|&(d, y, _)| (d, y))
        .map(|(_, _, t)| t)
}

fn iso_week_of(date: NaiveDate) -> Period {
    let w = date.iso_week();
    Period::Week {
        year: w.year(),
        week: w.week(),
    }
}

/// The ISO week holding most days of the range (ties: the earliest), for a
/// range of 1 to 14 days.
fn week_of_range(start: NaiveDate, end: NaiveDate) -> Option<Period> {
    let days = (end - start).num_days();
    if !(0..14).contains(&days) {
        return None;
    }
    let mut counts: Vec<(Period, u32)> = Vec::new();
    for i in 0..=days {
        let p = iso_week_of(start + Duration::days(i));
        match counts.iter_mut().find(|(q, _)| *q == p) {
            Some((_, n)) => *n += 1,
            None => counts.push((p, 1)),
        }
    }
    let best = counts.iter().map(|&(_, n)| n).max()?;
    counts.into_iter().find(|&(_, n)| n == best).map(|(p, _)| p)
}

fn resolve_week(r: WeekRef, arrival: NaiveDate) -> Option<Period> {
    match r {
        WeekRef::OfMonth { month, n } => {
            let first = resolve_month(MonthRef { year: None, month }, arrival)?.first_day();
            let start = first + Duration::weeks(i64::from(n.checked_sub(1)?));
            let whole = first.weekday() == Weekday::Mon && start.month() == month;
            whole.then(|| iso_week_of(start))
        }
        WeekRef::Iso { year, week } => nearest(arrival, year, |y| {
            let first = NaiveDate::from_isoywd_opt(y, week, Weekday::Mon)?;
            Some((
                Period::Week { year: y, week },
                first,
                first + Duration::days(6),
            ))
        }),
        WeekRef::Range {
            start: (sy, sm, sd),
            end: (ey, em, ed),
        } => nearest(arrival, sy, |y| {
            let start = NaiveDate::from_ymd_opt(y, sm, sd)?;
            let end = match (ey, em) {
                (Some(ey), Some(em)) => NaiveDate::from_ymd_opt(ey, em, ed)?,
                (None, Some(em)) => {
                    let same = NaiveDate::from_ymd_opt(y, em, ed)?;
                    // `12.28-1.3`: the end is in the next year.
                    if same < start {
                        NaiveDate::from_ymd_opt(y + 1, em, ed)?
                    } else {
                        same
                    }
                }
                (_, None) => {
                    let same = NaiveDate::from_ymd_opt(y, sm, ed);
                    match same {
                        Some(d) if d >= start => d,
                        // `11.28-3`: the end is in the next month.
                        _ => {
                            let (ny, nm) = if sm == 12 { (y + 1, 1) } else { (y, sm + 1) };
                            NaiveDate::from_ymd_opt(ny, nm, ed)?
                        }
                    }
                }
            };
            Some((week_of_range(start, end)?, start, end))
        }),
    }
}

fn resolve_month(r: MonthRef, arrival: NaiveDate) -> Option<Period> {
    nearest(arrival, r.year, |y| {
        let first = NaiveDate::from_ymd_opt(y, r.month, 1)?;
        let (ny, nm) = if r.month == 12 {
            (y + 1, 1)
        } else {
            (y, r.month + 1)
        };
        let last = NaiveDate::from_ymd_opt(ny, nm, 1)?.pred_opt()?;
        Some((
            Period::Month {
                year: y,
                month: r.month,
            },
            first,
            last,
        ))
    })
}

/// The period of `kind` named in the subject: `W48`, `第48周`, `2026-W48`,
/// `11.23-11.28`, `2026.11.23-2026.11.29`, `11月月报`, `2026年11月`,
/// `2026-11`. A period without a year takes the year that puts it nearest
/// to `arrival_date`.
///
/// Weekly, most explicit first: a year and week (`2026-W48`, `2026W48`,
/// `2026年第48周`, `W48-2026`), a week (`第48周`, `第四十八周`, `W48`,
/// `Week 48`, `48周`), a date range (`11.23-11.28`, `11/23~29`,
/// `2026.11.23-2026.11.29`, `11月23日-11月29日`, `20261123-20261129`,
/// `1123-1129`, `Nov 23-29`, `23-29 Nov`), which names the ISO week
/// holding most of its days (ties: the earlier week; a Monday-to-Saturday
/// range is its start's week). `11月第4周` counts weeks of a month, which
/// teams number differently: it is read only for a month that starts on a
/// Monday, where they all agree.
///
/// Monthly: `2026年11月`, `2026-11` / `2026.11` / `2026/11`, `202611`, `11月`,
/// `11月份`, `十一月`, `November 2026`, `Nov`. A day (`11月23日`,
/// `2026-11-23`) is not a month.
///
/// Only a period of `kind` is returned. Week numbers above 53 (or above the
/// year's last week), months above 12, digits that run on (`138-1234-5678`)
/// and other designators (`Q4`) give nothing.
pub fn period_in_subject(subject: &str, kind: Kind, arrival_date: NaiveDate) -> Option<Period> {
    let hay = fold(subject);
    let named: Vec<(Range<usize>, Period)> = match kind {
        Kind::Weekly => week_matches(&hay)
            .into_iter()
            .filter_map(|(span, r, _)| {
                let r = r?;
                let period = resolve_week(r, arrival_date)?;
                Some((span, calendar_numbered(r, period, arrival_date)))
            })
            .collect(),
        Kind::Monthly => month_matches(&hay)
            .into_iter()
            .filter_map(|(span, r)| Some((span, resolve_month(r?, arrival_date)?)))
            .collect(),
    };
    // `12月计划及11月工作总结`: the period of a plan is not the report's.
    let reported: Vec<Period> = named
        .iter()
        .filter(|(span, _)| !names_a_plan(&hay, span.end))
        .map(|(_, p)| *p)
        .collect();
    let named = if reported.is_empty() {
        named.into_iter().map(|(_, p)| p).collect()
    } else {
        reported
    };
    // `第49周计划及第48周周报` sent in W48 is W48's report: of several
    // periods named, the first that has begun, else the first.
    named
        .iter()
        .copied()
        .find(|p| p.first_day() <= arrival_date)
        .or_else(|| named.first().copied())
}

/// Whether a period written up to `end` is followed by a plan word
/// (`12月计划`, `第49周工作安排`, `W49 plan`): what comes, not what is
/// reported.
fn names_a_plan(hay: &str, end: usize) -> bool {
    const PLANS: &[&str] = &["计划", "安排", "目标", "预算", "规划", "打算", "plan"];
    let after = skip_fillers(hay.get(end..).unwrap_or_default());
    PLANS.iter().any(|p| after.starts_with(p))
}

/// A week number counted from 1 January (Excel's WEEKNUM, many Chinese
/// companies' calendars) is one more than the ISO number all year when 1
/// January falls on a Friday, Saturday or Sunday (2027, 2028). Such a
/// number, named without a year, that reads as next week is this week.
fn calendar_numbered(r: WeekRef, resolved: Period, arrival: NaiveDate) -> Period {
    let this_week = Period::containing(Kind::Weekly, arrival);
    let yearless = matches!(r, WeekRef::Iso { year: None, .. });
    let late_start = NaiveDate::from_ymd_opt(arrival.year(), 1, 1)
        .is_some_and(|d| matches!(d.weekday(), Weekday::Fri | Weekday::Sat | Weekday::Sun));
    if yearless && late_start && resolved == this_week.next() {
        this_week
    } else {
        resolved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    fn week(year: i32, week: u32) -> Option<Period> {
        Some(Period::Week { year, week })
    }

    fn month(year: i32, month: u32) -> Option<Period> {
        Some(Period::Month { year, month })
    }

    fn weekly(subject: &str, arrival: NaiveDate) -> Option<Period> {
        period_in_subject(subject, Kind::Weekly, arrival)
    }

    #[test]
    fn of_several_weeks_named_the_one_that_has_begun_is_the_reports() {
        let w48 = date(2026, 11, 26);
        assert_eq!(weekly("第49周计划及第48周周报", w48), week(2026, 48));
        assert_eq!(weekly("第48周周报及第49周计划", w48), week(2026, 48));
        assert_eq!(weekly("2026-W50 周报", w48), week(2026, 50), "still early");
    }

    #[test]
    fn the_period_next_to_a_plan_word_is_not_the_reports() {
        let d = date(2026, 12, 1);
        assert_eq!(monthly("12月计划及11月工作总结", d), month(2026, 11));
        assert_eq!(monthly("11月工作总结及12月工作计划", d), month(2026, 11));
        assert_eq!(monthly("2026.12 plan & 2026.11 report", d), month(2026, 11));
        assert_eq!(weekly("第49周工作安排与第48周总结", d), week(2026, 48));
        // Only a plan: its period is all there is.
        assert_eq!(monthly("12月计划", d), month(2026, 12));
    }

    #[test]
    fn compact_and_english_week_spellings_are_read() {
        let d = date(2026, 11, 30);
        for s in [
            "张伟 20261123-20261129 工作总结",
            "20261123-1129 周报",
            "周报 1123-1129",
            "Weekly report (23-29 Nov)",
            "Weekly Summary (Nov 23 - Nov 28)",
            "Weekly recap: Nov 23-27",
            "张伟 销售周报 48周",
            "48周周报",
            "week rpt 48",
        ] {
            assert_eq!(weekly(s, d), week(2026, 48), "{s}");
        }
        assert_eq!(monthly("月报_张伟_202611", d), month(2026, 11));
        for s in [
            "5周年庆 周报",
            "近3周周报",
            "周报 20261128",
            "电话 138-1234-5678 周报",
        ] {
            assert_eq!(weekly(s, d), None, "{s}");
        }
    }

    #[test]
    fn a_week_of_a_month_is_read_when_the_month_starts_on_a_monday() {
        // June 2026 starts on a Monday: its 2nd week is 8 to 14 June.
        let june_8 = date(2026, 6, 8).iso_week();
        let d = date(2026, 6, 15);
        assert_eq!(
            weekly("6月第2周周报", d),
            week(june_8.year(), june_8.week())
        );
        assert_eq!(weekly("2026年6月第二周工作总结", d), week(2026, 24));
        // November 2026 starts on a Sunday: its 4th week is the 16th or the
        // 23rd, depending on the team.
        assert_eq!(weekly("11月第4周周报", date(2026, 11, 30)), None);
        assert_eq!(weekly("6月第6周周报", d), None);
        assert_eq!(weekly("本月第二周周报", d), None);
    }

    #[test]
    fn a_week_counted_from_the_first_of_january_is_this_week_in_a_late_starting_year() {
        // 2027-01-01 is a Friday: the 8th is in WEEKNUM week 2, ISO week 1.
        assert_eq!(weekly("第2周周报", date(2027, 1, 8)), week(2027, 1));
        assert_eq!(weekly("第1周周报", date(2027, 1, 2)), week(2026, 53));
        assert_eq!(weekly("第2周周报", date(2027, 1, 13)), week(2027, 2));
        // 2026 started on a Thursday: the numbers agree, W49 is next week.
        assert_eq!(weekly("第49周周报", date(2026, 11, 26)), week(2026, 49));
        // A year written out is taken as written.
        assert_eq!(weekly("2027-W02 周报", date(2027, 1, 8)), week(2027, 2));
    }

    fn monthly(subject: &str, arrival: NaiveDate) -> Option<Period> {
        period_in_subject(subject, Kind::Monthly, arrival)
    }

    #[test]
    fn week_numbers_in_every_spelling_are_read() {
        let d = date(2026, 11, 28);
        for s in [
            "W48",
            "w48 周报",
            "周报-W48",
            "Week 48",
            "WK48",
            "第48周周报",
            "第 48 周",
            "第四十八周",
            "2026-W48",
            "2026W48",
            "2026 w48",
            "2026年第48周",
            "W48-2026",
            "Ｗ４８周报",
        ] {
            assert_eq!(weekly(s, d), week(2026, 48), "{s}");
        }
    }

    #[test]
    fn date_ranges_name_the_week_of_most_of_their_days() {
        let d = date(2026, 11, 28);
        for s in [
            "11.23-11.28",
            "11.23~11.29",
            "11/23-29",
            "2026.11.23-2026.11.29",
            "2026/11/23-2026/11/29",
            "2026-11-23至2026-11-29",
            "11月23日-11月29日",
            "11月23日至29日",
            "11.23－11.28",
            "11.23～11.29",
            "周报(11.23 - 11.27)",
        ] {
            assert_eq!(weekly(s, d), week(2026, 48), "{s}");
        }
        // Sunday-to-Saturday: most days are in the week starting Monday 23rd.
        assert_eq!(weekly("11.22-11.28", d), week(2026, 48));
        // A range over New Year.
        assert_eq!(weekly("12.28-1.3", date(2027, 1, 4)), week(2026, 53));
    }

    #[test]
    fn week_without_a_year_takes_the_nearest_year() {
        assert_eq!(weekly("W52", date(2027, 1, 2)), week(2026, 52));
        assert_eq!(weekly("W1", date(2026, 12, 30)), week(2027, 1));
        assert_eq!(weekly("W53", date(2027, 1, 2)), week(2026, 53));
        assert_eq!(weekly("12.21-12.26", date(2027, 1, 2)), week(2026, 52));
    }

    #[test]
    fn impossible_or_unclear_weeks_are_not_read() {
        let d = date(2026, 11, 28);
        for s in [
            "W54",
            "W0",
            "第60周",
            "Q4 周报",
            "电话 138-1234-5678",
            "13812345678",
            "11月第4周周报",
            "本月第二周",
            "v1.2 周报",
            "11.31-12.6",
            "11.01-11.30",
            "2025-W53",
        ] {
            assert_eq!(weekly(s, d), None, "{s}");
        }
        // The ISO week still wins over a week of a month.
        assert_eq!(weekly("11月第4周(第48周)", d), week(2026, 48));
        assert_eq!(weekly("11月第4周 11.23-11.28", d), week(2026, 48));
    }

    #[test]
    fn weekly_subject_names_no_month_and_monthly_no_week() {
        let d = date(2026, 12, 1);
        assert_eq!(weekly("11月月报", d), None);
        assert_eq!(monthly("第48周周报", d), None);
        assert_eq!(monthly("11.23-11.28 周报", d), None);
    }

    // --- period_in_subject: months ------------------------------------------------------

    #[test]
    fn months_in_every_spelling_are_read() {
        let d = date(2026, 12, 1);
        for s in [
            "11月月报",
            "11月份月报",
            "十一月月报",
            "2026年11月月报",
            "2026年11月份",
            "2026-11 月报",
            "2026.11",
            "2026/11 monthly report",
            "Monthly Report November 2026",
            "Nov 2026",
            "nov. monthly report",
            "１１月月报",
        ] {
            assert_eq!(monthly(s, d), month(2026, 11), "{s}");
        }
    }

    #[test]
    fn month_without_a_year_takes_the_nearest_year() {
        assert_eq!(monthly("12月月报", date(2027, 1, 4)), month(2026, 12));
        assert_eq!(monthly("1月月报", date(2027, 2, 1)), month(2027, 1));
        assert_eq!(monthly("1月月报", date(2026, 12, 31)), month(2027, 1));
    }

    #[test]
    fn impossible_or_day_months_are_not_read() {
        let d = date(2026, 12, 1);
        for s in [
            "13月月报",
            "0月月报",
            "Q4 月报",
            "3个月总结 月报",
            "12月1日提交 月报",
            "2026-11-30 月报",
            "may I send the monthly report",
            "电话 0755-12345678 月报",
        ] {
            assert_eq!(monthly(s, d), None, "{s}");
        }
        assert_eq!(monthly("11月月报(12月1日提交)", d), month(2026, 11));
        assert_eq!(monthly("May 2026 monthly report", d), month(2026, 5));
    }

    // --- helpers --------------------------------------------------------------------------

    #[test]
    fn every_pattern_compiles() {
        for p in [
            &YEAR_W,
            &W_YEAR,
            &YEAR_CN_W,
            &CN_W,
            &W,
            &N_W,
            &RANGE,
            &CN_RANGE,
            &COMPACT_RANGE,
            &MMDD_RANGE,
            &EN_RANGE,
            &DAYS_EN_MONTH,
            &YEAR_CN_M,
            &YEAR_M6,
            &YEAR_M,
            &CN_M,
            &EN_M,
        ] {
            assert!(p.is_some());
        }
    }

    #[test]
    fn chinese_numbers_read() {
        assert_eq!(cn_number("四十八"), Some(48));
        assert_eq!(cn_number("十一"), Some(11));
        assert_eq!(cn_number("十"), Some(10));
        assert_eq!(cn_number("二十"), Some(20));
        assert_eq!(cn_number("两"), Some(2));
        assert_eq!(cn_number("十十"), None);
    }

    fn kinds(subject: &str) -> Vec<(String, Option<Kind>)> {
        let hay = fold(subject);
        let mut found: Vec<_> = numbered(&hay)
            .into_iter()
            .map(|n| (hay[n.span].to_string(), n.kind))
            .collect();
        found.sort();
        found
    }

    #[test]
    fn numbered_periods_and_days_are_found_with_their_units() {
        let w = Some(Kind::Weekly);
        let m = Some(Kind::Monthly);
        assert_eq!(kinds("张伟 第48周周报"), [("48周".to_string(), w)]);
        assert_eq!(kinds("11月份工作汇报"), [("11月份".to_string(), m)]);
        assert_eq!(kinds("请假 11月25日"), [("11月".to_string(), None)]);
        assert_eq!(kinds("2025.06 月度工作总结"), [("2025.06".to_string(), m)]);
        assert_eq!(
            kinds("11月23日-27日 小结"),
            [("11月".to_string(), None), ("11月23日-27日".to_string(), w)]
        );
        assert_eq!(kinds("总结 11.01-11.30"), [("11.01-11.30".to_string(), m)]);
        assert_eq!(kinds("11.03-11.20"), [("11.03-11.20".to_string(), None)]);
        assert_eq!(
            kinds("11月第4周"),
            [("11月".to_string(), m), ("11月第4周".to_string(), w)]
        );
        assert_eq!(kinds("5周年庆"), []);
        assert_eq!(kinds("近3周销售"), []);
        assert!(kinds("market update").is_empty());
    }
}
