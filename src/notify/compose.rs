//! The emails reportd sends: one typed context per kind, the tera templates
//! that turn a context into a subject, a plain-text part and an HTML part in
//! Chinese or English, and the MIME message built from them with lettre.
//!
//! # Contexts
//!
//! Each kind of email has a `#[derive(Serialize)]` struct ([`DeadlineReminder`],
//! [`LateNotice`], [`Misaddressed`], [`ReplyReminder`], [`Escalation`],
//! [`Digest`], [`ExcuseConfirmation`]) that holds display values whose form
//! does not depend on the language: names, addresses, periods (`2026-W48`,
//! `2026-11`), subjects, local times as `2026-11-28 22:00` (see
//! [`local_time`]). Money is a typed [`Fen`] and serialises as `50.00`;
//! statuses and kinds are typed and serialise as their config words
//! (`on_time`, `weekly`). Everything that reads differently per language
//! (status labels 按时/on time, 周报/weekly report, "2 h 05 min") is done by
//! the templates.
//!
//! # Templates
//!
//! `templates/` is compiled into the binary ([`Templates::new`]). For each
//! kind `K` and language `L` (`zh`, `en`) there are `L/K.subject.txt`,
//! `L/K.txt` and `L/K.html`; `L/labels.txt` holds the per-language macros,
//! `L/layout.{txt,html}` the footer, `base.html` the phone-friendly layout and
//! `macros.html` the inline styles. Templates named `*.html` are HTML-escaped
//! by tera; `*.txt` are not. In `.txt` templates, the `cell` filter marks a
//! table cell: every run of lines holding cells is aligned into columns by
//! display width (a CJK character counts two), so the plain-text twin of a
//! table lines up in a monospaced font.
//!
//! # Message
//!
//! [`compose_message`] (a lettre [`Message`], what
//! [`crate::notify::outbox::Outgoing::from_message`] takes) and [`compose`]
//! (its bytes) build `multipart/alternative` with `text/plain` then
//! `text/html`, both UTF-8 in base64 or quoted-printable, with the given
//! Message-ID, In-Reply-To, References and Date; lettre RFC 2047-encodes the
//! subject and display names.
//!
//! # Attachments
//!
//! An email may carry files ([`Attachment`]: the payroll summary's XLSX, the
//! compliance archive's zip). [`compose_message_with`] then wraps the
//! alternative in `multipart/mixed`, one base64 part per file (never 7bit:
//! see EMAIL-STACK-NOTES), `Content-Disposition: attachment` with the file
//! name (RFC 2231-encoded by lettre when it is not ASCII; ASCII names read
//! the same in every client).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lettre::message::Mailbox;
use serde::{Serialize, Serializer};
use tera::Tera;

use crate::config::Language;
use crate::money::Fen;
use crate::period::{Kind, Period};

mod backlog;
pub use backlog::{Backlog, Escalation, LIST_CAP, Listed, Rest, shorten};
mod digest;
pub use digest::{
    Audience, Counts, Digest, DigestGroup, DigestHeading, DigestRow, FineTally, GroupStats, Mark,
    ReplyState, StillOwed, Trend,
};
mod message;
pub use message::{Attachment, XLSX, ZIP, compose, compose_message, compose_message_with};

// ---------------------------------------------------------------------------
// Errors.

/// Why an email could not be rendered or built.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("no email kind `{0}`: use one of {kinds}", kinds = KINDS.join(", "))]
    UnknownKind(String),
    #[error(
        "template {name} failed: {detail}; fix the template in templates/ (and rebuild) \
         or give the context the field it names"
    )]
    Template { name: String, detail: String },
    #[error("the templates in the binary do not load: {0}; fix the template named and rebuild")]
    Load(String),
    #[error("the context of a {kind} email is not a struct with named fields: {detail}")]
    Context { kind: String, detail: String },
    #[error("the {lang} {kind} subject template gave an empty subject; give it some text")]
    EmptySubject { kind: String, lang: Language },
    #[error(
        "`{id}` is not a usable {header}: give it without angle brackets, ASCII without \
         spaces{needs_at}, like reportd.1a2b3c@example.com",
        needs_at = if *.header == "Message-ID" { " and with an @" } else { "" }
    )]
    MessageId { header: &'static str, id: String },
    #[error("the email has no To recipient: give at least one")]
    NoRecipient,
    #[error("`{email}` is not an email address ({reason}); check the config")]
    Address { email: String, reason: String },
    #[error("lettre refused to build the message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error(
        "attachment `{filename}` cannot be sent: {reason}; give a file name without control \
         characters or slashes and a MIME type like application/zip"
    )]
    Attachment { filename: String, reason: String },
}

// ---------------------------------------------------------------------------
// Contexts.

/// A person named in an email. [`Contact::new`] falls back to the address
/// when the name is blank, so templates can always show `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contact {
    pub name: String,
    pub email: String,
}

impl Contact {
    pub fn new(name: impl Into<String>, email: impl Into<String>) -> Contact {
        let name = name.into();
        let email = email.into();
        let name = if name.trim().is_empty() {
            email.clone()
        } else {
            name.trim().to_string()
        };
        Contact { name, email }
    }

    /// The lettre mailbox `name <email>` for To, Cc or From.
    pub fn mailbox(&self) -> Result<Mailbox, ComposeError> {
        let address = self
            .email
            .parse::<lettre::Address>()
            .map_err(|e| ComposeError::Address {
                email: self.email.clone(),
                reason: e.to_string(),
            })?;
        let name = (self.name != self.email).then(|| self.name.clone());
        Ok(Mailbox::new(name, address))
    }
}

impl From<&crate::config::Person> for Contact {
    fn from(p: &crate::config::Person) -> Contact {
        Contact::new(p.name.clone(), p.email.clone())
    }
}

