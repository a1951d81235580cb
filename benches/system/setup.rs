//! What the measurements stand on: the private mail servers, the generated
//! mailbox written straight into the assistant's Maildir (INTERNALDATE is
//! the file's mtime), and reportd instances (a config and a database in
//! their own directory) reading it.

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use chrono::{DateTime, Datelike, Duration as Span, Utc};
use chrono_tz::Asia::Shanghai;
use serde_json::Value;

use crate::Args;
use crate::common::{MailServers, PASSWORD};
use crate::measure;
use crate::support::mailbox::{
    self, ASSISTANT, Attachment, Client, Extra, Label, Mail, Spec, Team,
};
use crate::support::render;

/// Owner of the Maildirs in the harness's Dovecot (`nobody`).
const MAIL_UID: u32 = 65534;

/// The mail servers, the mailbox in them and the labels of its messages.
pub struct Bench {
    pub servers: MailServers,
    pub team: Team,
    pub spec: Spec,
    pub labels: HashMap<String, Label>,
    pub messages: usize,
    /// Size of the mailbox as written.
    pub bytes: u64,
    /// `--now` of every sync: Monday 08:00 after the span, before the
    /// weekly digest time.
    pub now: String,
    /// When the last week's digests are due (Monday 08:30) and a minute.
    pub digest_at: String,
    /// Monday 10:00, in reply reminder hours, when the morning's reply
    /// reminders are owed.
    pub reminders_at: String,
    /// Half an hour later: nothing new is owed.
    pub in_hours: String,
    /// The week those digests are about (`2026-W47`).
    pub digest_period: String,
    maildir: PathBuf,
    work: tempfile::TempDir,
    password_file: PathBuf,
    roster: String,
    seq: std::cell::Cell<usize>,
}

fn rfc3339_local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Shanghai).to_rfc3339()
}

impl Bench {
    /// Starts the servers and writes the generated mailbox into them.
    pub fn prepare(args: &Args) -> anyhow::Result<Bench> {
        let servers = MailServers::start(&[ASSISTANT.1]);
        let work = tempfile::Builder::new()
            .prefix("reportd-bench-")
            .tempdir()?;
        let password_file = work.path().join("imap-password");
        fs::write(&password_file, PASSWORD)?;
        let spec = Spec::year(args.messages);
        let team = Team::new(args.people);
        let calendar = reportd::calendar::Calendar::load(&calendars())
            .map_err(|e| anyhow::anyhow!("calendar: {e}"))?;
        crate::say(&format!(
            "generating {} messages for {} people (seed {})",
            args.messages,
            team.size(),
            spec.seed
        ));
        let mail = mailbox::mailbox(&spec, &team, &calendar);
        let maildir = servers.dir().join("mail/example.com/zhaomin/Maildir");
        make_maildir(&maildir)?;
        let end = spec.end();
        let last_monday = (end - Span::days(7)).with_timezone(&Shanghai).date_naive();
        let mut bench = Bench {
            servers,
            roster: team.roster_toml(),
            team,
            spec,
            labels: HashMap::new(),
            messages: mail.len(),
            bytes: 0,
            now: rfc3339_local(end + Span::hours(8)),
            digest_at: rfc3339_local(end + Span::hours(8) + Span::minutes(31)),
            reminders_at: rfc3339_local(end + Span::hours(10)),
            in_hours: rfc3339_local(end + Span::hours(10) + Span::minutes(30)),
            digest_period: format!(
                "{}-W{:02}",
                last_monday.iso_week().year(),
                last_monday.iso_week().week()
            ),
            maildir,
            work,
            password_file,
            seq: std::cell::Cell::new(0),
        };
        for m in &mail {
            bench.bytes += bench.deliver(m)?;
            bench.labels.insert(m.id.clone(), m.label);
        }
        crate::say(&format!(
            "wrote {} messages ({:.0} MiB) into {}",
            bench.messages,
            bench.bytes as f64 / 1048576.0,
            bench.maildir.display()
        ));
        Ok(bench)
    }

