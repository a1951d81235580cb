//! The single home of how periods, deadlines, times, durations and statuses
//! are said to people, in Chinese or English: "第46周（11月9日–15日）",
//! "10月", "11月14日（周六）22:00", "11月2日（周一）当天", "6天", "刚收到",
//! 准时 / 迟交 / 未交 / 免罚 / 待交. Every email, the CLI tables and the
//! digests say them through here; reportd's own notation (`2026-W46`,
//! `on_time`) stays in keys, `--json` and the ledger's period column.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use crate::config::Language;
use crate::period::{Deadline, Month, Period};
use crate::reports::compliance::Status;

pub mod read;

const ZH_WEEKDAYS: [&str; 7] = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
const EN_WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn weekday(day: Weekday, lang: Language) -> &'static str {
    let i = day.num_days_from_monday() as usize;
    match lang {
        Language::Zh => ZH_WEEKDAYS[i],
        Language::En => EN_WEEKDAYS[i],
    }
}

fn en_month(month: u32) -> &'static str {
    u8::try_from(month.clamp(1, 12))
        .ok()
        .and_then(|m| chrono::Month::try_from(m).ok())
        .map_or("January", |m| m.name())
}

/// `Nov` from `November`.
fn en_month_short(month: u32) -> &'static str {
    let name = en_month(month);
    &name[..3]
}

/// A day with its weekday: `11月14日（周六）`, `Sat 14 Nov`.
pub fn day(d: NaiveDate, lang: Language) -> String {
    match lang {
        Language::Zh => format!(
            "{}月{}日（{}）",
            d.month(),
            d.day(),
            weekday(d.weekday(), lang)
        ),
        Language::En => format!(
            "{} {} {}",
            weekday(d.weekday(), lang),
            d.day(),
            en_month_short(d.month())
        ),
    }
}

/// A period as people name it: `第46周（11月9日–15日）` / `week 46 (9–15 Nov)`
/// for a week, `10月` / `October 2026` for a month.
pub fn period(p: Period, lang: Language) -> String {
    named(p, lang, false)
}

/// [`period`] as said on `today`: with its year when that is another
/// (`2025年第48周（11月24日–30日）`, `2025年10月`, `week 48 of 2025 (24–30
/// Nov)`), so that a list reaching back past New Year, a backlog or a
/// notice in January, never names last year's week as this year's.
pub fn period_on(p: Period, lang: Language, today: NaiveDate) -> String {
    let year = match p {
        Period::Week { year, .. } | Period::Month { year, .. } => year,
    };
    named(p, lang, year != today.year())
}

/// `p` as people name it, with its year when `with_year` (an English month
/// names it always).
fn named(p: Period, lang: Language, with_year: bool) -> String {
    match p {
        Period::Week { year, week } => {
            let (first, last) = (p.first_day(), p.last_day());
            let (zh_year, en_year) = match with_year {
                true => (format!("{year}年"), format!(" of {year}")),
                false => (String::new(), String::new()),
            };
            match lang {
                Language::Zh if first.month() == last.month() => format!(
                    "{zh_year}第{week}周（{}月{}日–{}日）",
                    first.month(),
                    first.day(),
                    last.day()
                ),
                Language::Zh => format!(
                    "{zh_year}第{week}周（{}月{}日–{}月{}日）",
                    first.month(),
                    first.day(),
                    last.month(),
                    last.day()
                ),
                Language::En if first.month() == last.month() => format!(
                    "week {week}{en_year} ({}–{} {})",
                    first.day(),
                    last.day(),
                    en_month_short(last.month())
                ),
                Language::En => format!(
                    "week {week}{en_year} ({} {} – {} {})",
                    first.day(),
                    en_month_short(first.month()),
                    last.day(),
                    en_month_short(last.month())
                ),
            }
        }
        Period::Month { year, month: m } => match lang {
            Language::Zh if with_year => format!("{year}年{m}月"),
            Language::Zh => format!("{m}月"),
            Language::En => format!("{} {year}", en_month(m)),
        },
    }
}

/// [`day`] as said on `today`: with its year when that is another
/// (`2025年11月28日（周五）`, `Fri 28 Nov 2025`).
pub fn day_on(d: NaiveDate, lang: Language, today: NaiveDate) -> String {
    let name = day(d, lang);
    match lang {
        _ if d.year() == today.year() => name,
        Language::Zh => format!("{}年{name}", d.year()),
        Language::En => format!("{name} {}", d.year()),
    }
}

