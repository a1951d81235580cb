//! `reportd demo`: the whole pipeline on a generated month of a fictional
//! team's mail, with no server. A simulated clock steps through November
//! 2026 to each moment the daemon would wake for (a message arriving, a
//! deadline, a reminder, a held email); messages are written into a local
//! Maildir as they arrive, and every email reportd owes is delivered at the
//! minute it is due into `outbox/` and each recipient's Maildir.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine as _;
use chrono::{DateTime, Datelike, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;

use crate::calendar::Calendar;
use crate::config::Config;
use crate::notify::compose::{Digest, Email};
use crate::notify::outbox;
use crate::period::Period;
use crate::reports::compliance;
use crate::sync::{Engine, Source};
use crate::{ledger, mail, store};

const CALENDAR_2026: &str = include_str!("../config/calendar/cn-2026.toml");

const CONFIG: &str = r#"
timezone = "Asia/Shanghai"
database = "{dir}/reportd.sqlite3"
tracking_starts = "2026-11-02"
calendar = ["{dir}/cn-2026.toml"]

[maildir]
path = "{dir}/Maildir"

[rules]
weekly_due = "SAT 22:00"
monthly_due = "first-working-day"
fine_yuan = 50
fund_share_percent = 50
reply_within_hours = 48

[[person]]
name = "陈刚"
email = "chengang@example.com"
role = "manager"

[[person]]
name = "王芳"
email = "wangfang@example.com"
role = "supervisor"
group = "商务一组"

[[person]]
name = "刘洋"
email = "liuyang@example.com"
role = "supervisor"
group = "商务二组"

[[person]]
name = "赵敏"
email = "zhaomin@example.com"
role = "assistant"

[[person]]
name = "张伟"
email = "zhangwei@example.com"
role = "rep"
group = "商务一组"
supervisor = "wangfang@example.com"

[[person]]
name = "李娜"
email = "lina@example.com"
role = "rep"
group = "商务一组"
supervisor = "wangfang@example.com"

[[person]]
name = "王磊"
email = "wanglei@example.com"
role = "clerk"
group = "商务一组"
supervisor = "wangfang@example.com"

[[person]]
name = "杨静"
email = "yangjing@example.com"
aliases = ["yangjing88@163.com"]
role = "rep"
group = "商务二组"
supervisor = "liuyang@example.com"

[[person]]
name = "赵强"
email = "zhaoqiang@example.com"
role = "clerk"
group = "商务二组"
supervisor = "liuyang@example.com"
"#;

/// The mail clients whose header styles the demo imitates.
#[derive(Debug, Clone, Copy)]
enum Client {
    Foxmail,
    Outlook,
    Exmail,
    Webmail,
}

/// One generated message.
struct Mail {
    at: DateTime<Utc>,
    from: (&'static str, &'static str),
    to: Vec<&'static str>,
    cc: Vec<&'static str>,
    subject: String,
    client: Client,
    id: String,
    in_reply_to: Option<String>,
}

const ASSISTANT: &str = "zhaomin@example.com";

fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Shanghai
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .map_or_else(Utc::now, |t| t.with_timezone(&Utc))
}

fn report(
    at: DateTime<Utc>,
    from: (&'static str, &'static str),
    supervisor: &'static str,
    subject: &str,
    client: Client,
) -> Mail {
    Mail {
        at,
        from,
        to: vec![supervisor],
        cc: vec![ASSISTANT],
        subject: subject.to_string(),
        client,
        id: format!(
            "{}.{}@demo.example.com",
            at.timestamp(),
            from.1.split('@').next().unwrap_or("x")
        ),
        in_reply_to: None,
    }
}

fn reply_to(original: &Mail, at: DateTime<Utc>, from: (&'static str, &'static str)) -> Mail {
    Mail {
        at,
        from,
        to: vec![original.from.1],
        cc: vec![ASSISTANT],
        subject: format!("回复: {}", original.subject),
        client: Client::Foxmail,
        id: format!("re.{}", original.id),
        in_reply_to: Some(original.id.clone()),
    }
}

