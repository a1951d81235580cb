//! Planning the weekly and monthly digests: once a deadline's digest time
//! has come, one email to each supervisor about their group and one to
//! each manager about every group. What goes in each (see
//! `notify::compose::digest`) comes from the verdicts of every judged
//! deadline (this period, the trend window, every report still owed), the
//! payroll summary of the month (fines per person, the activity fund) and
//! the reports since tracking began (every one still waiting for a reply;
//! the reply rate over the last [`RECENT`] days).

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, Utc};
use rayon::prelude::*;
use rusqlite::Connection;

use super::replies::header;
use super::{CATCH_UP, NotifyError, Owed, Planner, RECENT};
use crate::config::{BySupervisor, Language, Person};
use crate::ledger;
use crate::money::Fen;
use crate::names;
use crate::notify::compose::{
    Audience, Contact, Digest, DigestGroup, DigestHeading, DigestRow, FineTally, GroupStats,
    Listed, PendingReply, ReplyState, StillOwed, Trend,
};
use crate::notify::outbox;
use crate::payroll::summary::{self as payroll, PersonPay, Summary};
use crate::period::{ByPersonPeriod, Deadline, Kind, Month, Period};
use crate::reports::compliance::{self, Status, Verdict};
use crate::reports::{self, Backlogged, ReportHeaders};

/// Periods in a trend line.
const HISTORY: usize = 8;

/// The digest of one deadline: everything shared by its recipients.
struct DigestPlan<'v> {
    deadline: Deadline,
    /// When it is due to go out.
    at: DateTime<Utc>,
    /// The trend window, oldest first, ending with the deadline's period.
    periods: Vec<Period>,
    /// The payroll month "this month" means: the deadline's.
    month: Month,
    /// The payroll summary of `month` (fines per person, the fund).
    payroll: &'v Summary,
    /// Every judged deadline of every reporter at `now`, and the counting
    /// reports since tracking began (every one still waiting for a reply
    /// is listed; the reply rate looks at the last [`RECENT`] days), looked
    /// up by person.
    index: Index<'v>,
    /// The reporters of each supervisor, in config order.
    members: BySupervisor<&'v Person>,
}

/// A supervisor's group, made in each language its readers read: the
/// supervisor's own and every manager's.
struct Groups<'p> {
    supervisor: &'p Person,
    own: DigestGroup,
    others: Vec<(Language, DigestGroup)>,
}

impl Groups<'_> {
    /// The group as `lang` reads it (in the supervisor's language when it
    /// was not made in `lang`).
    fn read_in(&self, lang: Language) -> DigestGroup {
        self.others
            .iter()
            .find(|(l, _)| *l == lang)
            .map_or(&self.own, |(_, g)| g)
            .clone()
    }
}

/// A digest made and not yet queued.
struct MadeDigest {
    key: String,
    lang: Language,
    digest: Digest,
    not_before: DateTime<Utc>,
}

impl MadeDigest {
    fn owed(&self) -> Owed<'_, Digest> {
        Owed {
            key: self.key.clone(),
            lang: self.lang,
            ctx: &self.digest,
            to: vec![self.digest.recipient.clone()],
            cc: vec![],
            in_reply_to: None,
            not_before: self.not_before,
        }
    }
}

/// A map hashed with foldhash: its keys are roster addresses and periods,
/// not chosen by whoever sends mail, and the standard SipHash was a tenth
/// of building the [`ByPerson`] index.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Every verdict and report indexed by person: built on one core while
/// the payroll summary is read on another, then part of the [`Index`].
struct ByPerson<'v> {
    verdicts: &'v [Verdict],
    reports: &'v [Backlogged],
    /// Person → the positions of their verdicts in `verdicts`.
    verdicts_of: FastMap<&'v str, Vec<usize>>,
    /// (person, period) → the first verdict of that deadline.
    verdict_at: FastMap<(&'v str, Period), &'v Verdict>,
    /// Person → the positions of their reports in `reports`.
    reports_of: FastMap<&'v str, Vec<usize>>,
}

