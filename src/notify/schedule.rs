//! When each email is owed: deadline reminders, reply reminders, digests,
//! and the quiet hours nothing but a digest may be sent in. The single home
//! of reportd's mail timing; everything here is pure.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use crate::calendar::Calendar;
use crate::period::{Deadline, Kind, Month, WeeklyDue};

/// Mail timing, from the `[notify]` config section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Weekly deadline reminders: each of these weekdays and times of the
    /// period's week (before the deadline).
    pub weekly_reminders: Vec<WeeklyDue>,
    /// Monthly deadline reminders: this time on the working day before the
    /// due day and on the due day.
    pub monthly_reminder: NaiveTime,
    /// Digests: this time on the first working day after the deadline.
    pub digest_time: NaiveTime,
    /// No mail but digests from `quiet_start` to `quiet_end` (local).
    pub quiet_start: NaiveTime,
    pub quiet_end: NaiveTime,
    /// Reply reminders to the supervisor before escalating to the manager.
    pub reply_reminders: u32,
    /// The one time of a working day a supervisor's reply reminder (and a
    /// manager's escalation) goes out, listing everything overdue by then:
    /// not whatever minute a report passed its reply time.
    pub reply_reminder_time: NaiveTime,
    /// How long after a deadline the late notice (or the misaddressed
    /// notice naming the fine) waits: a report a minute late then gets the
    /// fine notice alone, not "not received" and "late" a minute apart.
    pub late_notice_after: Duration,
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

impl Default for Schedule {
    fn default() -> Schedule {
        Schedule {
            weekly_reminders: vec![
                WeeklyDue {
                    weekday: chrono::Weekday::Fri,
                    time: hm(17, 0),
                },
                WeeklyDue {
                    weekday: chrono::Weekday::Sat,
                    time: hm(18, 0),
                },
            ],
            monthly_reminder: hm(9, 0),
            digest_time: hm(8, 30),
            quiet_start: hm(22, 30),
            quiet_end: hm(8, 0),
            reply_reminders: 2,
            reply_reminder_time: hm(9, 0),
            late_notice_after: Duration::minutes(15),
        }
    }
}

/// The last working day before `day`, within a month (a calendar with no
/// working day in the 31 days before has none).
fn previous_working_day(day: NaiveDate, calendar: &Calendar) -> Option<NaiveDate> {
    let mut d = day;
    for _ in 0..31 {
        d = d.pred_opt()?;
        if calendar.is_working_day(d) {
            return Some(d);
        }
    }
    None
}

/// A local date and time in `tz` as an instant; a time skipped by a DST
/// change moves forward an hour.
pub fn at_local(day: NaiveDate, time: NaiveTime, tz: Tz) -> DateTime<Utc> {
    let naive = day.and_time(time);
    naive
        .and_local_timezone(tz)
        .earliest()
        .or_else(|| {
            (naive + Duration::hours(1))
                .and_local_timezone(tz)
                .earliest()
        })
        .map_or_else(|| naive.and_utc(), |t| t.with_timezone(&Utc))
}

impl Schedule {
    /// When the deadline reminders for `deadline` are owed, earliest first,
    /// all before the deadline: each of `weekly_reminders` in the due week;
    /// `monthly_reminder` on the working day before the due day and on the
    /// due day.
    pub fn deadline_reminders(
        &self,
        deadline: &Deadline,
        calendar: &Calendar,
        tz: Tz,
    ) -> Vec<DateTime<Utc>> {
        let due_day = deadline.due_day(tz);
        let mut times: Vec<DateTime<Utc>> = match deadline.period.kind() {
            Kind::Weekly => {
                let monday =
                    due_day - Duration::days(i64::from(due_day.weekday().num_days_from_monday()));
                self.weekly_reminders
                    .iter()
                    .map(|r| {
                        let day =
                            monday + Duration::days(i64::from(r.weekday.num_days_from_monday()));
                        at_local(day, r.time, tz)
                    })
                    .collect()
            }
            Kind::Monthly => [previous_working_day(due_day, calendar), Some(due_day)]
                .into_iter()
                .flatten()
                .map(|day| at_local(day, self.monthly_reminder, tz))
                .collect(),
        };
        times.retain(|t| *t < deadline.due);
        times.sort_unstable();
        times.dedup();
        times
    }

    /// When the digest for a deadline is owed: the first working day after
    /// the due day, at `digest_time`.
    pub fn digest(&self, deadline: &Deadline, calendar: &Calendar, tz: Tz) -> DateTime<Utc> {
        let day = calendar.next_working_day(deadline.due_day(tz));
        at_local(day, self.digest_time, tz)
    }

