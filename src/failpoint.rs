//! Test-only crash points: `REPORTD_FAILPOINT=<name>` makes the process
//! abort the moment it reaches the point of that name, as a power cut or a
//! SIGKILL there would, so the fault suite (`tests/faults.rs`) can prove
//! that what is already committed, and only that, survives.
//!
//! The hooks are compiled in always and cost one cached environment lookup;
//! without the variable they do nothing. The names:
//!
//! - [`FETCH_BEFORE_COMMIT`]: messages downloaded, their transaction not
//!   yet committed (`mail::inbox::store_batch`, `mail::storer`, the
//!   Maildir source);
//! - [`STORED_BEFORE_INTAKE`]: fetched messages committed, none of them
//!   read by the intake yet (`sync::Engine::process`), as a first import
//!   still running looks to another process;
//! - [`LEDGER_BEFORE_OUTBOX`]: fines written into the judging transaction,
//!   the emails they owe not yet queued (`sync::Engine::judge_and_book`);
//! - [`SMTP_250_BEFORE_SENT`]: the server took an email, its `sent` mark
//!   not yet stored (`notify::outbox`).

use std::sync::OnceLock;

/// The environment variable naming the point to abort at.
pub const ENV: &str = "REPORTD_FAILPOINT";
pub const FETCH_BEFORE_COMMIT: &str = "fetch-before-commit";
pub const STORED_BEFORE_INTAKE: &str = "stored-before-intake";
pub const LEDGER_BEFORE_OUTBOX: &str = "ledger-before-outbox";
pub const SMTP_250_BEFORE_SENT: &str = "smtp-250-before-sent";

/// Aborts the process when `REPORTD_FAILPOINT` names `point`.
pub fn hit(point: &str) {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    let armed = ARMED.get_or_init(|| std::env::var(ENV).ok().filter(|v| !v.is_empty()));
    if armed.as_deref() == Some(point) {
        // stderr, not the log: the test reads it to know the point was reached.
        eprintln!("reportd: failpoint {point} reached, aborting");
        std::process::abort();
    }
}