impl<'v> ByPerson<'v> {
    fn new(verdicts: &'v [Verdict], reports: &'v [Backlogged]) -> ByPerson<'v> {
        let mut verdicts_of: FastMap<&str, Vec<usize>> = FastMap::default();
        let mut verdict_at = FastMap::default();
        for (i, v) in verdicts.iter().enumerate() {
            verdicts_of.entry(v.person.as_str()).or_default().push(i);
            verdict_at
                .entry((v.person.as_str(), v.deadline.period))
                .or_insert(v);
        }
        let mut reports_of: FastMap<&str, Vec<usize>> = FastMap::default();
        for (i, r) in reports.iter().enumerate() {
            reports_of.entry(r.person.as_str()).or_default().push(i);
        }
        ByPerson {
            verdicts,
            reports,
            verdicts_of,
            verdict_at,
            reports_of,
        }
    }
}

/// What a digest reads, by person: built once per deadline so each card,
/// group and heading is a few hash look-ups, not a scan of every verdict,
/// report, payroll row and ledger entry.
struct Index<'v> {
    people: ByPerson<'v>,
    /// Person → the first payroll row with their address.
    pay_of: FastMap<&'v str, &'v PersonPay>,
    /// (person, period) → the net of the ledger's entries.
    nets: ByPersonPeriod<Fen>,
}

impl<'v> Index<'v> {
    fn new(people: ByPerson<'v>, payroll: &'v Summary, nets: ByPersonPeriod<Fen>) -> Index<'v> {
        let mut pay_of = FastMap::default();
        for x in &payroll.people {
            pay_of.entry(x.email.as_str()).or_insert(x);
        }
        Index {
            people,
            pay_of,
            nets,
        }
    }

    /// The verdicts of `people`, each once, in the order of all verdicts.
    fn verdicts_of<'p>(&self, people: impl IntoIterator<Item = &'p str>) -> Vec<&'v Verdict> {
        let verdicts = self.people.verdicts;
        positions(&self.people.verdicts_of, people)
            .filter_map(|i| verdicts.get(i))
            .collect()
    }

    /// The reports of `people`, each once, in the order of all reports.
    fn reports_of<'p>(&self, people: impl IntoIterator<Item = &'p str>) -> Vec<&'v Backlogged> {
        let reports = self.people.reports;
        positions(&self.people.reports_of, people)
            .filter_map(|i| reports.get(i))
            .collect()
    }

    fn verdict(&self, person: &str, period: Period) -> Option<&'v Verdict> {
        self.people.verdict_at.get(&(person, period)).copied()
    }

    /// The net of `person`'s fines and waivers for `period`.
    fn net(&self, person: &str, period: Period) -> Fen {
        self.nets.get(person, period).copied().unwrap_or(Fen::ZERO)
    }

    /// `person`'s fines in the payroll month.
    fn month_fines(&self, person: &str) -> FineTally {
        self.pay_of
            .get(person)
            .map(|x| FineTally {
                count: x.fines.count,
                amount: x.fines.amount_fen,
            })
            .unwrap_or_default()
    }
}

/// The positions listed for `people` in `by_person`, ascending, each once.
fn positions<'p>(
    by_person: &FastMap<&str, Vec<usize>>,
    people: impl IntoIterator<Item = &'p str>,
) -> impl Iterator<Item = usize> {
    let mut out: Vec<usize> = people
        .into_iter()
        .filter_map(|p| by_person.get(p))
        .flatten()
        .copied()
        .collect();
    out.sort_unstable();
    out.dedup();
    out.into_iter()
}

impl<'a> Planner<'a> {
    /// The digests of the newest `kind` deadline whose digest time has come.
    pub(super) fn digests(
        &self,
        conn: &Connection,
        kind: Kind,
        verdicts: &[Verdict],
        backlog: &super::Backlog,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        let Some(deadline) = self.digest_owed(conn, kind, now)? else {
            return Ok(0);
        };
        let reports = self.backlog_once(backlog, conn, now)?;
        let tz = self.cfg.timezone;
        let month = deadline.payroll_month(tz);
        let (summary, nets, people) = self.read(conn, month, verdicts, reports)?;
        let roster = &self.cfg.roster;
        let plan = DigestPlan {
            deadline,
            at: self
                .cfg
                .notify
                .schedule
                .digest(&deadline, self.calendar, tz),
            periods: history(deadline.period),
            month,
            payroll: &summary,
            index: Index::new(people, &summary, nets),
            members: roster.by_supervisor(roster.reporters(), |p| Some(*p)),
        };
        let managers: Vec<&Person> = roster.managers().collect();
        // The languages the managers who get a digest read.
        let mut langs: Vec<Language> = Vec::new();
        let active = managers.iter().filter(|m| self.active(m, now));
        for lang in active.map(|m| self.lang(m)) {
            if !langs.contains(&lang) {
                langs.push(lang);
            }
        }
        let (groups, mut made) = self.groups(conn, &plan, &langs, now)?;
        let for_managers: Vec<Option<MadeDigest>> = managers
            .par_iter()
            .map(|&manager| {
                let lang = self.lang(manager);
                let all = groups
                    .iter()
                    .map(|g| {
                        // A group whose supervisor gets no digest (they left)
                        // keeps its cards in the manager's, however large.
                        let no_digest = !self.active(g.supervisor, now);
                        g.read_in(lang).without_digest(no_digest)
                    })
                    .collect();
                self.digest_to(&plan, manager, Audience::Manager, all, now)
            })
            .collect();
        made.extend(for_managers);
        let owed = made.iter().flatten().map(MadeDigest::owed).collect();
        self.queue_all(conn, owed, now)
    }

