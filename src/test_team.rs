//! The team the unit tests of several modules share (payroll, archive,
//! notify), so each test module need not write its own roster; and the
//! team's local time they write instants in.

/// A manager, a supervisor (商务一组) with a rep (张伟) and a clerk (李娜),
/// and the assistant.
pub(crate) fn config() -> crate::config::Config {
    const CONFIG: &str = r#"
database = "x.sqlite3"
tracking_starts = "2026-10-01"
calendar = []
[maildir]
path = "/tmp"
[[person]]
name = "陈刚"
email = "chengang@example.com"
role = "manager"
[[person]]
name = "王芳"
email = "wangfang@example.com"
role = "supervisor"
group = "商务一组"
[[person]]
name = "赵敏"
email = "zhaomin@example.com"
role = "assistant"
[[person]]
name = "张伟"
email = "zhangwei@example.com"
role = "rep"
supervisor = "wangfang@example.com"
[[person]]
name = "李娜"
email = "lina@example.com"
role = "clerk"
supervisor = "wangfang@example.com"
"#;
    crate::config::Config::from_toml_str(CONFIG, std::path::Path::new("test.toml"))
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
