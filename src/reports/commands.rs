//! Commands by email: a supervisor, manager or assistant files a valid
//! reason (正当理由) by answering a late notice, or by an email whose subject
//! is `请假/excuse <period> <person>`, with the reason in the body. Owns the
//! `commands` and `command_threads` tables.
//!
//! Anyone can write any From header, so a command counts only when the
//! receiving server vouches for the sender: the topmost
//! `Authentication-Results` header of the configured authserv-id must show
//! DMARC, or DKIM or SPF aligned with the From domain, passing. A command
//! that fails this changes nothing and is flagged for the assistant.

use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;
use rusqlite::{Connection, OptionalExtension, params};

use crate::config::{Config, Role};
use crate::mail::inbox::{MessageClass, Stored};
use crate::mail::parse::Envelope;
use crate::names;
use crate::period::Period;
use crate::reports::compliance::{self, ExcuseError};

/// A command read from an email, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub filer: String,
    /// Whose period, when the email names it readably.
    pub target: Option<(String, Period)>,
    pub reason: String,
}

/// Why a command was not carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    NotReporter,
    NotAuthorised,
    AlreadyExcused,
    EmptyReason,
    Unreadable,
}

impl Why {
    pub fn as_str(self) -> &'static str {
        match self {
            Why::NotReporter => "not_reporter",
            Why::NotAuthorised => "not_authorised",
            Why::AlreadyExcused => "already_excused",
            Why::EmptyReason => "empty_reason",
            Why::Unreadable => "unreadable",
        }
    }

    fn parse(s: &str) -> Why {
        match s {
            "not_reporter" => Why::NotReporter,
            "not_authorised" => Why::NotAuthorised,
            "already_excused" => Why::AlreadyExcused,
            "empty_reason" => Why::EmptyReason,
            _ => Why::Unreadable,
        }
    }
}

static EXCUSE_SUBJECT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:请假|請假|excuse)(?:\s*/\s*(?:请假|請假|excuse))?\s*[:：]?\s*(.+?)\s+<?(\S+@[^\s>]+)").ok()
});

/// Reads `请假/excuse 第48周 zhangwei@example.com` (either word alone works
/// too) into a period and an address. The period is written as the notices
/// show it (`第48周`, `2026年第48周`, `11月月报`, `week 48`, `November
/// report`) or as `2026-W48` / `2026-11`; one without a year is the nearest
/// to `today` (see [`names::read`]).
pub fn excuse_subject(subject: &str, today: NaiveDate) -> Option<(Period, String)> {
    let caps = EXCUSE_SUBJECT.as_ref()?.captures(subject)?;
    let period = names::read::period(caps.get(1)?.as_str(), today)?;
    let email = caps
        .get(2)?
        .as_str()
        .trim_matches(|c| c == '<' || c == '>')
        .to_lowercase();
    Some((period, email))
}

/// Whether the subject starts like an excuse command at all (so that a
/// garbled one is refused with an explanation rather than ignored).
fn looks_like_excuse(subject: &str) -> bool {
    let s = subject.trim_start().to_lowercase();
    s.starts_with("请假") || s.starts_with("請假") || s.starts_with("excuse")
}

/// Records that an answer to `message_id` (a late notice) files a reason for
/// `person`'s `period`.
pub fn expect_answer(
    conn: &Connection,
    message_id: &str,
    person: &str,
    period: Period,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO command_threads (message_id, person, period) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![message_id, person, period.to_string()])?;
    Ok(())
}

fn answered_thread(
    conn: &Connection,
    env: &Envelope,
) -> rusqlite::Result<Option<(String, Period)>> {
    for id in env.in_reply_to.iter().chain(env.references.iter().rev()) {
        let found: Option<(String, String)> = conn
            .query_row(
                "SELECT person, period FROM command_threads WHERE message_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((person, period)) = found
            && let Ok(period) = period.parse()
        {
            return Ok(Some((person, period)));
        }
    }
    Ok(None)
}

/// What an email from a supervisor, manager or assistant is to the
/// command reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recognised {
    /// Not a command at all.
    No,
    /// A command, to be checked and carried out.
    Command(Command),
    /// An answer to a late notice whose first line does not start with a
    /// waiver word ("请尽快补交", an out-of-office): an ordinary email.
    PlainAnswer { person: String, period: Period },
}

