//! One decoded message to one class: a report, a reply to a report,
//! ignored with the reason, or flagged for the assistant when it looks like
//! a report that reportd cannot place (no week or month, an excluded word,
//! a reply to a thread reportd never saw, an address not in the roster, a
//! reporter's reply that may be a report written as a reply):
//! such a message is never dropped in silence.
//!
//! The subject is read on a folded text (`fold`): whether it is a report and
//! of which kind by its shape (`shape`), which week or month it names
//! (`periods`), and whether it is a reply or forward (`prefix`). Only a
//! reply or forward prefix makes a reporter's message a reply: a rep may
//! write this week's report inside last week's thread.

mod fold;
mod periods;
mod prefix;
mod shape;
#[cfg(test)]
mod table;

use std::ops::Range;

use chrono::NaiveDate;

use crate::config::{Keywords, Person, Role, Roster};
use crate::mail::parse::{Envelope, Mailbox};
use crate::period::{Kind, Period};

pub use fold::fold;
pub use periods::period_in_subject;
pub use prefix::{has_reply_prefix, is_forward, is_reply_or_forward, reply_core};
pub use shape::{Reading, recognise};

/// What a message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// A weekly or monthly report from someone who must report.
    Report {
        /// Lower-cased email of the sender (their main address, also when
        /// the message came from one of their aliases).
        person: String,
        kind: Kind,
        /// The period named in the subject, if any.
        named_period: Option<Period>,
        /// Whether To or Cc holds the sender's direct supervisor; a report
        /// without it does not count (misaddressed).
        to_supervisor: bool,
    },
    /// A message from a report's sender's supervisor or a manager whose
    /// In-Reply-To/References name a known report.
    Reply {
        replier: String,
        /// Message-ID of the report it answers.
        report_message_id: String,
    },
    /// A supervisor's or manager's reply (a reply prefix, no forward) whose
    /// In-Reply-To/References name no report reportd holds: mail clients
    /// drop In-Reply-To from a mailto link, so its subject decides which
    /// report it answers (`reports::replies`). `unmatched` is the reason
    /// to record when none does.
    ReplyBySubject {
        replier: String,
        unmatched: String,
    },
    Ignored {
        reason: String,
    },
    /// A reporter's reply (not a forward), in a thread reportd holds, whose
    /// subject has a report's shape and names a period that has begun
    /// (`Re: 李娜 第48周周报` in last week's thread): no report, but when the
    /// person has no counting report for that period it may be the report
    /// itself, written as a reply, and the assistant is told.
    ReportAsReply {
        person: String,
        period: Period,
    },
    /// Counts for nothing, but looks like a report reportd could not place:
    /// the reason says what the assistant should check.
    Flagged {
        reason: String,
    },
}

/// The reason given for a reply or forward sent by a reporter.
pub const REASON_REPLY_OR_FORWARD: &str = "reply or forward, not a report";
/// The reason given when the subject has no report shape.
pub const REASON_NO_KEYWORD: &str =
    "no report in the subject (no week or month word with a report word)";

fn ignored(reason: impl Into<String>) -> Class {
    Class::Ignored {
        reason: reason.into(),
    }
}

fn flagged(reason: impl Into<String>) -> Class {
    Class::Flagged {
        reason: reason.into(),
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Rep => "rep",
        Role::Clerk => "clerk",
        Role::Supervisor => "supervisor",
        Role::Manager => "manager",
        Role::Assistant => "assistant",
    }
}

