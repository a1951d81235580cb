//! `reportd calendar --month 2026-01`: a month grid of working days, public
//! holidays and make-up working days, and the report deadlines that fall in
//! the month. Plain text; CJK names only ever end a line, so columns stay
//! aligned whatever their display width.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::calendar::{Calendar, DayKind, YearBasis, month_end, official};
use crate::period::{Deadline, DueRules, Kind, Period, deadline};

/// Width of one day cell, including the space before it.
const CELL: usize = 5;
/// Width of the ISO-week column (`2026-W01`).
const WEEK_COL: usize = 8;

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Renders `year`-`month` as a grid (Mon..Sun columns, ISO week per row),
/// a legend, the named holidays and make-up days, and the deadlines whose
/// day falls in the month.
pub fn render_month(
    year: i32,
    month: u32,
    calendar: &Calendar,
    rules: &DueRules,
    tz: Tz,
) -> String {
    let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else {
        return format!(
            "no such month: {year}-{month:02}; write the month like 2026-01 (month 01 to 12)\n"
        );
    };
    let last = month_end(year, month);
    let month_name = MONTH_NAMES
        .get(first.month0() as usize)
        .copied()
        .unwrap_or("?");

    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(
        out,
        "{month_name} {year} ({year}-{month:02}), times in {tz}"
    );
    render_basis(&mut out, year, calendar);
    out.push('\n');

    render_grid(&mut out, first, last, calendar);
    let _ = writeln!(
        out,
        "Legend: 5 working day  (1) public holiday  [10] weekend day off  \
         4* make-up working day (调休上班)"
    );

    render_named_days(&mut out, first, last, calendar);
    render_deadlines(&mut out, first, last, calendar, rules, tz);
    out
}

/// Where the month's days off come from: the notice, a local file, or the
/// provisional statutory holidays; then the local files that override it.
fn render_basis(out: &mut String, year: i32, calendar: &Calendar) {
    match calendar.basis(year) {
        YearBasis::Published => {
            let _ = writeln!(
                out,
                "Calendar: the State Council's {year} holiday notice (built in, from tyme4rs)"
            );
        }
        YearBasis::OfficialFile(file) => {
            let _ = writeln!(
                out,
                "Calendar: the {year} holiday notice from {}",
                file.display()
            );
        }
        YearBasis::Statutory => {
            let _ = writeln!(
                out,
                "PROVISIONAL: no holiday notice for {year} yet: the statutory holidays are \
                 computed from the lunar calendar, with no bridging days or make-up working \
                 days, so the deadlines below may still move. When the notice is out, run \
                 `cargo update -p tyme4rs` and rebuild, or write config/calendar/cn-{year}.toml \
                 from it with `official = true` and add it to the `calendar` list in the config."
            );
        }
        YearBasis::Weekdays => {
            let _ = writeln!(
                out,
                "WARNING: no calendar for {year}: Monday to Friday are taken as working days, \
                 with no public holidays or make-up working days, so the deadlines below may be \
                 wrong. Add config/calendar/cn-{year}.toml (from the State Council's holiday \
                 notice, with `official = true`) to the `calendar` list in the config."
            );
        }
    }
    for (file, source) in calendar.files(year) {
        if calendar.basis(year) != YearBasis::OfficialFile(file) {
            let _ = writeln!(out, "Local days from {}; source: {source}", file.display());
        }
    }
    out.push('\n');
}

fn render_grid(out: &mut String, first: NaiveDate, last: NaiveDate, calendar: &Calendar) {
    let _ = write!(out, "{:<w$}", "Week", w = WEEK_COL);
    for name in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] {
        let _ = write!(out, "{name:>w$}", w = CELL);
    }
    out.push('\n');

    let mut week = Period::containing(Kind::Weekly, first);
    while week.first_day() <= last {
        let mut line = format!("{:<w$}", week.to_string(), w = WEEK_COL);
        for day in week.days() {
            let cell = if day < first || day > last {
                String::new()
            } else {
                day_cell(day, calendar)
            };
            let _ = write!(line, "{cell:>w$}", w = CELL);
        }
        let _ = writeln!(out, "{}", line.trim_end());
        week = week.next();
    }
    out.push('\n');
}

