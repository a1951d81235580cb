//! Reports: turning stored messages into reports and replies (this file),
//! and judging them against their deadlines (`compliance`). Owns the
//! `reports` and `replies` tables.

pub mod classify;
pub mod commands;
pub mod compliance;
pub mod filed;
mod replies;
pub mod scope;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, SubsecRound, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::calendar::Calendar;
use crate::config::Config;
use crate::mail::inbox::{self, Classified, MessageClass, Read, Stored};
use crate::mail::parse::{Envelope, ParseError};
use crate::mail::prefetch::{self, Step};
use crate::period::{self, ByPersonPeriod, Kind, Period};
use crate::store::{parse_ts, ts};
use classify::Class;

/// The first counting report of a person for a period, with its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstReport {
    pub id: i64,
    pub received: DateTime<Utc>,
    pub message_id: Option<String>,
    pub replied_at: Option<DateTime<Utc>>,
}

/// What one intake pass did, for logs and progress.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IntakeStats {
    pub reports: usize,
    pub revisions: usize,
    pub misaddressed: usize,
    pub replies: usize,
    pub commands: usize,
    pub ignored: usize,
    pub unparsable: usize,
    /// The batches parsed and recorded: what bounds memory and the time the
    /// write lock is held.
    pub batches: inbox::BatchStats,
}

impl IntakeStats {
    pub fn total(&self) -> usize {
        self.reports
            + self.revisions
            + self.misaddressed
            + self.replies
            + self.commands
            + self.ignored
            + self.unparsable
    }

    fn count(&mut self, class: MessageClass) {
        match class {
            MessageClass::Report => self.reports += 1,
            MessageClass::Revision => self.revisions += 1,
            MessageClass::Misaddressed => self.misaddressed += 1,
            MessageClass::Reply => self.replies += 1,
            MessageClass::Ignored => self.ignored += 1,
            MessageClass::Command | MessageClass::Refused => self.commands += 1,
            MessageClass::Unparsable => self.unparsable += 1,
        }
    }
}

/// Classifies every stored message not classified yet, in arrival order, in
/// batches (see `inbox::UnclassifiedBatches`): a batch is read and parsed
/// on another thread with no lock held, then recorded. Batches that come
/// one after another share a write transaction of up to
/// [`INTAKE_COMMIT_MESSAGES`]; it is committed before the intake waits for
/// parsing, so a writer such as the outbox's `sent` mark never waits for
/// parsing. A message that cannot be parsed, or is over `max_message_mb`,
/// is kept and flagged; the pass goes on.
pub fn intake(
    conn: &mut Connection,
    cfg: &Config,
    calendar: &Calendar,
    mut progress: impl FnMut(usize, usize),
) -> rusqlite::Result<IntakeStats> {
    let total = inbox::UnclassifiedBatches::count(conn)?;
    let mut stats = IntakeStats::default();
    // How many messages the open write transaction recorded; none open.
    let mut open: Option<usize> = None;
    let max_bytes = cfg.limits.max_message_bytes();
    let intook = prefetch::for_each_batch(conn, max_bytes, |conn, step| {
        let waiting = matches!(step, Step::Waiting);
        if let Step::Batch(batch, bytes) = step {
            stats.batches.add(batch.len(), bytes);
            let recorded = match open {
                Some(n) => n,
                None => {
                    conn.execute_batch("BEGIN IMMEDIATE")?;
                    0
                }
            };
            open = Some(recorded + batch.len());
            record(conn, cfg, calendar, batch, &mut stats)?;
        }
        // One commit (and its fsync) per thousand or so messages when
        // parsing keeps ahead, a few milliseconds each.
        if let Some(recorded) = open
            && (waiting || recorded >= INTAKE_COMMIT_MESSAGES)
        {
            conn.execute_batch("COMMIT")?;
            open = None;
            progress(stats.total(), total);
        }
        Ok::<_, rusqlite::Error>(())
    });
    if intook.is_err()
        && !conn.is_autocommit()
        && let Err(e) = conn.execute_batch("ROLLBACK")
    {
        // The intake's own error is what is returned; what this
        // transaction recorded is read again by the next pass either way.
        tracing::warn!(error = %e, "rolling back the intake's transaction failed");
    }
    intook?;
    Ok(stats)
}

/// Messages classified and recorded in one write transaction at most.
const INTAKE_COMMIT_MESSAGES: usize = 1_000;

/// Classifies and records `batch` in the open write transaction.
fn record(
    conn: &Connection,
    cfg: &Config,
    calendar: &Calendar,
    batch: Vec<inbox::Unclassified>,
    stats: &mut IntakeStats,
) -> rusqlite::Result<()> {
    for msg in batch {
        let class = match &msg.read {
            Read::Parsed(parsed) => {
                let class = intake_one(conn, cfg, calendar, &msg.stored, parsed)?;
                if let Ok(env) = parsed
                    && !env.limits_hit.is_empty()
                {
                    let note = format!("over a limit: {}", env.limits_hit.join("; "));
                    inbox::flag(conn, msg.stored.id, &note)?;
                }
                class
            }
            Read::TooLarge(big) => inbox::set_too_large(conn, msg.stored.id, big)?,
        };
        stats.count(class);
    }
    Ok(())
}

