//! The command line: parsing arguments and wiring the modules together for
//! each command. No rule lives here.

mod board;
pub mod calendar;
mod payroll;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

use crate::calendar::Calendar;
use crate::config::Config;
use crate::notify::outbox;
use crate::period::Period;
use crate::reports::compliance;
use crate::sync::{Engine, Source};
use crate::{daemon, ledger, mail, store};

#[derive(Debug, Parser)]
#[command(
    name = "reportd",
    version,
    about = "Enforces a sales team's weekly and monthly email reporting rules"
)]
pub struct Cli {
    /// Config file.
    #[arg(
        long,
        global = true,
        env = "REPORTD_CONFIG",
        default_value = "config/reportd.toml"
    )]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run as a daemon: watch the mailbox, judge deadlines as they pass.
    Run,
    /// Fetch new mail, classify it, judge every deadline up to now, exit.
    Sync {
        /// Run one pass and exit (the only mode; `run` is the daemon).
        #[arg(long)]
        once: bool,
        /// Judge as of this instant (RFC 3339) instead of the clock.
        #[arg(long)]
        now: Option<DateTime<chrono::FixedOffset>>,
    },
    /// One row per person and period: on time, late, missing, excused.
    Status {
        /// Only these periods (2026-W48, 2026-11); repeatable.
        #[arg(long = "period")]
        periods: Vec<Period>,
        /// Judge as of this instant (RFC 3339) instead of the clock.
        #[arg(long)]
        now: Option<DateTime<chrono::FixedOffset>>,
        #[arg(long)]
        json: bool,
    },
    /// Fines and waivers with totals.
    Ledger {
        /// Only entries booked in this month (YYYY-MM, team time zone).
        #[arg(long)]
        month: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// What was read from the mailbox and how each message was classified.
    Messages {
        /// Only messages that need the assistant's eye.
        #[arg(long)]
        flagged: bool,
        #[arg(long)]
        json: bool,
    },
    /// The emails reportd queued and sent, with their delivery state.
    Outbox {
        #[arg(long)]
        json: bool,
        /// Put this failed email back in the queue (after fixing the address
        /// or the server), then list.
        #[arg(long, value_name = "KEY")]
        retry: Option<String>,
        /// When the retried email becomes due (RFC 3339); default the clock.
        #[arg(long, requires = "retry")]
        now: Option<DateTime<chrono::FixedOffset>>,
    },
    /// File a valid reason (leave, sickness, trip, approval) for a period.
    Excuse {
        #[arg(long)]
        person: String,
        #[arg(long)]
        period: Period,
        #[arg(long)]
        reason: String,
        /// Who approved it (a supervisor, manager or assistant).
        #[arg(long)]
        by: String,
        /// When it was filed (RFC 3339); default the clock.
        #[arg(long)]
        now: Option<DateTime<chrono::FixedOffset>>,
    },
    /// Check a config file and name every mistake with its line.
    CheckConfig,
    /// Show a month of the working-day calendar with its deadlines.
    Calendar {
        /// YYYY-MM; default the current month.
        #[arg(long)]
        month: Option<String>,
    },
    /// A month's sales (业绩) for payroll.
    Sales {
        #[command(subcommand)]
        action: payroll::SalesAction,
    },
    /// A month's payroll summary: pay, report fines, refunds, activity fund.
    Payroll(payroll::PayrollArgs),
    /// The department activity fund.
    Fund {
        #[command(subcommand)]
        action: payroll::FundAction,
    },
    /// Run the whole pipeline on a generated month of a fictional team's mail.
    Demo {
        /// Keep the demo's files here instead of a temporary directory.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// Entry point for `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(matches!(cli.command, Command::Run));
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(daemon: bool) {
    let default = if daemon { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("REPORTD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // async-imap traces every line it sends, LOGIN and its password
    // included, and every message body: never let that reach the log.
    let filter = match "async_imap=info".parse() {
        Ok(quiet) => filter.add_directive(quiet),
        Err(_) => filter,
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::CheckConfig => return Ok(check_config(&cli.config)),
        Command::Demo { dir } => return crate::demo::run(dir).await.map(|()| ExitCode::SUCCESS),
        _ => {}
    }
    let cfg = load_config(&cli.config)?;
    let calendar =
        Calendar::load(&cfg.calendar).context("loading the calendar files named in the config")?;
    let engine = Engine::new(cfg, calendar)?;
    let (cfg, calendar) = (&engine.cfg, &engine.calendar);
    let clock = |now: Option<DateTime<chrono::FixedOffset>>| {
        now.map_or_else(Utc::now, |n| n.with_timezone(&Utc))
    };
    match cli.command {
        Command::Run => {
            let mut conn = store::open(&cfg.database)?;
            daemon::run(&engine, &mut conn, daemon::shutdown_signal()).await?;
        }
        Command::Sync { once, now } => {
            if !once {
                bail!(
                    "`sync` runs one pass: write `reportd sync --once` (the daemon is `reportd run`)"
                );
            }
            let mut conn = store::open(&cfg.database)?;
            let now = clock(now);
            sync_once(&engine, &mut conn, now).await?;
        }
        Command::Status { periods, now, json } => {
            let conn = store::open(&cfg.database)?;
            let verdicts = compliance::verdicts(&conn, cfg, calendar, clock(now), &periods)?;
            let rows = board::status_rows(&conn, cfg, &verdicts)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print!("{}", board::status_table(&rows));
            }
        }
        Command::Ledger { month, json } => {
            let conn = store::open(&cfg.database)?;
            let month = month.as_deref().map(parse_month).transpose()?;
            let entries = ledger::entries(&conn, month, cfg.timezone)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&board::ledger_json(&entries, cfg.timezone))?
                );
            } else {
                print!("{}", board::ledger_table(&entries, cfg));
            }
        }
        Command::Messages { flagged, json } => {
            let conn = store::open(&cfg.database)?;
            let rows = mail::inbox::list(&conn, flagged)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print!("{}", board::messages_table(&rows, cfg.timezone));
            }
        }
        Command::Outbox { json, retry, now } => {
            let conn = store::open(&cfg.database)?;
            if let Some(key) = retry {
                if !outbox::requeue(&conn, &key, clock(now))? {
                    bail!(
                        "no failed email with key {key}: `reportd outbox` lists the keys and their states"
                    );
                }
                eprintln!("{key} is queued again; `reportd sync --once` or the daemon sends it");
            }
            let rows = outbox::list(&conn)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print!("{}", outbox::table(&rows, cfg.timezone));
            }
        }
        Command::Excuse {
            person,
            period,
            reason,
            by,
            now,
        } => {
            let mut conn = store::open(&cfg.database)?;
            let now = clock(now);
            let excuse = compliance::file_excuse(&conn, cfg, &person, period, &reason, &by, now)?;
            let (booked, _) = engine.judge_and_book(&mut conn, now)?;
            println!(
                "reason filed for {} {} by {}",
                excuse.person, excuse.period, excuse.by
            );
            for e in booked {
                println!(
                    "booked {:?} {} for {} {}: {}",
                    e.kind, e.amount_fen, e.person, e.period, e.reason
                );
            }
        }
        Command::Calendar { month } => {
            let (year, month) = match month {
                Some(m) => parse_month(&m)?,
                None => {
                    let today = Utc::now().with_timezone(&cfg.timezone).date_naive();
                    (
                        chrono::Datelike::year(&today),
                        chrono::Datelike::month(&today),
                    )
                }
            };
            print!("{}", calendar_view(year, month, calendar, cfg));
        }
        Command::Sales { action } => payroll::sales(&engine, action)?,
        Command::Payroll(args) => payroll::payroll(&engine, args).await?,
        Command::Fund { action } => payroll::fund_spend(&engine, action)?,
        Command::CheckConfig | Command::Demo { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// `sync --once`: one pass, then deliver what the outbox has due.
async fn sync_once(
    engine: &Engine,
    conn: &mut rusqlite::Connection,
    now: DateTime<Utc>,
) -> Result<()> {
    let source = Source::from_config(&engine.cfg);
    let bar = board::progress_bar("classifying");
    let report = engine
        .pass(&source, conn, now, |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })
        .await?;
    bar.finish_and_clear();
    println!(
        "fetched {} new message(s); classified {}; booked {} ledger entr{}; queued {} email(s)",
        report.fetched,
        report.intake.total(),
        report.booked.len(),
        if report.booked.len() == 1 { "y" } else { "ies" },
        report.queued,
    );
    let sender = engine.sender()?;
    match engine.deliver(sender.as_ref(), conn, now).await? {
        Some(d) => println!(
            "outbox: sent {}, to retry {}, failed {}",
            d.sent, d.deferred, d.failed
        ),
        None => println!("outbox: no [smtp] section, nothing sent"),
    }
    Ok(())
}