/// A month of the team's mail: on time, late, missing, misaddressed,
/// replied, revised, and some mail that is not a report at all.
#[allow(clippy::vec_init_then_push)] // reads as a timeline, week by week
fn month_of_mail() -> Vec<Mail> {
    let zhang = ("张伟", "zhangwei@example.com");
    let li = ("李娜", "lina@example.com");
    let wang = ("王磊", "wanglei@example.com");
    let yang = ("杨静", "yangjing@example.com");
    let zhao = ("赵强", "zhaoqiang@example.com");
    let wf = ("王芳", "wangfang@example.com");
    let ly = ("刘洋", "liuyang@example.com");
    let g1 = "wangfang@example.com";
    let g2 = "liuyang@example.com";
    let mut m = Vec::new();
    // Week 45 (due Sat 11-07 22:00): everybody on time.
    m.push(report(
        local(2026, 11, 6, 17, 40),
        zhang,
        g1,
        "张伟 第45周周报及下周计划",
        Client::Foxmail,
    ));
    m.push(report(
        local(2026, 11, 7, 9, 5),
        li,
        g1,
        "周报 11.02-11.07 李娜",
        Client::Outlook,
    ));
    m.push(report(
        local(2026, 11, 7, 20, 30),
        wang,
        g1,
        "王磊周报(W45)",
        Client::Outlook,
    ));
    m.push(report(
        local(2026, 11, 6, 18, 0),
        yang,
        g2,
        "杨静 周工作总结 2026.11.02-2026.11.08",
        Client::Exmail,
    ));
    m.push(report(
        local(2026, 11, 7, 21, 59),
        zhao,
        g2,
        "Weekly report W45 - 赵强",
        Client::Webmail,
    ));
    // Monthly 2026-10 (due by the end of Mon 11-02).
    m.push(report(
        local(2026, 11, 2, 9, 30),
        zhang,
        g1,
        "张伟 10月月报",
        Client::Foxmail,
    ));
    m.push(report(
        local(2026, 11, 3, 8, 45),
        li,
        g1,
        "李娜 10月份月报",
        Client::Outlook,
    ));
    m.push(report(
        local(2026, 11, 2, 17, 0),
        wang,
        g1,
        "王磊 2026年10月 月度总结",
        Client::Outlook,
    ));
    m.push(report(
        local(2026, 11, 2, 23, 10),
        zhao,
        g2,
        "Monthly report 2026-10 赵强",
        Client::Webmail,
    ));
    // Week 46 (due 11-14): 李娜 one minute late; 王磊 forgets his supervisor.
    let zhang46 = report(
        local(2026, 11, 13, 16, 20),
        zhang,
        g1,
        "张伟 第46周周报",
        Client::Foxmail,
    );
    let zhang46_id = zhang46.id.clone();
    m.push(reply_to(&zhang46, local(2026, 11, 14, 10, 2), wf));
    m.push(zhang46);
    m.push(report(
        local(2026, 11, 14, 22, 1),
        li,
        g1,
        "周报 W46 李娜",
        Client::Outlook,
    ));
    let mut wang46 = report(
        local(2026, 11, 14, 19, 0),
        wang,
        g1,
        "王磊周报(W46)",
        Client::Outlook,
    );
    wang46.to = vec![ASSISTANT];
    wang46.cc = vec![];
    m.push(wang46);
    let yang46 = report(
        local(2026, 11, 13, 11, 0),
        yang,
        g2,
        "杨静 周工作总结 第46周",
        Client::Exmail,
    );
    m.push(reply_to(&yang46, local(2026, 11, 16, 9, 15), ly));
    m.push(yang46);
    m.push(report(
        local(2026, 11, 14, 15, 0),
        zhao,
        g2,
        "Weekly report W46 - 赵强",
        Client::Webmail,
    ));
    m.push(report(
        local(2026, 11, 14, 18, 0),
        zhao,
        g2,
        "Weekly report W46 - 赵强 (更正版)",
        Client::Webmail,
    ));
    // Week 47 (due 11-21): 张伟 writes his report by answering last week's
    // thread (subject edited, no 回复:); 李娜 sends on Monday morning with
    // no week named, and a summary naming no period to the assistant.
    let mut zhang47 = report(
        local(2026, 11, 20, 17, 0),
        zhang,
        g1,
        "张伟 第47周周报",
        Client::Foxmail,
    );
    zhang47.in_reply_to = Some(format!("re.{}", zhang46_id));
    m.push(zhang47);
    let mut summary = report(
        local(2026, 11, 20, 18, 0),
        li,
        ASSISTANT,
        "李娜 工作总结",
        Client::Outlook,
    );
    summary.cc = vec![];
    m.push(summary);
    m.push(report(
        local(2026, 11, 23, 9, 10),
        li,
        g1,
        "李娜 周报",
        Client::Outlook,
    ));
    m.push(report(
        local(2026, 11, 21, 10, 0),
        yang,
        g2,
        "杨静 周工作总结 第47周",
        Client::Exmail,
    ));
    m.push(report(
        local(2026, 11, 21, 21, 0),
        zhao,
        g2,
        "Weekly report W47 - 赵强",
        Client::Webmail,
    ));
    // Week 48 (due 11-28): 王磊 is sick (reason filed after the deadline).
    m.push(report(
        local(2026, 11, 27, 18, 30),
        zhang,
        g1,
        "张伟 第48周周报",
        Client::Foxmail,
    ));
    m.push(report(
        local(2026, 11, 28, 12, 0),
        li,
        g1,
        "周报 11.23-11.28 李娜",
        Client::Outlook,
    ));
    // 杨静 writes from her personal mailbox, one of her `aliases`.
    m.push(report(
        local(2026, 11, 27, 16, 0),
        ("杨静", "yangjing88@163.com"),
        g2,
        "杨静 周工作总结 第48周",
        Client::Webmail,
    ));
    m.push(report(
        local(2026, 11, 28, 23, 30),
        zhao,
        g2,
        "Weekly report W48 - 赵强",
        Client::Webmail,
    ));
    // Monthly 2026-11 (due by the end of Tue 12-01).
    m.push(report(
        local(2026, 12, 1, 10, 0),
        zhang,
        g1,
        "张伟 11月月报",
        Client::Foxmail,
    ));
    m.push(report(
        local(2026, 12, 1, 16, 30),
        li,
        g1,
        "李娜 11月份月报",
        Client::Outlook,
    ));
    m.push(report(
        local(2026, 12, 1, 11, 0),
        wang,
        g1,
        "王磊 2026年11月 月度总结",
        Client::Outlook,
    ));
    m.push(report(
        local(2026, 12, 1, 20, 0),
        yang,
        g2,
        "杨静 2026.11 月度工作总结",
        Client::Exmail,
    ));
    // Not reports: a rep answering a thread, and a newsletter.
    let mut re = report(
        local(2026, 11, 18, 14, 0),
        li,
        g1,
        "Re: 客户拜访安排",
        Client::Outlook,
    );
    re.cc = vec![ASSISTANT];
    m.push(re);
    let mut news = report(
        local(2026, 11, 19, 8, 0),
        ("行业资讯", "news@newsletter.example.net"),
        ASSISTANT,
        "本周行业周报",
        Client::Webmail,
    );
    news.cc = vec![];
    m.push(news);
    // 王芳 answers every report of her group the next morning; 刘洋 only
    // answers 杨静, so 赵强's reports draw reply reminders and escalations.
    let answered: Vec<String> = m.iter().filter_map(|r| r.in_reply_to.clone()).collect();
    let replies: Vec<Mail> = m
        .iter()
        .filter(|r| {
            !r.id.starts_with("re.") && !answered.contains(&r.id) && !r.subject.starts_with("Re:")
        })
        .filter_map(|r| match (r.to.first().copied(), r.from.0) {
            (Some(g), _) if g == g1 => Some(reply_to(r, next_morning(r.at), wf)),
            (Some(g), "杨静") if g == g2 => Some(reply_to(r, next_morning(r.at), ly)),
            _ => None,
        })
        .collect();
    m.extend(replies);
    m.sort_by_key(|mail| mail.at);
    m
}

