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
use crate::ops::health::{self, Gauges, Status};
use crate::ops::{backup as copy, textfile};
use crate::sync::Source;
use crate::{store, writer};

#[derive(Debug, clap::Args)]
pub struct HealthArgs {
    /// The longest time since the last successful pass that is still
    /// healthy: 15m, 1h, 1h 30m, 90s.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    pub max_age: Duration,
    /// Judge as of this instant (RFC 3339) instead of the clock.
    #[arg(long)]
    pub now: Option<DateTime<FixedOffset>>,
    /// Also write the gauges to FILE for the node exporter's textfile
    /// collector (replaced atomically).
    #[arg(long, value_name = "FILE")]
    pub prometheus: Option<PathBuf>,
}

/// Prints the health line and returns its Nagios exit code.
pub fn health(config: &Path, args: &HealthArgs) -> ExitCode {
    let now = clock::viewing_at(args.now, Utc::now());
    let (status, gauges, line) = match read_gauges(config) {
        Ok(g) => {
            let verdict = health::check(&g, now, args.max_age);
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
