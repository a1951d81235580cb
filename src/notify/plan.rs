//! Which emails are owed at a given instant, from the state the other
//! modules keep (verdicts, reports, replies, the ledger), and queueing each
//! one into the outbox under its idempotency key. Running it again at the
//! same instant queues nothing new; running it after downtime queues what
//! was missed once (the newest digest, the latest reply reminder), not a
//! backlog.
//!
//! The assistant's yearly request for a missing holiday notice is planned
//! in [`calendar`].
//!
//! Emails owed once a month when a month closes (the payroll summary, the
//! compliance archive) plug in as [`MonthlyClose`] hooks: see [`close`].

use chrono::{DateTime, Duration, NaiveDate, Utc};
use lettre::message::Mailbox;
use rayon::prelude::*;
use rusqlite::Connection;

use crate::calendar::Calendar;
use crate::config::{Config, Language, Person};
use crate::ledger;
use crate::money::Fen;
use crate::names;
use crate::notify::compose::{
    self, BookedFine, Contact, DeadlineReminder, Email, ExcuseConfirmation, ExcuseOutcome,
    FineNotice, LateNotice, Misaddressed, Templates,
};
use crate::notify::outbox::{self, Outgoing};
use crate::period::{ByPersonPeriod, Deadline, Kind, Month, Period};
use crate::reports::commands;
use crate::reports::compliance::{self, Status, Verdict};
use crate::reports::{self, Backlogged, ReportInfo};

/// Every report still waiting for its reply (see [`Planner::backlog`]):
/// read at most once a pass, and not at all by a pass that owes no reply
/// reminder and no digest, such as most of a night's and a weekend's.
type Backlog = std::cell::OnceCell<Vec<Backlogged>>;

mod calendar;
mod close;
mod digest;
mod replies;
pub use calendar::calendar_notice_key;
pub use close::{CloseContext, CloseError, Issue, Letter, MonthlyClose, close_key};

/// How far back a notice about a past event is still worth sending after
/// downtime.
const CATCH_UP: i64 = 7;
/// How far back (days) a held-back notice is still looked at, and the
/// window of a digest's reply rate.
const RECENT: i64 = 30;
/// Judged deadlines per person and kind whose digest time `next_event`
/// looks at: the open one and those that passed before its digest.
const DIGEST_LOOKBACK: usize = 3;
/// Emails [`Planner::queue_all`] holds rendered at once: enough to keep
/// every core busy, few enough that a manager's digests of every group
/// are not all held together.
const RENDERED_AT_ONCE: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Compose(#[from] compose::ComposeError),
    #[error(transparent)]
    Outbox(#[from] outbox::OutboxError),
    #[error("the payroll figures of a digest could not be read: {0}")]
    Payroll(#[from] crate::payroll::PayrollError),
    #[error("database error while planning mail: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("no sender address: set [smtp] from, or configure a person with role \"assistant\"")]
    NoSender,
    #[error("the {name} email of {month} could not be made: {source}")]
    Close {
        name: &'static str,
        month: Month,
        source: CloseError,
    },
}

/// Everything planning needs, built once per process.
pub struct Planner<'a> {
    pub cfg: &'a Config,
    pub calendar: &'a Calendar,
    pub templates: &'a Templates,
    from: Mailbox,
    domain: String,
    closes: &'a [Box<dyn MonthlyClose>],
}

/// One email to queue, before rendering.
struct Owed<'c, E: Email> {
    key: String,
    lang: Language,
    ctx: &'c E,
    to: Vec<Contact>,
    cc: Vec<Contact>,
    in_reply_to: Option<String>,
    not_before: DateTime<Utc>,
}

