//! The whole pipeline on a generated mailbox, with no server: a Maildir of
//! [`MESSAGES`] messages from a team of 50 reps and clerks under 6
//! supervisors (weekly and monthly reports in the header styles of Foxmail
//! and Outlook in GB2312, Tencent Exmail and webmail in UTF-8; on time,
//! late, missing, revised and misaddressed; some answered by the
//! supervisor), over the first months of 2026.
//!
//! - `pipeline/pass`: `Engine::pass` with the Maildir source into a fresh
//!   SQLite file (fetch + parse + classify + judge + book + queue emails),
//!   as the first `reportd sync --once` over an existing mailbox does.
//! - `pipeline/fetch` and `pipeline/process`: the two halves of a pass
//!   (reading the Maildir into the raw store; classifying, judging, booking
//!   and queueing what is stored).
//! - `wakeup/judge_and_book`: judging every deadline again on the
//!   already-ingested database when nothing new arrived, the cost of each
//!   wake-up of the daemon.
//!
//! `cargo bench --bench pipeline`. Under `cargo test --all-targets` each
//! benchmark runs once on a smaller mailbox ([`TEST_MESSAGES`]).

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Datelike, Duration as Span, NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use rusqlite::Connection;
use tempfile::TempDir;

use reportd::calendar::Calendar;
use reportd::config::Config;
use reportd::store;
use reportd::sync::{Engine, PassReport, Source};

/// Messages in the benchmarked mailbox.
const MESSAGES: usize = 1_000;
/// Messages when the bench runs as a test (`cargo test --all-targets`).
const TEST_MESSAGES: usize = 120;
/// Reps and clerks.
const REPORTERS: usize = 50;

const MANAGER: (&str, &str) = ("陈刚", "chengang@example.com");
const ASSISTANT: (&str, &str) = ("赵敏", "zhaomin@example.com");
const SUPERVISORS: [(&str, &str, &str); 6] = [
    ("王芳", "wangfang@example.com", "商务一组"),
    ("刘洋", "liuyang@example.com", "商务二组"),
    ("孙丽", "sunli@example.com", "商务三组"),
    ("周杰", "zhoujie@example.com", "商务四组"),
    ("吴霞", "wuxia@example.com", "商务五组"),
    ("郑斌", "zhengbin@example.com", "商务六组"),
];
const SURNAMES: [(&str, &str); 10] = [
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
];
const GIVEN: [(&str, &str); 7] = [
    ("伟", "wei"),
    ("娜", "na"),
    ("磊", "lei"),
    ("静", "jing"),
    ("强", "qiang"),
    ("秀英", "xiuying"),
    ("建国", "jianguo"),
];

/// A small deterministic generator, so every run benchmarks the same mail.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }

    fn minutes(&mut self, n: u64) -> Span {
        Span::minutes(self.below(n) as i64)
    }
}

struct Person {
    name: String,
    email: String,
    supervisor: usize,
}

fn team() -> Vec<Person> {
    (0..REPORTERS)
        .map(|i| {
            let (s, sp) = SURNAMES[i % SURNAMES.len()];
            let (g, gp) = GIVEN[(i / SURNAMES.len() + i) % GIVEN.len()];
            Person {
                name: format!("{s}{g}"),
                email: format!("{sp}{gp}{i:02}@example.com"),
                supervisor: i % SUPERVISORS.len(),
            }
        })
        .collect()
}

