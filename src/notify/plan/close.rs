//! The monthly close: emails owed once a month when a month closes (the
//! payroll summary, the compliance archive), plugged into the planner as
//! [`MonthlyClose`] hooks ([`Planner::with_monthly_closes`]).
//!
//! For each hook the planner finds the
//! newest month whose close time ([`CloseTime`], e.g. the third working day
//! of the next month at 08:30) has come; unless its email is in the outbox
//! under `<name>:<YYYY-MM>`, it asks the hook for the [`Letter`] (inside the
//! judging transaction, so the hook may record what it sent) and queues it.
//! [`Planner::issue_monthly`] sends a month now: the first issue if it never
//! went out, else a re-issue under `<name>:<YYYY-MM>:reissue-<n>`.

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::{NotifyError, Planner};
use crate::calendar::Calendar;
use crate::config::Config;
use crate::notify::compose::{self, Attachment, Contact, Rendered, Templates};
use crate::notify::outbox::{self, Outgoing};
use crate::notify::schedule::CloseTime;
use crate::period::Month;

/// What a [`MonthlyClose`] hook may fail with; each hook keeps its own
/// error type (its message should say what to do).
pub type CloseError = Box<dyn std::error::Error + Send + Sync>;

/// Which sending of a month's email this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issue {
    /// The first, owed once per month.
    First,
    /// The n-th re-issue (1-based), marked 重发/re-issue.
    Reissue(u32),
}

impl Issue {
    fn next(self) -> Issue {
        match self {
            Issue::First => Issue::Reissue(1),
            Issue::Reissue(n) => Issue::Reissue(n + 1),
        }
    }
}

/// The idempotency key of a month's email.
pub fn close_key(name: &str, month: Month, issue: Issue) -> String {
    match issue {
        Issue::First => format!("{name}:{month}"),
        Issue::Reissue(n) => format!("{name}:{month}:reissue-{n}"),
    }
}

/// What a hook gets to build its email.
pub struct CloseContext<'a> {
    pub cfg: &'a Config,
    pub calendar: &'a Calendar,
    pub templates: &'a Templates,
}

/// A rendered email with its recipients and files, ready to queue.
#[derive(Debug, Clone)]
pub struct Letter {
    pub to: Vec<Contact>,
    pub cc: Vec<Contact>,
    pub rendered: Rendered,
    pub attachments: Vec<Attachment>,
}

/// An email owed once per month when the month closes (see the module
/// doc). Implemented by the payroll summary; the archive plugs in the same
/// way.
pub trait MonthlyClose: Send + Sync {
    /// Short, stable, ASCII: the outbox kind and key prefix (`payroll`).
    fn name(&self) -> &'static str;
    /// When a month closes for this email.
    fn close_time(&self, cfg: &Config) -> CloseTime;
    /// The month's email. Called inside the planning transaction: with
    /// [`Issue::First`] at most once per month (until its outbox row is
    /// gone), so the hook may record what it sent; with
    /// [`Issue::Reissue`] for each re-issue. An error leaves nothing of the
    /// hook's writes and the rest of the planning goes on.
    fn letter(
        &self,
        ctx: &CloseContext<'_>,
        conn: &Connection,
        month: Month,
        issue: Issue,
        now: DateTime<Utc>,
    ) -> Result<Letter, CloseError>;
}