/// 09:40 the next day, when a supervisor goes through the reports.
fn next_morning(at: DateTime<Utc>) -> DateTime<Utc> {
    let day = at.with_timezone(&Shanghai).date_naive() + chrono::Duration::days(1);
    local(day.year(), day.month(), day.day(), 9, 40)
}

fn encoded_word(text: &str, client: Client) -> String {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    match client {
        Client::Foxmail | Client::Outlook => {
            let (bytes, _, _) = encoding_rs::GBK.encode(text);
            format!("=?GB2312?B?{}?=", b64(&bytes))
        }
        Client::Exmail | Client::Webmail => format!("=?UTF-8?B?{}?=", b64(text.as_bytes())),
    }
}

fn render(mail: &Mail) -> Vec<u8> {
    let c = mail.client;
    let mut h = String::new();
    h.push_str(&format!(
        "From: {} <{}>\r\n",
        encoded_word(mail.from.0, c),
        mail.from.1
    ));
    h.push_str(&format!("To: {}\r\n", mail.to.join(", ")));
    if !mail.cc.is_empty() {
        h.push_str(&format!("Cc: {}\r\n", mail.cc.join(", ")));
    }
    h.push_str(&format!("Subject: {}\r\n", encoded_word(&mail.subject, c)));
    h.push_str(&format!(
        "Date: {}\r\n",
        mail.at.with_timezone(&Shanghai).to_rfc2822()
    ));
    h.push_str(&format!("Message-ID: <{}>\r\n", mail.id));
    if let Some(parent) = &mail.in_reply_to {
        h.push_str(&format!(
            "In-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n"
        ));
    }
    h.push_str("MIME-Version: 1.0\r\n");
    let body = "本周工作总结与下周计划见正文。\r\n";
    match c {
        Client::Foxmail => {
            h.push_str("X-Mailer: Foxmail 7.2.25.228[cn]\r\nX-Priority: 3\r\n");
            let (bytes, _, _) = encoding_rs::GBK.encode(body);
            h.push_str("Content-Type: text/plain; charset=\"GB2312\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
            h.push_str(&base64::engine::general_purpose::STANDARD.encode(&bytes));
        }
        Client::Outlook => {
            h.push_str("X-Mailer: Microsoft Outlook 16.0\r\nThread-Index: AdtSb0VwY2hN3q1fQ0uJ8B1wX7x2Ng==\r\nContent-Language: zh-cn\r\n");
            let (bytes, _, _) = encoding_rs::GBK.encode(body);
            h.push_str("Content-Type: text/plain; charset=\"gb2312\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
            h.push_str(&base64::engine::general_purpose::STANDARD.encode(&bytes));
        }
        Client::Exmail => {
            h.push_str("X-QQ-mid: bizesmtp12t1764000000tabc\r\nX-QQ-SSF: 0000000000000000000000000000000\r\n");
            h.push_str("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n");
            h.push_str(&base64::engine::general_purpose::STANDARD.encode(body.as_bytes()));
        }
        Client::Webmail => {
            h.push_str("User-Agent: Roundcube Webmail/1.6.9\r\n");
            h.push_str("Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
            h.push_str(body);
        }
    }
    h.push_str("\r\n");
    h.into_bytes()
}

/// Writes one message into the Maildir's new/ with its arrival as mtime.
fn deliver(maildir: &Path, n: usize, mail: &Mail) -> Result<()> {
    let name = format!("{}.demo{n}.reportd", mail.at.timestamp());
    let path = maildir.join("new").join(name);
    let mut file = File::create(&path).with_context(|| format!("writing {}", path.display()))?;
    file.write_all(&render(mail))?;
    file.set_modified(mail.at.into())?;
    Ok(())
}

fn deliver_broken(maildir: &Path, at: DateTime<Utc>) -> Result<()> {
    let path = maildir
        .join("new")
        .join(format!("{}.broken.reportd", at.timestamp()));
    let mut file = File::create(&path)?;
    // Not a message: no header block, binary junk.
    file.write_all(b"\x00\x01\xff\xfe garbage that some broken client uploaded\r\n")?;
    file.set_modified(at.into())?;
    Ok(())
}

/// Where the demo keeps its files, made new or checked empty.
fn demo_dir(dir: Option<PathBuf>) -> Result<PathBuf> {
    match dir {
        Some(d) => {
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            if std::fs::read_dir(&d)?.next().is_some() {
                anyhow::bail!(
                    "{} is not empty: give the demo a new or empty directory",
                    d.display()
                );
            }
            Ok(d)
        }
        // Kept, so that the commands printed at the end work on it.
        None => Ok(tempfile::Builder::new()
            .prefix("reportd-demo-")
            .tempdir()?
            .keep()),
    }
}

/// The waivers the demo's supervisor files with `reportd excuse`: the
/// person, the period, the reason and when.
fn excuses() -> [(&'static str, Period, &'static str, DateTime<Utc>); 2] {
    [
        (
            "wanglei@example.com",
            Period::Week {
                year: 2026,
                week: 47,
            },
            "出差（客户拜访）",
            local(2026, 11, 20, 9, 0),
        ),
        (
            "wanglei@example.com",
            Period::Week {
                year: 2026,
                week: 48,
            },
            "病假，附医院证明",
            local(2026, 12, 1, 9, 30),
        ),
    ]
}

pub async fn run(dir: Option<PathBuf>) -> Result<()> {
    let dir = demo_dir(dir)?;
    let maildir = dir.join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub))?;
    }
    std::fs::write(dir.join("cn-2026.toml"), CALENDAR_2026)?;
    let config_path = dir.join("reportd.toml");
    std::fs::write(
        &config_path,
        CONFIG.replace("{dir}", &dir.display().to_string()),
    )?;
    let cfg = Config::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let calendar = Calendar::load(&cfg.calendar)?;
    let engine = Engine::new(cfg, calendar)?;
    let (cfg, calendar) = (&engine.cfg, &engine.calendar);
    let mut conn = store::open(&cfg.database)?;

    crate::cli::output::println(&format!(
        "reportd demo: a fictional team's November 2026, in {}",
        dir.display()
    ))?;
    let now = local(2026, 12, 2, 10, 0);
    let post = PostOffice::new(&dir)?;
    let sent = simulate(&engine, &mut conn, &maildir, &post, now).await?;

    // Printed at once at the end, through the CLI's output, so a reader
    // that stops early (`reportd demo | head`) ends it quietly.
    let mut out = format!(
        "\nStatus board at {} (reportd status --now ...):\n",
        now.with_timezone(&Shanghai).format("%Y-%m-%d %H:%M %Z")
    );
    let verdicts = compliance::verdicts(&conn, cfg, calendar, now, &[])?;
    let rows = crate::cli::BoardRows::new(&conn, cfg, &verdicts)?;
    out += &crate::cli::board_table(cfg, &rows, now);
    out += "\nLedger (reportd ledger):\n";
    out += &crate::cli::ledger_text(&conn, &ledger::entries(&conn, None, cfg.timezone)?, cfg)?;
    out += "\nMessages that need the assistant's eye (reportd messages --flagged):\n";
    out += &crate::cli::messages_text(&mail::inbox::list(&conn, true)?, cfg);
    out += &format!(
        "\nEmails reportd sent ({} in all), each at the minute it was due, as .eml files:\n  {}\n\
         and into each person's Maildir (open it in a mail client):\n  {}\n",
        sent.len(),
        post.outbox.display(),
        post.delivered.display()
    );
    out += &received_table(cfg, &sent);
    let waiting = outbox::raw_messages(&conn)?.len() - sent.len();
    if waiting > 0 {
        out += &format!("  ({waiting} more still queued at the end)\n");
    }
    out += &format!("\nTry: reportd --config {} status\n", config_path.display());
    crate::cli::output::print(&out)
}

