//! Integration-test harness: a private, real Dovecot and a real Postfix per
//! test.
//!
//! Use it from a test file with `mod common;` and
//! `let mail = common::MailServers::start(&["assistant", "rep1"]);`.
//!
//! Each `MailServers::start` creates a fresh temp dir (`/tmp/reportd-mail-*`,
//! mode 0755 so the `dovecot` and `postfix` users can traverse it) holding:
//!
//! - `tls/cert.pem`, `tls/key.pem`: a self-signed certificate for
//!   `127.0.0.1` (`basicConstraints=critical,CA:FALSE`, SAN `IP:127.0.0.1`,
//!   `DNS:localhost`), accepted by rustls when `cert.pem` is the trust anchor
//!   ([`MailServers::ca_pem`], what reportd's `ca_file` takes).
//! - `dovecot/`: Dovecot started with `dovecot -F -c dovecot/dovecot.conf`
//!   as a child of the test process: IMAP (STARTTLS offered, IDLE) on
//!   [`MailServers::imap_port`], implicit-TLS IMAPS on
//!   [`MailServers::imaps_port`], LMTP on an internal port. Virtual users
//!   `NAME@example.com` from a passwd-file, all with [`PASSWORD`]; logging in
//!   as the bare local part works too (`auth_default_realm`). Mail is stored
//!   as Maildir under `mail/example.com/NAME/Maildir`, owned by uid/gid
//!   65534. Log: `dovecot/dovecot.log`.
//! - `postfix/`: a private Postfix (`postfix -c postfix/etc start`) with its
//!   own queue directory. SMTP on [`MailServers::smtp_port`] (STARTTLS
//!   offered, AUTH PLAIN/LOGIN with the users' password allowed without TLS,
//!   and no AUTH needed from 127.0.0.1) and implicit-TLS SMTPS on
//!   [`MailServers::smtps_port`]. Mail to the users is delivered to Dovecot
//!   over LMTP; unknown `@example.com` recipients are refused at RCPT (550);
//!   anything else is accepted and then bounced by `default_transport =
//!   error:`, so nothing leaves the machine. Log: `postfix/postfix.log`.
//!
//! All listeners are on `127.0.0.1` on ports picked free at start (a start
//! that loses a port race is retried with new ports). Instances are fully
//! independent, so tests may run in parallel. `Drop` stops both servers
//! (Postfix with `postfix stop`, Dovecot with SIGTERM to its master, SIGKILL
//! after 10 s) and removes the temp dir; set `REPORTD_KEEP_MAIL_DIR=1` to keep
//! it for a post-mortem. A start that fails panics with the servers' logs.
//!
//! Requirements: root (a private Postfix only starts as root) and the
//! packages installed by `scripts/install-test-deps` (`scripts/test` runs it).
//!
//! API (sync functions block; async ones need a Tokio runtime):
//!
//! ```text
//! MailServers::start(users: &[&str]) -> MailServers          // local parts or NAME@example.com
//! .imap_port() / .imaps_port() / .smtp_port() / .smtps_port() -> u16
//! .host() -> &str ("127.0.0.1")   .password() -> &str   .ca_pem() -> &Path   .dir() -> &Path
//! .address(user) -> String                                   // "rep1" -> "rep1@example.com"
//! .tls_config() -> Arc<rustls::ClientConfig>                 // ring provider, trusts only ca_pem()
//! async .imap_session(user) / .imaps_session(user) -> Result<Session<..>> // logged in
//! async .append(user, mailbox, raw, internaldate) -> Result<u32>         // APPEND; returns the new UID
//! async .smtp_send(from, to, raw) -> Result<()>             // lettre over plain SMTP to Postfix
//! async .fetch_all(user, mailbox) -> Result<Vec<Fetched>>   // EXAMINE + UID FETCH 1:*, sorted by UID
//! async .wait_for(user, mailbox, count, timeout) -> Result<Vec<Fetched>>
//! async .uid_validity(user, mailbox) -> Result<u32>
//! .change_uidvalidity(user, mailbox) -> u32                  // new UIDVALIDITY, same UIDs
//! .renumber_uids(user, mailbox) -> u32                       // new UIDVALIDITY, UIDs reversed
//! .set_recipient_rule(address_or_domain, RecipientRule::{Accept, TempFail, PermFail})
//! .stop_smtp() / .start_smtp()                               // SMTP port refuses connections
//! .dovecot_log() / .postfix_log() -> String
//! ```
//!
//! Things worth knowing:
//! - Maildir keeps INTERNALDATE as a timestamp: the instant survives an
//!   APPEND, the UTC offset does not (Dovecot answers in the machine's zone).
//!   `DateTime<FixedOffset>` `==` compares instants, so compare with `==`.
//! - Mailbox hierarchy separator is `.` (Maildir++ layout).
//! - Dovecot delays IDLE notifications by 0.5 s; LMTP delivers in parallel,
//!   so UIDs follow delivery order, not send order.
//! - Each SMTP connection gets a fresh `smtpd` (`max_use=1`), so a
//!   `set_recipient_rule` applies to the next connection, not to one already
//!   open (mind lettre's connection pool).

#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, FixedOffset};
use futures::TryStreamExt;

