//! Is reportd doing its job? The last pass that ended without an error is
//! recorded (table `last_pass`, one row); `reportd health` compares its age
//! with `--max-age` and looks for emails the server refused for good, and
//! says so in one line with a Nagios exit code.
//!
//! The codes follow the Nagios plugin guidelines, which systemd timers and
//! most monitors read too: 0 OK; 1 WARNING (the daemon works, but an email
//! failed and waits for a person, or emails have waited in the outbox
//! longer than `--max-queue-age`); 2 CRITICAL (no successful pass within
//! `--max-age`, or none ever); 3 UNKNOWN (the config or the database cannot
//! be read, so nothing is known).

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::mail::inbox;
use crate::notify::outbox;
use crate::store::{parse_ts, ts};

/// What one pass did: what its log line says and `last_pass` keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassSummary {
    /// New messages stored.
    pub fetched: usize,
    /// Messages classified (new ones and any left from before).
    pub classified: usize,
    /// Ledger entries booked.
    pub booked: usize,
    /// Emails queued.
    pub queued: usize,
    /// Emails the server accepted.
    pub sent: usize,
    /// Emails left queued after a temporary refusal.
    pub deferred: usize,
    /// Emails refused for good.
    pub failed: usize,
    pub duration: Duration,
}

pub fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Records `pass`, ended at `finished_at`, as the last successful one.
pub fn record_pass(
    conn: &Connection,
    pass: &PassSummary,
    finished_at: DateTime<Utc>,
) -> rusqlite::Result<()> {
    let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
    conn.execute(
        "INSERT INTO last_pass (id, finished_at, duration_ms, fetched, classified, booked, queued, sent)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET finished_at = excluded.finished_at,
             duration_ms = excluded.duration_ms, fetched = excluded.fetched,
             classified = excluded.classified, booked = excluded.booked,
             queued = excluded.queued, sent = excluded.sent",
        params![
            ts(finished_at),
            millis(pass.duration),
            n(pass.fetched),
            n(pass.classified),
            n(pass.booked),
            n(pass.queued),
            n(pass.sent),
        ],
    )?;
    Ok(())
}

/// The last successful pass: when it ended and how long it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastPass {
    pub finished_at: DateTime<Utc>,
    pub duration: Duration,
}

pub fn last_pass(conn: &Connection) -> rusqlite::Result<Option<LastPass>> {
    conn.query_row(
        "SELECT finished_at, duration_ms FROM last_pass WHERE id = 1",
        [],
        |r| {
            let ms: i64 = r.get(1)?;
            Ok(LastPass {
                finished_at: parse_ts(&r.get::<_, String>(0)?)?,
                duration: Duration::from_millis(u64::try_from(ms).unwrap_or(0)),
            })
        },
    )
    .optional()
}

/// Everything health looks at, read from the database at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gauges {
    pub last_pass: Option<LastPass>,
    pub outbox: outbox::Backlog,
    pub flagged: usize,
}

impl Gauges {
    pub fn read(conn: &Connection) -> rusqlite::Result<Gauges> {
        Ok(Gauges {
            last_pass: last_pass(conn)?,
            outbox: outbox::backlog(conn)?,
            flagged: inbox::list(conn, true)?.len(),
        })
    }
}

/// A Nagios state; the discriminant is the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl Status {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

/// The verdict: the worst state found and the one line that says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub status: Status,
    pub line: String,
}

/// How many failed keys the line names before "and N more".
const KEYS_SHOWN: usize = 3;

/// What health tolerates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest time since the last successful pass.
    pub max_age: Duration,
    /// The longest an email may wait in the outbox once it could go.
    pub max_queue_age: Duration,
}

/// The default `--max-age`: above the daemon's longest quiet stretch (a
/// pass at least every 25 minutes while it waits in IDLE without systemd),
/// with room for one slow pass, so a healthy idle daemon is never flagged.
pub const DEFAULT_MAX_AGE: &str = "1h";
/// The default `--max-queue-age`: SMTP retries back off to at most 1 h.
pub const DEFAULT_MAX_QUEUE_AGE: &str = "1h";