/// The command in this email, if it is one: from a configured supervisor,
/// manager or assistant, answering a late notice with a first line that
/// starts with a waiver word, or with an excuse subject. `today` (the
/// local day it arrived) gives a period written without a year its year.
pub fn recognise(
    conn: &Connection,
    cfg: &Config,
    env: &Envelope,
    today: NaiveDate,
) -> rusqlite::Result<Recognised> {
    let Some(command) = read_command(conn, cfg, env, today)? else {
        return Ok(Recognised::No);
    };
    let answers_notice = !looks_like_excuse(&env.subject);
    match command.target {
        Some((person, period))
            if answers_notice && !starts_with_waiver_word(&command.reason, cfg) =>
        {
            Ok(Recognised::PlainAnswer { person, period })
        }
        _ => Ok(Recognised::Command(command)),
    }
}

/// Whether the first non-empty line starts with a configured waiver word
/// standing alone: followed by punctuation, a space or nothing (`病假：…`,
/// `excuse - …`), so that "Excuses are not accepted" or "请假不是不交的理由"
/// file nothing. Compared folded: case and fullwidth forms do not matter.
fn starts_with_waiver_word(reason: &str, cfg: &Config) -> bool {
    let Some(first) = reason.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return false;
    };
    let first = crate::reports::classify::fold(first);
    let first = first.trim_start_matches(|c: char| !c.is_alphanumeric());
    cfg.notify.waiver_words.iter().any(|w| {
        first
            .strip_prefix(crate::reports::classify::fold(w).as_str())
            .is_some_and(|rest| rest.chars().next().is_none_or(ends_word))
    })
}

/// Whether `c` ends a word: a space or punctuation, ASCII or CJK.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || c.is_ascii_punctuation() || "：，。、；！？（）【】「」《》—…·".contains(c)
}

fn read_command(
    conn: &Connection,
    cfg: &Config,
    env: &Envelope,
    today: NaiveDate,
) -> rusqlite::Result<Option<Command>> {
    let Some(from) = env.from.as_ref() else {
        return Ok(None);
    };
    let Some(sender) = cfg.roster.by_email(&from.email) else {
        return Ok(None);
    };
    if !matches!(
        sender.role,
        Role::Supervisor | Role::Manager | Role::Assistant
    ) {
        return Ok(None);
    }
    let target = match answered_thread(conn, env)? {
        Some(t) => Some(t),
        None if looks_like_excuse(&env.subject) => {
            excuse_subject(&env.subject, today).map(|(p, e)| (e, p))
        }
        None => return Ok(None),
    };
    Ok(Some(Command {
        filer: sender.email.clone(),
        target,
        reason: reason_from_body(&env.body_text),
    }))
}

/// The reason is what the filer wrote above the quoted email.
fn reason_from_body(body: &str) -> String {
    let mut kept = Vec::new();
    for line in body.lines() {
        let t = line.trim();
        let quote_starts = t.starts_with('>')
            || t.starts_with("-----Original Message")
            || t.starts_with("------------------ 原始邮件")
            || t.starts_with("-----原始邮件")
            || (t.starts_with("在") && t.ends_with("写道："))
            || (t.starts_with("On ") && t.ends_with("wrote:"));
        if quote_starts {
            break;
        }
        kept.push(t);
    }
    let text = kept.join("\n");
    let text = text.trim();
    text.chars().take(500).collect()
}