    /// The payroll summary of `month` and the ledger's nets, read while
    /// another core indexes every verdict and report by person (the
    /// database connection stays on this thread).
    fn read<'v>(
        &self,
        conn: &Connection,
        month: Month,
        verdicts: &'v [Verdict],
        reports: &'v [Backlogged],
    ) -> Result<(Summary, ByPersonPeriod<Fen>, ByPerson<'v>), NotifyError> {
        std::thread::scope(|s| {
            let people = s.spawn(|| ByPerson::new(verdicts, reports));
            let summary = payroll::summary(conn, self.cfg, month)?;
            let nets = ledger::nets(conn)?;
            let people = people
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            Ok((summary, nets, people))
        })
    }

    /// Every supervisor's group, each made on some core in the
    /// supervisor's language and in each of `langs` (the managers'), with
    /// the supervisor's digest.
    fn groups<'p>(
        &'p self,
        conn: &Connection,
        plan: &DigestPlan<'p>,
        langs: &[Language],
        now: DateTime<Utc>,
    ) -> Result<(Vec<Groups<'p>>, Vec<Option<MadeDigest>>), NotifyError> {
        let supervisors = self.supervisors();
        let waiting: Vec<Vec<(&Person, &Backlogged)>> = supervisors
            .iter()
            .map(|s| self.waiting(plan, s, now))
            .collect();
        // The subjects and Message-IDs of only the reports listed, every
        // group's in one read.
        let listed: Vec<i64> = waiting
            .iter()
            .flat_map(|w| Listed::<PendingReply>::made_at(w.len()).map(|i| w[i].1.id))
            .collect();
        let headers = reports::headers_of(conn, &listed)?;
        Ok(supervisors
            .par_iter()
            .zip(waiting.par_iter())
            .map(|(&supervisor, waiting)| {
                let lang = self.lang(supervisor);
                let group = |lang| self.group(plan, supervisor, waiting, &headers, lang, now);
                let g = Groups {
                    supervisor,
                    own: group(lang),
                    others: langs
                        .iter()
                        .filter(|l| **l != lang)
                        .map(|&l| (l, group(l)))
                        .collect(),
                };
                let own = vec![g.own.clone()];
                let digest = self.digest_to(plan, supervisor, Audience::Supervisor, own, now);
                (g, digest)
            })
            .unzip())
    }

    /// The deadline of `kind` whose digests are owed at `now` and not all
    /// queued yet, if any.
    pub(super) fn digest_owed(
        &self,
        conn: &Connection,
        kind: Kind,
        now: DateTime<Utc>,
    ) -> Result<Option<Deadline>, NotifyError> {
        let Some(deadline) = self.latest_digest_deadline(kind, now) else {
            return Ok(None);
        };
        // The usual case on a wake-up: every digest of this deadline is out.
        if self.all_digests_queued(conn, kind, deadline.period)? {
            return Ok(None);
        }
        Ok(Some(deadline))
    }

    fn all_digests_queued(
        &self,
        conn: &Connection,
        kind: Kind,
        period: Period,
    ) -> Result<bool, NotifyError> {
        let keys = self
            .supervisors()
            .into_iter()
            .map(|s| digest_key(Audience::Supervisor, kind, &s.email, period))
            .chain(
                self.cfg
                    .roster
                    .managers()
                    .map(|m| digest_key(Audience::Manager, kind, &m.email, period)),
            );
        for key in keys {
            if outbox::state_of(conn, &key)?.is_none() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// One supervisor's or manager's digest, unless they left.
    fn digest_to(
        &self,
        plan: &DigestPlan<'_>,
        recipient: &Person,
        audience: Audience,
        groups: Vec<DigestGroup>,
        now: DateTime<Utc>,
    ) -> Option<MadeDigest> {
        if !self.active(recipient, now) {
            return None;
        }
        let period = plan.deadline.period;
        let lang = self.lang(recipient);
        let digest = Digest::new(
            Contact::from(recipient),
            audience,
            self.heading(plan, &groups, lang),
            groups,
            plan.payroll.fund.closing_fen,
            lang,
        );
        let digest = if now - plan.at > Duration::hours(1) {
            // Queued more than an hour after its time: it goes out late.
            digest.sent_late(self.local(plan.at, lang, now))
        } else {
            digest
        };
        Some(MadeDigest {
            key: digest_key(audience, period.kind(), &recipient.email, period),
            lang,
            digest,
            not_before: plan.at.max(now - Duration::minutes(1)),
        })
    }

    /// What the digest is about, in `lang`; the provisional years are those
    /// of its deadline and of every still-owed deadline it lists.
    fn heading(
        &self,
        plan: &DigestPlan<'_>,
        groups: &[DigestGroup],
        lang: Language,
    ) -> DigestHeading {
        let tz = self.cfg.timezone;
        let members = groups
            .iter()
            .flat_map(|g| g.rows.iter().map(|r| r.person.email.as_str()));
        let mut years: Vec<i32> = std::iter::once(&plan.deadline)
            .chain(
                plan.index
                    .verdicts_of(members)
                    .into_iter()
                    .filter(|v| v.status == Status::Missing)
                    .map(|v| &v.deadline),
            )
            .filter(|d| d.provisional)
            .map(|d| d.due_day(tz).year())
            .collect();
        years.sort_unstable();
        years.dedup();
        let (first, last) = (plan.periods[0], plan.deadline.period);
        DigestHeading {
            kind: last.kind(),
            // Week 53 of last year, in a digest of 4 January, says its year.
            period: self.period_name(last, lang, plan.at),
            due: self.due(&plan.deadline, lang, plan.at),
            provisional: plan.deadline.provisional,
            provisional_years: years,
            month: names::month(plan.month, lang),
            trend_span: names::span(first, last, lang),
            trend_len: plan.periods.len(),
            reply_window_days: RECENT,
        }
    }

    /// The newest deadline of `kind` whose digest time is past, if that was
    /// recent enough to still be worth a digest.
    fn latest_digest_deadline(&self, kind: Kind, now: DateTime<Utc>) -> Option<Deadline> {
        let tz = self.cfg.timezone;
        let mut period = Period::containing(kind, now.with_timezone(&tz).date_naive());
        // The digest time of the period after the one looked at.
        let mut next_at: Option<DateTime<Utc>> = None;
        for _ in 0..6 {
            if let Some(d) = compliance::deadline_of(self.cfg, self.calendar, period) {
                let at = self.cfg.notify.schedule.digest(&d, self.calendar, tz);
                if at <= now {
                    // A digest more than a day late that the next of its
                    // kind replaces within a day is not sent: it would
                    // show today's figures under last period's name, hours
                    // before the digest that rightly does.
                    let replaced_soon = now - at > Duration::days(1)
                        && next_at.is_some_and(|n| n - now < Duration::days(1));
                    return (at > now - Duration::days(CATCH_UP)
                        && !replaced_soon
                        && d.due.date_naive() >= self.cfg.tracking_starts)
                        .then_some(d);
                }
                next_at = Some(at);
            }
            period = period.prev();
        }
        None
    }

    /// The reports of `supervisor`'s group still waiting for a reply at
    /// `now`, in the order of all reports.
    fn waiting<'v>(
        &'v self,
        plan: &DigestPlan<'v>,
        supervisor: &Person,
        now: DateTime<Utc>,
    ) -> Vec<(&'v Person, &'v Backlogged)> {
        let members = plan.members.of(&supervisor.email);
        plan.index
            .reports_of(members.iter().map(|m| m.email.as_str()))
            .into_iter()
            .filter(|r| r.replied_at.is_none_or(|t| t > now))
            .filter_map(|r| Some((self.person(&r.person)?, r)))
            .collect()
    }

    /// One supervisor's group as `lang` reads it; `waiting` is
    /// [`Planner::waiting`]'s, `headers` hold those it lists.
    fn group(
        &self,
        plan: &DigestPlan<'_>,
        supervisor: &Person,
        waiting: &[(&Person, &Backlogged)],
        headers: &HashMap<i64, ReportHeaders>,
        lang: Language,
        now: DateTime<Utc>,
    ) -> DigestGroup {
        let members = plan.members.of(&supervisor.email);
        let emails = || members.iter().map(|m| m.email.as_str());
        let rows = members
            .iter()
            .filter_map(|p| self.row(plan, p, lang, now))
            .collect();
        // Every report still owed and every one awaiting a reply since
        // tracking began is counted; only the rows shown are made.
        let owed: Vec<&Verdict> = plan
            .index
            .verdicts_of(emails())
            .into_iter()
            .filter(|v| v.status == Status::Missing)
            .collect();
        let still_owed = Listed::made(
            &owed,
            |v| self.still_owed(plan, v, lang, now),
            StillOwed::earliest,
        );
        let awaiting = Listed::made(
            waiting,
            |(p, r)| self.pending_reply_of(p, r, header(headers, r), 0, lang, now),
            PendingReply::earliest,
        );
        let name = members
            .iter()
            .find_map(|m| m.group.clone())
            .or_else(|| supervisor.group.clone())
            .unwrap_or_else(|| supervisor.name.clone());
        let reports = plan.index.reports_of(emails());
        DigestGroup::new(
            name,
            Contact::from(supervisor),
            rows,
            still_owed,
            awaiting,
            self.group_stats(plan, members, &reports, now),
        )
    }

    /// A member's card, when their period is judged.
    fn row(
        &self,
        plan: &DigestPlan<'_>,
        p: &Person,
        lang: Language,
        now: DateTime<Utc>,
    ) -> Option<DigestRow> {
        let period = plan.deadline.period;
        let v = plan.index.verdict(&p.email, period)?;
        let fine = plan.index.net(&p.email, period);
        let late = v.report.as_ref().filter(|_| v.status == Status::Late);
        let trend: Vec<Option<Status>> = plan
            .periods
            .iter()
            .map(|q| plan.index.verdict(&p.email, *q).map(|v| v.status))
            .collect();
        Some(DigestRow {
            person: Contact::from(p),
            status: v.status,
            received: v.report.as_ref().map(|r| self.local(r.received, lang, now)),
            late_by: late.map(|r| names::duration(r.received - v.deadline.due, lang)),
            fine: (fine != Fen::ZERO).then_some(fine),
            excuse_reason: v.excuse.as_ref().map(|e| e.reason.clone()),
            reply: self.reply_state(v, lang, now),
            month_fines: plan.index.month_fines(&p.email),
            trend: Trend::new(&trend, lang),
        })
    }

    fn reply_state(&self, v: &Verdict, lang: Language, now: DateTime<Utc>) -> ReplyState {
        let Some(r) = &v.report else {
            return ReplyState::NoReport;
        };
        match r.replied_at.filter(|at| *at <= now) {
            Some(at) => ReplyState::Replied {
                at: self.local(at, lang, now),
                after_hours: (at - r.received).num_hours(),
                after: names::duration(at - r.received, lang),
            },
            None => ReplyState::Awaiting {
                hours: (now - r.received).num_hours(),
                waited: names::waited(now - r.received, lang),
                overdue: self.reply_due(r.received) <= now,
            },
        }
    }

    fn still_owed(
        &self,
        plan: &DigestPlan<'_>,
        v: &Verdict,
        lang: Language,
        now: DateTime<Utc>,
    ) -> StillOwed {
        let fine = plan.index.net(&v.person, v.deadline.period);
        let person = self
            .person(&v.person)
            .map_or_else(|| Contact::new("", v.person.clone()), Contact::from);
        StillOwed {
            person,
            kind: v.deadline.period.kind(),
            period: self.period_name(v.deadline.period, lang, now),
            due: self.due(&v.deadline, lang, now),
            provisional: v.deadline.provisional,
            overdue: names::duration(now - v.deadline.due, lang),
            fine: (fine > Fen::ZERO).then_some(fine),
        }
    }

    /// A group's on-time rate over the trend window, and its supervisor's
    /// reply rate and median reply time over the reports of the last
    /// [`RECENT`] days that are due for a reply (their reply time passed,
    /// or they were answered): one received an hour ago is not unanswered.
    fn group_stats(
        &self,
        plan: &DigestPlan<'_>,
        members: &[&Person],
        reports: &[&Backlogged],
        now: DateTime<Utc>,
    ) -> GroupStats {
        let judged: Vec<&Verdict> = plan
            .index
            .verdicts_of(members.iter().map(|m| m.email.as_str()))
            .into_iter()
            .filter(|v| {
                plan.periods.contains(&v.deadline.period)
                    && matches!(v.status, Status::OnTime | Status::Late | Status::Missing)
            })
            .collect();
        let on_time = judged.iter().filter(|v| v.status == Status::OnTime).count();
        let replied_at = |r: &Backlogged| r.replied_at.filter(|t| *t <= now);
        let window = now - Duration::days(RECENT);
        let due: Vec<&Backlogged> = reports
            .iter()
            .copied()
            .filter(|r| r.received >= window)
            .filter(|r| replied_at(r).is_some() || self.reply_due(r.received) <= now)
            .collect();
        let minutes: Vec<i64> = due
            .iter()
            .filter_map(|r| replied_at(r).map(|at| (at - r.received).num_minutes()))
            .collect();
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        GroupStats::new(
            count(on_time),
            count(judged.len()),
            count(minutes.len()),
            count(due.len()),
            &minutes,
        )
    }
}

