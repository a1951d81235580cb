//! The weekly and monthly digest's context: what a supervisor (their group)
//! or a manager (every group, a section each) reads after a deadline. This
//! period's counts, labelled as such; the reports still owed from any
//! period (仍未补交), oldest first; each person's fines this payroll month
//! and the activity fund's balance (both the payroll module's figures); a
//! trend line of the last 8 periods per person; the reply rate over reports
//! whose reply time has come. Every string is already in the reader's
//! words ([`crate::names`]); the templates `digest.{subject.txt,txt,html}`
//! lay it out, as cards that stack on a phone (see `macros.html`).

use serde::Serialize;

#[cfg(doc)]
use super::LIST_CAP;
use super::{Contact, Listed, PendingReply, Rest, ser_fen, ser_fen_opt, ser_kind, shorten};
use crate::config::Language;
use crate::money::Fen;
use crate::names;
use crate::period::Kind;
use crate::reports::compliance::Status;

/// Whether a report had its reply. Serialised with `state` =
/// `no_report` | `awaiting` | `replied`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReplyState {
    /// No report, so nothing to reply to.
    NoReport,
    Awaiting {
        /// Whole hours since the report arrived.
        hours: i64,
        /// The same as people say it (`3小时`, `刚收到`).
        waited: String,
        /// Its reply time has passed (the reply-deadline rule of
        /// `notify::plan::replies`).
        overdue: bool,
    },
    Replied {
        /// Local time of the first reply.
        at: String,
        /// Whole hours from the report to the reply.
        after_hours: i64,
        /// The same as people say it.
        after: String,
    },
}

/// One period in a trend line, in the reader's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mark {
    /// The colour family the HTML gives it: `ok`, `late`, `missing`,
    /// `excused` or `none` (not due yet, not tracked). Never shown.
    pub tone: &'static str,
    /// `✓`, `迟`, `✗`, `免`, `·`.
    pub symbol: &'static str,
    /// What the symbol stands for (准时, 未跟踪, ...).
    pub label: &'static str,
}

impl Mark {
    pub fn new(status: Option<Status>, lang: Language) -> Mark {
        Mark {
            tone: match status {
                Some(Status::OnTime) => "ok",
                Some(Status::Late) => "late",
                Some(Status::Missing) => "missing",
                Some(Status::Excused) => "excused",
                Some(Status::Pending) | None => "none",
            },
            symbol: names::mark(status, lang),
            label: names::mark_label(status, lang),
        }
    }

    /// One of each mark, for the legend.
    pub fn legend(lang: Language) -> Vec<Mark> {
        [
            Some(Status::OnTime),
            Some(Status::Late),
            Some(Status::Missing),
            Some(Status::Excused),
            None,
        ]
        .into_iter()
        .map(|s| Mark::new(s, lang))
        .collect()
    }
}

/// A person's trend: one mark per period, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trend {
    pub marks: Vec<Mark>,
    /// The same as one plain-text line, aligned ([`names::trend_line`]).
    pub text: String,
}

impl Trend {
    /// `statuses` oldest first; `None` where nothing was judged.
    pub fn new(statuses: &[Option<Status>], lang: Language) -> Trend {
        Trend {
            marks: statuses.iter().map(|s| Mark::new(*s, lang)).collect(),
            text: names::trend_line(statuses, lang),
        }
    }
}

/// How many fines and how much, net of waivers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FineTally {
    pub count: u32,
    #[serde(serialize_with = "ser_fen")]
    pub amount: Fen,
}

impl FineTally {
    fn add(&mut self, other: FineTally) {
        self.count += other.count;
        self.amount = self.amount + other.amount;
    }
}

/// One person's card in a digest.
#[derive(Debug, Clone, Serialize)]
pub struct DigestRow {
    pub person: Contact,
    /// This period's status (serialised as its key, which only the
    /// templates read, to pick the word and the colour).
    pub status: Status,
    /// Local arrival time of this period's report, if any.
    pub received: Option<String>,
    /// How late it arrived (`3小时`), for late reports.
    pub late_by: Option<String>,
    /// This period's fine, net of a waiver; `None` when none.
    #[serde(serialize_with = "ser_fen_opt")]
    pub fine: Option<Fen>,
    /// The valid reason, for excused periods.
    pub excuse_reason: Option<String>,
    pub reply: ReplyState,
    /// Fines in this payroll month (the payroll summary's figure).
    pub month_fines: FineTally,
    pub trend: Trend,
}

