//! A generated company mailbox for the benchmarks: a roster of reps and
//! clerks under supervisors and managers, and the assistant's mailbox over
//! a span of weeks, written with a fixed seed so every run sees the same
//! mail.
//!
//! The mail: weekly and monthly reports in many subject styles (Chinese and
//! English), in the header styles of Foxmail and Outlook (GB2312, GBK for
//! names GB2312 lacks), Tencent Exmail (UTF-8, base64) and webmail (UTF-8,
//! quoted-printable or 8bit); on time, late and missing; revisions,
//! misaddressed reports (sent to the assistant only), the supervisors'
//! replies, out-of-office auto-replies, newsletters, look-alikes (expense
//! claims, quotes, meeting notices) and attachments, a few of them MBs.
//! Each message carries a [`Label`]: what it is, so a benchmark can check
//! reportd's classes against it.
//!
//! The message budget is spread over the span: with fewer messages than a
//! full span of reports, each reporter files a report for a period with a
//! lower probability (the rest are missing), so the arrivals always cover
//! the whole span. The list is cut at the budget in arrival order, so no
//! reply is kept without its report.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Duration as Span, NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;

use reportd::calendar::Calendar;
use reportd::config::Role;

/// The domain of everyone on the roster.
pub const DOMAIN: &str = "example.com";
/// The assistant whose mailbox reportd reads (local part `zhaomin`).
pub const ASSISTANT: (&str, &str) = ("赵敏", "zhaomin@example.com");
/// Reporters per supervisor.
const GROUP_SIZE: usize = 12;
/// Supervisors per manager.
const MANAGER_SPAN: usize = 20;

