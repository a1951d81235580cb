//! Reply reminders and escalations: one email a working day, at the reply
//! reminder time, to each supervisor listing every report still waiting
//! for their reply since tracking began (threaded under the report when it
//! is the only one), and at most one escalation a working day to each
//! manager, covering every supervisor with a report past its reminders.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use rusqlite::Connection;

use super::{NotifyError, Owed, Planner, RECENT};
use crate::config::{Language, Person};
use crate::names;
use crate::notify::compose::{self, Contact, Escalation, PendingReply, ReplyReminder};
use crate::notify::outbox;
use crate::reports::{self, Backlogged, ReportHeaders};
use compose::Backlog as Section;

/// A supervisor and their backlog: each waiting report with how many of
/// its reminder steps (the escalation last) have come.
type Backlog<'r> = Vec<(&'r Backlogged, u32)>;

impl<'a> Planner<'a> {
    /// One reply reminder a working day per supervisor, at the reply
    /// reminder time, listing every report still waiting for their reply
    /// since tracking began (oldest first), once at least one of them
    /// reached a reminder time; and at most one escalation a working day to
    /// each manager, covering every supervisor with a report past its last
    /// reminder, each with their whole backlog. None on a day off, none in
    /// quiet hours.
    pub(super) fn reply_reminders(
        &self,
        conn: &Connection,
        unsent: &outbox::Unsent,
        backlog: &super::Backlog,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        let tz = self.cfg.timezone;
        let today = now.with_timezone(&tz).date_naive();
        let schedule = &self.cfg.notify.schedule;
        // The day's reminder goes at the reply reminder time (or on the
        // first run after it), never at whatever minute a report came due.
        let morning = crate::notify::schedule::at_local(today, schedule.reply_reminder_time, tz);
        let working =
            self.calendar.is_working_day(today) && !schedule.is_quiet(now, tz) && now >= morning;
        // Out of those hours nothing is queued, and only a reminder queued
        // and not sent yet can be withdrawn: without one, the backlog is
        // not needed.
        if !working && !unsent.any_with_prefix(REPLY_REMINDER) {
            return Ok(0);
        }
        let backlog = self.backlog_once(backlog, conn, now)?;
        // Each report's supervisor looked up once, not once per supervisor.
        let roster = &self.cfg.roster;
        let waiting = roster.by_supervisor(waiting_for_reply(backlog), |r| self.person(&r.person));
        let last = schedule.reply_reminders;
        let mut queued = 0;
        let mut crossed: Vec<(&Person, Backlog<'_>)> = Vec::new();
        for supervisor in self.supervisors() {
            let backlog: Backlog<'_> = waiting
                .of(&supervisor.email)
                .iter()
                .map(|r| (*r, self.reminders_due(r, now)))
                .collect();
            let key = reply_reminder_key(&supervisor.email, today);
            if !backlog.iter().any(|(_, n)| *n > 0) {
                // Any day's: a reminder queued yesterday and held (quiet
                // hours, a mail server down) must not go out after the reply.
                let why = "no longer owed: the supervisor replied";
                let theirs = format!("{REPLY_REMINDER}{}:", supervisor.email);
                for queued in unsent.with_prefix(&theirs) {
                    unsent.cancel(conn, queued, why, now)?;
                }
                continue;
            }
            if !working || !self.active(supervisor, now) {
                continue;
            }
            // Only when some report reached one of its reminder times since
            // the last reminder: a report past its last reminder is the
            // manager's, not a daily email to the supervisor.
            let since =
                outbox::last_queued(conn, &format!("{REPLY_REMINDER}{}:", supervisor.email))?;
            if self.step_came(&backlog, 1..=last, since, now) {
                queued += self.reply_reminder(conn, supervisor, &backlog, key, now)?;
            }
            if backlog.iter().any(|(_, n)| *n > last) {
                crossed.push((supervisor, backlog));
            }
        }
        if !crossed.is_empty() {
            queued += self.escalations(conn, &crossed, today, now)?;
        }
        Ok(queued)
    }

    /// Every counting report since tracking began still waiting for its
    /// reply at `now` (not a recent window: the backlog is whole), and those
    /// of the last [`RECENT`] days answered (a digest's reply rate), oldest
    /// first.
    pub(super) fn backlog(
        &self,
        conn: &Connection,
        now: DateTime<Utc>,
    ) -> Result<Vec<Backlogged>, NotifyError> {
        let answered_since = now - Duration::days(RECENT);
        Ok(reports::backlog(
            conn,
            self.tracking_began(),
            now,
            answered_since,
        )?)
    }

    /// When reminder `n` of `r` is due (the first after `reply_within_hours`
    /// on a working day, then one each working day; the step after the last
    /// reminder is the escalation).
    pub(super) fn step_at(&self, r: &Backlogged, n: u32) -> DateTime<Utc> {
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
    fn reminders_due(&self, r: &Backlogged, now: DateTime<Utc>) -> u32 {
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
        backlog: &[(&Backlogged, u32)],
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

    /// `r` as a list in an email shows it, with its `headers`, when its
    /// sender is configured.
    pub(super) fn pending_reply(
        &self,
        r: &Backlogged,
        headers: &ReportHeaders,
        reminders_sent: u32,
        lang: Language,
        now: DateTime<Utc>,
    ) -> Option<PendingReply> {
        let person = self.person(&r.person)?;
        Some(self.pending_reply_of(person, r, headers, reminders_sent, lang, now))
    }

    /// [`Planner::pending_reply`] of `r`, sent by `person`.
    pub(super) fn pending_reply_of(
        &self,
        person: &Person,
        r: &Backlogged,
        headers: &ReportHeaders,
        reminders_sent: u32,
        lang: Language,
        now: DateTime<Utc>,
    ) -> PendingReply {
        PendingReply {
            person: Contact::from(person),
            kind: r.period.kind(),
            period: self.period_name(r.period, lang, now),
            report_subject: headers.subject.clone(),
            received: self.local(r.received, lang, now),
            received_day: names::day_on(
                r.received.with_timezone(&self.cfg.timezone).date_naive(),
                lang,
                self.today(now),
            ),
            hours_waiting: (now - r.received).num_hours(),
            waiting: names::waiting(now - r.received, lang),
            overdue: self.reply_due(r.received) <= now,
            // The step after the last reminder is the escalation, no reminder.
            reminders_sent: reminders_sent.min(self.cfg.notify.schedule.reply_reminders),
            message_id: headers.message_id.clone(),
            reply_subject: compose::reply_subject(&headers.subject),
        }
    }

    fn reply_reminder(
        &self,
        conn: &Connection,
        supervisor: &Person,
        backlog: &[(&Backlogged, u32)],
        key: String,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        let lang = self.lang(supervisor);
        let last = self.cfg.notify.schedule.reply_reminders;
        let headers = headers_of(conn, backlog)?;
        let reports: Vec<PendingReply> = backlog
            .iter()
            .filter_map(|(r, n)| self.pending_reply(r, header(&headers, r), *n, lang, now))
            .collect();
        // Counted and cut as an escalation's section is.
        let Section {
            total,
            overdue,
            reports,
            rest,
            ..
        } = Section::new(Contact::from(supervisor), reports, 0);
        let manager = self.cfg.roster.managers().next().map(Contact::from);
        let ctx = ReplyReminder {
            supervisor: Contact::from(supervisor),
            assistant: self.assistant(),
            reply_within_hours: self.cfg.rules.reply_within_hours,
            total,
            overdue,
            final_reminder: backlog.iter().any(|(_, n)| *n >= last),
            escalated: manager.is_some() && backlog.iter().any(|(_, n)| *n > last),
            manager,
            reports,
            rest,
        };
        // A reminder about one report goes in that report's thread, so a
        // plain "Reply" to the reminder answers the report.
        let only = only_report(backlog, &headers);
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

    /// At most one escalation a working day to each manager, when some
    /// report reached its escalation step since the last one: every
    /// supervisor in `crossed`, each with their whole backlog.
    fn escalations(
        &self,
        conn: &Connection,
        crossed: &[(&Person, Backlog<'_>)],
        today: chrono::NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        let mut queued = 0;
        let escalate = self.cfg.notify.schedule.reply_reminders + 1;
        for manager in self.cfg.roster.managers().filter(|m| self.active(m, now)) {
            let prefix = format!("escalation:{}:", manager.email);
            let since = outbox::last_queued(conn, &prefix)?;
            let new = crossed
                .iter()
                .any(|(_, b)| self.step_came(b, escalate..=escalate, since, now));
            if !new {
                continue;
            }
            let lang = self.lang(manager);
            let listed: Vec<(&Backlogged, u32)> = crossed
                .iter()
                .flat_map(|(_, b)| b.iter().copied())
                .collect();
            let headers = headers_of(conn, &listed)?;
            let supervisors: Vec<Section> = crossed
                .iter()
                .map(|(supervisor, backlog)| {
                    let reports: Vec<PendingReply> = backlog
                        .iter()
                        .filter_map(|(r, n)| {
                            self.pending_reply(r, header(&headers, r), *n, lang, now)
                        })
                        .collect();
                    let past = backlog.iter().filter(|(_, n)| *n >= escalate).count();
                    Section::new(Contact::from(*supervisor), reports, past)
                })
                .collect();
            let ctx = Escalation::new(
                Contact::from(manager),
                self.cfg.rules.reply_within_hours,
                supervisors,
            );
            // About one supervisor: in Cc, and in the report's thread when
            // it is one report. About several, each learns it from their
            // own reminder, not from the others' backlogs.
            let (cc, in_reply_to) = match crossed {
                [(_, backlog)] => (
                    ctx.supervisors
                        .iter()
                        .map(|b| b.supervisor.clone())
                        .collect(),
                    only_report(backlog, &headers).map(|(_, id)| id),
                ),
                _ => (vec![], None),
            };
            let owed = Owed {
                key: format!("{prefix}{today}"),
                lang,
                ctx: &ctx,
                to: vec![ctx.manager.clone()],
                cc,
                in_reply_to,
                not_before: now,
            };
            queued += self.queue(conn, owed, now)?;
        }
        Ok(queued)
    }
}

/// The reports of `backlog` still waiting for their supervisor's reply, in
/// its order.
pub(super) fn waiting_for_reply(backlog: &[Backlogged]) -> impl Iterator<Item = &Backlogged> {
    backlog.iter().filter(|r| r.replied_at.is_none())
}

/// The headers of the reports of `backlog`, read at once.
fn headers_of(
    conn: &Connection,
    backlog: &[(&Backlogged, u32)],
) -> Result<HashMap<i64, ReportHeaders>, NotifyError> {
    let ids: Vec<i64> = backlog.iter().map(|(r, _)| r.id).collect();
    Ok(reports::headers_of(conn, &ids)?)
}

/// The headers of `r` among `headers`. A report always has its message
/// (a foreign key), so none is missing; an empty subject would show if one
/// were.
pub(super) fn header<'h>(
    headers: &'h HashMap<i64, ReportHeaders>,
    r: &Backlogged,
) -> &'h ReportHeaders {
    static NONE: ReportHeaders = ReportHeaders {
        message_id: None,
        subject: String::new(),
    };
    headers.get(&r.id).unwrap_or(&NONE)
}

/// The report's id and Message-ID when `backlog` holds exactly one report:
/// an email about it then belongs in its thread.
fn only_report(
    backlog: &[(&Backlogged, u32)],
    headers: &HashMap<i64, ReportHeaders>,
) -> Option<(i64, String)> {
    match backlog {
        [(r, _)] => header(headers, r)
            .message_id
            .as_ref()
            .map(|id| (r.id, id.clone())),
        _ => None,
    }
}

/// What the outbox key of every reply reminder starts with.
const REPLY_REMINDER: &str = "reply-reminder:";

/// The idempotency key of a supervisor's reply reminder on `day`.
fn reply_reminder_key(supervisor: &str, day: chrono::NaiveDate) -> String {
    format!("{REPLY_REMINDER}{supervisor}:{day}")
}
