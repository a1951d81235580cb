//! The weekly digest as its readers get it (issue 8, item 4), end to end:
//! the real `reportd` reads the assistant's mailbox in a real Dovecot and
//! sends through a real Postfix; each digest, the reply reminder and the
//! escalation are read back over IMAP from their recipients' INBOXes.
//!
//! The team: 商务一组 under 王芳, eight reps with long names and
//! addresses; 商务二组 under 刘洋, two reps; the manager 陈刚. Tracking
//! starts Monday 2 November 2026, so October's monthly report (due the end
//! of Monday 2 November) and weeks 45 to 48 are judged. 王芳 left five
//! reports unanswered. The digest of week 48 goes out on Monday 30
//! November at 08:30.
//!
//! The digests are checked against the CLI: the still-owed list against
//! `reportd status`, fines this month against `reportd ledger`, the fund
//! against `reportd payroll --json`. Then the digests, the reply reminder
//! and the escalation are rendered in headless Chromium at 390 px (a
//! phone) and at 800 px, and no element may stick out of the viewport.

mod app;
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use app::mail::Mail;
use app::{App, eml, reply_eml, utf8_word};
use chrono::{DateTime, FixedOffset};
use common::MailServers;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
const ASSISTANT: &str = "zhaomin";
const WANG: &str = "wangfang@example.com";
const LIU: &str = "liuyang@example.com";
const CHEN: &str = "chengang@example.com";
const TRACKING: &str = "2026-11-02";
/// Just after the digest time (08:30) on Monday 30 November.
const DIGEST_AT: &str = "2026-11-30T09:00:00+08:00";

/// (name, local part) of 王芳's eight reps.
const GROUP1: [(&str, &str); 8] = [
    ("欧阳娜娜", "ouyang.nana.guangzhou"),
    ("阿卜杜热西提·买买提", "abudurexiti.maimaiti"),
    ("司马相如", "simaxiangru.sales.east"),
    ("诸葛明月", "zhuge.mingyue.beijing"),
    ("上官婉儿", "shangguan.waner.shenzhen"),
    ("慕容雪晴", "murong.xueqing.hangzhou"),
    ("皇甫嵩山", "huangfu.songshan.chengdu"),
    ("东方未明", "dongfang.weiming.wuhan"),
];
/// 刘洋's two reps.
const GROUP2: [(&str, &str); 2] = [("杨静", "yangjing"), ("赵强", "zhaoqiang")];

fn addr(local: &str) -> String {
    format!("{local}@example.com")
}

fn roster() -> String {
    let mut r = String::from(
        r#"
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
"#,
    );
    for (group, sup) in [(&GROUP1[..], WANG), (&GROUP2[..], LIU)] {
        for (name, local) in group {
            r.push_str(&format!(
                "\n[[person]]\nname = \"{name}\"\nemail = \"{}\"\nrole = \"rep\"\nsupervisor = \"{sup}\"\n",
                addr(local)
            ));
        }
    }
    r
}

fn users() -> Vec<String> {
    let mut u: Vec<String> = ["zhaomin", "wangfang", "liuyang", "chengang"]
        .map(String::from)
        .to_vec();
    u.extend(GROUP1.iter().chain(&GROUP2).map(|(_, l)| l.to_string()));
    u
}

fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("RFC 3339")
}

/// One report of the scenario: who, which period, when it arrived, and
/// whether (and when) the supervisor answered.
struct Sent {
    rep: usize,
    group2: bool,
    period: &'static str,
    arrival: String,
    reply: Option<String>,
}