const SURNAMES: [(&str, &str); 40] = [
    ("张", "zhang"),
    ("李", "li"),
    ("王", "wang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("周", "zhou"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("高", "gao"),
    ("林", "lin"),
    ("罗", "luo"),
    ("郑", "zheng"),
    ("梁", "liang"),
    ("谢", "xie"),
    ("宋", "song"),
    ("唐", "tang"),
    ("许", "xu"),
    ("韩", "han"),
    ("冯", "feng"),
    ("邓", "deng"),
    ("曹", "cao"),
    ("彭", "peng"),
    ("曾", "zeng"),
    ("肖", "xiao"),
    ("田", "tian"),
    ("董", "dong"),
    ("袁", "yuan"),
    ("潘", "pan"),
    ("蒋", "jiang"),
    ("蔡", "cai"),
    ("欧阳", "ouyang"),
];

/// Given names; the last few are GBK-only characters (not in GB2312), which
/// Foxmail then labels GBK (`render::GBK_ONLY`).
const GIVEN: [(&str, &str); 40] = [
    ("伟", "wei"),
    ("娜", "na"),
    ("磊", "lei"),
    ("静", "jing"),
    ("强", "qiang"),
    ("秀英", "xiuying"),
    ("建国", "jianguo"),
    ("敏", "min"),
    ("洋", "yang"),
    ("丽", "li"),
    ("军", "jun"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀兰", "xiulan"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("桂英", "guiying"),
    ("晓东", "xiaodong"),
    ("海燕", "haiyan"),
    ("志强", "zhiqiang"),
    ("雪梅", "xuemei"),
    ("旭娜", "xuna"),
    ("浩然", "haoran"),
    ("子涵", "zihan"),
    ("思远", "siyuan"),
    ("一鸣", "yiming"),
    ("婷婷", "tingting"),
    ("佳琪", "jiaqi"),
    ("宇航", "yuhang"),
    ("堃", "kun"),
    ("喆", "zhe"),
    ("珺", "jun"),
    ("昊", "hao"),
    ("镕", "rong"),
];

/// SplitMix64: small, fast and the same everywhere, so a seed names a mailbox.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `p` (0..=1).
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    fn minutes(&mut self, n: u64) -> Span {
        Span::minutes(self.below(n) as i64)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// `n` pseudo-random bytes (attachment content).
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    /// Romanised name ("Zhang Wei"), for English subjects.
    pub latin: String,
    pub email: String,
    pub role: Role,
    pub group: String,
    /// Index into [`Team::supervisors`] (reporters), or into
    /// [`Team::managers`] (supervisors).
    pub boss: usize,
    pub english: bool,
}

/// Everyone on the roster.
pub struct Team {
    pub reporters: Vec<Person>,
    pub supervisors: Vec<Person>,
    pub managers: Vec<Person>,
}

fn name_of(i: usize) -> (String, String, String) {
    let (s, sp) = SURNAMES[i % SURNAMES.len()];
    let (g, gp) = GIVEN[(i / SURNAMES.len() + i) % GIVEN.len()];
    let mut latin = format!("{sp} {gp}");
    // Capitalised: "Zhang Wei".
    latin = latin
        .split(' ')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ");
    (format!("{s}{g}"), latin, format!("{sp}{gp}{i:04}@{DOMAIN}"))
}

impl Team {
    /// `reporters` reps and clerks (every fifth a clerk, every tenth reads
    /// English), one supervisor per 12 of them, one manager per 20
    /// supervisors, and the assistant.
    pub fn new(reporters: usize) -> Team {
        let n_sup = reporters.div_ceil(GROUP_SIZE).max(1);
        let n_man = n_sup.div_ceil(MANAGER_SPAN).max(1);
        let managers = (0..n_man)
            .map(|k| {
                let (name, latin, _) = name_of(reporters + n_sup + k);
                Person {
                    name,
                    latin,
                    email: format!("manager{k:02}@{DOMAIN}"),
                    role: Role::Manager,
                    group: String::new(),
                    boss: 0,
                    english: false,
                }
            })
            .collect();
        let supervisors = (0..n_sup)
            .map(|k| {
                let (name, latin, _) = name_of(reporters + k);
                Person {
                    name,
                    latin,
                    email: format!("supervisor{k:03}@{DOMAIN}"),
                    role: Role::Supervisor,
                    group: format!("商务{}组", k + 1),
                    boss: k / MANAGER_SPAN,
                    english: k % 7 == 6,
                }
            })
            .collect();
        let reporters = (0..reporters)
            .map(|i| {
                let (name, latin, email) = name_of(i);
                Person {
                    name,
                    latin,
                    email,
                    role: if i % 5 == 4 { Role::Clerk } else { Role::Rep },
                    group: format!("商务{}组", i % n_sup + 1),
                    boss: i % n_sup,
                    english: i % 10 == 9,
                }
            })
            .collect();
        Team {
            reporters,
            supervisors,
            managers,
        }
    }

    /// The `[[person]]` tables of the config.
    pub fn roster_toml(&self) -> String {
        let mut t = String::new();
        let mut person = |p: &Person, supervisor: Option<&str>| {
            let _ = write!(
                t,
                "\n[[person]]\nname = \"{}\"\nemail = \"{}\"\nrole = \"{}\"\n",
                p.name,
                p.email,
                p.role.as_str()
            );
            if !p.group.is_empty() {
                let _ = writeln!(t, "group = \"{}\"", p.group);
            }
            if let Some(s) = supervisor {
                let _ = writeln!(t, "supervisor = \"{s}\"");
            }
            if p.english {
                t.push_str("language = \"en\"\n");
            }
        };
        for m in &self.managers {
            person(m, None);
        }
        person(
            &Person {
                name: ASSISTANT.0.into(),
                latin: "Zhao Min".into(),
                email: ASSISTANT.1.into(),
                role: Role::Assistant,
                group: String::new(),
                boss: 0,
                english: false,
            },
            None,
        );
        for s in &self.supervisors {
            person(s, None);
        }
        for r in &self.reporters {
            person(r, Some(&self.supervisors[r.boss].email));
        }
        t
    }

    pub fn size(&self) -> usize {
        self.reporters.len() + self.supervisors.len() + self.managers.len() + 1
    }
}

/// The mail clients whose header styles are imitated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    Foxmail,
    Outlook,
    Exmail,
    Webmail,
}

const CLIENTS: [Client; 4] = [
    Client::Foxmail,
    Client::Outlook,
    Client::Exmail,
    Client::Webmail,
];

/// What a generated message is: the truth reportd's class is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Label {
    /// A weekly or monthly report to the sender's supervisor (on time or late).
    Report,
    /// A second report for the same period.
    Revision,
    /// A report that left out the supervisor (sent to the assistant only).
    Misaddressed,
    /// The supervisor's answer to a report.
    Reply,
    /// An out-of-office answer to a report.
    AutoReply,
    Newsletter,
    /// Look-alikes and everyday mail: expense claims, quotes, meeting notices.
    Other,
}

