//! One decoded message to one class: a report, a reply to a report, or
//! ignored with the reason. The single home of the keyword lists, the reply
//! prefixes and reading a period out of a subject.
//!
//! Matching is done on a folded subject: fullwidth ASCII (`Ｗ４８`, `：`,
//! `～`) becomes ASCII, dashes become `-`, and keywords are compared
//! case-insensitively with spaces, `-`, `_` and `.` ignored (so `Weekly
//! Report`, `weekly-report` and `WEEKLYREPORT` all match `weekly report`).

use std::sync::LazyLock;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use regex::{Captures, Regex};

use crate::config::{Keywords, Role, Roster};
use crate::mail::parse::Envelope;
use crate::period::{Kind, Period};

/// What a message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// A weekly or monthly report from someone who must report.
    Report {
        /// Lower-cased email of the sender.
        person: String,
        kind: Kind,
        /// The period named in the subject, if any.
        named_period: Option<Period>,
        /// Whether To or Cc holds the sender's direct supervisor; a report
        /// without it does not count (misaddressed).
        to_supervisor: bool,
    },
    /// A message from a report's sender's supervisor or a manager whose
    /// In-Reply-To/References name a known report.
    Reply {
        replier: String,
        /// Message-ID of the report it answers.
        report_message_id: String,
    },
    Ignored {
        reason: String,
    },
}

/// The reason given for a reply or forward sent by a reporter.
pub const REASON_REPLY_OR_FORWARD: &str = "reply or forward, not a report";
/// The reason given when the subject has no weekly or monthly keyword.
pub const REASON_NO_KEYWORD: &str = "no report keyword in subject";

fn ignored(reason: impl Into<String>) -> Class {
    Class::Ignored {
        reason: reason.into(),
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Rep => "rep",
        Role::Clerk => "clerk",
        Role::Supervisor => "supervisor",
        Role::Manager => "manager",
        Role::Assistant => "assistant",
    }
}

/// Classifies one message.
///
/// `arrival_date` is the local date of arrival, used to complete a period
/// named without its year. `known_report` says whether a Message-ID is that
/// of a stored report; `known_message` whether it is any stored message (an
/// In-Reply-To to a known message marks a reply).
///
/// In order:
/// 1. a sender not in the roster is ignored (`unknown sender x@y`);
/// 2. a supervisor or manager whose In-Reply-To or References name a known
///    report sends a `Reply` to the nearest such report (In-Reply-To first,
///    then References from the newest); a forward (`Fw:`, `转发:`, ...) is
///    not a reply, even when it carries the report's References;
/// 3. anyone else who is not a rep or clerk is ignored;
/// 4. a reporter's reply or forward (a configured prefix, a forward prefix
///    such as `Fw:`/`转发:`/`轉寄:`, or In-Reply-To naming a known message)
///    is ignored, as is a subject without a keyword;
/// 5. otherwise it is a `Report` of the kind its keyword names.
pub fn classify(
    env: &Envelope,
    arrival_date: NaiveDate,
    roster: &Roster,
    keywords: &Keywords,
    known_report: &dyn Fn(&str) -> bool,
    known_message: &dyn Fn(&str) -> bool,
) -> Class {
    let Some(from) = env.from.as_ref() else {
        return ignored("no sender address");
    };
    let Some(person) = roster.by_email(&from.email) else {
        return ignored(format!("unknown sender {}", from.email));
    };
    let email = person.email.to_lowercase();
    let role = role_name(person.role);

    if matches!(person.role, Role::Supervisor | Role::Manager) {
        let answered = env
            .in_reply_to
            .iter()
            .chain(env.references.iter().rev())
            .find(|id| known_report(id.as_str()));
        return match answered {
            Some(_) if is_forward(&env.subject) => ignored(format!(
                "{role} {email} forwarded a report; a forward is not a reply"
            )),
            Some(id) => Class::Reply {
                replier: email,
                report_message_id: id.clone(),
            },
            None => ignored(format!(
                "{role} {email} sends no reports and this answers no known report"
            )),
        };
    }
    if !person.role.must_report() {
        return ignored(format!("{role} {email} sends no reports"));
    }
    if has_reply_prefix(&env.subject, keywords)
        || is_forward(&env.subject)
        || env.in_reply_to.iter().any(|id| known_message(id))
    {
        return ignored(REASON_REPLY_OR_FORWARD);
    }
    let Some(kind) = report_kind(&env.subject, keywords) else {
        return ignored(REASON_NO_KEYWORD);
    };
    let to_supervisor = roster.supervisor_of(person).is_some_and(|sup| {
        env.to
            .iter()
            .chain(env.cc.iter())
            .any(|m| m.email.eq_ignore_ascii_case(&sup.email))
    });
    Class::Report {
        person: email,
        kind,
        named_period: period_in_subject(&env.subject, kind, arrival_date),
        to_supervisor,
    }
}

