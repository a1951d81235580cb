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
//! independent, so tests may run in parallel. A start takes about 0.4 s,
//! mostly `postfix start`'s own checks. `Drop` stops both servers (Postfix
//! with `postfix stop`; Dovecot with SIGTERM, then SIGKILL as soon as only
//! its log process is left, which skips the master's fixed 1 s exit sleep)
//! and removes the temp dir: about 40 ms. Set `REPORTD_KEEP_MAIL_DIR=1` to
//! keep the dir for a post-mortem. A start that fails panics with the
//! servers' logs; `wait_for` timeouts carry them too.
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
//! async .append(user, mailbox, raw, internaldate) -> Result<()>  // APPEND; creates the mailbox if missing
//! async .smtp_send(from, to, raw) -> Result<()>             // lettre, plain SMTP to Postfix, no AUTH
//! async .fetch_all(user, mailbox) -> Result<Vec<Fetched>>   // EXAMINE + UID FETCH 1:*, sorted by UID
//! async .wait_for(user, mailbox, count, timeout) -> Result<Vec<Fetched>>
//! async .uid_validity(user, mailbox) -> Result<u32>
//! .change_uidvalidity(user, mailbox) -> u32                  // new UIDVALIDITY, same UIDs
//! .renumber_uids(user, mailbox) -> u32                       // new UIDVALIDITY, UIDs reversed
//! .set_recipient_rule(address_or_domain, RecipientRule::{Accept, TempFail, PermFail})
//! .stop_smtp() / .start_smtp()                               // SMTP port refuses connections
//! .kill_dovecot() / .restart_dovecot()                       // SIGKILL the IMAP server, start it again
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
//! - Postfix retries deferred mail quickly (`queue_run_delay = 1s`, backoff
//!   1–5 s). `stop_smtp` stops all of Postfix: queued mail waits too.
//! - Wrong passwords are answered at once (`auth_failure_delay = 0`, no
//!   per-IP auth penalty), so failed-login tests do not slow later logins.
//! - Postfix makes each new process wait ~2 s while `main.cf` or a lookup
//!   table is younger than a few seconds; the harness backdates the files it
//!   writes. Edit nothing under `postfix/etc` yourself without doing so.

#![allow(dead_code)]

