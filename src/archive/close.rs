//! The archive email as a monthly-close hook of the planner: when a month
//! closes (with the payroll summary: `[payroll] send_working_day` and
//! `send_time`, by default the third working day of the next month at
//! `[notify] digest_time`) the daemon keeps the month's zip and emails it
//! to the assistants, once. `reportd archive --send` asks the planner for a
//! re-issue only when the month's archive changed (see `issue::unchanged`).

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use crate::config::Config;
use crate::notify::compose::Contact;
use crate::notify::plan::{CloseContext, CloseError, Issue as Sending, Letter, MonthlyClose};
use crate::notify::schedule::CloseTime;
use crate::period::Month;

use super::email::{self, Previous};
use super::issue::{self, Issue};
use super::{ArchiveError, Inputs, zip_name};

/// The archive's monthly-close hook.
#[derive(Debug, Clone, Copy, Default)]
pub struct ArchiveClose;

/// The hook's name: the outbox kind and key prefix (`archive:2026-10`).
pub const NAME: &str = "archive";

impl MonthlyClose for ArchiveClose {
    fn name(&self) -> &'static str {
        NAME
    }

    fn close_time(&self, cfg: &Config) -> CloseTime {
        cfg.payroll.send
    }

    fn letter(
        &self,
        ctx: &CloseContext<'_>,
        conn: &Connection,
        month: Month,
        sending: Sending,
        now: DateTime<Utc>,
    ) -> Result<Letter, CloseError> {
        let inputs = Inputs {
            conn,
            cfg: ctx.cfg,
            calendar: ctx.calendar,
        };
        Ok(letter(&inputs, month, sending, now)?)
    }
}

/// The email of one sending of `month`'s archive, its zip kept and
/// recorded.
pub fn letter(
    inputs: &Inputs<'_>,
    month: Month,
    sending: Sending,
    now: DateTime<Utc>,
) -> Result<Letter, ArchiveError> {
    let number = match sending {
        Sending::First => 0,
        Sending::Reissue(n) => n,
    };
    let (this, zip) = issue::issue(inputs, month, number, now)?;
    let previous = match number.checked_sub(1) {
        Some(n) => issue::issues(inputs.conn, month)?
            .into_iter()
            .find(|i| i.number == n),
        None => None,
    };
    let cfg = inputs.cfg;
    let to: Vec<Contact> = cfg.roster.assistants().map(Contact::from).collect();
    let recipient = to.first().cloned().ok_or(ArchiveError::NoRecipient)?;
    email::letter(
        &context(cfg, recipient, month, &this, previous.as_ref()),
        to,
        cfg.language,
        &zip,
    )
}

fn context(
    cfg: &Config,
    recipient: Contact,
    month: Month,
    this: &Issue,
    previous: Option<&Issue>,
) -> email::Context {
    let name = zip_name(month, this.number);
    email::Context {
        recipient,
        month: month.to_string(),
        reissue: (this.number > 0).then_some(this.number),
        previous: previous.map(|p| Previous {
            name: Path::new(&p.path)
                .file_name()
                .map_or_else(|| p.path.clone(), |n| n.to_string_lossy().into_owned()),
            manifest_sha256: p.manifest_sha256.clone(),
        }),
        fines: this.summary.fines.grouped().to_string(),
        waived: this.summary.waived.grouped().to_string(),
        summary: this.summary.clone(),
        manifest_sha256: this.manifest_sha256.clone(),
        zip_sha256: this.zip_sha256.clone(),
        size: email::size_text(u64::try_from(this.bytes).unwrap_or(0)),
        attached: this.attached,
        path: this.path.clone(),
        max_mb: cfg.archive.max_attachment_mb,
        verify: format!(
            "reportd archive verify {name} --expect {}",
            this.manifest_sha256
        ),
        zip_name: name,
    }
}