/// A report still owed: its deadline passed and nothing came (whatever the
/// period, so a report that never arrived stays listed).
#[derive(Debug, Clone, Serialize)]
pub struct StillOwed {
    pub person: Contact,
    #[serde(serialize_with = "ser_kind")]
    pub kind: Kind,
    /// The period as people name it.
    pub period: String,
    pub due: String,
    /// The deadline was computed on a calendar with no official notice.
    pub provisional: bool,
    /// How long past its deadline (`6天`).
    pub overdue: String,
    #[serde(serialize_with = "ser_fen_opt")]
    pub fine: Option<Fen>,
}

impl StillOwed {
    /// What a list says of it when it is the earliest of the rows not
    /// shown: its period.
    pub fn earliest(&self) -> String {
        self.period.clone()
    }
}

/// How many people are in each status this period, and this period's fines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub people: u32,
    pub on_time: u32,
    pub late: u32,
    pub missing: u32,
    pub excused: u32,
    pub pending: u32,
    /// Reports of any period waiting for the supervisor's reply.
    pub awaiting_reply: u32,
    /// Reports still owed, any period.
    pub still_owed: u32,
    #[serde(serialize_with = "ser_fen")]
    pub fines: Fen,
    /// Fines in this payroll month.
    pub month_fines: FineTally,
}

impl Counts {
    fn add_row(&mut self, row: &DigestRow) {
        self.people += 1;
        match row.status {
            Status::OnTime => self.on_time += 1,
            Status::Late => self.late += 1,
            Status::Missing => self.missing += 1,
            Status::Excused => self.excused += 1,
            Status::Pending => self.pending += 1,
        }
        if let Some(fine) = row.fine {
            self.fines = self.fines + fine;
        }
        self.month_fines.add(row.month_fines);
    }

    fn add(&mut self, other: &Counts) {
        self.people += other.people;
        self.on_time += other.on_time;
        self.late += other.late;
        self.missing += other.missing;
        self.excused += other.excused;
        self.pending += other.pending;
        self.awaiting_reply += other.awaiting_reply;
        self.still_owed += other.still_owed;
        self.fines = self.fines + other.fines;
        self.month_fines.add(other.month_fines);
    }
}

/// A group's record over the trend window and its supervisor's replies
/// (make it with [`GroupStats::new`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupStats {
    pub on_time: u32,
    /// Reports judged in the trend window (on time + late + missing;
    /// excused and pending left out).
    pub judged: u32,
    /// Rounded; `None` when nothing was judged.
    pub on_time_percent: Option<u32>,
    pub replied: u32,
    /// Reports due for a reply: their reply time has passed, or they were
    /// answered already. A report received an hour ago is not unanswered.
    pub reports: u32,
    pub reply_percent: Option<u32>,
    /// Median time to the supervisor's reply in hours with one decimal
    /// (`5.5`); `None` without replies.
    pub median_reply_hours: Option<String>,
}

impl GroupStats {
    /// `reply_minutes`: minutes from each replied report to its reply.
    pub fn new(
        on_time: u32,
        judged: u32,
        replied: u32,
        reports: u32,
        reply_minutes: &[i64],
    ) -> GroupStats {
        GroupStats {
            on_time,
            judged,
            on_time_percent: percent(on_time, judged),
            replied,
            reports,
            reply_percent: percent(replied, reports),
            median_reply_hours: median(reply_minutes).map(|twice| {
                // `twice` is twice the median in minutes; tenths of an hour,
                // rounded half up: twice * 10 / 120.
                let tenths = (twice * 10 + 60).div_euclid(120);
                format!("{}.{}", tenths.div_euclid(10), tenths.rem_euclid(10))
            }),
        }
    }
}

fn percent(part: u32, whole: u32) -> Option<u32> {
    (whole > 0).then(|| {
        let (part, whole) = (u64::from(part), u64::from(whole));
        u32::try_from((part * 100 + whole / 2) / whole).unwrap_or(u32::MAX)
    })
}

/// Twice the median (so that an even count stays exact in integers).
fn median(values: &[i64]) -> Option<i64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2] * 2),
        _ => Some(v[n / 2 - 1] + v[n / 2]),
    }
}

/// One supervisor's group in a digest.
#[derive(Debug, Clone, Serialize)]
pub struct DigestGroup {
    /// The group's name (`商务一组`), or the supervisor's name when none.
    pub name: String,
    pub supervisor: Contact,
    pub rows: Vec<DigestRow>,
    /// Reports still owed (any period), the newest [`LIST_CAP`], oldest
    /// first; `counts.still_owed` has them all.
    pub still_owed: Vec<StillOwed>,
    pub still_owed_rest: Option<Rest>,
    /// Reports still waiting for the supervisor's reply since tracking
    /// began, capped the same way; `counts.awaiting_reply` has them all.
    pub awaiting_reply: Vec<PendingReply>,
    pub awaiting_rest: Option<Rest>,
    pub stats: GroupStats,
    pub counts: Counts,
    /// The supervisor gets no digest of their own (they left): a
    /// manager's digest shows this group's cards whatever its size.
    pub no_digest: bool,
}