impl Label {
    pub const ALL: [Label; 7] = [
        Label::Report,
        Label::Revision,
        Label::Misaddressed,
        Label::Reply,
        Label::AutoReply,
        Label::Newsletter,
        Label::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Label::Report => "report",
            Label::Revision => "revision",
            Label::Misaddressed => "misaddressed",
            Label::Reply => "reply",
            Label::AutoReply => "auto-reply",
            Label::Newsletter => "newsletter",
            Label::Other => "other",
        }
    }

    /// The class `reportd messages --json` should give it.
    pub fn expected_class(self) -> &'static str {
        match self {
            Label::Report => "report",
            Label::Revision => "revision",
            Label::Misaddressed => "misaddressed",
            Label::Reply => "reply",
            Label::AutoReply | Label::Newsletter | Label::Other => "ignored",
        }
    }

    /// A report of any sort (what recognition recall and precision count).
    pub fn is_report(self) -> bool {
        matches!(self, Label::Report | Label::Revision | Label::Misaddressed)
    }
}

/// Extra headers of a kind of mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extra {
    None,
    AutoReply,
    Bulk,
}

/// An attachment: its file name and size in bytes (before base64).
#[derive(Debug, Clone)]
pub struct Attachment {
    pub name: String,
    pub size: usize,
}

#[derive(Debug, Clone)]
pub struct Mail {
    /// Arrival (INTERNALDATE).
    pub at: DateTime<Utc>,
    pub from: (String, String),
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub client: Client,
    /// Message-ID without brackets.
    pub id: String,
    pub in_reply_to: Option<String>,
    pub label: Label,
    pub extra: Extra,
    pub attachment: Option<Attachment>,
    /// Seeds the attachment's bytes.
    pub seed: u64,
}

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub messages: usize,
    pub first_monday: NaiveDate,
    pub weeks: i64,
    pub seed: u64,
    /// Attachments (a few of them MBs); off for small, fast fixtures.
    pub attachments: bool,
}

impl Spec {
    /// A year: the 52 weeks from Monday 2025-11-24 to Sunday 2026-11-22.
    pub fn year(messages: usize) -> Spec {
        Spec {
            messages,
            first_monday: NaiveDate::from_ymd_opt(2025, 11, 24).expect("date"),
            weeks: 52,
            seed: 2026,
            attachments: true,
        }
    }

    /// The first instant after the span (Monday 00:00 in Shanghai).
    pub fn end(&self) -> DateTime<Utc> {
        local(self.first_monday + Span::weeks(self.weeks), 0, 0)
    }
}

pub fn local(day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    Shanghai
        .with_ymd_and_hms(day.year(), day.month(), day.day(), h, m, 0)
        .single()
        .expect("a time that exists in Asia/Shanghai")
        .with_timezone(&Utc)
}

/// Shares of the budget (before the cut).
const NEWSLETTER_SHARE: f64 = 0.06;
const OTHER_SHARE: f64 = 0.04;
const REVISION_RATE: f64 = 0.05;
const MISADDRESSED_RATE: f64 = 0.03;
const LATE_RATE: f64 = 0.10;
const REPLY_RATE: f64 = 0.20;
const AUTO_REPLY_RATE: f64 = 0.02;
/// Generated above the budget so the cut falls at the span's end.
const OVERSHOOT: f64 = 1.04;

fn weekly_subject(style: u64, p: &Person, monday: NaiveDate) -> String {
    let sat = monday + Span::days(5);
    let iso = monday.iso_week().week();
    let y = monday.iso_week().year();
    let (n, m, d, m2, d2) = (
        &p.name,
        monday.month(),
        monday.day(),
        sat.month(),
        sat.day(),
    );
    match style % 12 {
        0 => format!("{n} 第{iso}周周报"),
        1 => format!("周报 {m}.{d:02}-{m2}.{d2:02} {n}"),
        2 => format!("{n}周报(W{iso})"),
        3 => format!("{n} 周工作总结 第{iso}周"),
        4 => format!("Weekly report W{iso} - {}", p.latin),
        5 => format!(
            "【周报】{n} {}.{m:02}.{d:02}-{m2:02}.{d2:02}",
            monday.year()
        ),
        6 => format!("{n}-第{iso}周-工作汇报"),
        7 => format!("周工作汇报 {n} {m}月{d}日-{m2}月{d2}日"),
        8 => format!("{y}W{iso:02} 周报 {n}"),
        9 => format!("{n} {y}年第{iso}周工作总结"),
        10 => format!("销售周报-{n}-W{iso}"),
        _ => format!("{n} 周小结（第{iso}周）"),
    }
}

