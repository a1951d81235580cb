//! The TOML config: the team roster, the rules, the mail source. The single
//! home of "what a valid config is"; every mistake is reported with the file,
//! the key and the line.
//!
//! Loading never stops at the first mistake: [`Config::load`] collects every
//! issue it can find (syntax, unknown keys, wrong types, bad values, broken
//! cross-references between people) and returns them together in a
//! [`ConfigError`]. Keys in issues are dotted paths; array indexes are
//! 0-based (`person[0]` is the first `[[person]]`, `calendar[1]` the second
//! calendar file).
//!
//! Relative paths inside the file (`database`, `calendar`, `maildir.path`,
//! `password_file`, `ca_file`) are kept as written and so are taken relative
//! to the current directory of the process, not to the config file.
//!
//! Passwords are never read at load time; [`Config::check_secrets`] (and
//! [`Config::check`], behind `reportd check-config`) verify that they can be.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use toml::de::{DeTable, DeValue};

use crate::money::Fen;
use crate::period::{DueRules, MonthlyDue, WeeklyDue};

mod mail;
mod people;
mod read;

use read::*;

pub use mail::{
    DEFAULT_MAILBOX, DEFAULT_POLL_SECONDS, ImapConfig, MaildirConfig, Password, PasswordError,
    PasswordSource, Security, SmtpConfig, SourceConfig, is_loopback_host,
};
use mail::{parse_imap, parse_maildir, parse_smtp};

use people::parse_people;
pub use people::{BySupervisor, Person, Roster};
mod payroll;
pub use payroll::PayrollConfig;

/// One mistake in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub file: PathBuf,
    /// Dotted key, e.g. `person[2].supervisor` or `imap.port`.
    pub key: String,
    /// 1-based line; 0 when the mistake is not tied to a line.
    pub line: usize,
    pub message: String,
}

/// `file:line: key: message`; the line is left out when it is 0 and the key
/// when it is empty (a TOML syntax error has no key).
impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every mistake found in one config, so a user can fix them all at once.
#[derive(Debug, thiserror::Error)]
#[error("{} mistake(s) in the config:\n{}", .0.len(), .0.iter().map(|i| format!("  {i}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError(pub Vec<ConfigIssue>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Rep,
    Clerk,
    Supervisor,
    Manager,
    Assistant,
}

impl Role {
    /// Reps and clerks send weekly and monthly reports.
    pub fn must_report(self) -> bool {
        matches!(self, Role::Rep | Role::Clerk)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    Zh,
    En,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub due: DueRules,
    pub fine: Fen,
    pub fund_share_percent: u8,
    pub reply_within_hours: u32,
}

impl Rules {
    /// The fine and the activity fund's share of it, as a fine is booked.
    pub fn fine_and_fund_share(&self) -> (Fen, Fen) {
        (self.fine, self.fine.percent(self.fund_share_percent))
    }
}

/// What the config adds to recognising reports by their shape (see
/// `reports::classify`), and the reply prefixes; all matched ignoring case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keywords {
    /// Extra phrases that mark a weekly report by themselves.
    pub weekly: Vec<String>,
    /// Extra phrases that mark a monthly report by themselves.
    pub monthly: Vec<String>,
    /// Words that veto: a subject holding one is not a report.
    pub exclude: Vec<String>,
    pub reply_prefixes: Vec<String>,
}

/// The `[notify]` section: when emails go out, whose
/// `Authentication-Results` header to trust for mail from the team, and the
/// words that make an answer to a late notice a valid reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    pub schedule: crate::notify::schedule::Schedule,
    /// The authserv-id of the receiving server's `Authentication-Results`
    /// header; email commands are refused while it is not set.
    pub authserv_id: Option<String>,
    /// An answer to a late notice files a valid reason only when its first
    /// non-empty line starts with one of these (lower-cased).
    pub waiver_words: Vec<String>,
}

impl Default for NotifyConfig {
    fn default() -> NotifyConfig {
        NotifyConfig {
            schedule: Default::default(),
            authserv_id: None,
            waiver_words: [
                "免罚",
                "正当理由",
                "请假",
                "病假",
                "出差",
                "excuse",
                "waive",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// The `[archive]` section: where monthly compliance archives are kept and
/// how large a zip may be to go out as an attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveConfig {
    /// Where `reportd archive` keeps its zips (created 0700).
    pub dir: PathBuf,
    /// A zip of at most this many MiB is attached to the archive email;
    /// a larger one is named by its path instead. 0: never attach.
    pub max_attachment_mb: u32,
}

/// The attachment limit when `max_attachment_mb` is omitted: 10 MiB, which
/// base64 makes about 13.5 MB of email, under most servers' limits.
pub const DEFAULT_MAX_ATTACHMENT_MB: u32 = 10;

impl ArchiveConfig {
    /// The defaults for a database at `database`: `archive/` beside it.
    pub fn beside(database: &Path) -> ArchiveConfig {
        let parent = database.parent().unwrap_or(Path::new(""));
        ArchiveConfig {
            dir: parent.join("archive"),
            max_attachment_mb: DEFAULT_MAX_ATTACHMENT_MB,
        }
    }

    /// The attachment limit in bytes.
    pub fn max_attachment_bytes(&self) -> u64 {
        u64::from(self.max_attachment_mb) * 1024 * 1024
    }
}

/// `[limits]`: what reportd reads of hostile or oversized mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A message larger than this is kept raw and flagged "too large", not
    /// parsed.
    pub max_message_mb: u32,
}

/// `limits.max_message_mb` when omitted.
pub const DEFAULT_MAX_MESSAGE_MB: u32 = 25;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_message_mb: DEFAULT_MAX_MESSAGE_MB,
        }
    }
}

impl Limits {
    /// `max_message_mb` in bytes (MiB, as mail clients count).
    pub fn max_message_bytes(&self) -> u64 {
        u64::from(self.max_message_mb) << 20
    }
}

/// `[store]`: what the database keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConfig {
    /// The raw bytes of a message that is nothing reportd acts on (not a
    /// report, a reply, a command or a sales file, and not flagged) are
    /// dropped this many days after it arrived; its row stays.
    pub keep_unrelated_days: u32,
}

/// `store.keep_unrelated_days` when omitted.
pub const DEFAULT_KEEP_UNRELATED_DAYS: u32 = 30;