// ---------------------------------------------------------------------------
// Folding.

/// Traditional characters of report keywords and reply prefixes, with
/// their simplified forms: a Big5 client writes `週報`, `月報`, `回覆:`,
/// `轉寄:`.
const TRADITIONAL: &[(char, char)] = &[
    ('週', '周'),
    ('報', '报'),
    ('總', '总'),
    ('結', '结'),
    ('匯', '汇'),
    ('彙', '汇'),
    ('轉', '转'),
    ('發', '发'),
    ('覆', '复'),
    ('復', '复'),
    ('號', '号'),
];

/// Fullwidth ASCII to ASCII, ideographic space to space, dashes to `-`,
/// wave dashes to `~`, the traditional characters of keywords to
/// simplified ones, then lower case.
pub fn fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' => '-',
            '\u{301C}' | '\u{223C}' => '~',
            _ => TRADITIONAL
                .iter()
                .find(|(t, _)| *t == c)
                .map(|&(_, s)| s)
                .unwrap_or(c),
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// The form keywords are compared in: folded, without spaces, `-`, `_`, `.`.
fn keyword_form(s: &str) -> String {
    fold(s)
        .chars()
        .filter(|c| !c.is_whitespace() && !"-_.·".contains(*c))
        .collect()
}

// ---------------------------------------------------------------------------
// Reply and forward prefixes.

/// Forward markers (folded), whatever the configured reply prefixes say: a
/// forward is never a report, and a supervisor's forward is not a reply.
const FORWARD_PREFIXES: &[&str] = &["fw", "fwd", "转发", "转寄", "wg"];

/// The first prefix of a subject (`Re`, `回复`, `Fwd`), folded and lower
/// case, after any leading bracketed tags (`[外部]`, `【External】`).
fn first_prefix(subject: &str) -> Option<String> {
    let folded = fold(subject);
    let mut rest = folded.trim_start();
    // Leading tags, e.g. `[外部] Re: ...`.
    for _ in 0..4 {
        let close = match rest.chars().next() {
            Some('[') => ']',
            Some('【') => '】',
            Some('〔') => '〕',
            _ => break,
        };
        match rest.find(close) {
            Some(end) if rest[..end].chars().count() <= 40 => {
                rest = rest[end + close.len_utf8()..].trim_start()
            }
            _ => break,
        }
    }
    let colon = rest.find(':')?;
    let head = rest[..colon].trim_end();
    // A counter after the prefix: `Re[2]:`, `RE(3):`, `Re^2:`.
    let head = head
        .trim_end_matches(|c: char| c.is_ascii_digit() || "[]()^ ".contains(c))
        .trim_end();
    (!head.is_empty() && head.chars().count() <= 8).then(|| head.to_string())
}

/// A configured prefix as compared: folded, without a trailing colon.
fn prefix_form(p: &str) -> String {
    fold(p).trim().trim_end_matches(':').trim_end().to_string()
}

/// Whether the subject starts with a reply or forward prefix (Re:, 回复:, ...).
///
/// Prefixes come from `keywords.reply_prefixes` (with or without their
/// colon), compared case-insensitively; the colon may be fullwidth (`：`),
/// there may be leading tags (`[外部] Re:`), a counter (`Re[2]:`) and
/// spaces before the colon (`RE :`).
pub fn has_reply_prefix(subject: &str, keywords: &Keywords) -> bool {
    let Some(first) = first_prefix(subject) else {
        return false;
    };
    keywords.reply_prefixes.iter().any(|p| {
        let p = prefix_form(p);
        !p.is_empty() && p == first
    })
}