fn intake_one(
    conn: &Connection,
    cfg: &Config,
    calendar: &Calendar,
    msg: &Stored,
    parsed: &Result<Envelope, ParseError>,
) -> rusqlite::Result<MessageClass> {
    let env = match parsed {
        Ok(env) => env,
        Err(e) => {
            let reason = format!("cannot be read: {e}; the raw message is kept");
            let c = Classified {
                class: MessageClass::Unparsable,
                reason: &reason,
                flagged: true,
                message_id: None,
                sender: None,
                subject: None,
            };
            inbox::set_class(conn, msg.id, &c)?;
            return Ok(MessageClass::Unparsable);
        }
    };
    let (class, reason, flagged) = decide(conn, cfg, calendar, msg, env)?;
    let c = Classified {
        class,
        reason: &reason,
        flagged,
        message_id: env.message_id.as_deref(),
        sender: env.from.as_ref().map(|m| m.email.as_str()),
        subject: Some(env.subject.as_str()),
    };
    inbox::set_class(conn, msg.id, &c)?;
    Ok(class)
}

/// Classifies one parsed message and records what it is.
fn decide(
    conn: &Connection,
    cfg: &Config,
    calendar: &Calendar,
    msg: &Stored,
    env: &Envelope,
) -> rusqlite::Result<(MessageClass, String, bool)> {
    if let Some(mid) = env.message_id.as_deref()
        && let Some(first) = duplicate_of(conn, mid, msg.id)?
    {
        // The same message again (another copy of one delivery) counts
        // once. Another message under a Message-ID already held (a broken
        // client) is kept for the assistant's eye: it may be a report.
        let sender = env.from.as_ref().map(|m| m.email.as_str());
        let same = first.sender.as_deref() == sender
            && first.subject.as_deref() == Some(env.subject.as_str());
        let reason = if same {
            format!("duplicate of message #{} (same Message-ID)", first.id)
        } else {
            format!(
                "another message with the Message-ID of message #{} (same Message-ID, different sender or subject): \
                 not read as a report, a reply or a command; check it",
                first.id
            )
        };
        return Ok((MessageClass::Ignored, reason, !same));
    }
    if let Some(marker) = &env.auto_reply {
        let reason = format!("automatic message ({marker}): never a report, a reply or a command");
        return Ok((MessageClass::Ignored, reason, false));
    }
    let arrival_date = msg.internaldate.with_timezone(&cfg.timezone).date_naive();
    match commands::recognise(conn, cfg, env, arrival_date)? {
        commands::Recognised::Command(command) => {
            return commands::apply(conn, cfg, msg, env, command);
        }
        commands::Recognised::PlainAnswer { person, period } => {
            let words = cfg.notify.waiver_words.join(", ");
            let reason = format!(
                "answer to the late notice of {person} for {period}: its first line does not start with a waiver word ({words}), so it files no reason"
            );
            return Ok((MessageClass::Ignored, reason, false));
        }
        commands::Recognised::No => {}
    }
    let known_report = |id: &str| report_by_message_id(conn, id).ok().flatten().is_some();
    let known_message = |id: &str| inbox::message_id_known(conn, id).unwrap_or(false);
    let class = classify::classify(
        env,
        arrival_date,
        &cfg.roster,
        &cfg.keywords,
        &known_report,
        &known_message,
    );
    if let Some(refused) = unauthenticated(cfg, env, &class) {
        return Ok(refused);
    }
    match class {
        Class::Ignored { reason } => Ok((MessageClass::Ignored, reason, false)),
        Class::Flagged { reason } => Ok((MessageClass::Ignored, reason, true)),
        Class::ReportAsReply { person, period } => report_as_reply(conn, &person, period),
        Class::Reply {
            replier,
            report_message_id,
        } => replies::by_thread(conn, cfg, msg, &replier, &report_message_id),
        Class::ReplyBySubject { replier, unmatched } => {
            replies::by_subject(conn, cfg, msg, env, &replier, unmatched)
        }
        Class::Report {
            person,
            kind,
            named_period,
            to_supervisor,
        } => {
            let arrived_on = msg.internaldate.with_timezone(&cfg.timezone).date_naive();
            let period = match named_period {
                Some(p) if p.first_day() > arrived_on => return Ok(early(p, arrived_on)),
                Some(p) => p,
                None => {
                    let report = Unnamed {
                        person: &person,
                        kind,
                        arrival: msg.internaldate,
                        subject: &env.subject,
                    };
                    period_for_unnamed(conn, cfg, calendar, &report)?
                }
            };
            record_report(conn, cfg, msg, env, &person, period, to_supervisor)
        }
    }
}

