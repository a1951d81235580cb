//! Which report a supervisor's or manager's reply answers, and recording
//! it: the one home of the reply rule.
//!
//! By its thread first (In-Reply-To/References name a report, or a
//! reportd email in its thread). Failing that, by its subject: most mail
//! clients drop the In-Reply-To of a mailto link, so a reply from the
//! rep's own supervisor whose subject, after its reply prefixes, equals
//! (folded, spaces dropped) the subject of one of their reps' reports
//! answers the newest such report not yet answered. Two reps' reports
//! with one subject: the rep in To/Cc decides; still two, the assistant
//! is told and nothing counts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use crate::config::{Config, Role};
use crate::mail::inbox::{MessageClass, Stored};
use crate::mail::parse::Envelope;
use crate::store::{parse_ts, ts};

use super::classify::reply_core;
use super::report_by_message_id;

/// What intake records for a message: its class, the reason, and whether
/// the assistant is told.
pub(super) type Outcome = (MessageClass, String, bool);

/// Records `replier`'s reply to the report (or thread) `report_message_id`.
pub(super) fn by_thread(
    conn: &Connection,
    cfg: &Config,
    msg: &Stored,
    replier: &str,
    report_message_id: &str,
) -> rusqlite::Result<Outcome> {
    let Some(report) = report_by_message_id(conn, report_message_id)? else {
        let reason = "reply to a report that is not held".to_string();
        return Ok((MessageClass::Ignored, reason, false));
    };
    // An answer to a revision answers the period's report.
    let (report, author): (i64, String) = conn.query_row(
        "SELECT coalesce(revision_of, id), person FROM reports WHERE id = ?1",
        [report],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if !answers_for(cfg, replier, &author) {
        let reason = format!(
            "reply by {replier} to <{report_message_id}>, who is neither {author}'s supervisor nor a manager: not counted"
        );
        return Ok((MessageClass::Ignored, reason, false));
    }
    record(conn, msg, report, replier)?;
    let reason = format!("reply by {replier} to <{report_message_id}>");
    Ok((MessageClass::Reply, reason, false))
}

/// Records `replier`'s reply found by its subject, or `unmatched` when no
/// report of their reps has that subject.
pub(super) fn by_subject(
    conn: &Connection,
    cfg: &Config,
    msg: &Stored,
    env: &Envelope,
    replier: &str,
    unmatched: String,
) -> rusqlite::Result<Outcome> {
    let core = reply_core(&env.subject, &cfg.keywords);
    let candidates = same_subject(conn, cfg, replier, &core, msg.internaldate)?;
    let mut by_rep: BTreeMap<&str, &Candidate> = BTreeMap::new();
    for c in &candidates {
        // Newest not yet answered first, then the newest answered.
        let better = by_rep.get(c.person.as_str()).is_none_or(|best| {
            (c.replied, std::cmp::Reverse(c.received))
                < (best.replied, std::cmp::Reverse(best.received))
        });
        if better {
            by_rep.insert(&c.person, c);
        }
    }
    let mut picks: Vec<&Candidate> = by_rep.into_values().collect();
    if picks.len() > 1 {
        // Two reps wrote one subject: the rep the reply goes to decides.
        let addressed = |p: &str| {
            env.to.iter().chain(env.cc.iter()).any(|m| {
                cfg.roster
                    .by_email(&m.email)
                    .is_some_and(|x| x.email.eq_ignore_ascii_case(p))
            })
        };
        picks.retain(|c| addressed(&c.person));
    }
    match picks.as_slice() {
        [] if candidates.is_empty() => Ok((MessageClass::Ignored, unmatched, false)),
        [pick] => {
            record(conn, msg, pick.id, replier)?;
            let reason = format!(
                "reply by {replier} to report #{} of {}, by its subject (no In-Reply-To)",
                pick.id, pick.person
            );
            Ok((MessageClass::Reply, reason, false))
        }
        _ => {
            let mut people: Vec<&str> = candidates.iter().map(|c| c.person.as_str()).collect();
            people.dedup();
            let reason = format!(
                "reply by {replier} whose subject is that of reports by {}, and To/Cc names \
                 none or several of them: not counted; if it answers a report, ask {replier} to \
                 reply from the report's own email",
                people.join(", ")
            );
            Ok((MessageClass::Ignored, reason, true))
        }
    }
}

/// A counting report a subject-matched reply may answer.
struct Candidate {
    id: i64,
    person: String,
    received: DateTime<Utc>,
    replied: bool,
}

/// The counting reports (a revision stands for its period's report) of
/// the reps `replier` supervises, received by `by`, whose subject has
/// this reply core.
fn same_subject(
    conn: &Connection,
    cfg: &Config,
    replier: &str,
    core: &str,
    by: DateTime<Utc>,
) -> rusqlite::Result<Vec<Candidate>> {
    let reps: Vec<&str> = cfg
        .roster
        .reporters()
        .filter(|p| cfg.roster.supervises(replier, p))
        .map(|p| p.email.as_str())
        .collect();
    let mut stmt = conn.prepare(
        "SELECT coalesce(r.revision_of, r.id), r.person, coalesce(m.subject, ''),
                (SELECT f.received FROM reports f WHERE f.id = coalesce(r.revision_of, r.id)),
                EXISTS (SELECT 1 FROM replies WHERE report = coalesce(r.revision_of, r.id))
         FROM reports r JOIN messages m ON m.id = r.message
         WHERE r.person = ?1 AND r.counts = 1 AND r.received <= ?2
         ORDER BY r.received, r.id",
    )?;
    let mut out: Vec<Candidate> = Vec::new();
    for rep in reps {
        let rows = stmt.query_map(params![rep, ts(by)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
            ))
        })?;
        for row in rows {
            let (id, person, subject, received, replied) = row?;
            if reply_core(&subject, &cfg.keywords) == core && out.iter().all(|c| c.id != id) {
                out.push(Candidate {
                    id,
                    person,
                    received: parse_ts(&received)?,
                    replied,
                });
            }
        }
    }
    Ok(out)
}

fn record(conn: &Connection, msg: &Stored, report: i64, replier: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO replies (message, report, replier, at) VALUES (?1, ?2, ?3, ?4)",
        params![msg.id, report, replier, ts(msg.internaldate)],
    )?;
    Ok(())
}

/// Whether `replier` is who must answer `author`'s reports: their direct
/// supervisor, or a manager.
pub(super) fn answers_for(cfg: &Config, replier: &str, author: &str) -> bool {
    let Some(replier) = cfg.roster.by_email(replier) else {
        return false;
    };
    replier.role == Role::Manager
        || cfg
            .roster
            .by_email(author)
            .is_some_and(|a| cfg.roster.supervises(&replier.email, a))
}