/// `5 `, `4*`, `(1)`, `[10]`: each with exactly one mark after the digits,
/// so digits line up when right-aligned.
fn day_cell(day: NaiveDate, calendar: &Calendar) -> String {
    let n = day.day();
    match calendar.day_kind(day) {
        DayKind::Workday => format!("{n} "),
        DayKind::MakeupWorkday(_) => format!("{n}*"),
        DayKind::Holiday(_) => format!("({n})"),
        DayKind::Weekend => format!("[{n}]"),
    }
}

/// Runs of consecutive days with the same holiday or make-up name.
fn render_named_days(out: &mut String, first: NaiveDate, last: NaiveDate, calendar: &Calendar) {
    let mut runs: Vec<(NaiveDate, NaiveDate, &'static str, String)> = Vec::new();
    for day in first.iter_days().take_while(|d| *d <= last) {
        let (kind, name) = match calendar.day_kind(day) {
            DayKind::Holiday(name) => ("public holiday", name),
            DayKind::MakeupWorkday(name) => ("make-up working day", name),
            DayKind::Workday | DayKind::Weekend => continue,
        };
        match runs.last_mut() {
            Some((_, end, k, n)) if *k == kind && n == name && end.succ_opt() == Some(day) => {
                *end = day;
            }
            _ => runs.push((day, day, kind, name.to_string())),
        }
    }
    if runs.is_empty() {
        return;
    }
    out.push('\n');
    let _ = writeln!(out, "Holidays and make-up working days:");
    for (from, to, kind, name) in runs {
        let range = if from == to {
            from.to_string()
        } else {
            format!("{from} to {to}")
        };
        let _ = writeln!(out, "  {range:<24}  {kind:<19}  {name}");
    }
}

fn render_deadlines(
    out: &mut String,
    first: NaiveDate,
    last: NaiveDate,
    calendar: &Calendar,
    rules: &DueRules,
    tz: Tz,
) {
    // (sort key, line)
    let mut lines: Vec<(NaiveDate, String)> = Vec::new();

    let mut week = Period::containing(Kind::Weekly, first);
    while week.first_day() <= last {
        match deadline(week, rules, calendar, tz) {
            Some(d) => {
                let day = d.due_day(tz);
                if (first..=last).contains(&day) {
                    let local = d.due.with_timezone(&tz);
                    lines.push((
                        day,
                        format!(
                            "{:<w$} weekly report due {}{}",
                            week.to_string(),
                            local.format("%a %Y-%m-%d %H:%M (%:z)"),
                            provisional_mark(&d),
                            w = WEEK_COL
                        ),
                    ));
                }
            }
            None => {
                let would_be = week
                    .days()
                    .find(|d| d.weekday() == rules.weekly.weekday)
                    .unwrap_or(week.first_day());
                if (first..=last).contains(&would_be) {
                    lines.push((
                        would_be,
                        format!(
                            "{:<w$} no weekly report due: no working day that week",
                            week.to_string(),
                            w = WEEK_COL
                        ),
                    ));
                }
            }
        }
        week = week.next();
    }

    // The monthly report due in this month is normally for the month
    // before; look one further back in case a first working day slips.
    let this_month = Period::containing(Kind::Monthly, first);
    for period in [this_month.prev().prev(), this_month.prev(), this_month] {
        if let Some(d) = deadline(period, rules, calendar, tz) {
            let day = d.due_day(tz);
            if (first..=last).contains(&day) {
                lines.push((
                    day,
                    format!(
                        "{:<w$} monthly report due before end of {} (first working day of {}){}",
                        period.to_string(),
                        day.format("%a %Y-%m-%d"),
                        Period::containing(Kind::Monthly, day),
                        provisional_mark(&d),
                        w = WEEK_COL
                    ),
                ));
            }
        }
    }

    out.push('\n');
    let _ = writeln!(
        out,
        "Deadlines in {}-{:02} (on time = arrives strictly before the time shown):",
        first.year(),
        first.month()
    );
    if lines.is_empty() {
        let _ = writeln!(out, "  none");
    }
    lines.sort_by_key(|(day, _)| *day);
    for (_, line) in lines {
        let _ = writeln!(out, "  {line}");
    }
}

/// Printed under a status table with a provisional deadline.
pub const PROVISIONAL_NOTE: &str = "provisional: no holiday notice yet for a day this deadline \
     depends on, so it is judged on the statutory holidays alone and may still move; \
     `reportd check-config` says what to do\n";

/// [`PROVISIONAL_NOTE`] in the team's language.
pub fn provisional_note(lang: crate::config::Language) -> &'static str {
    match lang {
        crate::config::Language::Zh => {
            "暂定：该截止时间所依据的日子还没有国务院放假通知，暂按法定节假日判定，之后可能调整；\
             `reportd check-config` 会说明怎么做\n"
        }
        crate::config::Language::En => PROVISIONAL_NOTE,
    }
}

