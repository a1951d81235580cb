//! Sales files by email: the manager or the assistant sends the month's
//! sales spreadsheet as an attachment with the subject `业绩 2026-11` (or
//! `sales 2026-11`); reportd imports it as `reportd sales import` would and
//! answers with the result. Owns the `sales_emails` and `sales_scanned`
//! tables.
//!
//! Such an email is trusted as email commands are: the receiving server's
//! `Authentication-Results` must vouch for the sender (see
//! `reports::commands`). One that fails changes nothing, gets no answer
//! (the From may be forged) and is flagged for the assistant; one from
//! anyone else in the team is refused and flagged.
//!
//! It runs after intake, on messages intake left `ignored`, and takes each
//! one over (class `command`, or `refused`) in its own transaction with the
//! import and the queued answer. Each message is looked at in the first
//! pass after intake classified it (`sales_scanned` keeps how far that
//! went), not again in every pass after; all of them again when the
//! managers or assistants change, since who may send a sales file decides
//! what becomes of one.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::config::{Config, Person, Role};
use crate::mail::inbox::{self, Classified, MessageClass, StoredRaw};
use crate::mail::parse::{self, Envelope};
use crate::notify::compose::{self, Contact, Email};
use crate::notify::plan::{Letter, NotifyError, Planner};
use crate::payroll::sales::{self, Change, ImportError, Imported, Problem};
use crate::period::Month;

#[derive(Debug, thiserror::Error)]
pub enum ByEmailError {
    #[error("database error while taking sales files by email: {0}")]
    Db(#[from] rusqlite::Error),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    #[error(transparent)]
    Compose(#[from] compose::ComposeError),
    #[error("cannot record the answer to a sales email: {0}")]
    Json(#[from] serde_json::Error),
}

static SUBJECT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(?:业绩|業績|sales)(?:\s*/\s*(?:业绩|業績|sales))?\s*[:：]?\s*(\d{4}-\d{2})\s*$",
    )
    .ok()
});

/// The month of a `业绩 2026-11` / `sales 2026-11` subject (a reply to
/// one, `Re: …`, is not a command).
pub fn sales_subject(subject: &str) -> Option<Month> {
    let caps = SUBJECT.as_ref()?.captures(subject)?;
    caps.get(1)?.as_str().parse().ok()
}

/// Takes over every sales email intake left ignored since the last time;
/// returns how many.
pub fn take(
    conn: &mut Connection,
    planner: &Planner<'_>,
    now: DateTime<Utc>,
) -> Result<usize, ByEmailError> {
    let senders = senders(planner.cfg);
    let scanned = scanned_through(conn, &senders)?;
    // Read before the messages are: all that has a class now is looked at
    // below, and the mark never passes a message still waiting for one.
    let classified = inbox::classified_through(conn)?;
    let mut taken = 0;
    for m in inbox::ignored_with_subject(conn, &["业绩", "業績", "sales"], scanned)? {
        let id = m.id;
        if sales_subject(&m.subject).is_none() {
            flag_if_meant_as_sales(conn, planner.cfg, &m)?;
            continue;
        }
        if looked_at(conn, id)? {
            continue;
        }
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Bytes dropped as unrelated (a copy skipped before copies were
        // recorded) leave nothing to read.
        let Some(msg) = inbox::stored(&tx, id).optional()? else {
            continue;
        };
        match answered_copy(&tx, &msg)? {
            Some(of) => record_copy(&tx, &m, of)?,
            None => taken += usize::from(take_one(&tx, planner, &msg, now)?),
        }
        tx.commit()?;
    }
    // Only now: a crash before it looks at the same messages again, which
    // `looked_at` and the flag make harmless.
    if classified > scanned {
        conn.execute(
            "INSERT INTO sales_scanned (id, through, senders) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET through = excluded.through,
                                            senders = excluded.senders",
            params![classified, senders],
        )?;
    }
    Ok(taken)
}

/// How far earlier passes looked at the mail for sales files while
/// `senders` were those who may send one (0: never, or others).
fn scanned_through(conn: &Connection, senders: &str) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COALESCE((SELECT through FROM sales_scanned WHERE id = 1 AND senders = ?1), 0)",
        [senders],
        |r| r.get(0),
    )
}

