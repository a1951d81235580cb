//! Where reportd's log lines go (stderr, filtered by `REPORTD_LOG`, as text
//! or one JSON object a line) and what may never reach them whatever
//! `REPORTD_LOG` says.
//!
//! The protocol crates trace the raw traffic below INFO: async-imap logs
//! every line it sends, `LOGIN "user" "password"` included, and every message
//! body; lettre and rustls log their side of SMTP and TLS. An `EnvFilter`
//! cap such as `async_imap=info` is not enough, because a more specific
//! directive (`async_imap::imap_stream=trace`) beats it. So the cap is a
//! second filter that `REPORTD_LOG` does not feed: an event from those crates
//! below INFO is dropped before it is formatted.

use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::filter::{EnvFilter, FilterExt, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

/// Targets (and everything under them) that may carry passwords or mail in
/// their DEBUG and TRACE events.
const WIRE_TARGETS: &[&str] = &[
    "async_imap",
    "imap_proto",
    "lettre",
    "rustls",
    "tokio_rustls",
];

/// How each log line is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Text for people (and journald): time, level, target, message, fields.
    #[default]
    Human,
    /// One JSON object a line, the event's fields at the top level beside
    /// `timestamp`, `level`, `target` and `message`: for log shippers.
    Json,
}

/// Sends log lines to stderr in `format`: `REPORTD_LOG` (an `EnvFilter`
/// directive list) or INFO for the daemon and WARN for a command; never the
/// wire.
pub fn init(daemon: bool, format: LogFormat) {
    let default = if daemon { "info" } else { "warn" };
    let wanted = EnvFilter::try_from_env("REPORTD_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // A second global subscriber cannot exist (main calls this once); if it
    // did, the first one's filter would still apply.
    let _ = subscriber(wanted, std::io::stderr, format).try_init();
}

/// The subscriber `init` installs, writing to `writer`.
fn subscriber<W>(wanted: EnvFilter, writer: W, format: LogFormat) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let never_the_wire = filter_fn(|meta: &Metadata<'_>| may_log(meta.target(), *meta.level()));
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    let layer = match format {
        LogFormat::Human => layer.boxed(),
        LogFormat::Json => layer.json().flatten_event(true).boxed(),
    };
    tracing_subscriber::registry().with(layer.with_filter(wanted.and(never_the_wire)))
}

/// Whether an event of `target` at `level` may be logged at all.
pub fn may_log(target: &str, level: Level) -> bool {
    // In `tracing`, more verbose levels compare greater: TRACE > INFO.
    level <= Level::INFO || !WIRE_TARGETS.iter().any(|w| is_within(target, w))
}

/// `target` is `module` or one of its submodules (`async_imap::imap_stream`
/// is within `async_imap`; `async_imapx` is not).
fn is_within(target: &str, module: &str) -> bool {
    target
        .strip_prefix(module)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn wire_crates_are_capped_at_info_and_reportd_is_not() {
        assert!(!may_log("async_imap::imap_stream", Level::TRACE));
        assert!(!may_log("async_imap", Level::DEBUG));
        assert!(!may_log("lettre::transport::smtp::client", Level::DEBUG));
        assert!(!may_log("rustls::client::hs", Level::TRACE));
        assert!(may_log("async_imap::client", Level::WARN));
        assert!(may_log("reportd::daemon", Level::TRACE));
        assert!(may_log("async_imapx", Level::TRACE), "another crate");
    }

    /// A writer that keeps what is written, for the test below.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Captured;
        fn make_writer(&'w self) -> Captured {
            self.clone()
        }
    }

    #[test]
    fn no_directive_lets_an_imap_login_line_through() {
        for directives in [
            "trace",
            "async_imap::imap_stream=trace",
            "async_imap=trace,lettre=trace",
        ] {
            let out = Captured::default();
            let sub = subscriber(EnvFilter::new(directives), out.clone(), LogFormat::Human);
            tracing::subscriber::with_default(sub, || {
                tracing::trace!(target: "async_imap::imap_stream", "> a1 LOGIN \"u\" \"hunter2\"");
                tracing::info!(target: "reportd::daemon", "connected");
            });
            let text = String::from_utf8_lossy(&out.0.lock().expect("lock")).into_owned();
            assert!(!text.contains("hunter2"), "{directives}: {text}");
            if directives == "trace" {
                assert!(text.contains("connected"), "{directives}: {text}");
            }
        }
    }

    #[test]
    fn json_lines_are_one_object_each_with_the_fields_at_the_top_and_never_the_wire() {
        let out = Captured::default();
        let sub = subscriber(EnvFilter::new("trace"), out.clone(), LogFormat::Json);
        tracing::subscriber::with_default(sub, || {
            tracing::trace!(target: "async_imap::imap_stream", "> a1 LOGIN \"u\" \"hunter2\"");
            tracing::info!(target: "reportd::daemon", fetched = 3, sent = 1, "pass");
        });
        let text = String::from_utf8_lossy(&out.0.lock().expect("lock")).into_owned();
        assert!(!text.contains("hunter2"), "{text}");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON object"))
            .collect();
        assert_eq!(lines.len(), 1, "{text}");
        assert_eq!(lines[0]["message"], "pass");
        assert_eq!(lines[0]["fetched"], 3);
        assert_eq!(lines[0]["level"], "INFO");
    }
}