/// Every report of the scenario. Group 1: 阿卜杜热西提 is late for week 46
/// (Sunday 09:10); 司马相如 never sends week 47; 诸葛明月 never sends
/// October's; 上官婉儿 never sends week 48; 慕容雪晴 sends week 46 on
/// Wednesday 18 November; 皇甫嵩山 is excused for week 47; 东方未明's week
/// 48 comes Saturday 21:00, too recent to be due for a reply. 王芳 answers
/// each report 20 hours after it came, except five.
fn reports() -> Vec<Sent> {
    let weeks = [
        ("2026-W45", "2026-11-06"),
        ("2026-W46", "2026-11-13"),
        ("2026-W47", "2026-11-20"),
        ("2026-W48", "2026-11-27"),
    ];
    let unanswered = [
        (0, "2026-W45"),
        (1, "2026-W45"),
        (3, "2026-W46"),
        (0, "2026-W47"),
        (7, "2026-W48"),
    ];
    let mut out = Vec::new();
    let mut push = |rep: usize, group2: bool, period: &'static str, arrival: String| {
        let reply = (group2 || !unanswered.contains(&(rep, period))).then(|| {
            let t = at(&arrival) + chrono::Duration::hours(20);
            t.to_rfc3339()
        });
        out.push(Sent {
            rep,
            group2,
            period,
            arrival,
            reply,
        });
    };
    for rep in 0..GROUP1.len() {
        if rep != 3 {
            push(rep, false, "2026-10", "2026-11-02T10:00:00+08:00".into());
        }
        for (period, friday) in weeks {
            let arrival = match (rep, period) {
                (2, "2026-W47") | (4, "2026-W48") | (6, "2026-W47") => continue,
                (1, "2026-W46") => "2026-11-15T09:10:00+08:00".to_string(),
                (5, "2026-W46") => "2026-11-18T10:00:00+08:00".to_string(),
                (7, "2026-W48") => "2026-11-28T21:00:00+08:00".to_string(),
                _ => format!("{friday}T18:00:00+08:00"),
            };
            push(rep, false, period, arrival);
        }
    }
    for rep in 0..GROUP2.len() {
        push(rep, true, "2026-10", "2026-11-02T11:00:00+08:00".into());
        for (period, friday) in weeks {
            push(rep, true, period, format!("{friday}T16:00:00+08:00"));
        }
    }
    out
}

/// Puts every report and every answer into the assistant's INBOX.
async fn fill(servers: &MailServers) {
    for (n, s) in reports().iter().enumerate() {
        let (name, local) = if s.group2 {
            GROUP2[s.rep]
        } else {
            GROUP1[s.rep]
        };
        let (sup, sup_name) = if s.group2 {
            (LIU, "刘洋")
        } else {
            (WANG, "王芳")
        };
        let what = match s.period.split_once("-W") {
            Some((_, w)) => format!("第{}周周报", w.trim_start_matches('0')),
            None => "10月月报".to_string(),
        };
        let subject = format!("{name} {what}");
        let id = format!("r{n}@{local}");
        let raw = eml(
            &format!("{name} <{}>", addr(local)),
            &[&format!("{sup_name} <{sup}>")],
            &["赵敏 <zhaomin@example.com>"],
            &utf8_word(&subject),
            &id,
            "Fri, 06 Nov 2026 18:00:00 +0800",
        );
        servers
            .append(ASSISTANT, "INBOX", &raw, at(&s.arrival))
            .await
            .expect("append report");
        if let Some(reply) = &s.reply {
            let answer = reply_eml(
                sup,
                &addr(local),
                &utf8_word(&format!("Re: {subject}")),
                &format!("re{n}@{}", sup.replace('@', ".")),
                &id,
            );
            servers
                .append(ASSISTANT, "INBOX", &answer, at(reply))
                .await
                .expect("append reply");
        }
    }
}

struct World {
    servers: MailServers,
    app: App,
}

