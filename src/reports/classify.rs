//! One decoded message to one class: a report, a reply to a report, or
//! ignored with the reason. The single home of the keyword lists, the reply
//! prefixes and reading a period out of a subject.
//!
//! SKELETON: signatures are settled; bodies are being written.

use chrono::NaiveDate;

use crate::config::{Keywords, Roster};
use crate::mail::parse::Envelope;
use crate::period::{Kind, Period};

/// What a message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// A weekly or monthly report from someone who must report.
    Report {
        /// Lower-cased email of the sender.
        person: String,
        kind: Kind,
        /// The period named in the subject, if any.
        named_period: Option<Period>,
        /// Whether To or Cc holds the sender's direct supervisor; a report
        /// without it does not count (misaddressed).
        to_supervisor: bool,
    },
    /// A message from a report's sender's supervisor or a manager whose
    /// In-Reply-To/References name a known report.
    Reply {
        replier: String,
        /// Message-ID of the report it answers.
        report_message_id: String,
    },
    Ignored { reason: String },
}

/// Classifies one message.
///
/// `arrival_date` is the local date of arrival, used to complete a period
/// named without its year. `known_report` says whether a Message-ID is that
/// of a stored report; `known_message` whether it is any stored message (an
/// In-Reply-To to a known message marks a reply).
pub fn classify(
    env: &Envelope,
    arrival_date: NaiveDate,
    roster: &Roster,
    keywords: &Keywords,
    known_report: &dyn Fn(&str) -> bool,
    known_message: &dyn Fn(&str) -> bool,
) -> Class {
    let _ = (env, arrival_date, roster, keywords, known_report, known_message);
    todo!()
}

/// `Some(kind)` when the subject carries a weekly or monthly keyword.
pub fn report_kind(subject: &str, keywords: &Keywords) -> Option<Kind> {
    let _ = (subject, keywords);
    todo!()
}

/// Whether the subject starts with a reply or forward prefix (Re:, 回复:, ...).
pub fn has_reply_prefix(subject: &str, keywords: &Keywords) -> bool {
    let _ = (subject, keywords);
    todo!()
}

/// The period of `kind` named in the subject: `W48`, `第48周`, `2026-W48`,
/// `11.23-11.28`, `2026.11.23-2026.11.29`, `11月月报`, `2026年11月`,
/// `2026-11`. A period without a year takes the year that puts it nearest
/// to `arrival_date`.
pub fn period_in_subject(subject: &str, kind: Kind, arrival_date: NaiveDate) -> Option<Period> {
    let _ = (subject, kind, arrival_date);
    todo!()
}