impl Default for StoreConfig {
    fn default() -> StoreConfig {
        StoreConfig {
            keep_unrelated_days: DEFAULT_KEEP_UNRELATED_DAYS,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this was loaded from (for messages).
    pub path: PathBuf,
    pub timezone: Tz,
    pub database: PathBuf,
    pub tracking_starts: NaiveDate,
    pub calendar: Vec<PathBuf>,
    pub language: Language,
    pub source: SourceConfig,
    pub smtp: Option<SmtpConfig>,
    pub rules: Rules,
    pub keywords: Keywords,
    pub notify: NotifyConfig,
    pub archive: ArchiveConfig,
    pub limits: Limits,
    pub store: StoreConfig,
    pub roster: Roster,
    /// The `[payroll]` section (defaults when absent).
    pub payroll: PayrollConfig,
}

/// A fixed set of config words for an enum: `as_str`, `FromStr` (with a
/// [`ChoiceError`] that lists the choices) and `Display`, from one table.
macro_rules! config_words {
    ($ty:ident, $what:literal, $choices:literal, { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $ty {
            /// The config word.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $word),+
                }
            }
        }

        impl FromStr for $ty {
            type Err = ChoiceError;
            fn from_str(s: &str) -> Result<$ty, ChoiceError> {
                match s {
                    $($word => Ok($ty::$variant),)+
                    _ => Err(ChoiceError { value: s.to_string(), what: $what, choices: $choices }),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A config value that is not one of the allowed words (`role`, `language`,
/// `security`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a {what}: write one of {choices}")]
pub struct ChoiceError {
    pub value: String,
    pub what: &'static str,
    pub choices: &'static str,
}

config_words!(Role, "role", "rep, clerk, supervisor, manager, assistant", {
    Rep => "rep",
    Clerk => "clerk",
    Supervisor => "supervisor",
    Manager => "manager",
    Assistant => "assistant",
});

config_words!(Language, "language", "zh, en", {
    Zh => "zh",
    En => "en",
});

config_words!(Security, "security mode", "tls, starttls, plain (plain only to a loopback host)", {
    Tls => "tls",
    Starttls => "starttls",
    Plain => "plain",
});

impl Role {
    /// Whether this role can be a rep's or clerk's direct supervisor.
    pub fn can_supervise(self) -> bool {
        matches!(self, Role::Supervisor | Role::Manager)
    }
}

/// The time zone used when `timezone` is omitted.
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::Asia::Shanghai;

/// The handbook's rules: weekly report before Saturday 22:00, monthly report
/// on the first working day, 50 yuan fine with half to the activity fund,
/// supervisors reply within 48 hours.
impl Default for Rules {
    fn default() -> Rules {
        Rules {
            // SAT 22:00 and first-working-day live in `crate::period`.
            due: DueRules::default(),
            fine: Fen::from_yuan(50),
            fund_share_percent: 50,
            reply_within_hours: 48,
        }
    }
}

/// The one home of the default keyword lists and reply prefixes (all
/// lower-case). No extra report phrases: the shape (a period word near a
/// report word) recognises every former default (周报, 月度总结, weekly
/// report, ...) and the ways people vary them.
impl Default for Keywords {
    fn default() -> Keywords {
        fn owned(words: &[&str]) -> Vec<String> {
            words.iter().map(|w| (*w).to_string()).collect()
        }
        Keywords {
            weekly: Vec::new(),
            monthly: Vec::new(),
            exclude: owned(&[
                "newsletter",
                "周刊",
                "月刊",
                "简讯",
                "退订",
                "unsubscribe",
                "会议通知",
                "邀请函",
                "invitation",
                "webinar",
                // Notices and questions about reports, and other tables
                // and papers: `关于周报提交时间调整的通知`, `周报模板更新`,
                // `11月考勤月报`, `11月销售报表`, `月度例会汇报材料`.
                "通知",
                "说明",
                "模板",
                "申请",
                "请问",
                "下载",
                "考勤",
                "报表",
                "例会",
                "调查",
                "投诉",
            ]),
            reply_prefixes: owned(&[
                "re:",
                "re：",
                "回复:",
                "回复：",
                "答复:",
                "答复：",
                "fw:",
                "fwd:",
                "转发:",
                "转发：",
                "aw:",
                "wg:",
                "sv:",
                "vs:",
                "antw:",
            ]),
        }
    }
}

impl Config {
    /// Reads, parses and validates `path`. Relative paths inside the file
    /// (database, calendar, maildir, password_file, ca_file) are taken
    /// relative to the current directory.
    ///
    /// Checks that calendar and `ca_file` files exist; does not read
    /// passwords (see [`Config::check_secrets`]).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let bytes = std::fs::read(path).map_err(|e| {
            ConfigError(vec![ConfigIssue {
                file: path.to_path_buf(),
                key: String::new(),
                line: 0,
                message: format!(
                    "cannot read the config file: {e}; check the path (start from \
                     config/reportd.example.toml if you have none yet)"
                ),
            }])
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let offset = e.utf8_error().valid_up_to();
            let line = 1 + e.as_bytes()[..offset]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            ConfigError(vec![ConfigIssue {
                file: path.to_path_buf(),
                key: String::new(),
                line,
                message: "the file is not valid UTF-8; save it as UTF-8".to_string(),
            }])
        })?;
        Config::from_toml_str(&text, path)
    }

    /// Parses and validates config text; `path` is only used in messages.
    /// Calendar and `ca_file` paths are still checked on disk.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut ctx = Ctx {
            file: path,
            text,
            newlines: newlines(text),
            issues: Vec::new(),
        };
        let config = parse_document(&mut ctx);
        match config {
            Some(config) if ctx.issues.is_empty() => Ok(config),
            _ => Err(ctx.into_error()),
        }
    }

    /// What `reportd check-config` runs: [`Config::load`], then
    /// [`Config::check_secrets`], then checks that a `[maildir]` path is a
    /// directory. Every issue found is returned.
    pub fn check(path: &Path) -> Result<Config, ConfigError> {
        let config = Config::load(path)?;
        let mut issues = config.check_secrets();
        if let SourceConfig::Maildir(maildir) = &config.source
            && !maildir.path.is_dir()
        {
            issues.push(ConfigIssue {
                file: config.path.clone(),
                key: "maildir.path".to_string(),
                line: locate_line(&config.path, &["maildir", "path"]),
                message: format!(
                    "{} is not a directory; create the Maildir (with cur/, new/ and tmp/) or fix \
                     the path (relative paths are taken from the current directory)",
                    maildir.path.display()
                ),
            });
        }
        if issues.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError(issues))
        }
    }

    /// Whether every configured password can be read now: environment
    /// variables set and non-empty, password files readable and non-empty.
    /// The daemon reads passwords only when it connects, so `load` does not
    /// check this. Lines are looked up again in `self.path` (0 if it cannot be
    /// read).
    pub fn check_secrets(&self) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        if let SourceConfig::Imap(imap) = &self.source {
            self.check_secret(&imap.password, "imap", "IMAP", &mut issues);
        }
        if let Some(smtp) = &self.smtp {
            self.check_secret(&smtp.password, "smtp", "SMTP", &mut issues);
        }
        issues
    }

    fn check_secret(
        &self,
        source: &PasswordSource,
        section: &str,
        what: &str,
        issues: &mut Vec<ConfigIssue>,
    ) {
        let (key, message) = match source {
            PasswordSource::None => return,
            PasswordSource::Env(name) => match std::env::var_os(name) {
                None => (
                    "password_env",
                    format!(
                        "environment variable {name} is not set; export it with the {what} \
                         password in the environment reportd runs in (e.g. Environment= in its \
                         systemd unit), or use password_file"
                    ),
                ),
                Some(v) if v.is_empty() => (
                    "password_env",
                    format!("environment variable {name} is empty; put the {what} password in it"),
                ),
                Some(v) if v.to_str().is_none() => (
                    "password_env",
                    format!(
                        "environment variable {name} is not valid UTF-8; put the {what} password \
                         in it as UTF-8 text"
                    ),
                ),
                Some(_) => return,
            },
            PasswordSource::File(path) => match source.read() {
                Err(e) => (
                    "password_file",
                    format!(
                        "{e}; create the file with the {what} password (readable only by the \
                         user reportd runs as) or fix the path (relative paths are taken from \
                         the current directory)"
                    ),
                ),
                Ok(Some(p)) if p.0.is_empty() => (
                    "password_file",
                    format!(
                        "password file {} is empty; put the {what} password on its first line",
                        path.display()
                    ),
                ),
                Ok(_) => return,
            },
        };
        issues.push(ConfigIssue {
            file: self.path.clone(),
            key: format!("{section}.{key}"),
            line: locate_line(&self.path, &[section, key]),
            message,
        });
    }
}

/// The line of the key at `keys` (a path of table keys) in the file at
/// `path`; 0 when the file cannot be read or parsed or lacks the key.
fn locate_line(path: &Path, keys: &[&str]) -> usize {
    let Ok(text) = std::fs::read_to_string(path) else {
        return 0;
    };
    let Ok(doc) = DeTable::parse(&text) else {
        return 0;
    };
    let mut table = doc.get_ref();
    let mut found = None;
    for (i, key) in keys.iter().enumerate() {
        let Some((k, v)) = table.iter().find(|(k, _)| k.get_ref().as_ref() == *key) else {
            return 0;
        };
        if i + 1 == keys.len() {
            found = Some(k.span());
        } else if let DeValue::Table(t) = v.get_ref() {
            table = t;
        } else {
            return 0;
        }
    }
    found.map_or(0, |span| line_at(&text, span.start))
}

/// 1-based line of byte `offset` in `text`.
/// Where each `\n` of `text` is, for [`line_of`].
fn newlines(text: &str) -> Vec<usize> {
    text.bytes()
        .enumerate()
        .filter_map(|(i, b)| (b == b'\n').then_some(i))
        .collect()
}

/// The line (from 1) of byte `offset`, given the [`newlines`] of its
/// text: a search, not a scan, since a config of a thousand people asks
/// this for every key.
fn line_number(newlines: &[usize], offset: usize) -> usize {
    1 + newlines.partition_point(|&n| n < offset)
}

fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    1 + text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
}

// ---------------------------------------------------------------------------
// The document's sections (the readers are in `read`).

const ROOT_KEYS: &[&str] = &[
    "timezone",
    "database",
    "tracking_starts",
    "calendar",
    "language",
    "imap",
    "maildir",
    "smtp",
    "rules",
    "notify",
    "keywords",
    "archive",
    "limits",
    "store",
    "person",
    "payroll",
];
const LIMITS_KEYS: &[&str] = &["max_message_mb"];
const STORE_KEYS: &[&str] = &["keep_unrelated_days"];
const NOTIFY_KEYS: &[&str] = &[
    "weekly_reminders",
    "weekly_reminder",
    "monthly_reminder",
    "digest_time",
    "quiet_hours",
    "reply_reminders",
    "reply_reminder_time",
    "late_notice_after_minutes",
    "authserv_id",
    "waiver_words",
];
const RULES_KEYS: &[&str] = &[
    "weekly_due",
    "monthly_due",
    "fine_yuan",
    "fund_share_percent",
    "reply_within_hours",
];
const KEYWORDS_KEYS: &[&str] = &["weekly", "monthly", "exclude", "reply_prefixes"];
const ARCHIVE_KEYS: &[&str] = &["archive_dir", "max_attachment_mb"];
const PERSON_KEYS: &[&str] = &[
    "name",
    "email",
    "aliases",
    "role",
    "group",
    "supervisor",
    "since",
    "until",
    "language",
];

