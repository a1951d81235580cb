//! reportd: watches a sales team's report mailbox, judges weekly and monthly
//! reports against their deadlines on the Chinese working-day calendar, and
//! keeps an append-only ledger of fines.

pub mod archive;
pub mod calendar;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod failpoint;
pub mod ledger;
pub mod logging;
pub mod mail;
pub mod malloc;
pub mod money;
pub mod names;
pub mod notify;
pub mod ops;
pub mod payroll;
pub mod period;
pub mod reports;
pub mod store;
pub mod sync;
#[cfg(test)]
mod test_team;
pub mod writer;
