//! The command line as a user meets it: checking a config, the calendar
//! view, and the demo, run through the real binary.

use std::path::Path;
use std::process::{Command, Output};

fn reportd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reportd"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("REPORTD_CONFIG")
        .env("REPORTD_IMAP_PASSWORD", "secret")
        .env("REPORTD_SMTP_PASSWORD", "secret")
        .output()
        .expect("run reportd")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[test]
fn example_config_checks_clean_with_config_given_after_the_command() {
    let out = reportd(&["check-config", "--config", "config/reportd.example.toml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("valid"));
}

#[test]
fn config_mistakes_are_named_with_file_line_and_key_and_exit_non_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/reportd.example.toml"),
    )
    .expect("example");
    // Line 3 gets an unknown key; a rep's supervisor goes missing.
    let mut lines: Vec<String> = example.lines().map(str::to_string).collect();
    lines.insert(2, "databse = \"typo.sqlite3\"".into());
    let broken = lines
        .join("\n")
        .replacen("supervisor = \"", "supervisor = \"nobody-", 1);
    std::fs::write(&path, broken).expect("write");
    let shown = path.display().to_string();
    let out = reportd(&["--config", &shown, "check-config"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{shown}:3: databse: unknown key")),
        "{err}"
    );
    assert!(
        err.contains(".supervisor: no person with email \"nobody-"),
        "{err}"
    );
}

#[test]
fn calendar_of_january_2026_shows_the_sunday_make_up_day_and_its_deadline() {
    let out = reportd(&[
        "calendar",
        "--month",
        "2026-01",
        "--config",
        "config/reportd.example.toml",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("4*"), "{shown}");
    assert!(
        shown.contains("2025-12  monthly report due before end of Sun 2026-01-04"),
        "{shown}"
    );
}

/// The example config with its own database in `dir` and no calendar files,
/// so the built-in official schedule alone decides.
fn config_in(dir: &Path) -> String {
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/reportd.example.toml"),
    )
    .expect("example");
    let calendar_line = example
        .lines()
        .find(|l| l.starts_with("calendar = "))
        .expect("calendar key")
        .to_string();
    let text = example
        .replacen(
            "database = \"var/reportd.sqlite3\"",
            &format!("database = \"{}\"", dir.join("r.sqlite3").display()),
            1,
        )
        .replacen(&calendar_line, "calendar = []", 1);
    let path = dir.join("reportd.toml");
    std::fs::write(&path, text).expect("write config");
    path.display().to_string()
}

#[test]
fn status_marks_the_december_2026_report_provisional_and_due_after_new_years_day() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_in(dir.path());
    let args = [
        "--config",
        &config,
        "status",
        "--period",
        "2026-11",
        "--period",
        "2026-12",
        "--now",
        "2027-01-05T09:00:00+08:00",
    ];
    let out = reportd(&[&args[..], &["--json"]].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("status JSON");
    let december: Vec<_> = rows.iter().filter(|r| r["period"] == "2026-12").collect();
    let november: Vec<_> = rows.iter().filter(|r| r["period"] == "2026-11").collect();
    assert!(!december.is_empty() && !november.is_empty(), "{rows:?}");
    for r in &december {
        // Not 2027-01-01 (元旦, a Friday): the end of Monday 4 January.
        assert_eq!(r["due"], "2027-01-05T00:00:00+08:00", "{r}");
        assert_eq!(r["provisional"], true, "{r}");
    }
    for r in &november {
        assert_eq!(r["due"], "2026-12-02T00:00:00+08:00", "{r}");
        assert_eq!(r["provisional"], false, "{r}");
    }

    let table = reportd(&args);
    assert!(table.status.success(), "{}", text(&table.stderr));
    let shown = text(&table.stdout);
    assert!(
        shown.contains("1月4日（周一）当天（暂定，provisional）"),
        "{shown}"
    );
    assert!(
        shown.contains("暂定：该截止时间所依据的日子还没有国务院放假通知"),
        "the note speaks the team's language: {shown}"
    );
}

/// `check-config` as of `now`, which must pass; its stderr (the warnings).
fn check_config_at(config: &str, now: &str) -> String {
    let out = reportd(&["--config", config, "check-config", "--now", now]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stderr)
}

#[test]
fn check_config_warns_in_november_that_next_years_notice_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_in(dir.path());
    let err = check_config_at(&config, "2026-11-30T12:00:00+08:00");
    assert!(
        err.contains(&format!(
            "warning: {config}: calendar: no holiday notice for 2027 yet"
        )),
        "{err}"
    );
    assert!(err.contains("marked provisional"), "{err}");
    assert!(err.contains("cargo update -p tyme4rs"), "{err}");
    assert!(err.contains("official = true"), "{err}");

    let june = check_config_at(&config, "2026-06-01T12:00:00+08:00");
    assert!(!june.contains("warning"), "{june}");
}