/// Runs the month: the simulated clock steps to each moment something
/// happens (a message arrives, a waiver is filed, a deadline passes, a
/// reminder or digest falls due, a held email may go), and at each one the
/// daemon's pass runs and what is due is delivered. Returns what was sent.
async fn simulate(
    engine: &Engine,
    conn: &mut rusqlite::Connection,
    maildir: &Path,
    post: &PostOffice,
    end: DateTime<Utc>,
) -> Result<Vec<Sent>> {
    let source = Source::from_config(&engine.cfg);
    let mail = month_of_mail();
    let excuses = excuses();
    let broken_at = local(2026, 11, 19, 12, 0);
    let mut events: Vec<DateTime<Utc>> = mail.iter().map(|m| m.at).collect();
    events.extend(excuses.iter().map(|e| e.3));
    events.push(broken_at);
    events.push(end);
    let (mut next, mut sent) = (0, Vec::new());
    let mut then = local(2026, 10, 31, 23, 59);
    while then < end {
        let at = next_moment(engine, conn, &events, then)?.min(end);
        while next < mail.len() && mail[next].at <= at {
            deliver(maildir, next, &mail[next])?;
            next += 1;
        }
        if broken_at > then && broken_at <= at {
            deliver_broken(maildir, broken_at)?;
        }
        for (person, period, reason, filed) in &excuses {
            if *filed > then && *filed <= at {
                let by = "wangfang@example.com";
                compliance::file_excuse(conn, &engine.cfg, person, *period, reason, by, *filed)?;
            }
        }
        engine.pass(&source, conn, at, |_, _| {}).await?;
        sent.extend(post.deliver_due(conn, &engine.cfg, at)?);
        then = at;
    }
    Ok(sent)
}