impl<'a> Planner<'a> {
    pub fn new(
        cfg: &'a Config,
        calendar: &'a Calendar,
        templates: &'a Templates,
    ) -> Result<Planner<'a>, NotifyError> {
        let from = match &cfg.smtp {
            Some(smtp) => outbox::from_mailbox(smtp)?,
            None => cfg
                .roster
                .assistants()
                .next()
                .and_then(|a| Contact::from(a).mailbox().ok())
                .ok_or(NotifyError::NoSender)?,
        };
        let domain = from.email.domain().to_string();
        Ok(Planner {
            cfg,
            calendar,
            templates,
            from,
            domain,
            closes: &[],
        })
    }

    /// The planner with these monthly-close hooks.
    pub fn with_monthly_closes(mut self, closes: &'a [Box<dyn MonthlyClose>]) -> Planner<'a> {
        self.closes = closes;
        self
    }

    /// Queues every email the verdicts and the reply backlog owe at `now`
    /// and not queued before; returns how many were queued. Call it inside
    /// the transaction that judged, then [`Planner::queue_closes`].
    pub fn queue_judged(
        &self,
        conn: &Connection,
        verdicts: &[Verdict],
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        let mut queued = 0;
        // Verdicts pile up from tracking_starts on; only recent deadlines can
        // still owe (or have held back) a reminder or a notice.
        let recent = Planner::notices_from(now);
        let misaddressed = MissedSupervisor::new(reports::misaddressed_since(
            conn,
            recent - Duration::days(RECENT),
        )?);
        // Read after everything before judging queued what it owes, and
        // each deadline's own emails are queued only after its withdrawal.
        let unsent = outbox::Unsent::load(conn)?;
        for v in verdicts.iter().filter(|v| v.deadline.due > recent) {
            self.withdraw_stale(conn, &unsent, v, now)?;
            if !misaddressed.any(v) {
                queued += self.deadline_reminder(conn, v, now)?;
            }
            queued += self.late_notice(conn, v, &misaddressed, now)?;
            queued += self.fine_notice(conn, v, now)?;
        }
        queued += self.misaddressed(conn, now)?;
        queued += self.excuse_confirmations(conn, now)?;
        queued += self.cli_excuse_confirmations(conn, now)?;
        // Reply reminders and each digest need the whole backlog: read once,
        // and only if one of them may be owed.
        let backlog = Backlog::default();
        queued += self.reply_reminders(conn, &unsent, &backlog, now)?;
        queued += self.calendar_notices(conn, now)?;
        for kind in [Kind::Weekly, Kind::Monthly] {
            queued += self.digests(conn, kind, verdicts, &backlog, now)?;
        }
        Ok(queued)
    }

    /// The reply backlog of the pass at `now` ([`Planner::backlog`]), read
    /// the first time it is asked for.
    fn backlog_once<'b>(
        &self,
        backlog: &'b Backlog,
        conn: &Connection,
        now: DateTime<Utc>,
    ) -> Result<&'b [Backlogged], NotifyError> {
        if let Some(read) = backlog.get() {
            return Ok(read);
        }
        let read = self.backlog(conn, now)?;
        Ok(backlog.get_or_init(|| read))
    }

    /// Whether [`Planner::queue_judged`] at `now` needs the verdicts of
    /// every deadline (a digest is owed, whose lists and trends reach back
    /// to tracking's start) rather than only those due after
    /// [`Planner::notices_from`].
    pub fn needs_every_verdict(
        &self,
        conn: &Connection,
        now: DateTime<Utc>,
    ) -> Result<bool, NotifyError> {
        for kind in [Kind::Weekly, Kind::Monthly] {
            if self.digest_owed(conn, kind, now)?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The verdicts whose reminders and notices [`Planner::queue_judged`]
    /// looks at one by one are those of deadlines due after this instant.
    pub fn notices_from(now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::days(RECENT)
    }

    /// Queues the monthly closes owed at `now` (the payroll summary, the
    /// archive). They judge nothing themselves, so a pass lets its verdicts
    /// go before they build what they attach.
    pub fn queue_closes(
        &self,
        conn: &Connection,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        let mut queued = 0;
        for hook in self.closes {
            queued += self.monthly_close(conn, hook.as_ref(), now)?;
        }
        Ok(queued)
    }

    /// The next instant after `now` at which an email may become owed, so
    /// the daemon can sleep until then.
    pub fn next_event(
        &self,
        conn: &Connection,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, NotifyError> {
        let tz = self.cfg.timezone;
        let schedule = &self.cfg.notify.schedule;
        let mut times = Vec::new();
        for p in self.cfg.roster.reporters() {
            for kind in [Kind::Weekly, Kind::Monthly] {
                let judged = compliance::judged_deadlines(p, kind, self.cfg, self.calendar, now);
                if let Some(open) = judged.last() {
                    times.extend(schedule.deadline_reminders(open, self.calendar, tz));
                }
                // The digest of a deadline that just passed is still to
                // come, and over a long holiday so may an earlier one's:
                // wake at each, not only at the open deadline's.
                let recent = judged.iter().rev().take(DIGEST_LOOKBACK);
                times.extend(recent.map(|d| schedule.digest(d, self.calendar, tz)));
            }
        }
        for r in replies::waiting_for_reply(&self.backlog(conn, now)?) {
            let steps = schedule.reply_reminders + 1;
            times.extend((1..=steps).map(|n| self.step_at(r, n)));
        }
        times.push(schedule.next_reply_reminder_time(now, self.calendar, tz));
        times.extend(self.next_close(now));
        Ok(times.into_iter().filter(|t| *t > now).min())
    }

    /// The instant tracking began: reports since then are the backlog.
    fn tracking_began(&self) -> DateTime<Utc> {
        let midnight = chrono::NaiveTime::MIN;
        crate::notify::schedule::at_local(self.cfg.tracking_starts, midnight, self.cfg.timezone)
    }

    fn lang(&self, p: &Person) -> Language {
        p.language.unwrap_or(self.cfg.language)
    }

    fn active(&self, p: &Person, now: DateTime<Utc>) -> bool {
        p.until.is_none_or(|u| self.today(now) <= u)
    }

    /// The team's date at `now`.
    fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.cfg.timezone).date_naive()
    }

    /// `p` as said at `now`: with its year when that is another
    /// ([`names::period_on`]).
    fn period_name(&self, p: Period, lang: Language, now: DateTime<Utc>) -> String {
        names::period_on(p, lang, self.today(now))
    }

    fn person(&self, email: &str) -> Option<&'a Person> {
        self.cfg.roster.by_email(email)
    }

    fn assistant(&self) -> Option<Contact> {
        self.cfg.roster.assistants().next().map(Contact::from)
    }

    /// An instant as `lang` says it (`11月23日（周一）09:10`).
    fn local(&self, t: DateTime<Utc>, lang: Language, now: DateTime<Utc>) -> String {
        names::time_on(t, self.cfg.timezone, lang, self.today(now))
    }

    /// A deadline as `lang` says it (`11月2日（周一）当天`).
    fn due(&self, d: &Deadline, lang: Language, now: DateTime<Utc>) -> String {
        names::deadline_on(d, self.cfg.timezone, lang, self.today(now))
    }

    /// The mark said after a deadline judged on a provisional calendar.
    fn provisional(&self, d: &Deadline, lang: Language) -> Option<String> {
        names::provisional(&d.provisional_years(self.calendar, self.cfg.timezone), lang)
    }

    /// The payroll month a fine for `d` is deducted in, as `lang` says it.
    fn payroll_month(&self, d: &Deadline, lang: Language) -> String {
        names::month(d.payroll_month(self.cfg.timezone), lang)
    }

    fn quiet(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.cfg.notify.schedule.outside_quiet(t, self.cfg.timezone)
    }

    /// When a notice that a deadline passed goes out: `late_notice_after`
    /// past it (a report a minute late then withdraws it, and the fine
    /// notice speaks alone), outside the quiet hours.
    fn after_deadline(&self, d: &Deadline, now: DateTime<Utc>) -> DateTime<Utc> {
        let grace = self.cfg.notify.schedule.late_notice_after;
        self.quiet((d.due + grace).max(now - Duration::minutes(1)))
    }

    /// The fine of `person`'s `period` as a notice announces it, when one
    /// is booked and not waived.
    fn booked_fine(
        &self,
        conn: &Connection,
        person: &str,
        period: Period,
        lang: Language,
    ) -> Result<Option<BookedFine>, NotifyError> {
        let (amount, fund_share) = ledger::net_and_fund_for(conn, person, &period.to_string())?;
        if amount <= Fen::ZERO {
            return Ok(None);
        }
        let due = compliance::deadline_of(self.cfg, self.calendar, period);
        Ok(Some(BookedFine {
            amount,
            fund_share,
            payroll_month: due
                .map(|d| self.payroll_month(&d, lang))
                .unwrap_or_default(),
        }))
    }

    fn queue<E: Email>(
        &self,
        conn: &Connection,
        owed: Owed<'_, E>,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        if outbox::state_of(conn, &owed.key)?.is_some() {
            return Ok(0);
        }
        let out = self.outgoing(&owed, now)?;
        Ok(usize::from(outbox::enqueue(conn, &out, now)?))
    }

    /// Queues each of `owed` as [`Planner::queue`] would, in order.
    /// Rendering and composing, most of a digest pass's time, run on every
    /// core, [`RENDERED_AT_ONCE`] emails at a time.
    fn queue_all<E: Email + Sync>(
        &self,
        conn: &Connection,
        owed: Vec<Owed<'_, E>>,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        let mut due = Vec::with_capacity(owed.len());
        for o in owed {
            if outbox::state_of(conn, &o.key)?.is_none() {
                due.push(o);
            }
        }
        let mut queued = 0;
        for some in due.chunks(RENDERED_AT_ONCE) {
            let made: Vec<Result<Outgoing, NotifyError>> =
                some.par_iter().map(|o| self.outgoing(o, now)).collect();
            for out in made {
                queued += usize::from(outbox::enqueue(conn, &out?, now)?);
            }
        }
        Ok(queued)
    }

    /// `owed` rendered and composed into the message the outbox keeps.
    fn outgoing<E: Email>(
        &self,
        owed: &Owed<'_, E>,
        now: DateTime<Utc>,
    ) -> Result<Outgoing, NotifyError> {
        let rendered = self.templates.render_email(owed.lang, owed.ctx)?;
        let to = owed
            .to
            .iter()
            .map(Contact::mailbox)
            .collect::<Result<Vec<_>, _>>()?;
        let cc = owed
            .cc
            .iter()
            .map(Contact::mailbox)
            .collect::<Result<Vec<_>, _>>()?;
        let message_id = outbox::message_id_for(&owed.key, &self.domain);
        let references: Vec<String> = owed.in_reply_to.iter().cloned().collect();
        let message = compose::compose_message(
            &self.from,
            &to,
            &cc,
            &rendered,
            &message_id,
            owed.in_reply_to.as_deref(),
            &references,
            owed.not_before.max(now),
        )?;
        Ok(Outgoing::from_message(
            &owed.key,
            E::KIND,
            &message,
            owed.not_before,
        )?)
    }

    fn deadline_reminder(
        &self,
        conn: &Connection,
        v: &Verdict,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        // Only a deadline still open is reminded of: the reminder times of
        // the others are not computed.
        if v.status != Status::Pending {
            return Ok(0);
        }
        // The latest reminder time that came: after downtime, one reminder,
        // not each one missed.
        let Some(at) = self
            .deadline_reminder_times(v)
            .into_iter()
            .rev()
            .find(|t| *t <= now)
        else {
            return Ok(0);
        };
        let not_before = self.quiet(at);
        if not_before >= v.deadline.due {
            return Ok(0);
        }
        let Some((person, supervisor)) = self.reporter(&v.person, now) else {
            return Ok(0);
        };
        let lang = self.lang(person);
        let ctx = DeadlineReminder {
            person: Contact::from(person),
            supervisor: Contact::from(supervisor),
            assistant: self.assistant(),
            kind: v.deadline.period.kind(),
            period: self.period_name(v.deadline.period, lang, now),
            due: self.due(&v.deadline, lang, now),
            provisional: self.provisional(&v.deadline, lang),
            fine: self.cfg.rules.fine,
        };
        let key = deadline_reminder_key(&person.email, v.deadline.period, at, self.cfg.timezone);
        let owed = Owed {
            key,
            lang,
            ctx: &ctx,
            to: vec![ctx.person.clone()],
            cc: vec![],
            in_reply_to: None,
            not_before,
        };
        self.queue(conn, owed, now)
    }

    fn deadline_reminder_times(&self, v: &Verdict) -> Vec<DateTime<Utc>> {
        self.cfg
            .notify
            .schedule
            .deadline_reminders(&v.deadline, self.calendar, self.cfg.timezone)
    }

    /// Withdraws notices held back (quiet hours, a server refusing) that
    /// `v` no longer owes: a deadline reminder once the deadline passed or
    /// the report is in, a late notice once the report arrived or a reason
    /// was filed. Only keys among `unsent` are looked at.
    fn withdraw_stale(
        &self,
        conn: &Connection,
        unsent: &outbox::Unsent,
        v: &Verdict,
        now: DateTime<Utc>,
    ) -> Result<(), NotifyError> {
        let (person, period) = (v.person.as_str(), v.deadline.period);
        let why = match v.status {
            Status::Pending => return Ok(()),
            Status::Missing => "no longer owed: the deadline passed (the late notice takes over)",
            Status::Late | Status::OnTime => "no longer owed: the report arrived",
            Status::Excused => "no longer owed: a valid reason was filed",
        };
        // The reminder times are computed only for a deadline with one held.
        if unsent.any_with_prefix(&deadline_reminder_prefix(person, period)) {
            for at in self.deadline_reminder_times(v) {
                let key = deadline_reminder_key(person, period, at, self.cfg.timezone);
                unsent.cancel(conn, &key, why, now)?;
            }
        }
        if v.status != Status::Missing {
            unsent.cancel(conn, &late_notice_key(person, period), why, now)?;
        }
        Ok(())
    }

    /// The reporter and their supervisor, when both are configured and the
    /// reporter has not left.
    fn reporter(&self, email: &str, now: DateTime<Utc>) -> Option<(&'a Person, &'a Person)> {
        let person = self.person(email).filter(|p| self.active(p, now))?;
        let supervisor = self.cfg.roster.supervisor_of(person)?;
        Some((person, supervisor))
    }

    /// The late notice of a deadline that passed with nothing, unless the
    /// report came before it but missed the supervisor: the misaddressed
    /// notice then says so instead, and names the fine.
    fn late_notice(
        &self,
        conn: &Connection,
        v: &Verdict,
        misaddressed: &MissedSupervisor,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        if v.status != Status::Missing || v.deadline.due < now - Duration::days(CATCH_UP) {
            return Ok(0);
        }
        if let Some(held) = misaddressed.held_at_deadline(v) {
            let why =
                "replaced by the misaddressed notice: the report came but missed the supervisor";
            let key = late_notice_key(&v.person, v.deadline.period);
            outbox::cancel_unsent(conn, &key, why, now)?;
            return self.misaddressed_fine(conn, held, now);
        }
        let Some((person, supervisor)) = self.reporter(&v.person, now) else {
            return Ok(0);
        };
        let key = late_notice_key(&person.email, v.deadline.period);
        // Queued by an earlier pass, the usual case: nothing to make.
        if outbox::state_of(conn, &key)?.is_some() {
            return Ok(0);
        }
        let lang = self.lang(person);
        let (fine, fund_share) = self.cfg.rules.fine_and_fund_share();
        let ctx = LateNotice {
            person: Contact::from(person),
            supervisor: Contact::from(supervisor),
            assistant: self.assistant(),
            kind: v.deadline.period.kind(),
            period: self.period_name(v.deadline.period, lang, now),
            due: self.due(&v.deadline, lang, now),
            provisional: self.provisional(&v.deadline, lang),
            fine,
            fund_share,
            payroll_month: self.payroll_month(&v.deadline, lang),
            excuse_subject: compose::excuse_subject(v.deadline.period, &person.email, lang),
            waiver_words: self.cfg.notify.waiver_words.clone(),
            waiver_example: compose::waiver_word_for(&self.cfg.notify.waiver_words, lang),
        };
        let owed = Owed {
            key: key.clone(),
            lang,
            ctx: &ctx,
            to: vec![ctx.person.clone()],
            cc: vec![ctx.supervisor.clone()],
            in_reply_to: None,
            not_before: self.after_deadline(&v.deadline, now),
        };
        let queued = self.queue(conn, owed, now)?;
        if queued > 0 {
            // The supervisor may answer the notice to file a valid reason.
            let id = outbox::message_id_for(&key, &self.domain);
            commands::expect_answer(conn, &id, &person.email, v.deadline.period)?;
        }
        Ok(queued)
    }

    /// The fine notice of a report that arrived after its deadline, once
    /// the fine is booked (and not waived).
    fn fine_notice(
        &self,
        conn: &Connection,
        v: &Verdict,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        let Some(report) = v.report.as_ref().filter(|_| v.status == Status::Late) else {
            return Ok(0);
        };
        if report.received < now - Duration::days(CATCH_UP) {
            return Ok(0);
        }
        let Some((person, supervisor)) = self.reporter(&v.person, now) else {
            return Ok(0);
        };
        let key = format!("fine-notice:{}:{}", person.email, v.deadline.period);
        // Queued by an earlier pass, the usual case: nothing to make.
        if outbox::state_of(conn, &key)?.is_some() {
            return Ok(0);
        }
        let (fine, fund_share) =
            ledger::net_and_fund_for(conn, &v.person, &v.deadline.period.to_string())?;
        if fine <= Fen::ZERO {
            return Ok(0);
        }
        let lang = self.lang(person);
        let subject = reports::subject_of(conn, report.id)?.unwrap_or_default();
        let ctx = FineNotice {
            person: Contact::from(person),
            supervisor: Contact::from(supervisor),
            kind: v.deadline.period.kind(),
            period: self.period_name(v.deadline.period, lang, now),
            due: self.due(&v.deadline, lang, now),
            provisional: self.provisional(&v.deadline, lang),
            received: self.local(report.received, lang, now),
            late_by: names::duration(report.received - v.deadline.due, lang),
            fine,
            fund_share,
            payroll_month: self.payroll_month(&v.deadline, lang),
            report_subject: subject,
            already_announced: outbox::state_of(
                conn,
                &late_notice_key(&person.email, v.deadline.period),
            )? == Some(outbox::State::Sent),
        };
        let owed = Owed {
            key,
            lang,
            ctx: &ctx,
            to: vec![ctx.person.clone()],
            cc: vec![ctx.supervisor.clone()],
            in_reply_to: report.message_id.clone(),
            not_before: self.quiet(now),
        };
        self.queue(conn, owed, now)
    }

    /// A confirmation for each reason filed with `reportd excuse` (those
    /// filed by email are confirmed by [`Self::excuse_confirmations`]).
    fn cli_excuse_confirmations(
        &self,
        conn: &Connection,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        let mut queued = 0;
        for e in compliance::filed_without_email(conn, now - Duration::days(CATCH_UP))? {
            let Some(filer) = self.person(&e.by) else {
                continue;
            };
            let person = self.person(&e.person);
            let lang = self.lang(filer);
            let ctx = ExcuseConfirmation {
                filer: Contact::from(filer),
                person: person.map(Contact::from),
                kind: Some(e.period.kind()),
                period: Some(self.period_name(e.period, lang, now)),
                reason: e.reason.clone(),
                request_subject: String::new(),
                by_email: false,
                received: self.local(e.at, lang, now),
                outcome: self.accepted(conn, &e.person, e.period, e.at, lang)?,
                example_subject: compose::excuse_subject(e.period, &e.person, lang),
            };
            let cc = self.confirmation_cc(filer, person);
            let owed = Owed {
                key: format!("excuse-confirmation:excuse:{}", e.id),
                lang,
                ctx: &ctx,
                to: vec![ctx.filer.clone()],
                cc,
                in_reply_to: None,
                not_before: self.quiet(now),
            };
            queued += self.queue(conn, owed, now)?;
        }
        Ok(queued)
    }

    /// A confirmation (or refusal) for each command received by email.
    fn excuse_confirmations(
        &self,
        conn: &Connection,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        let mut queued = 0;
        for c in commands::received_since(conn, now - Duration::days(CATCH_UP))? {
            let Some(filer) = self.person(&c.filer) else {
                continue;
            };
            let person = c.person.as_deref().and_then(|p| self.person(p));
            let lang = self.lang(filer);
            let outcome = match (c.why, &c.person, c.period) {
                (None, Some(p), Some(period)) => {
                    self.accepted(conn, p, period, c.received, lang)?
                }
                (None, _, _) => ExcuseOutcome::Accepted {
                    waived: None,
                    refund_month: None,
                    in_advance: false,
                },
                (Some(why), _, _) => ExcuseOutcome::Refused { why },
            };
            let accepted = c.why.is_none();
            let ctx = ExcuseConfirmation {
                filer: Contact::from(filer),
                person: person.map(Contact::from),
                kind: c.period.map(|p| p.kind()),
                period: c.period.map(|p| self.period_name(p, lang, now)),
                reason: c.reason.clone(),
                request_subject: c.subject.clone(),
                by_email: true,
                received: self.local(c.received, lang, now),
                outcome,
                example_subject: self.example_excuse_subject(&c, lang),
            };
            let cc = match accepted {
                true => self.confirmation_cc(filer, person),
                false => vec![],
            };
            let owed = Owed {
                key: format!("excuse-confirmation:{}", c.message),
                lang,
                ctx: &ctx,
                to: vec![ctx.filer.clone()],
                cc,
                in_reply_to: c.message_id.clone(),
                not_before: self.quiet(now),
            };
            queued += self.queue(conn, owed, now)?;
        }
        Ok(queued)
    }

    /// The misaddressed notice of each report that missed the supervisor,
    /// at once. One that came before its deadline and was read after it is
    /// left to [`Self::misaddressed_fine`], which names the fine.
    fn misaddressed(&self, conn: &Connection, now: DateTime<Utc>) -> Result<usize, NotifyError> {
        let mut queued = 0;
        for r in reports::misaddressed_since(conn, now - Duration::days(CATCH_UP))? {
            let due = compliance::deadline_of(self.cfg, self.calendar, r.period);
            if due.is_some_and(|d| r.received < d.due && d.due <= now) {
                continue;
            }
            let key = format!("misaddressed:{}", r.id);
            let not_before = self.quiet(r.received.max(now - Duration::minutes(1)));
            queued += self.queue_misaddressed(conn, &r, key, not_before, now)?;
        }
        Ok(queued)
    }

    /// The misaddressed notice that announces the fine of a deadline that
    /// passed while the report held for it had missed the supervisor: once
    /// per period, in place of the late notice, `late_notice_after` past
    /// the deadline.
    fn misaddressed_fine(
        &self,
        conn: &Connection,
        held: &ReportInfo,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        let Some(due) = compliance::deadline_of(self.cfg, self.calendar, held.period) else {
            return Ok(0);
        };
        let key = format!("misaddressed-fine:{}:{}", held.person, held.period);
        let not_before = self.after_deadline(&due, now);
        let queued = self.queue_misaddressed(conn, held, key.clone(), not_before, now)?;
        if queued > 0 {
            // Like the late notice it replaces, the supervisor may answer it
            // to file a valid reason.
            let id = outbox::message_id_for(&key, &self.domain);
            commands::expect_answer(conn, &id, &held.person, held.period)?;
        }
        Ok(queued)
    }

    /// Queues a misaddressed notice about `r` to the rep; when it names a
    /// fine (the deadline has passed) the supervisor is in Cc, as on every
    /// fine notice.
    fn queue_misaddressed(
        &self,
        conn: &Connection,
        r: &ReportInfo,
        key: String,
        not_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        // Every pass comes here for each misaddressed report of the
        // catch-up window: check the key before reading and parsing its raw.
        if outbox::state_of(conn, &key)?.is_some() {
            return Ok(0);
        }
        let Some((person, supervisor)) = self.reporter(&r.person, now) else {
            return Ok(0);
        };
        let due = compliance::deadline_of(self.cfg, self.calendar, r.period);
        let lang = self.lang(person);
        let raw = reports::raw_of(conn, r.id)?.unwrap_or_default();
        let deadline_passed = due.is_some_and(|d| d.due <= now);
        let fine = if deadline_passed {
            self.booked_fine(conn, &person.email, r.period, lang)?
        } else {
            None
        };
        let ctx = Misaddressed {
            person: Contact::from(person),
            supervisor: Contact::from(supervisor),
            assistant: self.assistant(),
            kind: r.period.kind(),
            period: self.period_name(r.period, lang, now),
            due: due.map(|d| self.due(&d, lang, now)).unwrap_or_default(),
            provisional: due.and_then(|d| self.provisional(&d, lang)),
            deadline_passed,
            report_subject: r.subject.clone(),
            received: self.local(r.received, lang, now),
            sent_to: self.recipients_of(&raw),
            fine,
        };
        let cc = match ctx.fine {
            Some(_) => vec![ctx.supervisor.clone()],
            None => vec![],
        };
        let owed = Owed {
            key,
            lang,
            ctx: &ctx,
            to: vec![ctx.person.clone()],
            cc,
            in_reply_to: r.message_id.clone(),
            not_before,
        };
        self.queue(conn, owed, now)
    }

    /// The To and Cc of a stored message, each named as the roster names
    /// them (the sender's own display name only for addresses it does not
    /// know).
    fn recipients_of(&self, raw: &[u8]) -> Vec<Contact> {
        let Ok(env) = crate::mail::parse::parse(raw) else {
            return Vec::new();
        };
        env.to
            .iter()
            .chain(&env.cc)
            .map(|m| match self.person(&m.email) {
                Some(p) => Contact::from(p),
                None => Contact::new(m.name.clone().unwrap_or_default(), m.email.clone()),
            })
            .collect()
    }

    /// An accepted reason's outcome: the fine it reversed, if any, and the
    /// payroll month that pays it back when the fine's own payroll went out
    /// already (the payroll summary's rule: a later waiver is a refund line
    /// in the next summary).
    fn accepted(
        &self,
        conn: &Connection,
        person: &str,
        period: Period,
        filed_at: DateTime<Utc>,
        lang: Language,
    ) -> Result<ExcuseOutcome, NotifyError> {
        let in_advance = compliance::deadline_of(self.cfg, self.calendar, period)
            .is_some_and(|d| filed_at < d.due);
        let period = period.to_string();
        let waived = ledger::waived(conn, person, &period)?;
        let refund_month = match waived {
            Some(_) => crate::payroll::summary::refund_month(conn, person, &period)?
                .map(|m| names::month(m, lang)),
            None => None,
        };
        Ok(ExcuseOutcome::Accepted {
            waived,
            refund_month,
            in_advance,
        })
    }

    /// Who reads a confirmation besides its filer: the rep and the rep's
    /// supervisor, each once and never the filer again.
    fn confirmation_cc(&self, filer: &Person, person: Option<&Person>) -> Vec<Contact> {
        let supervisor = person.and_then(|p| self.cfg.roster.supervisor_of(p));
        let mut cc: Vec<Contact> = Vec::new();
        for p in person.into_iter().chain(supervisor) {
            if p.email != filer.email && !cc.iter().any(|c| c.email == p.email) {
                cc.push(Contact::from(p));
            }
        }
        cc
    }

    /// The excuse subject a refusal shows: for the period and person the
    /// filer meant when they could be read, else for the week the email
    /// came in and the first reporter.
    fn example_excuse_subject(&self, c: &commands::Received, lang: Language) -> String {
        let example = self.cfg.roster.reporters().next();
        let person = c
            .person
            .as_deref()
            .or(example.map(|p| p.email.as_str()))
            .unwrap_or("name@example.com");
        let day = c.received.with_timezone(&self.cfg.timezone).date_naive();
        let period = c
            .period
            .unwrap_or_else(|| Period::containing(Kind::Weekly, day));
        compose::excuse_subject(period, person, lang)
    }

    /// People who directly supervise at least one reporter.
    fn supervisors(&self) -> Vec<&'a Person> {
        let mut out: Vec<&Person> = Vec::new();
        for p in self.cfg.roster.reporters() {
            if let Some(s) = self.cfg.roster.supervisor_of(p)
                && !out.iter().any(|o| o.email == s.email)
            {
                out.push(s);
            }
        }
        out
    }
}

