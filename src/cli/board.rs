//! How the CLI shows things: the status board, the ledger and the message
//! list, as aligned tables (CJK-aware) or JSON.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use rusqlite::Connection;
use serde::Serialize;

use crate::config::{Config, Language};
use crate::ledger::{self, Entry, EntryKind};
use crate::mail::inbox::MessageRow;
use crate::money::Fen;
use crate::names;
use crate::notify::outbox::{OutboxRow, State};
use crate::period::{ByPersonPeriod, Period};
use crate::reports::compliance::{Excuse, Verdict};
use crate::sync::Unready;

/// One row of `reportd status --json`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusRow {
    pub person: String,
    pub name: String,
    pub kind: &'static str,
    pub period: String,
    pub due: String,
    /// The deadline may still move: no holiday notice for a day it depends on.
    pub provisional: bool,
    pub status: &'static str,
    pub received: Option<String>,
    pub fine_fen: i64,
    pub replied_at: Option<String>,
    pub message_id: Option<String>,
}

fn local(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).to_rfc3339()
}

/// The `--json` rows of `verdicts`, each made as it is written: a board of
/// a thousand people over a year is 65,000 rows, never all held at once.
pub struct StatusRows<'a> {
    cfg: &'a Config,
    verdicts: &'a [Verdict],
    nets: ByPersonPeriod<Fen>,
}

impl<'a> StatusRows<'a> {
    pub fn new(
        conn: &Connection,
        cfg: &'a Config,
        verdicts: &'a [Verdict],
    ) -> rusqlite::Result<StatusRows<'a>> {
        Ok(StatusRows {
            cfg,
            verdicts,
            nets: ledger::nets(conn)?,
        })
    }

    /// The row of `v`.
    pub fn row(&self, v: &Verdict) -> StatusRow {
        let tz = self.cfg.timezone;
        let report = v.report.as_ref();
        StatusRow {
            name: self
                .cfg
                .roster
                .by_email(&v.person)
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            kind: v.deadline.period.kind().as_str(),
            due: local(v.deadline.due, tz),
            provisional: v.deadline.provisional,
            status: v.status.as_str(),
            received: report.map(|r| local(r.received, tz)),
            fine_fen: self
                .nets
                .get(&v.person, v.deadline.period)
                .map_or(0, |f| f.0),
            replied_at: report.and_then(|r| r.replied_at).map(|t| local(t, tz)),
            message_id: report.and_then(|r| r.message_id.clone()),
            person: v.person.clone(),
            period: v.deadline.period.to_string(),
        }
    }

    pub fn any_provisional(&self) -> bool {
        self.verdicts.iter().any(|v| v.deadline.provisional)
    }
}

impl Serialize for StatusRows<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.verdicts.iter().map(|v| self.row(v)))
    }
}

/// The status board in the team's language (`cfg.language`), headed by
/// the instant it judges as of; `rows` are the `--json` rows of `verdicts`.
pub fn status_table(cfg: &Config, rows: &StatusRows<'_>, now: DateTime<Utc>) -> String {
    let (lang, tz) = (cfg.language, cfg.timezone);
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(match lang {
        Language::Zh => ["人员", "报告", "截止", "状态", "到达", "罚款", "回复"],
        Language::En => [
            "person", "report", "due", "status", "received", "fine", "replied",
        ],
    });
    let when =
        |t: Option<DateTime<Utc>>| t.map_or_else(|| "-".into(), |t| names::time(t, tz, lang));
    for v in rows.verdicts {
        let r = rows.row(v);
        table.add_row([
            format!("{} {}", r.name, r.person),
            names::report(v.deadline.period, lang),
            due_cell(v, r.provisional, lang, tz),
            names::status(v.status, lang).to_string(),
            when(v.report.as_ref().map(|x| x.received)),
            yuan(r.fine_fen),
            when(v.report.as_ref().and_then(|x| x.replied_at)),
        ]);
    }
    let as_of = names::time(now, tz, lang);
    match lang {
        Language::Zh => format!("判定时间：{as_of}\n{table}\n"),
        Language::En => format!("as of {as_of}\n{table}\n"),
    }
}