/// A local time as the emails show it: `2026-11-28 22:00`.
pub fn local_time(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// The subject a supervisor or manager uses to file a valid reason by email,
/// as the late notice shows it, the period as people say it:
/// `请假/excuse 第48周 zhangwei@example.com`, `excuse November report …`.
/// The command reader reads every such form back.
pub fn excuse_subject(period: Period, person_email: &str, lang: Language) -> String {
    let said = crate::names::read::command_form(period, lang);
    match lang {
        Language::Zh => format!("请假/excuse {said} {person_email}"),
        Language::En => format!("excuse {said} {person_email}"),
    }
}

/// Deadline reminder to a rep or clerk whose report is still pending.
#[derive(Debug, Clone, Serialize)]
pub struct DeadlineReminder {
    pub person: Contact,
    /// The direct supervisor: where the report goes (To).
    pub supervisor: Contact,
    /// Who is CC'd for filing; shown when known.
    pub assistant: Option<Contact>,
    #[serde(serialize_with = "ser_kind")]
    pub kind: Kind,
    pub period: String,
    /// Local time the report must arrive before, e.g. `2026-11-28 22:00`.
    pub due: String,
    /// Said after `due` when the deadline was judged on a provisional
    /// calendar (`（暂定：2027年放假安排尚未公布）`, see
    /// [`crate::names::provisional`]).
    pub provisional: Option<String>,
    #[serde(serialize_with = "ser_fen")]
    pub fine: Fen,
}

/// Late notice to a rep or clerk whose deadline passed without a report;
/// CC the direct supervisor.
#[derive(Debug, Clone, Serialize)]
pub struct LateNotice {
    pub person: Contact,
    pub supervisor: Contact,
    pub assistant: Option<Contact>,
    #[serde(serialize_with = "ser_kind")]
    pub kind: Kind,
    pub period: String,
    pub due: String,
    /// Said after `due` when the deadline was judged on a provisional
    /// calendar (`（暂定：2027年放假安排尚未公布）`, see
    /// [`crate::names::provisional`]).
    pub provisional: Option<String>,
    #[serde(serialize_with = "ser_fen")]
    pub fine: Fen,
    /// The part of the fine that goes to the activity fund.
    #[serde(serialize_with = "ser_fen")]
    pub fund_share: Fen,
    /// The payroll month the fine is deducted in (`11月`).
    pub payroll_month: String,
    /// See [`excuse_subject`].
    pub excuse_subject: String,
    /// An answer files a reason only when its first line starts with one
    /// of these (`[notify] waiver_words`); never empty in a notice.
    pub waiver_words: Vec<String>,
    /// The one the example answer starts with, in the notice's language
    /// (see [`waiver_word_for`]).
    pub waiver_example: String,
}

/// The waiver word an example answer in `lang` starts with: in English the
/// first one written in Latin letters (`excuse`), in Chinese the first one
/// in Chinese; the first of all when none is.
pub fn waiver_word_for(words: &[String], lang: Language) -> String {
    let latin = |w: &&String| w.is_ascii();
    let found = match lang {
        Language::En => words.iter().find(latin),
        Language::Zh => words.iter().find(|w| !latin(w)),
    };
    found.or(words.first()).cloned().unwrap_or_default()
}

/// Fine notice to a rep or clerk whose report arrived after the deadline;
/// CC the direct supervisor. (A deadline that passes with nothing is
/// announced by the [`LateNotice`], which names the fine too.)
#[derive(Debug, Clone, Serialize)]
pub struct FineNotice {
    pub person: Contact,
    pub supervisor: Contact,
    #[serde(serialize_with = "ser_kind")]
    pub kind: Kind,
    /// The period as people name it (`第46周（11月9日–15日）`).
    pub period: String,
    pub due: String,
    /// Said after `due` when the deadline was judged on a provisional
    /// calendar (`（暂定：2027年放假安排尚未公布）`, see
    /// [`crate::names::provisional`]).
    pub provisional: Option<String>,
    /// When the report arrived.
    pub received: String,
    /// How long after the deadline (`3小时`).
    pub late_by: String,
    #[serde(serialize_with = "ser_fen")]
    pub fine: Fen,
    #[serde(serialize_with = "ser_fen")]
    pub fund_share: Fen,
    /// The payroll month the fine is deducted in (`11月`).
    pub payroll_month: String,
    pub report_subject: String,
    /// The late notice already told the rep of this fine when the deadline
    /// passed: this email confirms that one fine, it books no second.
    pub already_announced: bool,
}

/// A report that did not reach the direct supervisor (neither To nor Cc).
#[derive(Debug, Clone, Serialize)]
pub struct Misaddressed {
    pub person: Contact,
    /// Whom to send it to.
    pub supervisor: Contact,
    pub assistant: Option<Contact>,
    #[serde(serialize_with = "ser_kind")]
    pub kind: Kind,
    pub period: String,
    pub due: String,
    /// Said after `due` when the deadline was judged on a provisional
    /// calendar (`（暂定：2027年放假安排尚未公布）`, see
    /// [`crate::names::provisional`]).
    pub provisional: Option<String>,
    /// Whether `due` is already past when the notice is sent.
    pub deadline_passed: bool,
    pub report_subject: String,
    /// When the misaddressed report arrived.
    pub received: String,
    /// Where it went instead (its To and Cc).
    pub sent_to: Vec<Contact>,
    /// The fine booked because the deadline passed without a report that
    /// counts; this notice replaces the late notice, so it names it (and
    /// then goes to the supervisor too).
    pub fine: Option<BookedFine>,
}

/// A fine as a notice announces it: the amount, the activity fund's share
/// and the payroll month it is deducted in.
#[derive(Debug, Clone, Serialize)]
pub struct BookedFine {
    #[serde(serialize_with = "ser_fen")]
    pub amount: Fen,
    #[serde(serialize_with = "ser_fen")]
    pub fund_share: Fen,
    /// The payroll month it is deducted in (`11月`).
    pub payroll_month: String,
}

/// To an assistant, once a year: no holiday notice for `year` counts yet,
/// so the deadlines listed are judged on the statutory holidays computed
/// from the lunar calendar (provisional). Says how to give reportd the
/// notice: a calendar file, or a newer tyme4rs.
#[derive(Debug, Clone, Serialize)]
pub struct CalendarNotice {
    pub assistant: Contact,
    pub year: i32,
    /// The deadlines judged provisionally, soonest first.
    pub deadlines: Vec<ProvisionalDeadline>,
    /// The computed days off reportd uses meanwhile (`1月1日（周五）元旦`).
    pub days_off: Vec<String>,
    /// Where to write the notice (`config/calendar/cn-2027.toml`).
    pub file: String,
    /// A calendar file for `year`, a holiday range and a make-up day as
    /// examples (see [`crate::calendar::example_file`]).
    pub example: String,
    /// The config file whose `calendar` list must name the file.
    pub config: String,
    /// That list with the file added (`calendar = ["…", "…"]`).
    pub calendar_line: String,
}

/// One deadline of a [`CalendarNotice`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProvisionalDeadline {
    /// The report, as people name it (`12月月报`).
    pub report: String,
    pub due: String,
}

/// A supervisor's reply reminder of the day: every report waiting for
/// their reply, oldest first, each with a link that answers it in its
/// thread. At most one a working day.
#[derive(Debug, Clone, Serialize)]
pub struct ReplyReminder {
    pub supervisor: Contact,
    /// Kept in Cc of each answer (the reply links add them).
    pub assistant: Option<Contact>,
    pub reply_within_hours: u32,
    /// Every report waiting for their reply since tracking began.
    pub total: usize,
    /// How many of them are past the reply time.
    pub overdue: usize,
    /// Some report has had its last reminder: the manager hears next.
    pub final_reminder: bool,
    /// Some report is past its last reminder: the manager was told.
    pub escalated: bool,
    /// Who is told when the reminders go unanswered.
    pub manager: Option<Contact>,
    /// The newest [`LIST_CAP`] of them, oldest first.
    pub reports: Vec<PendingReply>,
    pub rest: Option<Rest>,
}

/// One report still waiting for its supervisor's reply (escalations and
/// digests).
#[derive(Debug, Clone, Serialize)]
pub struct PendingReply {
    pub person: Contact,
    #[serde(serialize_with = "ser_kind")]
    pub kind: Kind,
    pub period: String,
    pub report_subject: String,
    pub received: String,
    /// The day it was received (`8月3日（周一）`).
    pub received_day: String,
    pub hours_waiting: i64,
    /// How long it has waited, as a phrase of its own (`已等待6天`,
    /// `刚收到`).
    pub waiting: String,
    /// Past `reply_within_hours`.
    pub overdue: bool,
    /// Reply reminders already sent for it.
    pub reminders_sent: u32,
    /// The report's Message-ID (without brackets), for the reply link's
    /// In-Reply-To.
    pub message_id: Option<String>,
    /// The reply link's subject, on one line (see [`reply_subject`]).
    pub reply_subject: String,
}

impl PendingReply {
    /// What a list says of it when it is the earliest of the rows not
    /// shown: the day it was received.
    pub fn earliest(&self) -> String {
        self.received_day.clone()
    }
}

/// `Re: <subject>` on one line, for a link that answers a report.
pub fn reply_subject(report_subject: &str) -> String {
    format!("Re: {}", one_line(report_subject))
}

/// Why a reason filed by email was not recorded (the commands module's
/// own verdict, shown as is).
pub use crate::reports::commands::Why as RefusalReason;