fn config_text(dir: &Path, people: &[Person]) -> String {
    let calendar = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/calendar/cn-2026.toml");
    let mut t = format!(
        "timezone = \"Asia/Shanghai\"\n\
         database = \"{db}\"\n\
         tracking_starts = \"2026-01-05\"\n\
         calendar = [\"{calendar}\"]\n\n\
         [maildir]\npath = \"{maildir}\"\n\n\
         [[person]]\nname = \"{}\"\nemail = \"{}\"\nrole = \"manager\"\n\n\
         [[person]]\nname = \"{}\"\nemail = \"{}\"\nrole = \"assistant\"\n",
        MANAGER.0,
        MANAGER.1,
        ASSISTANT.0,
        ASSISTANT.1,
        db = dir.join("unused.sqlite3").display(),
        calendar = calendar.display(),
        maildir = dir.join("Maildir").display(),
    );
    for (name, email, group) in SUPERVISORS {
        let _ = write!(
            t,
            "\n[[person]]\nname = \"{name}\"\nemail = \"{email}\"\nrole = \"supervisor\"\ngroup = \"{group}\"\n"
        );
    }
    for (i, p) in people.iter().enumerate() {
        let (_, sup, group) = SUPERVISORS[p.supervisor];
        let role = if i % 5 == 4 { "clerk" } else { "rep" };
        let _ = write!(
            t,
            "\n[[person]]\nname = \"{}\"\nemail = \"{}\"\nrole = \"{role}\"\ngroup = \"{group}\"\nsupervisor = \"{sup}\"\n",
            p.name, p.email
        );
        if i % 10 == 9 {
            t.push_str("language = \"en\"\n");
        }
    }
    t
}

/// The mail clients whose header styles are imitated.
#[derive(Clone, Copy)]
enum Client {
    Foxmail,
    Outlook,
    Exmail,
    Webmail,
}

struct Mail {
    at: DateTime<Utc>,
    from: (String, String),
    to: Vec<String>,
    cc: Vec<String>,
    subject: String,
    client: Client,
    id: String,
    in_reply_to: Option<String>,
}

fn local(day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    Shanghai
        .with_ymd_and_hms(day.year(), day.month(), day.day(), h, m, 0)
        .single()
        .expect("a time that exists in Asia/Shanghai")
        .with_timezone(&Utc)
}

