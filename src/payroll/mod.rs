//! Payroll: closing the month for the assistant (商务助理). From the sales
//! she imports and the ledger reportd keeps, it gives each person's pay
//! under the handbook's rules (POLICY.md sections 3, 4 and "Payroll month")
//! and the activity fund's account, as `reportd payroll` and as an email
//! with an XLSX on the third working day of the next month.
//!
//! - [`sheet`]: reading CSV (UTF-8, GBK) and XLSX files into cells.
//! - [`sales`]: checking and storing a month's sales import.
//! - [`rules`]: the pay rules as data and the pay they give.
//! - [`fund`]: the activity fund's spending and balance.
//! - [`summary`]: the month's summary, issued once and never changed.
//! - [`xlsx`]: the summary as a workbook.
//! - [`close`]: the summary's email, a `MonthlyClose` hook of the planner.
//! - [`by_email`]: sales files sent by email (`业绩 2026-11`), answered by
//!   email.

pub mod by_email;
pub mod close;
pub mod fund;
pub mod rules;
pub mod sales;
pub mod sheet;
pub mod summary;
pub mod xlsx;

use chrono::{DateTime, Utc};

use crate::period::Month;

/// Why a payroll step failed.
#[derive(Debug, thiserror::Error)]
pub enum PayrollError {
    #[error("database error in payroll: {0}")]
    Db(#[from] rusqlite::Error),
    #[error(
        "a stored payroll summary cannot be read ({0}); was it written by a newer reportd? \
         Run this version's reportd or report a bug"
    )]
    Json(#[from] serde_json::Error),
    #[error(
        "the payroll summary of {month} was issued at {at} and a sent summary is never changed; \
         `reportd payroll --month {month} --send` sends it again as a re-issue"
    )]
    AlreadyIssued { month: Month, at: DateTime<Utc> },
}