/// What became of a reason filed by email. Serialised with `result` =
/// `accepted` | `refused`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ExcuseOutcome {
    Accepted {
        /// The fine reversed (filed after the deadline); `None` when filed
        /// in time, so no fine is booked.
        #[serde(serialize_with = "ser_fen_opt")]
        waived: Option<Fen>,
        /// The payroll month that pays the waived fine back (`12月`), when
        /// the fine's own payroll summary has gone out already.
        refund_month: Option<String>,
        /// Filed before the period's deadline, so no fine is owed. Neither
        /// this nor a reversal: nothing was booked to reverse (the report
        /// came in time, or the period is not judged).
        in_advance: bool,
    },
    Refused {
        why: RefusalReason,
    },
}

/// Confirmation (or refusal) of a valid reason filed by email; to the filer,
/// CC the rep.
#[derive(Debug, Clone, Serialize)]
pub struct ExcuseConfirmation {
    /// Who sent the reason.
    pub filer: Contact,
    /// Whose period it is, when it could be read.
    pub person: Option<Contact>,
    #[serde(serialize_with = "ser_kind_opt")]
    pub kind: Option<Kind>,
    pub period: Option<String>,
    /// The reason as given.
    pub reason: String,
    /// The subject of the filer's email; empty when filed with
    /// `reportd excuse`.
    pub request_subject: String,
    /// Filed by email (else with `reportd excuse`).
    pub by_email: bool,
    /// When the filer's email arrived.
    pub received: String,
    pub outcome: ExcuseOutcome,
    /// A subject that works, shown on refusal (see [`excuse_subject`]).
    pub example_subject: String,
}

fn ser_kind<S: Serializer>(kind: &Kind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.as_str())
}

fn ser_kind_opt<S: Serializer>(kind: &Option<Kind>, s: S) -> Result<S::Ok, S::Error> {
    match kind {
        Some(k) => s.serialize_some(k.as_str()),
        None => s.serialize_none(),
    }
}

/// An amount in an email, as people read it (`8,000.00`).
fn ser_fen<S: Serializer>(fen: &Fen, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&fen.grouped())
}

fn ser_fen_opt<S: Serializer>(fen: &Option<Fen>, s: S) -> Result<S::Ok, S::Error> {
    match fen {
        Some(f) => s.serialize_some(&f.grouped().to_string()),
        None => s.serialize_none(),
    }
}

/// A context and the template kind it renders with.
pub trait Email: Serialize {
    const KIND: &'static str;
}

impl Email for DeadlineReminder {
    const KIND: &'static str = "deadline_reminder";
}
impl Email for LateNotice {
    const KIND: &'static str = "late_notice";
}
impl Email for FineNotice {
    const KIND: &'static str = "fine_notice";
}
impl Email for Misaddressed {
    const KIND: &'static str = "misaddressed";
}
impl Email for ReplyReminder {
    const KIND: &'static str = "reply_reminder";
}
impl Email for Escalation {
    const KIND: &'static str = "escalation";
}
impl Email for Digest {
    const KIND: &'static str = "digest";
}
impl Email for ExcuseConfirmation {
    const KIND: &'static str = "excuse_confirmation";
}
impl Email for CalendarNotice {
    const KIND: &'static str = "calendar_notice";
}

/// Every email kind, as [`Templates::render`] takes it.
pub const KINDS: [&str; 11] = [
    "deadline_reminder",
    "late_notice",
    "fine_notice",
    "misaddressed",
    "reply_reminder",
    "escalation",
    "digest",
    "excuse_confirmation",
    "calendar_notice",
    "payroll",
    "sales_import",
];

// ---------------------------------------------------------------------------
// Templates.

/// `(name, text)` of every template file, compiled into the binary.
macro_rules! embed {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/", $name)))),*]
    };
}

/// Every file under `templates/`; a test checks that none is left out.
const TEMPLATE_FILES: &[(&str, &str)] = embed![
    "base.html",
    "macros.html",
    "zh/labels.txt",
    "zh/layout.html",
    "zh/layout.txt",
    "zh/deadline_reminder.subject.txt",
    "zh/deadline_reminder.txt",
    "zh/deadline_reminder.html",
    "zh/late_notice.subject.txt",
    "zh/late_notice.txt",
    "zh/late_notice.html",
    "zh/fine_notice.subject.txt",
    "zh/fine_notice.txt",
    "zh/fine_notice.html",
    "zh/misaddressed.subject.txt",
    "zh/misaddressed.txt",
    "zh/misaddressed.html",
    "zh/reply_reminder.subject.txt",
    "zh/reply_reminder.txt",
    "zh/reply_reminder.html",
    "zh/escalation.subject.txt",
    "zh/escalation.txt",
    "zh/escalation.html",
    "zh/digest.subject.txt",
    "zh/digest.txt",
    "zh/digest.html",
    "zh/excuse_confirmation.subject.txt",
    "zh/excuse_confirmation.txt",
    "zh/excuse_confirmation.html",
    "zh/calendar_notice.subject.txt",
    "zh/calendar_notice.txt",
    "zh/calendar_notice.html",
    "zh/payroll.subject.txt",
    "zh/payroll.txt",
    "zh/payroll.html",
    "zh/sales_import.subject.txt",
    "zh/sales_import.txt",
    "zh/sales_import.html",
    "en/labels.txt",
    "en/layout.html",
    "en/layout.txt",
    "en/deadline_reminder.subject.txt",
    "en/deadline_reminder.txt",
    "en/deadline_reminder.html",
    "en/late_notice.subject.txt",
    "en/late_notice.txt",
    "en/late_notice.html",
    "en/fine_notice.subject.txt",
    "en/fine_notice.txt",
    "en/fine_notice.html",
    "en/misaddressed.subject.txt",
    "en/misaddressed.txt",
    "en/misaddressed.html",
    "en/reply_reminder.subject.txt",
    "en/reply_reminder.txt",
    "en/reply_reminder.html",
    "en/escalation.subject.txt",
    "en/escalation.txt",
    "en/escalation.html",
    "en/digest.subject.txt",
    "en/digest.txt",
    "en/digest.html",
    "en/excuse_confirmation.subject.txt",
    "en/excuse_confirmation.txt",
    "en/excuse_confirmation.html",
    "en/calendar_notice.subject.txt",
    "en/calendar_notice.txt",
    "en/calendar_notice.html",
    "en/payroll.subject.txt",
    "en/payroll.txt",
    "en/payroll.html",
    "en/sales_import.subject.txt",
    "en/sales_import.txt",
    "en/sales_import.html",
];

/// Marks the end of a table cell in rendered plain text (the `cell` filter);
/// removed when the table is aligned.
const CELL: char = '\u{1f}';

/// A rendered email, ready for [`compose`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One line.
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The compiled templates. Cheap to share (`Send + Sync`); load once.
pub struct Templates {
    /// One set per language and kind (its own three files and the shared
    /// ones they extend or import), compiled when its first email is
    /// rendered; the outcome (a compile error too) is kept. A pass that
    /// sends a late notice compiles 8 templates, not all 80.
    sets: [[OnceLock<Result<Tera, String>>; KINDS.len()]; 2],
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("templates", &TEMPLATE_FILES.len())
            .finish()
    }
}

impl Templates {
    /// Compiles the templates built into the binary, every language and
    /// kind, so that a broken one fails here.
    pub fn new() -> Result<Templates, ComposeError> {
        let templates = Templates::lazy();
        for lang in [Language::Zh, Language::En] {
            for kind in KINDS {
                templates.tera(lang, kind)?;
            }
        }
        Ok(templates)
    }

