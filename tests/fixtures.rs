//! Each fixture in `tests/fixtures/` (see its README) parses and classifies
//! as the README says.

use std::path::Path;

use chrono::NaiveDate;
use reportd::config::{Keywords, Person, Role, Roster};
use reportd::mail::parse::{Envelope, ParseError, parse};
use reportd::period::{Kind, Period};
use reportd::reports::classify::{Class, REASON_REPLY_OR_FORWARD, classify};

const FOXMAIL_REPORT_ID: &str = "202611281930126172519@example.com";

fn roster() -> Roster {
    let person = |name: &str, email: &str, role, supervisor: Option<&str>| Person {
        name: name.into(),
        email: email.into(),
        aliases: Vec::new(),
        role,
        group: Some("商务一组".into()),
        supervisor: supervisor.map(String::from),
        since: None,
        until: None,
        language: None,
    };
    Roster::new(vec![
        person("王芳", "wangfang@example.com", Role::Supervisor, None),
        person(
            "张伟",
            "zhangwei@example.com",
            Role::Rep,
            Some("wangfang@example.com"),
        ),
        person(
            "李娜",
            "lina@example.com",
            Role::Rep,
            Some("wangfang@example.com"),
        ),
        person("赵敏", "zhaomin@example.com", Role::Assistant, None),
        person("陈刚", "chengang@example.com", Role::Manager, None),
    ])
}