#[test]
fn check_config_stays_quiet_about_a_year_whose_notice_is_written_locally() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_in(dir.path());
    let notice = dir.path().join("cn-2027.toml");
    std::fs::write(
        &notice,
        "year = 2027\nsource = \"国务院办公厅关于2027年部分节假日安排的通知\"\nofficial = true\n\
         [[holiday]]\nname = \"元旦\"\nfrom = 2027-01-01\nto = 2027-01-03\n",
    )
    .expect("write notice");
    let text_before = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        text_before.replacen(
            "\ncalendar = []\n",
            &format!("\ncalendar = [\"{}\"]\n", notice.display()),
            1,
        ),
    )
    .expect("rewrite config");
    let err = check_config_at(&config, "2026-11-30T12:00:00+08:00");
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn demo_shows_every_status_and_delivers_each_email_at_the_minute_it_is_due() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo_dir = dir.path().join("demo");
    let out = reportd(&["demo", "--dir", &demo_dir.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    // In the team's words (the demo's team speaks Chinese).
    for status in ["准时", "迟交", "未交", "免罚", "待交"] {
        assert!(shown.contains(status), "the board shows {status}:\n{shown}");
    }
    assert!(shown.contains("判定时间：12月2日（周三）10:00"), "{shown}");
    assert!(shown.contains("错发"), "{shown}");
    assert!(shown.contains("无法解析"), "{shown}");
    let emails: Vec<_> = std::fs::read_dir(demo_dir.join("outbox"))
        .expect("outbox dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .collect();
    assert!(emails.len() > 10, "{} emails", emails.len());
    // Delivered at the minute each was due, so nothing the demo's people
    // act on is hidden: reminders before deadlines, a fine notice for each
    // late arrival, a confirmation of each waiver.
    use mailparse::MailHeaderMap as _;
    // The To and Cc of an .eml file.
    let addressed = |path: &Path| -> String {
        let raw = std::fs::read(path).expect("read eml");
        let (h, _) = mailparse::parse_headers(&raw).expect("headers");
        let field = |name: &str| h.get_first_value(name).unwrap_or_default();
        format!("{} {}", field("To"), field("Cc"))
    };
    let of_kind = |kind: &str| -> Vec<String> {
        emails
            .iter()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .ends_with(&format!("-{kind}.eml"))
            })
            .map(|e| addressed(&e.path()))
            .collect()
    };
    let reminders = of_kind("deadline_reminder");
    assert!(
        reminders
            .iter()
            .any(|to| to.contains("zhangwei@example.com")),
        "a deadline reminder reaches 张伟, who is never late"
    );
    let fines = of_kind("fine_notice");
    for late in ["lina@example.com", "zhaoqiang@example.com"] {
        assert!(
            fines.iter().any(|to| to.contains(late)),
            "a fine notice for the late report of {late}"
        );
    }
    let waivers = of_kind("excuse_confirmation");
    assert!(
        waivers.len() >= 2,
        "one confirmation per waiver, got {}",
        waivers.len()
    );
    // Each recipient's Maildir holds exactly what was sent to them.
    let to_lina = emails
        .iter()
        .filter(|e| addressed(&e.path()).contains("lina@example.com"))
        .count();
    let in_maildir = std::fs::read_dir(demo_dir.join("delivered/lina@example.com/new"))
        .expect("李娜's Maildir")
        .count();
    assert!(to_lina > 0);
    assert_eq!(in_maildir, to_lina, "李娜's Maildir holds her mail");
    // And the demo says what each person received, in the team's words.
    let lina_line = shown
        .lines()
        .find(|l| l.trim_start().starts_with("李娜: "))
        .unwrap_or_else(|| panic!("a line for 李娜:\n{shown}"));
    assert!(lina_line.contains("罚款通知"), "{lina_line}");
    assert!(lina_line.contains("截止提醒"), "{lina_line}");
    // The demo's database is a real reportd database the CLI can read.
    let config = demo_dir.join("reportd.toml").display().to_string();
    let status = reportd(&[
        "status",
        "--json",
        "--now",
        "2026-12-02T10:00:00+08:00",
        "--config",
        &config,
    ]);
    assert!(status.status.success(), "{}", text(&status.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&status.stdout).expect("status JSON");
    assert!(
        rows.iter()
            .any(|r| r["status"] == "excused" && r["name"] == "王磊")
    );
}

/// The demo's team over a database of its own that has read no mail yet:
/// (the temp dir, the config). Judging it books every deadline since
/// tracking began, for everyone.
fn demo_team_with_a_fresh_database() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo_dir = dir.path().join("demo");
    let out = reportd(&["demo", "--dir", &demo_dir.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config = demo_dir.join("reportd.toml");
    let fresh = dir.path().join("fresh.sqlite3");
    let text_of_config = std::fs::read_to_string(&config).expect("config");
    let database = demo_dir.join("reportd.sqlite3").display().to_string();
    let rewritten = text_of_config.replace(&database, &fresh.display().to_string());
    assert_ne!(rewritten, text_of_config, "the database moved");
    let fresh_config = dir.path().join("fresh.toml");
    std::fs::write(&fresh_config, rewritten).expect("write config");
    (dir, fresh_config.display().to_string())
}

/// `reportd excuse` of 赵强's week 48 by 赵敏, judged as of 11-30 12:00 UTC.
fn excuse_zhaoqiang_week_48(config: &str) -> Output {
    reportd(&[
        "--config",
        config,
        "excuse",
        "--person",
        "zhaoqiang@example.com",
        "--period",
        "2026-W48",
        "--reason",
        "出差",
        "--by",
        "zhaomin@example.com",
        "--now",
        "2026-11-30T12:00:00Z",
    ])
}

/// `reportd sync --once` as of 11-30 12:00 UTC, stopped at `failpoint`.
fn sync_stopped_at(config: &str, failpoint: &str) {
    let stopped = Command::new(env!("CARGO_BIN_EXE_reportd"))
        .args([
            "--config",
            config,
            "sync",
            "--once",
            "--now",
            "2026-11-30T12:00:00Z",
        ])
        .env_remove("REPORTD_CONFIG")
        .env(reportd::failpoint::ENV, failpoint)
        .output()
        .expect("run reportd");
    assert!(
        text(&stopped.stderr).contains(&format!("failpoint {failpoint} reached")),
        "{}",
        text(&stopped.stderr)
    );
}

/// The ledger's entries, as `reportd ledger --json` lists them.
fn ledger_entries(config: &str) -> Vec<serde_json::Value> {
    let out = reportd(&["--config", config, "ledger", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ledger: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    ledger["entries"].as_array().expect("entries").clone()
}

#[test]
fn an_excuse_whose_judging_books_many_entries_lists_what_the_reason_changed_and_counts_the_rest() {
    let (dir, config) = demo_team_with_a_fresh_database();
    // The team's mailbox is empty and was read before tracking began
    // (2 November): the judging the reason triggers books every deadline
    // since, for everyone.
    let empty = dir.path().join("empty");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(empty.join(sub)).expect("maildir");
    }
    let text_of_config = std::fs::read_to_string(&config).expect("config");
    let (maildir, _) = text_of_config
        .lines()
        .find_map(|l| l.strip_prefix("path = \""))
        .and_then(|l| l.split_once('"'))
        .expect("the maildir path");
    let emptied = text_of_config.replace(maildir, &empty.display().to_string());
    std::fs::write(&config, emptied).expect("write config");
    let out = reportd(&[
        "--config",
        &config,
        "sync",
        "--once",
        "--now",
        "2026-11-01T12:00:00Z",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(ledger_entries(&config).is_empty());
    let out = excuse_zhaoqiang_week_48(&config);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.starts_with("已登记 赵强 zhaoqiang@example.com 的第48周（11月23日–29日）周报的原因"),
        "{shown}"
    );
    assert!(
        shown.contains("记罚款 50.00 元：赵强 zhaoqiang@example.com，第48周")
            && shown.contains(
                "撤销罚款 50.00 元：赵强 zhaoqiang@example.com，第48周（11月23日–29日）（正当理由（赵敏登记）：出差）"
            ),
        "{shown}"
    );
    assert!(
        shown.contains("共记罚款 25 笔、撤销 1 笔；`reportd ledger` 列出全部"),
        "{shown}"
    );
    assert_eq!(
        shown.lines().count(),
        4,
        "the reason, two lines and a count: {shown}"
    );
}

#[test]
fn an_excuse_before_any_mail_is_read_files_the_reason_and_books_nothing() {
    let (_dir, config) = demo_team_with_a_fresh_database();
    let out = excuse_zhaoqiang_week_48(&config);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("尚未判定：reportd 还没有读取过邮箱"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        ledger_entries(&config).is_empty(),
        "nobody fined for mail not read"
    );
    for send in [
        ["archive", "--month", "2026-10", "--send"],
        ["payroll", "--month", "2026-10", "--send"],
    ] {
        let out = reportd(
            &[
                &["--config", &config],
                &send[..],
                &["--now", "2026-11-30T12:00:00Z"],
            ]
            .concat(),
        );
        assert!(!out.status.success(), "{send:?} refused");
        assert!(
            text(&out.stderr).contains("has not read the mailbox"),
            "{send:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn nothing_is_judged_booked_or_sent_while_stored_mail_waits_to_be_read() {
    let (_dir, config) = demo_team_with_a_fresh_database();
    let now = "2026-11-30T12:00:00Z";
    // An import stopped after storing the mailbox, before reading any of
    // it: what another process sees while a first import runs.
    sync_stopped_at(&config, reportd::failpoint::STORED_BEFORE_INTAKE);
    let entries = ledger_entries;

    let out = excuse_zhaoqiang_week_48(&config);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("尚未判定：还有"), "{shown}");
    assert!(entries(&config).is_empty(), "nothing booked");

    let out = reportd(&["--config", &config, "status", "--now", now]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).starts_with("注意：还有"),
        "{}",
        text(&out.stderr)
    );
    for send in [
        ["archive", "--month", "2026-10", "--send"],
        ["payroll", "--month", "2026-10", "--send"],
    ] {
        let out = reportd(&[&["--config", &config], &send[..], &["--now", now]].concat());
        assert!(!out.status.success(), "{send:?} refused");
        assert!(
            text(&out.stderr).contains("stored messages are not read yet"),
            "{send:?}: {}",
            text(&out.stderr)
        );
    }
    assert!(entries(&config).is_empty(), "nothing booked");

    // The next pass reads the mail, then judges with the reason filed.
    let out = reportd(&["--config", &config, "sync", "--once", "--now", now]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let booked = entries(&config);
    assert!(!booked.is_empty(), "the pass judged");
    // Judged without the reports, every week would have been fined and
    // then waived as its report was read: the one waiver is the reason's.
    let waivers: Vec<_> = booked.iter().filter(|e| e["kind"] == "waiver").collect();
    assert_eq!(waivers.len(), 1, "{booked:?}");
    assert_eq!(waivers[0]["person"], "zhaoqiang@example.com");
    assert_eq!(waivers[0]["period"], "2026-W48");
}
