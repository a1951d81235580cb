//! The instant a command works as of: the machine's clock, or `--now`.
//!
//! `--now` replays the past (a pass that was missed, a test, the demo). A
//! command that books fines or sends email must not run in the future: a fine
//! booked for a deadline that has not passed can never be removed (the ledger
//! is append-only), and notices would go out early. Read-only commands may
//! look at any instant.

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};

/// How far ahead of the clock `--now` may be for a command that books or
/// sends: room for a clock a little behind, never a deadline's worth.
pub const MAX_AHEAD: TimeDelta = TimeDelta::minutes(5);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "--now {given} is {} later than this machine's clock ({clock}): this command \
     books fines and sends emails, and a fine booked for a deadline that has not passed can never \
     be removed. Leave out --now to work as of the clock (or fix the machine's clock), or give a \
     time at most 5 minutes ahead; `reportd status --now` shows any instant without booking",
    describe(*ahead)
)]
pub struct FutureNow {
    pub given: DateTime<FixedOffset>,
    pub clock: DateTime<Utc>,
    pub ahead: TimeDelta,
}

/// `ahead` in the largest unit that keeps it readable.
fn describe(ahead: TimeDelta) -> String {
    match (ahead.num_days(), ahead.num_hours(), ahead.num_minutes()) {
        (d, _, _) if d >= 2 => format!("{d} days"),
        (_, h, _) if h >= 2 => format!("{h} hours"),
        (_, _, m) => format!("{m} minutes"),
    }
}

/// The instant a command that books or sends works as of: `given`, unless
/// it is more than [`MAX_AHEAD`] later than `clock`; the clock without it.
pub fn acting_at(
    given: Option<DateTime<FixedOffset>>,
    clock: DateTime<Utc>,
) -> Result<DateTime<Utc>, FutureNow> {
    let Some(given) = given else {
        return Ok(clock);
    };
    let ahead = given.with_timezone(&Utc) - clock;
    if ahead > MAX_AHEAD {
        return Err(FutureNow {
            given,
            clock,
            ahead,
        });
    }
    Ok(given.with_timezone(&Utc))
}

/// The instant a read-only command shows: `given` whatever it is, else the
/// clock.
pub fn viewing_at(given: Option<DateTime<FixedOffset>>, clock: DateTime<Utc>) -> DateTime<Utc> {
    given.map_or(clock, |g| g.with_timezone(&Utc))
}

/// Where the fault suite starts `reportd run`'s clock (RFC 3339, not
/// later than the machine's clock): from that instant it runs at real speed,
/// so a test can replay a month's deadlines and emails at a fixed moment
/// whenever it runs. Unset, the daemon uses the machine's clock.
pub const DAEMON_START_ENV: &str = "REPORTD_TEST_CLOCK_START";

static DAEMON_OFFSET: std::sync::OnceLock<TimeDelta> = std::sync::OnceLock::new();

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DaemonClockError {
    #[error(
        "{DAEMON_START_ENV}={0:?} is not an RFC 3339 instant: write e.g. 2026-10-28T10:00:00+08:00, \
         or unset it (it is for the test suite only)"
    )]
    Unreadable(String),
    #[error(transparent)]
    Future(#[from] FutureNow),
}

/// Sets the daemon's clock from [`DAEMON_START_ENV`] (once per process).
pub fn start_daemon_clock() -> Result<(), DaemonClockError> {
    let Ok(text) = std::env::var(DAEMON_START_ENV) else {
        return Ok(());
    };
    let offset = daemon_offset(&text, Utc::now())?;
    let _ = DAEMON_OFFSET.set(offset);
    tracing::warn!(%text, "{DAEMON_START_ENV} is set: the daemon's clock is not the machine's");
    Ok(())
}

/// How far the daemon's clock is from `clock` when it starts at `text`.
fn daemon_offset(text: &str, clock: DateTime<Utc>) -> Result<TimeDelta, DaemonClockError> {
    let start = DateTime::parse_from_rfc3339(text.trim())
        .map_err(|_| DaemonClockError::Unreadable(text.to_string()))?;
    Ok(acting_at(Some(start), clock)? - clock)
}

/// The daemon's clock: the machine's, shifted when [`start_daemon_clock`]
/// found [`DAEMON_START_ENV`].
pub fn daemon_now() -> DateTime<Utc> {
    Utc::now() + DAEMON_OFFSET.get().copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(text).expect("RFC 3339")
    }

    fn clock() -> DateTime<Utc> {
        at("2026-11-30T10:00:00Z").with_timezone(&Utc)
    }

    #[test]
    fn the_daemon_clock_starts_at_a_past_instant_and_never_in_the_future() {
        let back = daemon_offset("2026-11-04T10:00:00+08:00", clock()).expect("past");
        assert_eq!(
            clock() + back,
            at("2026-11-04T02:00:00Z").with_timezone(&Utc)
        );
        assert!(matches!(
            daemon_offset("2026-12-01T10:00:00Z", clock()),
            Err(DaemonClockError::Future(_))
        ));
        assert!(matches!(
            daemon_offset("next Wednesday", clock()),
            Err(DaemonClockError::Unreadable(_))
        ));
    }

    #[test]
    fn the_past_and_up_to_five_minutes_ahead_are_accepted() {
        for given in [
            "2026-11-16T10:00:00+08:00",
            "2026-11-30T10:00:00Z",
            "2026-11-30T18:05:00+08:00",
        ] {
            let t = acting_at(Some(at(given)), clock()).expect(given);
            assert_eq!(t, at(given).with_timezone(&Utc));
        }
        assert_eq!(acting_at(None, clock()), Ok(clock()));
    }

    #[test]
    fn more_than_five_minutes_ahead_is_refused_with_the_reason() {
        let err =
            acting_at(Some(at("2026-11-30T18:05:01+08:00")), clock()).expect_err("5 min 1 s ahead");
        assert_eq!(err.ahead, TimeDelta::seconds(301));
        assert!(err.to_string().contains("is 5 minutes later"), "{err}");
        let far = acting_at(Some(at("2026-12-31T10:00:00Z")), clock()).expect_err("a month ahead");
        let text = far.to_string();
        assert!(text.contains("is 31 days later"), "{text}");
        assert!(text.contains("Leave out --now"), "{text}");
    }

    #[test]
    fn read_only_commands_see_any_instant() {
        let future = at("2030-01-01T00:00:00Z");
        assert_eq!(viewing_at(Some(future), clock()), future);
        assert_eq!(viewing_at(None, clock()), clock());
    }
}