/// A reporter's reply naming a period: ignored when the person has a
/// counting report for it, else flagged, since it may be that report
/// written as a reply (which never counts).
fn report_as_reply(
    conn: &Connection,
    person: &str,
    period: Period,
) -> rusqlite::Result<(MessageClass, String, bool)> {
    if first_report(conn, person, period)?.is_some() {
        let reason = classify::REASON_REPLY_OR_FORWARD.to_string();
        return Ok((MessageClass::Ignored, reason, false));
    }
    let reason = format!(
        "looks like the report of {person} for {period} written as a reply, and \
         {person} has no counting report for {period}: it does not count; ask for it to be sent \
         as a new email (or file it with `reportd excuse`)"
    );
    Ok((MessageClass::Ignored, reason, true))
}

/// When `[notify] authserv_id` is set, a report or reply counts only if the
/// receiving server vouches for its From address (see `mail::auth`): a
/// forged supervisor's reply must not stop reminders, nor a forged report
/// dodge a fine.
fn unauthenticated(
    cfg: &Config,
    env: &Envelope,
    class: &Class,
) -> Option<(MessageClass, String, bool)> {
    let what = match class {
        Class::Report { kind, person, .. } => format!("{} report from {person}", kind.as_str()),
        Class::Reply { replier, .. } | Class::ReplyBySubject { replier, .. } => {
            format!("reply from {replier}")
        }
        Class::Ignored { .. } | Class::Flagged { .. } | Class::ReportAsReply { .. } => return None,
    };
    let authserv_id = cfg.notify.authserv_id.as_deref()?;
    let err = crate::mail::auth::check(env, authserv_id).err()?;
    let reason = format!("unauthenticated: {what} counts for nothing: {err}");
    tracing::warn!("{reason}");
    Some((MessageClass::Ignored, reason, true))
}

fn record_report(
    conn: &Connection,
    cfg: &Config,
    msg: &Stored,
    env: &Envelope,
    person: &str,
    period: Period,
    to_supervisor: bool,
) -> rusqlite::Result<(MessageClass, String, bool)> {
    let first = if to_supervisor {
        first_report(conn, person, period)?
    } else {
        None
    };
    conn.prepare_cached("INSERT INTO reports (message, person, kind, period, received, message_id, counts, revision_of)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?.execute(
        params![
            msg.id,
            person,
            period.kind().as_str(),
            period.to_string(),
            ts(msg.internaldate),
            env.message_id,
            to_supervisor,
            first.as_ref().map(|f| f.id),
        ],
    )?;
    let kind = period.kind().as_str();
    if !to_supervisor {
        let supervisor = cfg
            .roster
            .by_email(person)
            .and_then(|p| cfg.roster.supervisor_of(p))
            .map(|s| format!("{} <{}>", s.name, s.email))
            .unwrap_or_else(|| "the direct supervisor".into());
        let reason =
            format!("{kind} report for {period} not addressed to {supervisor}: it does not count");
        return Ok((MessageClass::Misaddressed, reason, true));
    }
    match first {
        Some(f) if msg.internaldate < f.received => {
            // Read later but received earlier (moved out of Junk, say): the
            // earliest arrival decides the period, the other becomes its
            // revision.
            let id = conn.last_insert_rowid();
            promote(conn, id, f.id, kind, period)?;
            Ok((
                MessageClass::Report,
                format!(
                    "{kind} report for {period} (arrived before report #{})",
                    f.id
                ),
                false,
            ))
        }
        Some(f) => Ok((
            MessageClass::Revision,
            format!(
                "revision of the {kind} report for {period} (report #{})",
                f.id
            ),
            false,
        )),
        None => Ok((
            MessageClass::Report,
            format!("{kind} report for {period}"),
            false,
        )),
    }
}

/// Makes report `new` the first of its period in place of `old`, whose
/// revisions (and itself) become revisions of `new`.
fn promote(
    conn: &Connection,
    new: i64,
    old: i64,
    kind: &str,
    period: Period,
) -> rusqlite::Result<()> {
    // `new` points at `old` until `old` has let go, so that no two reports
    // are ever first of one period at once.
    conn.prepare_cached(
        "UPDATE reports SET revision_of = ?1 WHERE (id = ?2 OR revision_of = ?2) AND id <> ?1",
    )?
    .execute(params![new, old])?;
    conn.prepare_cached("UPDATE reports SET revision_of = NULL WHERE id = ?1")?
        .execute([new])?;
    // Replies follow the period's report.
    conn.prepare_cached("UPDATE replies SET report = ?1 WHERE report = ?2")?
        .execute(params![new, old])?;
    let old_message: i64 = conn
        .prepare_cached("SELECT message FROM reports WHERE id = ?1")?
        .query_row([old], |r| r.get(0))?;
    let reason = format!(
        "revision of the {kind} report for {period} (report #{new}, which arrived earlier)"
    );
    inbox::reclassify(conn, old_message, MessageClass::Revision, &reason)
}

/// The first message stored under a Message-ID: its id, sender, subject.
struct FirstCopy {
    id: i64,
    sender: Option<String>,
    subject: Option<String>,
}