fn monthly_subject(style: u64, p: &Person, y: i32, m: u32) -> String {
    let n = &p.name;
    match style % 8 {
        0 => format!("{n} {m}月月报"),
        1 => format!("{n} {m}月份月报"),
        2 => format!("{n} {y}年{m}月 月度总结"),
        3 => format!("Monthly report {y}-{m:02} {}", p.latin),
        4 => format!("【月报】{n} {y}年{m}月"),
        5 => format!("月报_{n}_{y}{m:02}"),
        6 => format!("{n} {y}.{m:02} 月度工作总结"),
        _ => format!("{n} 月度工作总结（{y}年{m}月）"),
    }
}

/// Generates the mailbox, in arrival order, cut at `spec.messages`.
pub fn mailbox(spec: &Spec, team: &Team, calendar: &Calendar) -> Vec<Mail> {
    let mut g = Gen {
        rng: Rng::new(spec.seed),
        mail: Vec::new(),
        spec,
        team,
    };
    let target = spec.messages as f64 * OVERSHOOT;
    let report_budget = target * (1.0 - NEWSLETTER_SHARE - OTHER_SHARE)
        / (1.0 + REVISION_RATE + REPLY_RATE + AUTO_REPLY_RATE);
    let months = (spec.weeks as f64 / 4.35).round();
    let slots = team.reporters.len() as f64 * (spec.weeks as f64 + months);
    let filing = (report_budget / slots).min(0.93);
    for week in 0..spec.weeks {
        let monday = spec.first_monday + Span::weeks(week);
        g.weekly_reports(monday, filing);
        // The monthly report of a month that ended between last Wednesday
        // and this Tuesday.
        let month_end = (-5..2)
            .map(|d| monday + Span::days(d))
            .find(|d| (*d + Span::days(1)).day() == 1);
        if let Some(last) = month_end {
            g.monthly_reports(last, calendar, filing);
        }
    }
    g.answers();
    g.newsletters((target * NEWSLETTER_SHARE).round() as usize);
    g.other((target * OTHER_SHARE).round() as usize);
    let end = spec.end();
    let mut mail = g.mail;
    mail.retain(|m| m.at < end);
    mail.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
    mail.truncate(spec.messages);
    mail
}

struct Gen<'a> {
    rng: Rng,
    mail: Vec<Mail>,
    spec: &'a Spec,
    team: &'a Team,
}

