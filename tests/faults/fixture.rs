//! The fault suite's one fixed mailbox: October 2026 of a 30-person team
//! (a manager, the assistant, 4 supervisors, 24 reps), generated from a
//! fixed seed so every run reads the same bytes.
//!
//! Reports come on time, late or not at all; some are revised, some sent
//! to the assistant alone (misaddressed), some answered by the supervisor.
//! Reasons are filed by `reportd excuse` (before a deadline) and by email
//! (`请假 <period> <rep>` from the supervisor); a newsletter and an
//! auto-reply are mail reportd must keep and ignore.
//!
//! Every report arrives between 15:00 and 22:00 local time, so that no
//! reply reminder (48 hours after a report, at its time of day) falls in
//! the calm window the daemon runs in ([`CLOCK_START`] and the few hours
//! after): nothing becomes owed while a scenario runs.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone};

/// When the daemon's clock starts (`REPORTD_TEST_CLOCK_START`): Wednesday
/// 4 November 2026, 10:00 in Shanghai. October is closed (the payroll
/// summary and the archive were due at 08:30 that day); the next event
/// (a reply reminder at 15:00) is five hours away.
pub const CLOCK_START: &str = "2026-11-04T10:00:00+08:00";
pub const TRACKING_STARTS: &str = "2026-10-05";
pub const AUTHSERV: &str = "mx.example.com";
const PASS: &str = "mx.example.com; dmarc=pass header.from=example.com";
/// The fixture's own seed: the mailbox never changes between runs.
const SEED: u64 = 0x5eed_2026_1004;

pub struct Person {
    pub name: String,
    pub user: String,
    pub role: &'static str,
    pub supervisor: Option<String>,
    pub group: Option<String>,
}

impl Person {
    pub fn email(&self) -> String {
        format!("{}@example.com", self.user)
    }
}

/// One message of the mailbox with its arrival (INTERNALDATE).
pub struct Mail {
    pub raw: Vec<u8>,
    pub arrival: DateTime<FixedOffset>,
    pub message_id: String,
}

pub struct Fixture {
    pub people: Vec<Person>,
    pub mail: Vec<Mail>,
    /// `reportd excuse` runs: (person, period, reason, by, now).
    pub excuses: Vec<[String; 5]>,
    /// A rep whose late notice goes to the rep with the supervisor in Cc.
    pub late_rep: String,
}

/// splitmix64: a few lines, and the same numbers on every machine.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SUPERVISORS: [(&str, &str, &str); 4] = [
    ("王芳", "wangfang", "商务一组"),
    ("刘洋", "liuyang", "商务二组"),
    ("周丽", "zhouli", "商务三组"),
    ("孙浩", "sunhao", "商务四组"),
];
const SURNAMES: [&str; 24] = [
    "张", "李", "陈", "杨", "黄", "赵", "吴", "徐", "朱", "马", "胡", "郭", "林", "何", "高", "罗",
    "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯",
];

pub fn team() -> Vec<Person> {
    let mut people = vec![
        Person {
            name: "陈刚".into(),
            user: "chengang".into(),
            role: "manager",
            supervisor: None,
            group: None,
        },
        Person {
            name: "赵敏".into(),
            user: "zhaomin".into(),
            role: "assistant",
            supervisor: None,
            group: None,
        },
    ];
    for (name, user, group) in SUPERVISORS {
        people.push(Person {
            name: name.into(),
            user: user.into(),
            role: "supervisor",
            supervisor: None,
            group: Some(group.into()),
        });
    }
    for (i, surname) in SURNAMES.iter().enumerate() {
        people.push(Person {
            name: format!("{surname}{}", ["伟", "娜", "强", "静", "磊", "敏"][i % 6]),
            user: format!("rep{:02}", i + 1),
            role: "rep",
            supervisor: Some(format!("{}@example.com", SUPERVISORS[i % 4].1)),
            group: None,
        });
    }
    people
}

/// The `[[person]]` tables of the team.
pub fn roster(people: &[Person]) -> String {
    let mut out = String::new();
    for p in people {
        out.push_str(&format!(
            "\n[[person]]\nname = \"{}\"\nemail = \"{}\"\nrole = \"{}\"\n",
            p.name,
            p.email(),
            p.role
        ));
        if let Some(s) = &p.supervisor {
            out.push_str(&format!("supervisor = \"{s}\"\n"));
        }
        if let Some(g) = &p.group {
            out.push_str(&format!("group = \"{g}\"\n"));
        }
    }
    out
}