impl DigestGroup {
    pub fn new(
        name: impl Into<String>,
        supervisor: Contact,
        rows: Vec<DigestRow>,
        still_owed: Listed<StillOwed>,
        awaiting_reply: Listed<PendingReply>,
        stats: GroupStats,
    ) -> DigestGroup {
        let mut counts = Counts::default();
        for row in &rows {
            counts.add_row(row);
        }
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        // A manager's digest of 40 people must stay under Gmail's ~102 KB
        // clipping: long lists show their newest rows and count the rest.
        counts.awaiting_reply = count(awaiting_reply.total);
        counts.still_owed = count(still_owed.total);
        DigestGroup {
            name: name.into(),
            supervisor,
            rows,
            still_owed: still_owed.shown,
            still_owed_rest: still_owed.rest,
            awaiting_reply: awaiting_reply.shown,
            awaiting_rest: awaiting_reply.rest,
            stats,
            counts,
            no_digest: false,
        }
    }

    /// The group, marked as one whose supervisor gets no digest when
    /// `no_digest`.
    pub fn without_digest(mut self, no_digest: bool) -> DigestGroup {
        self.no_digest = no_digest;
        self
    }
}

/// Up to this many people in all, a manager's digest has a section per
/// group with every member's card (40 with full lists stay under Gmail's
/// ~102 KB clipping; 60 are 128 KB); above, it has each group's figures
/// only: a card per person of a thousand is a 3 MB email that no phone
/// shows. Supervisors always get every card.
pub const MANAGER_ALL_CARDS: usize = 40;

/// The rows of each list per group in a manager's digest: four groups'
/// lists must fit with 40 cards under Gmail's clipping size.
pub const MANAGER_LIST_CAP: usize = 8;

impl DigestGroup {
    /// The group with its figures alone, for an overview: nothing is
    /// rendered of its cards and lists, so nothing is kept of them.
    fn figures_only(mut self) -> DigestGroup {
        self.rows = Vec::new();
        self.still_owed = Vec::new();
        self.still_owed_rest = None;
        self.awaiting_reply = Vec::new();
        self.awaiting_rest = None;
        self
    }

    /// The group as a manager's digest shows it: shorter lists.
    fn for_manager(mut self) -> DigestGroup {
        let cap = MANAGER_LIST_CAP;
        shorten(
            &mut self.still_owed,
            &mut self.still_owed_rest,
            cap,
            StillOwed::earliest,
        );
        shorten(
            &mut self.awaiting_reply,
            &mut self.awaiting_rest,
            cap,
            PendingReply::earliest,
        );
        self
    }
}

/// Who a digest is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// One group, to its supervisor.
    Supervisor,
    /// Every group, a section each, to a manager.
    Manager,
}

/// What a digest is about, in the reader's words.
#[derive(Debug, Clone, Serialize)]
pub struct DigestHeading {
    #[serde(serialize_with = "ser_kind")]
    pub kind: Kind,
    /// `第48周（11月23日–29日）`, `11月`.
    pub period: String,
    pub due: String,
    /// This period's deadline was computed on a calendar with no official
    /// notice yet (marked 暂定).
    pub provisional: bool,
    /// The years whose holiday calendar is not official yet, for the one
    /// line that says so; empty when every deadline shown is official.
    pub provisional_years: Vec<i32>,
    /// The payroll month "this month" means (`11月`).
    pub month: String,
    /// The periods the trend lines cover (`第41–48周`).
    pub trend_span: String,
    /// How many periods a trend line has.
    pub trend_len: usize,
    /// The reply rate counts the reports of this many days.
    pub reply_window_days: i64,
}

/// Weekly or monthly digest, to a supervisor (one group) or a manager (every
/// group). Make it with [`Digest::new`].
#[derive(Debug, Clone, Serialize)]
pub struct Digest {
    pub recipient: Contact,
    pub audience: Audience,
    #[serde(flatten)]
    pub heading: DigestHeading,
    pub groups: Vec<DigestGroup>,
    /// All groups together.
    pub counts: Counts,
    /// The activity fund's balance (the payroll summary's closing figure
    /// for [`DigestHeading::month`]).
    #[serde(serialize_with = "ser_fen")]
    pub fund_balance: Fen,
    /// The trend marks explained.
    pub legend: Vec<Mark>,
    /// Each group's figures without its section (a manager's digest of
    /// more than [`MANAGER_ALL_CARDS`] people).
    pub overview_only: bool,
    /// When the digest was due, if it goes out late (reportd was down);
    /// set with [`Digest::sent_late`].
    pub scheduled: Option<String>,
}