/// Runs the scenario up to the digest: a pass at 08:00 (notices, the reply
/// reminder, the escalation), 皇甫嵩山's reason for week 47 filed at
/// 08:05, the pass at 09:00 that sends the digests.
async fn world() -> World {
    let users = users();
    let users: Vec<&str> = users.iter().map(String::as_str).collect();
    let servers = MailServers::start(&users);
    let app = App::plain(
        servers.imap_port(),
        servers.password(),
        servers.smtp_port(),
        TRACKING,
        &roster(),
    );
    fill(&servers).await;
    app.sync("2026-11-30T08:00:00+08:00");
    app.run(&[
        "excuse",
        "--person",
        &addr(GROUP1[6].1),
        "--period",
        "2026-W47",
        "--reason",
        "出差（上海客户拜访）",
        "--by",
        WANG,
        "--now",
        "2026-11-30T08:05:00+08:00",
    ]);
    app.sync(DIGEST_AT);
    World { servers, app }
}

/// The email under this outbox key, read from `user`'s INBOX once it came.
async fn mail(servers: &MailServers, user: &str, key: &str) -> Mail {
    let id = reportd::notify::outbox::message_id_for(key, "example.com");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let all = servers.fetch_all(user, "INBOX").await.expect("fetch INBOX");
        let found: Vec<Mail> = all
            .iter()
            .map(|f| Mail::parse(&f.raw))
            .filter(|m| m.message_id == id)
            .collect();
        match found.len() {
            1 => return found.into_iter().next().expect("one"),
            0 if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            n => panic!(
                "{n} emails under {key} in {user}'s INBOX\n{}",
                servers.postfix_log()
            ),
        }
    }
}

fn digest_key(manager: bool, email: &str) -> String {
    let prefix = if manager { "manager-digest" } else { "digest" };
    format!("{prefix}:weekly:{email}:2026-W48")
}

/// reportd's own notation, which people never see.
const NOTATION: &[&str] = &[
    "2026-W", "W45", "W48", "on_time", "missing", "pending", "excused", "2026-11-", "2026-10",
    "T22:00", "digest:",
];

/// Subject, text and HTML speak the team's language only (the HTML's
/// markup included: no status key leaks into an attribute either).
fn assert_no_notation(m: &Mail) {
    for word in NOTATION {
        for (part, body) in [
            ("subject", &m.subject),
            ("text", &m.text),
            ("html", &m.html),
        ] {
            assert!(
                !body.contains(word),
                "{word:?} in the {part} of {:?}:\n{body}",
                m.subject
            );
        }
    }
}

/// The lines of `name`'s card in the text part: from `name：` to the next
/// blank line.
fn card<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with(&format!("{name}：")))
        .unwrap_or_else(|| panic!("no card for {name}:\n{text}"));
    lines[start..]
        .iter()
        .take_while(|l| !l.trim().is_empty())
        .copied()
        .collect()
}

fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