/// A payroll month: `11月` / `November 2026`.
pub fn month(m: Month, lang: Language) -> String {
    period(
        Period::Month {
            year: m.year(),
            month: m.month(),
        },
        lang,
    )
}

/// The report of a period: `第46周（11月9日–15日）周报`, `10月月报`; in
/// English `the week 46 (9–15 Nov) report`, `the October 2026 report`.
pub fn report(p: Period, lang: Language) -> String {
    report_named(p, lang, period(p, lang))
}

/// [`report`] as said on `today`: with its year when that is another
/// (`2026年12月月报` in January 2027).
pub fn report_on(p: Period, lang: Language, today: NaiveDate) -> String {
    report_named(p, lang, period_on(p, lang, today))
}

/// The report of `p`, whose name is `name`.
fn report_named(p: Period, lang: Language, name: String) -> String {
    match (lang, p) {
        (Language::Zh, Period::Week { .. }) => format!("{name}周报"),
        (Language::Zh, Period::Month { .. }) => format!("{name}月报"),
        (Language::En, _) => format!("the {name} report"),
    }
}

/// A deadline: `11月14日（周六）22:00`; one at the end of a day (00:00 of
/// the next) as that day, `11月2日（周一）当天` / `the end of Mon 2 Nov`.
pub fn deadline(d: &Deadline, tz: Tz, lang: Language) -> String {
    deadline_as(d, tz, lang, None)
}

/// [`deadline`] as said on `today`: its day with its year when that is
/// another (see [`day_on`]).
pub fn deadline_on(d: &Deadline, tz: Tz, lang: Language, today: NaiveDate) -> String {
    deadline_as(d, tz, lang, Some(today))
}

fn deadline_as(d: &Deadline, tz: Tz, lang: Language, today: Option<NaiveDate>) -> String {
    let local = d.due.with_timezone(&tz);
    if local.hour() == 0 && local.minute() == 0 {
        let day_name = day_as(d.due_day(tz), lang, today);
        return match lang {
            Language::Zh => format!("{day_name}当天"),
            Language::En => format!("the end of {day_name}"),
        };
    }
    time_as(d.due, tz, lang, today)
}

/// The mark of a deadline judged on a provisional calendar (no holiday
/// notice for `years` yet): `（暂定：2027年放假安排尚未公布）` /
/// ` (provisional: the 2027 public holiday schedule is not out yet)`;
/// `None` when `years` is empty.
pub fn provisional(years: &[i32], lang: Language) -> Option<String> {
    let list: Vec<String> = years.iter().map(i32::to_string).collect();
    let (last, rest) = list.split_last()?;
    Some(match lang {
        Language::Zh => format!("（暂定：{}年放假安排尚未公布）", list.join("、")),
        Language::En if rest.is_empty() => {
            format!(" (provisional: the {last} public holiday schedule is not out yet)")
        }
        Language::En => format!(
            " (provisional: the {} and {last} public holiday schedules are not out yet)",
            rest.join(", ")
        ),
    })
}

/// An instant: `11月23日（周一）09:10` / `Mon 23 Nov, 09:10`.
pub fn time(t: DateTime<Utc>, tz: Tz, lang: Language) -> String {
    time_as(t, tz, lang, None)
}

/// [`time`] as said on `today`: its day with its year when that is another
/// (see [`day_on`]).
pub fn time_on(t: DateTime<Utc>, tz: Tz, lang: Language, today: NaiveDate) -> String {
    time_as(t, tz, lang, Some(today))
}

fn time_as(t: DateTime<Utc>, tz: Tz, lang: Language, today: Option<NaiveDate>) -> String {
    let local = t.with_timezone(&tz);
    let clock = local.format("%H:%M");
    let day_name = day_as(local.date_naive(), lang, today);
    match lang {
        Language::Zh => format!("{day_name}{clock}"),
        Language::En => format!("{day_name}, {clock}"),
    }
}

/// A day, with its year when `today` is given and of another year.
fn day_as(d: NaiveDate, lang: Language, today: Option<NaiveDate>) -> String {
    match today {
        Some(today) => day_on(d, lang, today),
        None => day(d, lang),
    }
}