impl Digest {
    /// Sums the groups' counts.
    pub fn new(
        recipient: Contact,
        audience: Audience,
        heading: DigestHeading,
        groups: Vec<DigestGroup>,
        fund_balance: Fen,
        lang: Language,
    ) -> Digest {
        let mut counts = Counts::default();
        for group in &groups {
            counts.add(&group.counts);
        }
        let overview_only = audience == Audience::Manager
            && usize::try_from(counts.people).unwrap_or(usize::MAX) > MANAGER_ALL_CARDS;
        let groups = match audience {
            Audience::Manager if overview_only => groups
                .into_iter()
                .map(|g| {
                    if g.no_digest {
                        g.for_manager()
                    } else {
                        g.figures_only()
                    }
                })
                .collect(),
            Audience::Manager => groups.into_iter().map(DigestGroup::for_manager).collect(),
            Audience::Supervisor => groups,
        };
        Digest {
            recipient,
            audience,
            heading,
            groups,
            counts,
            fund_balance,
            legend: Mark::legend(lang),
            overview_only,
            scheduled: None,
        }
    }

    /// Marks the digest as going out late: it was due at `scheduled`.
    pub fn sent_late(mut self, scheduled: impl Into<String>) -> Digest {
        self.scheduled = Some(scheduled.into());
        self
    }
}

/// A digest to render in tests: two groups' worth of people with every
/// status, a backlog, fines this month and a provisional deadline when
/// asked.
#[cfg(test)]
pub(crate) mod sample {
    use super::*;
    use crate::notify::compose::reply_subject;

    pub fn contact(name: &str, email: &str) -> Contact {
        Contact::new(name, email)
    }

    pub fn pending(person: Contact, lang: Language) -> PendingReply {
        PendingReply {
            person,
            kind: Kind::Weekly,
            period: names::period(
                crate::period::Period::Week {
                    year: 2026,
                    week: 48,
                },
                lang,
            ),
            report_subject: "第48周周报".into(),
            received: "11月28日（周六）20:15".into(),
            received_day: "11月28日（周六）".into(),
            hours_waiting: 74,
            waiting: names::waiting(chrono::Duration::hours(74), lang),
            overdue: true,
            reminders_sent: 2,
            message_id: Some("w48@zhang".into()),
            reply_subject: reply_subject("第48周周报"),
        }
    }

    fn trend(statuses: &[Option<Status>], lang: Language) -> Trend {
        Trend::new(statuses, lang)
    }

    /// 张伟 (`person`) late, Alexander on time, 赵敏 excused; 王磊 owes two.
    pub fn rows(person: Contact, lang: Language) -> Vec<DigestRow> {
        use Status::*;
        vec![
            DigestRow {
                person,
                status: Late,
                received: Some("11月29日（周日）09:30".into()),
                late_by: Some("11小时".into()),
                fine: Some(Fen::from_yuan(50)),
                excuse_reason: None,
                reply: ReplyState::Awaiting {
                    hours: 20,
                    waited: "20小时".into(),
                    overdue: false,
                },
                month_fines: FineTally {
                    count: 2,
                    amount: Fen::from_yuan(100),
                },
                trend: trend(
                    &[
                        None,
                        Some(OnTime),
                        Some(OnTime),
                        Some(Late),
                        Some(Missing),
                        Some(Excused),
                        Some(OnTime),
                        Some(Late),
                    ],
                    lang,
                ),
            },
            DigestRow {
                person: contact("Alexander Montgomery", "alex@example.com"),
                status: OnTime,
                received: Some("11月28日（周六）20:15".into()),
                late_by: None,
                fine: None,
                excuse_reason: None,
                reply: ReplyState::Replied {
                    at: "11月29日（周日）10:00".into(),
                    after_hours: 13,
                    after: "13小时".into(),
                },
                month_fines: FineTally::default(),
                trend: trend(&[Some(OnTime); 8], lang),
            },
            DigestRow {
                person: contact("赵敏", "zhaomin@example.com"),
                status: Excused,
                received: None,
                late_by: None,
                fine: None,
                excuse_reason: Some("出差".into()),
                reply: ReplyState::NoReport,
                month_fines: FineTally::default(),
                trend: trend(
                    &[
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        Some(Missing),
                        Some(Excused),
                    ],
                    lang,
                ),
            },
        ]
    }