/// Whether the subject starts with a forward prefix (Fw:, Fwd:, 转发:, ...).
pub fn is_forward(subject: &str) -> bool {
    first_prefix(subject).is_some_and(|p| FORWARD_PREFIXES.contains(&p.as_str()))
}

// ---------------------------------------------------------------------------
// Keywords.

/// The earliest, then longest, occurrence of any keyword: (start, length).
fn find_keyword(haystack: &str, words: &[String]) -> Option<(usize, usize)> {
    words
        .iter()
        .map(|w| keyword_form(w))
        .filter(|w| !w.is_empty())
        .filter_map(|w| haystack.find(&w).map(|at| (at, w.len())))
        .min_by_key(|&(at, len)| (at, std::cmp::Reverse(len)))
}

/// `Some(kind)` when the subject carries a weekly or monthly keyword.
///
/// When it carries both, the more specific wins: the kind whose period the
/// subject names (`第48周` or a date range for weekly, `11月` or `2026-11`
/// for monthly) if only one is named, else the longer keyword, else the
/// keyword that comes first.
pub fn report_kind(subject: &str, keywords: &Keywords) -> Option<Kind> {
    let hay = keyword_form(subject);
    let weekly = find_keyword(&hay, &keywords.weekly);
    let monthly = find_keyword(&hay, &keywords.monthly);
    match (weekly, monthly) {
        (None, None) => None,
        (Some(_), None) => Some(Kind::Weekly),
        (None, Some(_)) => Some(Kind::Monthly),
        (Some(w), Some(m)) => {
            let folded = fold(subject);
            let names_week = !week_refs(&folded).is_empty();
            let names_month = !month_refs(&folded).is_empty();
            Some(match (names_week, names_month) {
                (true, false) => Kind::Weekly,
                (false, true) => Kind::Monthly,
                _ if w.1 != m.1 => {
                    if w.1 > m.1 {
                        Kind::Weekly
                    } else {
                        Kind::Monthly
                    }
                }
                _ if w.0 <= m.0 => Kind::Weekly,
                _ => Kind::Monthly,
            })
        }
    }
}

// ---------------------------------------------------------------------------
// Periods.

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
// `第48周`, `第四十八周`; group 1 marks a week of a month (`11月第4周`).
static CN_W: Pattern = LazyLock::new(|| compile(&format!(r"(月\s*(?:份\s*)?)?第\s*({NUM})\s*周")));
// `W48`, `w48`, `WK48`, `Week 48`.
static W: Pattern =
    LazyLock::new(|| compile(r"(?:^|[^a-z0-9])(?:week|wk|w)\s*[-_.#]?\s*([0-9]{1,2})(?:[^0-9]|$)"));
// `11.23-11.28`, `11.23~11.29`, `11/23-29`, `2026.11.23-2026.11.29`,
// `2026-11-23 至 2026-11-29`.
static RANGE: Pattern = LazyLock::new(|| {
    compile(concat!(
        r"(?:^|[^0-9.])(?:([0-9]{4})\s*[./-]\s*)?([0-9]{1,2})\s*[./-]\s*([0-9]{1,2})",
        r"\s*(?:-|~|至|到)\s*",
        r"(?:(?:([0-9]{4})\s*[./-]\s*)?([0-9]{1,2})\s*[./-]\s*)?([0-9]{1,2})(?:[^0-9.]|$)",
    ))
});
// `11月23日-11月29日`, `11月23日至29日`, `2026年11月23日-2026年11月29日`.
static CN_RANGE: Pattern = LazyLock::new(|| {
    compile(concat!(
        r"(?:^|[^0-9])(?:([0-9]{4})\s*年\s*)?([0-9]{1,2})\s*月\s*([0-9]{1,2})\s*[日号]?",
        r"\s*(?:-|~|至|到)\s*",
        r"(?:([0-9]{4})\s*年\s*)?(?:([0-9]{1,2})\s*月\s*)?([0-9]{1,2})\s*[日号]?(?:[^0-9]|$)",
    ))
});
// `2026年11月`, `2026年十一月`.
static YEAR_CN_M: Pattern =
    LazyLock::new(|| compile(&format!(r"(?:^|[^0-9])([0-9]{{4}})\s*年\s*({NUM})\s*月")));
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