/// The deadline as people say it, marked when it is judged on a
/// provisional calendar (no holiday notice yet).
fn due_cell(v: &Verdict, provisional: bool, lang: Language, tz: Tz) -> String {
    let due = names::deadline(&v.deadline, tz, lang);
    match (provisional, lang) {
        (false, _) => due,
        (true, Language::Zh) => format!("{due}（暂定，provisional）"),
        (true, Language::En) => format!("{due} (provisional)"),
    }
}

/// An amount in yuan, `-` for none.
fn yuan(fen: i64) -> String {
    if fen == 0 {
        "-".into()
    } else {
        Fen(fen).to_string()
    }
}

/// A ledger or outbox period key (`2026-W46`) as people say it; the key
/// itself when it is no period.
fn period_name(key: &str, lang: Language) -> String {
    key.parse::<Period>()
        .map_or_else(|_| key.to_string(), |p| names::period(p, lang))
}

#[derive(Debug, Serialize)]
pub struct LedgerJson {
    pub entries: Vec<LedgerEntryJson>,
    pub totals: ledger::Totals,
}

#[derive(Debug, Serialize)]
pub struct LedgerEntryJson {
    pub at: String,
    pub person: String,
    pub period: String,
    pub kind: EntryKind,
    pub amount_fen: Fen,
    pub fund_fen: Fen,
    pub reason: String,
    pub evidence: String,
    /// What became of the entry later (see `ledger::Entry::reason_now`).
    pub notes: Vec<String>,
}

pub fn ledger_json(entries: &[Entry], tz: Tz) -> LedgerJson {
    LedgerJson {
        entries: entries
            .iter()
            .map(|e| LedgerEntryJson {
                at: local(e.at, tz),
                person: e.person.clone(),
                period: e.period.clone(),
                kind: e.kind,
                amount_fen: e.amount_fen,
                fund_fen: e.fund_fen,
                reason: e.reason.clone(),
                evidence: e.evidence.clone(),
                notes: e.notes.clone(),
            })
            .collect(),
        totals: ledger::totals(entries),
    }
}

/// The ledger as the assistant reads it: each entry's reason and evidence
/// said from its facts ([`ledger::grounds`]) in the team's language; the
/// stored text is in `--json`.
pub fn ledger_table(
    conn: &rusqlite::Connection,
    entries: &[Entry],
    cfg: &Config,
) -> rusqlite::Result<String> {
    let (lang, tz) = (cfg.language, cfg.timezone);
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(match lang {
        Language::Zh => [
            "时间",
            "人员",
            "周期",
            "类型",
            "金额",
            "计入经费",
            "原因",
            "依据",
        ],
        Language::En => [
            "at", "person", "period", "kind", "amount", "fund", "reason", "evidence",
        ],
    });
    for e in entries {
        let grounds = ledger::grounds::of(conn, e)?;
        let (reason, evidence) = ledger::grounds::describe(&grounds, e, cfg);
        let name = cfg
            .roster
            .by_email(&e.person)
            .map(|p| p.name.as_str())
            .unwrap_or("");
        let kind = match (lang, e.kind) {
            (Language::Zh, EntryKind::Fine) => "罚款",
            (Language::Zh, EntryKind::Waiver) => "撤销罚款",
            (Language::En, EntryKind::Fine) => "fine",
            (Language::En, EntryKind::Waiver) => "waiver",
        };
        table.add_row([
            names::time(e.at, tz, lang),
            format!("{name} {}", e.person),
            period_name(&e.period, lang),
            kind.to_string(),
            e.amount_fen.to_string(),
            e.fund_fen.to_string(),
            reason,
            evidence,
        ]);
    }
    let totals = ledger::totals(entries);
    let (fines, fund) = (totals.fines_fen, totals.fund_fen);
    Ok(match lang {
        Language::Zh => {
            format!("{table}\n罚款合计（净额）：{fines} 元，其中计入活动经费：{fund} 元\n")
        }
        Language::En => format!(
            "{table}\ntotal fines (net): {fines} yuan, of which to the activity fund: {fund} yuan\n"
        ),
    })
}

/// Why the mail cannot be judged yet, in the team's language.
fn unready_text(unready: Unready, lang: Language) -> String {
    match (lang, unready) {
        (Language::Zh, Unready::NeverRead) => "reportd 还没有读取过邮箱".into(),
        (Language::Zh, Unready::Unread(n)) => {
            format!("还有 {n} 封已存入的邮件未读（reportd 正在导入邮件，或导入中途停止）")
        }
        (Language::En, unready) => unready.to_string(),
    }
}