fn shanghai(date: NaiveDate, h: u32, m: u32) -> DateTime<FixedOffset> {
    FixedOffset::east_opt(8 * 3600)
        .expect("offset")
        .from_local_datetime(&date.and_hms_opt(h, m, 0).expect("time"))
        .single()
        .expect("instant")
}

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, d).expect("date")
}

/// A period the fixture covers: its name, a subject for it, when an
/// on-time report comes (a day before the deadline) and a late one.
struct Slot {
    period: &'static str,
    subject: &'static str,
    on_time: NaiveDate,
    late: NaiveDate,
}

const fn slot(
    period: &'static str,
    subject: &'static str,
    on: (u32, u32),
    late: (u32, u32),
) -> Slot {
    Slot {
        period,
        subject,
        on_time: NaiveDate::from_ymd_opt(2026, on.0, on.1).expect("date"),
        late: NaiveDate::from_ymd_opt(2026, late.0, late.1).expect("date"),
    }
}

const SLOTS: [Slot; 6] = [
    slot("2026-09", "9月份月度总结", (9, 29), (10, 12)),
    slot("2026-W41", "第41周工作周报", (10, 9), (10, 11)),
    slot("2026-W42", "周报 W42", (10, 16), (10, 18)),
    slot("2026-W43", "第43周工作汇报", (10, 23), (10, 25)),
    slot("2026-W44", "Weekly report W44", (10, 30), (11, 1)),
    slot("2026-10", "10月月度总结", (10, 29), (11, 3)),
];

/// What happens to one rep's report for one period.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    OnTime,
    Late,
    Missing,
}

/// The reps whose fate is fixed, for the excuses and the late notice.
fn forced(user: &str, period: &str) -> Option<Fate> {
    match (user, period) {
        ("rep03", "2026-W42") | ("rep15", "2026-10") => Some(Fate::Missing),
        ("rep07", "2026-W43") => Some(Fate::Late),
        ("rep11" | "rep20", "2026-W44") => Some(Fate::Missing),
        _ => None,
    }
}

struct Builder {
    rng: Rng,
    mail: Vec<Mail>,
    serial: u32,
}

impl Builder {
    fn id(&mut self, what: &str) -> String {
        self.serial += 1;
        format!("{what}-{}@fixture.example.com", self.serial)
    }