/// What `check-config` warns about: the years deadlines soon fall in (this
/// year, and from November the next, whose notice is published then) that
/// have no holiday notice yet.
pub fn provisional_warnings(calendar: &Calendar, tz: Tz, now: DateTime<Utc>) -> Vec<String> {
    let today = now.with_timezone(&tz).date_naive();
    let mut years = vec![today.year()];
    if today.month() >= 11 {
        years.push(today.year() + 1);
    }
    let published =
        official::last_published_year().map_or_else(|| "none".to_string(), |y| y.to_string());
    years
        .into_iter()
        .filter_map(|year| match calendar.basis(year) {
            YearBasis::Statutory => Some(format!(
                "no holiday notice for {year} yet (the built-in tyme4rs has them up to \
                 {published}): deadlines in {year} use the statutory holidays computed from the \
                 lunar calendar, with no bridging or make-up working days, and are marked \
                 provisional. When the State Council publishes it, run `cargo update -p tyme4rs` \
                 and rebuild, or write config/calendar/cn-{year}.toml from the notice with \
                 `official = true` and add it to the `calendar` list"
            )),
            YearBasis::Weekdays => Some(format!(
                "no calendar covers {year}; its deadlines would use Monday to Friday. Add \
                 config/calendar/cn-{year}.toml from the State Council's holiday notice with \
                 `official = true`"
            )),
            YearBasis::Published | YearBasis::OfficialFile(_) => None,
        })
        .collect()
}