/// Checks the sender, carries the command out, and records the outcome.
pub fn apply(
    conn: &Connection,
    cfg: &Config,
    msg: &Stored,
    env: &Envelope,
    command: Command,
) -> rusqlite::Result<(MessageClass, String, bool)> {
    if let Err(why) = authenticated(cfg, env) {
        let reason = format!(
            "email command from {} refused, nothing changed: {why}",
            command.filer
        );
        tracing::warn!(message = msg.id, "{reason}");
        return Ok((MessageClass::Refused, reason, true));
    }
    let outcome = carry_out(conn, cfg, msg, &command)?;
    let (target_person, target_period) = command.target.clone().unzip();
    let (text, why, excuse) = match outcome {
        Ok(excuse) => (
            format!(
                "valid reason filed by {} for {}",
                command.filer,
                describe(&command)
            ),
            None,
            Some(excuse),
        ),
        Err(why) => (
            format!(
                "command from {} not carried out ({}): {}",
                command.filer,
                why.as_str(),
                describe(&command)
            ),
            Some(why),
            None,
        ),
    };
    conn.prepare_cached(
        "INSERT INTO commands (message, filer, person, period, reason, outcome, why, excuse)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        msg.id,
        command.filer,
        target_person,
        target_period.map(|p| p.to_string()),
        command.reason,
        if why.is_none() { "accepted" } else { "refused" },
        why.map(Why::as_str),
        excuse,
    ])?;
    Ok((MessageClass::Command, text, why.is_some()))
}

fn describe(c: &Command) -> String {
    match &c.target {
        Some((person, period)) => format!("{person} {period}"),
        None => "no period and person could be read".into(),
    }
}

fn carry_out(
    conn: &Connection,
    cfg: &Config,
    msg: &Stored,
    c: &Command,
) -> rusqlite::Result<Result<i64, Why>> {
    let Some((person, period)) = &c.target else {
        return Ok(Err(Why::Unreadable));
    };
    match compliance::file_excuse(
        conn,
        cfg,
        person,
        *period,
        &c.reason,
        &c.filer,
        msg.internaldate,
    ) {
        Ok(excuse) => Ok(Ok(excuse.id)),
        Err(ExcuseError::Db(e)) => Err(e),
        Err(ExcuseError::NotReporter(_)) => Ok(Err(Why::NotReporter)),
        Err(ExcuseError::NotAuthorised(_) | ExcuseError::NotTheirSupervisor { .. }) => {
            Ok(Err(Why::NotAuthorised))
        }
        Err(ExcuseError::AlreadyExcused { .. }) => Ok(Err(Why::AlreadyExcused)),
        Err(ExcuseError::EmptyReason) => Ok(Err(Why::EmptyReason)),
    }
}

/// Whether the receiving server vouches for the From address; commands are
/// off until `[notify] authserv_id` names that server.
pub(crate) fn authenticated(cfg: &Config, env: &Envelope) -> Result<(), String> {
    let Some(authserv_id) = cfg.notify.authserv_id.as_deref() else {
        return Err(
            "email commands are off; set [notify] authserv_id to the receiving server's id".into(),
        );
    };
    crate::mail::auth::check(env, authserv_id).map_err(|e| e.to_string())
}

/// A command received, for the confirmation email.
#[derive(Debug, Clone)]
pub struct Received {
    pub message: i64,
    pub message_id: Option<String>,
    pub filer: String,
    pub person: Option<String>,
    pub period: Option<Period>,
    pub reason: String,
    pub subject: String,
    pub received: chrono::DateTime<chrono::Utc>,
    /// `None` when carried out.
    pub why: Option<Why>,
    pub excuse: Option<i64>,
}