fn parse_document(ctx: &mut Ctx<'_>) -> Option<Config> {
    let text = ctx.text;
    let (doc, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        for e in errors {
            let line = e.span().map_or(0, |s| ctx.line(s));
            let what = e.message().trim_end();
            let hint = if what.contains("duplicate") {
                "it is already set earlier in the same table; remove one of them"
            } else {
                "fix the TOML syntax on this line (strings need double quotes; see https://toml.io)"
            };
            let message = format!("TOML syntax error: {what}; {hint}");
            ctx.push("", line, message);
        }
        return None;
    }
    let root = Sec {
        path: String::new(),
        table: doc.get_ref(),
        line: 0,
    };
    check_keys(ctx, &root, ROOT_KEYS);

    let timezone = match opt_str(ctx, &root, "timezone", r#"timezone = "Asia/Shanghai""#) {
        None => DEFAULT_TIMEZONE,
        Some(s) => s.v.trim().parse::<Tz>().unwrap_or_else(|_| {
            ctx.push(
                "timezone",
                s.line,
                format!(
                    "unknown time zone \"{}\"; use an IANA name such as \"Asia/Shanghai\"",
                    s.v
                ),
            );
            DEFAULT_TIMEZONE
        }),
    };
    let database = req_str(
        ctx,
        &root,
        "database",
        r#"database = "var/reportd.sqlite3""#,
    )
    .map(|s| PathBuf::from(s.v));
    let tracking_starts = req_date(
        ctx,
        &root,
        "tracking_starts",
        r#"tracking_starts = "2026-11-02""#,
    );
    let calendar = parse_calendar(ctx, &root);
    let language = opt_choice::<Language>(ctx, &root, "language", r#"language = "zh""#)
        .map_or(Language::default(), |a| a.v);

    let imap = opt_table(ctx, &root, "imap");
    let maildir = opt_table(ctx, &root, "maildir");
    let source = match (imap, maildir) {
        (Some(imap), Some(maildir)) => {
            ctx.push(
                "maildir",
                maildir.line,
                format!(
                    "both [imap] (line {}) and [maildir] are configured; keep only the one \
                     reportd should read",
                    imap.line
                ),
            );
            parse_imap(ctx, &imap);
            parse_maildir(ctx, &maildir);
            None
        }
        (Some(imap), None) => parse_imap(ctx, &imap).map(SourceConfig::Imap),
        (None, Some(maildir)) => parse_maildir(ctx, &maildir).map(SourceConfig::Maildir),
        (None, None) => {
            if !root.has("imap") && !root.has("maildir") {
                ctx.push(
                    "imap",
                    0,
                    "no mail source: add an [imap] section for the assistant's mailbox (or a \
                     [maildir] section for a local Maildir)",
                );
            }
            None
        }
    };

    let rules = match opt_table(ctx, &root, "rules") {
        Some(sec) => parse_rules(ctx, &sec),
        None => Rules::default(),
    };
    let keywords = match opt_table(ctx, &root, "keywords") {
        Some(sec) => parse_keywords(ctx, &sec),
        None => Keywords::default(),
    };
    let notify = match opt_table(ctx, &root, "notify") {
        Some(sec) => parse_notify(ctx, &sec),
        None => NotifyConfig::default(),
    };
    let archive_section = opt_table(ctx, &root, "archive");
    let limits = match opt_table(ctx, &root, "limits") {
        Some(sec) => parse_limits(ctx, &sec),
        None => Limits::default(),
    };
    let store = match opt_table(ctx, &root, "store") {
        Some(sec) => parse_store(ctx, &sec),
        None => StoreConfig::default(),
    };
    let roster = parse_people(ctx, &root);
    let smtp = match opt_table(ctx, &root, "smtp") {
        Some(sec) => parse_smtp(ctx, &sec, &roster),
        None => None,
    };
    let payroll = payroll::parse(ctx, &root, &roster, notify.schedule.digest_time);

    let database = database?;
    let archive = match archive_section {
        Some(sec) => parse_archive(ctx, &sec, &database),
        None => ArchiveConfig::beside(&database),
    };
    Some(Config {
        path: ctx.file.to_path_buf(),
        timezone,
        database,
        tracking_starts: tracking_starts?.v,
        calendar: calendar?,
        language,
        source: source?,
        smtp,
        rules,
        keywords,
        notify,
        archive,
        limits,
        store,
        roster,
        payroll,
    })
}

/// `[archive]`: both keys optional; the directory defaults to `archive/`
/// beside the database.
fn parse_archive(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>, database: &Path) -> ArchiveConfig {
    check_keys(ctx, sec, ARCHIVE_KEYS);
    let mut archive = ArchiveConfig::beside(database);
    if let Some(dir) = opt_str(
        ctx,
        sec,
        "archive_dir",
        r#"archive_dir = "/var/lib/reportd/archive""#,
    ) {
        archive.dir = PathBuf::from(dir.v.trim());
    }
    if let Some(mb) = opt_int_in(
        ctx,
        sec,
        "max_attachment_mb",
        0..=1024,
        "it is a size in MiB from 0 (never attach) to 1024",
        "max_attachment_mb = 10",
    ) && let Ok(mb) = u32::try_from(mb.v)
    {
        archive.max_attachment_mb = mb;
    }
    archive
}

fn parse_limits(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>) -> Limits {
    check_keys(ctx, sec, LIMITS_KEYS);
    let mut limits = Limits::default();
    if let Some(mb) = opt_int_in(
        ctx,
        sec,
        "max_message_mb",
        1..=1_000,
        "it must be at least 1 MB (and at most 1000 MB, SQLite's limit for one value)",
        "max_message_mb = 25",
    ) && let Ok(mb) = u32::try_from(mb.v)
    {
        limits.max_message_mb = mb;
    }
    limits
}

fn parse_store(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>) -> StoreConfig {
    check_keys(ctx, sec, STORE_KEYS);
    let mut store = StoreConfig::default();
    if let Some(days) = opt_int_in(
        ctx,
        sec,
        "keep_unrelated_days",
        0..=36_500,
        "it is a number of days from 0 (drop at once) to 36500 (keep)",
        "keep_unrelated_days = 30",
    ) && let Ok(days) = u32::try_from(days.v)
    {
        store.keep_unrelated_days = days;
    }
    store
}

fn parse_notify(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>) -> NotifyConfig {
    check_keys(ctx, sec, NOTIFY_KEYS);
    let mut n = NotifyConfig::default();
    if let Some(times) = parse_weekly_reminders(ctx, sec) {
        n.schedule.weekly_reminders = times;
    }
    if let Some(t) = opt_time(
        ctx,
        sec,
        "monthly_reminder",
        r#"monthly_reminder = "09:00""#,
    ) {
        n.schedule.monthly_reminder = t;
    }
    if let Some(t) = opt_time(ctx, sec, "digest_time", r#"digest_time = "08:30""#) {
        n.schedule.digest_time = t;
    }
    if let Some(t) = opt_time(
        ctx,
        sec,
        "reply_reminder_time",
        r#"reply_reminder_time = "09:00""#,
    ) {
        n.schedule.reply_reminder_time = t;
    }
    if let Some(s) = opt_str(ctx, sec, "quiet_hours", r#"quiet_hours = "22:30-08:00""#) {
        let parsed = s.v.split_once('-').and_then(|(a, b)| {
            Some((
                NaiveTime::parse_from_str(a.trim(), "%H:%M").ok()?,
                NaiveTime::parse_from_str(b.trim(), "%H:%M").ok()?,
            ))
        });
        match parsed {
            Some((start, end)) => {
                n.schedule.quiet_start = start;
                n.schedule.quiet_end = end;
            }
            None => ctx.push(
                sec.key("quiet_hours"),
                s.line,
                format!(
                    "\"{}\" is not a range of times; write it as HH:MM-HH:MM, e.g. \"22:30-08:00\"",
                    s.v
                ),
            ),
        }
    }
    if let Some(k) = opt_int_in(
        ctx,
        sec,
        "reply_reminders",
        0..=10,
        "between 0 (escalate at once) and 10 reminders",
        "reply_reminders = 2",
    ) && let Ok(k) = u32::try_from(k.v)
    {
        n.schedule.reply_reminders = k;
    }
    if let Some(k) = opt_int_in(
        ctx,
        sec,
        "late_notice_after_minutes",
        0..=180,
        "between 0 (at the deadline) and 180 minutes",
        "late_notice_after_minutes = 15",
    ) {
        n.schedule.late_notice_after = chrono::Duration::minutes(k.v);
    }
    if let Some(s) = opt_str(ctx, sec, "authserv_id", r#"authserv_id = "mx.example.com""#) {
        n.authserv_id = Some(s.v.trim().to_ascii_lowercase());
    }
    if let Some(words) = parse_waiver_words(ctx, sec) {
        n.waiver_words = words;
    }
    n
}

/// `weekly_reminders = ["FRI 17:00", "SAT 18:00"]`, or the older single
/// `weekly_reminder = "SAT 18:00"`; not both. An empty list sends no weekly
/// deadline reminder.
fn parse_weekly_reminders(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>) -> Option<Vec<WeeklyDue>> {
    let example = r#"weekly_reminders = ["FRI 17:00", "SAT 18:00"]"#;
    let old = opt_str(ctx, sec, "weekly_reminder", example);
    let list = opt_str_list(ctx, sec, "weekly_reminders", example);
    let items: Vec<(String, At<String>)> = match (old, list) {
        (Some(old), Some(_)) => {
            let message = "is the older spelling of `weekly_reminders`, which is set too: \
                           remove `weekly_reminder` and keep its time in `weekly_reminders`";
            ctx.push(sec.key("weekly_reminder"), old.line, message);
            return None;
        }
        (Some(old), None) => vec![(sec.key("weekly_reminder"), old)],
        (None, Some(list)) => list
            .into_iter()
            .map(|(i, item)| (format!("{}[{i}]", sec.key("weekly_reminders")), item))
            .collect(),
        (None, None) => return None,
    };
    let mut times = Vec::new();
    for (key, item) in items {
        match item.v.trim().parse::<WeeklyDue>() {
            Ok(t) => times.push(t),
            Err(e) => ctx.push(key, item.line, e.to_string()),
        }
    }
    Some(times)
}

/// `waiver_words`: none may be blank (it would make every answer a reason);
/// an empty list turns reasons by answering a late notice off.
fn parse_waiver_words(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>) -> Option<Vec<String>> {
    let example = r#"waiver_words = ["免罚", "请假", "病假", "出差", "excuse"]"#;
    let items = opt_str_list(ctx, sec, "waiver_words", example)?;
    let mut words = Vec::new();
    for (i, item) in items {
        let word = item.v.trim().to_lowercase();
        if word.is_empty() {
            let key = format!("{}[{i}]", sec.key("waiver_words"));
            let message =
                "is empty and would make every answer to a late notice a valid reason; remove it";
            ctx.push(key, item.line, message);
        } else {
            words.push(word);
        }
    }
    Some(words)
}

fn parse_calendar(ctx: &mut Ctx<'_>, root: &Sec<'_, '_>) -> Option<Vec<PathBuf>> {
    let example = r#"calendar = ["config/calendar/cn-2026.toml"]"#;
    if !root.has("calendar") {
        ctx.push(
            "calendar",
            0,
            format!(
                "missing key `calendar`: list the official holiday calendar files, e.g. \
                 {example} (write calendar = [] to count Monday to Friday as working days)"
            ),
        );
        return None;
    }
    let list = opt_str_list(ctx, root, "calendar", example)?;
    let mut out = Vec::new();
    for (i, entry) in list {
        let key = format!("calendar[{i}]");
        let path = PathBuf::from(entry.v.trim());
        if entry.v.trim().is_empty() {
            ctx.push(
                key,
                entry.line,
                "is empty; write the path of a calendar file or remove the entry",
            );
        } else if !path.is_file() {
            ctx.push(
                key,
                entry.line,
                format!(
                    "calendar file {} {}; fix the path (relative paths are taken from the \
                     current directory{}) or remove the entry",
                    path.display(),
                    if path.exists() {
                        "is not a file"
                    } else {
                        "does not exist"
                    },
                    current_dir_note()
                ),
            );
        } else {
            out.push(path);
        }
    }
    Some(out)
}

fn current_dir_note() -> String {
    std::env::current_dir()
        .map(|d| format!(", now {}", d.display()))
        .unwrap_or_default()
}

fn parse_rules(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>) -> Rules {
    check_keys(ctx, sec, RULES_KEYS);
    let mut rules = Rules::default();
    if let Some(s) = opt_str(ctx, sec, "weekly_due", r#"weekly_due = "SAT 22:00""#) {
        match s.v.trim().parse::<WeeklyDue>() {
            Ok(v) => rules.due.weekly = v,
            Err(e) => ctx.push(
                sec.key("weekly_due"),
                s.line,
                // The period module's message says what to write.
                e.to_string(),
            ),
        }
    }
    if let Some(s) = opt_str(
        ctx,
        sec,
        "monthly_due",
        r#"monthly_due = "first-working-day""#,
    ) {
        match s.v.trim().parse::<MonthlyDue>() {
            Ok(v) => rules.due.monthly = v,
            Err(e) => ctx.push(sec.key("monthly_due"), s.line, e.to_string()),
        }
    }
    if let Some(fine) = opt_int_in(
        ctx,
        sec,
        "fine_yuan",
        1..=1_000_000,
        "the fine must be more than 0 yuan (and at most 1000000)",
        "fine_yuan = 50",
    ) {
        rules.fine = Fen::from_yuan(fine.v);
    }
    if let Some(share) = opt_int_in(
        ctx,
        sec,
        "fund_share_percent",
        0..=100,
        "a share is between 0 and 100 percent",
        "fund_share_percent = 50",
    ) && let Ok(share) = u8::try_from(share.v)
    {
        rules.fund_share_percent = share;
    }
    if let Some(hours) = opt_int_in(
        ctx,
        sec,
        "reply_within_hours",
        1..=8_760,
        "it must be at least 1 hour (and at most a year)",
        "reply_within_hours = 48",
    ) && let Ok(hours) = u32::try_from(hours.v)
    {
        rules.reply_within_hours = hours;
    }
    rules
}

fn parse_keywords(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>) -> Keywords {
    check_keys(ctx, sec, KEYWORDS_KEYS);
    let defaults = Keywords::default();
    let mut list = |k: &str, default: Vec<String>, empty_item: &str, example: &str| {
        let Some(items) = opt_str_list(ctx, sec, k, example) else {
            return default;
        };
        let mut out = Vec::new();
        for (i, item) in items {
            if item.v.trim().is_empty() {
                let message = format!("is empty and {empty_item}; remove it");
                ctx.push(format!("{}[{i}]", sec.key(k)), item.line, message);
            } else {
                out.push(item.v.to_lowercase());
            }
        }
        out
    };
    let addition = "would mark every subject as a report";
    Keywords {
        weekly: list(
            "weekly",
            defaults.weekly,
            addition,
            r#"weekly = ["例会纪要"]"#,
        ),
        monthly: list(
            "monthly",
            defaults.monthly,
            addition,
            r#"monthly = ["月度述职"]"#,
        ),
        exclude: list(
            "exclude",
            defaults.exclude,
            "would veto every subject",
            r#"exclude = ["newsletter", "周刊"]"#,
        ),
        reply_prefixes: list(
            "reply_prefixes",
            defaults.reply_prefixes,
            "would make every subject a reply",
            r#"reply_prefixes = ["re:", "回复:"]"#,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, Weekday};

    const FILE: &str = "config/test.toml";

    const MINIMAL: &str = r#"database = "var/test.sqlite3"
tracking_starts = "2026-11-02"
calendar = []

[imap]
host = "imap.example.com"
username = "assistant@example.com"
password_env = "REPORTD_IMAP_PASSWORD"

[[person]]
name = "王芳"
email = "WangFang@Example.com"
role = "supervisor"
group = "商务一组"

[[person]]
name = "张伟"
email = "zhangwei@example.com"
role = "rep"
supervisor = "wangfang@example.com"

[[person]]
name = "林晓"
email = "assistant@example.com"
role = "assistant"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(text, Path::new(FILE))
    }

    fn issues(text: &str) -> Vec<ConfigIssue> {
        match parse(text) {
            Ok(_) => panic!("expected issues, the config loaded:\n{text}"),
            Err(e) => e.0,
        }
    }

    /// MINIMAL with `from` replaced by `to` (which must occur exactly once).
    fn edit(from: &str, to: &str) -> String {
        assert_eq!(MINIMAL.matches(from).count(), 1, "{from:?} must occur once");
        MINIMAL.replace(from, to)
    }

    /// 1-based line of the only line containing `needle`.
    fn line_of(text: &str, needle: &str) -> usize {
        let lines: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.contains(needle))
            .map(|(i, _)| i + 1)
            .collect();
        assert_eq!(lines.len(), 1, "{needle:?} must be on exactly one line");
        lines[0]
    }

    /// The only issue with `key`.
    fn issue<'a>(all: &'a [ConfigIssue], key: &str) -> &'a ConfigIssue {
        let found: Vec<&ConfigIssue> = all.iter().filter(|i| i.key == key).collect();
        assert_eq!(found.len(), 1, "want one issue for {key}, got {all:#?}");
        found[0]
    }

    #[test]
    fn weekly_reminders_default_to_friday_and_saturday_and_take_a_list_or_the_old_single_key() {
        let times = |c: Config| -> Vec<String> {
            c.notify
                .schedule
                .weekly_reminders
                .iter()
                .map(|w| format!("{:?} {}", w.weekday, w.time.format("%H:%M")))
                .collect()
        };
        let c = parse(MINIMAL).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(times(c), ["Fri 17:00", "Sat 18:00"]);
        let list =
            format!("{MINIMAL}\n[notify]\nweekly_reminders = [\"THU 16:00\", \"SAT 12:00\"]\n");
        let c = parse(&list).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(times(c), ["Thu 16:00", "Sat 12:00"]);
        let old = format!("{MINIMAL}\n[notify]\nweekly_reminder = \"SAT 17:30\"\n");
        let c = parse(&old).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(times(c), ["Sat 17:30"]);
    }

    #[test]
    fn weekly_reminder_mistakes_name_the_key_and_line() {
        let both = format!(
            "{MINIMAL}\n[notify]\nweekly_reminders = [\"FRI 17:00\"]\nweekly_reminder = \"SAT 18:00\"\n"
        );
        let all = issues(&both);
        let i = issue(&all, "notify.weekly_reminder");
        assert_eq!(i.line, line_of(&both, "weekly_reminder ="));
        assert!(i.message.contains("weekly_reminders"), "{}", i.message);
        let bad = format!("{MINIMAL}\n[notify]\nweekly_reminders = [\"FRI 17:00\", \"SUNDAY\"]\n");
        let all = issues(&bad);
        let i = issue(&all, "notify.weekly_reminders[1]");
        assert_eq!(i.line, line_of(&bad, "weekly_reminders ="));
    }

    #[test]
    fn minimal_config_loads_with_defaults() {
        let c = parse(MINIMAL).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.path, PathBuf::from(FILE));
        assert_eq!(c.timezone, chrono_tz::Asia::Shanghai);
        assert_eq!(c.database, PathBuf::from("var/test.sqlite3"));
        assert_eq!(
            c.tracking_starts,
            NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()
        );
        assert!(c.calendar.is_empty());
        assert_eq!(c.language, Language::Zh);
        let SourceConfig::Imap(imap) = &c.source else {
            panic!("want IMAP")
        };
        assert_eq!(imap.port, 993);
        assert_eq!(imap.security, Security::Tls);
        assert_eq!(imap.mailbox, "INBOX");
        assert!(imap.idle);
        assert_eq!(imap.poll_seconds, 60);
        assert_eq!(imap.ca_file, None);
        assert_eq!(
            imap.password,
            PasswordSource::Env("REPORTD_IMAP_PASSWORD".into())
        );
        assert!(c.smtp.is_none());
        assert_eq!(c.rules, Rules::default());
        assert_eq!(c.rules.fine, Fen(5000));
        assert_eq!(c.rules.fund_share_percent, 50);
        assert_eq!(c.rules.reply_within_hours, 48);
        assert_eq!(c.rules.due.weekly.weekday, Weekday::Sat);
        assert_eq!(c.rules.due.monthly, MonthlyDue::FirstWorkingDay);
        assert_eq!(c.keywords, Keywords::default());
        assert_eq!(c.limits.max_message_mb, 25);
        assert_eq!(c.roster.people.len(), 3);
        let boss = &c.roster.people[0];
        assert_eq!(boss.email, "wangfang@example.com", "emails are lower-cased");
        assert_eq!(boss.group.as_deref(), Some("商务一组"));
        let rep = c.roster.by_email("ZhangWei@example.com").unwrap();
        assert_eq!(c.roster.supervisor_of(rep).unwrap().name, "王芳");
        assert_eq!(c.roster.group_of(rep), Some("商务一组"), "the supervisor's");
        assert_eq!(c.roster.assistants().count(), 1);
        assert_eq!(c.roster.reporters().count(), 1);
    }

    #[test]
    fn example_file_loads_cleanly() {
        let text = include_str!("../config/reportd.example.toml");
        let c = Config::from_toml_str(text, Path::new("config/reportd.example.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.calendar,
            vec![
                PathBuf::from("config/calendar/cn-2025.toml"),
                PathBuf::from("config/calendar/cn-2026.toml")
            ]
        );
        assert_eq!(c.roster.managers().count(), 1);
        let supervisors: Vec<_> = c
            .roster
            .people
            .iter()
            .filter(|p| p.role == Role::Supervisor)
            .collect();
        assert_eq!(supervisors.len(), 3);
        assert!(c.roster.reporters().count() >= 6);
        assert_eq!(c.roster.assistants().count(), 1);
        let smtp = c.smtp.as_ref().unwrap();
        assert_eq!(smtp.from, "报告助手 <assistant@example.com>");
        assert_eq!(smtp.port, 465);
        // The example spells out the defaults.
        assert_eq!(c.rules, Rules::default());
        assert_eq!(c.keywords, Keywords::default());
        assert_eq!(
            c.archive,
            ArchiveConfig::beside(Path::new("var/reportd.sqlite3"))
        );
        // And it loads from disk the same way.
        Config::load(Path::new("config/reportd.example.toml")).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn display_shows_file_line_key_message() {
        let i = ConfigIssue {
            file: "config/reportd.toml".into(),
            key: "person[1].supervisor".into(),
            line: 23,
            message: "no person".into(),
        };
        assert_eq!(
            i.to_string(),
            "config/reportd.toml:23: person[1].supervisor: no person"
        );
        let no_line = ConfigIssue {
            line: 0,
            key: String::new(),
            ..i
        };
        assert_eq!(no_line.to_string(), "config/reportd.toml: no person");
        let err = ConfigError(vec![no_line]);
        assert!(
            err.to_string()
                .starts_with("1 mistake(s) in the config:\n  config/")
        );
    }

    #[test]
    fn syntax_error_reports_its_line() {
        let text = MINIMAL.replace(
            r#"host = "imap.example.com""#,
            r#"host = "imap.example.com"#,
        );
        let all = issues(&text);
        assert!(!all.is_empty());
        assert_eq!(all[0].line, line_of(&text, "host ="));
        assert!(all[0].message.contains("TOML syntax error"), "{all:#?}");
    }

    #[test]
    fn duplicate_key_is_a_syntax_error_on_the_second_line() {
        let text = edit("role = \"rep\"\n", "role = \"rep\"\nrole = \"clerk\"\n");
        let all = issues(&text);
        assert_eq!(all.len(), 1, "{all:#?}");
        assert_eq!(all[0].line, line_of(&text, "role = \"clerk\""));
        assert!(all[0].message.contains("remove one of them"));
    }

    #[test]
    fn unknown_key_reports_its_line() {
        // Line 2 at the top level.
        let text = format!("timezone = \"Asia/Shanghai\"\ndatabse = \"x\"\n{MINIMAL}");
        let all = issues(&text);
        let i = issue(&all, "databse");
        assert_eq!(i.line, 2);
        assert!(
            i.message.contains("did you mean `database`"),
            "{}",
            i.message
        );
    }

    #[test]
    fn unknown_keys_in_sections_report_their_lines() {
        let text = MINIMAL
            .replace(
                "password_env = \"REPORTD_IMAP_PASSWORD\"\n",
                "password_env = \"REPORTD_IMAP_PASSWORD\"\nfolder = \"INBOX\"\n",
            )
            .replace(
                "supervisor = \"wangfang@example.com\"\n",
                "supervisor = \"wangfang@example.com\"\nmanger = \"x\"\n",
            )
            .replace("calendar = []\n", "calendar = []\n\n[imap_extra]\nq = 1\n");
        let all = issues(&text);
        assert_eq!(all.len(), 3, "{all:#?}");
        let folder = issue(&all, "imap.folder");
        assert_eq!(folder.line, line_of(&text, "folder ="));
        assert!(
            folder.message.contains("mailbox"),
            "lists known keys: {}",
            folder.message
        );
        assert_eq!(
            issue(&all, "person[1].manger").line,
            line_of(&text, "manger =")
        );
        assert_eq!(
            issue(&all, "imap_extra").line,
            line_of(&text, "[imap_extra]")
        );
        // Issues come sorted by line.
        assert!(all.windows(2).all(|w| w[0].line <= w[1].line));
    }

    #[test]
    fn unknown_supervisor_reports_the_supervisor_line() {
        let text = edit(
            "supervisor = \"wangfang@example.com\"",
            "supervisor = \"X@example.com\"",
        );
        let all = issues(&text);
        let i = issue(&all, "person[1].supervisor");
        assert_eq!(i.line, line_of(&text, "supervisor ="));
        assert_eq!(i.line, 20);
        assert!(
            i.message.contains("no person with email \"x@example.com\""),
            "{}",
            i.message
        );
        assert_eq!(
            i.to_string(),
            format!("{FILE}:20: person[1].supervisor: {}", i.message)
        );
    }

    #[test]
    fn all_issues_are_collected_at_once() {
        let text = MINIMAL
            .replace(
                "tracking_starts = \"2026-11-02\"",
                "tracking_starts = \"2026-13-02\"",
            )
            .replace("host = \"imap.example.com\"", "host = 42")
            .replace("role = \"rep\"", "role = \"salesman\"")
            .replace(
                "email = \"zhangwei@example.com\"",
                "email = \"zhangwei.example.com\"",
            );
        let all = issues(&format!("timezone = \"Asia/Shangai\"\n{text}"));
        let keys: Vec<&str> = all.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "timezone",
                "tracking_starts",
                "imap.host",
                "person[1].email",
                "person[1].role"
            ],
            "{all:#?}"
        );
        assert!(all[0].message.contains("IANA"));
        assert!(all[1].message.contains("YYYY-MM-DD"));
        assert!(all[2].message.contains("must be a string, not an integer"));
        assert!(all[3].message.contains("exactly one @"));
        assert!(
            all[4]
                .message
                .contains("rep, clerk, supervisor, manager, assistant")
        );
    }

    #[test]
    fn missing_required_keys() {
        let text = MINIMAL
            .replace("database = \"var/test.sqlite3\"\n", "")
            .replace("tracking_starts = \"2026-11-02\"\n", "")
            .replace("calendar = []\n", "")
            .replace("username = \"assistant@example.com\"\n", "")
            .replace("name = \"张伟\"\n", "");
        let all = issues(&text);
        for key in [
            "database",
            "tracking_starts",
            "calendar",
            "imap.username",
            "person[1].name",
        ] {
            issue(&all, key);
        }
        assert_eq!(issue(&all, "imap.username").line, line_of(&text, "[imap]"));
        assert_eq!(issue(&all, "database").line, 0);
        assert!(issue(&all, "calendar").message.contains("calendar = []"));
    }

    #[test]
    fn dates_accept_bare_toml_dates_and_reject_times() {
        let c = parse(&edit(
            "tracking_starts = \"2026-11-02\"",
            "tracking_starts = 2026-11-02",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.tracking_starts,
            NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()
        );

        let all = issues(&edit(
            "tracking_starts = \"2026-11-02\"",
            "tracking_starts = 2026-11-02T08:00:00",
        ));
        assert!(
            issue(&all, "tracking_starts")
                .message
                .contains("without a time")
        );
        let all = issues(&edit(
            "tracking_starts = \"2026-11-02\"",
            "tracking_starts = \"2026-02-30\"",
        ));
        issue(&all, "tracking_starts");
    }

    #[test]
    fn since_after_until_is_an_error_on_the_until_line() {
        let text = edit(
            "role = \"rep\"\n",
            "role = \"rep\"\nsince = \"2026-06-01\"\nuntil = 2026-05-31\n",
        );
        let all = issues(&text);
        let i = issue(&all, "person[1].until");
        assert_eq!(i.line, line_of(&text, "until ="));
        let ok = edit(
            "role = \"rep\"\n",
            "role = \"rep\"\nsince = \"2026-03-01\"\nuntil = \"2026-12-31\"\nlanguage = \"en\"\n",
        );
        let c = parse(&ok).unwrap_or_else(|e| panic!("{e}"));
        let rep = &c.roster.people[1];
        assert_eq!(rep.since, NaiveDate::from_ymd_opt(2026, 3, 1));
        assert_eq!(rep.until, NaiveDate::from_ymd_opt(2026, 12, 31));
        assert_eq!(rep.language, Some(Language::En));
    }

    #[test]
    fn rules_are_read_and_range_checked() {
        let text = format!(
            "{MINIMAL}\n[rules]\nfine_yuan = 80\nfund_share_percent = 40\nreply_within_hours = 24\n"
        );
        let c = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.rules.fine, Fen::from_yuan(80));
        assert_eq!(c.rules.fund_share_percent, 40);
        assert_eq!(c.rules.reply_within_hours, 24);

        let text = format!(
            "{MINIMAL}\n[rules]\nfine_yuan = 0\nfund_share_percent = 101\nreply_within_hours = 1.5\n"
        );
        let all = issues(&text);
        assert_eq!(all.len(), 3, "{all:#?}");
        assert_eq!(
            issue(&all, "rules.fine_yuan").line,
            line_of(&text, "fine_yuan")
        );
        assert!(
            issue(&all, "rules.fine_yuan")
                .message
                .contains("more than 0")
        );
        assert!(
            issue(&all, "rules.fund_share_percent")
                .message
                .contains("between 0 and 100")
        );
        assert!(
            issue(&all, "rules.reply_within_hours")
                .message
                .contains("whole number")
        );
        let all = issues(&format!("{MINIMAL}\n[rules]\nfine_yuan = -5\n"));
        issue(&all, "rules.fine_yuan");
    }

    #[test]
    fn archive_defaults_to_a_folder_beside_the_database_with_10_mib_attachments() {
        let c = parse(MINIMAL).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.archive.dir, PathBuf::from("var/archive"));
        assert_eq!(c.archive.max_attachment_mb, 10);
        assert_eq!(c.archive.max_attachment_bytes(), 10 * 1024 * 1024);
        let text = format!(
            "{MINIMAL}\n[archive]\narchive_dir = \"/srv/archive\"\nmax_attachment_mb = 0\n"
        );
        let c = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.archive.dir, PathBuf::from("/srv/archive"));
        assert_eq!(c.archive.max_attachment_bytes(), 0, "0: never attach");
    }

    #[test]
    fn archive_mistakes_name_the_key_and_line() {
        let text = format!(
            "{MINIMAL}\n[archive]\narchive_dir = \"\"\nmax_attachment_mb = 2048\nmax_attachment = 5\n"
        );
        let all = issues(&text);
        assert_eq!(all.len(), 3, "{all:#?}");
        let dir = issue(&all, "archive.archive_dir");
        assert_eq!(dir.line, line_of(&text, "archive_dir"));
        assert!(dir.message.contains("is empty"), "{}", dir.message);
        let mb = issue(&all, "archive.max_attachment_mb");
        assert_eq!(mb.line, line_of(&text, "max_attachment_mb = 2048"));
        assert!(mb.message.contains("1024"), "{}", mb.message);
        let unknown = issue(&all, "archive.max_attachment");
        assert_eq!(unknown.line, line_of(&text, "max_attachment = 5"));
        assert!(
            unknown.message.contains("max_attachment_mb"),
            "{}",
            unknown.message
        );
        assert!(all.iter().all(|i| i.file == Path::new(FILE)));
    }

    #[test]
    fn max_message_mb_is_read_and_range_checked() {
        let c = parse(&format!("{MINIMAL}\n[limits]\nmax_message_mb = 40\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.limits.max_message_mb, 40);
        assert_eq!(c.limits.max_message_bytes(), 40 << 20);

        for bad in ["0", "1001", "2.5", "\"25\""] {
            let text = format!("{MINIMAL}\n[limits]\nmax_message_mb = {bad}\n");
            let all = issues(&text);
            assert_eq!(all.len(), 1, "{bad}: {all:#?}");
            let found = issue(&all, "limits.max_message_mb");
            assert_eq!(found.line, line_of(&text, "max_message_mb"), "{bad}");
            assert!(
                found.message.contains("max_message_mb = 25"),
                "{bad}: {found:?}"
            );
        }
        let text = format!("{MINIMAL}\n[limits]\nmax_mesage_mb = 40\n");
        let all = issues(&text);
        assert_eq!(
            issue(&all, "limits.max_mesage_mb").line,
            line_of(&text, "max_mesage_mb")
        );
    }

    #[test]
    fn keep_unrelated_days_defaults_to_30_and_is_range_checked_with_its_line() {
        let c = parse(MINIMAL).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.store.keep_unrelated_days, 30);
        let c = parse(&format!("{MINIMAL}\n[store]\nkeep_unrelated_days = 7\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.store.keep_unrelated_days, 7);
        for bad in ["-1", "36501", "2.5", "\"30\""] {
            let text = format!("{MINIMAL}\n[store]\nkeep_unrelated_days = {bad}\n");
            let all = issues(&text);
            assert_eq!(all.len(), 1, "{bad}: {all:#?}");
            let found = issue(&all, "store.keep_unrelated_days");
            assert_eq!(found.file, Path::new(FILE));
            assert_eq!(found.line, line_of(&text, "keep_unrelated_days"), "{bad}");
            assert!(
                found.message.contains("keep_unrelated_days = 30"),
                "{found:?}"
            );
        }
        let text = format!("{MINIMAL}\n[store]\nkeep_unrelated = 7\n");
        let all = issues(&text);
        assert_eq!(
            issue(&all, "store.keep_unrelated").line,
            line_of(&text, "keep_unrelated")
        );
    }

    /// Parses due strings: needs `crate::period`'s FromStr impls.
    #[test]
    fn due_strings_are_parsed_and_bad_ones_reported() {
        let text = format!(
            "{MINIMAL}\n[rules]\nweekly_due = \"FRI 18:30\"\nmonthly_due = \"first-working-day\"\n"
        );
        let c = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.rules.due.weekly.weekday, Weekday::Fri);
        assert_eq!(
            c.rules.due.weekly.time,
            NaiveTime::from_hms_opt(18, 30, 0).unwrap()
        );

        let text = format!(
            "{MINIMAL}\n[rules]\nweekly_due = \"someday 25:00\"\nmonthly_due = \"last-day\"\n"
        );
        let all = issues(&text);
        assert_eq!(
            issue(&all, "rules.weekly_due").line,
            line_of(&text, "weekly_due")
        );
        assert_eq!(
            issue(&all, "rules.monthly_due").line,
            line_of(&text, "monthly_due")
        );
        assert!(issue(&all, "rules.weekly_due").message.contains("weekday"));
    }

    #[test]
    fn exactly_one_mail_source() {
        let both = format!("{MINIMAL}\n[maildir]\npath = \"/tmp/Maildir\"\n");
        let all = issues(&both);
        assert_eq!(issue(&all, "maildir").line, line_of(&both, "[maildir]"));

        let start = MINIMAL.find("[imap]").unwrap();
        let end = MINIMAL.find("[[person]]").unwrap();
        let neither = format!("{}{}", &MINIMAL[..start], &MINIMAL[end..]);
        let all = issues(&neither);
        assert!(issue(&all, "imap").message.contains("[maildir]"));

        let maildir = format!(
            "{}[maildir]\npath = \"var/Maildir\"\n\n{}",
            &MINIMAL[..start],
            &MINIMAL[end..]
        );
        let c = parse(&maildir).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.source,
            SourceConfig::Maildir(MaildirConfig {
                path: "var/Maildir".into()
            })
        );
    }

    #[test]
    fn security_and_default_ports() {
        let c = parse(&edit(
            "host = \"imap.example.com\"",
            "host = \"imap.example.com\"\nsecurity = \"starttls\"",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let SourceConfig::Imap(imap) = c.source else {
            panic!()
        };
        assert_eq!((imap.security, imap.port), (Security::Starttls, 143));

        let c = parse(&edit(
            "host = \"imap.example.com\"",
            "host = \"imap.example.com\"\nport = 10993",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let SourceConfig::Imap(imap) = c.source else {
            panic!()
        };
        assert_eq!(imap.port, 10993);

        let text = edit(
            "host = \"imap.example.com\"",
            "host = \"imap.example.com\"\nsecurity = \"ssl\"\nport = 70000",
        );
        let all = issues(&text);
        assert!(
            issue(&all, "imap.security")
                .message
                .contains("tls, starttls, plain")
        );
        assert_eq!(issue(&all, "imap.port").line, line_of(&text, "port ="));

        for (smtp_security, port) in [("tls", 465), ("starttls", 587)] {
            let text = format!(
                "{MINIMAL}\n[smtp]\nhost = \"smtp.example.com\"\nsecurity = \"{smtp_security}\"\n"
            );
            let c = parse(&text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(c.smtp.unwrap().port, port);
        }
    }

    #[test]
    fn plain_is_only_allowed_to_loopback() {
        let text = edit(
            "host = \"imap.example.com\"",
            "host = \"imap.example.com\"\nsecurity = \"plain\"",
        );
        let all = issues(&text);
        let i = issue(&all, "imap.security");
        assert_eq!(i.line, line_of(&text, "security ="));
        assert!(i.message.contains("loopback") || i.message.contains("localhost"));

        for host in ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"] {
            let text = edit(
                "host = \"imap.example.com\"",
                &format!("host = \"{host}\"\nsecurity = \"plain\""),
            );
            let c = parse(&text).unwrap_or_else(|e| panic!("{host}: {e}"));
            let SourceConfig::Imap(imap) = c.source else {
                panic!()
            };
            assert_eq!(imap.port, 143);
        }
        let smtp = format!("{MINIMAL}\n[smtp]\nhost = \"10.0.0.1\"\nsecurity = \"plain\"\n");
        issue(&issues(&smtp), "smtp.security");
        let smtp = format!("{MINIMAL}\n[smtp]\nhost = \"localhost\"\nsecurity = \"plain\"\n");
        assert_eq!(
            parse(&smtp)
                .unwrap_or_else(|e| panic!("{e}"))
                .smtp
                .unwrap()
                .port,
            25
        );
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.255.0.9",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "imap.example.com",
            "10.0.0.1",
            "128.0.0.1",
            "::2",
            "localhost.example.com",
            "",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn imap_password_source_must_be_exactly_one() {
        let none = edit("password_env = \"REPORTD_IMAP_PASSWORD\"\n", "");
        let all = issues(&none);
        let i = issue(&all, "imap.password_env");
        assert_eq!(i.line, line_of(&none, "[imap]"));
        assert!(i.message.contains("password_file"));

        let both = edit(
            "password_env = \"REPORTD_IMAP_PASSWORD\"\n",
            "password_env = \"REPORTD_IMAP_PASSWORD\"\npassword_file = \"secret\"\n",
        );
        let all = issues(&both);
        assert_eq!(
            issue(&all, "imap.password_file").line,
            line_of(&both, "password_file")
        );

        let file = edit(
            "password_env = \"REPORTD_IMAP_PASSWORD\"\n",
            "password_file = \"/etc/reportd/imap-password\"\n",
        );
        let c = parse(&file).unwrap_or_else(|e| panic!("{e}"));
        let SourceConfig::Imap(imap) = c.source else {
            panic!()
        };
        assert_eq!(
            imap.password,
            PasswordSource::File("/etc/reportd/imap-password".into())
        );

        let value = edit(
            "password_env = \"REPORTD_IMAP_PASSWORD\"",
            "password_env = \"hunter2 secret\"",
        );
        assert!(
            issue(&issues(&value), "imap.password_env")
                .message
                .contains("never the password")
        );
    }

    #[test]
    fn smtp_login_and_password_go_together() {
        let relay = format!("{MINIMAL}\n[smtp]\nhost = \"localhost\"\nsecurity = \"plain\"\n");
        let smtp = parse(&relay)
            .unwrap_or_else(|e| panic!("{e}"))
            .smtp
            .unwrap();
        assert_eq!(smtp.username, None);
        assert_eq!(smtp.password, PasswordSource::None);
        assert_eq!(
            smtp.from, "林晓 <assistant@example.com>",
            "defaults to the assistant"
        );

        let no_password = format!(
            "{MINIMAL}\n[smtp]\nhost = \"smtp.example.com\"\nusername = \"a@example.com\"\n"
        );
        issue(&issues(&no_password), "smtp.password_env");

        let no_username =
            format!("{MINIMAL}\n[smtp]\nhost = \"smtp.example.com\"\npassword_env = \"P\"\n");
        assert!(
            issue(&issues(&no_username), "smtp.password_env")
                .message
                .contains("no username")
        );

        let full = format!(
            "{MINIMAL}\n[smtp]\nhost = \"smtp.example.com\"\nusername = \"a@example.com\"\npassword_env = \"P\"\nfrom = \"报告助手 <assistant@example.com>\"\n"
        );
        let smtp = parse(&full).unwrap_or_else(|e| panic!("{e}")).smtp.unwrap();
        assert_eq!(smtp.username.as_deref(), Some("a@example.com"));
        assert_eq!(smtp.password, PasswordSource::Env("P".into()));
        assert_eq!(smtp.from, "报告助手 <assistant@example.com>");

        let bad_from =
            format!("{MINIMAL}\n[smtp]\nhost = \"localhost\"\nfrom = \"报告助手 <assistant>\"\n");
        let bad_from = bad_from.replace("<assistant>", "<assistant@@x>");
        assert_eq!(
            issue(&issues(&bad_from), "smtp.from").line,
            line_of(&bad_from, "from =")
        );
    }

    #[test]
    fn duplicate_emails_are_found_ignoring_case() {
        let text = edit(
            "email = \"assistant@example.com\"",
            "email = \"ZhangWei@EXAMPLE.com\"",
        );
        let all = issues(&text);
        let i = issue(&all, "person[2].email");
        assert_eq!(i.line, line_of(&text, "ZhangWei@EXAMPLE.com"));
        assert!(i.message.contains("person[1]"), "{}", i.message);
    }

    #[test]
    fn bad_email_shapes() {
        for bad in [
            "zhangwei",
            "a@b@c",
            "@example.com",
            "zhang wei@example.com",
            "张伟 <zw@example.com>",
            "a@",
        ] {
            let text = edit(
                "email = \"zhangwei@example.com\"",
                &format!("email = \"{bad}\""),
            );
            let all = issues(&text);
            assert!(
                all.iter().any(|i| i.key == "person[1].email"),
                "{bad}: {all:#?}"
            );
        }
    }

    #[test]
    fn reporters_need_a_real_supervisor() {
        let text = edit("supervisor = \"wangfang@example.com\"\n", "");
        let i = &issues(&text)[0];
        assert_eq!(i.key, "person[1].supervisor");
        assert_eq!(i.line, 16, "the [[person]] header");

        let text = edit(
            "supervisor = \"wangfang@example.com\"",
            "supervisor = \"assistant@example.com\"",
        );
        let all = issues(&text);
        assert!(
            issue(&all, "person[1].supervisor")
                .message
                .contains("has role \"assistant\"")
        );

        let text = edit(
            "supervisor = \"wangfang@example.com\"",
            "supervisor = \"zhangwei@example.com\"",
        );
        assert!(
            issue(&issues(&text), "person[1].supervisor")
                .message
                .contains("own supervisor")
        );

        // A manager may supervise directly.
        let text = edit("role = \"supervisor\"", "role = \"manager\"");
        parse(&text).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn supervisor_key_on_a_non_reporter_is_a_mistake() {
        let text = edit(
            "role = \"assistant\"\n",
            "role = \"assistant\"\nsupervisor = \"wangfang@example.com\"\n",
        );
        let all = issues(&text);
        let i = issue(&all, "person[2].supervisor");
        assert_eq!(i.line, 26, "the line after role = \"assistant\"");
        assert!(i.message.contains("remove this key"));
    }

    #[test]
    fn at_least_one_assistant() {
        let text = edit("role = \"assistant\"", "role = \"manager\"");
        let all = issues(&text);
        assert!(
            issue(&all, "person")
                .message
                .contains("role = \"assistant\"")
        );
        // A mistyped role is reported once, not also as "no assistant".
        let text = edit("role = \"assistant\"", "role = \"assisstant\"");
        let all = issues(&text);
        assert_eq!(all.len(), 1, "{all:#?}");
        assert_eq!(all[0].key, "person[2].role");
    }

    #[test]
    fn calendar_paths_must_exist() {
        let text = edit(
            "calendar = []",
            "calendar = [\n  \"Cargo.toml\",\n  \"config/calendar/no-such-year.toml\",\n]",
        );
        let all = issues(&text);
        assert_eq!(all.len(), 1, "{all:#?}");
        let i = issue(&all, "calendar[1]");
        assert_eq!(i.line, line_of(&text, "no-such-year"));
        assert!(i.message.contains("does not exist"));
    }

    #[test]
    fn keyword_lists_are_additions_and_exclusions_and_are_lower_cased() {
        let text = format!(
            "{MINIMAL}\n[keywords]\nweekly = [\"Weekly Report\", \"周报\"]\nexclude = [\"Digest\"]\n"
        );
        let c = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.keywords.weekly, ["weekly report", "周报"]);
        assert_eq!(c.keywords.monthly, Keywords::default().monthly);
        assert_eq!(c.keywords.exclude, ["digest"]);
        assert_eq!(
            c.keywords.reply_prefixes,
            Keywords::default().reply_prefixes
        );

        // Empty lists are fine now (the shape recognises reports); empty
        // words and non-strings are not.
        let text = format!(
            "{MINIMAL}\n[keywords]\nmonthly = []\nweekly = [\"周报\", \"\", 3]\nexclude = [\" \"]\n"
        );
        let all = issues(&text);
        assert_eq!(all.len(), 3, "{all:#?}");
        issue(&all, "keywords.weekly[1]");
        issue(&all, "keywords.weekly[2]");
        assert!(
            issue(&all, "keywords.exclude[0]")
                .message
                .contains("veto every subject")
        );
    }

    #[test]
    fn an_old_config_with_the_former_default_keywords_still_loads() {
        let text = format!(
            "{MINIMAL}\n[keywords]\nweekly = [\"周报\", \"周总结\", \"周工作总结\", \"工作周报\", \"weekly report\", \"week report\"]\n\
             monthly = [\"月报\", \"月度总结\", \"月工作总结\", \"月度报告\", \"工作月报\", \"monthly report\", \"month report\"]\n\
             reply_prefixes = [\"re:\", \"re：\", \"回复:\", \"回复：\", \"答复:\", \"答复：\", \"fw:\", \"fwd:\", \"转发:\", \"转发：\", \"aw:\", \"wg:\"]\n"
        );
        let c = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.keywords.weekly.len(), 6);
        assert_eq!(c.keywords.monthly.len(), 7);
        assert_eq!(c.keywords.exclude, Keywords::default().exclude);
    }

    #[test]
    fn mail_from_an_alias_is_the_persons() {
        let text = edit(
            "supervisor = \"wangfang@example.com\"\n",
            "supervisor = \"wangfang@example.com\"\naliases = [\"ZhangWei1985@163.com\", \"zw@qq.com\"]\n",
        );
        let c = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        let zhang = c.roster.by_email("zhangwei1985@163.COM").unwrap();
        assert_eq!(zhang.email, "zhangwei@example.com");
        assert_eq!(zhang.aliases, ["zhangwei1985@163.com", "zw@qq.com"]);
        assert_eq!(c.roster.by_email("zw@qq.com").unwrap().name, "张伟");
        assert!(c.roster.by_email("nobody@qq.com").is_none());
    }

    #[test]
    fn alias_clashes_are_named_with_key_and_line() {
        // Another person's email, the person's own email, another alias.
        let text = edit(
            "supervisor = \"wangfang@example.com\"\n",
            "supervisor = \"wangfang@example.com\"\naliases = [\"zw@qq.com\", \"WANGFANG@example.com\", \"zhangwei@example.com\"]\n",
        )
        .replace(
            "role = \"assistant\"\n",
            "role = \"assistant\"\naliases = [\"ZW@qq.com\", \"not an address\"]\n",
        );
        let all = issues(&text);
        assert_eq!(all.len(), 4, "{all:#?}");
        let line = line_of(&text, "aliases = [\"zw@qq.com\"");
        let i = issue(&all, "person[1].aliases[1]");
        assert_eq!(i.line, line);
        assert!(i.message.contains("email of person[0]"), "{}", i.message);
        let i = issue(&all, "person[1].aliases[2]");
        assert!(i.message.contains("own email"), "{}", i.message);
        let i = issue(&all, "person[2].aliases[0]");
        assert_eq!(i.line, line_of(&text, "aliases = [\"ZW@qq.com\""));
        assert!(
            i.message
                .contains(&format!("person[1].aliases[0] (line {line})")),
            "{}",
            i.message
        );
        assert!(
            issue(&all, "person[2].aliases[1]")
                .message
                .contains("not an email address")
        );
        assert!(i.to_string().starts_with(&format!("{FILE}:")), "{i}");
    }

    #[test]
    fn a_supervisor_given_by_alias_is_pointed_to_the_main_address() {
        let text = edit(
            "group = \"商务一组\"\n",
            "group = \"商务一组\"\naliases = [\"fang@163.com\"]\n",
        )
        .replace(
            "supervisor = \"wangfang@example.com\"",
            "supervisor = \"fang@163.com\"",
        );
        let all = issues(&text);
        let i = issue(&all, "person[1].supervisor");
        assert!(
            i.message.contains("alias of person[0] (王芳)")
                && i.message.contains("\"wangfang@example.com\""),
            "{}",
            i.message
        );
    }

    #[test]
    fn names_are_found_in_text_longest_first() {
        let people = ["张伟", "张伟华", "周明", "x"]
            .iter()
            .map(|n| Person {
                name: n.to_string(),
                email: format!("{}@example.com", n.len()),
                aliases: Vec::new(),
                role: Role::Rep,
                group: None,
                supervisor: None,
                since: None,
                until: None,
                language: None,
            })
            .collect();
        let roster = Roster::new(people);
        let text = "张伟华 周明周报 x 张伟";
        let found: Vec<&str> = roster
            .names_in(text)
            .into_iter()
            .map(|r| &text[r])
            .collect();
        assert_eq!(found, ["张伟华", "周明", "张伟"]);
    }

    #[test]
    fn wrong_types_name_what_is_expected() {
        let text = format!("{MINIMAL}\nlanguage = \"fr\"\n").replace(
            "calendar = []",
            "calendar = \"config/calendar/cn-2026.toml\"",
        );
        // `language` after [[person]] belongs to the last person.
        let all = issues(&text);
        assert!(issue(&all, "calendar").message.contains("list of strings"));
        assert!(issue(&all, "person[2].language").message.contains("zh, en"));

        let text = format!(
            "imap = \"imap.example.com\"\n{}",
            &MINIMAL[MINIMAL.find("[[person]]").unwrap()..]
        );
        let text =
            format!("database = \"x\"\ntracking_starts = \"2026-11-02\"\ncalendar = []\n{text}");
        assert!(
            issue(&issues(&text), "imap")
                .message
                .contains("must be a table")
        );

        let text = edit(
            "host = \"imap.example.com\"",
            "host = \"imap.example.com\"\nidle = \"yes\"",
        );
        assert!(
            issue(&issues(&text), "imap.idle")
                .message
                .contains("true or false")
        );
    }

    #[test]
    fn load_reports_unreadable_files() {
        let e = Config::load(Path::new("config/no-such-config.toml")).unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert_eq!(e.0[0].line, 0);
        assert!(e.0[0].message.contains("cannot read"));
    }

    #[test]
    fn check_secrets_reports_unusable_passwords() {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("reportd.toml");
        let empty_secret = dir.path().join("empty");
        std::fs::write(&empty_secret, "\n").unwrap();
        let good_secret = dir.path().join("good");
        std::fs::write(&good_secret, "s3cret\n").unwrap();

        let text = format!(
            "{}\n[smtp]\nhost = \"smtp.example.com\"\nusername = \"a@example.com\"\npassword_file = \"{}\"\n",
            MINIMAL.replace(
                "REPORTD_IMAP_PASSWORD",
                "REPORTD_TEST_VARIABLE_THAT_IS_NEVER_SET_71"
            ),
            empty_secret.display()
        );
        std::fs::write(&config_path, &text).unwrap();
        let c = Config::load(&config_path).unwrap_or_else(|e| panic!("{e}"));
        let found = c.check_secrets();
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!(found[0].key, "imap.password_env");
        assert_eq!(found[0].line, line_of(&text, "password_env"));
        assert!(found[0].message.contains("is not set"));
        assert_eq!(found[1].key, "smtp.password_file");
        assert_eq!(found[1].line, line_of(&text, "password_file"));
        assert!(found[1].message.contains("is empty"));
        assert!(Config::check(&config_path).is_err());

        // PATH is always set; the good file has a password.
        let text = text
            .replace("REPORTD_TEST_VARIABLE_THAT_IS_NEVER_SET_71", "PATH")
            .replace(
                &empty_secret.display().to_string(),
                &good_secret.display().to_string(),
            );
        std::fs::write(&config_path, &text).unwrap();
        let c = Config::check(&config_path).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.check_secrets().is_empty());

        // A missing file.
        let missing = text.replace(
            &good_secret.display().to_string(),
            "/nonexistent/reportd-secret",
        );
        std::fs::write(&config_path, &missing).unwrap();
        let e = Config::check(&config_path).unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert!(e.0[0].message.contains("cannot read password file"));
    }

    #[test]
    fn check_requires_an_existing_maildir() {
        let dir = tempfile::tempdir().unwrap();
        let start = MINIMAL.find("[imap]").unwrap();
        let end = MINIMAL.find("[[person]]").unwrap();
        let text = format!(
            "{}[maildir]\npath = \"{}\"\n\n{}",
            &MINIMAL[..start],
            dir.path().join("Maildir").display(),
            &MINIMAL[end..]
        );
        let config_path = dir.path().join("reportd.toml");
        std::fs::write(&config_path, &text).unwrap();
        let e = Config::check(&config_path).unwrap_err();
        assert_eq!(e.0[0].key, "maildir.path");
        assert_eq!(e.0[0].line, line_of(&text, "path ="));
        std::fs::create_dir(dir.path().join("Maildir")).unwrap();
        Config::check(&config_path).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn choices_round_trip() {
        for r in [
            Role::Rep,
            Role::Clerk,
            Role::Supervisor,
            Role::Manager,
            Role::Assistant,
        ] {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        for s in [Security::Tls, Security::Starttls, Security::Plain] {
            assert_eq!(s.as_str().parse::<Security>(), Ok(s));
        }
        for l in [Language::Zh, Language::En] {
            assert_eq!(l.as_str().parse::<Language>(), Ok(l));
        }
    }
}