impl Planner<'_> {
    /// Queues the email of the newest month `hook` closed, unless it is out.
    pub(super) fn monthly_close(
        &self,
        conn: &Connection,
        hook: &dyn MonthlyClose,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        let month = hook
            .close_time(self.cfg)
            .latest_closed(now, self.calendar, self.cfg.timezone);
        if month.last_day() < self.cfg.tracking_starts
            || outbox::state_of(conn, &close_key(hook.name(), month, Issue::First))?.is_some()
        {
            return Ok(0);
        }
        match self.queue_close(conn, hook, month, Issue::First, now) {
            Err(NotifyError::Close {
                name,
                month,
                source,
            }) => {
                // One hook's failure must not hold back every other email.
                tracing::warn!(%month, "the {name} email of {month} could not be made: {source}");
                Ok(0)
            }
            other => other,
        }
    }

    /// Queues `month`'s email of `hook` now: its first issue if it never
    /// went out, else the next re-issue. Returns which it was and its key.
    pub fn issue_monthly(
        &self,
        conn: &Connection,
        hook: &dyn MonthlyClose,
        month: Month,
        now: DateTime<Utc>,
    ) -> Result<(Issue, String), NotifyError> {
        let mut issue = Issue::First;
        while outbox::state_of(conn, &close_key(hook.name(), month, issue))?.is_some() {
            issue = issue.next();
        }
        self.queue_close(conn, hook, month, issue, now)?;
        Ok((issue, close_key(hook.name(), month, issue)))
    }

    /// Asks the hook for its letter (in a savepoint, so a failure leaves
    /// none of its writes) and queues it.
    fn queue_close(
        &self,
        conn: &Connection,
        hook: &dyn MonthlyClose,
        month: Month,
        issue: Issue,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        let ctx = CloseContext {
            cfg: self.cfg,
            calendar: self.calendar,
            templates: self.templates,
        };
        conn.execute_batch("SAVEPOINT monthly_close")?;
        let letter = match hook.letter(&ctx, conn, month, issue, now) {
            Ok(letter) => letter,
            Err(source) => {
                conn.execute_batch("ROLLBACK TO monthly_close; RELEASE monthly_close")?;
                return Err(NotifyError::Close {
                    name: hook.name(),
                    month,
                    source,
                });
            }
        };
        conn.execute_batch("RELEASE monthly_close")?;
        let key = close_key(hook.name(), month, issue);
        self.queue_letter(conn, &key, hook.name(), &letter, None, now)
    }

    /// Queues a rendered letter under `key` (the outbox kind is `kind`),
    /// threaded under `in_reply_to` when given, to go now.
    pub fn queue_letter(
        &self,
        conn: &Connection,
        key: &str,
        kind: &str,
        letter: &Letter,
        in_reply_to: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        let mailboxes = |list: &[Contact]| {
            list.iter()
                .map(Contact::mailbox)
                .collect::<Result<Vec<_>, _>>()
        };
        let message_id = outbox::message_id_for(key, &self.domain);
        let references: Vec<String> = in_reply_to.iter().map(ToString::to_string).collect();
        let message = compose::compose_message_with(
            &self.from,
            &mailboxes(&letter.to)?,
            &mailboxes(&letter.cc)?,
            &letter.rendered,
            &message_id,
            in_reply_to,
            &references,
            now,
            &letter.attachments,
        )?;
        let out = Outgoing::from_message(key, kind, &message, now)?;
        Ok(usize::from(outbox::enqueue(conn, &out, now)?))
    }

    /// The next close time of any hook after `now`.
    pub(super) fn next_close(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.closes
            .iter()
            .map(|hook| {
                hook.close_time(self.cfg)
                    .next_after(now, self.calendar, self.cfg.timezone)
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::compose::XLSX;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A hook that logs each call in a table and fails when told to.
    struct Probe {
        fail: AtomicBool,
    }

    impl MonthlyClose for Probe {
        fn name(&self) -> &'static str {
            "probe"
        }

        fn close_time(&self, cfg: &Config) -> CloseTime {
            cfg.payroll.send
        }

        fn letter(
            &self,
            ctx: &CloseContext<'_>,
            conn: &Connection,
            month: Month,
            issue: Issue,
            _now: DateTime<Utc>,
        ) -> Result<Letter, CloseError> {
            conn.execute(
                "INSERT INTO probe_log (month, issue) VALUES (?1, ?2)",
                rusqlite::params![month.to_string(), format!("{issue:?}")],
            )?;
            if self.fail.load(Ordering::SeqCst) {
                return Err("the probe was told to fail".into());
            }
            let assistant = ctx.cfg.roster.assistants().next().ok_or("no assistant")?;
            Ok(Letter {
                to: vec![Contact::from(assistant)],
                cc: vec![],
                rendered: Rendered {
                    subject: format!("probe {month} {issue:?}"),
                    text: "text\n".into(),
                    html: "<p>html</p>\n".into(),
                },
                attachments: vec![Attachment::new("probe.xlsx", XLSX, vec![1, 2, 3])],
            })
        }
    }

    const CONFIG: &str = r#"
database = "x.sqlite3"
tracking_starts = "2026-11-02"
calendar = []
[maildir]
path = "/tmp"
[[person]]
name = "赵敏"
email = "zhaomin@example.com"
role = "assistant"
"#;

    /// A database with the probe's log table, a config, and the probe.
    struct World {
        _dir: tempfile::TempDir,
        conn: Connection,
        cfg: Config,
        calendar: Calendar,
        templates: Templates,
        hooks: Vec<Box<dyn MonthlyClose>>,
    }

    impl World {
        fn new(fail: bool) -> World {
            let dir = tempfile::tempdir().expect("dir");
            let conn = crate::store::open(&dir.path().join("c.sqlite3")).expect("db");
            conn.execute_batch("CREATE TABLE probe_log (month TEXT, issue TEXT)")
                .expect("table");
            World {
                _dir: dir,
                conn,
                cfg: Config::from_toml_str(CONFIG, std::path::Path::new("c.toml")).expect("config"),
                calendar: Calendar::load(&[]).expect("calendar"),
                templates: Templates::new().expect("templates"),
                hooks: vec![Box::new(Probe {
                    fail: AtomicBool::new(fail),
                })],
            }
        }

        fn planner(&self) -> Planner<'_> {
            Planner::new(&self.cfg, &self.calendar, &self.templates)
                .expect("planner")
                .with_monthly_closes(&self.hooks)
        }
    }

    use crate::test_team::shanghai as at;

    fn logged(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM probe_log", [], |r| r.get(0))
            .expect("count")
    }

    #[test]
    fn a_month_is_queued_once_after_its_close_time_and_reissued_under_new_keys() {
        let w = World::new(false);
        let (conn, hooks) = (&w.conn, &w.hooks);
        let planner = w.planner();
        // Thu 3 December 2026 08:30 is November's close (Mon–Fri calendar).
        assert_eq!(
            planner
                .monthly_close(conn, hooks[0].as_ref(), at(2026, 12, 3, 8))
                .expect("q"),
            0
        );
        assert_eq!(
            planner.next_close(at(2026, 12, 3, 8)),
            Some(at(2026, 12, 3, 0) + chrono::Duration::minutes(8 * 60 + 30))
        );
        assert_eq!(
            planner
                .monthly_close(conn, hooks[0].as_ref(), at(2026, 12, 3, 9))
                .expect("q"),
            1
        );
        assert_eq!(
            planner
                .monthly_close(conn, hooks[0].as_ref(), at(2026, 12, 4, 9))
                .expect("q"),
            0
        );
        assert_eq!(logged(conn), 1, "asked once");
        assert!(outbox::is_queued_or_sent(conn, "probe:2026-11").expect("state"));
        let month: Month = "2026-11".parse().expect("month");
        let (issue, key) = planner
            .issue_monthly(conn, hooks[0].as_ref(), month, at(2026, 12, 5, 9))
            .expect("reissue");
        assert_eq!(
            (issue, key.as_str()),
            (Issue::Reissue(1), "probe:2026-11:reissue-1")
        );
        let (issue, _) = planner
            .issue_monthly(conn, hooks[0].as_ref(), month, at(2026, 12, 5, 10))
            .expect("reissue");
        assert_eq!(issue, Issue::Reissue(2));
    }

    #[test]
    fn a_failing_hook_leaves_none_of_its_writes_and_holds_nothing_back() {
        let w = World::new(true);
        let (conn, hooks) = (&w.conn, &w.hooks);
        let planner = w.planner();
        let queued = planner
            .monthly_close(conn, hooks[0].as_ref(), at(2026, 12, 3, 9))
            .expect("a failing hook is logged, not an error of the pass");
        assert_eq!(queued, 0);
        assert_eq!(logged(conn), 0, "its write was rolled back");
        let e = planner
            .issue_monthly(
                conn,
                hooks[0].as_ref(),
                "2026-11".parse().expect("m"),
                at(2026, 12, 3, 9),
            )
            .unwrap_err();
        assert!(e.to_string().contains("told to fail"), "{e}");
    }
}