    /// The templates built into the binary, each language's kind compiled
    /// when its first email is rendered: most passes of the daemon and
    /// every `status` render none, and compiling all of them is a tenth
    /// of such a pass.
    pub fn lazy() -> Templates {
        Templates {
            sets: std::array::from_fn(|_| std::array::from_fn(|_| OnceLock::new())),
        }
    }

    /// The (language, kind) sets compiled so far.
    #[cfg(test)]
    pub(crate) fn compiled(&self) -> Vec<(Language, &'static str)> {
        [Language::Zh, Language::En]
            .into_iter()
            .zip(&self.sets)
            .flat_map(|(lang, sets)| {
                KINDS
                    .iter()
                    .zip(sets)
                    .filter(|(_, s)| s.get().is_some())
                    .map(move |(k, _)| (lang, *k))
            })
            .collect()
    }

    fn tera(&self, lang: Language, kind: &str) -> Result<&Tera, ComposeError> {
        let index = KINDS
            .iter()
            .position(|k| *k == kind)
            .ok_or_else(|| ComposeError::UnknownKind(kind.to_string()))?;
        let by_lang = match lang {
            Language::Zh => &self.sets[0],
            Language::En => &self.sets[1],
        };
        by_lang[index]
            .get_or_init(|| compile(lang, kind))
            .as_ref()
            .map_err(|e| ComposeError::Load(e.clone()))
    }

    /// Renders `ctx` as the email of `kind` (one of [`KINDS`]) in `lang`.
    pub fn render(
        &self,
        kind: &str,
        lang: Language,
        ctx: &impl Serialize,
    ) -> Result<Rendered, ComposeError> {
        // An unknown kind fails here, before its context is built.
        let tera = self.tera(lang, kind)?;
        let context_error = |detail: String| ComposeError::Context {
            kind: kind.to_string(),
            detail,
        };
        let mut value = serde_json::to_value(ctx).map_err(|e| context_error(e.to_string()))?;
        scrub(&mut value);
        let mut context =
            tera::Context::from_value(value).map_err(|e| context_error(error_chain(&e)))?;
        context.insert("lang", lang.as_str());
        let dir = lang.as_str();

        let subject = render_one(tera, &format!("{dir}/{kind}.subject.txt"), &context)?;
        let subject = one_line(&subject);
        if subject.is_empty() {
            return Err(ComposeError::EmptySubject {
                kind: kind.to_string(),
                lang,
            });
        }
        context.insert("subject", &subject);
        let text = tidy_text(&render_one(tera, &format!("{dir}/{kind}.txt"), &context)?);
        let html = render_one(tera, &format!("{dir}/{kind}.html"), &context)?;
        Ok(Rendered {
            subject,
            text,
            html: html.trim().to_string() + "\n",
        })
    }

    /// [`Templates::render`] with the kind that belongs to the context.
    pub fn render_email<E: Email>(
        &self,
        lang: Language,
        ctx: &E,
    ) -> Result<Rendered, ComposeError> {
        self.render(E::KIND, lang, ctx)
    }
}

fn render_one(tera: &Tera, name: &str, context: &tera::Context) -> Result<String, ComposeError> {
    tera.render(name, context)
        .map_err(|e| ComposeError::Template {
            name: name.to_string(),
            detail: error_chain(&e),
        })
}

/// The set of templates one email of `kind` in `lang` needs: the shared
/// base and macros, the language's labels and layouts, and the kind's own.
fn compile(lang: Language, kind: &str) -> Result<Tera, String> {
    let dir = lang.as_str();
    let shared = ["base.html", "macros.html"];
    let of_lang = ["labels.txt", "layout.html", "layout.txt"].map(|f| format!("{dir}/{f}"));
    let own = ["subject.txt", "txt", "html"].map(|ext| format!("{dir}/{kind}.{ext}"));
    let wanted =
        |name: &str| shared.contains(&name) || of_lang.iter().chain(&own).any(|n| n == name);
    let mut tera = Tera::default();
    tera.autoescape_on(vec![".html"]);
    tera.set_escape_fn(escape_html);
    tera.register_filter("cell", cell_filter);
    tera.add_raw_templates(TEMPLATE_FILES.iter().copied().filter(|(n, _)| wanted(n)))
        .map_err(|e| error_chain(&e))?;
    Ok(tera)
}

/// HTML-escapes `& < > " '` (enough in text and in quoted attributes; tera's
/// own also turns `/` into `&#x2F;`, which only makes addresses and subjects
/// harder to read in the source).
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// A tera error with its causes (its own message is often just "Failed to
/// render").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let _ = write!(out, ": {s}");
        source = s.source();
    }
    out
}