    /// Writes one message into the Maildir's `cur/`, its mtime the arrival.
    fn deliver(&self, m: &Mail) -> anyhow::Result<u64> {
        let raw = render::render(m);
        let seq = self.seq.get();
        self.seq.set(seq + 1);
        // Dovecot gives new files their UIDs in the order of the time in
        // their names: arrival order.
        let name = format!(
            "{}.M{seq}P{}.bench,S={}:2,",
            m.at.timestamp(),
            std::process::id(),
            raw.len()
        );
        let path = self.maildir.join("cur").join(name);
        let mut file = fs::File::create(&path)?;
        file.write_all(&raw)?;
        file.set_modified(m.at.into())?;
        chown(&path, Some(MAIL_UID), Some(MAIL_UID))?;
        Ok(raw.len() as u64)
    }

    /// Delivers `count` new reports (late reports of the span's last week),
    /// arriving after the mailbox and before [`Bench::now`].
    pub fn deliver_new(&self, round: usize, count: usize) -> anyhow::Result<()> {
        let end = self.spec.end();
        let monday = (end - Span::days(7)).with_timezone(&Shanghai).date_naive();
        let week = monday.iso_week().week();
        for k in 0..count {
            let i = (round * count + k) * 7 % self.team.reporters.len();
            let p = &self.team.reporters[i];
            let m = Mail {
                at: end + Span::hours(1) + Span::minutes((round * count + k) as i64),
                from: (p.name.clone(), p.email.clone()),
                to: vec![self.team.supervisors[p.boss].email.clone()],
                cc: vec![ASSISTANT.1.to_string()],
                subject: format!("{} 第{week}周周报（补交）", p.name),
                client: Client::Exmail,
                id: format!("new.{round}.{k}@mail.{}", mailbox::DOMAIN),
                in_reply_to: None,
                label: Label::Report,
                extra: Extra::None,
                attachment: None::<Attachment>,
                seed: k as u64,
            };
            self.deliver(&m)?;
        }
        Ok(())
    }

    /// A reportd instance with its own empty directory.
    pub fn instance(&self, name: &str) -> anyhow::Result<Instance> {
        let dir = self.work.path().join(name);
        fs::create_dir_all(&dir)?;
        let database = dir.join("reportd.sqlite3");
        let calendar = calendars()
            .iter()
            .map(|p| format!("{:?}", p.display().to_string()))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            "timezone = \"Asia/Shanghai\"\n\
             database = {db:?}\n\
             tracking_starts = \"{start}\"\n\
             calendar = [{calendar}]\n\n\
             [imap]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"plain\"\n\
             username = \"{user}\"\npassword_file = {pw:?}\nmailbox = \"INBOX\"\n{roster}",
            db = database.display().to_string(),
            start = self.spec.first_monday,
            port = self.servers.imap_port(),
            user = ASSISTANT.1,
            pw = self.password_file.display().to_string(),
            roster = self.roster,
        );
        let config = dir.join("reportd.toml");
        fs::write(&config, text)?;
        Ok(Instance {
            dir,
            config,
            database,
        })
    }

    /// Runs scripts/bench_baseline.py over the same mailbox.
    pub fn baseline(&self) -> anyhow::Result<Baseline> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_baseline.py");
        let db = self.work.path().join("baseline.sqlite3");
        measure::flush_writeback();
        let out = Command::new("python3")
            .arg(&script)
            .args(["--host", "127.0.0.1", "--port"])
            .arg(self.servers.imap_port().to_string())
            .args(["--user", ASSISTANT.1, "--password-file"])
            .arg(&self.password_file)
            .arg("--db")
            .arg(&db)
            .output()
            .with_context(|| format!("running python3 {}", script.display()))?;
        if !out.status.success() {
            bail!(
                "{} failed: {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let v: Value = serde_json::from_slice(&out.stdout).context("the baseline's JSON")?;
        let messages = v["messages"].as_f64().unwrap_or(0.0);
        let seconds = v["seconds"].as_f64().unwrap_or(f64::INFINITY);
        crate::say(&format!(
            "Python baseline: {messages} messages in {seconds:.2} s, peak RSS {} KiB",
            v["max_rss_kib"]
        ));
        Ok(Baseline {
            rate: messages / seconds,
        })
    }
}

pub struct Baseline {
    pub rate: f64,
}

fn calendars() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/calendar");
    vec![dir.join("cn-2025.toml"), dir.join("cn-2026.toml")]
}