/// Commands received since `since`, oldest first.
pub fn received_since(
    conn: &Connection,
    since: chrono::DateTime<chrono::Utc>,
) -> rusqlite::Result<Vec<Received>> {
    let mut stmt = conn.prepare(
        "SELECT c.message, m.message_id, c.filer, c.person, c.period, c.reason, coalesce(m.subject, ''),
                m.internaldate, c.why, c.excuse
         FROM commands c JOIN messages m ON m.id = c.message
         WHERE m.internaldate >= ?1 ORDER BY m.internaldate, c.id",
    )?;
    stmt.query_map([crate::store::ts(since)], |r| {
        let period: Option<String> = r.get(4)?;
        let why: Option<String> = r.get(8)?;
        Ok(Received {
            message: r.get(0)?,
            message_id: r.get(1)?,
            filer: r.get(2)?,
            person: r.get(3)?,
            period: period.and_then(|p| p.parse().ok()),
            reason: r.get(5)?,
            subject: r.get(6)?,
            received: crate::store::parse_ts(&r.get::<_, String>(7)?)?,
            why: why.as_deref().map(Why::parse),
            excuse: r.get(9)?,
        })
    })?
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 December 2026, week 48 and November 2026.
    fn dec_1_w48_nov() -> (NaiveDate, Period, Period) {
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        let w48 = Period::Week {
            year: 2026,
            week: 48,
        };
        let nov = Period::Month {
            year: 2026,
            month: 11,
        };
        (today, w48, nov)
    }

    #[test]
    fn excuse_subject_reads_period_and_person_in_either_language() {
        let (today, w48, nov) = dec_1_w48_nov();
        let read = |s: &str| excuse_subject(s, today);
        let zhang = || "zhangwei@example.com".to_string();
        assert_eq!(
            read("请假/excuse 2026-W48 zhangwei@example.com"),
            Some((w48, zhang()))
        );
        assert_eq!(
            read("请假 2026-W48 ZhangWei@Example.com"),
            Some((w48, zhang()))
        );
        assert_eq!(
            read("Excuse: 2026-11 <lina@example.com>"),
            Some((nov, "lina@example.com".into()))
        );
        assert_eq!(read("请假 下周一"), None);
    }

    #[test]
    fn excuse_subject_reads_the_period_as_the_notices_write_it() {
        let (today, w48, nov) = dec_1_w48_nov();
        for (subject, period) in [
            ("请假/excuse 第48周 zhangwei@example.com", w48),
            ("请假/excuse 2026年第48周 zhangwei@example.com", w48),
            ("请假：第48周周报 zhangwei@example.com", w48),
            ("excuse week 48 zhangwei@example.com", w48),
            ("请假/excuse 11月月报 zhangwei@example.com", nov),
            ("请假/excuse 2026年11月月报 <zhangwei@example.com>", nov),
            ("excuse November report zhangwei@example.com", nov),
        ] {
            assert_eq!(
                excuse_subject(subject, today),
                Some((period, "zhangwei@example.com".to_string())),
                "{subject}"
            );
        }
    }

    #[test]
    fn only_a_waiver_word_standing_alone_at_the_start_files_a_reason() {
        let cfg = crate::config::Config::from_toml_str(
            r#"
database = "x.sqlite3"
tracking_starts = "2026-11-02"
calendar = []
[maildir]
path = "/nonexistent"
[[person]]
name = "助理"
email = "assistant@example.com"
role = "assistant"
"#,
            std::path::Path::new("test.toml"),
        )
        .expect("config");
        for yes in [
            "病假：11月26日至27日住院",
            "  免罚。客户现场无网络",
            "Excuse: sick leave",
            "WAIVE - approved by me",
            "出差",
            "【请假】 两天",
        ] {
            assert!(starts_with_waiver_word(yes, &cfg), "{yes}");
        }
        for no in [
            "请尽快补交",
            "Excuses are not accepted. Send it today.",
            "请假不是不交周报的理由，请尽快补交。",
            "I am out of the office",
            "",
        ] {
            assert!(!starts_with_waiver_word(no, &cfg), "{no}");
        }
    }

    #[test]
    fn reason_is_the_text_above_the_quote() {
        let body =
            "病假两天，已交医院证明。\n\n在 2026年11月29日 08:00，reportd 写道：\n> 未收到周报";
        assert_eq!(reason_from_body(body), "病假两天，已交医院证明。");
        assert_eq!(
            reason_from_body("On leave.\n-----Original Message-----\nFrom: x"),
            "On leave."
        );
    }
}