fn provisional_mark(deadline: &Deadline) -> &'static str {
    if deadline.provisional {
        " PROVISIONAL"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const CN_2026: &str = include_str!("../../config/calendar/cn-2026.toml");

    fn cn2026() -> Calendar {
        Calendar::from_toml_str(CN_2026, Path::new("config/calendar/cn-2026.toml")).unwrap()
    }

    fn render(year: i32, month: u32) -> String {
        render_month(
            year,
            month,
            &cn2026(),
            &DueRules::default(),
            chrono_tz::Asia::Shanghai,
        )
    }

    fn row<'a>(text: &'a str, week: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(week))
            .unwrap_or_else(|| panic!("no row {week} in\n{text}"))
    }

    #[test]
    fn january_2026_shows_sunday_the_4th_as_a_make_up_working_day() {
        let text = render(2026, 1);
        let w01 = row(&text, "2026-W01");
        // Thu 1 to Sat 3 are 元旦; Sun 4 is worked.
        assert!(w01.ends_with("(1)  (2)  (3)   4*"), "{w01:?}\n{text}");
        assert!(
            text.contains("  2026-01-04                make-up working day  元旦调休上班\n"),
            "{text}"
        );
        assert!(
            text.contains("  2026-01-01 to 2026-01-03  public holiday       元旦\n"),
            "{text}"
        );
    }

    #[test]
    fn january_2026_lists_the_2025_12_monthly_deadline() {
        let text = render(2026, 1);
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("2025-12"))
            .unwrap_or_else(|| panic!("no 2025-12 line in\n{text}"));
        assert!(
            line.contains("monthly report due before end of Sun 2026-01-04"),
            "{line}"
        );
        assert!(
            text.contains("2026-W01 weekly report due Sat 2026-01-03 22:00 (+08:00)"),
            "{text}"
        );
        assert!(
            text.contains("2026-W05 weekly report due Sat 2026-01-31 22:00 (+08:00)"),
            "{text}"
        );
    }

    #[test]
    fn january_2026_grid_columns_line_up() {
        let text = render(2026, 1);
        let header = row(&text, "Week");
        assert_eq!(header, "Week      Mon  Tue  Wed  Thu  Fri  Sat  Sun");
        let w02 = row(&text, "2026-W02");
        assert_eq!(w02, "2026-W02   5    6    7    8    9  [10] [11]");
        let w05 = row(&text, "2026-W05");
        assert_eq!(w05, "2026-W05  26   27   28   29   30  [31]");
        assert!(!text.contains("WARNING"), "{text}");
    }

    #[test]
    fn deadlines_are_listed_in_date_order() {
        let text = render(2026, 1);
        let section = text.split("Deadlines in 2026-01").nth(1).unwrap();
        let periods: Vec<&str> = section
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(
            periods,
            [
                "2026-W01", "2025-12", "2026-W02", "2026-W03", "2026-W04", "2026-W05"
            ]
        );
    }

    #[test]
    fn february_2026_shows_the_spring_festival_week_without_a_deadline() {
        let text = render(2026, 2);
        assert!(
            text.contains("2026-W08 no weekly report due: no working day that week"),
            "{text}"
        );
        let w08 = row(&text, "2026-W08");
        assert_eq!(w08, "2026-W08 (16) (17) (18) (19) (20) (21) (22)");
        assert!(
            text.contains("2026-01  monthly report due before end of Mon 2026-02-02"),
            "{text}"
        );
        assert!(
            text.contains("2026-W07 weekly report due Sat 2026-02-14 22:00 (+08:00)"),
            "{text}"
        );
    }

    #[test]
    fn october_2026_monthly_deadline_waits_for_national_day() {
        let text = render(2026, 10);
        assert!(
            text.contains("2026-09  monthly report due before end of Thu 2026-10-08"),
            "{text}"
        );
        assert!(
            text.contains("2026-W40 weekly report due Sat 2026-10-03 22:00 (+08:00)"),
            "{text}"
        );
    }

    #[test]
    fn a_year_without_a_notice_is_shown_provisional_with_new_years_day_off() {
        let text = render(2027, 1);
        assert!(text.starts_with("January 2027"), "{text}");
        assert!(
            text.contains("PROVISIONAL: no holiday notice for 2027 yet"),
            "{text}"
        );
        assert!(text.contains("cargo update -p tyme4rs"), "{text}");
        assert!(text.contains("cn-2027.toml"), "{text}");
        // 2027-01-01 (Fri) is in ISO week 2026-W53, and off.
        assert!(row(&text, "2026-W53").ends_with("(1)  [2]  [3]"), "{text}");
        assert!(
            text.contains(
                "2026-12  monthly report due before end of Mon 2027-01-04 \
                 (first working day of 2027-01) PROVISIONAL"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_month_out_of_range_says_how_to_write_one() {
        let text = render(2026, 13);
        assert!(text.contains("no such month: 2026-13"), "{text}");
    }
}