/// Classifies one message.
///
/// `arrival_date` is the local date of arrival, used to complete a period
/// named without its year. `known_report` says whether a Message-ID is that
/// of a stored report; `known_message` whether it is any stored message.
///
/// In order:
/// 1. a sender not in the roster (by address or alias) is ignored, unless
///    the message looks like a report from a team member's other address
///    (their name, or a supervisor in To/Cc): that is flagged;
/// 2. a supervisor or manager whose In-Reply-To or References name a known
///    report sends a `Reply` to the nearest such report (In-Reply-To first,
///    then References from the newest); a forward (`Fw:`, `转发:`, ...) is
///    not a reply, even when it carries the report's References;
/// 3. anyone else who is not a rep or clerk is ignored;
/// 4. a reporter's reply or forward (a reply or forward prefix) is no
///    report: flagged when it carries a report and answers nothing reportd
///    holds, a `ReportAsReply` when a reply carries a report naming a period
///    that has begun (the caller knows whether that period has a report),
///    else ignored;
/// 5. a subject with the shape of a report is a `Report` of the kind its
///    period word names, whatever its In-Reply-To says; one that looks like
///    a report but has no kind, or holds an excluded word, is flagged.
pub fn classify(
    env: &Envelope,
    arrival_date: NaiveDate,
    roster: &Roster,
    keywords: &Keywords,
    known_report: &dyn Fn(&str) -> bool,
    known_message: &dyn Fn(&str) -> bool,
) -> Class {
    let Some(from) = env.from.as_ref() else {
        return ignored("no sender address");
    };
    let reading = || recognise(&env.subject, keywords, &|hay| names_in(roster, from, hay));
    let Some(person) = roster.by_email(&from.email) else {
        if is_reply_or_forward(&env.subject, keywords) {
            return ignored(format!("unknown sender {}", from.email));
        }
        return from_outside(env, from, roster, reading());
    };
    let email = person.email.to_lowercase();
    let role = role_name(person.role);
    if matches!(person.role, Role::Supervisor | Role::Manager) {
        return answer(env, email, role, keywords, known_report);
    }
    if !person.role.must_report() {
        return ignored(format!("{role} {email} sends no reports"));
    }
    if is_reply_or_forward(&env.subject, keywords) {
        return reporters_reply(env, reading(), known_message, email, arrival_date);
    }
    match reading() {
        Reading::Report(kind) => Class::Report {
            person: email,
            kind,
            named_period: period_in_subject(&env.subject, kind, arrival_date),
            to_supervisor: to_supervisor(env, roster, person),
        },
        other => not_a_report(other),
    }
}