    /// When reply reminder `n` (1-based) for a report received at `received`
    /// is owed: at `reply_reminder_time` of the first working day on which
    /// that time comes after `reply_within`, each further one a working day
    /// later. `n = reply_reminders + 1` is the escalation.
    pub fn reply_reminder(
        &self,
        received: DateTime<Utc>,
        n: u32,
        reply_within: Duration,
        calendar: &Calendar,
        tz: Tz,
    ) -> DateTime<Utc> {
        let overdue = (received + reply_within).with_timezone(&tz);
        let mut day = overdue.date_naive();
        if overdue.time() > self.reply_reminder_time {
            day += Duration::days(1);
        }
        // Reminders go on working days only: a first reminder due on a day
        // off waits for the next working day, so none is skipped.
        if !calendar.is_working_day(day) {
            day = calendar.next_working_day(day);
        }
        for _ in 1..n {
            day = calendar.next_working_day(day);
        }
        at_local(day, self.reply_reminder_time, tz)
    }

    /// The first reply-reminder time (a working day's
    /// `reply_reminder_time`) after `now`.
    pub fn next_reply_reminder_time(
        &self,
        now: DateTime<Utc>,
        calendar: &Calendar,
        tz: Tz,
    ) -> DateTime<Utc> {
        let mut day = now.with_timezone(&tz).date_naive();
        if !calendar.is_working_day(day) || at_local(day, self.reply_reminder_time, tz) <= now {
            day = calendar.next_working_day(day);
        }
        at_local(day, self.reply_reminder_time, tz)
    }

    /// Whether `at` falls in the quiet hours.
    pub fn is_quiet(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        let t = at.with_timezone(&tz).time();
        if self.quiet_start <= self.quiet_end {
            t >= self.quiet_start && t < self.quiet_end
        } else {
            t >= self.quiet_start || t < self.quiet_end
        }
    }

    /// `at`, or the end of the quiet hours it falls in.
    pub fn outside_quiet(&self, at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        if !self.is_quiet(at, tz) {
            return at;
        }
        let local = at.with_timezone(&tz);
        let day = if local.time() >= self.quiet_end {
            local.date_naive() + Duration::days(1)
        } else {
            local.date_naive()
        };
        at_local(day, self.quiet_end, tz)
    }
}

/// When a monthly email (payroll summary, archive) closes a month: on the
/// `working_day`-th working day of the next month, at `time` local.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseTime {
    /// 1 is the first working day of the next month.
    pub working_day: u32,
    pub time: NaiveTime,
}

impl CloseTime {
    /// When `month` closes.
    pub fn of(&self, month: Month, calendar: &Calendar, tz: Tz) -> DateTime<Utc> {
        let next = month.next();
        let mut day = calendar.first_working_day(next.year(), next.month());
        for _ in 1..self.working_day {
            day = calendar.next_working_day(day);
        }
        at_local(day, self.time, tz)
    }

    /// The newest month closed at `now` (its close time has come).
    pub fn latest_closed(&self, now: DateTime<Utc>, calendar: &Calendar, tz: Tz) -> Month {
        let last = Month::containing(now.with_timezone(&tz).date_naive()).prev();
        if self.of(last, calendar, tz) <= now {
            last
        } else {
            last.prev()
        }
    }