/// A length of time, rounded down to its largest unit: `6天`, `3小时`,
/// `25分钟`, `不到1分钟` / `6 days`, `1 hour`, `25 min`, `under a minute`.
pub fn duration(d: Duration, lang: Language) -> String {
    let minutes = d.num_minutes().max(0);
    let (n, zh, en_one, en_many) = if minutes < 1 {
        return match lang {
            Language::Zh => "不到1分钟".into(),
            Language::En => "under a minute".into(),
        };
    } else if minutes < 60 {
        (minutes, "分钟", "min", "min")
    } else if minutes < 24 * 60 {
        (minutes / 60, "小时", "hour", "hours")
    } else {
        (minutes / (24 * 60), "天", "day", "days")
    };
    match lang {
        Language::Zh => format!("{n}{zh}"),
        Language::En if n == 1 => format!("1 {en_one}"),
        Language::En => format!("{n} {en_many}"),
    }
}

/// How long something has waited: `刚收到` / `just arrived` under an hour,
/// else [`duration`].
pub fn waited(d: Duration, lang: Language) -> String {
    if d < Duration::hours(1) {
        return match lang {
            Language::Zh => "刚收到".into(),
            Language::En => "just arrived".into(),
        };
    }
    duration(d, lang)
}

/// How long a report has waited, as a phrase of its own: `已等待6天` /
/// `waiting 6 days`, or `刚收到` / `just arrived` under an hour (never
/// "已等待 刚收到").
pub fn waiting(d: Duration, lang: Language) -> String {
    if d < Duration::hours(1) {
        return waited(d, lang);
    }
    match lang {
        Language::Zh => format!("已等待{}", duration(d, lang)),
        Language::En => format!("waiting {}", duration(d, lang)),
    }
}

/// A status in the team's words: 准时 / 迟交 / 未交 / 免罚 / 待交.
pub fn status(s: Status, lang: Language) -> &'static str {
    match (lang, s) {
        (Language::Zh, Status::OnTime) => "准时",
        (Language::Zh, Status::Late) => "迟交",
        (Language::Zh, Status::Missing) => "未交",
        (Language::Zh, Status::Excused) => "免罚",
        (Language::Zh, Status::Pending) => "待交",
        (Language::En, Status::OnTime) => "on time",
        (Language::En, Status::Late) => "late",
        (Language::En, Status::Missing) => "missing",
        (Language::En, Status::Excused) => "excused",
        (Language::En, Status::Pending) => "pending",
    }
}

/// A period's mark in a trend line: ✓ on time, 迟 / L late, ✗ missing,
/// 免 / E excused, and a neutral `·` for a period not due yet (pending) or
/// not tracked (`None`).
pub fn mark(s: Option<Status>, lang: Language) -> &'static str {
    match (lang, s) {
        (_, Some(Status::OnTime)) => "✓",
        (_, Some(Status::Missing)) => "✗",
        (Language::Zh, Some(Status::Late)) => "迟",
        (Language::En, Some(Status::Late)) => "L",
        (Language::Zh, Some(Status::Excused)) => "免",
        (Language::En, Some(Status::Excused)) => "E",
        (_, Some(Status::Pending) | None) => "·",
    }
}

/// What a [`mark`] stands for: the status, or 未跟踪 / not tracked.
pub fn mark_label(s: Option<Status>, lang: Language) -> &'static str {
    match (s, lang) {
        (Some(s), _) => status(s, lang),
        (None, Language::Zh) => "未跟踪",
        (None, Language::En) => "not tracked",
    }
}