/// Where people's names are written in a folded subject: the roster's, and
/// the sender's own display name when it is a Chinese name (周杰 writing
/// from a personal address), so that 周 or 月 in a name is no period.
fn names_in(roster: &Roster, from: &Mailbox, hay: &str) -> Vec<Range<usize>> {
    let mut spans = roster.names_in(hay);
    let chinese = |n: &str| (2..=4).contains(&n.chars().count()) && n.chars().all(is_han);
    if let Some(name) = from.name.as_deref().map(str::trim).filter(|n| chinese(n)) {
        let name = fold::fold(name);
        spans.extend(hay.match_indices(&name).map(|(at, n)| at..at + n.len()));
    }
    spans
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

/// Whether To or Cc holds the person's direct supervisor, by any of the
/// supervisor's addresses.
fn to_supervisor(env: &Envelope, roster: &Roster, person: &Person) -> bool {
    roster.supervisor_of(person).is_some_and(|sup| {
        env.to.iter().chain(env.cc.iter()).any(|m| {
            roster
                .by_email(&m.email)
                .is_some_and(|p| p.email == sup.email)
        })
    })
}

/// A message from an address not in the roster: ignored, unless it looks
/// like a report from a team member writing from another address.
fn from_outside(env: &Envelope, from: &Mailbox, roster: &Roster, reading: Reading) -> Class {
    let unknown = || ignored(format!("unknown sender {}", from.email));
    let Reading::Report(kind) = reading else {
        return unknown();
    };
    let display = from.name.as_deref().map(str::trim).unwrap_or_default();
    let lower = display.to_lowercase();
    let named = !lower.is_empty() && roster.names_in(&lower).contains(&(0..lower.len()));
    let supervisor = env
        .to
        .iter()
        .chain(env.cc.iter())
        .find_map(|m| roster.by_email(&m.email).filter(|p| p.role.can_supervise()));
    let hint = match (named, supervisor) {
        (true, _) => format!("sent as {display}, a name in the roster"),
        (false, Some(sup)) => format!("sent to {} <{}>", sup.name, sup.email),
        (false, None) => return unknown(),
    };
    flagged(format!(
        "looks like a {} report from {}, an address not in the roster ({hint}): nothing was \
         counted; if it is a team member's own address, add it to their `aliases` and file the \
         report with `reportd excuse`",
        kind.as_str(),
        from.email
    ))
}

/// A supervisor's or manager's message: a reply to a known report, or
/// nothing.
fn answer(
    env: &Envelope,
    email: String,
    role: &str,
    keywords: &Keywords,
    known_report: &dyn Fn(&str) -> bool,
) -> Class {
    let answered = env
        .in_reply_to
        .iter()
        .chain(env.references.iter().rev())
        .find(|id| known_report(id.as_str()));
    match answered {
        Some(_) if is_forward(&env.subject) => ignored(format!(
            "{role} {email} forwarded a report; a forward is not a reply"
        )),
        Some(id) => Class::Reply {
            replier: email,
            report_message_id: id.clone(),
        },
        None => {
            let unmatched =
                format!("{role} {email} sends no reports and this answers no known report");
            if has_reply_prefix(&env.subject, keywords) && !is_forward(&env.subject) {
                Class::ReplyBySubject {
                    replier: email,
                    unmatched,
                }
            } else {
                ignored(unmatched)
            }
        }
    }
}

/// A reporter's reply or forward: not a report. When it carries a report
/// and answers nothing reportd holds (the rep forwards to the assistant a
/// report she never received), the assistant is told; when a reply carries
/// a report naming a period that has begun, the caller checks that period.
fn reporters_reply(
    env: &Envelope,
    reading: Reading,
    known_message: &dyn Fn(&str) -> bool,
    person: String,
    arrival_date: NaiveDate,
) -> Class {
    let in_known_thread = env
        .in_reply_to
        .iter()
        .chain(env.references.iter())
        .any(|id| known_message(id));
    match reading {
        Reading::Report(kind) if !in_known_thread => flagged(format!(
            "a reply or forward of what looks like a {} report, in a thread reportd never saw: \
             nothing was counted; check that the report itself reached the supervisor in time",
            kind.as_str()
        )),
        // A forward passes a report on; a reply may be one written in last
        // week's thread.
        Reading::Report(kind) if !is_forward(&env.subject) => {
            match period_in_subject(&env.subject, kind, arrival_date) {
                Some(period) if period.first_day() <= arrival_date => {
                    Class::ReportAsReply { person, period }
                }
                _ => ignored(REASON_REPLY_OR_FORWARD),
            }
        }
        _ => ignored(REASON_REPLY_OR_FORWARD),
    }
}

/// A reporter's message that is no report: ignored, or flagged when it
/// looks like one.
fn not_a_report(reading: Reading) -> Class {
    match reading {
        Reading::Excluded {
            word,
            shape: Some(kind),
        } => flagged(format!(
            "looks like a {} report but holds \"{word}\", a word of [keywords] exclude, so \
             nothing was counted; if it is a report, file it with `reportd excuse`",
            kind.as_str()
        )),
        Reading::Excluded { word, shape: None } => ignored(format!(
            "not a report: the subject holds \"{word}\" ([keywords] exclude)"
        )),
        Reading::NoPeriod { word } => flagged(format!(
            "looks like a report (\"{word}\") but names no week or month, so nothing was \
             counted; if it is a weekly or monthly report, file it with `reportd excuse`"
        )),
        Reading::Report(_) | Reading::Nothing => ignored(REASON_NO_KEYWORD),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::parse::Mailbox;

    const ZHANG: &str = "zhangwei@example.com";
    const ZHANG_163: &str = "zhangwei1985@163.com";
    const LINA: &str = "lina@example.com";
    const WANG: &str = "wangfang@example.com";
    const ZHAO: &str = "zhaomin@example.com";
    const CHEN: &str = "chengang@example.com";
    const ZHOU: &str = "zhouming@example.com";

    fn person(name: &str, email: &str, role: Role, supervisor: Option<&str>) -> Person {
        Person {
            name: name.into(),
            email: email.into(),
            aliases: Vec::new(),
            role,
            group: Some("商务一组".into()),
            supervisor: supervisor.map(String::from),
            since: None,
            until: None,
            language: None,
        }
    }

    fn roster() -> Roster {
        let mut zhang = person("张伟", ZHANG, Role::Rep, Some(WANG));
        zhang.aliases = vec![ZHANG_163.into()];
        Roster::new(vec![
            person("王芳", WANG, Role::Supervisor, None),
            zhang,
            person("李娜", LINA, Role::Rep, Some(WANG)),
            person("周明", ZHOU, Role::Rep, Some(WANG)),
            person("赵敏", ZHAO, Role::Assistant, None),
            person("陈刚", CHEN, Role::Manager, None),
        ])
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    fn envelope(from: &str, to: &[&str], cc: &[&str], subject: &str) -> Envelope {
        let boxes = |l: &[&str]| {
            l.iter()
                .map(|e| Mailbox {
                    name: None,
                    email: e.to_string(),
                })
                .collect()
        };
        Envelope {
            message_id: Some("m@x".into()),
            from: Some(Mailbox {
                name: None,
                email: from.into(),
            }),
            to: boxes(to),
            cc: boxes(cc),
            subject: subject.into(),
            ..Envelope::default()
        }
    }

    fn run(env: &Envelope) -> Class {
        classify(
            env,
            date(2026, 11, 28),
            &roster(),
            &Keywords::default(),
            &|id| id.starts_with("report"),
            &|id| id.starts_with("report") || id.starts_with("known"),
        )
    }

    fn week(year: i32, week: u32) -> Option<Period> {
        Some(Period::Week { year, week })
    }

    fn month(year: i32, month: u32) -> Option<Period> {
        Some(Period::Month { year, month })
    }

    fn report(person: &str, kind: Kind, period: Option<Period>, to_supervisor: bool) -> Class {
        Class::Report {
            person: person.into(),
            kind,
            named_period: period,
            to_supervisor,
        }
    }

    fn is_flagged(class: &Class, words: &str) -> bool {
        matches!(class, Class::Flagged { reason } if reason.contains(words))
    }

    // --- reports ----------------------------------------------------------------

    #[test]
    fn weekly_report_to_supervisor_is_a_report() {
        let env = envelope("ZhangWei@Example.com", &[WANG], &[ZHAO], "张伟 第48周周报");
        assert_eq!(run(&env), report(ZHANG, Kind::Weekly, week(2026, 48), true));
    }

    #[test]
    fn monthly_work_summary_with_a_dotted_month_is_a_monthly_report() {
        let env = envelope(LINA, &[WANG], &[ZHAO], "李娜 2026.11 月度工作总结");
        assert_eq!(
            run(&env),
            report(LINA, Kind::Monthly, month(2026, 11), true)
        );
    }

    #[test]
    fn supervisor_in_cc_counts_as_addressed() {
        let env = envelope(LINA, &[ZHAO], &["WangFang@example.com"], "李娜 11月月报");
        assert_eq!(
            run(&env),
            report(LINA, Kind::Monthly, month(2026, 11), true)
        );
    }

    #[test]
    fn report_not_sent_to_the_supervisor_is_misaddressed() {
        let env = envelope(ZHANG, &[ZHAO], &[CHEN], "周报");
        assert_eq!(run(&env), report(ZHANG, Kind::Weekly, None, false));
    }

    #[test]
    fn report_from_an_alias_is_the_persons_report() {
        let env = envelope("ZhangWei1985@163.com", &[WANG], &[ZHAO], "张伟 第48周周报");
        assert_eq!(run(&env), report(ZHANG, Kind::Weekly, week(2026, 48), true));
    }

    #[test]
    fn report_inside_an_earlier_thread_without_a_prefix_is_a_report() {
        let mut env = envelope(ZHANG, &[WANG], &[], "第48周周报");
        env.in_reply_to = vec!["report-w47@zhang".into()];
        env.references = vec!["report-w47@zhang".into(), "known-reply@wang".into()];
        assert_eq!(run(&env), report(ZHANG, Kind::Weekly, week(2026, 48), true));
    }

    #[test]
    fn a_name_holding_zhou_is_no_week() {
        let env = envelope(ZHOU, &[WANG], &[], "周明 11月工作总结");
        assert!(matches!(
            run(&env),
            Class::Report {
                kind: Kind::Monthly,
                ..
            }
        ));
        let env = envelope(ZHOU, &[WANG], &[], "周明 工作总结");
        assert!(
            is_flagged(&run(&env), "names no week or month"),
            "{:?}",
            run(&env)
        );
    }

    // --- ignored and flagged ----------------------------------------------------

    #[test]
    fn unknown_sender_is_ignored() {
        let env = envelope("someone@else.com", &[ZHAO], &[], "第48周周报");
        assert_eq!(run(&env), ignored("unknown sender someone@else.com"));
        let mut env = env;
        env.from = None;
        assert_eq!(run(&env), ignored("no sender address"));
    }

    #[test]
    fn report_from_an_unknown_address_of_a_team_member_is_flagged() {
        // Sent to the supervisor.
        let env = envelope("zw@qq.com", &[WANG], &[ZHAO], "第48周周报");
        assert!(is_flagged(
            &run(&env),
            "zw@qq.com, an address not in the roster"
        ));
        // Or under a roster name.
        let mut env = envelope("zw@qq.com", &[ZHAO], &[], "第48周周报");
        env.from = Some(Mailbox {
            name: Some("张伟".into()),
            email: "zw@qq.com".into(),
        });
        assert!(is_flagged(&run(&env), "aliases"));
        // A newsletter to the assistant is not.
        let env = envelope("news@x.net", &[ZHAO], &[], "本周行业周报");
        assert_eq!(run(&env), ignored("unknown sender news@x.net"));
    }

    #[test]
    fn reply_or_forward_of_a_report_in_a_known_thread_is_not_a_report() {
        for subject in [
            "Re: 张伟 第48周周报",
            "RE：第48周周报",
            "回复：第48周周报",
            "回复: 回复: 周报",
            "[外部] Re: 周报",
            "【外部邮件】回复:周报",
            "Re[2]: 周报",
            "RE : 周报",
            "Ｒｅ：周报",
            "回覆: 第49週週報",
            "SV: Weekly report W48",
            "Fw: 第48周周报",
            "FWD: weekly report",
            "转发: 李娜 11月月报",
            "WG: Weekly Report",
            "轉寄: 第49週週報",
        ] {
            let mut env = envelope(ZHANG, &[WANG], &[], subject);
            env.references = vec!["known-reply@wang".into()];
            let class = run(&env);
            let named = matches!(&class, Class::ReportAsReply { person, .. } if person == ZHANG);
            assert!(
                named || class == ignored(REASON_REPLY_OR_FORWARD),
                "{subject}: {class:?}"
            );
        }
    }

    #[test]
    fn reply_in_a_known_thread_naming_a_begun_period_is_left_to_the_caller() {
        let reply = |subject: &str| {
            let mut env = envelope(LINA, &[WANG], &[], subject);
            env.references = vec!["report-w47@lina".into()];
            run(&env)
        };
        assert_eq!(
            reply("Re: 李娜 第48周周报"),
            Class::ReportAsReply {
                person: LINA.into(),
                period: Period::Week {
                    year: 2026,
                    week: 48
                }
            }
        );
        // No period, a period not begun, no report, or a forward: nothing
        // to check.
        for subject in [
            "Re: 周报",
            "Re: 第49周周报",
            "Re: 客户拜访安排",
            "Fw: 李娜 第48周周报",
        ] {
            assert_eq!(
                reply(subject),
                ignored(REASON_REPLY_OR_FORWARD),
                "{subject}"
            );
        }
    }

    #[test]
    fn reply_or_forward_of_a_report_reportd_never_saw_is_flagged() {
        let env = envelope(LINA, &[ZHAO], &[], "FW: 李娜 11月月报");
        assert!(is_flagged(&run(&env), "thread reportd never saw"));
        let mut env = envelope(LINA, &[ZHAO], &[], "Re: 第48周周报");
        env.in_reply_to = vec!["unseen@elsewhere".into()];
        assert!(is_flagged(&run(&env), "weekly report"), "{:?}", run(&env));
        // A reply that is no report stays ignored.
        let env = envelope(LINA, &[ZHAO], &[], "Re: 客户拜访安排");
        assert_eq!(run(&env), ignored(REASON_REPLY_OR_FORWARD));
    }

    #[test]
    fn subject_without_a_report_is_ignored() {
        for subject in ["客户拜访记录 11.23", "", "11月报价单", "周末团建报名"] {
            assert_eq!(
                run(&envelope(ZHANG, &[WANG], &[], subject)),
                ignored(REASON_NO_KEYWORD),
                "{subject}"
            );
        }
    }

    #[test]
    fn report_without_a_period_or_with_an_excluded_word_is_flagged() {
        let env = envelope(ZHANG, &[WANG], &[], "张伟 工作汇报");
        assert!(is_flagged(&run(&env), "\"汇报\""));
        let env = envelope(ZHANG, &[WANG], &[], "第48周周报（附行业周刊）");
        assert!(is_flagged(&run(&env), "\"周刊\""));
        let env = envelope(ZHANG, &[WANG], &[], "营销周刊 第48期");
        assert!(matches!(run(&env), Class::Ignored { reason } if reason.contains("周刊")));
    }

    // --- supervisors, managers, others ------------------------------------------

    #[test]
    fn supervisor_reply_to_a_known_report_is_a_reply() {
        let mut env = envelope(WANG, &[ZHANG], &[ZHAO], "回复: 张伟 第48周周报");
        env.in_reply_to = vec!["report-w48@zhang".into()];
        env.references = vec!["report-w48@zhang".into()];
        assert_eq!(
            run(&env),
            Class::Reply {
                replier: WANG.into(),
                report_message_id: "report-w48@zhang".into()
            }
        );
    }

    #[test]
    fn manager_reply_found_through_references_names_the_nearest_report() {
        let mut env = envelope(CHEN, &[ZHANG], &[], "Re: 周报");
        env.in_reply_to = vec!["reply-by-wang@x".into()];
        env.references = vec![
            "report-w47@zhang".into(),
            "report-w48@zhang".into(),
            "reply-by-wang@x".into(),
        ];
        assert_eq!(
            run(&env),
            Class::Reply {
                replier: CHEN.into(),
                report_message_id: "report-w48@zhang".into()
            }
        );
    }

    #[test]
    fn supervisor_forwarding_a_report_is_not_a_reply() {
        let mut env = envelope(WANG, &[CHEN], &[], "转发: 张伟 第48周周报");
        env.references = vec!["report-w48@zhang".into()];
        assert!(matches!(run(&env), Class::Ignored { reason } if reason.contains("forward")));
    }

    #[test]
    fn supervisor_mail_that_answers_no_report_is_ignored() {
        let env = envelope(WANG, &[ZHANG], &[], "第48周周报");
        assert!(
            matches!(run(&env), Class::Ignored { reason } if reason.contains("supervisor wangfang@example.com"))
        );
    }

    #[test]
    fn supervisor_reply_naming_no_known_report_is_matched_by_its_subject() {
        let env = envelope(WANG, &[LINA], &[ZHAO], "Re: 周报 第32周（8月3日–9日） 李娜");
        assert!(
            matches!(run(&env), Class::ReplyBySubject { replier, .. } if replier == WANG),
            "{:?}",
            run(&env)
        );
        // A forward is no reply, whatever its subject.
        let env = envelope(WANG, &[CHEN], &[], "Fw: 周报 第32周 李娜");
        assert!(matches!(run(&env), Class::Ignored { .. }));
    }

    #[test]
    fn assistant_sends_no_reports() {
        let mut env = envelope(ZHAO, &[WANG], &[], "张伟 第48周周报");
        env.in_reply_to = vec!["report-w48@zhang".into()];
        assert_eq!(
            run(&env),
            ignored("assistant zhaomin@example.com sends no reports")
        );
    }

    #[test]
    fn traditional_chinese_subjects_are_read_like_simplified() {
        assert_eq!(
            run(&envelope(
                ZHANG,
                &[WANG],
                &[],
                "張偉 第49週週報 (11/30-12/05)"
            )),
            report(ZHANG, Kind::Weekly, week(2026, 49), true)
        );
        assert!(matches!(
            run(&envelope(ZHANG, &[WANG], &[], "十一月月報")),
            Class::Report {
                kind: Kind::Monthly,
                ..
            }
        ));
    }
}