/// Weeks named in a (folded) subject, most explicit first.
fn week_refs(hay: &str) -> Vec<WeekRef> {
    let iso = |year: Option<i32>, week: Option<u32>| {
        week.filter(|w| (1..=53).contains(w))
            .map(|week| WeekRef::Iso { year, week })
    };
    let patterns = [&YEAR_W, &YEAR_CN_W, &W_YEAR, &CN_W, &W, &CN_RANGE, &RANGE];
    let mut out = Vec::new();
    for (k, c) in matches_in_order(&patterns, hay) {
        let found = match k {
            0 | 1 => iso(year(&c, 1), num(&c, 2)),
            2 => iso(year(&c, 2), num(&c, 1)),
            // `11月第4周` counts weeks of a month, which teams number
            // differently: not an ISO week.
            3 if c.get(1).is_some() => None,
            3 => iso(None, num(&c, 2)),
            4 => iso(None, num(&c, 1)),
            _ => match (num(&c, 2), num(&c, 3), num(&c, 6)) {
                (Some(sm), Some(sd), Some(ed)) => Some(WeekRef::Range {
                    start: (year(&c, 1), sm, sd),
                    end: (year(&c, 4), num(&c, 5), ed),
                }),
                _ => None,
            },
        };
        out.extend(found);
    }
    out
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

/// Months named in a (folded) subject, most explicit first.
fn month_refs(hay: &str) -> Vec<MonthRef> {
    let month = |year: Option<i32>, m: Option<u32>| {
        m.filter(|m| (1..=12).contains(m))
            .map(|month| MonthRef { year, month })
    };
    let patterns = [&YEAR_CN_M, &YEAR_M, &CN_M, &EN_M];
    let mut out = Vec::new();
    for (k, c) in matches_in_order(&patterns, hay) {
        let found = match k {
            0 | 1 => {
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
            2 => {
                let end = c.get(0).map(|m| m.end()).unwrap_or_default();
                if continues_as_date(hay, end) {
                    None
                } else {
                    month(None, num(&c, 1))
                }
            }
            _ => {
                let (Some(abbr), Some(tail)) = (c.get(1), c.get(2)) else {
                    continue;
                };
                let word = format!("{}{}", abbr.as_str(), tail.as_str());
                let Some(i) = FULL_MONTHS
                    .iter()
                    .position(|f| f.starts_with(abbr.as_str()))
                else {
                    continue;
                };
                let named = FULL_MONTHS[i] == word || tail.as_str().is_empty() || word == "sept";
                let y = year(&c, 3);
                // `may` and `mar(ch)` are also English words: only with a year.
                if named && (y.is_some() || !matches!(abbr.as_str(), "may" | "mar")) {
                    month(y, Some(i as u32 + 1))
                } else {
                    None
                }
            }
        };
        out.extend(found);
    }
    out
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
/// `Week 48`), a date range (`11.23-11.28`, `11/23~29`,
/// `2026.11.23-2026.11.29`, `11月23日-11月29日`), which names the ISO week
/// holding most of its days (ties: the earlier week; a Monday-to-Saturday
/// range is its start's week). `11月第4周` counts weeks of a month and is
/// not read.
///
/// Monthly: `2026年11月`, `2026-11` / `2026.11` / `2026/11`, `11月`,
/// `11月份`, `十一月`, `November 2026`, `Nov`. A day (`11月23日`,
/// `2026-11-23`) is not a month.
///
/// Only a period of `kind` is returned. Week numbers above 53 (or above the
/// year's last week), months above 12, digits that run on (`138-1234-5678`)
/// and other designators (`Q4`) give nothing.
pub fn period_in_subject(subject: &str, kind: Kind, arrival_date: NaiveDate) -> Option<Period> {
    let hay = fold(subject);
    match kind {
        Kind::Weekly => week_refs(&hay)
            .into_iter()
            .find_map(|r| resolve_week(r, arrival_date)),
        Kind::Monthly => month_refs(&hay)
            .into_iter()
            .find_map(|r| resolve_month(r, arrival_date)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Person;
    use crate::mail::parse::Mailbox;

    const ZHANG: &str = "zhangwei@example.com";
    const LINA: &str = "lina@example.com";
    const WANG: &str = "wangfang@example.com";
    const ZHAO: &str = "zhaomin@example.com";
    const CHEN: &str = "chengang@example.com";

    fn person(name: &str, email: &str, role: Role, supervisor: Option<&str>) -> Person {
        Person {
            name: name.into(),
            email: email.into(),
            role,
            group: Some("商务一组".into()),
            supervisor: supervisor.map(String::from),
            since: None,
            until: None,
            language: None,
        }
    }

    fn roster() -> Roster {
        Roster {
            people: vec![
                person("王芳", WANG, Role::Supervisor, None),
                person("张伟", ZHANG, Role::Rep, Some(WANG)),
                person("李娜", LINA, Role::Rep, Some(WANG)),
                person("赵敏", ZHAO, Role::Assistant, None),
                person("陈刚", CHEN, Role::Manager, None),
            ],
        }
    }

    /// The lists a team would configure (written out here so these tests do
    /// not depend on `Keywords::default()`).
    fn keywords() -> Keywords {
        let owned = |w: &[&str]| w.iter().map(|s| s.to_string()).collect();
        Keywords {
            weekly: owned(&["周报", "周总结", "工作周报", "weekly report", "week report"]),
            monthly: owned(&[
                "月报",
                "月度总结",
                "月度报告",
                "monthly report",
                "month report",
            ]),
            reply_prefixes: owned(&[
                "re:",
                "回复:",
                "回复：",
                "答复:",
                "fw:",
                "fwd:",
                "转发:",
                "aw:",
                "wg:",
            ]),
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    fn envelope(from: &str, to: &[&str], cc: &[&str], subject: &str) -> Envelope {
        let boxes = |l: &[&str]| {
            l.iter()
                .map(|e| Mailbox {
                    name: None,
                    email: e.to_string(),
                })
                .collect()
        };
        Envelope {
            message_id: Some("m@x".into()),
            from: Some(Mailbox {
                name: None,
                email: from.into(),
            }),
            to: boxes(to),
            cc: boxes(cc),
            subject: subject.into(),
            ..Envelope::default()
        }
    }

    fn run(env: &Envelope) -> Class {
        classify(
            env,
            date(2026, 11, 28),
            &roster(),
            &keywords(),
            &|id| id.starts_with("report"),
            &|id| id.starts_with("report") || id.starts_with("known"),
        )
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

    fn monthly(subject: &str, arrival: NaiveDate) -> Option<Period> {
        period_in_subject(subject, Kind::Monthly, arrival)
    }

    // --- classify ---------------------------------------------------------------

    #[test]
    fn weekly_report_to_supervisor_is_a_report() {
        let env = envelope("ZhangWei@Example.com", &[WANG], &[ZHAO], "张伟 第48周周报");
        assert_eq!(
            run(&env),
            Class::Report {
                person: ZHANG.into(),
                kind: Kind::Weekly,
                named_period: week(2026, 48),
                to_supervisor: true
            }
        );
    }

    #[test]
    fn supervisor_in_cc_counts_as_addressed() {
        let env = envelope(LINA, &[ZHAO], &["WangFang@example.com"], "李娜 11月月报");
        assert_eq!(
            run(&env),
            Class::Report {
                person: LINA.into(),
                kind: Kind::Monthly,
                named_period: month(2026, 11),
                to_supervisor: true
            }
        );
    }

    #[test]
    fn report_not_sent_to_the_supervisor_is_misaddressed() {
        let env = envelope(ZHANG, &[ZHAO], &[CHEN], "周报");
        assert_eq!(
            run(&env),
            Class::Report {
                person: ZHANG.into(),
                kind: Kind::Weekly,
                named_period: None,
                to_supervisor: false
            }
        );
    }

    #[test]
    fn unknown_sender_is_ignored() {
        let env = envelope("someone@else.com", &[WANG], &[], "第48周周报");
        assert_eq!(run(&env), ignored("unknown sender someone@else.com"));
        let mut env = env;
        env.from = None;
        assert_eq!(run(&env), ignored("no sender address"));
    }

    #[test]
    fn re_prefixed_weekly_report_is_not_a_report() {
        for subject in [
            "Re: 张伟 第48周周报",
            "RE：第48周周报",
            "回复：第48周周报",
            "回复: 回复: 周报",
            "[外部] Re: 周报",
            "【外部邮件】回复:周报",
            "Re[2]: 周报",
            "RE : 周报",
            "Ｒｅ：周报",
        ] {
            assert_eq!(
                run(&envelope(ZHANG, &[WANG], &[], subject)),
                ignored(REASON_REPLY_OR_FORWARD),
                "{subject}"
            );
        }
    }

    #[test]
    fn forwarded_report_from_a_reporter_is_not_a_report() {
        for subject in [
            "Fw: 第48周周报",
            "FWD: weekly report",
            "转发: 李娜 11月月报",
            "WG: Weekly Report",
        ] {
            assert_eq!(
                run(&envelope(ZHANG, &[WANG], &[], subject)),
                ignored(REASON_REPLY_OR_FORWARD),
                "{subject}"
            );
        }
    }

    #[test]
    fn in_reply_to_a_known_message_is_not_a_report() {
        let mut env = envelope(ZHANG, &[WANG], &[], "第48周周报");
        env.in_reply_to = vec!["known-reminder@reportd".into()];
        assert_eq!(run(&env), ignored(REASON_REPLY_OR_FORWARD));
        // In-Reply-To to a message we never saw does not make it a reply.
        env.in_reply_to = vec!["unseen@elsewhere".into()];
        assert!(matches!(run(&env), Class::Report { .. }));
    }

    #[test]
    fn subject_without_a_keyword_is_ignored() {
        assert_eq!(
            run(&envelope(ZHANG, &[WANG], &[], "客户拜访记录 11.23")),
            ignored(REASON_NO_KEYWORD)
        );
        assert_eq!(
            run(&envelope(ZHANG, &[WANG], &[], "")),
            ignored(REASON_NO_KEYWORD)
        );
    }

    #[test]
    fn supervisor_reply_to_a_known_report_is_a_reply() {
        let mut env = envelope(WANG, &[ZHANG], &[ZHAO], "回复: 张伟 第48周周报");
        env.in_reply_to = vec!["report-w48@zhang".into()];
        env.references = vec!["report-w48@zhang".into()];
        assert_eq!(
            run(&env),
            Class::Reply {
                replier: WANG.into(),
                report_message_id: "report-w48@zhang".into()
            }
        );
    }

    #[test]
    fn manager_reply_found_through_references_names_the_nearest_report() {
        let mut env = envelope(CHEN, &[ZHANG], &[], "Re: 周报");
        env.in_reply_to = vec!["reply-by-wang@x".into()];
        env.references = vec![
            "report-w47@zhang".into(),
            "report-w48@zhang".into(),
            "reply-by-wang@x".into(),
        ];
        assert_eq!(
            run(&env),
            Class::Reply {
                replier: CHEN.into(),
                report_message_id: "report-w48@zhang".into()
            }
        );
    }

    #[test]
    fn supervisor_forwarding_a_report_is_not_a_reply() {
        let mut env = envelope(WANG, &[CHEN], &[], "转发: 张伟 第48周周报");
        env.references = vec!["report-w48@zhang".into()];
        assert!(matches!(run(&env), Class::Ignored { reason } if reason.contains("forward")));
    }

    #[test]
    fn supervisor_mail_that_answers_no_report_is_ignored() {
        let env = envelope(WANG, &[ZHANG], &[], "第48周周报");
        assert!(
            matches!(run(&env), Class::Ignored { reason } if reason.contains("supervisor wangfang@example.com"))
        );
    }

    #[test]
    fn assistant_sends_no_reports() {
        let mut env = envelope(ZHAO, &[WANG], &[], "张伟 第48周周报");
        env.in_reply_to = vec!["report-w48@zhang".into()];
        assert_eq!(
            run(&env),
            ignored("assistant zhaomin@example.com sends no reports")
        );
    }

    #[test]
    fn traditional_chinese_subjects_are_read_like_simplified() {
        assert_eq!(
            run(&envelope(
                ZHANG,
                &[WANG],
                &[],
                "張偉 第49週週報 (11/30-12/05)"
            )),
            Class::Report {
                person: ZHANG.into(),
                kind: Kind::Weekly,
                named_period: week(2026, 49),
                to_supervisor: true
            }
        );
        assert_eq!(report_kind("十一月月報", &keywords()), Some(Kind::Monthly));
        assert_eq!(
            run(&envelope(ZHANG, &[WANG], &[], "回覆: 第49週週報")),
            ignored(REASON_REPLY_OR_FORWARD)
        );
        assert_eq!(
            run(&envelope(ZHANG, &[WANG], &[], "轉寄: 第49週週報")),
            ignored(REASON_REPLY_OR_FORWARD)
        );
    }

    // --- has_reply_prefix -----------------------------------------------------------

    #[test]
    fn reply_prefixes_match_only_at_the_start() {
        let k = keywords();
        assert!(has_reply_prefix("re:周报", &k));
        assert!(has_reply_prefix("  AW: Wochenbericht", &k));
        assert!(!has_reply_prefix("周报 re: 客户", &k));
        assert!(!has_reply_prefix("Report: weekly", &k));
        assert!(!has_reply_prefix("Regional weekly report", &k));
        assert!(!has_reply_prefix("[周报] 张伟 W48", &k));
        assert!(!has_reply_prefix("张伟：第48周周报", &k));
        assert!(!has_reply_prefix("", &k));
    }

    #[test]
    fn reply_prefixes_are_configurable_with_or_without_colon() {
        let k = Keywords {
            reply_prefixes: vec!["SV".into(), "答复：".into()],
            ..keywords()
        };
        assert!(has_reply_prefix("Sv: rapport", &k));
        assert!(has_reply_prefix("答复: 周报", &k));
        assert!(!has_reply_prefix("Re: 周报", &k));
    }

    // --- report_kind --------------------------------------------------------------------

    #[test]
    fn keywords_match_case_and_separator_insensitively() {
        let k = keywords();
        for s in [
            "Weekly Report W48",
            "weekly-report",
            "WEEKLY_REPORT",
            "zhang wei weeklyreport",
            "本周工作周报",
            "周 报",
        ] {
            assert_eq!(report_kind(s, &k), Some(Kind::Weekly), "{s}");
        }
        for s in [
            "Monthly Report - Nov",
            "11月月报",
            "11月份月报",
            "十一月月度总结",
            "monthly-report 2026-11",
        ] {
            assert_eq!(report_kind(s, &k), Some(Kind::Monthly), "{s}");
        }
        assert_eq!(report_kind("客户名单", &k), None);
        assert_eq!(report_kind("weekly", &k), None);
    }

    #[test]
    fn subject_with_both_keywords_goes_to_the_kind_it_names_a_period_of() {
        let k = keywords();
        assert_eq!(report_kind("11月月报（含周报）", &k), Some(Kind::Monthly));
        assert_eq!(report_kind("月报格式的第48周周报", &k), Some(Kind::Weekly));
        // Both or neither named: the first keyword.
        assert_eq!(report_kind("周报及月报", &k), Some(Kind::Weekly));
        assert_eq!(report_kind("11月月报暨第48周周报", &k), Some(Kind::Monthly));
        // A longer keyword is more specific.
        let k2 = Keywords {
            monthly: vec!["月度周报汇总".into()],
            ..keywords()
        };
        assert_eq!(report_kind("月度周报汇总", &k2), Some(Kind::Monthly));
    }

    // --- period_in_subject: weeks -------------------------------------------------------

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
            &YEAR_W, &W_YEAR, &YEAR_CN_W, &CN_W, &W, &RANGE, &CN_RANGE, &YEAR_CN_M, &YEAR_M, &CN_M,
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
}