/// The idempotency key of a digest.
fn digest_key(audience: Audience, kind: Kind, email: &str, period: Period) -> String {
    let prefix = match audience {
        Audience::Supervisor => "digest",
        Audience::Manager => "manager-digest",
    };
    format!("{prefix}:{}:{email}:{period}", kind.as_str())
}

/// `period` and the periods before it, oldest first, [`HISTORY`] in all.
fn history(period: Period) -> Vec<Period> {
    let mut out = vec![period];
    while out.len() < HISTORY {
        let first = out[0].prev();
        out.insert(0, first);
    }
    out
}

#[cfg(test)]
mod tests {
    use mailparse::MailHeaderMap;

    use super::*;

    use crate::test_team::shanghai as at;

    /// Each digest queued: (key, subject, text part).
    fn queued(conn: &Connection) -> Vec<(String, String, String)> {
        outbox::raw_messages(conn)
            .expect("outbox")
            .into_iter()
            .filter(|(_, kind, _)| kind == "digest")
            .map(|(key, _, raw)| {
                let mail = mailparse::parse_mail(&raw).expect("parse");
                let subject = mail.headers.get_first_value("Subject").unwrap_or_default();
                let text = mail.subparts[0].get_body().expect("text part");
                (key, subject, text)
            })
            .collect()
    }

