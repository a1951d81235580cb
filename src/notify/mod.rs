//! Mail out: deciding which emails are owed (reminders, notices, digests),
//! rendering them, and delivering them through the outbox.

pub mod compose;
pub mod outbox;
pub mod plan;
pub mod schedule;