fn make_maildir(maildir: &Path) -> anyhow::Result<()> {
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(maildir.join(sub))?;
    }
    // Everything from the mail root down belongs to the mail user.
    let mut dir = maildir.join("cur");
    let root = maildir
        .ancestors()
        .nth(3)
        .context("Maildir path too short")?
        .to_path_buf();
    for sub in ["new", "tmp"] {
        chown(maildir.join(sub), Some(MAIL_UID), Some(MAIL_UID))?;
    }
    while dir != root {
        chown(&dir, Some(MAIL_UID), Some(MAIL_UID))?;
        dir = dir.parent().context("no parent")?.to_path_buf();
    }
    Ok(())
}

/// One reportd config and database.
pub struct Instance {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub database: PathBuf,
}

impl Instance {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(crate::BIN);
        cmd.arg("--config").arg(&self.config).args(args);
        cmd.env_remove("REPORTD_CONFIG");
        cmd
    }

    /// Runs a reportd command that must succeed (its output into
    /// `<log>.log`); returns its wall time.
    pub fn time(&self, args: &[&str], log: &str) -> anyhow::Result<std::time::Duration> {
        Ok(measure::run(self.command(args), &self.log(log))?.wall)
    }

    pub fn log(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }

    /// The database with its WAL, as it lies on disk.
    pub fn database_size(&self) -> u64 {
        measure::files_size(&self.dir, "reportd.sqlite3")
            - fs::metadata(self.dir.join("reportd.sqlite3.lock")).map_or(0, |m| m.len())
    }

    /// A copy of this instance's database under a new instance.
    pub fn copy(&self, name: &str) -> anyhow::Result<Instance> {
        let parent = self.dir.parent().context("instance dir")?;
        let dir = parent.join(name);
        fs::create_dir_all(&dir)?;
        for entry in fs::read_dir(&self.dir)?.flatten() {
            let file = entry.file_name();
            let file = file.to_string_lossy();
            if file.starts_with("reportd.sqlite3") && !file.ends_with(".lock") {
                fs::copy(entry.path(), dir.join(&*file))?;
            }
        }
        let text = fs::read_to_string(&self.config)?.replace(
            &format!("{:?}", self.database.display().to_string()),
            &format!("{:?}", dir.join("reportd.sqlite3").display().to_string()),
        );
        fs::write(dir.join("reportd.toml"), text)?;
        Ok(Instance {
            config: dir.join("reportd.toml"),
            database: dir.join("reportd.sqlite3"),
            dir,
        })
    }

    /// Runs a reportd command that prints JSON.
    pub fn json(&self, args: &[&str]) -> anyhow::Result<Value> {
        let out = self.command(args).output()?;
        if !out.status.success() {
            bail!("reportd {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        serde_json::from_slice(&out.stdout).with_context(|| format!("JSON of reportd {args:?}"))
    }

    /// Rows of `status --json` as of `now`, counted without building
    /// them: 65,000 rows as JSON values were 100 MB of the bench's own, which
    /// every child spawned later counted as its peak (see `measure`).
    pub fn status_rows(&self, now: &str) -> anyhow::Result<usize> {
        let args = ["status", "--json", "--now", now];
        let out = self.command(&args).output()?;
        if !out.status.success() {
            bail!("reportd {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let rows: Vec<serde::de::IgnoredAny> = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("JSON of reportd {args:?}"))?;
        Ok(rows.len())
    }

    /// How many digests about `period` the outbox holds.
    pub fn queued_digests(&self, period: &str) -> anyhow::Result<usize> {
        let rows = self.json(&["outbox", "--json"])?;
        Ok(rows
            .as_array()
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| r["key"].as_str())
                    .filter(|k| k.contains("digest:") && k.ends_with(&format!(":{period}")))
                    .count()
            })
            .unwrap_or(0))
    }
}

/// The machine, for the figures' heading: cores, CPU model and RAM.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_string();
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    format!(
        "{cores} cores, {model}, {:.0} GiB RAM",
        ram_kib as f64 / 1048576.0
    )
}

/// The 1-minute load average: other work on the machine skews the figures.
pub fn loadavg() -> f64 {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}
