//! `reportd health`, `backup` and `restore`: the operator's commands (the
//! work is in `crate::ops`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, FixedOffset, Utc};

use super::output;
use crate::clock;
use crate::config::Config;
use crate::ops::guard::Team;
use crate::ops::health::{self, Gauges, Limits, Status};
use crate::ops::{backup as copy, textfile};
use crate::sync::Source;
use crate::{store, writer};

#[derive(Debug, clap::Args)]
pub struct HealthArgs {
    /// The longest time since the last successful pass that is still
    /// healthy: 15m, 1h, 1h 30m, 90s. The default is above the daemon's
    /// longest idle stretch (a pass at least every 25 minutes).
    #[arg(long, default_value = health::DEFAULT_MAX_AGE)]
    pub max_age: String,
    /// The longest an email may wait in the outbox, once it could go,
    /// before it is a WARNING.
    #[arg(long, default_value = health::DEFAULT_MAX_QUEUE_AGE)]
    pub max_queue_age: String,
    /// Judge as of this instant (RFC 3339) instead of the clock.
    #[arg(long)]
    pub now: Option<DateTime<FixedOffset>>,
    /// Also write the gauges to FILE for the node exporter's textfile
    /// collector (replaced atomically).
    #[arg(long, value_name = "FILE")]
    pub prometheus: Option<PathBuf>,
}

/// The limits given, read here rather than by clap so that a mistake in
/// them is UNKNOWN (3), as a monitor expects, not clap's usage error (2).
fn limits(args: &HealthArgs) -> Result<Limits> {
    let parse = |flag: &str, text: &str| -> Result<Duration> {
        humantime::parse_duration(text).map_err(|e| {
            anyhow::anyhow!("--{flag} {text:?}: {e}; write a duration such as 90s, 15m, 1h 30m")
        })
    };
    Ok(Limits {
        max_age: parse("max-age", &args.max_age)?,
        max_queue_age: parse("max-queue-age", &args.max_queue_age)?,
    })
}

/// Prints the health line and returns its Nagios exit code.
pub fn health(config: &Path, args: &HealthArgs) -> ExitCode {
    let now = clock::viewing_at(args.now, Utc::now());
    let judged = limits(args).and_then(|l| Ok((l, read_gauges(config)?)));
    let (status, gauges, line) = match judged {
        Ok((limits, g)) => {
            let verdict = health::check(&g, now, &limits);
            let line = health::nagios_line(&verdict, &g, now);
            (verdict.status, Some(g), line)
        }
        Err(e) => {
            // One line whatever the error says.
            let reason = format!("{e:#}")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            (Status::Unknown, None, format!("REPORTD UNKNOWN - {reason}"))
        }
    };
    let mut code = status.code();
    if let Some(path) = &args.prometheus {
        let written =
            textfile::render(gauges.as_ref(), status).and_then(|t| textfile::write(path, &t));
        if let Err(e) = written {
            output::eprintln(&format!("error: {e}"));
            code = code.max(Status::Unknown.code());
        }
    }
    // A monitor that stopped reading has its answer in the exit code.
    let _ = output::println(&line);
    ExitCode::from(code)
}

fn read_gauges(config: &Path) -> Result<Gauges> {
    let cfg = super::load_config(config)?;
    // Never create or migrate the daemon's database from a probe.
    let conn = store::open_existing(&cfg.database)?;
    Ok(Gauges::read(&conn)?)
}

/// `reportd backup FILE [--force]`.
pub fn backup(cfg: &Config, file: &Path, force: bool) -> Result<()> {
    let contents = copy::backup(&cfg.database, file, force)?;
    output::println(&format!(
        "backed up {} to {}: {contents}",
        cfg.database.display(),
        file.display()
    ))
}

/// The configured team, as a restore compares a backup with it.
fn team(cfg: &Config) -> Team {
    let source = match Source::from_config(cfg) {
        Source::Imap(imap) => imap.source_id().to_string(),
        Source::Maildir(maildir) => maildir.source_id().to_string(),
    };
    let people = cfg
        .roster
        .people
        .iter()
        .flat_map(|p| [p.name.clone(), p.email.clone()])
        .collect();
    Team { source, people }
}

/// `reportd restore FILE [--force]`.
pub fn restore(cfg: &Config, file: &Path, force: bool) -> Result<()> {
    // Refused (exit 75) while the daemon runs; held through the restore.
    let lock = writer::acquire(&cfg.database)?;
    let restored = copy::restore(&lock, &cfg.database, file, &team(cfg), force, Utc::now())?;
    if !restored.foreign.is_empty() {
        output::eprintln(&format!(
            "warning: restored with --force though {} is not this team's backup: {}",
            file.display(),
            restored.foreign.join("; ")
        ));
    }
    if !restored.missing.is_empty() {
        let list: Vec<_> = restored.missing.iter().map(|m| format!("  {m}")).collect();
        output::eprintln(&format!(
            "warning: the replaced database held {} entr{} the backup lacks; enter them again:\n{}",
            list.len(),
            if list.len() == 1 { "y" } else { "ies" },
            list.join("\n")
        ));
    }
    let aside = match &restored.moved_aside {
        Some(p) => format!("; the database it replaced is kept as {}", p.display()),
        None => String::new(),
    };
    output::println(&format!(
        "restored {} from {}: {}{aside}",
        cfg.database.display(),
        file.display(),
        restored.contents
    ))
}
