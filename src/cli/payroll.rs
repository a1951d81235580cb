//! `reportd sales import`, `reportd payroll` and `reportd fund spend`:
//! wiring the payroll module to the command line. No rule lives here.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, FixedOffset, Utc};
use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use super::output;
use crate::config::Language;
use crate::money::Fen;
use crate::notify::plan::Issue;
use crate::payroll::close::PayrollClose;
use crate::payroll::sales::{self, Imported};
use crate::payroll::summary::{self, State, Summary};
use crate::payroll::{fund, xlsx};
use crate::period::Month;
use crate::store;
use crate::sync::Engine;

#[derive(Debug, Subcommand)]
pub enum SalesAction {
    /// Import a month's sales (CSV in UTF-8 or GBK, or XLSX); refused whole
    /// when any row is wrong.
    Import {
        /// The spreadsheet.
        file: PathBuf,
        /// The month the sales are for (YYYY-MM).
        #[arg(long)]
        month: Month,
        /// Who imports it (recorded with the import).
        #[arg(long, default_value = "cli")]
        by: String,
        /// When it is imported (RFC 3339); default the clock.
        #[arg(long)]
        now: Option<DateTime<FixedOffset>>,
    },
}

#[derive(Debug, Args)]
pub struct PayrollArgs {
    /// The payroll month (YYYY-MM).
    #[arg(long)]
    pub month: Month,
    /// Print the summary as JSON (a stable contract, see README).
    #[arg(long)]
    pub json: bool,
    /// Also write the summary as an Excel workbook here.
    #[arg(long, value_name = "FILE")]
    pub xlsx: Option<PathBuf>,
    /// Send it now: the first issue if it never went out, else a re-issue
    /// marked as such.
    #[arg(long)]
    pub send: bool,
    /// As of this instant (RFC 3339); default the clock.
    #[arg(long)]
    pub now: Option<DateTime<FixedOffset>>,
}

#[derive(Debug, Subcommand)]
pub enum FundAction {
    /// Record money spent from the activity fund (a negative amount
    /// corrects a mistake).
    Spend {
        /// Yuan, e.g. 120.50.
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        /// What it was for.
        #[arg(long)]
        note: String,
        /// Who approved it (a configured person's address).
        #[arg(long)]
        by: String,
        /// When it was spent (RFC 3339); default the clock.
        #[arg(long)]
        now: Option<DateTime<FixedOffset>>,
    },
}

/// The instant a command that records something acts at: `--now` may not
/// run ahead of the clock (see `clock::acting_at`).
fn acting(now: Option<DateTime<FixedOffset>>) -> Result<DateTime<Utc>> {
    Ok(crate::clock::acting_at(now, Utc::now())?)
}

/// `reportd sales import`.
pub fn sales(engine: &Engine, action: SalesAction) -> Result<()> {
    let SalesAction::Import {
        file,
        month,
        by,
        now,
    } = action;
    let now = acting(now)?;
    let bytes = std::fs::read(&file)
        .with_context(|| format!("cannot read {}; check the path", file.display()))?;
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut conn = store::open(&engine.cfg.database)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let imported = sales::import(&tx, &engine.cfg, month, &name, &bytes, &by, now)?;
    tx.commit()?;
    output::print(&describe_import(&imported, &name))
}

fn describe_import(i: &Imported, file: &str) -> String {
    let mut out = String::new();
    if i.unchanged {
        out.push_str(&format!(
            "{file} is the same as the newest import of {}: nothing changed\n",
            i.month
        ));
        return out;
    }
    out.push_str(&format!(
        "imported {} row(s) from {file} as the sales of {}{}\n",
        i.rows,
        i.month,
        if i.replaced {
            ", replacing the earlier import"
        } else {
            ""
        }
    ));
    for c in &i.changes {
        match (&c.before, &c.after) {
            (Some(b), Some(a)) => {
                out.push_str(&format!("  {}: {} {b} -> {a}\n", c.person, c.what));
            }
            _ => out.push_str(&format!("  {}: {}\n", c.person, c.what)),
        }
    }
    if !i.ignored_columns.is_empty() {
        out.push_str(&format!(
            "columns not read: {}\n",
            i.ignored_columns.join(", ")
        ));
    }
    if let Some(at) = i.summary_issued_at {
        out.push_str(&format!(
            "note: the payroll summary of {} went out at {at}; a sent summary is never changed, \
             so settle the difference by hand\n",
            i.month
        ));
    }
    out
}