/// Weeks of reports from 2026-01-05 on, then the monthly reports, then the
/// supervisors' replies, in arrival order, cut at `n` messages.
fn mailbox(n: usize, people: &[Person], calendar: &Calendar) -> Vec<Mail> {
    let mut rng = Rng(2026);
    let mut mail: Vec<Mail> = Vec::new();
    let first_monday = NaiveDate::from_ymd_opt(2026, 1, 5).expect("date");
    let report = |at, p: &Person, to: Vec<String>, subject: String, client, id: String| Mail {
        at,
        from: (p.name.clone(), p.email.clone()),
        cc: if to.iter().any(|t| t == ASSISTANT.1) {
            vec![]
        } else {
            vec![ASSISTANT.1.to_string()]
        },
        to,
        subject,
        client,
        id,
        in_reply_to: None,
    };
    let mut week = 0;
    // Enough weeks that the cut at `n` falls after the last deadline judged.
    while mail.len() < n + n / 4 {
        let monday = first_monday + Span::weeks(week);
        let saturday = monday + Span::days(5);
        let iso = monday.iso_week().week();
        for (i, p) in people.iter().enumerate() {
            let client = [
                Client::Foxmail,
                Client::Outlook,
                Client::Exmail,
                Client::Webmail,
            ][i % 4];
            let sup = SUPERVISORS[p.supervisor].1.to_string();
            let roll = rng.below(100);
            let at = match roll {
                0..8 => continue, // missing
                8..18 => local(saturday, 22, 0) + Span::minutes(1) + rng.minutes(36 * 60),
                _ => local(saturday, 21, 59) - rng.minutes(32 * 60),
            };
            let subject = match i % 5 {
                0 => format!("{} 第{iso}周周报", p.name),
                1 => format!(
                    "周报 {}.{:02}-{}.{:02} {}",
                    monday.month(),
                    monday.day(),
                    saturday.month(),
                    saturday.day(),
                    p.name
                ),
                2 => format!("{}周报(W{iso})", p.name),
                3 => format!("{} 周工作总结 第{iso}周", p.name),
                _ => format!("Weekly report W{iso} - {}", p.name),
            };
            // 3 in 100 forget their supervisor and send to the assistant.
            let to = if rng.below(100) < 3 {
                vec![ASSISTANT.1.to_string()]
            } else {
                vec![sup]
            };
            let id = format!("w{iso}.{i}.{}@mail.example.com", at.timestamp());
            if rng.below(100) < 5 {
                mail.push(report(
                    at + Span::minutes(30) + rng.minutes(120),
                    p,
                    to.clone(),
                    format!("{subject} (更正版)"),
                    client,
                    format!("rev.{id}"),
                ));
            }
            mail.push(report(at, p, to, subject, client, id));
        }
        // The monthly report on a month that ended between last Wednesday
        // and this Tuesday (from December 2025, due on 2026-01-04, on).
        let month_end = (-5..2)
            .map(|d| monday + Span::days(d))
            .find(|d| (*d + Span::days(1)).day() == 1);
        if let Some(last) = month_end {
            let (y, m) = (last.year(), last.month());
            let next = last + Span::days(1);
            let due = calendar.first_working_day(next.year(), next.month());
            for (i, p) in people.iter().enumerate() {
                let client = [
                    Client::Outlook,
                    Client::Foxmail,
                    Client::Webmail,
                    Client::Exmail,
                ][i % 4];
                let roll = rng.below(100);
                let at = match roll {
                    0..7 => continue,
                    7..15 => local(due + Span::days(1), 9, 0) + rng.minutes(24 * 60),
                    _ => local(due, 8, 30) + rng.minutes(15 * 60),
                };
                let subject = match i % 4 {
                    0 => format!("{} {m}月月报", p.name),
                    1 => format!("{} {m}月份月报", p.name),
                    2 => format!("{} {y}年{m}月 月度总结", p.name),
                    _ => format!("Monthly report {y}-{m:02} {}", p.name),
                };
                let to = vec![SUPERVISORS[p.supervisor].1.to_string()];
                let id = format!("m{y}{m:02}.{i}@mail.example.com");
                mail.push(report(at, p, to, subject, client, id));
            }
        }
        week += 1;
    }
    // A quarter of the reports are answered by the supervisor within 2 days.
    let mut replies = Vec::new();
    for r in &mail {
        let Some(sup) = SUPERVISORS
            .iter()
            .find(|s| r.to.first().is_some_and(|t| t == s.1))
        else {
            continue;
        };
        if rng.below(4) == 0 {
            replies.push(Mail {
                at: r.at + Span::hours(2) + rng.minutes(46 * 60),
                from: (sup.0.to_string(), sup.1.to_string()),
                to: vec![r.from.1.clone()],
                cc: vec![ASSISTANT.1.to_string()],
                subject: format!("回复: {}", r.subject),
                client: Client::Foxmail,
                id: format!("re.{}", r.id),
                in_reply_to: Some(r.id.clone()),
            });
        }
    }
    mail.extend(replies);
    mail.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
    mail.truncate(n);
    mail
}

fn b64(bytes: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    // Folded at 76 characters, as mail clients do.
    let mut out = String::with_capacity(text.len() + text.len() / 38);
    for (i, c) in text.chars().enumerate() {
        if i > 0 && i % 76 == 0 {
            out.push_str("\r\n");
        }
        out.push(c);
    }
    out
}

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(text).0.into_owned()
}

fn encoded_word(text: &str, client: Client) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    match client {
        Client::Foxmail | Client::Outlook => format!("=?GB2312?B?{}?=", engine.encode(gbk(text))),
        Client::Exmail | Client::Webmail => format!("=?UTF-8?B?{}?=", engine.encode(text)),
    }
}

const BODY: &str = "各位领导好：\r\n\r\n本周工作总结如下：\r\n\
    1. 拜访客户 6 家，其中新客户 2 家，已提交报价方案 3 份。\r\n\
    2. 跟进华东区域渠道合作，完成合同初稿，法务审核中。\r\n\
    3. 回款 12.6 万元，完成月度目标的 68%。\r\n\r\n\
    下周计划：\r\n\
    1. 完成两家重点客户的产品演示。\r\n\
    2. 推动渠道合同签署。\r\n\
    3. 整理季度销售预测，周三前提交。\r\n\r\n\
    如有问题请随时联系，谢谢！\r\n";

