//! The systemd notify protocol for `reportd run` under `Type=notify`:
//! READY=1 once the first pass is done, WATCHDOG=1 from the daemon loop
//! itself (after each pass and each wake-up), and STOPPING=1 on the way
//! out. Everything is a no-op unless systemd set `NOTIFY_SOCKET`.
//!
//! The pings come from the loop, never from a timer task of their own, so
//! a loop that hangs (a dead connection nobody notices, a stuck pass)
//! stops them and systemd restarts the daemon. For that the loop must not
//! sleep longer than the ping interval: [`Systemd::cap`] shortens its
//! waits to half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3) advises.

use std::time::Duration;

use sd_notify::NotifyState;

use super::health::PassSummary;

/// The daemon's side of the protocol.
#[derive(Debug)]
pub struct Systemd {
    /// Whether systemd listens (`NOTIFY_SOCKET` is set).
    listening: bool,
    /// Half the watchdog timeout, when systemd set one for this process.
    ping_every: Option<Duration>,
    ready: bool,
}

impl Systemd {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`.
    pub fn from_env() -> Systemd {
        let listening = std::env::var_os("NOTIFY_SOCKET").is_some();
        Systemd {
            listening,
            ping_every: sd_notify::watchdog_enabled()
                .filter(|_| listening)
                .map(|timeout| timeout / 2),
            ready: false,
        }
    }

    /// After a pass: READY=1 the first time, then the pass as STATUS= (what
    /// `systemctl status` shows) and a watchdog ping.
    pub fn pass_done(&mut self, pass: &PassSummary) {
        let status = format!(
            "last pass: fetched {}, classified {}, booked {}, queued {}, sent {}",
            pass.fetched, pass.classified, pass.booked, pass.queued, pass.sent
        );
        let mut states = vec![NotifyState::Status(&status)];
        if !self.ready {
            states.push(NotifyState::Ready);
        }
        if self.ping_every.is_some() {
            states.push(NotifyState::Watchdog);
        }
        if self.send(&states) {
            self.ready = true;
        }
    }

    /// The loop is alive (it woke up, or waits on purpose).
    pub fn alive(&self) {
        if self.ping_every.is_some() {
            self.send(&[NotifyState::Watchdog]);
        }
    }

    /// The daemon is shutting down.
    pub fn stopping(&self) {
        self.send(&[NotifyState::Stopping]);
    }

    /// `wait`, shortened so that the watchdog is pinged in time.
    pub fn cap(&self, wait: Duration) -> Duration {
        self.ping_every.map_or(wait, |every| wait.min(every))
    }

    /// Sleeps `wait`, pinging the watchdog as often as it needs.
    pub async fn sleep(&self, wait: Duration) {
        let mut left = wait;
        while !left.is_zero() {
            let step = self.cap(left);
            tokio::time::sleep(step).await;
            left -= step;
            self.alive();
        }
    }

    /// Sends `states`; says whether they went out. A failure is logged and
    /// otherwise ignored: the daemon's work matters more than its reports.
    fn send(&self, states: &[NotifyState<'_>]) -> bool {
        if !self.listening {
            return false;
        }
        match sd_notify::notify(states) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("cannot notify systemd through NOTIFY_SOCKET: {e}");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_watchdog_waits_are_left_alone_and_with_one_capped_at_half_its_timeout() {
        let none = Systemd {
            listening: true,
            ping_every: None,
            ready: false,
        };
        assert_eq!(
            none.cap(Duration::from_secs(1500)),
            Duration::from_secs(1500)
        );
        let dog = Systemd {
            listening: true,
            ping_every: Some(Duration::from_secs(30)),
            ready: false,
        };
        assert_eq!(dog.cap(Duration::from_secs(1500)), Duration::from_secs(30));
        assert_eq!(dog.cap(Duration::from_secs(5)), Duration::from_secs(5));
    }
}