/// Every address (and alias) of a manager or an assistant, lower-cased,
/// sorted, one line each: who may send a sales file.
fn senders(cfg: &Config) -> String {
    let roster = &cfg.roster;
    let mut all: Vec<String> = roster
        .managers()
        .chain(roster.assistants())
        .flat_map(|p| std::iter::once(&p.email).chain(&p.aliases))
        .map(|a| a.to_lowercase())
        .collect();
    all.sort();
    all.dedup();
    all.join("\n")
}

/// A manager or the assistant writing 业绩/sales in a subject reportd cannot
/// read as `业绩 YYYY-MM` (`2026年9月业绩`, `Re: 业绩 2026-09`) most likely
/// sent a sales file: flag it once, saying how to send it, rather than let
/// it pass as an ordinary email.
fn flag_if_meant_as_sales(
    conn: &Connection,
    cfg: &Config,
    m: &inbox::IgnoredMessage,
) -> rusqlite::Result<()> {
    let may_send_sales = m
        .sender
        .as_deref()
        .and_then(|s| cfg.roster.by_email(s))
        .is_some_and(|p| matches!(p.role, Role::Manager | Role::Assistant));
    // A month is named somehow (`2026年9月`, `2026-9`); "sales meeting" is not
    // a sales file.
    let names_a_month = m.subject.chars().any(|c| c.is_ascii_digit());
    if m.flagged || !may_send_sales || !names_a_month || automatic(conn, m.id)? {
        return Ok(());
    }
    inbox::flag(
        conn,
        m.id,
        "looks like a sales file, but the subject is not `业绩 YYYY-MM` / `sales YYYY-MM`: \
         nothing was imported; send it again with such a subject, or use `reportd sales import`",
    )
}

/// An out-of-office reply to a sales answer, or reportd's own answer when
/// it sends as the assistant (`Re: 业绩 2026-10（已导入）`), is no sales
/// file sent wrongly.
fn automatic(conn: &Connection, message: i64) -> rusqlite::Result<bool> {
    let Some(msg) = inbox::stored(conn, message).optional()? else {
        return Ok(false);
    };
    Ok(parse::parse(&msg.raw).is_ok_and(|env| env.auto_reply.is_some()))
}

/// Whether `message` was looked at already (taken, refused, flagged or
/// found to be a copy).
fn looked_at(conn: &Connection, message: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM sales_emails WHERE message = ?1)")?
        .query_row([message], |r| r.get(0))
}

