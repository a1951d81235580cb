//! Reply reminders and escalations: one email a working day to each
//! supervisor listing every report still waiting for their reply (threaded
//! under the report when it is the only one), and an escalation to each
//! manager once a report has had its reminders.

use chrono::{DateTime, Duration, Utc};
use rusqlite::Connection;

use super::{NotifyError, Owed, Planner, RECENT};
use crate::config::{Language, Person};
use crate::names;
use crate::notify::compose::{self, Contact, Escalation, PendingReply, ReplyReminder};
use crate::notify::outbox;
use crate::reports::{self, ReportInfo};

impl<'a> Planner<'a> {
    /// One reply reminder a working day per supervisor, listing every
    /// report still waiting for their reply (oldest first), once at least
    /// one of them is past the reply time; and, once a report has had its
    /// reminders, one escalation a working day to each manager listing the
    /// supervisor's whole backlog. None on a day off, none in quiet hours.
    pub(super) fn reply_reminders(
        &self,
        conn: &Connection,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        let tz = self.cfg.timezone;
        let today = now.with_timezone(&tz).date_naive();
        let working =
            self.calendar.is_working_day(today) && !self.cfg.notify.schedule.is_quiet(now, tz);
        let waiting: Vec<ReportInfo> =
            reports::reports_since(conn, now - Duration::days(RECENT), true)?
                .into_iter()
                .filter(|r| r.replied_at.is_none())
                .collect();
        let mut queued = 0;
        for supervisor in self.supervisors() {
            let backlog: Vec<(&ReportInfo, u32)> = waiting
                .iter()
                .filter(|r| {
                    self.person(&r.person)
                        .and_then(|p| self.cfg.roster.supervisor_of(p))
                        .is_some_and(|s| s.email == supervisor.email)
                })
                .map(|r| (r, self.reminders_due(r, now)))
                .collect();
            let key = reply_reminder_key(&supervisor.email, today);
            if !backlog.iter().any(|(_, n)| *n > 0) {
                let why = "no longer owed: the supervisor replied";
                outbox::cancel_unsent(conn, &key, why, now)?;
                continue;
            }
            if !working || !self.active(supervisor, now) {
                continue;
            }
            // Only when some report reached one of its reminder times since
            // the last reminder: a report past its last reminder is the
            // manager's, not a daily email to the supervisor.
            let last = self.cfg.notify.schedule.reply_reminders;
            let since =
                outbox::last_queued(conn, &format!("reply-reminder:{}:", supervisor.email))?;
            if self.step_came(&backlog, 1..=last, since, now) {
                queued += self.reply_reminder(conn, supervisor, &backlog, key, now)?;
            }
            if backlog.iter().any(|(_, n)| *n > last) {
                queued += self.escalation(conn, supervisor, &backlog, today, now)?;
            }
        }
        Ok(queued)
    }

    /// When reminder `n` of `r` is due (the first after `reply_within_hours`
    /// on a working day, then one each working day; the step after the last
    /// reminder is the escalation).
    pub(super) fn step_at(&self, r: &ReportInfo, n: u32) -> DateTime<Utc> {
        let within = Duration::hours(i64::from(self.cfg.rules.reply_within_hours));
        self.cfg.notify.schedule.reply_reminder(
            r.received,
            n,
            within,
            self.calendar,
            self.cfg.timezone,
        )
    }

    /// How many reply reminder times (escalation included) have come for
    /// `r` by `now`.
    fn reminders_due(&self, r: &ReportInfo, now: DateTime<Utc>) -> u32 {
        let steps = self.cfg.notify.schedule.reply_reminders + 1;
        (1..=steps)
            .rev()
            .find(|&n| self.step_at(r, n) <= now)
            .unwrap_or(0)
    }