    pub fn owed(lang: Language) -> Vec<StillOwed> {
        let wang = contact("王磊", "wanglei@example.com");
        vec![
            StillOwed {
                person: wang.clone(),
                kind: Kind::Monthly,
                period: "10月".into(),
                due: "11月2日（周一）当天".into(),
                provisional: false,
                overdue: names::duration(chrono::Duration::days(27), lang),
                fine: Some(Fen::from_yuan(50)),
            },
            StillOwed {
                person: wang,
                kind: Kind::Weekly,
                period: "第46周（11月9日–15日）".into(),
                due: "11月14日（周六）22:00".into(),
                provisional: false,
                overdue: names::duration(chrono::Duration::days(15), lang),
                fine: Some(Fen::from_yuan(50)),
            },
        ]
    }

    pub fn heading(provisional: bool, lang: Language) -> DigestHeading {
        let w = |week| crate::period::Period::Week { year: 2026, week };
        DigestHeading {
            kind: Kind::Weekly,
            period: names::period(w(48), lang),
            due: match lang {
                Language::Zh => "11月28日（周六）22:00",
                Language::En => "Sat 28 Nov, 22:00",
            }
            .into(),
            provisional,
            provisional_years: if provisional { vec![2027] } else { vec![] },
            month: names::month(crate::period::Month::new(2026, 11).expect("a month"), lang),
            trend_span: names::span(w(41), w(48), lang),
            trend_len: 8,
            reply_window_days: 30,
        }
    }