/// The first moment after `then` the daemon would wake for: a scripted
/// event, the next deadline, the next email that may become owed, or the
/// next queued email (held through the quiet hours).
fn next_moment(
    engine: &Engine,
    conn: &rusqlite::Connection,
    events: &[DateTime<Utc>],
    then: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    let (cfg, calendar) = (&engine.cfg, &engine.calendar);
    let schedule = &cfg.notify.schedule;
    let held = outbox::next_attempt_at(conn)?.map(|t| schedule.outside_quiet(t, cfg.timezone));
    [
        compliance::next_deadline(cfg, calendar, then),
        engine.planner()?.next_event(conn, then)?,
        held,
    ]
    .into_iter()
    .flatten()
    .chain(events.iter().copied())
    .filter(|t| *t > then)
    .min()
    .context("the demo's clock has nowhere to go")
}

/// One email the demo delivered.
struct Sent {
    kind: String,
    recipients: Vec<String>,
}

/// The demo's stand-in for the SMTP server: it marks each due email sent
/// and writes it as `.eml` into `outbox/` and into each recipient's
/// Maildir under `delivered/<email>/new/`.
struct PostOffice {
    outbox: PathBuf,
    delivered: PathBuf,
}

impl PostOffice {
    fn new(dir: &Path) -> Result<PostOffice> {
        let post = PostOffice {
            outbox: dir.join("outbox"),
            delivered: dir.join("delivered"),
        };
        for d in [&post.outbox, &post.delivered] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        Ok(post)
    }