/// The mail domain every test user lives in.
pub const DOMAIN: &str = "example.com";
/// The password of every test user (IMAP login and SMTP AUTH).
pub const PASSWORD: &str = "test-password";
/// Where the private servers listen.
pub const HOST: &str = "127.0.0.1";

/// uid/gid that owns the Maildirs (`nobody`/`nogroup` on Debian).
const MAIL_UID: u32 = 65534;
const MAIL_GID: u32 = 65534;
/// How long a server may take to come up before the start is declared failed.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Per-operation limit for the IMAP/SMTP helpers.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// One message read back over IMAP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub uid: u32,
    pub internal_date: DateTime<FixedOffset>,
    /// The message exactly as stored (`BODY.PEEK[]`).
    pub raw: Vec<u8>,
    /// IMAP spelling, e.g. `\Seen`, `$Forwarded` (`\Recent` included when set).
    pub flags: Vec<String>,
}

/// How Postfix answers `RCPT TO` for an address or domain (see
/// [`MailServers::set_recipient_rule`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientRule {
    /// Normal behaviour (the rule is removed).
    Accept,
    /// `450 4.2.0 ... temporarily refused by the test harness`.
    TempFail,
    /// `550 5.7.1 ... permanently refused by the test harness`.
    PermFail,
}

pub type PlainSession = async_imap::Session<tokio::net::TcpStream>;
pub type TlsSession = async_imap::Session<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

/// A private Dovecot + Postfix pair; see the module documentation.
pub struct MailServers {
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    cert: PathBuf,
    users: Vec<String>,
    imap_port: u16,
    imaps_port: u16,
    lmtp_port: u16,
    smtp_port: u16,
    smtps_port: u16,
    dovecot: Option<Child>,
    postfix_running: AtomicBool,
    recipient_rules: Mutex<BTreeMap<String, RecipientRule>>,
}

/// Why a start attempt failed; `retry` when it looks like a lost port race.
struct StartError {
    retry: bool,
    message: String,
}

impl MailServers {
    /// Starts a fresh Dovecot + Postfix with these users (local parts or
    /// full `@example.com` addresses). Blocks until both answer (typically
    /// well under a second). Panics with the servers' logs on failure.
    pub fn start(users: &[&str]) -> MailServers {
        check_prerequisites();
        let users: Vec<String> = users.iter().map(|u| address(u)).collect();
        let mut last = String::new();
        for attempt in 1..=3 {
            match Self::try_start(&users) {
                Ok(servers) => return servers,
                Err(e) if e.retry && attempt < 3 => {
                    eprintln!("mail harness: start attempt {attempt} lost a port race, retrying");
                    last = e.message;
                }
                Err(e) => panic!("mail harness: could not start Dovecot + Postfix:\n{}", e.message),
            }
        }
        panic!("mail harness: could not start Dovecot + Postfix:\n{last}")
    }

    fn try_start(users: &[String]) -> Result<MailServers, StartError> {
        let ports = free_ports(5);
        let dir = tempfile::Builder::new()
            .prefix("reportd-mail-")
            .tempdir()
            .map_err(|e| fatal(format!("cannot create temp dir: {e}")))?;
        let root = dir.path().to_path_buf();
        let mut servers = MailServers {
            dir: Some(dir),
            cert: root.join("tls/cert.pem"),
            root,
            users: users.to_vec(),
            imap_port: ports[0],
            imaps_port: ports[1],
            lmtp_port: ports[2],
            smtp_port: ports[3],
            smtps_port: ports[4],
            dovecot: None,
            postfix_running: AtomicBool::new(false),
            recipient_rules: Mutex::new(BTreeMap::new()),
        };
        // From here on, an early return drops `servers`, which stops whatever
        // was started and removes the dir.
        servers.write_files().map_err(|e| {
            fatal(format!("cannot prepare {}: {e:#}", servers.root.display()))
        })?;
        servers.start_dovecot()?;
        servers.start_postfix()?;
        Ok(servers)
    }

    // ----- accessors -------------------------------------------------------

    pub fn host(&self) -> &str {
        HOST
    }
    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }
    pub fn imaps_port(&self) -> u16 {
        self.imaps_port
    }
    pub fn smtp_port(&self) -> u16 {
        self.smtp_port
    }
    pub fn smtps_port(&self) -> u16 {
        self.smtps_port
    }
    pub fn password(&self) -> &str {
        PASSWORD
    }
    /// The self-signed certificate (PEM) to trust, e.g. as reportd's `ca_file`.
    pub fn ca_pem(&self) -> &Path {
        &self.cert
    }
    /// The instance's temp dir (configs, logs, Maildirs, Postfix queue).
    pub fn dir(&self) -> &Path {
        &self.root
    }
    /// The full address of a user: `"rep1"` → `"rep1@example.com"`.
    pub fn address(&self, user: &str) -> String {
        address(user)
    }
    pub fn dovecot_log(&self) -> String {
        read_lossy(&self.root.join("dovecot/dovecot.log"))
            + &read_lossy(&self.root.join("dovecot/stdio.log"))
    }
    pub fn postfix_log(&self) -> String {
        read_lossy(&self.root.join("postfix/postfix.log"))
            + &read_lossy(&self.root.join("postfix/start.log"))
    }
}