    /// The weekly digests the fixture's planner queues at `now`.
    fn weekly_digests(f: &super::super::Fixture, now: DateTime<Utc>) -> usize {
        let planner = f.planner();
        let backlog = super::super::Backlog::new();
        planner
            .digests(&f.conn, Kind::Weekly, &f.verdicts(now), &backlog, now)
            .expect("plan")
    }

    #[test]
    fn a_week_old_digest_the_next_one_replaces_within_the_day_is_not_sent() {
        let f = super::super::Fixture::new();
        // Monday 30 November 08:00: week 47's digest was due a week ago
        // (08:30 on the 23rd), week 48's is due at 08:30 today.
        let now = at(2026, 11, 30, 8);
        assert_eq!(
            weekly_digests(&f, now),
            0,
            "no week-old digest half an hour before this week's"
        );
        let now = at(2026, 11, 30, 9);
        assert_eq!(
            weekly_digests(&f, now),
            2,
            "this week's, to the supervisor and the manager"
        );
        // A digest a few hours late still goes: Monday 23:00 after a day of
        // downtime, the next is a week away.
        let f = super::super::Fixture::new();
        let now = at(2026, 11, 30, 23);
        assert_eq!(weekly_digests(&f, now), 2);
    }

    #[test]
    fn each_reader_gets_every_group_in_their_own_language() {
        let mut f = super::super::Fixture::new();
        // The supervisor reads English; the manager Chinese, and a second
        // manager English.
        let mut people = f.cfg.roster.people.clone();
        for p in &mut people {
            if p.email == "wangfang@example.com" {
                p.language = Some(Language::En);
            }
        }
        let mut second = people
            .iter()
            .find(|p| p.email == "chengang@example.com")
            .expect("the manager")
            .clone();
        second.email = "second@example.com".into();
        second.language = Some(Language::En);
        people.push(second);
        f.cfg.roster = crate::config::Roster::new(people);
        let now = at(2026, 11, 30, 9);
        assert_eq!(weekly_digests(&f, now), 3);
        let mails = queued(&f.conn);
        let text_of = |key: &str| {
            mails
                .iter()
                .find(|(k, _, _)| k.starts_with(key))
                .map(|(_, _, text)| text.clone())
                .unwrap_or_else(|| panic!("no {key} in {mails:?}"))
        };
        // The dates and periods the planner writes into a group say which
        // language it was made in: no Chinese one has neither 月 nor 周,
        // and no name in the team has either.
        let english = |t: &str| !t.contains('月') && !t.contains('周');
        let supervisor = text_of("digest:weekly:wangfang@example.com:");
        assert!(english(&supervisor), "{supervisor}");
        assert!(supervisor.contains("Dear 王芳"), "{supervisor}");
        let manager = text_of("manager-digest:weekly:chengang@example.com:");
        // Its group lists the owed reports as the planner wrote them.
        assert!(
            manager.contains("张伟 第45周（11月2日–8日）周报"),
            "{manager}"
        );
        assert!(manager.contains("已逾期 22天"), "{manager}");
        assert!(!manager.contains("Dear"), "{manager}");
        let second = text_of("manager-digest:weekly:second@example.com:");
        assert!(english(&second), "{second}");
        assert!(second.contains("张伟"), "{second}");
    }

