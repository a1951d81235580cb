//! The mail endpoints of the config: the IMAP mailbox (or a local
//! Maildir) reportd reads and the SMTP server it sends through, with their
//! security, ports and where their passwords come from.

use std::net::IpAddr;
use std::path::PathBuf;

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Tls,
    Starttls,
    /// Only allowed to a loopback host.
    Plain,
}

/// Where a password comes from; the password itself is never stored here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    Env(String),
    File(PathBuf),
    /// No login (e.g. an SMTP relay on the same host).
    None,
}

/// A password read at the moment it is needed; `Debug` never shows it.
#[derive(Clone)]
pub struct Password(pub String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("environment variable {0} is not set: export it or use password_file")]
    EnvMissing(String),
    #[error("cannot read password file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl PasswordSource {
    /// Reads the password now (trailing newline of a file trimmed).
    pub fn read(&self) -> Result<Option<Password>, PasswordError> {
        match self {
            PasswordSource::Env(name) => std::env::var(name)
                .map(|v| Some(Password(v)))
                .map_err(|_| PasswordError::EnvMissing(name.clone())),
            PasswordSource::File(path) => std::fs::read_to_string(path)
                .map(|v| Some(Password(v.trim_end_matches(['\r', '\n']).to_string())))
                .map_err(|source| PasswordError::File {
                    path: path.clone(),
                    source,
                }),
            PasswordSource::None => Ok(None),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub password: PasswordSource,
    pub mailbox: String,
    /// Extra PEM CA bundle to trust (e.g. a private CA); system roots are
    /// always trusted.
    pub ca_file: Option<PathBuf>,
    /// Use IDLE when the server offers it (default true).
    pub idle: bool,
    /// Polling interval when IDLE is off or unavailable (default 60).
    pub poll_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaildirConfig {
    pub path: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceConfig {
    Imap(ImapConfig),
    Maildir(MaildirConfig),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: PasswordSource,
    pub ca_file: Option<PathBuf>,
    /// Display name and address, e.g. `报告助手 <assistant@example.com>`.
    pub from: String,
}

impl Security {
    /// The IMAP port used when `port` is omitted: 993 for TLS, else 143.
    pub fn default_imap_port(self) -> u16 {
        match self {
            Security::Tls => 993,
            Security::Starttls | Security::Plain => 143,
        }
    }

    /// The SMTP port used when `port` is omitted: 465 for TLS, 587 for
    /// STARTTLS (submission), 25 for plain (a local relay).
    pub fn default_smtp_port(self) -> u16 {
        match self {
            Security::Tls => 465,
            Security::Starttls => 587,
            Security::Plain => 25,
        }
    }
}

/// Whether `host` is this machine: `localhost`, 127.0.0.0/8 or `::1`
/// (brackets around an IPv6 address are allowed). Only such a host may be
/// reached with `security = "plain"`.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    if host.eq_ignore_ascii_case("localhost") || host.eq_ignore_ascii_case("localhost.") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The IMAP mailbox read when `imap.mailbox` is omitted.
pub const DEFAULT_MAILBOX: &str = "INBOX";
/// The polling interval when `imap.poll_seconds` is omitted.
pub const DEFAULT_POLL_SECONDS: u64 = 60;
pub(super) const IMAP_KEYS: &[&str] = &[
    "host",
    "port",
    "security",
    "username",
    "password_env",
    "password_file",
    "mailbox",
    "ca_file",
    "idle",
    "poll_seconds",
];
pub(super) const MAILDIR_KEYS: &[&str] = &["path"];
pub(super) const SMTP_KEYS: &[&str] = &[
    "host",
    "port",
    "security",
    "username",
    "password_env",
    "password_file",
    "ca_file",
    "from",
];
/// An optional file that must exist now (`ca_file`).
pub(super) fn opt_existing_file(
    ctx: &mut Ctx<'_>,
    sec: &Sec<'_, '_>,
    k: &str,
    example: &str,
) -> Option<PathBuf> {
    let s = opt_str(ctx, sec, k, example)?;
    let path = PathBuf::from(s.v.trim());
    if path.is_file() {
        Some(path)
    } else {
        ctx.push(
            sec.key(k),
            s.line,
            format!(
                "{} {}; fix the path (relative paths are taken from the current directory{}) \
                 or remove the key",
                path.display(),
                if path.exists() {
                    "is not a file"
                } else {
                    "does not exist"
                },
                current_dir_note()
            ),
        );
        None
    }
}

/// `security` (default tls) and `port` (default by security and protocol),
/// plus the rule that plain text goes only to a loopback host.
pub(super) fn parse_endpoint(
    ctx: &mut Ctx<'_>,
    sec: &Sec<'_, '_>,
    host: Option<&At<String>>,
    default_port: fn(Security) -> u16,
    example_host: &str,
) -> (Security, u16) {
    let security = opt_choice::<Security>(ctx, sec, "security", r#"security = "tls""#);
    if let (Some(security), Some(host)) = (&security, host)
        && security.v == Security::Plain
        && !is_loopback_host(&host.v)
    {
        ctx.push(
            sec.key("security"),
            security.line,
            format!(
                "security = \"plain\" would send the password unencrypted to \"{}\"; plain is \
                 only allowed to this machine (localhost, 127.0.0.1, ::1). Use \"tls\" or \
                 \"starttls\" for {example_host}",
                host.v
            ),
        );
    }
    let security = security.map_or(Security::Tls, |s| s.v);
    let port = opt_int_in(
        ctx,
        sec,
        "port",
        1..=65535,
        "a port is between 1 and 65535",
        &format!("port = {}", default_port(security)),
    )
    .and_then(|p| u16::try_from(p.v).ok())
    .unwrap_or_else(|| default_port(security));
    (security, port)
}

/// `password_env` / `password_file`: at most one; `login` says whether one is
/// required (there is a username) or forbidden (there is none).
pub(super) fn parse_password(
    ctx: &mut Ctx<'_>,
    sec: &Sec<'_, '_>,
    login: bool,
    what: &str,
) -> Option<PasswordSource> {
    let env = opt_str(
        ctx,
        sec,
        "password_env",
        r#"password_env = "REPORTD_IMAP_PASSWORD""#,
    );
    let file = opt_str(
        ctx,
        sec,
        "password_file",
        r#"password_file = "/etc/reportd/imap-password""#,
    );
    if let Some(env) = &env
        && (env.v.contains('=') || env.v.contains('\0') || env.v.chars().any(char::is_whitespace))
    {
        ctx.push(
            sec.key("password_env"),
            env.line,
            format!(
                "\"{}\" is not an environment variable name; write the name only, e.g. \
                 password_env = \"REPORTD_IMAP_PASSWORD\" (never the password itself)",
                env.v
            ),
        );
        return None;
    }
    match (env, file) {
        (Some(_), Some(file)) => {
            ctx.push(
                sec.key("password_file"),
                file.line,
                "both password_env and password_file are set; keep only one of them",
            );
            None
        }
        (Some(_) | None, Some(_) | None) if !login => {
            if sec.has("password_env") || sec.has("password_file") {
                let key = if sec.has("password_env") {
                    "password_env"
                } else {
                    "password_file"
                };
                let line = sec.get(key).map_or(sec.line, |i| ctx.line(i.span()));
                ctx.push(
                    sec.key(key),
                    line,
                    format!(
                        "a password is configured but no username; add username = \"...\" for \
                         the {what} login, or remove the password for a server that needs no \
                         login"
                    ),
                );
                return None;
            }
            Some(PasswordSource::None)
        }
        (Some(env), None) => Some(PasswordSource::Env(env.v.trim().to_string())),
        (None, Some(file)) => Some(PasswordSource::File(PathBuf::from(file.v.trim()))),
        (None, None) => {
            if !sec.has("password_env") && !sec.has("password_file") {
                ctx.push(
                    sec.key("password_env"),
                    sec.line,
                    format!(
                        "no {what} password source; add password_env = \"NAME\" (an \
                         environment variable holding the password) or password_file = \
                         \"path\" (a file holding it)"
                    ),
                );
            }
            None
        }
    }
}

pub(super) fn parse_imap(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>) -> Option<ImapConfig> {
    check_keys(ctx, sec, IMAP_KEYS);
    let host = req_str(ctx, sec, "host", r#"host = "imap.example.com""#);
    let (security, port) = parse_endpoint(
        ctx,
        sec,
        host.as_ref(),
        Security::default_imap_port,
        "the IMAP server",
    );
    let username = req_str(
        ctx,
        sec,
        "username",
        r#"username = "assistant@example.com""#,
    );
    let password = parse_password(ctx, sec, true, "IMAP");
    let mailbox = opt_str(ctx, sec, "mailbox", r#"mailbox = "INBOX""#)
        .map_or_else(|| DEFAULT_MAILBOX.to_string(), |s| s.v);
    let ca_file = opt_existing_file(ctx, sec, "ca_file", r#"ca_file = "/etc/reportd/ca.pem""#);
    let idle = opt_bool(ctx, sec, "idle", "idle = true").unwrap_or(true);
    let poll_seconds = opt_int_in(
        ctx,
        sec,
        "poll_seconds",
        1..=86_400,
        "it must be between 1 and 86400 seconds",
        "poll_seconds = 60",
    )
    .and_then(|p| u64::try_from(p.v).ok())
    .unwrap_or(DEFAULT_POLL_SECONDS);
    Some(ImapConfig {
        host: host?.v.trim().to_string(),
        port,
        security,
        username: username?.v,
        password: password?,
        mailbox,
        ca_file,
        idle,
        poll_seconds,
    })
}

pub(super) fn parse_maildir(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>) -> Option<MaildirConfig> {
    check_keys(ctx, sec, MAILDIR_KEYS);
    let path = req_str(ctx, sec, "path", r#"path = "/var/mail/assistant/Maildir""#)?;
    Some(MaildirConfig {
        path: PathBuf::from(path.v.trim()),
    })
}

pub(super) fn parse_smtp(
    ctx: &mut Ctx<'_>,
    sec: &Sec<'_, '_>,
    roster: &Roster,
) -> Option<SmtpConfig> {
    check_keys(ctx, sec, SMTP_KEYS);
    let host = req_str(ctx, sec, "host", r#"host = "smtp.example.com""#);
    let (security, port) = parse_endpoint(
        ctx,
        sec,
        host.as_ref(),
        Security::default_smtp_port,
        "the SMTP server",
    );
    let username = opt_str(
        ctx,
        sec,
        "username",
        r#"username = "assistant@example.com""#,
    );
    let login = username.is_some() || sec.has("username");
    let password = parse_password(ctx, sec, login, "SMTP");
    let ca_file = opt_existing_file(ctx, sec, "ca_file", r#"ca_file = "/etc/reportd/ca.pem""#);
    let example_from = r#"from = "报告助手 <assistant@example.com>""#;
    let from = match opt_str(ctx, sec, "from", example_from) {
        Some(from) => {
            if let Some(problem) = from_problem(&from.v) {
                ctx.push(sec.key("from"), from.line, problem);
            }
            Some(from.v.trim().to_string())
        }
        None if sec.has("from") => None,
        // No assistant: parse_people has already said so.
        None => roster
            .assistants()
            .next()
            .map(|a| format!("{} <{}>", a.name, a.email)),
    };
    Some(SmtpConfig {
        host: host?.v.trim().to_string(),
        port,
        security,
        username: username.map(|u| u.v),
        password: password?,
        ca_file,
        from: from?,
    })
}