/// `reportd payroll`.
pub async fn payroll(engine: &Engine, args: PayrollArgs) -> Result<()> {
    let cfg = &engine.cfg;
    let mut conn = store::open(&cfg.database)?;
    let now = if args.send {
        acting(args.now)?
    } else {
        crate::clock::viewing_at(args.now, Utc::now())
    };
    let summary = if args.send {
        // A sent summary is final: never one of a month still running.
        let today = now.with_timezone(&cfg.timezone).date_naive();
        if args.month.last_day() >= today {
            anyhow::bail!(
                "{} is not over yet: a payroll summary is sent once its month has ended, and \
                 a sent one is never changed; `reportd payroll --month {}` shows it as it stands",
                args.month,
                args.month
            );
        }
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        super::refuse_unready(&tx, &format!("the payroll summary of {}", args.month))?;
        let (issue, key) = engine
            .planner()?
            .issue_monthly(&tx, &PayrollClose, args.month, now)?;
        tx.commit()?;
        match issue {
            Issue::First => output::eprintln(&format!(
                "the payroll summary of {} is issued ({key})",
                args.month
            )),
            Issue::Reissue(n) => output::eprintln(&format!(
                "the payroll summary of {} is sent again as re-issue {n} ({key})",
                args.month
            )),
        }
        let sender = engine.sender()?;
        match engine.deliver(sender.as_ref(), &mut conn, now).await? {
            Some(d) => output::eprintln(&format!(
                "outbox: sent {}, to retry {}, failed {}",
                d.sent, d.deferred, d.failed
            )),
            None => output::eprintln("outbox: no [smtp] section, nothing sent"),
        }
        summary::summary(&conn, cfg, args.month)?
    } else {
        super::note_unready(&conn, cfg)?;
        summary::summary(&conn, cfg, args.month)?
    };
    if let Some(path) = &args.xlsx {
        let data = xlsx::workbook(&summary, cfg.language, cfg.timezone)?;
        std::fs::write(path, data)
            .with_context(|| format!("cannot write {}; check the path", path.display()))?;
        output::eprintln(&format!("wrote {}", path.display()));
    }
    output::listing(
        args.json,
        || &summary,
        || summary_text(&summary, cfg.language),
    )
}

/// `reportd fund spend`.
pub fn fund_spend(engine: &Engine, action: FundAction) -> Result<()> {
    let FundAction::Spend {
        amount,
        note,
        by,
        now,
    } = action;
    let now = acting(now)?;
    let negative = amount.trim().starts_with('-');
    let magnitude = sales::parse_amount(&crate::payroll::sheet::Cell::Text(
        amount.trim().trim_start_matches('-').to_string(),
    ))
    .map_err(|e| anyhow::anyhow!("--amount {e}"))?;
    let amount_fen = if negative { -magnitude } else { magnitude };
    let conn = store::open(&engine.cfg.database)?;
    let spend = fund::spend(&conn, &engine.cfg, amount_fen, &note, &by, now)?;
    let what = if spend.amount_fen < Fen::ZERO {
        format!("{} yuan back into", -spend.amount_fen)
    } else {
        format!("{} yuan spent from", spend.amount_fen)
    };
    output::println(&format!(
        "recorded {what} the activity fund: {} (approved by {}); balance now {} yuan",
        spend.note,
        spend.by,
        fund::balance(&conn)?
    ))
}

fn opt(f: Option<Fen>) -> String {
    f.map_or_else(|| "-".to_string(), |f| f.to_string())
}

/// The summary as a table and the fund's account, in the team's language.
pub fn summary_text(s: &Summary, lang: Language) -> String {
    let zh = lang == Language::Zh;
    let mut out = String::new();
    let state = match (s.state, zh) {
        (State::Issued, true) => "已发出".to_string(),
        (State::Issued, false) => "issued".to_string(),
        (State::Preview, true) => "预览，未发出".to_string(),
        (State::Preview, false) => "preview, not sent".to_string(),
    };
    out.push_str(&if zh {
        format!("工资汇总 {}（{state}）\n", s.month)
    } else {
        format!("Payroll summary {} ({state})\n", s.month)
    });
    if !s.sales_imported {
        out.push_str(if zh {
            "本月业绩尚未导入：底薪和提成没有计算。\n"
        } else {
            "No sales imported for the month: base and commission are not computed.\n"
        });
    }
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(if zh {
        [
            "姓名",
            "岗位",
            "状态",
            "计入业绩",
            "扣减后底薪",
            "提成",
            "罚款",
            "退款",
            "实发",
            "标记",
        ]
    } else {
        [
            "name",
            "role",
            "status",
            "counted sales",
            "base after cut",
            "commission",
            "fines",
            "refunds",
            "net pay",
            "flags",
        ]
    });
    for p in &s.people {
        let flags: Vec<&str> = p.flags.iter().map(|f| xlsx::flag_label(lang, *f)).collect();
        table.add_row([
            p.name.clone(),
            xlsx::label(lang, &p.role).to_string(),
            p.standing
                .map(|x| xlsx::label(lang, x.as_str()).to_string())
                .unwrap_or_default(),
            opt(p.sales.map(|x| x.counted_fen)),
            opt(p.base_after_cut_fen),
            opt(p.commission_fen),
            format!("{} ({})", p.fines.amount_fen, p.fines.count),
            p.refunds.amount_fen.to_string(),
            opt(p.net_pay_fen),
            flags.join(", "),
        ]);
    }
    out.push_str(&format!("{table}\n"));
    let f = &s.fund;
    out.push_str(&if zh {
        format!(
            "活动经费：期初 {}，罚款计入 {}，退款 {}，支出 {}，期末 {}\n",
            f.opening_fen, f.fines_fen, f.refunds_fen, f.spending_fen, f.closing_fen
        )
    } else {
        format!(
            "activity fund: opening {}, fines {}, refunds {}, spending {}, closing {}\n",
            f.opening_fen, f.fines_fen, f.refunds_fen, f.spending_fen, f.closing_fen
        )
    });
    out
}