/// The misaddressed reports of the last weeks, by person and period: each
/// recent deadline looks up its own.
struct MissedSupervisor(ByPersonPeriod<Vec<ReportInfo>>);

impl MissedSupervisor {
    fn new(reports: Vec<ReportInfo>) -> MissedSupervisor {
        let mut by: ByPersonPeriod<Vec<ReportInfo>> = ByPersonPeriod::default();
        for r in reports {
            let (person, period) = (r.person.clone(), r.period);
            match by.get_mut(&person, period) {
                Some(list) => list.push(r),
                None => {
                    by.insert(&person, period, vec![r]);
                }
            }
        }
        MissedSupervisor(by)
    }

    /// Those of `v`'s person and period.
    fn of(&self, v: &Verdict) -> &[ReportInfo] {
        self.0
            .get(&v.person, v.deadline.period)
            .map_or(&[], Vec::as_slice)
    }

    /// Whether the report of `v` came but missed the supervisor: the
    /// misaddressed notice then speaks for the deadline (no reminder, no
    /// missing notice).
    fn any(&self, v: &Verdict) -> bool {
        !self.of(v).is_empty()
    }

    /// The latest report of `v` that came before the deadline but missed
    /// the supervisor, if any: the deadline's notice is then a misaddressed
    /// one. (A misaddressed report that came after the deadline has its own
    /// notice; the late notice went before it.)
    fn held_at_deadline(&self, v: &Verdict) -> Option<&ReportInfo> {
        self.of(v)
            .iter()
            .filter(|r| r.received < v.deadline.due)
            .max_by_key(|r| r.received)
    }
}