/// Judges `gauges` as of `now`: the last pass must have ended within
/// `limits.max_age`, no email may have failed, and none may have waited to
/// be sent longer than `limits.max_queue_age`.
pub fn check(gauges: &Gauges, now: DateTime<Utc>, limits: &Limits) -> Health {
    let max_age = limits.max_age;
    let mut problems: Vec<(Status, String)> = Vec::new();
    let pass = match gauges.last_pass {
        None => {
            problems.push((
                Status::Critical,
                "no successful pass recorded yet: is `reportd run` running? (journalctl -u reportd)"
                    .into(),
            ));
            String::new()
        }
        Some(p) => {
            // A pass "after" `now` (a --now in the past) is as fresh as it gets.
            let age = (now - p.finished_at).to_std().unwrap_or(Duration::ZERO);
            let said = format!("last successful pass {} ago", minutes(age));
            if age > max_age {
                problems.push((
                    Status::Critical,
                    format!(
                        "{said} (max {}): is `reportd run` running and its mail server reachable? (journalctl -u reportd)",
                        minutes(max_age)
                    ),
                ));
            }
            said
        }
    };
    let failed = &gauges.outbox.failed;
    if !failed.is_empty() {
        problems.push((Status::Warning, failed_line(failed)));
    }
    if let Some(line) = waiting_line(&gauges.outbox.due_since, now, limits.max_queue_age) {
        problems.push((Status::Warning, line));
    }
    match problems.iter().map(|(s, _)| *s).max() {
        None => Health {
            status: Status::Ok,
            line: format!(
                "{pass}; outbox: {} queued, 0 failed; {} message(s) flagged",
                gauges.outbox.queued, gauges.flagged
            ),
        },
        Some(status) => Health {
            status,
            line: problems
                .into_iter()
                .map(|(_, text)| text)
                .collect::<Vec<_>>()
                .join("; "),
        },
    }
}