pub mod stall;

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write as _};
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
        let users: Vec<String> = users.iter().map(|u| address(u).to_lowercase()).collect();
        let mut last = String::new();
        for attempt in 1..=3 {
            match Self::try_start(&users) {
                Ok(servers) => return servers,
                Err(e) if e.retry && attempt < 3 => {
                    eprintln!("mail harness: start attempt {attempt} lost a port race, retrying");
                    last = e.message;
                }
                Err(e) => panic!(
                    "mail harness: could not start Dovecot + Postfix:\n{}",
                    e.message
                ),
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
        servers
            .write_files()
            .map_err(|e| fatal(format!("cannot prepare {}: {e:#}", servers.root.display())))?;
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

// ----- set-up and tear-down ------------------------------------------------

impl MailServers {
    fn etc(&self) -> PathBuf {
        self.root.join("postfix/etc")
    }

    fn dovecot_conf_path(&self) -> PathBuf {
        self.root.join("dovecot/dovecot.conf")
    }

    fn write_files(&self) -> anyhow::Result<()> {
        let r = &self.root;
        // The dovecot/postfix users must be able to traverse the dir.
        fs::set_permissions(r, fs::Permissions::from_mode(0o755))?;
        for d in [
            "tls",
            "dovecot",
            "mail",
            "postfix/etc",
            "postfix/queue",
            "postfix/data",
        ] {
            fs::create_dir_all(r.join(d))?;
        }
        std::os::unix::fs::chown(r.join("mail"), Some(MAIL_UID), Some(MAIL_GID))?;
        let (postfix_uid, postfix_gid) = user_ids("postfix")?;
        std::os::unix::fs::chown(r.join("postfix/data"), Some(postfix_uid), Some(postfix_gid))?;

        // rustls refuses a CA certificate used as the server's own one, hence
        // CA:FALSE; it matches 127.0.0.1 only through the SAN.
        let key = r.join("tls/key.pem");
        let out = Command::new("/usr/bin/openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "3650", "-subj", "/CN=127.0.0.1"])
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&self.cert)
            .stdin(Stdio::null())
            .output()
            .context("running openssl")?;
        if !out.status.success() {
            bail!(
                "openssl req failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600))?;
        fs::set_permissions(&self.cert, fs::Permissions::from_mode(0o644))?;

        let mut passwd = String::new();
        let mut vmailbox = String::new();
        for u in &self.users {
            writeln!(passwd, "{u}:{{PLAIN}}{PASSWORD}::::::")?;
            writeln!(vmailbox, "{u} OK")?;
        }
        fs::write(r.join("dovecot/users"), passwd)?;
        fs::write(self.dovecot_conf_path(), self.dovecot_conf())?;

        let etc = self.etc();
        fs::write(etc.join("vmailbox"), vmailbox)?;
        fs::write(etc.join("recipient_access"), "")?;
        fs::write(etc.join("main.cf"), self.postfix_main_cf())?;
        fs::write(etc.join("master.cf"), self.postfix_master_cf())?;
        // Postfix keeps re-reading a main.cf younger than ~2 s before it
        // starts; backdated files let it start at once.
        for f in ["main.cf", "master.cf", "vmailbox", "recipient_access"] {
            backdate(&etc.join(f))?;
        }
        Ok(())
    }

    fn dovecot_conf(&self) -> String {
        let r = self.root.display();
        let name = self
            .root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Dovecot: nothing may follow "{" on a line.
        format!(
            r#"# Generated by tests/common/mod.rs for one test.
base_dir = {r}/dovecot/run
state_dir = {r}/dovecot/state
log_path = {r}/dovecot/dovecot.log
instance_name = {name}
listen = {HOST}
protocols = imap lmtp
ssl = yes
ssl_cert = <{r}/tls/cert.pem
ssl_key = <{r}/tls/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_default_realm = {DOMAIN}
auth_verbose = yes
# Tests try wrong passwords on purpose: no 2 s delay, no growing per-IP penalty.
auth_failure_delay = 0
mail_location = maildir:~/Maildir
mail_uid = {MAIL_UID}
mail_gid = {MAIL_GID}
first_valid_uid = 1
first_valid_gid = 1
mail_fsync = never
postmaster_address = postmaster@{DOMAIN}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/dovecot/users
}}
userdb {{
  driver = static
  args = uid={MAIL_UID} gid={MAIL_GID} home={r}/mail/%d/%n
}}
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    port = {lmtp}
  }}
}}
service auth {{
  unix_listener auth-postfix {{
    mode = 0666
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"#,
            imap = self.imap_port,
            imaps = self.imaps_port,
            lmtp = self.lmtp_port,
        )
    }

    fn postfix_main_cf(&self) -> String {
        let r = self.root.display();
        format!(
            r#"# Generated by tests/common/mod.rs for one test.
compatibility_level = 3.6
queue_directory = {r}/postfix/queue
data_directory = {r}/postfix/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {r}/postfix/postfix.log
maillog_file_prefixes = {r}
myhostname = smtp.reportd-test.invalid
mydomain = reportd-test.invalid
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relayhost =
inet_interfaces = {HOST}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_maps = texthash:{r}/postfix/etc/vmailbox
virtual_transport = lmtp:inet:{HOST}:{lmtp}
default_transport = error:5.7.1 private test instance: mail outside {DOMAIN} is not delivered
relay_transport = $default_transport
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access texthash:{r}/postfix/etc/recipient_access
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = {r}/dovecot/run/auth-postfix
smtpd_tls_auth_only = no
smtpd_tls_security_level = may
smtpd_tls_chain_files = {r}/tls/key.pem, {r}/tls/cert.pem
smtpd_error_sleep_time = 0s
in_flow_delay = 0s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 5s
biff = no
append_dot_mydomain = no
"#,
            lmtp = self.lmtp_port,
        )
    }

    fn postfix_master_cf(&self) -> String {
        // chroot "n" everywhere; a fresh smtpd per connection (max_use=1) so
        // recipient rules apply to the next connection.
        format!(
            r#"# Generated by tests/common/mod.rs for one test.
{smtp}      inet  n       -       n       -       -       smtpd -o max_use=1
{smtps}      inet  n       -       n       -       -       smtpd -o max_use=1 -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"#,
            smtp = self.smtp_port,
            smtps = self.smtps_port,
        )
    }

    fn start_dovecot(&mut self) -> Result<(), StartError> {
        let stdio = fs::File::create(self.root.join("dovecot/stdio.log"))
            .map_err(|e| fatal(format!("cannot create dovecot/stdio.log: {e}")))?;
        let stdio2 = stdio.try_clone().map_err(|e| fatal(e.to_string()))?;
        // -F: stay in the foreground as our child. Its stdio must not be a
        // pipe of ours (the master keeps it open), hence a file.
        let child = Command::new("/usr/sbin/dovecot")
            .arg("-F")
            .arg("-c")
            .arg(self.dovecot_conf_path())
            .stdin(Stdio::null())
            .stdout(stdio)
            .stderr(stdio2)
            .spawn()
            .map_err(|e| fatal(format!("cannot run /usr/sbin/dovecot: {e}")))?;
        self.dovecot = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let exited = self
                .dovecot
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.dovecot = None;
                let log = self.dovecot_log();
                return Err(StartError {
                    retry: log.contains("Address already in use"),
                    message: format!("dovecot exited during start-up ({status})\n{}", self.logs()),
                });
            }
            if banner(self.imap_port, "* OK")
                && banner(self.lmtp_port, "220 ")
                && TcpStream::connect(local(self.imaps_port)).is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(fatal(format!(
                    "dovecot did not answer on 127.0.0.1:{} within {START_TIMEOUT:?}\n{}",
                    self.imap_port,
                    self.logs()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILLs Dovecot's master and every process under it, as a crash
    /// of the IMAP server would: open connections drop at once, the mail
    /// stays on disk. [`MailServers::restart_dovecot`] brings it back.
    pub fn kill_dovecot(&mut self) {
        let Some(mut child) = self.dovecot.take() else {
            return;
        };
        let master = child.id() as i32;
        let mut doomed = descendants(master);
        doomed.push(master);
        for pid in doomed {
            signal(pid, SIGKILL);
        }
        let _ = child.wait();
    }

    /// Starts Dovecot again on the same ports after
    /// [`MailServers::kill_dovecot`].
    pub fn restart_dovecot(&mut self) {
        if self.dovecot.is_none()
            && let Err(e) = self.start_dovecot()
        {
            panic!("mail harness: could not restart dovecot:\n{}", e.message);
        }
    }

    fn postfix(&self, action: &str) -> std::io::Result<std::process::ExitStatus> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("postfix/start.log"))?;
        Command::new("/usr/sbin/postfix")
            .arg("-c")
            .arg(self.etc())
            .arg(action)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()
    }

    fn start_postfix(&self) -> Result<(), StartError> {
        // `postfix start` returns once the master has initialised (it binds
        // the SMTP ports itself) or failed.
        let status = self
            .postfix("start")
            .map_err(|e| fatal(format!("cannot run /usr/sbin/postfix: {e}")))?;
        if !status.success() {
            let log = self.postfix_log();
            return Err(StartError {
                retry: log.contains("Address already in use"),
                message: format!("postfix start failed ({status})\n{}", self.logs()),
            });
        }
        self.postfix_running.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if banner(self.smtp_port, "220 ") && TcpStream::connect(local(self.smtps_port)).is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(fatal(format!(
                    "postfix did not answer on 127.0.0.1:{} within {START_TIMEOUT:?}\n{}",
                    self.smtp_port,
                    self.logs()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the Postfix master (which takes its children along) and waits
    /// until it is gone.
    fn stop_postfix(&self) -> anyhow::Result<()> {
        let pid = postfix_master_pid(&self.root);
        let status = self.postfix("stop").context("running postfix stop")?;
        if let Some(pid) = pid {
            let deadline = Instant::now() + Duration::from_secs(10);
            while process_alive(pid) {
                if Instant::now() > deadline {
                    signal(pid, SIGKILL);
                    bail!("postfix master {pid} ignored SIGTERM; killed");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        } else if !status.success() {
            bail!("postfix stop failed ({status})\n{}", self.postfix_log());
        }
        Ok(())
    }

    /// Panic text: both logs, tail only.
    fn logs(&self) -> String {
        format!(
            "--- {}/dovecot logs ---\n{}\n--- {}/postfix logs ---\n{}",
            self.root.display(),
            tail(&self.dovecot_log(), 8000),
            self.root.display(),
            tail(&self.postfix_log(), 8000)
        )
    }
}

impl Drop for MailServers {
    fn drop(&mut self) {
        if self.postfix_running.swap(false, Ordering::SeqCst)
            && let Err(e) = self.stop_postfix()
        {
            eprintln!(
                "mail harness: stopping postfix in {}: {e:#}",
                self.root.display()
            );
        }
        if let Some(mut child) = self.dovecot.take() {
            stop_dovecot(&mut child);
        }
        if std::env::var_os("REPORTD_KEEP_MAIL_DIR").is_some_and(|v| !v.is_empty() && v != "0")
            && let Some(dir) = self.dir.take()
        {
            eprintln!("mail harness: keeping {}", dir.keep().display());
        }
    }
}

// ----- IMAP ------------------------------------------------------------------

impl MailServers {
    /// A client config that trusts only this instance's certificate (ring
    /// provider, so it cannot clash with another installed default).
    pub fn tls_config(&self) -> Arc<rustls::ClientConfig> {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&self.cert).expect("reading the test CA") {
            roots
                .add(cert.expect("parsing the test CA"))
                .expect("adding the test CA");
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        Arc::new(config)
    }

    /// A logged-in session over plain IMAP (`imap_port`).
    pub async fn imap_session(&self, user: &str) -> anyhow::Result<PlainSession> {
        let tcp = with_timeout(
            "IMAP connect",
            tokio::net::TcpStream::connect(local(self.imap_port)),
        )
        .await??;
        login(tcp, user).await
    }

    /// A logged-in session over implicit TLS (`imaps_port`), verified
    /// against [`MailServers::ca_pem`].
    pub async fn imaps_session(&self, user: &str) -> anyhow::Result<TlsSession> {
        let tcp = with_timeout(
            "IMAPS connect",
            tokio::net::TcpStream::connect(local(self.imaps_port)),
        )
        .await??;
        let name = rustls_pki_types::ServerName::try_from(HOST)?.to_owned();
        let tls = with_timeout(
            "TLS handshake",
            tokio_rustls::TlsConnector::from(self.tls_config()).connect(name, tcp),
        )
        .await?
        .context("TLS handshake with Dovecot")?;
        login(tls, user).await
    }

    /// IMAP APPEND of `raw` to `mailbox` with that INTERNALDATE (second
    /// precision; the UTC offset is not kept by Maildir). A mailbox other than
    /// INBOX is created first when missing. Names are sent as given: encode
    /// non-ASCII names as modified UTF-7 yourself.
    pub async fn append(
        &self,
        user: &str,
        mailbox: &str,
        raw: &[u8],
        internaldate: DateTime<FixedOffset>,
    ) -> anyhow::Result<()> {
        let mut session = self.imap_session(user).await?;
        if !mailbox.eq_ignore_ascii_case("INBOX") {
            // A NO ("already exists") is fine.
            let _ = with_timeout("CREATE", session.create(mailbox)).await;
        }
        let date = format!("\"{}\"", imap_date(internaldate));
        let result = with_timeout("APPEND", session.append(mailbox, None, Some(&date), raw))
            .await
            .and_then(|r| r.with_context(|| format!("APPEND to {mailbox} of {user}")));
        logout(session).await;
        result
    }

    /// Every message of the mailbox (EXAMINE, so flags and \Recent stay as
    /// they are), sorted by UID.
    pub async fn fetch_all(&self, user: &str, mailbox: &str) -> anyhow::Result<Vec<Fetched>> {
        let mut session = self.imap_session(user).await?;
        let result = fetch_all_in(&mut session, mailbox).await;
        logout(session).await;
        result.with_context(|| format!("reading {mailbox} of {user}"))
    }

    /// Polls (every 50 ms) until the mailbox holds at least `count`
    /// messages, then returns all of them; on timeout the error carries the
    /// Postfix and Dovecot logs.
    pub async fn wait_for(
        &self,
        user: &str,
        mailbox: &str,
        count: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<Fetched>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut session = self.imap_session(user).await?;
        let mut seen = 0;
        loop {
            // A mailbox that does not exist yet is just "0 messages".
            if let Ok(Ok(mb)) = with_timeout("EXAMINE", session.examine(mailbox)).await {
                seen = mb.exists as usize;
                if seen >= count {
                    match fetch_all_in(&mut session, mailbox).await {
                        // Fewer than EXAMINE said: something was expunged
                        // in between; keep waiting.
                        Ok(all) if all.len() < count => seen = all.len(),
                        result => {
                            logout(session).await;
                            return result;
                        }
                    }
                }
            }
            if tokio::time::Instant::now() >= deadline {
                logout(session).await;
                bail!(
                    "after {timeout:?}, {mailbox} of {} holds {seen} messages, expected {count}\n{}",
                    address(user),
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// UIDVALIDITY as an IMAP client sees it (EXAMINE).
    pub async fn uid_validity(&self, user: &str, mailbox: &str) -> anyhow::Result<u32> {
        let mut session = self.imap_session(user).await?;
        let result = with_timeout("EXAMINE", session.examine(mailbox))
            .await
            .and_then(|r| {
                r.with_context(|| format!("EXAMINE {mailbox}"))?
                    .uid_validity
                    .context("EXAMINE answered without UIDVALIDITY")
            });
        logout(session).await;
        result
    }

    /// Gives the mailbox a new, larger UIDVALIDITY (`doveadm mailbox update
    /// --uid-validity`); messages, their UIDs and open sessions stay. Returns
    /// the new value, checked with doveadm.
    pub fn change_uidvalidity(&self, user: &str, mailbox: &str) -> u32 {
        let user = address(user);
        let old = self
            .doveadm_uidvalidity(&user, mailbox)
            .expect("reading UIDVALIDITY with doveadm");
        let new = next_uidvalidity(old);
        self.doveadm(&[
            "mailbox",
            "update",
            "-u",
            &user,
            "--uid-validity",
            &new.to_string(),
            mailbox,
        ])
        .expect("doveadm mailbox update --uid-validity");
        let now = self
            .doveadm_uidvalidity(&user, mailbox)
            .expect("reading UIDVALIDITY with doveadm");
        assert_eq!(
            now, new,
            "UIDVALIDITY of {mailbox} of {user} did not change from {old}"
        );
        new
    }

    /// Simulates a server that rebuilt its index: the user's IMAP sessions
    /// are kicked, the mailbox gets a new, larger UIDVALIDITY and its
    /// messages are renumbered from 1 in reverse order (so a UID now names a
    /// different message than before). Returns the new UIDVALIDITY.
    pub fn renumber_uids(&self, user: &str, mailbox: &str) -> u32 {
        let user = address(user);
        self.try_renumber_uids(&user, mailbox)
            .unwrap_or_else(|e| panic!("renumbering {mailbox} of {user}: {e:#}\n{}", self.logs()))
    }

    fn try_renumber_uids(&self, user: &str, mailbox: &str) -> anyhow::Result<u32> {
        // Also brings dovecot-uidlist up to date with files not seen yet.
        let old = self.doveadm_uidvalidity(user, mailbox)?;
        self.kick(user)?;
        let path = |kind: &str| -> anyhow::Result<PathBuf> {
            let out = self.doveadm(&["mailbox", "path", "-u", user, "-t", kind, mailbox])?;
            Ok(PathBuf::from(out.trim()))
        };
        let control = path("control")?;
        let index = path("index")?;
        let uidlist = control.join("dovecot-uidlist");
        let text = fs::read_to_string(&uidlist).with_context(|| uidlist.display().to_string())?;
        let mut lines = text.lines();
        let header = lines.next().context("empty dovecot-uidlist")?;
        let mut fields = header.split(' ');
        if fields.next() != Some("3") {
            bail!("unexpected dovecot-uidlist header {header:?}");
        }
        let keep: Vec<&str> = fields
            .filter(|f| !f.starts_with('V') && !f.starts_with('N'))
            .collect();
        // Records: "<uid> [<ext> ...]:<filename>".
        let mut records: Vec<&str> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                l.split_once(' ')
                    .map(|(_, rest)| rest)
                    .context("bad uidlist record")
            })
            .collect::<anyhow::Result<_>>()?;
        records.reverse();
        let new = next_uidvalidity(old);
        let mut out = format!("3 V{new} N{}", records.len() + 1);
        for f in keep {
            write!(out, " {f}")?;
        }
        out.push('\n');
        for (i, rest) in records.iter().enumerate() {
            writeln!(out, "{} {rest}", i + 1)?;
        }
        let tmp = control.join("dovecot-uidlist.harness");
        fs::write(&tmp, out)?;
        std::os::unix::fs::chown(&tmp, Some(MAIL_UID), Some(MAIL_GID))?;
        fs::rename(&tmp, &uidlist)?;
        // Without its index (and the list index caching STATUS), Dovecot
        // rebuilds both from the uidlist.
        let inbox_index = PathBuf::from(
            self.doveadm(&["mailbox", "path", "-u", user, "-t", "index", "INBOX"])?
                .trim(),
        );
        for (dir, name) in [
            (&index, "dovecot.index"),
            (&index, "dovecot.index.log"),
            (&index, "dovecot.index.log.2"),
            (&index, "dovecot.index.cache"),
            (&inbox_index, "dovecot.list.index"),
            (&inbox_index, "dovecot.list.index.log"),
            (&inbox_index, "dovecot.list.index.log.2"),
        ] {
            match fs::remove_file(dir.join(name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        let now = self.doveadm_uidvalidity(user, mailbox)?;
        if now != new {
            bail!("UIDVALIDITY is {now} after the rebuild, expected {new}");
        }
        Ok(new)
    }

    /// Disconnects the user's IMAP sessions and waits until they are gone.
    fn kick(&self, user: &str) -> anyhow::Result<()> {
        let out = Command::new("/usr/bin/doveadm")
            .arg("-c")
            .arg(self.dovecot_conf_path())
            .args(["kick", user])
            .stdin(Stdio::null())
            .output()?;
        // 68 (EX_NOUSER): nobody was connected.
        if !out.status.success() && out.status.code() != Some(68) {
            bail!("doveadm kick: {}", String::from_utf8_lossy(&out.stderr));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while self
            .doveadm(&["who", user])?
            .lines()
            .any(|l| l.contains(user))
        {
            if Instant::now() > deadline {
                bail!("sessions of {user} still open 5 s after doveadm kick");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn doveadm(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new("/usr/bin/doveadm")
            .arg("-c")
            .arg(self.dovecot_conf_path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("running /usr/bin/doveadm")?;
        if !out.status.success() {
            bail!(
                "doveadm {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn doveadm_uidvalidity(&self, user: &str, mailbox: &str) -> anyhow::Result<u32> {
        let out = self.doveadm(&[
            "-f",
            "flow",
            "mailbox",
            "status",
            "-u",
            user,
            "uidvalidity",
            mailbox,
        ])?;
        out.split_whitespace()
            .find_map(|t| t.strip_prefix("uidvalidity="))
            .with_context(|| format!("no uidvalidity in doveadm output {out:?}"))?
            .parse()
            .context("parsing uidvalidity")
    }
}

// ----- SMTP ------------------------------------------------------------------

impl MailServers {
    /// Submits `raw` to Postfix like a mail client (plain SMTP on
    /// `smtp_port`, no AUTH; 127.0.0.1 may relay). Addresses without `@` get
    /// `@example.com`. A refused recipient is an error.
    pub async fn smtp_send(&self, from: &str, to: &[&str], raw: &[u8]) -> anyhow::Result<()> {
        use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor, address::Envelope};
        let from: lettre::Address = address(from).parse().context("sender address")?;
        let to = to
            .iter()
            .map(|t| address(t).parse::<lettre::Address>())
            .collect::<Result<Vec<_>, _>>()
            .context("recipient address")?;
        let envelope = Envelope::new(Some(from), to)?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(HOST)
            .port(self.smtp_port)
            .build();
        with_timeout("SMTP send", transport.send_raw(&envelope, raw))
            .await?
            .context("SMTP send to Postfix")?;
        Ok(())
    }

    /// Makes Postfix answer `RCPT TO` for `key` (a user, a full address, or
    /// a whole domain such as `example.com`) as `rule` says, from the next
    /// SMTP connection on.
    pub fn set_recipient_rule(&self, key: &str, rule: RecipientRule) {
        let user = address(key).to_lowercase();
        let key = if self.users.contains(&user) {
            user
        } else {
            key.to_lowercase()
        };
        let mut rules = self.recipient_rules.lock().expect("recipient rules lock");
        match rule {
            RecipientRule::Accept => {
                rules.remove(&key);
            }
            other => {
                rules.insert(key, other);
            }
        }
        let mut text = String::new();
        for (k, r) in rules.iter() {
            let action = match r {
                RecipientRule::TempFail => "450 4.2.0 temporarily refused by the test harness",
                RecipientRule::PermFail => "550 5.7.1 permanently refused by the test harness",
                RecipientRule::Accept => continue,
            };
            let _ = writeln!(text, "{k} {action}");
        }
        let path = self.etc().join("recipient_access");
        let tmp = self.etc().join("recipient_access.tmp");
        fs::write(&tmp, text).expect("writing recipient_access");
        // A table younger than a few seconds makes each new smtpd wait ~2 s
        // before it serves the connection: backdate it.
        backdate(&tmp).expect("backdating recipient_access");
        fs::rename(&tmp, &path).expect("replacing recipient_access");
    }

    /// Stops Postfix: the SMTP ports refuse connections until
    /// [`MailServers::start_smtp`]. Queued mail stays queued.
    pub fn stop_smtp(&self) {
        if self.postfix_running.swap(false, Ordering::SeqCst) {
            self.stop_postfix().expect("stopping postfix");
        }
    }

    /// Starts Postfix again after [`MailServers::stop_smtp`] (same ports).
    pub fn start_smtp(&self) {
        if !self.postfix_running.load(Ordering::SeqCst)
            && let Err(e) = self.start_postfix()
        {
            panic!("mail harness: could not restart postfix:\n{}", e.message);
        }
    }
}

// ----- helpers -----------------------------------------------------------------

/// `"rep1"` → `"rep1@example.com"`; full addresses are kept.
pub fn address(user: &str) -> String {
    if user.contains('@') {
        user.to_string()
    } else {
        format!("{user}@{DOMAIN}")
    }
}

/// IMAP date-time (without the quotes): `27-Nov-2026 13:00:00 +0800`.
pub fn imap_date(t: DateTime<FixedOffset>) -> String {
    t.format("%d-%b-%Y %H:%M:%S %z").to_string()
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

fn fatal(message: String) -> StartError {
    StartError {
        retry: false,
        message,
    }
}

async fn with_timeout<F: std::future::Future>(what: &str, f: F) -> anyhow::Result<F::Output> {
    tokio::time::timeout(IO_TIMEOUT, f)
        .await
        .map_err(|_| anyhow!("{what} timed out after {IO_TIMEOUT:?}"))
}

async fn login<T>(stream: T, user: &str) -> anyhow::Result<async_imap::Session<T>>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let mut client = async_imap::Client::new(stream);
    with_timeout("IMAP greeting", client.read_response())
        .await??
        .context("IMAP server closed the connection before its greeting")?;
    let user = address(user);
    with_timeout("IMAP LOGIN", client.login(&user, PASSWORD))
        .await?
        .map_err(|(e, _)| anyhow::Error::new(e))
        .with_context(|| format!("IMAP LOGIN as {user}"))
}

async fn logout<T>(mut session: async_imap::Session<T>)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let _ = with_timeout("LOGOUT", session.logout()).await;
}

async fn fetch_all_in(session: &mut PlainSession, mailbox: &str) -> anyhow::Result<Vec<Fetched>> {
    let mb = with_timeout("EXAMINE", session.examine(mailbox))
        .await?
        .with_context(|| format!("EXAMINE {mailbox}"))?;
    if mb.exists == 0 {
        return Ok(Vec::new());
    }
    let fetches = with_timeout("UID FETCH", async {
        session
            .uid_fetch("1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?
    .context("UID FETCH 1:*")?;
    let mut out: BTreeMap<u32, Fetched> = BTreeMap::new();
    for f in &fetches {
        // Unsolicited FETCH lines (flag updates) carry no body: skip them.
        let Some(raw) = f.body() else { continue };
        let uid = f.uid.context("FETCH without UID")?;
        let internal_date = f.internal_date().context("FETCH without INTERNALDATE")?;
        let flags = f.flags().map(|fl| flag_name(&fl)).collect();
        out.insert(
            uid,
            Fetched {
                uid,
                internal_date,
                raw: raw.to_vec(),
                flags,
            },
        );
    }
    Ok(out.into_values().collect())
}

fn flag_name(flag: &async_imap::types::Flag<'_>) -> String {
    use async_imap::types::Flag;
    match flag {
        Flag::Seen => "\\Seen".into(),
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Recent => "\\Recent".into(),
        Flag::MayCreate => "\\*".into(),
        Flag::Custom(s) => s.to_string(),
    }
}

/// Root and the packages are needed; say how to get them.
fn check_prerequisites() {
    let euid = fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    assert!(
        euid == 0,
        "mail harness: the tests need root (a private Postfix only starts as root); run scripts/test as root"
    );
    for bin in [
        "/usr/sbin/dovecot",
        "/usr/sbin/postfix",
        "/usr/bin/doveadm",
        "/usr/bin/openssl",
    ] {
        assert!(
            Path::new(bin).exists(),
            "mail harness: {bin} is missing; run scripts/install-test-deps (scripts/test does)"
        );
    }
}

/// `n` distinct ports that were free a moment ago and were never handed out
/// before in this process.
fn free_ports(n: usize) -> Vec<u16> {
    static USED: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut used = USED.lock().expect("port registry lock");
    let used = used.get_or_insert_with(HashSet::new);
    let mut held = Vec::new();
    let mut ports = Vec::new();
    while ports.len() < n {
        let listener = TcpListener::bind(local(0)).expect("binding a free port on 127.0.0.1");
        let port = listener.local_addr().expect("local_addr").port();
        if used.insert(port) {
            ports.push(port);
        }
        // Held until all are picked, so the kernel cannot hand one out twice.
        held.push(listener);
    }
    ports
}

/// Connects and checks that the first line starts with `prefix`.
fn banner(port: u16, prefix: &str) -> bool {
    let Ok(stream) = TcpStream::connect_timeout(&local(port), Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut line = String::new();
    let ok = BufReader::new(&stream).read_line(&mut line).is_ok() && line.starts_with(prefix);
    let _ = (&stream).write_all(if prefix.starts_with('*') {
        b"a LOGOUT\r\n"
    } else {
        b"QUIT\r\n"
    });
    ok
}

fn backdate(path: &Path) -> std::io::Result<()> {
    let file = fs::File::options().write(true).open(path)?;
    file.set_modified(SystemTime::now() - Duration::from_secs(60))
}

fn user_ids(name: &str) -> anyhow::Result<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd")?;
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() > 3 && f[0] == name {
            return Ok((f[2].parse()?, f[3].parse()?));
        }
    }
    bail!("no user {name} in /etc/passwd (is postfix installed?)")
}

fn next_uidvalidity(old: u32) -> u32 {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    now.max(old.saturating_add(1))
}

fn postfix_master_pid(root: &Path) -> Option<i32> {
    fs::read_to_string(root.join("postfix/queue/pid/master.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Alive and not a zombie (the Postfix master is not our child).
fn process_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;

unsafe extern "C" {
    #[link_name = "kill"]
    safe fn libc_kill(pid: i32, sig: i32) -> i32;
}

fn signal(pid: i32, sig: i32) {
    if pid > 0 {
        libc_kill(pid, sig);
    }
}

/// SIGTERM to the Dovecot master, then wait. The master stops its services,
/// then sleeps a fixed second for its log process before it exits (and only
/// then closes its listening sockets). Once only the log process is left
/// there is nothing more to wait for, so the master is killed right away;
/// the log process exits by itself when its master is gone.
fn stop_dovecot(child: &mut Child) {
    let pid = child.id() as i32;
    signal(pid, SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return,
            Ok(None) if Instant::now() < deadline => {
                if !has_live_children_besides_log(pid) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => {
                eprintln!("mail harness: dovecot did not stop within 10 s of SIGTERM; killing it");
                break;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Every live process below `pid` (children, their children, ...).
fn descendants(pid: i32) -> Vec<i32> {
    let mut parents: Vec<(i32, i32)> = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            parents.push((child, ppid));
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// Whether a process with parent `pid` other than Dovecot's `log` is alive
/// (zombies do not count).
fn has_live_children_besides_log(pid: i32) -> bool {
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may contain spaces and ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head.split_once('(').map(|(_, c)| c).unwrap_or("");
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("Z");
        let ppid: i32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if ppid == pid && state != "Z" && state != "X" && comm != "log" {
            return true;
        }
    }
    false
}

fn read_lossy(path: &Path) -> String {
    let mut bytes = Vec::new();
    match fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)) {
        Ok(_) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    }
}

fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// The first header `name` of a raw message, decoded ("" when absent).
pub fn header(raw: &[u8], name: &str) -> String {
    let (headers, _) = mailparse::parse_headers(raw).expect("headers");
    headers
        .iter()
        .find(|h| h.get_key().eq_ignore_ascii_case(name))
        .map(|h| h.get_value())
        .unwrap_or_default()
}
