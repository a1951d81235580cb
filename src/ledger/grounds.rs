//! Why each ledger entry stands, as facts (the deadline, when the report
//! arrived, who filed which reason) read from the tables beside it, so the
//! assistant's table can say it in the team's language through
//! [`crate::names`]. The stored reason text stays as booked (append-only)
//! and is what `--json` shows.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::config::{Config, Language};
use crate::ledger::{Entry, EntryKind, MISSING};
use crate::names;
use crate::period::{Deadline, Period};
use crate::store::parse_ts;

/// Why an entry stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grounds {
    /// A fine: the deadline passed with no report; `arrived` once it came.
    Missing {
        due: Deadline,
        arrived: Option<DateTime<Utc>>,
    },
    /// A fine: the report arrived after the deadline.
    Late {
        due: Deadline,
        arrived: DateTime<Utc>,
    },
    /// A waiver: a valid reason filed by `by`.
    Excused { by: String, reason: String },
    /// A waiver: the report had arrived in time but was read after the fine
    /// was booked.
    OnTime { arrived: Option<DateTime<Utc>> },
    /// Facts not found (a row from an older version): the stored text.
    AsStored,
}

/// The grounds of `e`, from the ledger's notes, the reports and the
/// excuses. A fine's `at` is its deadline.
pub fn of(conn: &Connection, e: &Entry) -> rusqlite::Result<Grounds> {
    Ok(read(conn, e, e.arrived)?.unwrap_or(Grounds::AsStored))
}

fn read(
    conn: &Connection,
    e: &Entry,
    arrived_note: Option<DateTime<Utc>>,
) -> rusqlite::Result<Option<Grounds>> {
    let Ok(period) = e.period.parse::<Period>() else {
        return Ok(None);
    };
    let due = Deadline {
        period,
        due: e.at,
        provisional: false,
    };
    Ok(match e.kind {
        EntryKind::Fine if e.reason.starts_with(MISSING) => Some(Grounds::Missing {
            due,
            arrived: arrived_note,
        }),
        EntryKind::Fine => {
            report_arrival(conn, &e.evidence)?.map(|arrived| Grounds::Late { due, arrived })
        }
        EntryKind::Waiver => match e.evidence.strip_prefix("excuse #") {
            Some(id) => excuse(conn, id)?,
            None => Some(Grounds::OnTime {
                arrived: report_arrival(conn, &e.evidence)?,
            }),
        },
    })
}

/// When the report named by an evidence string (`<message-id>` or
/// `report #id`) arrived.
fn report_arrival(conn: &Connection, evidence: &str) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let received: Option<String> = match evidence.strip_prefix("report #") {
        Some(id) => conn
            .query_row(
                "SELECT received FROM reports WHERE id = ?1",
                [id.parse::<i64>().unwrap_or(-1)],
                |r| r.get(0),
            )
            .optional()?,
        None => conn
            .query_row(
                "SELECT min(received) FROM reports WHERE message_id = ?1",
                [evidence.trim_matches(['<', '>'])],
                |r| r.get(0),
            )
            .optional()?
            .flatten(),
    };
    received.as_deref().map(parse_ts).transpose()
}

fn excuse(conn: &Connection, id: &str) -> rusqlite::Result<Option<Grounds>> {
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    conn.query_row(
        "SELECT by, reason FROM excuses WHERE id = ?1",
        params![id],
        |r| {
            Ok(Grounds::Excused {
                by: r.get(0)?,
                reason: r.get(1)?,
            })
        },
    )
    .optional()
}

/// The entry's reason and evidence as the team says them: `未交：…`,
/// `迟交：11月16日（周一）09:10 补交，晚了1天`, `正当理由（王芳登记）：病假`.
pub fn describe(g: &Grounds, e: &Entry, cfg: &Config) -> (String, String) {
    let (lang, tz) = (cfg.language, cfg.timezone);
    let who = |email: &str| {
        cfg.roster
            .by_email(email)
            .map_or_else(|| email.to_string(), |p| p.name.clone())
    };
    let when = |t: DateTime<Utc>| names::time(t, tz, lang);
    let late = |due: &Deadline, t: DateTime<Utc>| names::duration(t - due.due, lang);
    let deadline = |due: &Deadline| names::deadline(due, tz, lang);
    let report_evidence = || report_evidence(&e.evidence, lang);
    match (g, lang) {
        (Grounds::Missing { due, arrived: None }, Language::Zh) => (
            format!("未交：截止 {}，未收到", deadline(due)),
            format!("截止时间 {}", deadline(due)),
        ),
        (Grounds::Missing { due, arrived: None }, Language::En) => (
            format!("missing: nothing by {}", deadline(due)),
            format!("deadline {}", deadline(due)),
        ),
        (
            Grounds::Missing {
                due,
                arrived: Some(t),
            },
            Language::Zh,
        ) => (
            format!(
                "迟交：{} 补交，晚了{}（截止时记为未交）",
                when(*t),
                late(due, *t)
            ),
            format!("截止时间 {}", deadline(due)),
        ),
        (
            Grounds::Missing {
                due,
                arrived: Some(t),
            },
            Language::En,
        ) => (
            format!(
                "late: arrived {}, {} after the deadline (booked as missing)",
                when(*t),
                late(due, *t)
            ),
            format!("deadline {}", deadline(due)),
        ),
        (Grounds::Late { due, arrived }, Language::Zh) => (
            format!(
                "迟交：{} 到达，截止 {}，晚了{}",
                when(*arrived),
                deadline(due),
                late(due, *arrived)
            ),
            report_evidence(),
        ),
        (Grounds::Late { due, arrived }, Language::En) => (
            format!(
                "late: arrived {}, due {}, {} late",
                when(*arrived),
                deadline(due),
                late(due, *arrived)
            ),
            report_evidence(),
        ),
        (Grounds::Excused { by, reason }, Language::Zh) => (
            format!("正当理由（{}登记）：{reason}", who(by)),
            "正当理由登记".to_string(),
        ),
        (Grounds::Excused { by, reason }, Language::En) => (
            format!("valid reason filed by {}: {reason}", who(by)),
            "valid reason on file".to_string(),
        ),
        (Grounds::OnTime { arrived }, Language::Zh) => (
            format!(
                "撤销：报告{}准时到达，读取晚于记罚",
                arrived
                    .map(|t| format!("于 {} ", when(t)))
                    .unwrap_or_default()
            ),
            report_evidence(),
        ),
        (Grounds::OnTime { arrived }, Language::En) => (
            format!(
                "reversed: the report arrived in time{}, read after the fine was booked",
                arrived
                    .map(|t| format!(" ({})", when(t)))
                    .unwrap_or_default()
            ),
            report_evidence(),
        ),
        (Grounds::AsStored, _) => (e.reason_now(), e.evidence.clone()),
    }
}

/// A report named by its Message-ID, as evidence.
fn report_evidence(evidence: &str, lang: Language) -> String {
    match lang {
        Language::Zh => format!("报告邮件 {evidence}"),
        Language::En => format!("report email {evidence}"),
    }
}