/// The warning a reader prints while the mail is not read yet: what it
/// shows does not count that mail. `None` when it is read.
pub fn unready_note(conn: &Connection, lang: Language) -> rusqlite::Result<Option<String>> {
    Ok(crate::sync::unready(conn)?.map(|u| {
        let why = unready_text(u, lang);
        match (lang, u) {
            (Language::Zh, Unready::NeverRead) => format!("注意：{why}，以下结果未计入任何邮件"),
            (Language::Zh, Unready::Unread(_)) => format!("注意：{why}，以下结果尚未计入这些邮件"),
            (Language::En, Unready::NeverRead) => {
                format!("note: {why}; what follows counts no mail")
            }
            (Language::En, Unready::Unread(_)) => {
                format!("note: {why}; what follows does not count that mail yet")
            }
        }
    }))
}

/// What became of a reason filed with `reportd excuse`, past the booked
/// entries it lists.
pub enum ExcuseTail {
    /// Every entry booked is listed.
    Listed,
    /// Judging booked more than is listed: these in all.
    Counted { fines: usize, waivers: usize },
    /// Not judged: the mail is not read yet.
    Waits(Unready),
}

/// `reportd excuse`'s answer in the team's language: the reason filed,
/// the entries booked (those of its person and period when judging booked
/// many) with their grounds, and what else happened.
pub fn excuse_text(
    conn: &Connection,
    cfg: &Config,
    filed: &Excuse,
    booked: &[Entry],
    tail: ExcuseTail,
) -> rusqlite::Result<String> {
    let lang = cfg.language;
    let name = |email: &str| match cfg.roster.by_email(email) {
        Some(p) => format!("{} {email}", p.name),
        None => email.to_string(),
    };
    // In January, last December's report says its year.
    let today = filed.at.with_timezone(&cfg.timezone).date_naive();
    let report = names::report_on(filed.period, lang, today);
    let (person, by) = (name(&filed.person), name(&filed.by));
    let mut text = match lang {
        Language::Zh => format!("已登记 {person} 的{report}的原因（登记人 {by}）\n"),
        Language::En => format!("reason filed for {person} for {report} by {by}\n"),
    };
    for e in booked {
        let (reason, _) = ledger::grounds::describe(&ledger::grounds::of(conn, e)?, e, cfg);
        let period = e
            .period
            .parse::<Period>()
            .map_or_else(|_| e.period.clone(), |p| names::period_on(p, lang, today));
        let who = name(&e.person);
        // A waiver is booked negative; said as the fine it takes back.
        let amount = Fen(e.amount_fen.0.abs());
        text += &match (lang, e.kind) {
            (Language::Zh, EntryKind::Fine) => {
                format!("记罚款 {amount} 元：{who}，{period}（{reason}）\n")
            }
            (Language::Zh, EntryKind::Waiver) => {
                format!("撤销罚款 {amount} 元：{who}，{period}（{reason}）\n")
            }
            (Language::En, EntryKind::Fine) => {
                format!("booked a fine of {amount} yuan: {who}, {period} ({reason})\n")
            }
            (Language::En, EntryKind::Waiver) => {
                format!("waived a fine of {amount} yuan: {who}, {period} ({reason})\n")
            }
        };
    }
    text += &match (lang, tail) {
        (_, ExcuseTail::Listed) => String::new(),
        (Language::Zh, ExcuseTail::Counted { fines, waivers }) => {
            format!("本次判定共记罚款 {fines} 笔、撤销 {waivers} 笔；`reportd ledger` 列出全部\n")
        }
        (Language::En, ExcuseTail::Counted { fines, waivers }) => format!(
            "judging booked {fines} fine(s) and {waivers} waiver(s) in all; `reportd ledger` lists them\n"
        ),
        (Language::Zh, ExcuseTail::Waits(u)) => format!(
            "尚未判定：{}。守护进程（或 `reportd sync --once`）读完邮件后即会判定，本原因届时生效\n",
            unready_text(u, lang)
        ),
        (Language::En, ExcuseTail::Waits(u)) => format!(
            "not judged yet: {}. The daemon (or `reportd sync --once`) judges once it has read \
             the mail, and this reason counts then\n",
            unready_text(u, lang)
        ),
    };
    Ok(text)
}