fn load(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn envelope(name: &str) -> Envelope {
    parse(&load(name)).unwrap_or_else(|e| panic!("{name} does not parse: {e}"))
}

fn class_of(name: &str, arrival: (i32, u32, u32)) -> Class {
    let arrival = NaiveDate::from_ymd_opt(arrival.0, arrival.1, arrival.2).expect("a valid date");
    classify(
        &envelope(name),
        arrival,
        &roster(),
        &Keywords::default(),
        &|id| id == FOXMAIL_REPORT_ID,
        &|id| id == FOXMAIL_REPORT_ID,
    )
}

fn report(person: &str, kind: Kind, period: Period, to_supervisor: bool) -> Class {
    Class::Report {
        person: person.into(),
        kind,
        named_period: Some(period),
        to_supervisor,
    }
}

fn week(week: u32) -> Period {
    Period::Week { year: 2026, week }
}

const NOVEMBER: Period = Period::Month {
    year: 2026,
    month: 11,
};

#[test]
fn foxmail_gb2312_weekly_report() {
    let env = envelope("foxmail_weekly_gb2312.eml");
    assert_eq!(env.subject, "张伟 第48周周报(11.23-11.28)");
    assert_eq!(
        env.from.as_ref().and_then(|m| m.name.as_deref()),
        Some("张伟")
    );
    assert_eq!(env.to.first().and_then(|m| m.name.as_deref()), Some("王芳"));
    assert_eq!(
        env.cc.first().map(|m| m.email.as_str()),
        Some("zhaomin@example.com")
    );
    assert_eq!(env.message_id.as_deref(), Some(FOXMAIL_REPORT_ID));
    assert_eq!(env.x_mailer.as_deref(), Some("Foxmail 7.2.25.228[cn]"));
    assert_eq!(
        env.date.map(|d| d.to_rfc3339()).as_deref(),
        Some("2026-11-28T19:30:12+08:00")
    );
    assert!(
        env.body_text.contains("跟进镕达机电报价"),
        "{}",
        env.body_text
    );
    assert_eq!(
        class_of("foxmail_weekly_gb2312.eml", (2026, 11, 28)),
        report("zhangwei@example.com", Kind::Weekly, week(48), true)
    );
}

#[test]
fn outlook_gb2312_monthly_report() {
    let env = envelope("outlook_monthly_gb2312.eml");
    assert_eq!(env.subject, "李娜 11月月报");
    assert_eq!(env.x_mailer.as_deref(), Some("Microsoft Outlook 16.0"));
    assert!(
        env.body_text.contains("本月销售额：26,400元"),
        "{}",
        env.body_text
    );
    assert_eq!(
        class_of("outlook_monthly_gb2312.eml", (2026, 12, 1)),
        report("lina@example.com", Kind::Monthly, NOVEMBER, true)
    );
}

#[test]
fn exmail_utf8_weekly_report() {
    let env = envelope("exmail_weekly_utf8.eml");
    assert_eq!(env.subject, "李娜-周报-2026W48");
    assert!(env.body_text.starts_with("王芳你好："), "{}", env.body_text);
    assert_eq!(
        class_of("exmail_weekly_utf8.eml", (2026, 11, 28)),
        report("lina@example.com", Kind::Weekly, week(48), true)
    );
}

#[test]
fn webmail_quoted_printable_weekly_report_with_supervisor_in_cc() {
    let env = envelope("webmail_weekly_utf8_qp.eml");
    assert_eq!(env.subject, "Weekly Report W47 – 张伟");
    assert_eq!(
        env.from.as_ref().map(|m| m.email.as_str()),
        Some("zhangwei@example.com")
    );
    assert_eq!(env.x_mailer.as_deref(), Some("Roundcube Webmail/1.6.5"));
    assert!(env.body_text.contains("拜访客户8家"), "{}", env.body_text);
    assert_eq!(
        class_of("webmail_weekly_utf8_qp.eml", (2026, 11, 21)),
        report("zhangwei@example.com", Kind::Weekly, week(47), true)
    );
}

#[test]
fn big5_weekly_report_from_a_taiwan_client() {
    let env = envelope("big5_weekly_taiwan.eml");
    assert_eq!(env.subject, "張偉 第49週週報 (11/30-12/05)");
    assert_eq!(
        env.from.as_ref().and_then(|m| m.name.as_deref()),
        Some("張偉")
    );
    assert!(env.body_text.contains("拜訪客戶10家"), "{}", env.body_text);
    assert_eq!(
        class_of("big5_weekly_taiwan.eml", (2026, 12, 5)),
        report("zhangwei@example.com", Kind::Weekly, week(49), true)
    );
}

#[test]
fn gbk_only_character_in_gb2312_labelled_subject() {
    let env = envelope("gbk_only_char_gb2312.eml");
    assert_eq!(env.subject, "李娜 第49周周报 镕达机电跟进");
    assert!(env.body_text.contains("珺琦科技"), "{}", env.body_text);
    assert_eq!(
        class_of("gbk_only_char_gb2312.eml", (2026, 12, 5)),
        report("lina@example.com", Kind::Weekly, week(49), true)
    );
}

#[test]
fn raw_8bit_gbk_headers_decode() {
    let env = envelope("raw_8bit_gbk_headers.eml");
    assert_eq!(env.subject, "张伟 11月月报");
    assert_eq!(
        env.from.as_ref().and_then(|m| m.name.as_deref()),
        Some("张伟")
    );
    assert_eq!(env.to.first().and_then(|m| m.name.as_deref()), Some("王芳"));
    assert_eq!(
        env.date.map(|d| d.to_rfc3339()).as_deref(),
        Some("2026-12-01T17:20:00+08:00")
    );
    assert!(
        env.body_text.contains("11月销售额21,300元"),
        "{}",
        env.body_text
    );
    assert_eq!(
        class_of("raw_8bit_gbk_headers.eml", (2026, 12, 1)),
        report("zhangwei@example.com", Kind::Monthly, NOVEMBER, true)
    );
}

#[test]
fn supervisor_reply_names_the_report_it_answers() {
    let env = envelope("supervisor_reply.eml");
    assert_eq!(env.subject, "回复: 张伟 第48周周报(11.23-11.28)");
    assert_eq!(env.in_reply_to, [FOXMAIL_REPORT_ID]);
    assert_eq!(
        class_of("supervisor_reply.eml", (2026, 11, 29)),
        Class::Reply {
            replier: "wangfang@example.com".into(),
            report_message_id: FOXMAIL_REPORT_ID.into()
        }
    );
    // Without the report stored, it answers nothing known by its thread:
    // its subject decides (a mailto link drops In-Reply-To).
    let nothing_known = classify(
        &env,
        NaiveDate::from_ymd_opt(2026, 11, 29).expect("a valid date"),
        &roster(),
        &Keywords::default(),
        &|_| false,
        &|_| false,
    );
    assert!(
        matches!(nothing_known, Class::ReplyBySubject { .. }),
        "{nothing_known:?}"
    );
}

#[test]
fn forwarded_report_is_not_a_report_and_is_flagged_when_its_thread_is_unknown() {
    let env = envelope("forward.eml");
    assert_eq!(env.subject, "FW: 李娜 11月月报");
    // Outlook's forward names no thread, so reportd cannot tell that it
    // holds the original: the assistant is asked to check.
    assert!(matches!(
        class_of("forward.eml", (2026, 12, 1)),
        Class::Flagged { reason } if reason.contains("thread reportd never saw")
    ));
    // With the report it forwards known, it is an ordinary forward.
    let mut env = env;
    env.references = vec![FOXMAIL_REPORT_ID.into()];
    assert_eq!(
        classify(
            &env,
            NaiveDate::from_ymd_opt(2026, 12, 1).expect("a valid date"),
            &roster(),
            &Keywords::default(),
            &|id| id == FOXMAIL_REPORT_ID,
            &|id| id == FOXMAIL_REPORT_ID,
        ),
        Class::Ignored {
            reason: REASON_REPLY_OR_FORWARD.into()
        }
    );
}

#[test]
fn report_without_the_supervisor_is_misaddressed() {
    assert_eq!(
        class_of("misaddressed_weekly.eml", (2026, 11, 21)),
        report("lina@example.com", Kind::Weekly, week(47), false)
    );
}

#[test]
fn malformed_fixture_is_rejected() {
    assert!(matches!(
        parse(&load("malformed_no_headers.eml")),
        Err(ParseError::Malformed(_))
    ));
}

#[test]
fn every_fixture_is_listed_in_the_readme() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("tests/fixtures/README.md");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("tests/fixtures") {
        let name = entry
            .expect("a directory entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".eml") {
            count += 1;
            assert!(
                readme.contains(&format!("`{name}`")),
                "{name} is not described in tests/fixtures/README.md"
            );
        }
    }
    assert!(count >= 11, "only {count} fixtures");
}