// ----- wording ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn the_supervisors_digest_answers_their_questions_in_their_words() {
    let w = world().await;
    let d = mail(&w.servers, "wangfang", &digest_key(false, WANG)).await;
    assert_eq!(d.to, [WANG]);
    assert_no_notation(&d);

    // This period's counts, labelled as this period's: of 8 people, 上官婉儿
    // sent nothing for week 48, the others were on time.
    assert!(
        d.subject
            .starts_with("周报汇总 第48周（11月23日–29日）：本期准时 7/8，仍未补交 3 份"),
        "{}",
        d.subject
    );
    assert!(d.subject.contains("5 份待您回复"), "{}", d.subject);
    assert!(
        d.text
            .contains("■ 本期 第48周（11月23日–29日），您的小组共 8 人：\n  准时 7，迟交 0，未交 1，免罚 0，待交 0\n  本期罚款 50.00 元"),
        "{}",
        d.text
    );

    // The still-owed list is `reportd status`'s missing rows, oldest first,
    // each with how long overdue.
    let now = at(DIGEST_AT);
    let status = w.app.status(DIGEST_AT, &[]);
    let mut missing: Vec<&Value> = status.iter().filter(|r| r["status"] == "missing").collect();
    missing.sort_by_key(|r| at(r["due"].as_str().expect("due")));
    assert_eq!(missing.len(), 3, "{status:#?}");
    let owed = d
        .text
        .split("仍未补交（最早的在前）：")
        .nth(1)
        .unwrap_or_else(|| panic!("no still-owed list:\n{}", d.text));
    let mut from = 0;
    for row in &missing {
        let name = row["name"].as_str().expect("name");
        let report = match row["kind"].as_str() {
            Some("monthly") => "10月月报".to_string(),
            _ => format!(
                "第{}周",
                row["period"]
                    .as_str()
                    .expect("period")
                    .trim_start_matches("2026-W")
            ),
        };
        let days = (now - at(row["due"].as_str().expect("due"))).num_days();
        let line = format!("  - {name} {report}");
        let found = owed[from..]
            .find(&line)
            .unwrap_or_else(|| panic!("{line:?} after position {from}, oldest first:\n{owed}"));
        from += found + line.len();
        let next = owed[from..].lines().nth(1).expect("the deadline line");
        assert!(
            next.contains(&format!("已逾期 {days}天")) && next.contains("罚款 50.00 元"),
            "{next}"
        );
    }

    // Fines this month per person: `reportd ledger`, waivers netted.
    let ledger = w.app.ledger();
    let entries = ledger["entries"].as_array().expect("entries");
    for (name, local) in GROUP1 {
        let mut by_period: Vec<(String, i64)> = Vec::new();
        for e in entries.iter().filter(|e| e["person"] == addr(local)) {
            let period = e["period"].as_str().expect("period").to_string();
            let amount = e["amount_fen"].as_i64().expect("amount");
            match by_period.iter_mut().find(|(p, _)| *p == period) {
                Some((_, a)) => *a += amount,
                None => by_period.push((period, amount)),
            }
        }
        let count = by_period.iter().filter(|(_, a)| *a > 0).count();
        let total: i64 = by_period.iter().map(|(_, a)| a).sum();
        let want = if count == 0 {
            "本月（11月）罚款：无".to_string()
        } else {
            format!("本月（11月）罚款：{count} 次，{} 元", yuan(total))
        };
        let lines = card(&d.text, name);
        assert!(
            lines.iter().any(|l| l.trim() == want),
            "{name}: {want:?} in {lines:#?}"
        );
    }
    // 皇甫嵩山's week 47 fine was waived: nothing this month.
    assert!(card(&d.text, "皇甫嵩山").contains(&"  本月（11月）罚款：无"));

    // The fund: the payroll summary's closing balance.
    let payroll: Value = serde_json::from_str(&w.app.run(&[
        "payroll", "--month", "2026-11", "--json", "--now", DIGEST_AT,
    ]))
    .expect("payroll JSON");
    let fund = payroll["fund"]["closing_fen"]
        .as_i64()
        .expect("closing_fen");
    assert_eq!(fund, 5 * 2500, "five fines stand, half of each to the fund");
    let line = format!("部门活动经费余额（全部门）：{} 元", yuan(fund));
    assert!(d.text.contains(&line), "{line}:\n{}", d.text);
    assert!(d.html.contains(&format!("{}&nbsp;元", yuan(fund))), "{}", d.html);

    // Trend lines, oldest left: weeks 41–44 were not tracked.
    for (name, trend) in [
        ("阿卜杜热西提·买买提", "·  ·  ·  ·  ✓  迟 ✓  ✓"),
        ("司马相如", "·  ·  ·  ·  ✓  ✓  ✗  ✓"),
        ("慕容雪晴", "·  ·  ·  ·  ✓  迟 ✓  ✓"),
        ("皇甫嵩山", "·  ·  ·  ·  ✓  ✓  免 ✓"),
        ("上官婉儿", "·  ·  ·  ·  ✓  ✓  ✓  ✗"),
    ] {
        let want = format!("  最近8周：{trend}");
        assert!(
            card(&d.text, name).contains(&want.as_str()),
            "{name}: {want:?} in {:#?}",
            card(&d.text, name)
        );
    }

    // The reply rate counts reports due for a reply: 东方未明's week 48
    // came 36 hours ago (48 allowed), so it is not unanswered. 36 reports,
    // 31 answered, 35 due.
    assert!(
        d.text.contains("回复率：89%（31/35）"),
        "over reports already due: {}",
        d.text
    );
    assert!(
        card(&d.text, "东方未明").contains(&"  回复：待回复（1天）"),
        "{:#?}",
        card(&d.text, "东方未明")
    );
    for line in d.text.lines() {
        let width: usize = line
            .chars()
            .map(|c| if u32::from(c) >= 0x2E80 { 2 } else { 1 })
            .sum();
        assert!(width <= 72, "{width} columns: {line}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_managers_digest_has_a_section_per_group_naming_its_supervisor() {
    let w = world().await;
    let m = mail(&w.servers, "chengang", &digest_key(true, CHEN)).await;
    assert_eq!(m.to, [CHEN]);
    assert_no_notation(&m);
    assert!(
        m.subject
            .contains("（全部小组）：本期准时 9/10，仍未补交 3 份"),
        "{}",
        m.subject
    );
    for section in [
        "==== 商务一组（主管：王芳）====",
        "==== 商务二组（主管：刘洋）====",
    ] {
        assert!(m.text.contains(section), "{section}:\n{}", m.text);
    }
    for html in ["商务一组（主管：王芳）", "商务二组（主管：刘洋）"] {
        assert!(m.html.contains(html), "{html}");
    }
    let group2 = m.text.split("==== 商务二组").nth(1).expect("group 2");
    assert!(group2.contains("仍未补交：无"), "{group2}");
    assert!(group2.contains("回复率：100%（10/10）"), "{group2}");
    assert!(card(group2, "赵强").contains(&"  本月（11月）罚款：无"));
    let group1 = m
        .text
        .split("==== 商务一组")
        .nth(1)
        .and_then(|g| g.split("==== 商务二组").next())
        .expect("group 1");
    assert!(group1.contains("回复率：89%（31/35）"), "{group1}");
    assert!(
        m.text.contains("部门活动经费余额（全部门）：125.00 元"),
        "{}",
        m.text
    );
}

// ----- 390 px -----------------------------------------------------------------

/// Measures every element inside the email's page (rendered in an iframe
/// `width` px wide, its viewport) and writes what sticks out into the host
/// page, which `--dump-dom` prints.
const CHECK: &str = r#"<script>
(function () {
  var W = document.documentElement.clientWidth;
  var bad = [];
  var all = document.body.getElementsByTagName('*');
  for (var i = 0; i < all.length; i++) {
    var el = all[i];
    if (el.tagName === 'SCRIPT') continue;
    var r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    var clipped = el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible';
    if (r.right > W + 0.5 || r.left < -0.5 || clipped)
      bad.push(el.tagName + ' right=' + Math.round(r.right) + ' scrollWidth=' + el.scrollWidth
        + ' "' + (el.textContent || '').replace(/\s+/g, ' ').slice(0, 40) + '"');
  }
  var page = document.documentElement.scrollWidth;
  if (page > W) bad.push('page scrollWidth=' + page);
  var out = parent.document.createElement('pre');
  out.id = 'overflow';
  out.textContent = JSON.stringify({viewport: W, bad: bad});
  parent.document.body.appendChild(out);
})();
</script>"#;

/// A page showing `html` in an iframe `width` px wide (Chromium will not
/// make a window narrower than 500 px; an iframe is a viewport of its own,
/// so the email's media queries see `width`).
fn host_page(html: &str, width: u32, check: bool) -> String {
    let mut page = html.to_string();
    if check {
        let at = page.rfind("</body>").expect("</body>");
        page.insert_str(at, CHECK);
    }
    let escaped = page
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head>\
         <body style=\"margin:0;background:#999\"><iframe style=\"display:block;border:0;\
         width:{width}px;height:5000px\" srcdoc=\"{escaped}\"></iframe></body></html>"
    )
}