pub fn messages_table(rows: &[MessageRow], cfg: &Config) -> String {
    let (lang, tz) = (cfg.language, cfg.timezone);
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(match lang {
        Language::Zh => ["#", "到达", "发件人", "主题", "分类", "说明"],
        Language::En => ["#", "arrived", "from", "subject", "class", "reason"],
    });
    for m in rows {
        let class = class_name(m.class.as_deref(), lang);
        table.add_row([
            m.id.to_string(),
            names::time(m.internaldate, tz, lang),
            m.sender.clone().unwrap_or_default(),
            m.subject.clone().unwrap_or_default(),
            if m.flagged {
                format!("{class} ⚑")
            } else {
                class.to_string()
            },
            m.reason.clone().unwrap_or_default(),
        ]);
    }
    format!("{table}\n")
}

/// A message class (`report`, `ignored`, …) in the team's words.
fn class_name(class: Option<&str>, lang: Language) -> &str {
    let Some(class) = class else {
        return match lang {
            Language::Zh => "（未分类）",
            Language::En => "(not yet)",
        };
    };
    match (lang, class) {
        (Language::Zh, "report") => "报告",
        (Language::Zh, "revision") => "补发",
        (Language::Zh, "misaddressed") => "错发",
        (Language::Zh, "reply") => "主管回复",
        (Language::Zh, "command") => "登记理由",
        (Language::Zh, "refused") => "拒绝（未验证）",
        (Language::Zh, "ignored") => "忽略",
        (Language::Zh, "unparsable") => "无法解析",
        (_, other) => other,
    }
}

/// `reportd outbox` in the team's language: what each email is, to whom,
/// its state; a failed one says how to send it again.
pub fn outbox_table(rows: &[OutboxRow], lang: Language, tz: Tz) -> String {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(match lang {
        Language::Zh => [
            "建立",
            "邮件",
            "收件人",
            "主题",
            "状态",
            "次数",
            "发送 / 下次尝试",
            "错误",
        ],
        Language::En => [
            "created",
            "email",
            "to",
            "subject",
            "state",
            "attempts",
            "sent / next try",
            "last error",
        ],
    });
    for r in rows {
        let when = match r.state {
            State::Sent => r.sent_at,
            State::Queued => r.next_attempt.map(|n| n.max(r.not_before)),
            State::Failed | State::Cancelled => None,
        };
        let mut error = r.last_error.clone().unwrap_or_else(|| "-".into());
        if r.state == State::Failed {
            error += &match lang {
                Language::Zh => format!("\n重发：reportd outbox --retry {}", r.key),
                Language::En => format!("\nto send again: reportd outbox --retry {}", r.key),
            };
        }
        table.add_row([
            names::time(r.created_at, tz, lang),
            email_kind(&r.kind, lang).to_string(),
            r.recipients.join(", "),
            r.subject.clone(),
            state_name(r.state, lang).to_string(),
            r.attempts.to_string(),
            when.map_or_else(|| "-".into(), |t| names::time(t, tz, lang)),
            error,
        ]);
    }
    format!("{table}\n")
}

fn state_name(state: State, lang: Language) -> &'static str {
    match (lang, state) {
        (Language::Zh, State::Queued) => "待发送",
        (Language::Zh, State::Sent) => "已发送",
        (Language::Zh, State::Failed) => "发送失败",
        (Language::Zh, State::Cancelled) => "已撤回",
        (Language::En, s) => s.as_str(),
    }
}

/// An email kind (`late_notice`) as its recipients would call it.
pub fn email_kind(kind: &str, lang: Language) -> &str {
    let zh = match kind {
        "deadline_reminder" => "截止提醒",
        "late_notice" => "未交通知",
        "fine_notice" => "罚款通知",
        "misaddressed" => "错发提醒",
        "reply_reminder" => "回复提醒",
        "escalation" => "上报经理",
        "digest" => "汇总",
        "excuse_confirmation" => "理由确认",
        "calendar_notice" => "放假安排",
        "payroll" => "工资汇总",
        "sales_import" => "销售导入",
        "archive" => "归档",
        other => other,
    };
    match lang {
        Language::Zh => zh,
        Language::En => kind,
    }
}

/// A progress bar on stderr that hides itself when stderr is not a terminal.
pub fn progress_bar(what: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} ({eta})")
    {
        bar.set_style(style);
    }
    bar.set_message(what);
    bar
}
