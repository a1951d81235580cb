//! `reportd health --prometheus FILE`: the health gauges as a file for the
//! node exporter's textfile collector, replaced atomically (written beside
//! it, then renamed) so the collector never reads half a file.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use prometheus::{Encoder, IntGauge, Registry, TextEncoder};

use super::health::{Gauges, Status};

#[derive(Debug, thiserror::Error)]
pub enum TextfileError {
    #[error("cannot build the Prometheus metrics: {0}; this is a bug in reportd, please report it")]
    Metrics(#[from] prometheus::Error),
    #[error(
        "cannot write the Prometheus file {path}: {source}; check that its directory exists and reportd may write to it"
    )]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// The gauges in Prometheus' text format. Without a recorded pass the
/// timestamp and duration are 0. With `gauges` unknown (the database could
/// not be read), only the status (3) and the timestamp (0) are written.
pub fn render(gauges: Option<&Gauges>, status: Status) -> Result<String, TextfileError> {
    let registry = Registry::new();
    let gauge = |name: &str, help: &str, value: i64| -> Result<(), TextfileError> {
        let g = IntGauge::new(name, help)?;
        g.set(value);
        registry.register(Box::new(g))?;
        Ok(())
    };
    gauge(
        "reportd_health_status",
        "reportd health: 0 OK, 1 WARNING (an email failed), 2 CRITICAL (no recent successful pass), 3 UNKNOWN",
        i64::from(status.code()),
    )?;
    // Written even when nothing is known (0), so that the alert on its age
    // fires rather than going quiet with the series.
    let pass = gauges.and_then(|g| g.last_pass);
    gauge(
        "reportd_last_successful_pass_timestamp_seconds",
        "When the last pass that ended without an error ended (Unix time; 0: never, or unknown)",
        pass.map_or(0, |p| p.finished_at.timestamp()),
    )?;
    if let Some(g) = gauges {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        gauge(
            "reportd_last_successful_pass_duration_milliseconds",
            "How long that pass took",
            pass.map_or(0, |p| {
                i64::try_from(p.duration.as_millis()).unwrap_or(i64::MAX)
            }),
        )?;
        gauge(
            "reportd_outbox_failed",
            "Emails the server refused for good (reportd outbox --retry KEY)",
            count(g.outbox.failed.len()),
        )?;
        gauge(
            "reportd_outbox_pending",
            "Emails queued and not yet sent",
            count(g.outbox.queued),
        )?;
        gauge(
            "reportd_messages_flagged",
            "Messages that need the assistant's eye (reportd messages --flagged)",
            count(g.flagged),
        )?;
    }
    let mut text = Vec::new();
    TextEncoder::new().encode(&registry.gather(), &mut text)?;
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// Replaces `path` with `text` at once: a temporary file in the same
/// directory (which the collector ignores: its name does not end `.prom`),
/// then a rename over `path`.
pub fn write(path: &Path, text: &str) -> Result<(), TextfileError> {
    let err = |source| TextfileError::Write {
        path: path.display().to_string(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    tmp.write_all(text.as_bytes()).map_err(err)?;
    // Counts and a timestamp, nothing private; the collector runs as
    // another user, so the file is readable by all (the temporary file
    // starts 0600).
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::health::LastPass;
    use chrono::TimeZone;

    #[test]
    fn the_file_has_every_gauge_and_replaces_the_old_one_whole() {
        let gauges = Gauges {
            last_pass: Some(LastPass {
                finished_at: chrono::Utc
                    .with_ymd_and_hms(2026, 11, 30, 2, 0, 0)
                    .single()
                    .expect("valid"),
                duration: std::time::Duration::from_millis(250),
            }),
            outbox: crate::notify::outbox::Backlog {
                queued: 2,
                failed: vec!["a".into()],
                due_since: Vec::new(),
            },
            flagged: 4,
        };
        let text = render(Some(&gauges), Status::Warning).expect("render");
        for line in [
            "reportd_health_status 1",
            "reportd_last_successful_pass_timestamp_seconds 1796004000",
            "reportd_last_successful_pass_duration_milliseconds 250",
            "reportd_outbox_failed 1",
            "reportd_outbox_pending 2",
            "reportd_messages_flagged 4",
            "# TYPE reportd_outbox_pending gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("reportd.prom");
        std::fs::write(&path, "old").expect("old file");
        write(&path, &text).expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["reportd.prom"], "no temporary file left");
        let unknown = render(None, Status::Unknown).expect("render");
        assert!(unknown.contains("reportd_health_status 3"), "{unknown}");
        assert!(!unknown.contains("reportd_outbox"), "{unknown}");
        assert!(
            unknown
                .lines()
                .any(|l| l == "reportd_last_successful_pass_timestamp_seconds 0"),
            "the age alert still has its series when nothing is known: {unknown}"
        );
    }
}
