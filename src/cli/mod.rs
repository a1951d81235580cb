//! The command line: parsing arguments and wiring the modules together for
//! each command. No rule lives here.

mod archive;
mod board;
pub mod calendar;
mod ops;
pub mod output;
mod payroll;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, FixedOffset, Utc};
use clap::{Parser, Subcommand};

use crate::calendar::Calendar;
use crate::config::Config;
use crate::notify::outbox;
use crate::period::Period;
use crate::reports::compliance;
use crate::sync::{Booked, Engine, Judging, Source, SyncError};
use crate::writer::{self, LockError, WriterLock};
use crate::{clock, daemon, ledger, mail, store};
use board::ExcuseTail;

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
    /// How log lines (stderr) are written: `human` text, or `json`, one
    /// object a line.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "REPORTD_LOG_FORMAT",
        default_value = "human"
    )]
    pub log_format: crate::logging::LogFormat,
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
        /// Judge as of this instant (RFC 3339) instead of the clock: any
        /// past instant, at most 5 minutes ahead.
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
        /// 2026-W46 or 2026-10, or as the notices write it: 第46周,
        /// 2026年第46周, 10月月报, week 46, October report (without a year,
        /// the one nearest to the day it is filed).
        #[arg(long)]
        period: String,
        #[arg(long)]
        reason: String,
        /// Who approved it (a supervisor, manager or assistant).
        #[arg(long)]
        by: String,
        /// When it was filed (RFC 3339); default the clock; at most 5
        /// minutes ahead of it.
        #[arg(long)]
        now: Option<DateTime<chrono::FixedOffset>>,
    },
    /// Check a config file and name every mistake with its line.
    CheckConfig {
        /// Check as of this instant (RFC 3339) instead of the clock: which
        /// years' holiday notices are due.
        #[arg(long)]
        now: Option<DateTime<chrono::FixedOffset>>,
    },
    /// Show a month of the working-day calendar with its deadlines.
    Calendar {
        /// YYYY-MM; default the current month.
        #[arg(long)]
        month: Option<String>,
    },
    /// Build a month's compliance archive: a zip of every report and reply
    /// received that month (.eml), the filing register (CSV, XLSX),
    /// index.html and MANIFEST.sha256. `archive verify FILE.zip` checks one.
    #[command(args_conflicts_with_subcommands = true)]
    Archive {
        #[command(subcommand)]
        action: Option<archive::ArchiveAction>,
        /// The month (YYYY-MM) whose mail to archive.
        #[arg(long)]
        month: Option<crate::archive::Month>,
        /// Write the zip into this directory instead of `[archive]
        /// archive_dir`.
        #[arg(long, value_name = "DIR", conflicts_with = "send")]
        out: Option<PathBuf>,
        /// Keep the zip under archive_dir and email it to the assistant
        /// through the outbox, once; after a change to the month, a marked
        /// re-issue (重发/re-issue).
        #[arg(long)]
        send: bool,
        /// Judge as of this instant (RFC 3339) instead of the clock; with
        /// --send at most 5 minutes ahead of it.
        #[arg(long)]
        now: Option<DateTime<chrono::FixedOffset>>,
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
    /// Is the daemon doing its job? One line, and a Nagios exit code: 0 OK,
    /// 1 WARNING (an email failed for good), 2 CRITICAL (no successful pass
    /// within --max-age), 3 UNKNOWN (config or database unreadable).
    Health(ops::HealthArgs),
    /// Copy the database to FILE while the daemon runs (SQLite's online
    /// backup), then check the copy.
    Backup {
        file: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Replace the database with the backup FILE (the daemon must be
    /// stopped); the current database is kept aside. A backup of another
    /// mailbox or team, or one lacking entries the current database holds,
    /// is refused (the entries listed) unless --force.
    Restore {
        file: PathBuf,
        /// Restore even so (the entries it drops are listed, to enter again).
        #[arg(long)]
        force: bool,
    },
    /// Run the whole pipeline on a generated month of a fictional team's mail.
    Demo {
        /// Keep the demo's files here instead of a temporary directory.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// `sysexits.h` EX_TEMPFAIL: another reportd holds the database; try later.
const EX_TEMPFAIL: u8 = 75;

/// Entry point for `main`.
pub fn main() -> ExitCode {
    // Everything reportd creates (database, WAL, lock file, the demo's
    // files, directories) is for its own user alone: the database is a copy
    // of a mailbox. Explicit modes where files are made back this up.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = Cli::parse();
    crate::logging::init(matches!(cli.command, Command::Run), cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            output::eprintln(&format!("error: cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => exit_for(&e),
    }
}

/// How an error ends the process: quietly when the reader of stdout left,
/// EX_TEMPFAIL when another reportd holds the database, else a message.
fn exit_for(e: &anyhow::Error) -> ExitCode {
    if e.is::<output::PipeClosed>() {
        return ExitCode::SUCCESS;
    }
    output::eprintln(&format!("error: {e:#}"));
    match e.downcast_ref::<LockError>() {
        Some(LockError::Held { .. }) => ExitCode::from(EX_TEMPFAIL),
        _ => ExitCode::FAILURE,
    }
}

async fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::CheckConfig { now } => {
            return Ok(check_config(
                &cli.config,
                clock::viewing_at(now, Utc::now()),
            ));
        }
        Command::Demo { dir } => return crate::demo::run(dir).await.map(|()| ExitCode::SUCCESS),
        Command::Archive {
            action: Some(archive::ArchiveAction::Verify { file, expect }),
            ..
        } => return Ok(archive::verify(&file, expect.as_deref())),
        Command::Health(args) => return Ok(ops::health(&cli.config, &args)),
        _ => {}
    }
    let engine = load_engine(&cli.config)?;
    let done = match cli.command {
        Command::Run => run(&engine).await,
        Command::Sync { once, now } => sync(&engine, once, now).await,
        Command::Status { periods, now, json } => status(&engine, &periods, now, json),
        Command::Ledger { month, json } => ledger_cmd(&engine.cfg, month.as_deref(), json),
        Command::Messages { flagged, json } => messages(&engine.cfg, flagged, json),
        Command::Outbox { json, retry, now } => outbox_cmd(&engine.cfg, json, retry, now),
        Command::Excuse {
            person,
            period,
            reason,
            by,
            now,
        } => excuse(&engine, &person, &period, &reason, &by, now),
        Command::Calendar { month } => calendar_cmd(&engine, month.as_deref()),
        Command::Archive {
            action: None,
            month,
            out,
            send,
            now,
        } => match month {
            Some(month) => archive::build(&engine, month, out, send, now).await,
            None => bail!(
                "which month? write `reportd archive --month YYYY-MM` (or `reportd archive verify FILE.zip`)"
            ),
        },
        Command::Sales { action } => payroll::sales(&engine, action),
        Command::Payroll(args) => payroll::payroll(&engine, args).await,
        Command::Fund { action } => payroll::fund_spend(&engine, action),
        Command::Backup { file, force } => ops::backup(&engine.cfg, &file, force),
        Command::Restore { file, force } => ops::restore(&engine.cfg, &file, force),
        Command::CheckConfig { .. }
        | Command::Demo { .. }
        | Command::Archive { .. }
        | Command::Health(_) => Ok(()),
    };
    done.map(|()| ExitCode::SUCCESS)
}

fn load_engine(path: &std::path::Path) -> Result<Engine> {
    let cfg = load_config(path)?;
    let calendar =
        Calendar::load(&cfg.calendar).context("loading the calendar files named in the config")?;
    Ok(Engine::new(cfg, calendar)?)
}

/// Opens the database for a command that runs passes, after taking the
/// writer lock (held until the returned lock is dropped); a database that
/// holds no mail yet is written with a rollback journal until its first
/// download is stored (`store::use_rollback_journal`).
fn open_writer(cfg: &Config) -> Result<(WriterLock, rusqlite::Connection)> {
    let lock = writer::acquire(&cfg.database)?;
    let conn = store::open(&cfg.database)?;
    if mail::inbox::holds_no_mail(&conn)? {
        store::use_rollback_journal(&conn);
    }
    Ok((lock, conn))
}

async fn run(engine: &Engine) -> Result<()> {
    clock::start_daemon_clock()?;
    let (_lock, mut conn) = open_writer(&engine.cfg)?;
    daemon::run(engine, &mut conn, daemon::shutdown_signal())
        .await
        .map_err(|e| database_stop(e, &engine.cfg.database))
}

/// Refuses to send `what` while the mail is not read: it would miss it.
fn refuse_unready(conn: &rusqlite::Connection, what: &str) -> Result<()> {
    if let Some(unready) = crate::sync::unready(conn)? {
        bail!(
            "{unready}, and {what} sent now would miss that mail. Wait until the daemon (or \
             `reportd sync --once`) has read it, then try again"
        );
    }
    Ok(())
}

/// Warns on stderr when what a reader is about to show misses stored mail
/// that is not read yet.
fn note_unready(conn: &rusqlite::Connection, cfg: &Config) -> Result<()> {
    if let Some(note) = board::unready_note(conn, cfg.language)? {
        output::eprintln(&note);
    }
    Ok(())
}

/// A run stopped by the database (full, read-only) says so, and what to
/// do; any other error as it is.
fn database_stop(e: SyncError, database: &std::path::Path) -> anyhow::Error {
    match e.database_error() {
        Some(db) => anyhow::anyhow!(SyncError::stopped_text(db, database)),
        None => e.into(),
    }
}

async fn sync(engine: &Engine, once: bool, now: Option<DateTime<FixedOffset>>) -> Result<()> {
    if !once {
        bail!("`sync` runs one pass: write `reportd sync --once` (the daemon is `reportd run`)");
    }
    let now = clock::acting_at(now, Utc::now())?;
    let (_lock, mut conn) = open_writer(&engine.cfg)?;
    sync_once(engine, &mut conn, now).await
}

fn status(
    engine: &Engine,
    periods: &[Period],
    now: Option<DateTime<FixedOffset>>,
    json: bool,
) -> Result<()> {
    let (cfg, calendar) = (&engine.cfg, &engine.calendar);
    let conn = store::open(&cfg.database)?;
    let now = clock::viewing_at(now, Utc::now());
    note_unready(&conn, cfg)?;
    let verdicts = compliance::verdicts(&conn, cfg, calendar, now, periods)?;
    let rows = board::StatusRows::new(&conn, cfg, &verdicts)?;
    output::listing(
        json,
        || &rows,
        || {
            let mut text = board::status_table(cfg, &rows, now);
            if rows.any_provisional() {
                text += calendar::provisional_note(cfg.language);
            }
            text
        },
    )
}

fn ledger_cmd(cfg: &Config, month: Option<&str>, json: bool) -> Result<()> {
    let conn = store::open(&cfg.database)?;
    let month = month.map(parse_month).transpose()?;
    let entries = ledger::entries(&conn, month, cfg.timezone)?;
    let table = match json {
        true => String::new(),
        false => board::ledger_table(&conn, &entries, cfg)?,
    };
    output::listing(
        json,
        || board::ledger_json(&entries, cfg.timezone),
        || table,
    )
}

fn messages(cfg: &Config, flagged: bool, json: bool) -> Result<()> {
    let conn = store::open(&cfg.database)?;
    let rows = mail::inbox::list(&conn, flagged)?;
    output::listing(json, || &rows, || board::messages_table(&rows, cfg))
}

/// `outbox`: a reader, unless `--retry` puts a failed email back in the
/// queue (a write, so it takes the writer lock).
fn outbox_cmd(
    cfg: &Config,
    json: bool,
    retry: Option<String>,
    now: Option<DateTime<FixedOffset>>,
) -> Result<()> {
    let conn = match retry {
        Some(key) => {
            // One UPDATE, safe beside the daemon: no writer lock.
            let conn = store::open(&cfg.database)?;
            if !outbox::requeue(&conn, &key, clock::viewing_at(now, Utc::now()))? {
                bail!(
                    "no failed email with key {key}: `reportd outbox` lists the keys and their states"
                );
            }
            output::eprintln(&format!(
                "{key} is queued again; `reportd sync --once` or the daemon sends it"
            ));
            conn
        }
        None => store::open(&cfg.database)?,
    };
    let rows = outbox::list(&conn)?;
    output::listing(
        json,
        || &rows,
        || board::outbox_table(&rows, cfg.language, cfg.timezone),
    )
}

fn excuse(
    engine: &Engine,
    person: &str,
    period: &str,
    reason: &str,
    by: &str,
    now: Option<DateTime<FixedOffset>>,
) -> Result<()> {
    let now = clock::acting_at(now, Utc::now())?;
    let today = now.with_timezone(&engine.cfg.timezone).date_naive();
    let Some(period) = crate::names::read::period(period, today) else {
        bail!(
            "--period {period:?} names no week or month: write it as 2026-W46, 第46周, 2026年第46周, 2026-10 or 10月月报"
        );
    };
    // Beside a running daemon too: the assistant files reasons while it
    // runs. Filing is one transaction and judging another; the ledger's and
    // the outbox's unique keys keep a waiver or an email from being booked
    // twice when the daemon judges at the same moment.
    let mut conn = store::open(&engine.cfg.database)?;
    let filed = compliance::file_excuse(&conn, &engine.cfg, person, period, reason, by, now)?;
    let period = filed.period.to_string();
    let before = ledger::entries_of(&conn, &filed.person, &period)?;
    let (booked, tail) = match engine.judge_and_book(&mut conn, now)? {
        Judging::Done {
            booked: Booked::Each(entries),
            ..
        } => (entries, ExcuseTail::Listed),
        // Judging books whatever else is owed too (a first pass books a
        // year): what this reason changed is shown, the rest counted.
        Judging::Done {
            booked: Booked::Counted { fines, waivers },
            ..
        } => {
            let mut new = ledger::entries_of(&conn, &filed.person, &period)?;
            new.retain(|e| !before.iter().any(|b| b.id == e.id));
            (new, ExcuseTail::Counted { fines, waivers })
        }
        Judging::Waits(unready) => (Vec::new(), ExcuseTail::Waits(unready)),
    };
    output::print(&board::excuse_text(
        &conn,
        &engine.cfg,
        &filed,
        &booked,
        tail,
    )?)
}

fn calendar_cmd(engine: &Engine, month: Option<&str>) -> Result<()> {
    let cfg = &engine.cfg;
    let (year, month) = match month {
        Some(m) => parse_month(m)?,
        None => {
            let today = Utc::now().with_timezone(&cfg.timezone).date_naive();
            (
                chrono::Datelike::year(&today),
                chrono::Datelike::month(&today),
            )
        }
    };
    output::print(&calendar_view(year, month, &engine.calendar, cfg))
}

/// `sync --once`: one pass, then deliver what the outbox has due.
async fn sync_once(
    engine: &Engine,
    conn: &mut rusqlite::Connection,
    now: DateTime<Utc>,
) -> Result<()> {
    let started = std::time::Instant::now();
    let downloading = board::progress_bar("downloading");
    let bar = downloading.clone();
    let source =
        Source::from_config(&engine.cfg).with_download_progress(Box::new(move |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }));
    let fetched = source
        .fetch_once(conn)
        .await
        .map_err(|e| database_stop(e, &engine.cfg.database))?;
    downloading.finish_and_clear();
    let sender = engine.sender()?;
    let bar = board::progress_bar("classifying");
    let (pass, delivered) = engine
        .finish_pass(
            sender.as_ref(),
            conn,
            || now,
            (fetched, started),
            |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            },
        )
        .await
        .map_err(|e| database_stop(e, &engine.cfg.database))?;
    bar.finish_and_clear();
    output::println(&format!(
        "fetched {} new message(s); classified {}; booked {} ledger entr{}; queued {} email(s)",
        pass.fetched,
        pass.classified,
        pass.booked,
        if pass.booked == 1 { "y" } else { "ies" },
        pass.queued,
    ))?;
    output::println(&delivery_line(delivered.as_ref()))
}

/// What a delivery after a command did, in one line.
fn delivery_line(delivered: Option<&outbox::DeliveryStats>) -> String {
    match delivered {
        Some(d) => format!(
            "outbox: sent {}, to retry {}, failed {}",
            d.sent, d.deferred, d.failed
        ),
        None => "outbox: no [smtp] section, nothing sent".to_string(),
    }
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

fn check_config(path: &std::path::Path, now: DateTime<Utc>) -> ExitCode {
    let issues = match Config::check(path) {
        Ok(cfg) => match Calendar::load(&cfg.calendar) {
            Ok(calendar) => {
                for warning in calendar::provisional_warnings(&calendar, cfg.timezone, now) {
                    output::eprintln(&format!("warning: {}: calendar: {warning}", path.display()));
                }
                // A reader that left early missed nothing it can act on.
                let _ = output::println(&format!(
                    "{}: valid ({} people, {} who report)",
                    path.display(),
                    cfg.roster.people.len(),
                    cfg.roster.reporters().count()
                ));
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
        output::eprintln(&i.to_string());
    }
    ExitCode::FAILURE
}

/// `YYYY-MM` to (year, month).
fn parse_month(text: &str) -> Result<(i32, u32)> {
    match text.parse::<Period>() {
        Ok(Period::Month { year, month }) => Ok((year, month)),
        _ => bail!("`{text}` is not a month: write it as YYYY-MM, e.g. 2026-11"),
    }
}

pub use board::{
    StatusRows as BoardRows, email_kind, ledger_table as ledger_text,
    messages_table as messages_text, outbox_table as outbox_text, status_table as board_table,
};