/// A trend line for plain text, oldest left: each mark padded to two
/// columns (✓ takes one, 迟 two) and one space apart, so the lines of
/// several people line up in a monospaced font: `✓  迟 ✗  免 ·`.
pub fn trend_line(marks: &[Option<Status>], lang: Language) -> String {
    marks
        .iter()
        .map(|s| {
            let m = mark(*s, lang);
            // The CJK marks are wide; the symbols take one column.
            if m.chars().all(|c| u32::from(c) < 0x2E80) {
                format!("{m} ")
            } else {
                m.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end()
        .to_string()
}

/// The periods a trend line covers, oldest first: `第41–48周` / `weeks
/// 41–48`, `4月–11月` / `Apr–Nov 2026` (years named when they differ).
pub fn span(first: Period, last: Period, lang: Language) -> String {
    match (first, last, lang) {
        (Period::Week { year: a, week: f }, Period::Week { year: b, week: l }, Language::Zh) => {
            if a == b {
                format!("第{f}–{l}周")
            } else {
                format!("{a}年第{f}周–{b}年第{l}周")
            }
        }
        (Period::Week { year: a, week: f }, Period::Week { year: b, week: l }, Language::En) => {
            if a == b {
                format!("weeks {f}–{l}")
            } else {
                format!("week {f} of {a} – week {l} of {b}")
            }
        }
        (
            Period::Month { year: a, month: f },
            Period::Month { year: b, month: l },
            Language::Zh,
        ) => {
            if a == b {
                format!("{f}月–{l}月")
            } else {
                format!("{a}年{f}月–{b}年{l}月")
            }
        }
        (
            Period::Month { year: a, month: f },
            Period::Month { year: b, month: l },
            Language::En,
        ) => {
            if a == b {
                format!("{}–{} {b}", en_month_short(f), en_month_short(l))
            } else {
                format!("{} {a} – {} {b}", en_month_short(f), en_month_short(l))
            }
        }
        // Mixed kinds never make one trend line; name both ends.
        _ => format!("{} – {}", period(first, lang), period(last, lang)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const TZ: Tz = chrono_tz::Asia::Shanghai;

    fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        TZ.with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| panic!("bad test time"))
    }

    fn w(week: u32) -> Period {
        Period::Week { year: 2026, week }
    }

    #[test]
    fn weeks_are_named_by_number_and_their_days() {
        assert_eq!(period(w(46), Language::Zh), "第46周（11月9日–15日）");
        assert_eq!(period(w(46), Language::En), "week 46 (9–15 Nov)");
        assert_eq!(period(w(49), Language::Zh), "第49周（11月30日–12月6日）");
        assert_eq!(period(w(49), Language::En), "week 49 (30 Nov – 6 Dec)");
    }

    #[test]
    fn a_period_or_day_of_another_year_than_today_names_its_year() {
        let today = NaiveDate::from_ymd_opt(2027, 1, 5).expect("date");
        let last_year = Period::Week {
            year: 2025,
            week: 48,
        };
        assert_eq!(
            period_on(last_year, Language::Zh, today),
            "2025年第48周（11月24日–30日）"
        );
        assert_eq!(
            period_on(last_year, Language::En, today),
            "week 48 of 2025 (24–30 Nov)"
        );
        // A week is of the year it is numbered in: week 53 of 2026 ends in
        // 2027 and is still last year's.
        let straddling = Period::Week {
            year: 2026,
            week: 53,
        };
        assert_eq!(
            period_on(straddling, Language::Zh, today),
            "2026年第53周（12月28日–1月3日）"
        );
        let october = Period::Month {
            year: 2026,
            month: 10,
        };
        assert_eq!(period_on(october, Language::Zh, today), "2026年10月");
        assert_eq!(period_on(october, Language::En, today), "October 2026");
        let day28 = NaiveDate::from_ymd_opt(2026, 11, 28).expect("date");
        assert_eq!(day_on(day28, Language::Zh, today), "2026年11月28日（周六）");
        assert_eq!(report_on(october, Language::Zh, today), "2026年10月月报");
        let w48 = Deadline {
            period: w(48),
            due: local(2026, 11, 28, 22, 0),
            provisional: false,
        };
        assert_eq!(
            deadline_on(&w48, TZ, Language::Zh, today),
            "2026年11月28日（周六）22:00"
        );
        assert_eq!(
            time_on(w48.due, TZ, Language::En, today),
            "Sat 28 Nov 2026, 22:00"
        );
        assert_eq!(day_on(day28, Language::En, today), "Sat 28 Nov 2026");
        // This year's are said as ever.
        let in_2026 = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        assert_eq!(
            period_on(w(46), Language::Zh, in_2026),
            period(w(46), Language::Zh)
        );
        assert_eq!(day_on(day28, Language::En, in_2026), "Sat 28 Nov");
    }

    #[test]
    fn months_and_reports_are_named_as_people_say_them() {
        let october = Period::Month {
            year: 2026,
            month: 10,
        };
        assert_eq!(report(october, Language::Zh), "10月月报");
        assert_eq!(report(october, Language::En), "the October 2026 report");
        assert_eq!(report(w(46), Language::Zh), "第46周（11月9日–15日）周报");
    }

    #[test]
    fn a_deadline_at_midnight_is_the_end_of_the_day_before() {
        let monthly = Deadline {
            period: Period::Month {
                year: 2026,
                month: 10,
            },
            due: local(2026, 11, 3, 0, 0),
            provisional: false,
        };
        assert_eq!(deadline(&monthly, TZ, Language::Zh), "11月2日（周一）当天");
        assert_eq!(deadline(&monthly, TZ, Language::En), "the end of Mon 2 Nov");
        let weekly = Deadline {
            period: w(46),
            due: local(2026, 11, 14, 22, 0),
            provisional: false,
        };
        assert_eq!(deadline(&weekly, TZ, Language::Zh), "11月14日（周六）22:00");
        assert_eq!(deadline(&weekly, TZ, Language::En), "Sat 14 Nov, 22:00");
    }

    #[test]
    fn a_provisional_deadline_names_the_year_whose_notice_is_missing() {
        assert_eq!(
            provisional(&[2027], Language::Zh).as_deref(),
            Some("（暂定：2027年放假安排尚未公布）")
        );
        assert_eq!(
            provisional(&[2027], Language::En).as_deref(),
            Some(" (provisional: the 2027 public holiday schedule is not out yet)")
        );
        assert_eq!(
            provisional(&[2026, 2027], Language::Zh).as_deref(),
            Some("（暂定：2026、2027年放假安排尚未公布）")
        );
        assert!(
            provisional(&[2026, 2027], Language::En)
                .is_some_and(|s| s.contains("the 2026 and 2027 public holiday schedules"))
        );
        assert_eq!(provisional(&[], Language::Zh), None);
    }

    #[test]
    fn durations_are_said_in_their_largest_unit() {
        assert_eq!(duration(Duration::hours(706), Language::Zh), "29天");
        assert_eq!(duration(Duration::hours(154), Language::En), "6 days");
        assert_eq!(duration(Duration::minutes(190), Language::Zh), "3小时");
        assert_eq!(duration(Duration::minutes(61), Language::En), "1 hour");
        assert_eq!(duration(Duration::minutes(1), Language::Zh), "1分钟");
        assert_eq!(waited(Duration::minutes(59), Language::Zh), "刚收到");
        assert_eq!(waited(Duration::hours(3), Language::Zh), "3小时");
    }

    #[test]
    fn how_long_a_report_waited_is_a_phrase_of_its_own() {
        assert_eq!(waiting(Duration::minutes(59), Language::Zh), "刚收到");
        assert_eq!(waiting(Duration::hours(3), Language::Zh), "已等待3小时");
        assert_eq!(waiting(Duration::days(6), Language::En), "waiting 6 days");
        assert_eq!(waiting(Duration::minutes(5), Language::En), "just arrived");
    }

    #[test]
    fn statuses_speak_the_team_language() {
        let zh: Vec<&str> = [
            Status::OnTime,
            Status::Late,
            Status::Missing,
            Status::Excused,
            Status::Pending,
        ]
        .into_iter()
        .map(|s| status(s, Language::Zh))
        .collect();
        assert_eq!(zh, ["准时", "迟交", "未交", "免罚", "待交"]);
    }
    #[test]
    fn trend_marks_line_up_whatever_their_width() {
        let line = [
            None,
            Some(Status::OnTime),
            Some(Status::Late),
            Some(Status::Missing),
            Some(Status::Excused),
            Some(Status::Pending),
        ];
        assert_eq!(trend_line(&line, Language::Zh), "·  ✓  迟 ✗  免 ·");
        assert_eq!(trend_line(&line, Language::En), "·  ✓  L  ✗  E  ·");
        assert_eq!(mark_label(None, Language::Zh), "未跟踪");
        assert_eq!(mark_label(Some(Status::Late), Language::En), "late");
    }

    #[test]
    fn a_span_names_its_first_and_last_period() {
        assert_eq!(span(w(41), w(48), Language::Zh), "第41–48周");
        assert_eq!(span(w(41), w(48), Language::En), "weeks 41–48");
        let m = |year, month| Period::Month { year, month };
        assert_eq!(span(m(2026, 4), m(2026, 11), Language::Zh), "4月–11月");
        assert_eq!(span(m(2026, 4), m(2026, 11), Language::En), "Apr–Nov 2026");
        assert_eq!(
            span(m(2026, 6), m(2027, 1), Language::Zh),
            "2026年6月–2027年1月"
        );
    }
}