    #[test]
    fn a_digest_of_last_years_last_week_names_its_year() {
        let f = super::super::Fixture::new();
        // Monday 4 January 2027, after the digest time: the digest of week
        // 53 of 2026 (28 December – 3 January).
        let now = at(2027, 1, 4, 9);
        assert_eq!(weekly_digests(&f, now), 2);
        for (key, subject, text) in queued(&f.conn) {
            assert!(
                subject.contains("2026年第53周（12月28日–1月3日）"),
                "{key}: {subject}"
            );
            assert!(
                text.contains("2026年第53周（12月28日–1月3日）"),
                "{key}: {text}"
            );
        }
    }

    #[test]
    fn a_digest_of_a_year_without_a_holiday_notice_marks_its_deadlines_provisional() {
        let f = super::super::Fixture::new();
        let conn = &f.conn;
        // Monday 11 January 2027, after the digest time: week 1 of 2027
        // was judged on the statutory holidays alone (no notice for 2027).
        let now = at(2027, 1, 11, 9);
        assert_eq!(weekly_digests(&f, now), 2);
        let mails = queued(conn);
        assert_eq!(mails.len(), 2, "the supervisor's and the manager's");
        for (key, subject, text) in &mails {
            assert!(subject.contains("第1周（1月4日–10日）"), "{key}: {subject}");
            assert!(
                text.contains("周报已于 1月9日（周六）22:00（暂定） 截止"),
                "{key}: {text}"
            );
            assert_eq!(
                text.matches("2027年的放假安排尚未正式公布").count(),
                1,
                "{key}: one line about the calendar: {text}"
            );
            // December's monthly report, due on the first working day of
            // 2027, is owed and provisional too.
            assert!(text.contains("12月月报"), "{key}: {text}");
            // Last year's periods say so: week 49 of 2026 does not read
            // as the coming week 49 of 2027.
            if !key.starts_with("manager") {
                assert!(text.contains("张伟 2026年11月月报"), "{key}: {text}");
                assert!(
                    text.contains("截止 2026年12月1日（周二）当天"),
                    "{key}: {text}"
                );
                assert!(
                    text.contains("2026年第53周（12月28日–1月3日）周报"),
                    "{key}: {text}"
                );
            }
            assert!(!text.contains(" 第49周"), "{key}: {text}");
        }
        // A week of 2026, judged on the notice, is not marked.
        let f = super::super::Fixture::new();
        let conn = &f.conn;
        let now = at(2026, 11, 30, 9);
        assert_eq!(weekly_digests(&f, now), 2);
        for (key, _, text) in queued(conn) {
            assert!(!text.contains("暂定"), "{key}: {text}");
            assert!(!text.contains("放假安排"), "{key}: {text}");
        }
    }
}