/// Control characters in context strings (outside text: subjects, names,
/// reasons) become spaces, new lines excepted, so none can forge a table
/// cell mark or upset a line.
fn scrub(value: &mut serde_json::Value) {
    let bad = |c: char| c.is_control() && c != '\n';
    match value {
        serde_json::Value::String(s) if s.chars().any(bad) => {
            *s = s.chars().map(|c| if bad(c) { ' ' } else { c }).collect();
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
        serde_json::Value::Object(map) => map.values_mut().for_each(scrub),
        _ => {}
    }
}

/// `{{ value | cell }}`: the value as one line, then the cell mark.
fn cell_filter(value: &tera::Value, _: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    let text = match value {
        tera::Value::Null => String::new(),
        tera::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    out.push(CELL);
    Ok(tera::Value::String(out))
}

/// All white space runs (new lines included) to one space; trimmed.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Aligns tables, trims trailing spaces, keeps at most one blank line in a
/// row, and ends with one new line.
fn tidy_text(s: &str) -> String {
    let aligned = align_tables(s);
    let mut out = String::with_capacity(aligned.len());
    let mut blank_run = 0;
    for line in aligned.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// Lines holding [`CELL`] marks are table rows; each run of them is aligned
/// into columns two spaces apart by display width. A row whose every cell is
/// `-` becomes a rule of dashes under each column.
fn align_tables(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].contains(CELL) {
            out.push_str(lines[i]);
            out.push('\n');
            i += 1;
            continue;
        }
        let start = i;
        while i < lines.len() && lines[i].contains(CELL) {
            i += 1;
        }
        let rows: Vec<Vec<&str>> = lines[start..i]
            .iter()
            .map(|l| {
                let mut cells: Vec<&str> = l.split(CELL).collect();
                if cells.len() > 1 && cells.last().is_some_and(|c| c.trim().is_empty()) {
                    cells.pop();
                }
                cells
            })
            .collect();
        let is_rule = |row: &[&str]| row.iter().all(|c| c.trim() == "-");
        let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0usize; columns];
        for row in rows.iter().filter(|r| !is_rule(r)) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(display_width(cell));
            }
        }
        for row in &rows {
            let mut line = String::new();
            for (n, cell) in row.iter().enumerate() {
                if n > 0 {
                    line.push_str("  ");
                }
                if is_rule(row) {
                    line.push_str(&"-".repeat(widths[n].max(1)));
                } else {
                    line.push_str(cell);
                    if n + 1 < row.len() {
                        line.push_str(&" ".repeat(widths[n].saturating_sub(display_width(cell))));
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// Columns `s` takes in a monospaced font: East Asian wide and full-width
/// characters take two, combining marks and zero-width characters none.
pub fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

fn char_width(c: char) -> usize {
    match u32::from(c) {
        0x0300..=0x036F | 0x200B..=0x200F | 0xFE00..=0xFE0F => 0,
        c if c < 0x20 || (0x7F..0xA0).contains(&c) => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

// ---------------------------------------------------------------------------
// Tests.

#[cfg(test)]
mod tests {
    use super::*;

    const XSS: &str = "<script>alert(1)</script>";

    fn t() -> Templates {
        Templates::new().unwrap_or_else(|e| panic!("{e}"))
    }

    const W48: crate::period::Period = crate::period::Period::Week {
        year: 2026,
        week: 48,
    };

    #[test]
    fn the_excuse_subject_a_notice_shows_is_one_the_command_reader_accepts() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        let november = crate::period::Period::Month {
            year: 2026,
            month: 11,
        };
        for p in [W48, november] {
            for lang in [Language::Zh, Language::En] {
                let shown = excuse_subject(p, "zhangwei@example.com", lang);
                assert!(!shown.contains("2026"), "no machine notation: {shown}");
                assert_eq!(
                    crate::reports::commands::excuse_subject(&shown, today),
                    Some((p, "zhangwei@example.com".to_string())),
                    "{shown}"
                );
            }
        }
        assert_eq!(
            excuse_subject(november, "lina@example.com", Language::Zh),
            "请假/excuse 11月月报 lina@example.com"
        );
        assert_eq!(
            excuse_subject(W48, "lina@example.com", Language::En),
            "excuse week 48 lina@example.com"
        );
    }

    fn zhang() -> Contact {
        Contact::new("张伟", "zhangwei@example.com")
    }
    fn wang() -> Contact {
        Contact::new("王芳", "wangfang@example.com")
    }
    fn li() -> Contact {
        Contact::new("李强", "liqiang@example.com")
    }
    fn lin() -> Contact {
        Contact::new("林晓", "assistant@example.com")
    }

    fn deadline_reminder(person: Contact) -> DeadlineReminder {
        DeadlineReminder {
            person,
            supervisor: wang(),
            assistant: Some(lin()),
            kind: Kind::Weekly,
            period: "2026-W48".into(),
            due: "2026-11-28 22:00".into(),
            provisional: None,
            fine: Fen::from_yuan(50),
        }
    }

    fn late_notice(person: Contact) -> LateNotice {
        LateNotice {
            excuse_subject: excuse_subject(W48, &person.email, Language::Zh),
            waiver_words: crate::config::NotifyConfig::default().waiver_words,
            waiver_example: "免罚".into(),
            person,
            supervisor: wang(),
            assistant: Some(lin()),
            kind: Kind::Weekly,
            period: "2026-W48".into(),
            due: "2026-11-28 22:00".into(),
            provisional: None,
            fine: Fen::from_yuan(50),
            fund_share: Fen::from_yuan(25),
            payroll_month: "11月".into(),
        }
    }

    fn fine_notice(person: Contact) -> FineNotice {
        FineNotice {
            person,
            supervisor: wang(),
            kind: Kind::Weekly,
            period: "第48周（11月23日–29日）".into(),
            due: "11月28日（周六）22:00".into(),
            provisional: None,
            received: "11月29日（周日）09:30".into(),
            late_by: "11小时".into(),
            fine: Fen::from_yuan(50),
            fund_share: Fen::from_yuan(25),
            payroll_month: "11月".into(),
            report_subject: "第48周周报".into(),
            already_announced: false,
        }
    }

    #[test]
    fn a_fine_notice_after_the_late_notice_says_it_is_the_same_fine_not_a_second() {
        for (lang, same, once) in [
            (Language::Zh, "不会再罚第二次", "每期只罚一次"),
            (Language::En, "not a second one", "A period is fined once"),
        ] {
            let mut fine = fine_notice(zhang());
            let first = t().render_email(lang, &fine).expect("fine");
            assert!(first.text.contains(once) && !first.text.contains(same));
            fine.already_announced = true;
            let after = t().render_email(lang, &fine).expect("fine");
            assert!(after.text.contains(same), "{}", after.text);
            assert!(after.html.contains(same), "{}", after.html);
        }
    }

    #[test]
    fn the_misaddressed_notice_asks_for_a_new_email_since_a_forward_does_not_count() {
        for (lang, says) in [
            (Language::Zh, "转发的邮件不算报告"),
            (Language::En, "a forward does not count as a report"),
        ] {
            let r = t()
                .render_email(lang, &misaddressed(zhang()))
                .expect("misaddressed");
            assert!(r.text.contains(says) && r.html.contains(says), "{}", r.text);
        }
    }

    fn misaddressed(person: Contact) -> Misaddressed {
        Misaddressed {
            person,
            supervisor: wang(),
            assistant: Some(lin()),
            kind: Kind::Monthly,
            period: "2026-11".into(),
            due: "2026-12-02 00:00".into(),
            provisional: None,
            deadline_passed: false,
            report_subject: "11月月报".into(),
            received: "2026-12-01 17:40".into(),
            sent_to: vec![li(), lin()],
            fine: None,
        }
    }

    fn calendar_notice(assistant: Contact) -> CalendarNotice {
        CalendarNotice {
            assistant,
            year: 2027,
            deadlines: vec![ProvisionalDeadline {
                report: "12月月报".into(),
                due: "1月4日（周一）当天".into(),
            }],
            days_off: vec!["1月1日（周五）元旦".into()],
            file: "config/calendar/cn-2027.toml".into(),
            example: crate::calendar::example_file(2027),
            config: "/etc/reportd/reportd.toml".into(),
            calendar_line: r#"calendar = ["config/calendar/cn-2027.toml"]"#.into(),
        }
    }

    fn reply_reminder(person: Contact) -> ReplyReminder {
        ReplyReminder {
            supervisor: wang(),
            assistant: Some(lin()),
            reply_within_hours: 48,
            total: 1,
            overdue: 1,
            final_reminder: true,
            escalated: false,
            manager: Some(li()),
            reports: vec![pending(person)],
            rest: None,
        }
    }

    fn pending(person: Contact) -> PendingReply {
        PendingReply {
            person,
            kind: Kind::Weekly,
            period: "2026-W48".into(),
            report_subject: "第48周周报".into(),
            received: "2026-11-28 20:15".into(),
            received_day: "11月28日（周六）".into(),
            hours_waiting: 74,
            waiting: "已等待3天".into(),
            overdue: true,
            reminders_sent: 2,
            message_id: Some("w48@zhang".into()),
            reply_subject: reply_subject("第48周周报"),
        }
    }

    fn escalation(person: Contact) -> Escalation {
        Escalation::new(
            li(),
            48,
            vec![Backlog::new(wang(), vec![pending(person)], 1)],
        )
    }

    fn digest(person: Contact, audience: Audience) -> Digest {
        digest::sample::digest(person, audience, Language::Zh)
    }

    fn excuse(person: Contact, outcome: ExcuseOutcome) -> ExcuseConfirmation {
        ExcuseConfirmation {
            filer: wang(),
            example_subject: excuse_subject(W48, &person.email, Language::Zh),
            person: Some(person),
            kind: Some(Kind::Weekly),
            period: Some("2026-W48".into()),
            reason: "出差（上海客户拜访）".into(),
            request_subject: "请假/excuse 2026-W48 zhangwei@example.com".into(),
            by_email: true,
            received: "2026-11-29 10:05".into(),
            outcome,
        }
    }

    /// Every kind rendered for `person`, with the figures each must show.
    fn all_kinds(person: Contact) -> Vec<(&'static str, Rendered, Rendered, Vec<&'static str>)> {
        let t = t();
        let both = |kind: &'static str, ctx: &dyn erased::Ctx, figures: Vec<&'static str>| {
            let zh = ctx
                .render(&t, Language::Zh)
                .unwrap_or_else(|e| panic!("{e}"));
            let en = ctx
                .render(&t, Language::En)
                .unwrap_or_else(|e| panic!("{e}"));
            (kind, zh, en, figures)
        };
        let accepted = ExcuseOutcome::Accepted {
            waived: Some(Fen::from_yuan(50)),
            refund_month: None,
            in_advance: false,
        };
        let refused = ExcuseOutcome::Refused {
            why: RefusalReason::NotAuthorised,
        };
        vec![
            both(
                "deadline_reminder",
                &deadline_reminder(person.clone()),
                vec!["50.00", "2026-W48", "2026-11-28 22:00", "王芳"],
            ),
            both(
                "late_notice",
                &late_notice(person.clone()),
                vec![
                    "50.00",
                    "25.00",
                    "2026-W48",
                    "王芳",
                    "请假/excuse 第48周 zhangwei@example.com",
                ],
            ),
            both(
                "fine_notice",
                &fine_notice(person.clone()),
                vec!["50.00", "25.00", "11小时", "11月", "第48周"],
            ),
            both(
                "misaddressed",
                &misaddressed(person.clone()),
                vec![
                    "2026-11",
                    "王芳",
                    "wangfang@example.com",
                    "李强",
                    "11月月报",
                ],
            ),
            both(
                "reply_reminder",
                &reply_reminder(person.clone()),
                vec!["2026-W48", "王芳", "第48周周报", "3天", "48", "李强"],
            ),
            both(
                "escalation",
                &escalation(person.clone()),
                vec!["2026-W48", "王芳", "李强", "第48周周报", "3天"],
            ),
            both(
                "digest",
                &digest(person.clone(), Audience::Supervisor),
                vec!["50.00", "第48周", "王芳", "Alexander Montgomery", "赵敏"],
            ),
            both(
                "digest",
                &digest(person.clone(), Audience::Manager),
                vec!["50.00", "第48周", "商务一组", "88%", "75%", "5.3", "175.00"],
            ),
            both(
                "excuse_confirmation",
                &excuse(person.clone(), accepted),
                vec!["50.00", "2026-W48", "王芳", "出差（上海客户拜访）"],
            ),
            both(
                "excuse_confirmation",
                &excuse(person.clone(), refused),
                vec![
                    "2026-W48",
                    "王芳",
                    "请假/excuse 第48周 zhangwei@example.com",
                ],
            ),
            both(
                "calendar_notice",
                &calendar_notice(person.clone()),
                vec![
                    "2027",
                    "config/calendar/cn-2027.toml",
                    "12月月报",
                    "1月4日（周一）当天",
                    "official = true",
                    "from = 2027-02-05",
                    "date = 2027-02-13",
                    "cargo update -p tyme4rs",
                    "/etc/reportd/reportd.toml",
                ],
            ),
            both(
                "payroll",
                &crate::payroll::close::sample_email(person.clone()),
                vec![
                    "2026-11",
                    "1,470.00",
                    "2026-W48",
                    "2026-W44",
                    "179.50",
                    "120.50",
                    "payroll-2026-11.xlsx",
                ],
            ),
            both(
                "sales_import",
                &crate::payroll::by_email::sample_email(person.clone()),
                vec!["2026-11", "sales.xlsx", "C (自拓)", "is not an amount"],
            ),
        ]
    }

    /// Renders any context behind one trait object, for the table of kinds.
    mod erased {
        use super::super::*;
        pub trait Ctx {
            fn render(&self, t: &Templates, lang: Language) -> Result<Rendered, ComposeError>;
        }
        impl<E: Email> Ctx for E {
            fn render(&self, t: &Templates, lang: Language) -> Result<Rendered, ComposeError> {
                t.render_email(lang, self)
            }
        }
    }

    #[test]
    fn every_kind_renders_in_both_languages_with_its_figures() {
        let mut kinds_seen = Vec::new();
        for (kind, zh, en, figures) in all_kinds(zhang()) {
            kinds_seen.push(kind);
            for (lang, r) in [("zh", &zh), ("en", &en)] {
                assert!(!r.subject.is_empty(), "{kind} {lang}");
                assert!(!r.subject.contains('\n'), "{kind} {lang}");
                assert!(r.text.trim().len() > 40, "{kind} {lang}: {}", r.text);
                assert!(r.html.contains("</html>"), "{kind} {lang}");
                for f in &figures {
                    assert!(
                        r.text.contains(f),
                        "{kind} {lang} text lacks {f}:\n{}",
                        r.text
                    );
                    assert!(
                        r.html.contains(f),
                        "{kind} {lang} html lacks {f}:\n{}",
                        r.html
                    );
                }
                assert!(r.text.contains("张伟"), "{kind} {lang}:\n{}", r.text);
                assert!(!r.text.contains(CELL), "{kind} {lang}");
                assert!(!r.text.contains("\n\n\n"), "{kind} {lang}");
                assert!(!r.html.contains(CELL), "{kind} {lang}");
            }
            assert!(
                zh.text.chars().filter(|c| char_width(*c) == 2).count()
                    > en.text.chars().filter(|c| char_width(*c) == 2).count(),
                "{kind}: the zh text should be Chinese, the en text English"
            );
            assert!(zh.html.contains(r#"lang="zh-CN""#), "{kind}");
            assert!(en.html.contains(r#"lang="en""#), "{kind}");
        }
        let mut unique = kinds_seen.clone();
        unique.dedup();
        assert_eq!(unique, KINDS);
    }

    #[test]
    fn a_provisional_deadline_is_marked_right_after_it_in_every_notice_naming_it() {
        let zh = "（暂定：2027年放假安排尚未公布）";
        let en = " (provisional: the 2027 public holiday schedule is not out yet)";
        let mark = |lang: Language| match lang {
            Language::Zh => Some(zh.to_string()),
            Language::En => Some(en.to_string()),
        };
        for lang in [Language::Zh, Language::En] {
            let mut reminder = deadline_reminder(zhang());
            let mut late = late_notice(zhang());
            let mut fine = fine_notice(zhang());
            let mut wrong = misaddressed(zhang());
            let plain: Vec<Rendered> = vec![
                t().render_email(lang, &reminder).expect("reminder"),
                t().render_email(lang, &late).expect("late"),
                t().render_email(lang, &fine).expect("fine"),
                t().render_email(lang, &wrong).expect("misaddressed"),
            ];
            for r in &plain {
                assert!(!r.text.contains("2027"), "{}", r.text);
            }
            reminder.provisional = mark(lang);
            late.provisional = mark(lang);
            fine.provisional = mark(lang);
            wrong.provisional = mark(lang);
            let marked = [
                (
                    reminder.due.clone(),
                    t().render_email(lang, &reminder).expect("r"),
                ),
                (late.due.clone(), t().render_email(lang, &late).expect("l")),
                (fine.due.clone(), t().render_email(lang, &fine).expect("f")),
                (
                    wrong.due.clone(),
                    t().render_email(lang, &wrong).expect("m"),
                ),
            ];
            let m = mark(lang).unwrap_or_default();
            for (due, r) in marked {
                let said = format!("{due}{m}");
                assert!(
                    r.text.contains(&said),
                    "{lang:?} text lacks {said}:\n{}",
                    r.text
                );
                assert!(
                    r.html.contains(m.trim()),
                    "{lang:?} html lacks {m}:\n{}",
                    r.html
                );
            }
        }
    }

    #[test]
    fn names_from_outside_are_escaped_in_html_and_verbatim_in_text() {
        for (kind, zh, en, _) in all_kinds(Contact::new(XSS, "x@example.com")) {
            for (lang, r) in [("zh", &zh), ("en", &en)] {
                assert!(!r.html.contains("<script"), "{kind} {lang}:\n{}", r.html);
                assert!(r.html.contains("&lt;script&gt;"), "{kind} {lang}");
                assert!(r.text.contains(XSS), "{kind} {lang}:\n{}", r.text);
            }
        }
        // A subject from outside, in the reply reminder's subject and title.
        let mut ctx = reply_reminder(zhang());
        ctx.reports[0].report_subject = format!("周报 {XSS}\r\nBcc: evil@example.com");
        ctx.reports[0].reply_subject = reply_subject(&ctx.reports[0].report_subject);
        let r = t()
            .render_email(Language::Zh, &ctx)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!r.html.contains("<script"));
        assert!(r.html.contains("周报 &lt;script&gt;"), "{}", r.html);
        assert!(r.text.contains(&format!("周报 {XSS}")), "{}", r.text);
        assert!(!r.subject.contains(['\r', '\n']), "{:?}", r.subject);
        // The reply link threads into the report and keeps the assistant.
        assert!(
            r.html.contains("In-Reply-To=%3Cw48%40zhang%3E")
                && r.html.contains("cc=assistant%40example")
                && !r.html.contains("%0ABcc"),
            "{}",
            r.html
        );
    }

    #[test]
    fn a_reminder_about_one_report_answers_it_and_one_about_several_counts_them() {
        let one = reply_reminder(zhang());
        let mut several = reply_reminder(zhang());
        several
            .reports
            .push(pending(Contact::new("李娜", "lina@example.com")));
        several.overdue = 2;
        several.total = 2;
        for (lang, one_subject, several_subject) in [
            (
                Language::Zh,
                "Re: 第48周周报",
                "待您回复：2 份报告，2 份已超过 48 小时",
            ),
            (
                Language::En,
                "Re: 第48周周报",
                "Awaiting your reply: 2 reports, 2 past 48 hours",
            ),
        ] {
            let r = t()
                .render_email(lang, &one)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.subject, one_subject);
            let r = t()
                .render_email(lang, &several)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.subject, several_subject);
        }
    }

    #[test]
    fn control_characters_in_context_cannot_forge_table_cells() {
        let mut d = digest(
            Contact::new("张\u{1f}伟\t", "zw@example.com"),
            Audience::Supervisor,
        );
        d.groups[0].rows[0].excuse_reason = Some("a\u{1f}b\rc".into());
        let r = t()
            .render_email(Language::Zh, &d)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!r.text.contains(CELL) && !r.text.contains('\t') && !r.text.contains('\r'));
        assert!(r.text.contains("张 伟"), "{}", r.text);
    }

    #[test]
    fn labels_are_localised() {
        let t = t();
        let d = digest(zhang(), Audience::Supervisor);
        let zh = t
            .render_email(Language::Zh, &d)
            .unwrap_or_else(|e| panic!("{e}"));
        let en = t
            .render_email(Language::En, &d)
            .unwrap_or_else(|e| panic!("{e}"));
        for label in ["准时", "迟交", "未交", "免罚", "周报"] {
            assert!(zh.html.contains(label), "zh html lacks {label}");
            assert!(zh.text.contains(label), "zh text lacks {label}");
        }
        for label in ["on time", "late", "missing", "excused", "weekly"] {
            assert!(
                en.html.to_lowercase().contains(label),
                "en html lacks {label}"
            );
            assert!(
                en.text.to_lowercase().contains(label),
                "en text lacks {label}"
            );
        }
        assert!(zh.text.contains("11小时"), "{}", zh.text);
        let monthly = misaddressed(zhang());
        let zh = t
            .render_email(Language::Zh, &monthly)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(zh.subject.contains("月报"), "{}", zh.subject);
        let en = t
            .render_email(Language::En, &monthly)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(en.subject.contains("monthly report"), "{}", en.subject);
    }

    #[test]
    fn align_tables_counts_cjk_as_two_columns() {
        let c = CELL;
        let s = format!("intro\n名{c}状态{c}x\nAlexander{c}on time{c}y\n-{c}-{c}-\nend\n");
        assert_eq!(
            align_tables(&s),
            "intro\n名         状态     x\nAlexander  on time  y\n---------  -------  -\nend\n"
        );
        assert_eq!(display_width("张伟 ab"), 7);
    }

    #[test]
    fn templates_can_be_shared_between_tasks() {
        fn shareable<T: Send + Sync>(_: &T) {}
        shareable(&t());
    }

    #[test]
    fn unknown_kind_is_refused_with_the_list() {
        let e = t()
            .render("no_such_kind", Language::Zh, &late_notice(zhang()))
            .unwrap_err();
        assert!(e.to_string().contains("late_notice"), "{e}");
    }

    #[test]
    fn every_template_file_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut on_disk = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let rel = path.strip_prefix(&root).unwrap();
                    on_disk.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = TEMPLATE_FILES.iter().map(|(n, _)| n.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    fn mbox(name: &str, email: &str) -> Mailbox {
        Contact::new(name, email).mailbox().unwrap()
    }

    fn date() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-30T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn composed_mail_parses_back() {
        let rendered = t()
            .render_email(Language::Zh, &reply_reminder(zhang()))
            .unwrap_or_else(|e| panic!("{e}"));
        let refs = vec![
            "root.1@mail.example.com".to_string(),
            "report.2@mail.example.com".to_string(),
        ];
        let raw = compose(
            &mbox("报告助手", "assistant@example.com"),
            &[mbox("王芳", "wangfang@example.com")],
            &[mbox(XSS, "x@example.com")],
            &rendered,
            "reportd.abc123@example.com",
            Some("report.2@mail.example.com"),
            &refs,
            date(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(raw.is_ascii(), "headers and bodies are 7-bit clean");
        let text = String::from_utf8(raw.clone()).unwrap();
        assert!(text.lines().all(|l| l.len() <= 998), "no overlong line");

        let mail = mailparse::parse_mail(&raw).unwrap();
        let h = &mail.headers;
        use mailparse::MailHeaderMap;
        assert_eq!(h.get_first_value("Subject").unwrap(), rendered.subject);
        assert_eq!(rendered.subject, "Re: 第48周周报");
        assert_eq!(
            h.get_first_value("Message-ID").unwrap(),
            "<reportd.abc123@example.com>"
        );
        assert_eq!(
            h.get_first_value("In-Reply-To").unwrap(),
            "<report.2@mail.example.com>"
        );
        let references = h.get_first_value("References").unwrap();
        assert_eq!(
            crate::mail::parse::parse_message_ids(&references),
            refs,
            "{references}"
        );
        assert_eq!(
            h.get_first_value("Auto-Submitted").as_deref(),
            Some("auto-generated")
        );
        assert_eq!(
            h.get_first_value("X-Auto-Response-Suppress").as_deref(),
            Some("OOF, AutoReply")
        );
        assert!(h.get_first_value("Date").unwrap().contains("30 Nov 2026"));
        let from = mailparse::addrparse_header(h.get_first_header("From").unwrap()).unwrap();
        assert_eq!(from.to_string(), r#""报告助手" <assistant@example.com>"#);
        let cc = mailparse::addrparse_header(h.get_first_header("Cc").unwrap()).unwrap();
        match &cc[0] {
            mailparse::MailAddr::Single(s) => {
                assert_eq!(s.display_name.as_deref(), Some(XSS));
                assert_eq!(s.addr, "x@example.com");
            }
            other => panic!("{other:?}"),
        }

        assert_eq!(mail.ctype.mimetype, "multipart/alternative");
        assert_eq!(mail.subparts.len(), 2);
        let (plain, html) = (&mail.subparts[0], &mail.subparts[1]);
        assert_eq!(plain.ctype.mimetype, "text/plain");
        assert_eq!(plain.ctype.charset, "utf-8");
        assert_eq!(html.ctype.mimetype, "text/html");
        assert_eq!(html.ctype.charset, "utf-8");
        for part in [plain, html] {
            let cte = part
                .headers
                .get_first_value("Content-Transfer-Encoding")
                .unwrap();
            assert!(cte == "base64" || cte == "quoted-printable", "{cte}");
        }
        assert_eq!(
            plain.get_body().unwrap().replace("\r\n", "\n"),
            rendered.text
        );
        assert_eq!(
            html.get_body().unwrap().replace("\r\n", "\n"),
            rendered.html
        );
    }

    #[test]
    fn english_mail_is_quoted_printable_and_deterministic() {
        let rendered = t()
            .render_email(
                Language::En,
                &deadline_reminder(Contact::new("Zhang Wei", "zhangwei@example.com")),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let args = |id: &str| {
            compose(
                &mbox("reportd", "assistant@example.com"),
                &[mbox("Zhang Wei", "zhangwei@example.com")],
                &[],
                &rendered,
                id,
                None,
                &[],
                date(),
            )
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let a = args("<reportd.1@example.com>");
        assert_eq!(a, args("reportd.1@example.com"), "same inputs, same bytes");
        let mail = mailparse::parse_mail(&a).unwrap();
        use mailparse::MailHeaderMap;
        assert_eq!(
            mail.subparts[0]
                .headers
                .get_first_value("Content-Transfer-Encoding")
                .as_deref(),
            Some("quoted-printable")
        );
        assert!(mail.headers.get_first_value("In-Reply-To").is_none());
        assert!(mail.headers.get_first_value("References").is_none());
        assert_eq!(
            mail.headers.get_first_value("Message-ID").as_deref(),
            Some("<reportd.1@example.com>")
        );
    }

    #[test]
    fn every_subject_and_name_survives_encoding() {
        use mailparse::MailHeaderMap;
        let long_name = "欧阳娜娜·阿卜杜热西提·买买提明";
        for (kind, zh, en, _) in all_kinds(Contact::new(long_name, "ouyang@example.com")) {
            for r in [zh, en] {
                let raw = compose(
                    &mbox("报告助手", "assistant@example.com"),
                    &[mbox(long_name, "ouyang@example.com")],
                    &[],
                    &r,
                    "reportd.s@example.com",
                    None,
                    &[],
                    date(),
                )
                .unwrap_or_else(|e| panic!("{e}"));
                let mail = mailparse::parse_mail(&raw).unwrap();
                assert_eq!(
                    mail.headers.get_first_value("Subject").unwrap(),
                    r.subject,
                    "{kind}"
                );
                let to = mailparse::addrparse_header(mail.headers.get_first_header("To").unwrap())
                    .unwrap();
                assert_eq!(
                    to.to_string(),
                    format!(r#""{long_name}" <ouyang@example.com>"#)
                );
            }
        }
    }

    #[test]
    fn a_long_references_list_is_folded_and_kept_whole() {
        let rendered = Rendered {
            subject: "Re: 周报".into(),
            text: "x\n".into(),
            html: "<p>x</p>\n".into(),
        };
        let refs: Vec<String> = (0..40)
            .map(|n| format!("{n}.abcdefghijklmnop@mail.example.com"))
            .collect();
        let raw = compose(
            &mbox("a", "a@example.com"),
            &[mbox("b", "b@example.com")],
            &[],
            &rendered,
            "m.1@example.com",
            Some("39.abcdefghijklmnop@mail.example.com"),
            &refs,
            date(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8(raw.clone()).unwrap();
        assert!(text.lines().all(|l| l.len() <= 78), "folded:\n{text}");
        let mail = mailparse::parse_mail(&raw).unwrap();
        use mailparse::MailHeaderMap;
        let got = mail.headers.get_first_value("References").unwrap();
        assert_eq!(crate::mail::parse::parse_message_ids(&got), refs);
    }

    #[test]
    fn in_reply_to_joins_references_and_bad_ids_are_refused() {
        let rendered = Rendered {
            subject: "周报".into(),
            text: "x\n".into(),
            html: "<p>x</p>\n".into(),
        };
        let from = mbox("a", "a@example.com");
        let to = [mbox("b", "b@example.com")];
        let raw = compose(
            &from,
            &to,
            &[],
            &rendered,
            "m.1@example.com",
            Some("parent@example.com"),
            &[],
            date(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mail = mailparse::parse_mail(&raw).unwrap();
        use mailparse::MailHeaderMap;
        assert_eq!(
            mail.headers.get_first_value("References").as_deref(),
            Some("<parent@example.com>")
        );

        for (id, parent) in [
            ("no-at-sign", None),
            ("has space@example.com", None),
            ("报告@example.com", None),
            ("ok@example.com", Some("bad id@x")),
            ("ok@example.com", Some("")),
        ] {
            let e = compose(&from, &to, &[], &rendered, id, parent, &[], date()).unwrap_err();
            assert!(matches!(e, ComposeError::MessageId { .. }), "{id}: {e}");
            assert!(e.to_string().contains("without angle brackets"), "{e}");
        }
        let e = compose(&from, &[], &to, &rendered, "m@x", None, &[], date()).unwrap_err();
        assert!(matches!(e, ComposeError::NoRecipient), "{e}");
    }

    #[test]
    fn attachments_go_base64_after_the_alternative_and_parse_back() {
        let rendered = t()
            .render_email(Language::Zh, &crate::payroll::close::sample_email(zhang()))
            .unwrap_or_else(|e| panic!("{e}"));
        // All-ASCII with bare LFs: must still be base64, not 7bit.
        let csv = b"name,own\nzhang,23000\n".to_vec();
        let files = [
            Attachment::new(
                "payroll-2026-11.xlsx",
                XLSX,
                vec![0x50, 0x4b, 0x03, 0x04, 0xff],
            ),
            Attachment::new("sales.csv", "text/csv", csv.clone()),
        ];
        let build = || {
            compose_message_with(
                &mbox("报告助手", "assistant@example.com"),
                &[mbox("赵敏", "zhaomin@example.com")],
                &[],
                &rendered,
                "reportd.payroll@example.com",
                None,
                &[],
                date(),
                &files,
            )
            .unwrap_or_else(|e| panic!("{e}"))
            .formatted()
        };
        let raw = build();
        assert_eq!(raw, build(), "same inputs, same bytes");
        let mail = mailparse::parse_mail(&raw).unwrap();
        assert_eq!(mail.ctype.mimetype, "multipart/mixed");
        assert_eq!(mail.subparts.len(), 3);
        assert_eq!(mail.subparts[0].ctype.mimetype, "multipart/alternative");
        use mailparse::MailHeaderMap;
        for (part, file) in mail.subparts[1..].iter().zip(&files) {
            let d = part.get_content_disposition();
            assert_eq!(d.disposition, mailparse::DispositionType::Attachment);
            assert_eq!(d.params.get("filename"), Some(&file.filename));
            assert_eq!(
                part.headers
                    .get_first_value("Content-Transfer-Encoding")
                    .as_deref(),
                Some("base64")
            );
            assert_eq!(part.get_body_raw().unwrap(), file.data);
        }
        let bad = Attachment::new("../x.xlsx", XLSX, vec![]);
        let e = compose_message_with(
            &mbox("a", "a@example.com"),
            &[mbox("b", "b@example.com")],
            &[],
            &rendered,
            "m@x",
            None,
            &[],
            date(),
            &[bad],
        )
        .unwrap_err();
        assert!(matches!(e, ComposeError::Attachment { .. }), "{e}");
    }

    #[test]
    fn contact_falls_back_to_the_address() {
        let c = Contact::new("  ", "zw@example.com");
        assert_eq!(c.name, "zw@example.com");
        assert_eq!(c.mailbox().unwrap().to_string(), "zw@example.com");
        assert!(Contact::new("x", "not-an-address").mailbox().is_err());
    }
}
