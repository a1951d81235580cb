//! reportd: watches a sales team's report mailbox, judges weekly and monthly
//! reports against their deadlines on the Chinese working-day calendar, and
//! keeps an append-only ledger of fines.

pub mod calendar;
pub mod config;
pub mod mail;
pub mod money;
pub mod period;
pub mod reports;