fn chromium(dir: &Path, args: &[&str], page: &Path) -> std::process::Output {
    let profile = tempfile::tempdir().expect("profile dir");
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .current_dir(dir)
        .output()
        .expect("run chromium (scripts/install-test-deps installs Debian's chromium)");
    assert!(
        out.status.success(),
        "chromium {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Renders `html` at `width` px: what sticks out (empty when nothing does),
/// and a screenshot saved under `target/` for a person to look at.
fn overflow(html: &str, width: u32, name: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("dir");
    let page = dir.path().join("page.html");
    std::fs::write(&page, host_page(html, width, true)).expect("page");
    let out = chromium(dir.path(), &["--window-size=800,5000", "--dump-dom"], &page);
    let dom = String::from_utf8_lossy(&out.stdout);
    let json = dom
        .split("<pre id=\"overflow\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or_else(|| panic!("no measurement in the page:\n{dom}"))
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    let result: Value = serde_json::from_str(&json).expect("measurement JSON");
    assert_eq!(result["viewport"], width, "the iframe is the viewport");

    let shots = screenshots();
    let shot = shots.join(format!("{name}-{width}.png"));
    let page = dir.path().join("shot.html");
    std::fs::write(&page, host_page(html, width, false)).expect("page");
    chromium(
        dir.path(),
        &[
            &format!("--window-size={width},5000"),
            &format!("--screenshot={}", shot.display()),
        ],
        &page,
    );
    assert!(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000),
        "a screenshot at {}",
        shot.display()
    );
    result["bad"]
        .as_array()
        .expect("bad")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

/// `target/render/`, where the screenshots stay after the test.
fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
        .join("render");
    std::fs::create_dir_all(&dir).expect("target/render");
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn digests_the_reply_reminder_and_the_escalation_fit_a_390_px_phone() {
    let w = world().await;
    let rows = w.app.outbox();
    let key_of = |kind: &str| -> String {
        let keys: Vec<&str> = rows
            .iter()
            .filter(|r| r["kind"] == kind)
            .filter_map(|r| r["key"].as_str())
            .collect();
        assert_eq!(keys.len(), 1, "one {kind}: {rows:#?}");
        keys[0].to_string()
    };
    let reminder = mail(&w.servers, "wangfang", &key_of("reply_reminder")).await;
    assert!(
        reminder.subject.contains("5 份报告"),
        "the backlog of five: {}",
        reminder.subject
    );
    let escalation = mail(&w.servers, "chengang", &key_of("escalation")).await;
    assert!(
        escalation.subject.contains("5 份报告"),
        "{}",
        escalation.subject
    );
    for m in [&reminder, &escalation] {
        assert_no_notation(m);
        // The whole backlog, oldest first, in both.
        let first = m.text.find("欧阳娜娜 第45周").expect("the oldest");
        let last = m.text.find("东方未明 第48周").expect("the newest");
        assert!(first < last, "{}", m.text);
    }
    let emails = [
        (
            "digest-supervisor",
            mail(&w.servers, "wangfang", &digest_key(false, WANG)).await,
        ),
        (
            "digest-manager",
            mail(&w.servers, "chengang", &digest_key(true, CHEN)).await,
        ),
        ("reply-reminder", reminder),
        ("escalation", escalation),
    ];
    let mut failures = Vec::new();
    for (name, m) in &emails {
        for width in [390, 800] {
            let bad = overflow(&m.html, width, name);
            if !bad.is_empty() {
                failures.push(format!("{name} at {width} px: {bad:#?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "elements stick out (screenshots in {}):\n{}",
        screenshots().display(),
        failures.join("\n")
    );
}