    /// The first close time after `now`.
    pub fn next_after(&self, now: DateTime<Utc>, calendar: &Calendar, tz: Tz) -> DateTime<Utc> {
        self.of(self.latest_closed(now, calendar, tz).next(), calendar, tz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::period::{DueRules, Period, deadline};
    use chrono::TimeZone;
    use chrono_tz::Asia::Shanghai;

    fn calendar() -> Calendar {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/calendar/cn-2026.toml");
        Calendar::load(&[path]).expect("2026 calendar")
    }

    fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Shanghai
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("valid")
            .with_timezone(&Utc)
    }

    fn due(p: Period) -> Deadline {
        deadline(p, &DueRules::default(), &calendar(), Shanghai).expect("deadline")
    }

    #[test]
    fn weekly_reminders_are_friday_five_pm_and_saturday_six_pm_of_the_deadline_week() {
        let d = due(Period::Week {
            year: 2026,
            week: 48,
        });
        assert_eq!(
            Schedule::default().deadline_reminders(&d, &calendar(), Shanghai),
            [local(2026, 11, 27, 17, 0), local(2026, 11, 28, 18, 0)]
        );
    }

    #[test]
    fn a_weekly_reminder_time_after_the_deadline_is_dropped() {
        let d = due(Period::Week {
            year: 2026,
            week: 48,
        });
        let mut s = Schedule::default();
        s.weekly_reminders[0].weekday = chrono::Weekday::Sun;
        assert_eq!(
            s.deadline_reminders(&d, &calendar(), Shanghai),
            [local(2026, 11, 28, 18, 0)]
        );
    }

    #[test]
    fn monthly_reminders_are_nine_am_the_working_day_before_and_on_the_due_day_even_a_sunday() {
        // December 2025 is due on Sunday 2026-01-04, a make-up working day;
        // 1–3 January are the New Year holiday, so the working day before
        // is Wednesday 31 December.
        let d = due(Period::Month {
            year: 2025,
            month: 12,
        });
        assert_eq!(
            Schedule::default().deadline_reminders(&d, &calendar(), Shanghai),
            [local(2025, 12, 31, 9, 0), local(2026, 1, 4, 9, 0)]
        );
    }

    #[test]
    fn weekly_digest_is_monday_half_past_eight() {
        let d = due(Period::Week {
            year: 2026,
            week: 48,
        });
        assert_eq!(
            Schedule::default().digest(&d, &calendar(), Shanghai),
            local(2026, 11, 30, 8, 30)
        );
    }

    #[test]
    fn digest_after_the_national_day_week_waits_for_the_first_working_day() {
        // W40 (Sep 28 – Oct 4) is due Sat Oct 3, in the holiday; Oct 8 is the first working day after.
        let d = due(Period::Week {
            year: 2026,
            week: 40,
        });
        assert_eq!(
            Schedule::default().digest(&d, &calendar(), Shanghai),
            local(2026, 10, 8, 8, 30)
        );
    }

    #[test]
    fn quiet_hours_wrap_midnight() {
        let s = Schedule::default();
        assert!(s.is_quiet(local(2026, 11, 28, 22, 30), Shanghai));
        assert!(s.is_quiet(local(2026, 11, 29, 7, 59), Shanghai));
        assert!(!s.is_quiet(local(2026, 11, 29, 8, 0), Shanghai));
        assert!(!s.is_quiet(local(2026, 11, 28, 22, 29), Shanghai));
        assert_eq!(
            s.outside_quiet(local(2026, 11, 28, 23, 0), Shanghai),
            local(2026, 11, 29, 8, 0)
        );
        assert_eq!(
            s.outside_quiet(local(2026, 11, 29, 3, 0), Shanghai),
            local(2026, 11, 29, 8, 0)
        );
    }

    #[test]
    fn reply_reminders_go_at_the_morning_time_of_working_days() {
        let s = Schedule::default();
        let within = Duration::hours(48);
        // Received Thu 10:00 → due Sat 10:00, a day off: the first reminder
        // on Monday 09:00, the second on Tuesday, the escalation on
        // Wednesday, all at the morning time.
        let received = local(2026, 11, 26, 10, 0);
        assert_eq!(
            s.reply_reminder(received, 1, within, &calendar(), Shanghai),
            local(2026, 11, 30, 9, 0)
        );
        assert_eq!(
            s.reply_reminder(received, 2, within, &calendar(), Shanghai),
            local(2026, 12, 1, 9, 0)
        );
        assert_eq!(
            s.reply_reminder(received, 3, within, &calendar(), Shanghai),
            local(2026, 12, 2, 9, 0)
        );
    }

    #[test]
    fn a_report_overdue_after_the_morning_time_waits_for_the_next_morning() {
        let s = Schedule::default();
        // Received Tue 21:59 → overdue Thu 21:59: Friday 09:00, not 21:59.
        let received = local(2026, 11, 24, 21, 59);
        assert_eq!(
            s.reply_reminder(received, 1, Duration::hours(48), &calendar(), Shanghai),
            local(2026, 11, 27, 9, 0)
        );
        // Overdue Thu 08:00, before the morning time: that very morning.
        let received = local(2026, 11, 24, 8, 0);
        assert_eq!(
            s.reply_reminder(received, 1, Duration::hours(48), &calendar(), Shanghai),
            local(2026, 11, 26, 9, 0)
        );
    }

    #[test]
    fn the_next_reply_reminder_time_skips_days_off_and_a_passed_morning() {
        let s = Schedule::default();
        // Friday 10:00 → Monday 09:00; Monday 08:00 → Monday 09:00.
        assert_eq!(
            s.next_reply_reminder_time(local(2026, 11, 27, 10, 0), &calendar(), Shanghai),
            local(2026, 11, 30, 9, 0)
        );
        assert_eq!(
            s.next_reply_reminder_time(local(2026, 11, 30, 8, 0), &calendar(), Shanghai),
            local(2026, 11, 30, 9, 0)
        );
    }

    fn close() -> CloseTime {
        CloseTime {
            working_day: 3,
            time: hm(8, 30),
        }
    }

    #[test]
    fn a_month_closes_on_the_third_working_day_of_the_next() {
        let nov: Month = "2026-11".parse().expect("month");
        // December 2026: Tue 1, Wed 2, Thu 3.
        assert_eq!(
            close().of(nov, &calendar(), Shanghai),
            local(2026, 12, 3, 8, 30)
        );
        // September closes after the National Day holiday (Oct 1–7): Thu 8,
        // Fri 9 and the make-up Saturday 10 are its working days.
        let sep: Month = "2026-09".parse().expect("month");
        assert_eq!(
            close().of(sep, &calendar(), Shanghai),
            local(2026, 10, 10, 8, 30)
        );
    }

    #[test]
    fn the_latest_closed_month_turns_at_the_close_time() {
        let c = close();
        let cal = calendar();
        let before = local(2026, 12, 3, 8, 29);
        let at = local(2026, 12, 3, 8, 30);
        assert_eq!(
            c.latest_closed(before, &cal, Shanghai).to_string(),
            "2026-10"
        );
        assert_eq!(c.latest_closed(at, &cal, Shanghai).to_string(), "2026-11");
        assert_eq!(c.next_after(before, &cal, Shanghai), at);
        assert_eq!(
            c.next_after(at, &cal, Shanghai),
            c.of("2026-12".parse().expect("month"), &cal, Shanghai)
        );
    }
}