fn failed_line(keys: &[String]) -> String {
    let shown = keys
        .iter()
        .take(KEYS_SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let more = keys.len().saturating_sub(KEYS_SHOWN);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!(
        "{} email(s) failed: {shown}{more}; `reportd outbox` says why, `reportd outbox --retry KEY` sends one again",
        keys.len()
    )
}

/// The emails that could have gone more than `max_queue_age` ago and are
/// still queued: how many, and how long the oldest has waited.
fn waiting_line(due_since: &[DateTime<Utc>], now: DateTime<Utc>, max: Duration) -> Option<String> {
    let ages: Vec<Duration> = due_since
        .iter()
        .filter_map(|t| (now - *t).to_std().ok())
        .filter(|age| *age > max)
        .collect();
    let oldest = ages.iter().max()?;
    let n = ages.len();
    Some(format!(
        "{n} email{} waiting {} to be sent: is SMTP reachable? (`reportd outbox` shows the last error)",
        if n == 1 { "" } else { "s" },
        minutes(*oldest)
    ))
}

/// A duration as `--max-age` is written (humantime), to the minute once it
/// is a minute or more: "2h 3m", "45s"; in days and hours from a day on
/// ("3d 4h"), where humantime would say "11months 18days 16h 24s".
fn minutes(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 86_400 {
        return format!("{}d {}h", secs / 86_400, secs % 86_400 / 3_600);
    }
    let shown = if secs >= 60 { secs - secs % 60 } else { secs };
    humantime::format_duration(Duration::from_secs(shown)).to_string()
}

/// The line `reportd health` prints: the state, the reason, and Nagios
/// performance data after `|`.
pub fn nagios_line(health: &Health, gauges: &Gauges, now: DateTime<Utc>) -> String {
    let age = gauges
        .last_pass
        .map(|p| {
            let secs = (now - p.finished_at).num_seconds().max(0);
            format!("last_pass_age={secs}s ")
        })
        .unwrap_or_default();
    format!(
        "REPORTD {} - {} | {age}outbox_failed={} outbox_queued={} flagged={}",
        health.status.label(),
        health.line,
        gauges.outbox.failed.len(),
        gauges.outbox.queued,
        gauges.flagged
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, h, m, 0)
            .single()
            .expect("valid")
    }

    fn passed_at(t: DateTime<Utc>) -> Gauges {
        Gauges {
            last_pass: Some(LastPass {
                finished_at: t,
                duration: Duration::from_millis(120),
            }),
            ..Gauges::default()
        }
    }

    const MAX: Limits = Limits {
        max_age: Duration::from_secs(15 * 60),
        max_queue_age: Duration::from_secs(60 * 60),
    };

    #[test]
    fn ages_read_in_minutes_and_from_a_day_on_in_days_and_hours() {
        assert_eq!(minutes(Duration::from_secs(2 * 3600 + 3 * 60 + 7)), "2h 3m");
        assert_eq!(minutes(Duration::from_secs(45)), "45s");
        assert_eq!(
            minutes(Duration::from_secs(355 * 86_400 + 16 * 3600 + 24)),
            "355d 16h"
        );
    }

    #[test]
    fn a_recent_pass_and_no_failed_email_is_ok() {
        let h = check(&passed_at(at(10, 0)), at(10, 5), &MAX);
        assert_eq!(h.status, Status::Ok);
        assert!(
            h.line.starts_with("last successful pass 5m ago"),
            "{}",
            h.line
        );
    }

    #[test]
    fn a_pass_older_than_max_age_is_critical_and_says_how_old() {
        let h = check(&passed_at(at(8, 0)), at(10, 3), &MAX);
        assert_eq!(h.status, Status::Critical);
        assert!(
            h.line
                .starts_with("last successful pass 2h 3m ago (max 15m)"),
            "{}",
            h.line
        );
    }

    #[test]
    fn no_pass_at_all_is_critical() {
        let h = check(&Gauges::default(), at(10, 0), &MAX);
        assert_eq!(h.status, Status::Critical);
        assert!(h.line.starts_with("no successful pass"), "{}", h.line);
    }

    #[test]
    fn a_failed_email_is_a_warning_naming_its_key_and_the_worst_state_wins() {
        let mut g = passed_at(at(10, 0));
        g.outbox.failed = (1..=5).map(|i| format!("late-notice:{i}")).collect();
        let h = check(&g, at(10, 1), &MAX);
        assert_eq!(h.status, Status::Warning);
        assert!(
            h.line.starts_with(
                "5 email(s) failed: late-notice:1, late-notice:2, late-notice:3 and 2 more"
            ),
            "{}",
            h.line
        );
        let h = check(&g, at(12, 0), &MAX);
        assert_eq!(h.status, Status::Critical);
        assert!(h.line.contains("; 5 email(s) failed"), "{}", h.line);
        assert!(!h.line.contains('\n'));
    }

    #[test]
    fn the_nagios_line_carries_performance_data() {
        let g = passed_at(at(10, 0));
        let h = check(&g, at(10, 2), &MAX);
        assert_eq!(
            nagios_line(&h, &g, at(10, 2)),
            "REPORTD OK - last successful pass 2m ago; outbox: 0 queued, 0 failed; 0 message(s) flagged \
             | last_pass_age=120s outbox_failed=0 outbox_queued=0 flagged=0"
        );
    }

    #[test]
    fn the_last_pass_is_kept_as_one_row() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = crate::store::open(&dir.path().join("t.sqlite3")).expect("open");
        assert_eq!(last_pass(&conn).expect("read"), None);
        let pass = PassSummary {
            fetched: 3,
            duration: Duration::from_millis(1500),
            ..PassSummary::default()
        };
        record_pass(&conn, &pass, at(9, 0)).expect("first");
        record_pass(&conn, &pass, at(9, 1)).expect("second");
        assert_eq!(
            last_pass(&conn).expect("read"),
            Some(LastPass {
                finished_at: at(9, 1),
                duration: Duration::from_millis(1500)
            })
        );
    }

    #[test]
    fn emails_queued_longer_than_max_queue_age_are_a_warning_with_count_and_oldest_age() {
        let mut g = passed_at(at(12, 0));
        // Queued at 9:50, 10:30 and 10:55; one held by quiet hours until 12:00.
        g.outbox.due_since = vec![at(9, 50), at(10, 30), at(10, 55), at(12, 0)];
        let h = check(&g, at(12, 0), &MAX);
        assert_eq!(h.status, Status::Warning);
        assert_eq!(
            h.line,
            "3 emails waiting 2h 10m to be sent: is SMTP reachable? (`reportd outbox` shows the last error)"
        );
        let h = check(&g, at(10, 40), &MAX);
        assert_eq!(h.status, Status::Ok, "none has waited an hour: {}", h.line);
    }

    #[test]
    fn the_default_max_age_tolerates_the_daemons_longest_idle_stretch() {
        let max_age = humantime::parse_duration(DEFAULT_MAX_AGE).expect("default");
        let limits = Limits { max_age, ..MAX };
        // Idle without systemd: a pass every 25 minutes, plus a slow one.
        let h = check(&passed_at(at(10, 0)), at(10, 30), &limits);
        assert_eq!(h.status, Status::Ok, "{}", h.line);
        assert!(max_age >= 2 * crate::daemon::MAX_IDLE, "{max_age:?}");
    }
}