fn render(mail: &Mail) -> Vec<u8> {
    let c = mail.client;
    let mut h = String::new();
    let _ = write!(
        h,
        "From: {} <{}>\r\nTo: {}\r\n",
        encoded_word(&mail.from.0, c),
        mail.from.1,
        mail.to.join(", ")
    );
    if !mail.cc.is_empty() {
        let _ = write!(h, "Cc: {}\r\n", mail.cc.join(", "));
    }
    let _ = write!(
        h,
        "Subject: {}\r\nDate: {}\r\nMessage-ID: <{}>\r\n",
        encoded_word(&mail.subject, c),
        mail.at.with_timezone(&Shanghai).to_rfc2822(),
        mail.id
    );
    if let Some(parent) = &mail.in_reply_to {
        let _ = write!(h, "In-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n");
    }
    h.push_str("MIME-Version: 1.0\r\n");
    let html = format!(
        "<html><body><div>{}</div></body></html>",
        BODY.replace("\r\n", "<br>\r\n")
    );
    let boundary = format!("----=_NextPart_{}", mail.at.timestamp());
    match c {
        Client::Foxmail | Client::Outlook => {
            if matches!(c, Client::Foxmail) {
                h.push_str("X-Mailer: Foxmail 7.2.25.228[cn]\r\nX-Priority: 3\r\n");
            } else {
                h.push_str(
                    "X-Mailer: Microsoft Outlook 16.0\r\nThread-Index: AdtSb0VwY2hN3q1fQ0uJ8B1wX7x2Ng==\r\nContent-Language: zh-cn\r\n",
                );
            }
            let _ = write!(
                h,
                "Content-Type: multipart/alternative;\r\n\tboundary=\"{boundary}\"\r\n\r\n\
                 This is a multi-part message in MIME format.\r\n\r\n\
                 --{boundary}\r\nContent-Type: text/plain;\r\n\tcharset=\"gb2312\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{}\r\n\r\n\
                 --{boundary}\r\nContent-Type: text/html;\r\n\tcharset=\"gb2312\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{}\r\n\r\n--{boundary}--\r\n",
                b64(&gbk(BODY)),
                b64(&gbk(&html))
            );
        }
        Client::Exmail => {
            h.push_str("X-QQ-mid: bizesmtp12t1764000000tabc\r\nX-QQ-SSF: 0000000000000000000000000000000\r\n");
            let _ = write!(
                h,
                "Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n\
                 --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{}\r\n\
                 --{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--{boundary}--\r\n",
                b64(BODY.as_bytes()),
                b64(html.as_bytes())
            );
        }
        Client::Webmail => {
            h.push_str("User-Agent: Roundcube Webmail/1.6.9\r\n");
            h.push_str(
                "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
            );
            h.push_str(BODY);
        }
    }
    h.into_bytes()
}

/// The generated mailbox, its config and the engine, built once.
struct Fixture {
    _dir: TempDir,
    engine: Engine,
    source: Source,
    now: DateTime<Utc>,
    messages: usize,
    bytes: usize,
}