impl Gen<'_> {
    fn assistant_cc(to: &[String]) -> Vec<String> {
        if to.iter().any(|t| t == ASSISTANT.1) {
            vec![]
        } else {
            vec![ASSISTANT.1.to_string()]
        }
    }

    /// A report (or, 3 in 100, a misaddressed one) and sometimes its revision.
    fn report(&mut self, i: usize, at: DateTime<Utc>, subject: String, id: String) {
        let p = &self.team.reporters[i];
        let client = CLIENTS[(i + self.rng.below(8) as usize / 7) % 4];
        let misaddressed = self.rng.chance(MISADDRESSED_RATE);
        let to = if misaddressed {
            vec![ASSISTANT.1.to_string()]
        } else {
            vec![self.team.supervisors[p.boss].email.clone()]
        };
        let attachment = self.report_attachment(&p.name);
        let base = Mail {
            at,
            from: (p.name.clone(), p.email.clone()),
            cc: Self::assistant_cc(&to),
            to,
            subject,
            client,
            id,
            in_reply_to: None,
            label: if misaddressed {
                Label::Misaddressed
            } else {
                Label::Report
            },
            extra: Extra::None,
            attachment,
            seed: self.rng.next_u64(),
        };
        if !misaddressed && self.rng.chance(REVISION_RATE) {
            let suffix = *self
                .rng
                .pick(&[" (更正版)", "（修改版）", "（补附件）", " v2"]);
            let revision = Mail {
                at: at + Span::minutes(30) + self.rng.minutes(120),
                subject: format!("{}{suffix}", base.subject),
                id: format!("rev.{}", base.id),
                label: Label::Revision,
                seed: self.rng.next_u64(),
                ..base.clone()
            };
            self.mail.push(revision);
        }
        self.mail.push(base);
    }

    fn report_attachment(&mut self, name: &str) -> Option<Attachment> {
        if !self.spec.attachments {
            return None;
        }
        let roll = self.rng.below(1000);
        if roll < 3 {
            // A scanned contract or a deck: 1-3 MB.
            Some(Attachment {
                name: format!("{name}-合同扫描件.pdf"),
                size: 1_000_000 + self.rng.below(2_000_000) as usize,
            })
        } else if roll < 50 {
            Some(Attachment {
                name: format!("{name}-客户拜访明细.xlsx"),
                size: 10_000 + self.rng.below(50_000) as usize,
            })
        } else {
            None
        }
    }

    fn weekly_reports(&mut self, monday: NaiveDate, filing: f64) {
        let saturday = monday + Span::days(5);
        let iso = monday.iso_week().week();
        for i in 0..self.team.reporters.len() {
            if !self.rng.chance(filing) {
                continue; // missing
            }
            let at = if self.rng.chance(LATE_RATE) {
                local(saturday, 22, 0) + Span::minutes(1) + self.rng.minutes(36 * 60)
            } else {
                local(saturday, 21, 59) - self.rng.minutes(32 * 60)
            };
            let style = (i as u64 * 7 + self.rng.below(3)) % 12;
            let subject = weekly_subject(style, &self.team.reporters[i], monday);
            let id = format!(
                "w{}.{iso}.{i}.{}@mail.{DOMAIN}",
                monday.year(),
                at.timestamp()
            );
            self.report(i, at, subject, id);
        }
    }

    fn monthly_reports(&mut self, last: NaiveDate, calendar: &Calendar, filing: f64) {
        let (y, m) = (last.year(), last.month());
        let next = last + Span::days(1);
        let due = calendar.first_working_day(next.year(), next.month());
        for i in 0..self.team.reporters.len() {
            if !self.rng.chance(filing) {
                continue;
            }
            let at = if self.rng.chance(LATE_RATE) {
                local(due + Span::days(1), 9, 0) + self.rng.minutes(24 * 60)
            } else {
                local(due, 8, 30) + self.rng.minutes(15 * 60)
            };
            let style = (i as u64 * 3 + self.rng.below(2)) % 8;
            let subject = monthly_subject(style, &self.team.reporters[i], y, m);
            let id = format!("m{y}{m:02}.{i}@mail.{DOMAIN}");
            self.report(i, at, subject, id);
        }
    }

    /// The supervisors' replies to a fifth of the reports, within two days,
    /// and out-of-office answers to a few.
    fn answers(&mut self) {
        let mut out = Vec::new();
        for r in &self.mail {
            if r.label != Label::Report {
                continue;
            }
            let Some(sup) = self.team.supervisors.iter().find(|s| r.to[0] == s.email) else {
                continue;
            };
            if self.rng.chance(REPLY_RATE) {
                let prefix = *self.rng.pick(&["回复: ", "Re: ", "答复: ", "RE: "]);
                out.push(Mail {
                    at: r.at + Span::hours(2) + self.rng.minutes(46 * 60),
                    from: (sup.name.clone(), sup.email.clone()),
                    to: vec![r.from.1.clone()],
                    cc: vec![ASSISTANT.1.to_string()],
                    subject: format!("{prefix}{}", r.subject),
                    client: *self.rng.pick(&CLIENTS),
                    id: format!("re.{}", r.id),
                    in_reply_to: Some(r.id.clone()),
                    label: Label::Reply,
                    extra: Extra::None,
                    attachment: None,
                    seed: 0,
                });
            } else if self.rng.chance(AUTO_REPLY_RATE / (1.0 - REPLY_RATE)) {
                let prefix = *self.rng.pick(&["自动回复: ", "Automatic reply: "]);
                out.push(Mail {
                    at: r.at + Span::seconds(5 + self.rng.below(60) as i64),
                    from: (sup.name.clone(), sup.email.clone()),
                    to: vec![r.from.1.clone()],
                    cc: vec![ASSISTANT.1.to_string()],
                    subject: format!("{prefix}{}", r.subject),
                    client: Client::Exmail,
                    id: format!("auto.{}", r.id),
                    in_reply_to: Some(r.id.clone()),
                    label: Label::AutoReply,
                    extra: Extra::AutoReply,
                    attachment: None,
                    seed: 0,
                });
            }
        }
        self.mail.extend(out);
    }

    /// The Monday of the week the `k`-th of `total` messages spread evenly
    /// over the span falls in, and its number.
    fn week_of(&self, k: usize, total: usize) -> (i64, NaiveDate) {
        let week = (k as i64 * self.spec.weeks) / total.max(1) as i64;
        (week, self.spec.first_monday + Span::weeks(week))
    }

    /// `total` newsletters over the span.
    fn newsletters(&mut self, total: usize) {
        const LETTERS: [(&str, &str, &str); 4] = [
            (
                "销售与市场",
                "news@sales-weekly.example.net",
                "销售周刊 第{n}期：渠道拓展的十个方法",
            ),
            (
                "行业资讯",
                "digest@industry.example.org",
                "行业周报 | 第{n}期 市场动态一览",
            ),
            (
                "CRM Tips",
                "newsletter@crm.example.io",
                "Weekly digest #{n}: pipeline hygiene",
            ),
            (
                "人力资源部",
                "hr-news@example.com",
                "HR月刊 {n}：年度体检安排",
            ),
        ];
        for k in 0..total {
            let (week, monday) = self.week_of(k, total);
            let (name, from, subject) = LETTERS[k % LETTERS.len()];
            let at = local(monday, 7, 0) + self.rng.minutes(6 * 24 * 60);
            let attachment =
                (self.spec.attachments && self.rng.below(500) == 0).then(|| Attachment {
                    name: "年度行业白皮书.pdf".into(),
                    size: 1_500_000 + self.rng.below(1_500_000) as usize,
                });
            self.mail.push(Mail {
                at,
                from: (name.into(), from.into()),
                to: vec![ASSISTANT.1.to_string()],
                cc: vec![],
                subject: subject.replace("{n}", &(k / LETTERS.len() + 1).to_string()),
                client: Client::Webmail,
                id: format!("nl.{week}.{k}@{}", from.split('@').nth(1).unwrap_or(DOMAIN)),
                in_reply_to: None,
                label: Label::Newsletter,
                extra: Extra::Bulk,
                attachment,
                seed: self.rng.next_u64(),
            });
        }
    }

    /// Look-alikes and everyday mail from the team.
    fn other(&mut self, total: usize) {
        for k in 0..total {
            let (week, monday) = self.week_of(k, total);
            let i = self.rng.below(self.team.reporters.len() as u64) as usize;
            let p = &self.team.reporters[i];
            let sup = &self.team.supervisors[p.boss];
            let m = monday.month();
            let (from, to, subject) = match self.rng.below(5) {
                0 => (p, &sup.email, format!("{} {m}月报销单", p.name)),
                1 => (p, &sup.email, format!("关于华东项目的报价方案-{}", p.name)),
                2 => (sup, &p.email, "周一例会安排".to_string()),
                3 => (p, &sup.email, format!("Expense report - {} - {m}", p.latin)),
                _ => (sup, &p.email, "客户拜访计划，请查收".to_string()),
            };
            let at = local(monday, 9, 0) + self.rng.minutes(5 * 24 * 60);
            self.mail.push(Mail {
                at,
                from: (from.name.clone(), from.email.clone()),
                to: vec![to.clone()],
                cc: vec![ASSISTANT.1.to_string()],
                subject,
                client: CLIENTS[k % 4],
                id: format!("o.{week}.{k}.{i}@mail.{DOMAIN}"),
                in_reply_to: None,
                label: Label::Other,
                extra: Extra::None,
                attachment: None,
                seed: 0,
            });
        }
    }
}