fn calendar_view(year: i32, month: u32, calendar: &Calendar, cfg: &Config) -> String {
    calendar::render_month(year, month, calendar, &cfg.rules.due, cfg.timezone)
}

fn load_config(path: &std::path::Path) -> Result<Config> {
    Config::load(path).map_err(|e| {
        anyhow::anyhow!(
            "{e}\nrun `reportd check-config --config {}` for details",
            path.display()
        )
    })
}

fn check_config(path: &std::path::Path) -> ExitCode {
    let issues = match Config::check(path) {
        Ok(cfg) => match Calendar::load(&cfg.calendar) {
            Ok(calendar) => {
                for year in calendar_gaps(&calendar, &cfg, Utc::now()) {
                    eprintln!(
                        "warning: {}: calendar: no calendar file covers {year}; its deadlines would use Monday to Friday. \
                         Add config/calendar/cn-{year}.toml from the State Council's holiday notice",
                        path.display()
                    );
                }
                println!(
                    "{}: valid ({} people, {} who report)",
                    path.display(),
                    cfg.roster.people.len(),
                    cfg.roster.reporters().count()
                );
                return ExitCode::SUCCESS;
            }
            Err(e) => vec![crate::config::ConfigIssue {
                file: path.to_path_buf(),
                key: "calendar".into(),
                line: 0,
                message: e.to_string(),
            }],
        },
        Err(e) => e.0,
    };
    for i in &issues {
        eprintln!("{i}");
    }
    ExitCode::FAILURE
}

/// Years that deadlines soon fall in but no calendar file covers: this
/// year, and from November the next (whose notice is published then).
fn calendar_gaps(calendar: &Calendar, cfg: &Config, now: DateTime<Utc>) -> Vec<i32> {
    let today = now.with_timezone(&cfg.timezone).date_naive();
    let year = chrono::Datelike::year(&today);
    let mut years = vec![year];
    if chrono::Datelike::month(&today) >= 11 {
        years.push(year + 1);
    }
    years.into_iter().filter(|y| !calendar.covers(*y)).collect()
}

/// `YYYY-MM` to (year, month).
fn parse_month(text: &str) -> Result<(i32, u32)> {
    match text.parse::<Period>() {
        Ok(Period::Month { year, month }) => Ok((year, month)),
        _ => bail!("`{text}` is not a month: write it as YYYY-MM, e.g. 2026-11"),
    }
}

pub use board::{
    ledger_table as ledger_text, messages_table as messages_text, status_rows as board_rows,
    status_table as board_table,
};