impl Fixture {
    fn new(n: usize) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("reportd-bench-")
            .tempdir()
            .expect("temp dir");
        let maildir = dir.path().join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("Maildir");
        }
        let people = team();
        let config_path = dir.path().join("reportd.toml");
        let cfg = Config::from_toml_str(&config_text(dir.path(), &people), &config_path)
            .unwrap_or_else(|e| panic!("bench config: {e}"));
        let calendar = Calendar::load(&cfg.calendar).expect("calendar");
        let mail = mailbox(n, &people, &calendar);
        let mut bytes = 0;
        for (i, m) in mail.iter().enumerate() {
            let path = maildir
                .join("new")
                .join(format!("{}.bench{i}.reportd", m.at.timestamp()));
            let mut file = File::create(&path).expect("message file");
            let raw = render(m);
            bytes += raw.len();
            file.write_all(&raw).expect("message");
            file.set_modified(m.at.into()).expect("mtime");
        }
        // Judged an hour after the last arrival.
        let now = mail.last().map_or_else(Utc::now, |m| m.at) + Span::hours(1);
        let source = Source::from_config(&cfg);
        let engine = Engine::new(cfg, calendar).expect("engine");
        Fixture {
            _dir: dir,
            engine,
            source,
            now,
            messages: mail.len(),
            bytes,
        }
    }

    /// A fresh, migrated database in its own temp dir.
    fn fresh_db(&self) -> (Connection, TempDir) {
        let dir = tempfile::Builder::new()
            .prefix("reportd-bench-db-")
            .tempdir()
            .expect("temp dir");
        let conn = store::open(&dir.path().join("reportd.sqlite3")).expect("database");
        (conn, dir)
    }

    fn fetch(&self, conn: &mut Connection) {
        let fetched = block_on(self.source.fetch_once(conn)).expect("fetch");
        assert_eq!(fetched, self.messages);
    }

    fn pass(&self, conn: &mut Connection) -> PassReport {
        let report =
            block_on(self.engine.pass(&self.source, conn, self.now, |_, _| {})).expect("pass");
        assert_eq!(report.fetched, self.messages);
        assert_eq!(report.intake.total(), self.messages);
        report
    }
}

/// The Maildir source does no I/O that waits, so a current-thread runtime
/// serves; building it is outside every measurement.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    thread_local! {
        static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime");
    }
    RT.with(|rt| rt.block_on(future))
}

fn bench_pipeline(c: &mut Criterion) {
    // `cargo bench` passes --bench; `cargo test` runs each benchmark once.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let fx = Fixture::new(if benchmarking {
        MESSAGES
    } else {
        TEST_MESSAGES
    });
    let mut group = c.benchmark_group("pipeline");
    // A pass takes a few hundred milliseconds: the same few iterations in
    // every sample rather than criterion's 1, 2, ... 10 ramp.
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(fx.messages as u64));
    group.bench_function("pass", |b| {
        b.iter_batched(
            || fx.fresh_db(),
            |(mut conn, dir)| {
                let report = fx.pass(&mut conn);
                (conn, dir, report)
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("fetch", |b| {
        b.iter_batched(
            || fx.fresh_db(),
            |(mut conn, dir)| {
                fx.fetch(&mut conn);
                (conn, dir)
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("process", |b| {
        b.iter_batched(
            || {
                let (mut conn, dir) = fx.fresh_db();
                fx.fetch(&mut conn);
                (conn, dir)
            },
            |(mut conn, dir)| {
                let (intake, _, _) = fx
                    .engine
                    .process(&mut conn, fx.now, |_, _| {})
                    .expect("process");
                assert_eq!(intake.total(), fx.messages);
                (conn, dir)
            },
            BatchSize::PerIteration,
        )
    });
    // The daemon's wake-up with nothing new: every deadline judged again on
    // the ingested database; nothing more is booked or queued.
    let (mut conn, _dir) = fx.fresh_db();
    let first = fx.pass(&mut conn);
    eprintln!(
        "mailbox: {} messages, {} bytes; first pass at {}: {:?}; {} ledger entries booked, {} emails queued",
        fx.messages,
        fx.bytes,
        fx.now.with_timezone(&Shanghai).format("%Y-%m-%d %H:%M"),
        first.intake,
        first.booked.len(),
        first.queued,
    );
    group.finish();
    let mut group = c.benchmark_group("wakeup");
    group.bench_function("judge_and_book", |b| {
        b.iter(|| {
            let (booked, queued) = fx
                .engine
                .judge_and_book(&mut conn, fx.now)
                .expect("judge_and_book");
            assert!(booked.is_empty() && queued == 0);
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    targets = bench_pipeline
}
criterion_main!(benches);