    /// A plain UTF-8 message with the receiving server's verdict on top.
    fn push(
        &mut self,
        headers: &[(&str, String)],
        body: &str,
        arrival: DateTime<FixedOffset>,
        id: &str,
    ) {
        let mut raw = format!("Authentication-Results: {PASS}\r\n");
        for (name, value) in headers {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        raw.push_str(&format!(
            "Date: {}\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n",
            arrival.to_rfc2822()
        ));
        self.mail.push(Mail {
            raw: raw.into_bytes(),
            arrival,
            message_id: id.to_string(),
        });
    }

    /// An issue of a vendor's newsletter to the assistant: mail reportd
    /// keeps and ignores.
    fn newsletter(&mut self, what: &str, issue: u32, at: DateTime<FixedOffset>) {
        let id = self.id(what);
        let headers = [
            ("From", "销售之家 <news@vendor.example.net>".to_string()),
            ("To", "赵敏 <zhaomin@example.com>".to_string()),
            ("Subject", format!("销售之家周刊 第{issue}期")),
        ];
        self.push(&headers, "本期要闻。", at, &id);
    }

    /// A time between 15:00 and 21:59 on `date`.
    fn afternoon(&mut self, date: NaiveDate) -> DateTime<FixedOffset> {
        let minutes = self.rng.below(7 * 60) as u32;
        shanghai(date, 15 + minutes / 60, minutes % 60)
    }
}

pub fn build() -> Fixture {
    let people = team();
    let mut b = Builder {
        rng: Rng(SEED),
        mail: Vec::new(),
        serial: 0,
    };
    let name_of = |email: &str| {
        people
            .iter()
            .find(|p| p.email() == email)
            .map(|p| p.name.clone())
            .unwrap_or_default()
    };
    let assistant = "赵敏 <zhaomin@example.com>".to_string();
    for rep in people.iter().filter(|p| p.role == "rep") {
        let sup = rep.supervisor.clone().expect("supervisor");
        let sup_box = format!("{} <{sup}>", name_of(&sup));
        let from = format!("{} <{}>", rep.name, rep.email());
        for s in &SLOTS {
            let roll = b.rng.below(100);
            let fate = forced(&rep.user, s.period).unwrap_or(match roll {
                0..80 => Fate::OnTime,
                80..90 => Fate::Late,
                _ => Fate::Missing,
            });
            let date = match fate {
                Fate::Missing => continue,
                Fate::OnTime => s.on_time,
                Fate::Late => s.late,
            };
            let arrival = b.afternoon(date);
            // 4 in 100 go to the assistant alone: misaddressed.
            let misaddressed = b.rng.below(100) < 4 && forced(&rep.user, s.period).is_none();
            let (to, cc) = if misaddressed {
                (assistant.clone(), None)
            } else {
                (sup_box.clone(), Some(assistant.clone()))
            };
            let id = b.id("report");
            let mut headers = vec![("From", from.clone()), ("To", to.clone())];
            if let Some(cc) = &cc {
                headers.push(("Cc", cc.clone()));
            }
            headers.push(("Subject", s.subject.to_string()));
            b.push(&headers, "本周拜访客户12家，签约3单。", arrival, &id);
            // 6 in 100 are revised within the hour.
            if b.rng.below(100) < 6 {
                let rid = b.id("revision");
                let mut headers = headers.clone();
                headers.retain(|(n, _)| *n != "Subject");
                headers.push(("Subject", format!("{}（更正）", s.subject)));
                b.push(
                    &headers,
                    "更正：签约4单。",
                    arrival + Duration::minutes(40),
                    &rid,
                );
            }
            // 45 in 100 are answered by the supervisor the next morning.
            if !misaddressed && b.rng.below(100) < 45 {
                let reply = b.id("reply");
                b.push(
                    &[
                        ("From", sup_box.clone()),
                        ("To", from.clone()),
                        ("Cc", assistant.clone()),
                        ("Subject", format!("Re: {}", s.subject)),
                        ("In-Reply-To", format!("<{id}>")),
                        ("References", format!("<{id}>")),
                    ],
                    "收到，辛苦了。",
                    arrival + Duration::hours(16),
                    &reply,
                );
            }
        }
    }
    // Reasons filed by email: the supervisor's `请假 <period> <rep>`.
    for (rep, sup, period, at) in [
        (
            "rep07",
            "周丽 <zhouli@example.com>",
            "2026-W43",
            shanghai(day(10, 26), 16, 5),
        ),
        (
            "rep11",
            "周丽 <zhouli@example.com>",
            "2026-W44",
            shanghai(day(11, 2), 16, 30),
        ),
    ] {
        let id = b.id("excuse");
        b.push(
            &[
                ("From", sup.to_string()),
                ("To", assistant.clone()),
                ("Subject", format!("请假 {period} {rep}@example.com")),
            ],
            "病假：住院两天，已补交。",
            at,
            &id,
        );
    }
    b.newsletter("newsletter", 41, shanghai(day(10, 14), 16, 0));
    let id = b.id("autoreply");
    b.push(
        &[
            ("From", "许强 <rep22@example.com>".into()),
            ("To", assistant.clone()),
            ("Subject", "自动回复: 第43周工作汇报".into()),
            ("Auto-Submitted", "auto-replied".into()),
        ],
        "我正在休假。",
        shanghai(day(10, 22), 18, 0),
        &id,
    );
    // The last message of the month: held back by the IDLE scenario, so
    // that holding it shifts no other message's place.
    b.newsletter("late-newsletter", 44, shanghai(day(11, 3), 23, 30));
    b.mail.sort_by_key(|m| m.arrival);
    let excuses = vec![
        excuse(
            "rep03",
            "2026-W42",
            "出差：10月12日至16日在广州参展",
            "zhaomin",
            "2026-10-06T11:00:00+08:00",
        ),
        excuse(
            "rep15",
            "2026-10",
            "病假：10月底住院",
            "zhaomin",
            "2026-10-06T11:05:00+08:00",
        ),
    ];
    Fixture {
        people,
        mail: b.mail,
        excuses,
        late_rep: "rep20".into(),
    }
}

fn excuse(person: &str, period: &str, reason: &str, by: &str, now: &str) -> [String; 5] {
    [
        format!("{person}@example.com"),
        period.into(),
        reason.into(),
        format!("{by}@example.com"),
        now.into(),
    ]
}