    /// Whether one of `steps` of some report in `backlog` came after `since`
    /// (the last such email) and by `now`: something new to send.
    fn step_came(
        &self,
        backlog: &[(&ReportInfo, u32)],
        steps: std::ops::RangeInclusive<u32>,
        since: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> bool {
        backlog.iter().any(|(r, _)| {
            steps.clone().any(|n| {
                let at = self.step_at(r, n);
                at <= now && since.is_none_or(|s| at > s)
            })
        })
    }

    /// The reply-deadline rule: a report received at `received` is due
    /// for its supervisor's reply `reply_within_hours` later. Before that
    /// it is not unanswered (reply rates), nor overdue (reminders).
    pub(super) fn reply_due(&self, received: DateTime<Utc>) -> DateTime<Utc> {
        received + Duration::hours(i64::from(self.cfg.rules.reply_within_hours))
    }

    pub(super) fn pending_reply(
        &self,
        r: &ReportInfo,
        reminders_sent: u32,
        lang: Language,
        now: DateTime<Utc>,
    ) -> Option<PendingReply> {
        let person = self.person(&r.person)?;
        Some(PendingReply {
            person: Contact::from(person),
            kind: r.period.kind(),
            period: names::period(r.period, lang),
            report_subject: r.subject.clone(),
            received: self.local(r.received, lang),
            hours_waiting: (now - r.received).num_hours(),
            waiting: names::waited(now - r.received, lang),
            overdue: self.reply_due(r.received) <= now,
            // The step after the last reminder is the escalation, no reminder.
            reminders_sent: reminders_sent.min(self.cfg.notify.schedule.reply_reminders),
            message_id: r.message_id.clone(),
            reply_subject: compose::reply_subject(&r.subject),
        })
    }

    fn reply_reminder(
        &self,
        conn: &Connection,
        supervisor: &Person,
        backlog: &[(&ReportInfo, u32)],
        key: String,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        let lang = self.lang(supervisor);
        let last = self.cfg.notify.schedule.reply_reminders;
        let reports: Vec<PendingReply> = backlog
            .iter()
            .filter_map(|(r, n)| self.pending_reply(r, *n, lang, now))
            .collect();
        let ctx = ReplyReminder {
            supervisor: Contact::from(supervisor),
            assistant: self.assistant(),
            reply_within_hours: self.cfg.rules.reply_within_hours,
            overdue: reports.iter().filter(|r| r.overdue).count(),
            final_reminder: backlog.iter().any(|(_, n)| *n >= last),
            manager: self.cfg.roster.managers().next().map(Contact::from),
            reports,
        };
        // A reminder about one report goes in that report's thread, so a
        // plain "Reply" to the reminder answers the report.
        let only = only_report(backlog);
        let message_id = outbox::message_id_for(&key, &self.domain);
        let owed = Owed {
            key,
            lang,
            ctx: &ctx,
            to: vec![ctx.supervisor.clone()],
            cc: vec![],
            in_reply_to: only.as_ref().map(|(_, id)| id.clone()),
            not_before: now,
        };
        let queued = self.queue(conn, owed, now)?;
        if let Some((report, _)) = only.filter(|_| queued > 0) {
            reports::add_to_thread(conn, &message_id, report)?;
        }
        Ok(queued)
    }

    fn escalation(
        &self,
        conn: &Connection,
        supervisor: &Person,
        backlog: &[(&ReportInfo, u32)],
        today: chrono::NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        let mut queued = 0;
        let escalate = self.cfg.notify.schedule.reply_reminders + 1;
        for manager in self.cfg.roster.managers().filter(|m| self.active(m, now)) {
            // Once per report: when some report reached its escalation
            // since this manager last heard about this supervisor.
            let prefix = format!("escalation:{}:{}:", supervisor.email, manager.email);
            let since = outbox::last_queued(conn, &prefix)?;
            if !self.step_came(backlog, escalate..=escalate, since, now) {
                continue;
            }
            let lang = self.lang(manager);
            let reports: Vec<PendingReply> = backlog
                .iter()
                .filter_map(|(r, n)| self.pending_reply(r, *n, lang, now))
                .collect();
            let ctx = Escalation {
                manager: Contact::from(manager),
                supervisor: Contact::from(supervisor),
                reply_within_hours: self.cfg.rules.reply_within_hours,
                reports,
            };
            let owed = Owed {
                key: format!("{prefix}{today}"),
                lang,
                ctx: &ctx,
                to: vec![ctx.manager.clone()],
                cc: vec![ctx.supervisor.clone()],
                in_reply_to: only_report(backlog).map(|(_, id)| id),
                not_before: now,
            };
            queued += self.queue(conn, owed, now)?;
        }
        Ok(queued)
    }
}

/// The report's id and Message-ID when `backlog` holds exactly one report:
/// an email about it then belongs in its thread.
fn only_report(backlog: &[(&ReportInfo, u32)]) -> Option<(i64, String)> {
    match backlog {
        [(r, _)] => r.message_id.as_ref().map(|id| (r.id, id.clone())),
        _ => None,
    }
}

/// The idempotency key of a supervisor's reply reminder on `day`.
fn reply_reminder_key(supervisor: &str, day: chrono::NaiveDate) -> String {
    format!("reply-reminder:{supervisor}:{day}")
}