/// The earlier stored message with the same Message-ID, if any.
fn duplicate_of(
    conn: &Connection,
    message_id: &str,
    id: i64,
) -> rusqlite::Result<Option<FirstCopy>> {
    conn.prepare_cached(
        "SELECT id, sender, subject FROM messages
         WHERE message_id = ?1 AND id <> ?2 AND class IS NOT NULL ORDER BY id LIMIT 1",
    )?
    .query_row(params![message_id, id], |r| {
        Ok(FirstCopy {
            id: r.get(0)?,
            sender: r.get(1)?,
            subject: r.get(2)?,
        })
    })
    .optional()
}

/// The report a Message-ID belongs to: the report itself, or a message in
/// its thread (see [`add_to_thread`]).
pub fn report_by_message_id(conn: &Connection, message_id: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT id FROM reports WHERE message_id = ?1
         UNION ALL SELECT report FROM report_threads WHERE message_id = ?1
         LIMIT 1",
    )?
    .query_row([message_id], |r| r.get(0))
    .optional()
}

/// The raw bytes of a report's message, unless they were dropped.
pub fn raw_of(conn: &Connection, report: i64) -> rusqlite::Result<Option<Vec<u8>>> {
    let message: Option<i64> = conn
        .prepare_cached("SELECT message FROM reports WHERE id = ?1")?
        .query_row([report], |r| r.get(0))
        .optional()?;
    match message {
        Some(message) => inbox::RawReader::new(conn).read(message),
        None => Ok(None),
    }
}

/// The decoded subject of a report's message.
pub fn subject_of(conn: &Connection, report: i64) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT m.subject FROM reports r JOIN messages m ON m.id = r.message WHERE r.id = ?1",
    )?
    .query_row([report], |r| r.get(0))
    .optional()
    .map(Option::flatten)
}

/// Records that `message_id` (e.g. reportd's reply reminder) belongs to a
/// report's thread, so an answer to it counts as the reply to the report.
pub fn add_to_thread(conn: &Connection, message_id: &str, report: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO report_threads (message_id, report) VALUES (?1, ?2)",
    )?
    .execute(params![message_id, report])?;
    Ok(())
}

/// A counting report as the mail going out needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportInfo {
    pub id: i64,
    pub person: String,
    pub period: Period,
    pub received: DateTime<Utc>,
    pub message_id: Option<String>,
    pub subject: String,
    pub replied_at: Option<DateTime<Utc>>,
}

/// A counting report waiting for its supervisor's reply, or answered
/// lately: what reply reminders and digests count and schedule by. What an
/// email shows of the reports it lists is read for those ([`headers_of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlogged {
    pub id: i64,
    pub person: String,
    pub period: Period,
    pub received: DateTime<Utc>,
    pub replied_at: Option<DateTime<Utc>>,
}

/// What an email listing a report shows of it: the subject, and the
/// Message-ID it threads under.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportHeaders {
    pub message_id: Option<String>,
    pub subject: String,
}

/// The counting first reports received since `since` that a reply
/// reminder or a digest may list: those not answered by `now`, and those
/// received since `answered_since` (a digest's reply rate counts them),
/// oldest first. A year's reports long answered are not read, nor the
/// headers of any (a backlog of a thousand people is tens of thousands).
// NOT INDEXED: the backlog since tracking began is most of the table, and
// reading it in table order is twice as fast as a lookup per row through
// the partial index `reports_first`. The first replies come from one
// grouped read ([`first_replies`]), not a lookup per report.
pub fn backlog(
    conn: &Connection,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    answered_since: DateTime<Utc>,
) -> rusqlite::Result<Vec<Backlogged>> {
    let replies = first_replies(conn)?;
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.person, r.period, r.received
         FROM reports r NOT INDEXED
         WHERE r.received >= ?1 AND r.counts = 1 AND r.revision_of IS NULL",
    )?;
    let mut rows = stmt.query(params![ts(since)])?;
    // Compared to the second, as the stored times are.
    let answered_since = answered_since.trunc_subsecs(0);
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let replied_at = replies.get(&id).copied();
        let received = parse_ts(r.get_ref(3)?.as_str()?)?;
        // Answered by `now` and received before `answered_since`: not
        // waiting, and too old for a reply rate.
        if replied_at.is_some_and(|at| at <= now) && received < answered_since {
            continue;
        }
        let Ok(period) = r.get_ref(2)?.as_str()?.parse::<Period>() else {
            continue; // written by the intake from a Period: never happens
        };
        out.push(Backlogged {
            id,
            person: r.get(1)?,
            period,
            received,
            replied_at,
        });
    }
    // Oldest first: reports are mostly stored in the order they arrived,
    // which a stable sort takes in one pass.
    out.sort_by_key(|r| (r.received, r.id));
    Ok(out)
}

/// The headers of the reports `ids` (of [`Backlogged`] reports an email
/// lists), by id.
pub fn headers_of(conn: &Connection, ids: &[i64]) -> rusqlite::Result<HashMap<i64, ReportHeaders>> {
    let ids = serde_json::to_string(ids)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.message_id, coalesce(m.subject, '')
         FROM reports r JOIN messages m ON m.id = r.message
         WHERE r.id IN (SELECT value FROM json_each(?1))",
    )?;
    let rows = stmt.query_map([ids], |r| {
        Ok((
            r.get(0)?,
            ReportHeaders {
                message_id: r.get(1)?,
                subject: r.get(2)?,
            },
        ))
    })?;
    rows.collect()
}