/// The idempotency key of the deadline reminder owed at `at` (local time
/// in the key, so another reminder time of the same deadline is another
/// email).
fn deadline_reminder_key(
    person: &str,
    period: Period,
    at: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> String {
    let local = at.with_timezone(&tz).format("%Y-%m-%dT%H:%M");
    format!("{}{local}", deadline_reminder_prefix(person, period))
}

/// What the keys of every deadline reminder of `person`'s `period` begin with.
fn deadline_reminder_prefix(person: &str, period: Period) -> String {
    format!("deadline-reminder:{person}:{period}:")
}

/// The idempotency key of a late notice; email commands answering one look
/// it up.
pub fn late_notice_key(person: &str, period: Period) -> String {
    format!("late-notice:{person}:{period}")
}

/// A planner over the shared test team and a fresh database.
#[cfg(test)]
pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    pub conn: Connection,
    cfg: Config,
    calendar: Calendar,
    templates: compose::Templates,
}

#[cfg(test)]
impl Fixture {
    pub(crate) fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("dir");
        let conn = crate::store::open(&dir.path().join("d.sqlite3")).expect("db");
        Fixture {
            _dir: dir,
            conn,
            cfg: crate::test_team::config(),
            calendar: Calendar::load(&[]).expect("calendar"),
            templates: compose::Templates::new().expect("templates"),
        }
    }

    pub(crate) fn planner(&self) -> Planner<'_> {
        Planner::new(&self.cfg, &self.calendar, &self.templates).expect("planner")
    }

    /// Every verdict at `now`, as a pass hands them to the planner.
    pub(crate) fn verdicts(&self, now: DateTime<Utc>) -> Vec<Verdict> {
        compliance::verdicts(&self.conn, &self.cfg, &self.calendar, now, &[]).expect("verdicts")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::schedule::at_local;
    use crate::test_team::shanghai as at;

    fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        let day = chrono::NaiveDate::from_ymd_opt(y, m, d).expect("date");
        let time = chrono::NaiveTime::from_hms_opt(h, min, 0).expect("time");
        at_local(day, time, chrono_tz::Asia::Shanghai)
    }

    #[test]
    fn a_reason_filed_after_the_deadline_with_no_fine_to_reverse_is_not_confirmed_as_filed_in_advance()
     {
        let f = Fixture::new();
        let planner = f.planner();
        let text_of = |key: &str| -> String {
            let (_, _, raw) = outbox::raw_messages(&f.conn)
                .expect("outbox")
                .into_iter()
                .find(|(k, _, _)| k == key)
                .expect("confirmation queued");
            let mail = mailparse::parse_mail(&raw).expect("parse");
            mail.subparts[0].get_body().expect("text")
        };
        // Week 45 (due 7 November) filed on 30 November, with nothing
        // booked for it; week 50 filed before its deadline.
        let late = at(2026, 11, 30, 9);
        let w45: Period = "2026-W45".parse().expect("period");
        let w50: Period = "2026-W50".parse().expect("period");
        for period in [w45, w50] {
            compliance::file_excuse(
                &f.conn,
                &f.cfg,
                "lina@example.com",
                period,
                "出差",
                "wangfang@example.com",
                late,
            )
            .expect("filed");
        }
        planner
            .cli_excuse_confirmations(&f.conn, late)
            .expect("queue");
        let after = text_of("excuse-confirmation:excuse:1");
        assert!(after.contains("本期没有记罚款"), "{after}");
        assert!(!after.contains("截止前登记"), "{after}");
        let before = text_of("excuse-confirmation:excuse:2");
        assert!(
            before.contains("理由在截止前登记，本期不会罚款"),
            "{before}"
        );
    }

    #[test]
    fn the_daemon_wakes_at_the_digest_of_the_deadline_that_just_passed() {
        let f = Fixture::new();
        let planner = f.planner();
        // Week 48 was due Saturday 28 November 22:00; its digest is Monday
        // 30 November 08:30, before anything else on Monday.
        for now in [at(2026, 11, 28, 23), at(2026, 11, 29, 12)] {
            let next = planner.next_event(&f.conn, now).expect("plan");
            assert_eq!(next, Some(local(2026, 11, 30, 8, 30)));
        }
    }

    #[test]
    fn the_daemon_wakes_at_the_morning_reply_reminder_time_of_a_working_day() {
        let f = Fixture::new();
        // Wednesday 9 December 08:45, no deadline reminder or digest before
        // Friday: the next event is the reply reminder time, 09:00.
        let next = f
            .planner()
            .next_event(&f.conn, local(2026, 12, 9, 8, 45))
            .expect("plan");
        assert_eq!(next, Some(local(2026, 12, 9, 9, 0)));
    }

    #[test]
    fn emails_composed_on_every_core_are_queued_in_order_with_the_bytes_of_one_after_another() {
        let now = at(2026, 11, 30, 9);
        let (one_by_one, all_at_once) = (Fixture::new(), Fixture::new());
        let lina = one_by_one
            .cfg
            .roster
            .by_email("lina@example.com")
            .expect("lina");
        // More than a few rounds of RENDERED_AT_ONCE, each email different.
        let contexts: Vec<ExcuseConfirmation> = (0..RENDERED_AT_ONCE * 2 + 5)
            .map(|i| ExcuseConfirmation {
                filer: Contact::from(lina),
                person: Some(Contact::from(lina)),
                kind: Some(Kind::Weekly),
                period: Some(format!("第{}周", i + 1)),
                reason: format!("出差 {i}"),
                request_subject: String::new(),
                by_email: false,
                received: "11月30日 09:00".into(),
                outcome: ExcuseOutcome::Accepted {
                    waived: None,
                    refund_month: None,
                    in_advance: true,
                },
                example_subject: String::new(),
            })
            .collect();
        let owed = || {
            contexts.iter().enumerate().map(|(i, ctx)| Owed {
                key: format!("test:{i}"),
                lang: Language::Zh,
                ctx,
                to: vec![ctx.filer.clone()],
                cc: vec![],
                in_reply_to: None,
                not_before: now,
            })
        };
        let planner = one_by_one.planner();
        let mut queued = 0;
        for o in owed() {
            queued += planner.queue(&one_by_one.conn, o, now).expect("queue");
        }
        assert_eq!(queued, contexts.len());
        // One of them was queued before: it is not queued again.
        let planner = all_at_once.planner();
        let first = owed().nth(3).expect("owed");
        assert_eq!(
            planner.queue(&all_at_once.conn, first, now).expect("queue"),
            1
        );
        let rest: Vec<_> = owed().filter(|o| o.key != "test:3").collect();
        let queued = planner
            .queue_all(&all_at_once.conn, owed().collect(), now)
            .expect("queue all");
        assert_eq!(queued, rest.len());
        let keyed = |f: &Fixture| {
            let mut rows = outbox::raw_messages(&f.conn).expect("outbox");
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            rows
        };
        assert_eq!(keyed(&all_at_once), keyed(&one_by_one));
        // In order: after the one queued first, the rest by their keys' order.
        let order: Vec<String> = outbox::raw_messages(&all_at_once.conn)
            .expect("outbox")
            .into_iter()
            .map(|(key, _, _)| key)
            .collect();
        let expected: Vec<String> = std::iter::once("test:3".to_string())
            .chain(rest.iter().map(|o| o.key.clone()))
            .collect();
        assert_eq!(order, expected);
    }
}