    /// Delivers every queued email due at `now`, as the daemon would: in
    /// the quiet hours only digests go, the rest wait for the morning.
    fn deliver_due(
        &self,
        conn: &rusqlite::Connection,
        cfg: &Config,
        now: DateTime<Utc>,
    ) -> Result<Vec<Sent>> {
        let quiet = cfg.notify.schedule.is_quiet(now, cfg.timezone);
        let mut stmt = conn.prepare(
            "SELECT id, kind, recipients, raw FROM outbox
             WHERE state = 'queued' AND not_before <= ?1 AND next_attempt <= ?1
             ORDER BY not_before, id",
        )?;
        let due = stmt
            .query_map([store::ts(now)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut sent = Vec::new();
        for (id, kind, recipients, raw) in due {
            if quiet && kind != <Digest as Email>::KIND {
                continue;
            }
            let recipients: Vec<String> = serde_json::from_str(&recipients)
                .with_context(|| format!("outbox row {id}: recipients"))?;
            conn.execute(
                "UPDATE outbox SET state = 'sent', attempts = attempts + 1,
                        last_attempt_at = ?2, sent_at = ?2, next_attempt = NULL
                 WHERE id = ?1",
                rusqlite::params![id, store::ts(now)],
            )?;
            self.write(id, &kind, &recipients, &raw, now)?;
            sent.push(Sent { kind, recipients });
        }
        Ok(sent)
    }

    /// Writes one email, dated by its delivery, where a mail client finds it.
    fn write(
        &self,
        id: i64,
        kind: &str,
        recipients: &[String],
        raw: &[u8],
        at: DateTime<Utc>,
    ) -> Result<()> {
        let when = at.with_timezone(&Shanghai).format("%m%d-%H%M");
        let mut paths = vec![self.outbox.join(format!("{id:03}-{when}-{kind}.eml"))];
        for to in recipients {
            let mailbox = self.delivered.join(to);
            for sub in ["cur", "new", "tmp"] {
                std::fs::create_dir_all(mailbox.join(sub))
                    .with_context(|| format!("creating {}", mailbox.display()))?;
            }
            let name = format!("{}.reportd{id}.demo", at.timestamp());
            paths.push(mailbox.join("new").join(name));
        }
        for path in paths {
            let mut file =
                File::create(&path).with_context(|| format!("writing {}", path.display()))?;
            file.write_all(raw)?;
            file.set_modified(at.into())?;
        }
        Ok(())
    }
}

/// What each person received: one line per person, counts per kind.
fn received_table(cfg: &Config, sent: &[Sent]) -> String {
    let mut per: Vec<(String, Vec<(String, usize)>)> = Vec::new();
    for s in sent {
        for to in &s.recipients {
            let who = cfg
                .roster
                .by_email(to)
                .map_or_else(|| to.clone(), |p| p.name.clone());
            let i = per.iter().position(|(w, _)| *w == who).unwrap_or_else(|| {
                per.push((who, Vec::new()));
                per.len() - 1
            });
            let kinds = &mut per[i].1;
            match kinds.iter_mut().find(|(k, _)| *k == s.kind) {
                Some((_, n)) => *n += 1,
                None => kinds.push((s.kind.clone(), 1)),
            }
        }
    }
    let mut out = String::from("\nWhat each person received (in their Maildir):\n");
    for (who, kinds) in per {
        let total: usize = kinds.iter().map(|(_, n)| n).sum();
        let list: Vec<String> = kinds
            .iter()
            .map(|(k, n)| format!("{} {n}", crate::cli::email_kind(k, cfg.language)))
            .collect();
        out += &format!("  {who}: {total} ({})\n", list.join(", "));
    }
    out
}