/// Another copy of `msg` that was taken as a command and answered: the
/// same Message-ID (delivered twice, or read again after the mailbox was
/// renumbered) and the same spreadsheets. A copy refused or left alone (it
/// failed authentication, or came from someone else) does not count: the
/// real one must not be lost to whichever came first. Nor does one with
/// another file: that is the manager correcting a first email (the file
/// was missing, or the wrong one) under its Message-ID, and it is new.
fn answered_copy(conn: &Connection, msg: &StoredRaw) -> rusqlite::Result<Option<i64>> {
    let taken: Vec<i64> = conn
        .prepare_cached(
            "SELECT m.id FROM messages m JOIN sales_emails e ON e.message = m.id
             WHERE m.message_id = (SELECT message_id FROM messages WHERE id = ?1)
               AND m.id <> ?1 AND m.class = 'command'
             ORDER BY m.id",
        )?
        .query_map([msg.id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if taken.is_empty() {
        return Ok(None);
    }
    let files = attachments(&msg.raw);
    for id in taken {
        let Some(other) = inbox::stored(conn, id).optional()? else {
            continue;
        };
        if attachments(&other.raw) == files {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Records that `m` is a copy of the answered message `of`, so no later
/// pass looks at it again; the copy changes nothing and gets no answer.
fn record_copy(conn: &Connection, m: &inbox::IgnoredMessage, of: i64) -> rusqlite::Result<()> {
    let answer = serde_json::json!({ "result": "copy", "of": of });
    record(
        conn,
        m.id,
        m.sender.as_deref().unwrap_or_default(),
        sales_subject(&m.subject),
        "ignored",
        None,
        &answer,
    )
}

/// What became of one sales email, as its answer shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    Imported(Imported),
    /// The file was read but has bad rows: nothing imported.
    Invalid {
        problems: Vec<Problem>,
    },
    /// No usable attachment, or a file that is no spreadsheet.
    Unusable {
        why: String,
    },
}

/// Handles one message; returns whether it was a sales command at all.
fn take_one(
    conn: &Connection,
    planner: &Planner<'_>,
    msg: &StoredRaw,
    now: DateTime<Utc>,
) -> Result<bool, ByEmailError> {
    let cfg = planner.cfg;
    let Ok(env) = parse::parse(&msg.raw) else {
        return Ok(false);
    };
    let Some(month) = sales_subject(&env.subject) else {
        return Ok(false);
    };
    let Some(sender) = env
        .from
        .as_ref()
        .and_then(|f| cfg.roster.by_email(&f.email))
    else {
        record(
            conn,
            msg.id,
            "",
            Some(month),
            "ignored",
            None,
            &serde_json::Value::Null,
        )?;
        // No answer (anyone can send one), but the assistant sees it: it
        // may be the manager writing from an address the roster lacks.
        let from = match &env.from {
            Some(f) => format!("from {}, who is not in the roster", f.email),
            None => "with no sender address".to_string(),
        };
        inbox::flag(
            conn,
            msg.id,
            &format!(
                "a sales file {from}: nothing was imported; if it is a manager's or the \
                 assistant's other address, add it to their aliases and send the file again, or \
                 use `reportd sales import`"
            ),
        )?;
        return Ok(false);
    };
    if !matches!(sender.role, Role::Manager | Role::Assistant) {
        let reason = format!(
            "sales file from {} refused, nothing changed: only the manager or the assistant may \
             send sales files",
            sender.email
        );
        refuse(conn, msg, &env, sender, month, &reason)?;
        return Ok(true);
    }
    if let Err(why) = crate::reports::commands::authenticated(cfg, &env) {
        let reason = format!(
            "sales file from {} refused, nothing changed: {why}",
            sender.email
        );
        refuse(conn, msg, &env, sender, month, &reason)?;
        return Ok(true);
    }
    let (outcome, file) = import(conn, cfg, msg, sender, month)?;
    let import_id = match &outcome {
        Outcome::Imported(i) => Some(i.import),
        _ => None,
    };
    let accepted = import_id.is_some();
    let answer = serde_json::to_value(&outcome)?;
    let name = if accepted { "imported" } else { "refused" };
    record(
        conn,
        msg.id,
        &sender.email,
        Some(month),
        name,
        import_id,
        &answer,
    )?;
    let reason = describe(&outcome, month, &sender.email, file.as_deref());
    classify(conn, msg, &env, MessageClass::Command, &reason, !accepted)?;
    let ctx = SalesImportEmail::new(cfg, sender, &env, msg, month, file, outcome);
    let rendered = planner
        .templates
        .render_email(sender.language.unwrap_or(cfg.language), &ctx)?;
    let letter = Letter {
        to: vec![ctx.filer.clone()],
        cc: vec![],
        rendered,
        attachments: vec![],
    };
    let key = format!("sales-import:{}", msg.id);
    planner.queue_letter(
        conn,
        &key,
        SalesImportEmail::KIND,
        &letter,
        env.message_id.as_deref(),
        now,
    )?;
    Ok(true)
}

fn refuse(
    conn: &Connection,
    msg: &StoredRaw,
    env: &Envelope,
    sender: &Person,
    month: Month,
    reason: &str,
) -> Result<(), ByEmailError> {
    tracing::warn!(message = msg.id, "{reason}");
    let answer = serde_json::json!({ "result": "refused", "why": reason });
    record(
        conn,
        msg.id,
        &sender.email,
        Some(month),
        "refused",
        None,
        &answer,
    )?;
    classify(conn, msg, env, MessageClass::Refused, reason, true)
}

/// The one spreadsheet attached, imported.
fn import(
    conn: &Connection,
    cfg: &Config,
    msg: &StoredRaw,
    sender: &Person,
    month: Month,
) -> Result<(Outcome, Option<String>), ByEmailError> {
    let files = attachments(&msg.raw);
    let (name, data) = match files.as_slice() {
        [one] => one.clone(),
        [] => {
            let why = "no spreadsheet attached: attach the sales file (.xlsx or .csv)".to_string();
            return Ok((Outcome::Unusable { why }, None));
        }
        many => {
            let names: Vec<&str> = many.iter().map(|(n, _)| n.as_str()).collect();
            let why = format!(
                "{} spreadsheets attached ({}): attach only the month's sales file",
                many.len(),
                names.join(", ")
            );
            return Ok((Outcome::Unusable { why }, None));
        }
    };
    let outcome = match sales::import(
        conn,
        cfg,
        month,
        &name,
        &data,
        &sender.email,
        msg.internaldate,
    ) {
        Ok(imported) => Outcome::Imported(imported),
        Err(ImportError::Invalid { problems, .. }) => Outcome::Invalid { problems },
        Err(ImportError::Sheet(e)) => Outcome::Unusable { why: e.to_string() },
        Err(ImportError::Db(e)) => return Err(e.into()),
    };
    Ok((outcome, Some(name)))
}

/// Attached spreadsheets (by file name): `(name, bytes)`.
fn attachments(raw: &[u8]) -> Vec<(String, Vec<u8>)> {
    let Ok(mail) = mailparse::parse_mail(raw) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut stack = vec![&mail];
    while let Some(part) = stack.pop() {
        stack.extend(part.subparts.iter().rev());
        let disposition = part.get_content_disposition();
        let name = disposition
            .params
            .get("filename")
            .or_else(|| part.ctype.params.get("name"));
        let Some(name) = name.map(|n| parse::decode_header(n.as_bytes())) else {
            continue;
        };
        let lower = name.to_lowercase();
        let spreadsheet = [".csv", ".xlsx", ".xls", ".xlsm", ".ods"]
            .iter()
            .any(|e| lower.ends_with(e));
        if spreadsheet && let Ok(body) = part.get_body_raw() {
            out.push((name, body));
        }
    }
    out
}

fn describe(outcome: &Outcome, month: Month, filer: &str, file: Option<&str>) -> String {
    let file = file.unwrap_or("no file");
    match outcome {
        Outcome::Imported(i) => format!(
            "sales for {month} imported from {file} sent by {filer}: {} row(s), {} change(s)",
            i.rows,
            i.changes.len()
        ),
        Outcome::Invalid { problems } => format!(
            "sales file {file} for {month} from {filer} not imported: {} bad row(s)",
            problems.len()
        ),
        Outcome::Unusable { why } => {
            format!("sales email for {month} from {filer} not imported: {why}")
        }
    }
}

fn classify(
    conn: &Connection,
    msg: &StoredRaw,
    env: &Envelope,
    class: MessageClass,
    reason: &str,
    flagged: bool,
) -> Result<(), ByEmailError> {
    let c = Classified {
        class,
        reason,
        flagged,
        message_id: env.message_id.as_deref(),
        sender: env.from.as_ref().map(|m| m.email.as_str()),
        subject: Some(env.subject.as_str()),
    };
    Ok(inbox::set_class(conn, msg.id, &c)?)
}

fn record(
    conn: &Connection,
    message: i64,
    filer: &str,
    month: Option<Month>,
    outcome: &str,
    import: Option<i64>,
    answer: &serde_json::Value,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO sales_emails (message, filer, month, outcome, import, answer)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            message,
            filer,
            month.map(|m| m.to_string()),
            outcome,
            import,
            answer.to_string()
        ],
    )?;
    Ok(())
}

/// The answer to a sales email: imported (with what changed) or refused
/// (with every bad row).
#[derive(Debug, Clone, Serialize)]
pub struct SalesImportEmail {
    pub filer: Contact,
    pub month: String,
    pub file: Option<String>,
    pub request_subject: String,
    /// When the filer's email arrived (local).
    pub received: String,
    pub outcome: Outcome,
    /// Names for the addresses in changes.
    pub changes: Vec<ChangeView>,
    /// When the month's summary went out, if it has (local).
    pub summary_issued_at: Option<String>,
}

/// One change, with the person's name.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeView {
    pub name: String,
    pub what: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl Email for SalesImportEmail {
    const KIND: &'static str = "sales_import";
}

impl SalesImportEmail {
    fn new(
        cfg: &Config,
        filer: &Person,
        env: &Envelope,
        msg: &StoredRaw,
        month: Month,
        file: Option<String>,
        outcome: Outcome,
    ) -> SalesImportEmail {
        let (changes, issued): (&[Change], _) = match &outcome {
            Outcome::Imported(i) => (&i.changes, i.summary_issued_at),
            _ => (&[], None),
        };
        SalesImportEmail {
            filer: Contact::from(filer),
            month: month.to_string(),
            file,
            request_subject: env.subject.clone(),
            received: compose::local_time(msg.internaldate, cfg.timezone),
            changes: changes
                .iter()
                .map(|c| {
                    let (before, after) = c.shown();
                    ChangeView {
                        name: cfg
                            .roster
                            .by_email(&c.person)
                            .map_or_else(|| c.person.clone(), |p| p.name.clone()),
                        what: c.what.clone(),
                        before,
                        after,
                    }
                })
                .collect(),
            summary_issued_at: issued.map(|t| compose::local_time(t, cfg.timezone)),
            outcome,
        }
    }
}

/// A filled-in context for template tests.
#[cfg(test)]
pub(crate) fn sample_email(filer: Contact) -> SalesImportEmail {
    SalesImportEmail {
        filer,
        month: "2026-11".into(),
        file: Some("sales.xlsx".into()),
        request_subject: "业绩 2026-11".into(),
        received: "2026-12-01 10:00".into(),
        outcome: Outcome::Invalid {
            problems: vec![Problem {
                row: 3,
                column: "C (自拓)".into(),
                reason: "`abc` is not an amount in yuan".into(),
            }],
        },
        changes: vec![],
        summary_issued_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sales_subject_reads_the_month_in_either_language() {
        let nov: Month = "2026-11".parse().expect("month");
        assert_eq!(sales_subject("业绩 2026-11"), Some(nov));
        assert_eq!(sales_subject("Sales: 2026-11"), Some(nov));
        assert_eq!(sales_subject("业绩/sales 2026-11 "), Some(nov));
        assert_eq!(sales_subject("Re: 业绩 2026-11"), None);
        assert_eq!(sales_subject("业绩 2026-13"), None);
        assert_eq!(sales_subject("sales meeting"), None);
    }

    /// Stores one message per `(class, subject)`, each from the manager
    /// (`None`: not classified yet); returns their ids.
    fn mail(conn: &mut Connection, messages: &[(Option<&str>, &str)]) -> Vec<i64> {
        let first: i64 = conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| {
                r.get(0)
            })
            .expect("max id");
        let batch: Vec<inbox::Fetched> = (0..messages.len())
            .map(|i| {
                let n = first + i as i64 + 1;
                inbox::Fetched::new(
                    format!("7/{n}"),
                    Some(7),
                    u32::try_from(n).ok(),
                    Utc::now(),
                    format!("Message-ID: <{n}@x>\r\n\r\n{n}").into_bytes(),
                )
            })
            .collect();
        inbox::store_batch(conn, "s", &batch, None).expect("store");
        let ids: Vec<i64> = (first + 1..=first + messages.len() as i64).collect();
        for (id, (class, subject)) in ids.iter().zip(messages) {
            conn.execute(
                "UPDATE messages SET class = ?2, subject = ?3, sender = 'chengang@example.com'
                 WHERE id = ?1",
                params![id, class, subject],
            )
            .expect("classify");
        }
        ids
    }

    fn flagged(conn: &Connection, id: i64) -> bool {
        conn.query_row("SELECT flagged FROM messages WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .expect("message")
    }

    #[test]
    fn each_message_is_looked_at_for_a_sales_file_once_and_none_before_it_has_a_class() {
        let mut w = World::new();
        let cfg = crate::test_team::config();
        // The manager's sales file under a subject reportd cannot read is
        // flagged, once: the same message is not read again.
        let sent = "2026年9月业绩";
        let first = mail(&mut w.conn, &[(Some("ignored"), sent)])[0];
        w.take(&cfg);
        assert!(flagged(&w.conn, first));
        w.conn
            .execute("UPDATE messages SET flagged = 0 WHERE id = ?1", [first])
            .expect("unflag");
        w.take(&cfg);
        assert!(!flagged(&w.conn, first), "read again");
        // One still waiting for intake holds the mark back: it is looked at
        // once it has a class, though one after it was looked at before.
        let ids = mail(&mut w.conn, &[(None, sent), (Some("ignored"), sent)]);
        w.take(&cfg);
        assert_eq!(
            (flagged(&w.conn, ids[0]), flagged(&w.conn, ids[1])),
            (false, true)
        );
        w.conn
            .execute(
                "UPDATE messages SET class = 'ignored' WHERE id = ?1",
                [ids[0]],
            )
            .expect("classified late");
        w.take(&cfg);
        assert!(flagged(&w.conn, ids[0]), "the message classified late");
        assert_eq!(
            scanned_through(&w.conn, &senders(&cfg)).expect("mark"),
            ids[1]
        );
    }

    /// Stores `raw` as intake leaves a message it ignored; returns its id.
    fn ignored(conn: &mut Connection, raw: &str) -> i64 {
        let id = mail(conn, &[(Some("ignored"), "")])[0];
        let env = parse::parse(raw.as_bytes()).expect("parses");
        conn.execute(
            "UPDATE message_raw SET raw = ?2 WHERE message = ?1",
            params![id, raw.as_bytes()],
        )
        .expect("raw");
        conn.execute(
            "UPDATE messages SET subject = ?2, sender = ?3, message_id = ?4 WHERE id = ?1",
            params![id, env.subject, env.from.map(|f| f.email), env.message_id],
        )
        .expect("envelope");
        id
    }

    const PASS: &str = "mx.test; dmarc=pass header.from=example.com";
    const FAIL: &str = "mx.test; dmarc=fail header.from=example.com";

    fn sales_email(from: &str, subject: &str, message_id: &str, auth: &str) -> String {
        format!(
            "Authentication-Results: {auth}\r\nFrom: {from}\r\nTo: zhaomin@example.com\r\n\
             Subject: {subject}\r\nMessage-ID: <{message_id}>\r\n\
             Date: Mon, 2 Nov 2026 10:00:00 +0800\r\n\r\nsee attached\r\n"
        )
    }

    /// The manager's `业绩 2026-10` email `<s1@x>`, vouched for by `auth`,
    /// its body ending in `trailer`, as intake leaves it; its id.
    fn managers(conn: &mut Connection, auth: &str, trailer: &str) -> i64 {
        let raw = sales_email("chengang@example.com", "业绩 2026-10", "s1@x", auth);
        ignored(conn, &format!("{raw}{trailer}"))
    }

    /// The test team, trusting `Authentication-Results` from `mx.test`,
    /// with `extra` added to the manager.
    fn team(extra: &str) -> Config {
        let team = include_str!("../../tests/app/team.toml").replace(
            "role = \"manager\"",
            &format!("role = \"manager\"\n{extra}"),
        );
        let toml = format!(
            "database = \"x.sqlite3\"\ntracking_starts = \"2026-10-01\"\ncalendar = []\n\
             [maildir]\npath = \"/tmp\"\n[notify]\nauthserv_id = \"mx.test\"\n{team}"
        );
        Config::from_toml_str(&toml, std::path::Path::new("test.toml"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn answers(conn: &Connection) -> i64 {
        conn.query_row(
            "SELECT count(*) FROM outbox WHERE kind = 'sales_import'",
            [],
            |r| r.get(0),
        )
        .expect("outbox")
    }

    fn answered(conn: &Connection) -> Vec<(i64, String)> {
        conn.prepare("SELECT message, outcome FROM sales_emails ORDER BY message")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    }

    struct World {
        _dir: tempfile::TempDir,
        conn: Connection,
        calendar: crate::calendar::Calendar,
        templates: compose::Templates,
    }

    impl World {
        fn new() -> World {
            let dir = tempfile::tempdir().expect("dir");
            let conn = crate::store::open(&dir.path().join("d.sqlite3")).expect("db");
            World {
                _dir: dir,
                conn,
                calendar: crate::calendar::Calendar::load(&[]).expect("calendar"),
                templates: compose::Templates::lazy(),
            }
        }

        fn take(&mut self, cfg: &Config) -> usize {
            let planner = Planner::new(cfg, &self.calendar, &self.templates).expect("planner");
            take(&mut self.conn, &planner, Utc::now()).expect("take")
        }
    }

    #[test]
    fn a_malformed_sales_subject_from_an_address_added_to_the_roster_later_is_flagged() {
        let mut w = World::new();
        let raw = sales_email("chen.gang@home.example", "2026年10月业绩", "s1@home", PASS);
        let id = ignored(&mut w.conn, &raw);
        w.take(&team(""));
        assert!(!flagged(&w.conn, id), "a stranger's 业绩 email with a date");
        // The assistant adds the manager's other address; the email is
        // looked at again under the new roster.
        w.take(&team("aliases = [\"chen.gang@home.example\"]"));
        assert!(flagged(&w.conn, id), "the manager's, now");
    }

    #[test]
    fn a_second_copy_of_an_answered_sales_email_is_not_answered_again() {
        let mut w = World::new();
        let cfg = team("");
        let first = managers(&mut w.conn, PASS, "");
        w.take(&cfg);
        assert_eq!(answers(&w.conn), 1, "no file attached: answered as such");
        // The same email delivered again, its bytes not quite the same.
        let copy = managers(&mut w.conn, PASS, "\r\n");
        w.take(&cfg);
        assert_eq!(answers(&w.conn), 1);
        // Answered (nothing to import), class `command`; the copy is
        // recorded as one, changes nothing and is not looked at again.
        assert_eq!(
            answered(&w.conn),
            [
                (first, "refused".to_string()),
                (copy, "ignored".to_string())
            ]
        );
        let answer: String = w
            .conn
            .query_row(
                "SELECT answer FROM sales_emails WHERE message = ?1",
                [copy],
                |r| r.get(0),
            )
            .expect("the copy's row");
        assert_eq!(answer, format!(r#"{{"of":{first},"result":"copy"}}"#));
    }

    const SALES: &str = "姓名,自拓,状态\n张伟,1000,转正\n李娜,2000,转正\n";

    /// The manager's `业绩 2026-10` email `<s1@x>` with `csv` attached.
    fn managers_with_file(conn: &mut Connection, csv: &str) -> i64 {
        use base64::Engine as _;
        let file = base64::engine::general_purpose::STANDARD.encode(csv);
        let head = sales_email("chengang@example.com", "业绩 2026-10", "s1@x", PASS);
        let (head, _) = head.split_once("\r\n\r\n").expect("a header");
        ignored(
            conn,
            &format!(
                "{head}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
                 --b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
                 --b\r\nContent-Type: text/csv; name=\"s.csv\"\r\n\
                 Content-Disposition: attachment; filename=\"s.csv\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{file}\r\n--b--\r\n"
            ),
        )
    }

    #[test]
    fn a_corrected_resend_under_the_same_message_id_is_imported_and_answered() {
        let mut w = World::new();
        let cfg = team("");
        // The manager forgets the file and is told so; her client sends the
        // corrected email again under the first one's Message-ID.
        let forgot = managers(&mut w.conn, PASS, "");
        w.take(&cfg);
        let corrected = managers_with_file(&mut w.conn, SALES);
        w.take(&cfg);
        assert_eq!(
            answered(&w.conn),
            [
                (forgot, "refused".to_string()),
                (corrected, "imported".to_string())
            ]
        );
        assert_eq!(answers(&w.conn), 2, "each is answered");
        // The corrected one delivered twice is still answered once.
        managers_with_file(&mut w.conn, SALES);
        w.take(&cfg);
        assert_eq!(answers(&w.conn), 2);
    }

    #[test]
    fn reportds_own_answer_and_an_out_of_office_reply_to_it_are_not_flagged() {
        let mut w = World::new();
        // reportd sending as the assistant reads its own answer, and the
        // manager's vacation reply to it, in the assistant's mailbox.
        let own = ignored(
            &mut w.conn,
            "Auto-Submitted: auto-generated\r\nFrom: zhaomin@example.com\r\n\
             To: chengang@example.com\r\nSubject: Re: 业绩 2026-10（已导入）\r\n\
             Message-ID: <a@x>\r\n\r\nok\r\n",
        );
        let away = ignored(
            &mut w.conn,
            "Auto-Submitted: auto-replied\r\nFrom: chengang@example.com\r\n\
             To: zhaomin@example.com\r\nSubject: 自动回复: Re: 业绩 2026-10（已导入）\r\n\
             Message-ID: <o@x>\r\n\r\naway\r\n",
        );
        // The same subject written by the manager is a sales file sent wrongly.
        let by_hand = ignored(
            &mut w.conn,
            &sales_email("chengang@example.com", "Re: 业绩 2026-10", "h@x", PASS),
        );
        w.take(&team(""));
        assert_eq!(
            [own, away, by_hand].map(|id| flagged(&w.conn, id)),
            [false, false, true]
        );
    }

    #[test]
    fn a_copy_that_failed_authentication_does_not_stand_in_for_the_real_one() {
        let mut w = World::new();
        let cfg = team("");
        // First a copy the server could not vouch for (a forwarder, or a
        // forgery), then the real one under the same Message-ID.
        let forged = managers(&mut w.conn, FAIL, "");
        let real = managers(&mut w.conn, PASS, "");
        w.take(&cfg);
        let outcomes = answered(&w.conn);
        assert_eq!(outcomes[0], (forged, "refused".to_string()));
        assert_eq!(outcomes[1].0, real, "the real one is taken: {outcomes:?}");
        assert_eq!(answers(&w.conn), 1, "and answered");
    }

    #[test]
    fn a_sales_file_from_an_address_not_in_the_roster_is_flagged_not_answered() {
        let mut w = World::new();
        let id = ignored(
            &mut w.conn,
            &sales_email("boss@personal.example", "sales 2026-10", "s1@p", PASS),
        );
        w.take(&team(""));
        assert!(flagged(&w.conn, id));
        assert_eq!(answered(&w.conn), [(id, "ignored".to_string())]);
        assert_eq!(
            answers(&w.conn),
            0,
            "no answer to an address anyone can write"
        );
    }

    #[test]
    fn the_answer_names_each_change_in_words_and_shows_a_blank_value_as_blank() {
        let change = |what: &str, before: &str, after: &str| ChangeView {
            name: "王芳".into(),
            what: what.into(),
            before: Some(before.into()),
            after: Some(after.into()),
        };
        let mut email = sample_email(Contact::new("陈刚", "chengang@example.com"));
        email.outcome = Outcome::Imported(Imported {
            month: "2026-11".parse().expect("month"),
            import: 2,
            rows: 1,
            replaced: true,
            unchanged: false,
            changes: vec![],
            ignored_columns: vec![],
            summary_issued_at: None,
        });
        email.changes = vec![
            change("standing", "probation_1", "regular"),
            change("team_target", "", "50,000.00"),
            change("level", "<b>L2</b>", ""),
            ChangeView {
                name: "张伟".into(),
                what: "added".into(),
                before: None,
                after: None,
            },
        ];
        let templates = compose::Templates::new().expect("templates");
        let zh = templates
            .render_email(crate::config::Language::Zh, &email)
            .expect("zh");
        for line in [
            "王芳：状态 试用第1月 → 转正",
            "王芳：团队目标 （空） → 50,000.00",
            "王芳：级别 <b>L2</b> → （空）",
        ] {
            assert!(zh.text.contains(line), "{line} in {}", zh.text);
        }
        assert!(zh.text.contains("张伟：新增\n"), "{}", zh.text);
        assert!(
            zh.html.contains("级别 &lt;b&gt;L2&lt;/b&gt; → （空）"),
            "{}",
            zh.html
        );
        let en = templates
            .render_email(crate::config::Language::En, &email)
            .expect("en");
        assert!(
            en.text.contains("王芳: status probation month 1 → regular"),
            "{}",
            en.text
        );
        assert!(en.text.contains("imported: 1 person,"), "{}", en.text);
        assert!(
            en.text.contains("王芳: team target (blank) → 50,000.00"),
            "{}",
            en.text
        );
    }

    #[test]
    fn attachments_are_found_by_name_even_when_encoded() {
        let raw = b"From: a@example.com\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
--b\r\nContent-Type: text/csv; name=\"=?UTF-8?B?5Lia57upLmNzdg==?=\"\r\n\
Content-Disposition: attachment; filename=\"=?UTF-8?B?5Lia57upLmNzdg==?=\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n5aeT5ZCNLOiHquaLkwo=\r\n--b--\r\n";
        let found = attachments(raw);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "业绩.csv");
        assert_eq!(found[0].1, "姓名,自拓\n".as_bytes());
    }
}
