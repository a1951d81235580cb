//! How the CLI shows things: the status board, the ledger and the message
//! list, as aligned tables (CJK-aware) or JSON.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use rusqlite::Connection;
use serde::Serialize;

use crate::config::Config;
use crate::ledger::{self, Entry, EntryKind};
use crate::mail::inbox::MessageRow;
use crate::money::Fen;
use crate::reports::compliance::Verdict;

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

fn short(at: &str) -> String {
    // `2026-11-28T21:59:59+08:00` → `11-28 21:59`
    at.get(5..16)
        .map_or_else(|| at.to_string(), |s| s.replace('T', " "))
}

/// A deadline at midnight is the end of the day before: `12-01 24:00`, not
/// `12-02 00:00`, which reads like the wrong day.
fn due_short(due: &str) -> String {
    match DateTime::parse_from_rfc3339(due) {
        Ok(t) if t.time() == chrono::NaiveTime::MIN => {
            format!(
                "{} 24:00",
                (t.date_naive() - chrono::Duration::days(1)).format("%m-%d")
            )
        }
        _ => short(due),
    }
}

pub fn status_rows(
    conn: &Connection,
    cfg: &Config,
    verdicts: &[Verdict],
) -> rusqlite::Result<Vec<StatusRow>> {
    let tz = cfg.timezone;
    verdicts
        .iter()
        .map(|v| {
            let period = v.deadline.period.to_string();
            Ok(StatusRow {
                name: cfg
                    .roster
                    .by_email(&v.person)
                    .map(|p| p.name.clone())
                    .unwrap_or_default(),
                kind: v.deadline.period.kind().as_str(),
                due: local(v.deadline.due, tz),
                provisional: v.deadline.provisional,
                status: v.status.as_str(),
                received: v.report.as_ref().map(|r| local(r.received, tz)),
                fine_fen: ledger::net_for(conn, &v.person, &period)?.0,
                replied_at: v
                    .report
                    .as_ref()
                    .and_then(|r| r.replied_at)
                    .map(|t| local(t, tz)),
                message_id: v.report.as_ref().and_then(|r| r.message_id.clone()),
                person: v.person.clone(),
                period,
            })
        })
        .collect()
}

pub fn status_table(rows: &[StatusRow]) -> String {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header([
        "person", "kind", "period", "due", "status", "received", "fine", "replied",
    ]);
    for r in rows {
        table.add_row([
            format!("{} {}", r.name, r.person),
            r.kind.to_string(),
            r.period.clone(),
            if r.provisional {
                format!("{} provisional", due_short(&r.due))
            } else {
                due_short(&r.due)
            },
            r.status.to_string(),
            r.received
                .as_deref()
                .map(short)
                .unwrap_or_else(|| "-".into()),
            if r.fine_fen == 0 {
                "-".into()
            } else {
                Fen(r.fine_fen).to_string()
            },
            r.replied_at
                .as_deref()
                .map(short)
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    format!("{table}\n")
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
            })
            .collect(),
        totals: ledger::totals(entries),
    }
}

pub fn ledger_table(entries: &[Entry], cfg: &Config) -> String {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header([
        "at", "person", "period", "kind", "amount", "fund", "reason", "evidence",
    ]);
    for e in entries {
        let name = cfg
            .roster
            .by_email(&e.person)
            .map(|p| p.name.as_str())
            .unwrap_or("");
        table.add_row([
            short(&local(e.at, cfg.timezone)),
            format!("{name} {}", e.person),
            e.period.clone(),
            format!("{:?}", e.kind).to_lowercase(),
            e.amount_fen.to_string(),
            e.fund_fen.to_string(),
            e.reason.clone(),
            e.evidence.clone(),
        ]);
    }
    let totals = ledger::totals(entries);
    format!(
        "{table}\ntotal fines (net): {} yuan, of which to the activity fund: {} yuan\n",
        totals.fines_fen, totals.fund_fen
    )
}

pub fn messages_table(rows: &[MessageRow], tz: Tz) -> String {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(["#", "arrived", "from", "subject", "class", "reason"]);
    for m in rows {
        let class = m.class.clone().unwrap_or_else(|| "(not yet)".into());
        table.add_row([
            m.id.to_string(),
            short(&local(m.internaldate, tz)),
            m.sender.clone().unwrap_or_default(),
            m.subject.clone().unwrap_or_default(),
            if m.flagged {
                format!("{class} ⚑")
            } else {
                class
            },
            m.reason.clone().unwrap_or_default(),
        ]);
    }
    format!("{table}\n")
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
