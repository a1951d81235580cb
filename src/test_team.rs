//! The team the unit tests of several modules share (payroll, archive,
//! notify), so each test module need not write its own roster; and the
//! team's local time they write instants in.

/// The shared test team (`tests/app/team.toml`): a manager, a supervisor
/// (商务一组) with a rep (张伟) and a clerk (李娜), and the assistant.
pub(crate) fn config() -> crate::config::Config {
    let toml = format!(
        "database = \"x.sqlite3\"\ntracking_starts = \"2026-10-01\"\ncalendar = []\n\
         [maildir]\npath = \"/tmp\"\n{}",
        include_str!("../tests/app/team.toml")
    );
    crate::config::Config::from_toml_str(&toml, std::path::Path::new("test.toml"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `y-m-d h:00` in the team's zone (Asia/Shanghai), as an instant.
pub(crate) fn shanghai(y: i32, m: u32, d: u32, h: u32) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .unwrap_or_else(|| panic!("{y}-{m}-{d} {h}:00 is not one instant in Asia/Shanghai"))
        .with_timezone(&chrono::Utc)
}