/// The misaddressed reports (to the assistant, not the supervisor)
/// received since `since`, oldest first.
pub fn misaddressed_since(
    conn: &Connection,
    since: DateTime<Utc>,
) -> rusqlite::Result<Vec<ReportInfo>> {
    // The few of the last weeks come through their own partial index.
    let sql = "SELECT r.id, r.person, r.period, r.received, r.message_id, coalesce(m.subject, ''),
                (SELECT min(at) FROM replies WHERE report = r.id)
         FROM reports r JOIN messages m ON m.id = r.message
         WHERE r.received >= ?1 AND r.counts = 0";
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![ts(since)], |r| {
        let replied: Option<String> = r.get(6)?;
        Ok((
            r.get::<_, String>(2)?,
            ReportInfo {
                id: r.get(0)?,
                person: r.get(1)?,
                period: Period::Week { year: 0, week: 0 },
                received: parse_ts(&r.get::<_, String>(3)?)?,
                message_id: r.get(4)?,
                subject: r.get(5)?,
                replied_at: replied.as_deref().map(parse_ts).transpose()?,
            },
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (period, mut info) = row?;
        if let Ok(p) = period.parse() {
            info.period = p;
            out.push(info);
        }
    }
    out.sort_by_key(|r| (r.received, r.id));
    Ok(out)
}

pub fn first_report(
    conn: &Connection,
    person: &str,
    period: Period,
) -> rusqlite::Result<Option<FirstReport>> {
    conn.prepare_cached("SELECT r.id, r.received, r.message_id, (SELECT min(at) FROM replies WHERE report = r.id)
         FROM reports r WHERE r.person = ?1 AND r.period = ?2 AND r.counts = 1 AND r.revision_of IS NULL")?.query_row(
        params![person, period.to_string()],
        |r| {
            let replied_at = r.get_ref(3)?.as_str_or_null()?.map(parse_ts).transpose()?;
            first_report_row(r, replied_at)
        },
    )
    .optional()
}

/// Every person's first counting report per period: of every period, or of
/// `periods`.
pub fn first_reports(
    conn: &Connection,
    periods: Option<&[Period]>,
) -> rusqlite::Result<ByPersonPeriod<FirstReport>> {
    // NOT INDEXED: reading the table in order beats one lookup per row
    // through the partial index when every first report is wanted; their
    // first replies come from one grouped read ([`first_replies`]). Those
    // of a few periods come through `reports_first_by_period`.
    let mut out = ByPersonPeriod::default();
    let Some(list) = period::json_list(periods) else {
        let replies = first_replies(conn)?;
        let mut stmt = conn.prepare_cached(
            "SELECT r.id, r.received, r.message_id, r.person, r.period
             FROM reports r NOT INDEXED
             WHERE r.counts = 1 AND r.revision_of IS NULL",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let replied_at = replies.get(&id).copied();
            insert_first(row, replied_at, &mut out)?;
        }
        return Ok(out);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.received, r.message_id, r.person, r.period,
                (SELECT min(at) FROM replies WHERE report = r.id)
         FROM reports r
         WHERE r.counts = 1 AND r.revision_of IS NULL
           AND r.period IN (SELECT value FROM json_each(?1))",
    )?;
    let mut rows = stmt.query([list])?;
    while let Some(row) = rows.next()? {
        let replied_at = row
            .get_ref(5)?
            .as_str_or_null()?
            .map(parse_ts)
            .transpose()?;
        insert_first(row, replied_at, &mut out)?;
    }
    Ok(out)
}

/// Adds the first report of a row whose first columns are `id, received,
/// message_id, person, period` to `out`.
fn insert_first(
    row: &rusqlite::Row<'_>,
    replied_at: Option<DateTime<Utc>>,
    out: &mut ByPersonPeriod<FirstReport>,
) -> rusqlite::Result<()> {
    let Ok(period) = row.get_ref(4)?.as_str()?.parse::<Period>() else {
        return Ok(()); // written by the intake from a Period: never happens
    };
    let first = first_report_row(row, replied_at)?;
    out.insert(row.get_ref(3)?.as_str()?, period, first);
    Ok(())
}

/// The first report of a row whose first columns are `id, received,
/// message_id`.
fn first_report_row(
    row: &rusqlite::Row<'_>,
    replied_at: Option<DateTime<Utc>>,
) -> rusqlite::Result<FirstReport> {
    Ok(FirstReport {
        id: row.get(0)?,
        received: parse_ts(row.get_ref(1)?.as_str()?)?,
        message_id: row.get(2)?,
        replied_at,
    })
}

/// The time of each report's first reply, by report id, in one grouped
/// read. Joined in Rust: SQLite's LEFT JOIN on this read built an
/// automatic index and probed it once per report, 18 ms of a 23 ms read
/// for a year of a thousand people, against 4 ms for the read alone.
fn first_replies(conn: &Connection) -> rusqlite::Result<HashMap<i64, DateTime<Utc>>> {
    let mut stmt = conn.prepare_cached("SELECT report, min(at) FROM replies GROUP BY report")?;
    let mut rows = stmt.query([])?;
    let mut out = HashMap::new();
    while let Some(row) = rows.next()? {
        out.insert(row.get(0)?, parse_ts(row.get_ref(1)?.as_str()?)?);
    }
    Ok(out)
}

fn reported_periods(
    conn: &Connection,
    person: &str,
    kind: Kind,
) -> rusqlite::Result<HashSet<Period>> {
    let mut stmt = conn.prepare(
        "SELECT period FROM reports WHERE person = ?1 AND kind = ?2 AND counts = 1 AND revision_of IS NULL",
    )?;
    let periods = stmt
        .query_map(params![person, kind.as_str()], |r| r.get::<_, String>(0))?
        .filter_map(|p| p.ok().and_then(|p| p.parse().ok()))
        .collect();
    Ok(periods)
}

/// A report naming a period that has not begun counts for nothing: sent
/// ahead, it would excuse weeks nobody has worked yet.
fn early(period: Period, arrived_on: chrono::NaiveDate) -> (MessageClass, String, bool) {
    let reason = format!(
        "early: names {period}, which begins on {}; it arrived on {arrived_on} and counts for nothing",
        period.first_day()
    );
    (MessageClass::Ignored, reason, true)
}

/// A report that names no period, as its period is chosen.
struct Unnamed<'a> {
    person: &'a str,
    kind: Kind,
    arrival: DateTime<Utc>,
    subject: &'a str,
}

/// How soon after a report the same report sent again (same subject once
/// brackets and resend words are set aside) is its resend, whatever the
/// calendar says.
const RESEND_WINDOW: chrono::Duration = chrono::Duration::hours(24);
/// How long after a report a resend that says so (`（补附件）`, `更正`,
/// `resend`) is still taken as one.
const MARKED_RESEND_WINDOW: chrono::Duration = chrono::Duration::days(7);
/// Words that mark a resend; compared folded.
const RESEND_MARKERS: &[&str] = &[
    "补附件",
    "附件",
    "补充",
    "补发",
    "重发",
    "更正",
    "修改",
    "修订",
    "resend",
    "resent",
    "updated",
    "corrected",
    "correction",
    "revised",
    "attachment",
];

/// The period of a report that names none. Never one that has not begun.
///
/// A resend is a revision of the report it repeats: of the person's
/// previous report of this kind when it was assigned to the period the new
/// one arrives in, or when the new one repeats its subject within
/// [`RESEND_WINDOW`] (within [`MARKED_RESEND_WINDOW`] when the subject says
/// it is a resend). Otherwise the not-yet-reported period whose deadline is
/// nearest to the arrival, so a report arriving on Monday morning fills last
/// week's gap (late) rather than this week's. Periods that are judged for the
/// person and have no reason on file come first; an exact tie goes to the
/// period whose deadline is still ahead.
fn period_for_unnamed(
    conn: &Connection,
    cfg: &Config,
    calendar: &Calendar,
    report: &Unnamed<'_>,
) -> rusqlite::Result<Period> {
    let local_day = report.arrival.with_timezone(&cfg.timezone).date_naive();
    let here = Period::containing(report.kind, local_day);
    if let Some(prev) = previous_report(conn, report)?
        && (prev.period == here || is_resend(report, &prev))
    {
        return Ok(prev.period);
    }
    nearest_open_period(conn, cfg, calendar, report, here)
}

/// The person's latest counting report of a kind, as a resend is matched
/// against it.
struct Previous {
    period: Period,
    received: DateTime<Utc>,
    subject: String,
}

fn is_resend(report: &Unnamed<'_>, prev: &Previous) -> bool {
    let since = report.arrival - prev.received;
    let marked = RESEND_MARKERS
        .iter()
        .any(|m| classify::fold(report.subject).contains(m));
    subject_core(report.subject) == subject_core(&prev.subject)
        && (since <= RESEND_WINDOW || (marked && since <= MARKED_RESEND_WINDOW))
}

/// A subject with bracketed asides, resend words, spaces and punctuation
/// set aside: `张伟周报（补附件）` and `张伟 周报` are both `张伟周报`.
fn subject_core(subject: &str) -> String {
    let mut folded = classify::fold(subject);
    for marker in RESEND_MARKERS {
        folded = folded.replace(marker, "");
    }
    let mut depth = 0usize;
    folded
        .chars()
        .filter(|&c| match c {
            '(' | '[' | '【' | '〔' | '<' | '《' => {
                depth += 1;
                false
            }
            ')' | ']' | '】' | '〕' | '>' | '》' => {
                depth = depth.saturating_sub(1);
                false
            }
            _ => depth == 0 && c.is_alphanumeric(),
        })
        .collect()
}

/// The person's latest counting report of this kind that arrived no later
/// than this one.
fn previous_report(conn: &Connection, report: &Unnamed<'_>) -> rusqlite::Result<Option<Previous>> {
    let row: Option<(String, String, String)> = conn
        .query_row(
            "SELECT r.period, r.received, coalesce(m.subject, '')
             FROM reports r JOIN messages m ON m.id = r.message
             WHERE r.person = ?1 AND r.kind = ?2 AND r.counts = 1 AND r.received <= ?3
             ORDER BY r.received DESC, r.id DESC LIMIT 1",
            params![report.person, report.kind.as_str(), ts(report.arrival)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((period, received, subject)) = row else {
        return Ok(None);
    };
    let Ok(period) = period.parse() else {
        return Ok(None);
    };
    Ok(Some(Previous {
        period,
        received: parse_ts(&received)?,
        subject,
    }))
}

fn nearest_open_period(
    conn: &Connection,
    cfg: &Config,
    calendar: &Calendar,
    report: &Unnamed<'_>,
    here: Period,
) -> rusqlite::Result<Period> {
    let Unnamed {
        person,
        kind,
        arrival,
        ..
    } = *report;
    let reported = reported_periods(conn, person, kind)?;
    let mut candidates = vec![here.prev().prev(), here.prev(), here];
    if kind == Kind::Weekly {
        candidates.insert(0, here.prev().prev().prev());
    }
    let mut scored = Vec::new();
    for d in candidates
        .iter()
        .filter_map(|p| compliance::deadline_of(cfg, calendar, *p))
    {
        let judged = cfg
            .roster
            .by_email(person)
            .is_none_or(|p| compliance::is_judged(p, cfg, &d));
        let excused = compliance::excuse_for(conn, person, d.period)?.is_some();
        let open = !reported.contains(&d.period);
        // Lower is better: unreported, then judged, then not excused, then
        // nearest, then still ahead.
        let rank = (
            !open,
            !judged,
            excused,
            (d.due - arrival).num_seconds().abs(),
            d.due <= arrival,
        );
        scored.push((rank, d.period));
    }
    Ok(scored.into_iter().min().map_or(here, |(_, p)| p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use replies::answers_for;

    fn cfg() -> Config {
        let text = r#"
database = "x.sqlite3"
tracking_starts = "2026-11-02"
calendar = []
[maildir]
path = "/nonexistent"
[[person]]
name = "经理"
email = "boss@example.com"
role = "manager"
[[person]]
name = "主管一"
email = "sup1@example.com"
role = "supervisor"
[[person]]
name = "主管二"
email = "sup2@example.com"
role = "supervisor"
[[person]]
name = "助理"
email = "assistant@example.com"
role = "assistant"
[[person]]
name = "代表"
email = "rep@example.com"
role = "rep"
supervisor = "sup1@example.com"
"#;
        Config::from_toml_str(text, std::path::Path::new("test.toml")).expect("config")
    }

    #[test]
    fn the_backlog_and_the_misaddressed_come_oldest_first_whatever_order_they_were_stored_in() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = crate::store::open(&dir.path().join("r.sqlite3")).expect("db");
        // Stored out of arrival order (a copy found earlier, a mailbox
        // restored): ids 1, 2, 3, 4 arrived 3rd, 1st, 4th (not counting),
        // 2nd; the 1st has a reply.
        let arrived = [
            "2026-11-20T03:00:00Z",
            "2026-11-20T01:00:00Z",
            "2026-11-20T04:00:00Z",
            "2026-11-20T02:00:00Z",
        ];
        for (i, at) in arrived.iter().enumerate() {
            let id = i as i64 + 1;
            conn.execute(
                "INSERT INTO messages (id, source, source_key, sha256, internaldate, ingested_at, subject)
                 VALUES (?1, 'imap', ?1, ?1, ?2, ?2, ?3)",
                params![id, at, format!("周报 {id}")],
            )
            .expect("message");
            conn.execute(
                "INSERT INTO reports (id, message, person, kind, period, received, counts)
                 VALUES (?1, ?1, ?2, 'weekly', '2026-W47', ?3, ?4)",
                params![id, format!("rep{id}@example.com"), at, id != 3],
            )
            .expect("report");
        }
        conn.execute(
            "INSERT INTO messages (id, source, source_key, sha256, internaldate, ingested_at)
             VALUES (9, 'imap', 9, 9, '2026-11-20T05:00:00Z', '2026-11-20T05:00:00Z')",
            [],
        )
        .expect("reply message");
        conn.execute(
            "INSERT INTO replies (message, report, replier, at) VALUES (9, 2, 'sup1@example.com', '2026-11-20T05:00:00Z')",
            [],
        )
        .expect("reply");
        let since = DateTime::parse_from_rfc3339("2026-11-19T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let counting = backlog(&conn, since, since, since).expect("counting");
        let ids: Vec<i64> = counting.iter().map(|r| r.id).collect();
        let headers = headers_of(&conn, &ids).expect("headers");
        let order: Vec<(i64, String, bool)> = counting
            .iter()
            .map(|r| (r.id, headers[&r.id].subject.clone(), r.replied_at.is_some()))
            .collect();
        assert_eq!(
            order,
            [
                (2, "周报 2".to_string(), true),
                (4, "周报 4".to_string(), false),
                (1, "周报 1".to_string(), false)
            ]
        );
        let misaddressed = misaddressed_since(&conn, since).expect("misaddressed");
        assert_eq!(misaddressed.iter().map(|r| r.id).collect::<Vec<_>>(), [3]);
    }

    #[test]
    fn the_backlog_holds_what_waits_for_a_reply_at_now_and_what_was_answered_recently() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = crate::store::open(&dir.path().join("r.sqlite3")).expect("db");
        let at = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .expect("time")
                .with_timezone(&Utc)
        };
        // (received, first reply): unanswered; answered long ago; answered
        // after `now` (still waiting then); answered, received recently.
        let reports = [
            ("2026-08-03T02:00:00Z", None),
            ("2026-08-10T02:00:00Z", Some("2026-08-10T05:00:00Z")),
            ("2026-08-17T02:00:00Z", Some("2026-11-30T05:00:00Z")),
            ("2026-11-16T02:00:00Z", Some("2026-11-16T05:00:00Z")),
        ];
        for (i, (received, reply)) in reports.iter().enumerate() {
            let id = i as i64 + 1;
            conn.execute(
                "INSERT INTO messages (id, source, source_key, sha256, internaldate, ingested_at, subject)
                 VALUES (?1, 'imap', ?1, ?1, ?2, ?2, '周报')",
                params![id, received],
            )
            .expect("message");
            conn.execute(
                "INSERT INTO reports (id, message, person, kind, period, received, counts)
                 VALUES (?1, ?1, ?2, 'weekly', '2026-W32', ?3, 1)",
                params![id, format!("rep{id}@example.com"), received],
            )
            .expect("report");
            if let Some(reply) = reply {
                conn.execute(
                    "INSERT INTO messages (id, source, source_key, sha256, internaldate, ingested_at)
                     VALUES (?1, 'imap', ?1, ?1, ?2, ?2)",
                    params![id + 100, reply],
                )
                .expect("reply message");
                conn.execute(
                    "INSERT INTO replies (message, report, replier, at) VALUES (?1, ?2, 'sup1@example.com', ?3)",
                    params![id + 100, id, reply],
                )
                .expect("reply");
            }
        }
        let now = at("2026-11-23T00:00:00Z");
        let held = backlog(
            &conn,
            at("2026-08-01T00:00:00Z"),
            now,
            at("2026-10-24T00:00:00Z"),
        )
        .expect("backlog");
        assert_eq!(held.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 3, 4]);
        // Those left out are exactly the ones answered before the window.
        let since = at("2026-08-01T00:00:00Z");
        let all = backlog(&conn, since, now, since).expect("all");
        let left_out: Vec<i64> = all
            .iter()
            .filter(|r| !held.iter().any(|h| h.id == r.id))
            .map(|r| r.id)
            .collect();
        assert_eq!(left_out, [2]);
    }

    #[test]
    fn a_resend_keeps_the_subject_once_asides_and_resend_words_are_set_aside() {
        assert_eq!(subject_core("张伟周报（补附件）"), "张伟周报");
        assert_eq!(subject_core("张伟 周报"), "张伟周报");
        assert_eq!(subject_core("【更正】张伟周报"), "张伟周报");
        assert_eq!(subject_core("Weekly report - resend"), "weeklyreport");
        assert_ne!(subject_core("第46周周报（补交）"), subject_core("张伟周报"));
    }

    #[test]
    fn the_same_subject_is_a_resend_within_a_day_or_within_a_week_when_it_says_so() {
        let t = |h: i64| {
            DateTime::parse_from_rfc3339("2026-11-20T10:00:00+08:00")
                .expect("time")
                .with_timezone(&Utc)
                + chrono::Duration::hours(h)
        };
        let prev = Previous {
            period: Period::Week {
                year: 2026,
                week: 47,
            },
            received: t(0),
            subject: "张伟周报".into(),
        };
        let unnamed = |subject: &'static str, h: i64| Unnamed {
            person: "rep@example.com",
            kind: Kind::Weekly,
            arrival: t(h),
            subject,
        };
        assert!(is_resend(&unnamed("张伟周报", 5), &prev));
        assert!(is_resend(&unnamed("张伟周报（补附件）", 72), &prev));
        assert!(!is_resend(&unnamed("张伟周报", 72), &prev), "next week's");
        assert!(!is_resend(&unnamed("张伟周报（补附件）", 24 * 8), &prev));
        assert!(!is_resend(&unnamed("本周工作汇报", 1), &prev));
    }

    #[test]
    fn only_the_reps_own_supervisor_or_a_manager_answers_for_the_report() {
        let cfg = cfg();
        assert!(answers_for(&cfg, "sup1@example.com", "rep@example.com"));
        assert!(answers_for(&cfg, "boss@example.com", "rep@example.com"));
        assert!(!answers_for(&cfg, "sup2@example.com", "rep@example.com"));
        assert!(!answers_for(
            &cfg,
            "assistant@example.com",
            "rep@example.com"
        ));
        assert!(!answers_for(
            &cfg,
            "stranger@example.com",
            "rep@example.com"
        ));
    }
}