    pub fn digest(person: Contact, audience: Audience, lang: Language) -> Digest {
        let wang = contact("王芳", "wangfang@example.com");
        let stats = GroupStats::new(7, 8, 6, 8, &[60, 300, 330, 900]);
        let group = DigestGroup::new(
            "商务一组",
            wang.clone(),
            rows(person.clone(), lang),
            Listed::of(owed(lang), StillOwed::earliest),
            Listed::of(vec![pending(person, lang)], PendingReply::earliest),
            stats,
        );
        let recipient = match audience {
            Audience::Manager => contact("李强", "liqiang@example.com"),
            Audience::Supervisor => wang,
        };
        Digest::new(
            recipient,
            audience,
            heading(false, lang),
            vec![group],
            Fen::from_yuan(175),
            lang,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::sample::*;
    use super::*;
    use crate::notify::compose::{Rendered, Templates};

    fn render(d: &Digest, lang: Language) -> Rendered {
        Templates::new()
            .and_then(|t| t.render_email(lang, d))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn zhang() -> Contact {
        contact("张伟", "zhangwei@example.com")
    }

    /// A manager's digest of a team like the review's: 40 reps in 4
    /// groups, each rep late this week with a full trend line, each group
    /// owing 60 reports and with 120 waiting for a reply.
    fn team_of_forty() -> Digest {
        team(4, 10)
    }

    /// A manager's digest of `groups` groups of `size` reps, as
    /// [`team_of_forty`] describes them.
    fn team(groups: usize, size: usize) -> Digest {
        manager_digest(team_groups(groups, size))
    }

    fn manager_digest(groups: Vec<DigestGroup>) -> Digest {
        Digest::new(
            contact("李强", "liqiang@example.com"),
            Audience::Manager,
            heading(false, Language::Zh),
            groups,
            Fen::from_yuan(175),
            Language::Zh,
        )
    }

    fn team_groups(groups: usize, size: usize) -> Vec<DigestGroup> {
        (1..=groups)
            .map(|g| {
                let rows: Vec<DigestRow> = (1..=size)
                    .map(|i| {
                        let who = contact(
                            &format!("司马长风{g}{i}"),
                            &format!("rep{g}x{i}@example.com"),
                        );
                        rows(who, Language::Zh).swap_remove(0)
                    })
                    .collect();
                let owed: Vec<StillOwed> = (0..30).flat_map(|_| owed(Language::Zh)).collect();
                let waiting: Vec<PendingReply> = (0..120)
                    .map(|i| {
                        pending(
                            contact(&format!("欧阳晓{i}"), "x@example.com"),
                            Language::Zh,
                        )
                    })
                    .collect();
                let stats = GroupStats::new(7, 8, 6, 8, &[60, 300]);
                DigestGroup::new(
                    format!("商务{g}组"),
                    contact(&format!("主管{g}"), &format!("sup{g}@example.com")),
                    rows,
                    Listed::of(owed, StillOwed::earliest),
                    Listed::of(waiting, PendingReply::earliest),
                    stats,
                )
            })
            .collect()
    }

    #[test]
    fn a_manager_digest_of_forty_people_stays_under_gmails_clipping_size() {
        let d = team_of_forty();
        let r = render(&d, Language::Zh);
        // Gmail clips a message's HTML past about 102 KB: what is below
        // the cut is not read.
        assert!(r.html.len() < 100_000, "HTML of {} bytes", r.html.len());
        // The lists are capped, the totals true.
        assert_eq!(d.groups[0].counts.awaiting_reply, 120);
        assert_eq!(d.groups[0].awaiting_reply.len(), MANAGER_LIST_CAP);
        assert!(r.text.contains("以及另外 112 份更早的报告"), "{}", r.text);
        assert!(r.text.contains("以及另外 52 份更早的"), "{}", r.text);
        let lines = r.text.lines().count();
        assert!(lines < 520, "{lines} lines of text");
        assert!(r.text.contains("回复的报告（120 份"), "{}", r.text);
    }

    #[test]
    fn a_manager_digest_of_over_forty_people_shows_each_groups_figures_not_a_card_each() {
        let d = team(84, 12);
        assert!(d.overview_only);
        let r = render(&d, Language::Zh);
        assert!(r.html.len() < 100_000, "HTML of {} bytes", r.html.len());
        assert!(!r.html.contains("司马长风11"), "no person's card");
        assert!(
            r.html.contains("商务84组（主管：主管84）"),
            "every group's figures"
        );
        assert!(
            r.text.contains("每人的情况见其主管收到的摘要"),
            "{}",
            r.text
        );
        assert_eq!(d.counts.people, 84 * 12, "the totals count everyone");
        assert_eq!(d.counts.awaiting_reply, 84 * 120);
        let en = render(&team(84, 12), Language::En);
        assert!(
            en.text
                .contains("every person is in their supervisor's digest")
        );
        // Each group's line has what the manager acts on.
        assert!(
            r.text.contains("待主管回复 120 份"),
            "the group's reply backlog: {}",
            r.text
        );
        assert!(r.text.contains("本期：准时 0/12，迟交 12"), "{}", r.text);
        // Forty people or fewer: a section per group, a card per person;
        // one more, and the cards go.
        let small = team(4, 10);
        assert!(!small.overview_only);
        assert!(render(&small, Language::Zh).html.contains("司马长风41"));
        assert!(team(41, 1).overview_only);
        // A group whose supervisor left keeps its cards: nobody else
        // gets them.
        let mut groups = team_groups(84, 12);
        groups[6] = groups[6].clone().without_digest(true);
        let d = manager_digest(groups);
        let r = render(&d, Language::Zh);
        assert!(r.html.contains("司马长风71"), "the orphan group's cards");
        assert!(!r.html.contains("司马长风81"), "no other group's cards");
        // Its supervisor is named as one who has left, nobody else is.
        for part in [&r.text, &r.html] {
            assert_eq!(part.matches("主管7，已离职").count(), 2, "{part}");
            assert_eq!(part.matches("已离职").count(), 2, "{part}");
        }
        let en = render(&d, Language::En);
        assert!(
            en.text.contains("(supervisor 主管7, who has left)"),
            "{}",
            en.text
        );
    }

    #[test]
    fn lazy_templates_compile_only_the_kind_rendered_and_render_as_eager_ones_do() {
        let lazy = Templates::lazy();
        assert!(lazy.compiled().is_empty(), "nothing compiled yet");
        let d = team_of_forty();
        let once = lazy.render_email(Language::Zh, &d).expect("render");
        assert_eq!(
            lazy.compiled(),
            [(Language::Zh, "digest")],
            "only what the email needs"
        );
        assert_eq!(once, render(&d, Language::Zh));
        lazy.render_email(Language::Zh, &d).expect("render again");
        lazy.render_email(Language::En, &d)
            .expect("render in English");
        assert_eq!(
            lazy.compiled(),
            [(Language::Zh, "digest"), (Language::En, "digest")]
        );
    }

    #[test]
    fn group_stats_round_and_take_the_median() {
        let s = GroupStats::new(7, 8, 6, 8, &[900, 60, 330, 300]);
        assert_eq!(s.on_time_percent, Some(88));
        assert_eq!(s.reply_percent, Some(75));
        // Median of 60, 300, 330, 900 minutes = 315 min = 5.25 h → 5.3.
        assert_eq!(s.median_reply_hours.as_deref(), Some("5.3"));
        let empty = GroupStats::new(0, 0, 0, 0, &[]);
        assert_eq!(empty.on_time_percent, None);
        assert_eq!(empty.median_reply_hours, None);
        assert_eq!(
            GroupStats::new(1, 3, 1, 1, &[90])
                .median_reply_hours
                .as_deref(),
            Some("1.5")
        );
    }

    #[test]
    fn digest_counts_this_period_the_month_and_what_is_owed() {
        let d = digest(zhang(), Audience::Manager, Language::Zh);
        assert_eq!(d.counts.people, 3);
        assert_eq!(
            (d.counts.on_time, d.counts.late, d.counts.excused),
            (1, 1, 1)
        );
        assert_eq!(d.counts.fines, Fen::from_yuan(50));
        assert_eq!(
            d.counts.month_fines,
            FineTally {
                count: 2,
                amount: Fen::from_yuan(100)
            }
        );
        assert_eq!(d.counts.awaiting_reply, 1);
        assert_eq!(d.counts.still_owed, 2);
    }

    #[test]
    fn period_and_month_figures_are_labelled_in_subject_text_and_html() {
        for audience in [Audience::Supervisor, Audience::Manager] {
            let r = render(&digest(zhang(), audience, Language::Zh), Language::Zh);
            assert!(r.subject.contains("本期准时 1/3"), "{}", r.subject);
            assert!(r.subject.contains("仍未补交 2 份"), "{}", r.subject);
            for body in [&r.text, &r.html] {
                assert!(body.contains("本期 第48周（11月23日–29日）"), "{body}");
                assert!(body.contains("本月（11月）罚款"), "{body}");
                assert!(body.contains("活动经费余额"), "{body}");
                assert!(body.contains("175.00"), "{body}");
            }
            let r = render(&digest(zhang(), audience, Language::En), Language::En);
            assert!(
                r.subject.contains("this period 1/3 on time"),
                "{}",
                r.subject
            );
            for body in [&r.text, &r.html] {
                assert!(body.contains("This period"), "{body}");
                assert!(body.contains("this month (November 2026)"), "{body}");
            }
        }
    }

    #[test]
    fn still_owed_reports_are_listed_oldest_first_with_how_long_overdue() {
        let r = render(
            &digest(zhang(), Audience::Supervisor, Language::Zh),
            Language::Zh,
        );
        for body in [&r.text, &r.html] {
            let october = body.find("10月月报").unwrap_or_else(|| panic!("{body}"));
            let w46 = body
                .find("第46周（11月9日–15日）周报")
                .unwrap_or_else(|| panic!("{body}"));
            assert!(october < w46, "oldest first: {body}");
            assert!(body.contains("仍未补交"), "{body}");
            assert!(body.contains("已逾期 27天"), "{body}");
            assert!(body.contains("已逾期 15天"), "{body}");
        }
    }

    #[test]
    fn each_person_has_a_trend_line_oldest_left_and_a_legend() {
        let r = render(
            &digest(zhang(), Audience::Supervisor, Language::Zh),
            Language::Zh,
        );
        assert!(r.text.contains("·  ✓  ✓  迟 ✗  免 ✓  迟"), "{}", r.text);
        assert!(
            r.text.contains("最近8周（第41–48周，左早右近）"),
            "{}",
            r.text
        );
        assert!(r.html.contains("第41–48周"), "{}", r.html);
        // 3 people × 8 periods, and the legend.
        assert_eq!(r.html.matches("data-mark").count(), 24 + 5, "{}", r.html);
        for entry in ["✓ 准时", "迟 迟交", "✗ 未交", "免 免罚", "· 未跟踪"] {
            assert!(r.text.contains(entry), "text legend lacks {entry}");
        }
        let en = render(
            &digest(zhang(), Audience::Supervisor, Language::En),
            Language::En,
        );
        assert!(en.text.contains("·  ✓  ✓  L  ✗  E  ✓  L"), "{}", en.text);
    }

    #[test]
    fn fines_this_month_show_count_and_amount_per_person() {
        let r = render(
            &digest(zhang(), Audience::Supervisor, Language::Zh),
            Language::Zh,
        );
        assert!(
            r.text.contains("本月（11月）罚款：2 次，100.00 元"),
            "{}",
            r.text
        );
        assert!(r.html.contains("2 次，100.00 元"), "{}", r.html);
        let en = render(
            &digest(zhang(), Audience::Supervisor, Language::En),
            Language::En,
        );
        assert!(en.text.contains("2 fines, 100.00 yuan"), "{}", en.text);
    }

    #[test]
    fn a_card_with_no_report_says_why_there_is_nothing_to_reply_to_not_a_dash() {
        for (lang, missing, excused) in [
            (
                Language::Zh,
                "回复：</span>报告未到</div>",
                "回复：</span>无需回复</div>",
            ),
            (
                Language::En,
                "reply: </span>no report yet</div>",
                "reply: </span>none needed</div>",
            ),
        ] {
            let mut d = digest(zhang(), Audience::Supervisor, lang);
            let r = render(&d, lang);
            assert!(r.html.contains(excused), "{}", r.html);
            assert!(!r.html.contains(missing), "{}", r.html);
            for row in &mut d.groups[0].rows {
                if row.reply == ReplyState::NoReport {
                    row.status = Status::Missing;
                    row.excuse_reason = None;
                }
            }
            let r = render(&d, lang);
            assert!(r.html.contains(missing), "{}", r.html);
            assert!(!r.html.contains(excused), "{}", r.html);
            assert!(!r.html.contains("</span>-</div>"), "{}", r.html);
        }
    }

    #[test]
    fn amounts_of_a_thousand_yuan_or_more_group_their_thousands() {
        for lang in [Language::Zh, Language::En] {
            let mut d = digest(zhang(), Audience::Supervisor, lang);
            d.fund_balance = Fen(1_234_560);
            let r = render(&d, lang);
            for part in [&r.text, &r.html] {
                assert!(part.contains("12,345.60"), "{part}");
                assert!(!part.contains("12345.60"), "{part}");
            }
        }
    }

    #[test]
    fn a_provisional_deadline_is_marked_with_one_line_about_the_calendar() {
        for (lang, mark, line) in [
            (Language::Zh, "暂定", "2027年的放假安排尚未正式公布"),
            (
                Language::En,
                "provisional",
                "The 2027 holiday calendar is not official yet",
            ),
        ] {
            let mut d = digest(zhang(), Audience::Supervisor, lang);
            let plain = render(&d, lang);
            assert!(!plain.text.contains(mark), "{}", plain.text);
            d.heading = heading(true, lang);
            d.groups[0].still_owed[1].provisional = true;
            let r = render(&d, lang);
            for body in [&r.text, &r.html] {
                assert!(body.contains(mark), "{body}");
                assert_eq!(body.matches(line).count(), 1, "{body}");
            }
        }
    }

    #[test]
    fn the_text_part_has_no_line_wider_than_72_columns() {
        for lang in [Language::Zh, Language::En] {
            for audience in [Audience::Supervisor, Audience::Manager] {
                let long = contact("欧阳娜娜·阿卜杜热西提", "ouyang.nana@example.com");
                let mut d = digest(long, audience, lang).sent_late("11月16日（周一）08:30");
                d.heading = heading(true, lang);
                let r = render(&d, lang);
                assert!(
                    r.text.contains("现补发") || r.text.contains("comes late"),
                    "{lang}: says it comes late: {}",
                    r.text
                );
                for line in r.text.lines() {
                    assert!(
                        crate::notify::compose::display_width(line) <= 72,
                        "{lang} {audience:?}: {line:?} is {} columns",
                        crate::notify::compose::display_width(line)
                    );
                }
            }
        }
    }

    #[test]
    fn the_html_stacks_cards_and_keeps_tables_for_wide_screens_only() {
        let r = render(
            &digest(zhang(), Audience::Manager, Language::Zh),
            Language::Zh,
        );
        // No table in the base layout (Outlook's conditional wrapper aside);
        // a media query turns cards into rows.
        let outside_mso: String = r
            .html
            .split("<!--[if mso]>")
            .map(|part| {
                part.split_once("<![endif]-->")
                    .map_or(part, |(_, rest)| rest)
            })
            .collect();
        assert!(!outside_mso.contains("<table"), "{}", r.html);
        assert!(r.html.contains("@media"), "{}", r.html);
        assert!(r.html.contains("class=\"dg-card\""), "{}", r.html);
        // The manager's digest: a section per group naming its supervisor.
        assert!(r.html.contains("商务一组（主管：王芳）"), "{}", r.html);
        assert!(r.text.contains("商务一组（主管：王芳）"), "{}", r.text);
    }

    #[test]
    fn the_reply_rate_names_what_it_counts() {
        let r = render(
            &digest(zhang(), Audience::Supervisor, Language::Zh),
            Language::Zh,
        );
        for body in [&r.text, &r.html] {
            assert!(body.contains("75%（6/8）"), "{body}");
            assert!(body.contains("已到回复期限"), "{body}");
        }
    }
}
