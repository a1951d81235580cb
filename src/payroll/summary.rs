//! The monthly payroll summary: one row per person (base after the
//! base-performance cut, each commission part, the month's report fines,
//! refunds of earlier months, net pay, flags) and the activity fund. Owns
//! the `payroll_summaries` and `payroll_settled` tables. The single home of
//! "which month a fine is deducted in".
//!
//! A fine belongs to the payroll month of its deadline (POLICY.md, "Payroll
//! month"). When a month's summary is issued, it is stored whole as it went
//! out, together with every ledger row and fund spending it settled, and is
//! never changed. A ledger row booked later for a month already settled (a
//! waiver after the summary went out, a fine booked late) is a line of the
//! next summary, naming the original month: a waiver is a refund.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::config::{Config, Person, Role};
use crate::ledger::{self, EntryKind};
use crate::money::Fen;
use crate::payroll::PayrollError;
use crate::payroll::fund::{self, FundMonth, Spend};
use crate::payroll::rules::{
    self, Commission, PayRules, Standing, TeamCommission, base_after_cut, base_salary,
};
use crate::payroll::sales::{self, MonthSales, SalesRow};
use crate::period::{Deadline, Month, Period};
use crate::store::{parse_ts, ts};

/// A month's payroll summary. Its JSON (`reportd payroll --json`) is a
/// stable contract, documented in README.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub month: Month,
    /// `preview` until the summary is issued (sent), then `issued`.
    pub state: State,
    pub issued_at: Option<DateTime<Utc>>,
    /// Whether sales were imported for the month; without them pay is not
    /// computed, fines, refunds and the fund still are.
    pub sales_imported: bool,
    pub sales_source: Option<SalesSource>,
    pub people: Vec<PersonPay>,
    pub totals: Totals,
    pub fund: FundMonth,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Preview,
    Issued,
}

/// Which import the sales figures come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesSource {
    pub file: String,
    pub imported_at: DateTime<Utc>,
    pub by: String,
}

/// One person's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonPay {
    pub email: String,
    pub name: String,
    pub group: Option<String>,
    /// `rep`, `clerk`, `supervisor`, `manager` (or `assistant`, listed only
    /// for a fine or refund).
    pub role: String,
    /// Reps and clerks with sales.
    pub standing: Option<Standing>,
    /// `None` when the month's sales are missing for this person.
    pub sales: Option<SalesFigures>,
    /// The base salary before the cut; `None` when unknown.
    pub base_fen: Option<Fen>,
    pub base_after_cut_fen: Option<Fen>,
    /// Reps' and clerks' commission, by part.
    pub commission: Option<Commission>,
    /// Supervisors' and managers' commission on their team's sales.
    pub team: Option<TeamCommission>,
    /// All commission together.
    pub commission_fen: Option<Fen>,
    pub fines: Lines,
    pub refunds: Lines,
    /// Base after the cut + commission − fines + refunds; `None` when the
    /// sales or the base salary are missing.
    pub net_pay_fen: Option<Fen>,
    pub flags: Vec<Flag>,
}

/// A person's sales as imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesFigures {
    pub own_fen: Fen,
    pub proxy_fen: Fen,
    pub sms_fen: Fen,
    /// What counts toward the targets: a rep's own sales; a clerk's own and
    /// handed-over sales; a supervisor's or manager's team's.
    pub counted_fen: Fen,
}

/// Fines or refunds of one person.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Lines {
    pub count: u32,
    pub amount_fen: Fen,
    pub items: Vec<Line>,
}

/// One fine (or refund) for one report period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// `2026-W48`, `2026-11`.
    pub period: String,
    /// The payroll month the fine belongs to (earlier than the summary's
    /// for a refund or a fine booked late).
    pub month: Month,
    /// Always positive: a refund's amount is what is paid back.
    pub amount_fen: Fen,
    pub reason: String,
}

/// Flags for people to decide on (POLICY.md section 4): reportd only flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// Probation month 1 at or above the base performance.
    RegularNextMonth,
    /// Probation month 1 below it: a second probation month.
    ProbationContinues,
    /// Probation months 1 and 2 together at or above the two-month figure.
    RegularFromMonth3,
    /// Probation months 1 and 2 together below it (the manager may make an
    /// exception).
    EliminatedByDefault,
    /// Probation month 2 without month 1's sales imported.
    ProbationUndecided,
    /// Below the base performance this month and the month before.
    BelowBaseTwoMonths,
    ZeroMonth,
    /// In the company's bottom three by counted sales (ties included).
    BottomThree,
    BelowMinimumTarget,
    /// Sales were imported for the month but not for this person.
    NoSales,
    /// A supervisor's or manager's team has members without sales.
    TeamSalesIncomplete,
    /// No base salary configured for a supervisor or manager.
    BaseNotConfigured,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Over the people whose figures are known.
    pub base_after_cut_fen: Fen,
    pub commission_fen: Fen,
    pub fines_fen: Fen,
    pub refunds_fen: Fen,
    pub net_pay_fen: Fen,
}

// ---------------------------------------------------------------------------
// Ledger rows by payroll month.

/// A ledger row with its payroll month.
#[derive(Debug, Clone)]
struct Booked {
    id: i64,
    person: String,
    period: String,
    kind: EntryKind,
    month: Month,
    amount: Fen,
    fund: Fen,
    reason: String,
}

/// The payroll month of a fine: that of its deadline's day.
fn fine_month(period: &str, due: DateTime<Utc>, tz: Tz) -> Option<Month> {
    let period: Period = period.parse().ok()?;
    let deadline = Deadline {
        period,
        due,
        provisional: false,
    };
    Some(deadline.payroll_month(tz))
}

/// Every ledger row with its payroll month (a waiver takes its fine's).
fn booked(conn: &Connection, tz: Tz) -> rusqlite::Result<Vec<Booked>> {
    let entries = ledger::bookings(conn)?;
    // Looked up by borrowed person and period: a year's ledger is tens of
    // thousands of rows, each key copied twice before.
    let months: Vec<Month> = {
        // Hashed with foldhash: the keys are what `settle` wrote.
        let mut fines: HashMap<(&str, &str), Month, foldhash::fast::RandomState> =
            HashMap::default();
        for e in entries.iter().filter(|e| e.kind == EntryKind::Fine) {
            if let Some(m) = fine_month(&e.period, e.at, tz) {
                fines.insert((&e.person, &e.period), m);
            }
        }
        entries
            .iter()
            .map(
                |e| match fines.get(&(e.person.as_str(), e.period.as_str())) {
                    Some(m) => *m,
                    None => Month::containing(e.at.with_timezone(&tz).date_naive()),
                },
            )
            .collect()
    };
    Ok(entries
        .into_iter()
        .zip(months)
        .map(|(e, month)| Booked {
            id: e.id,
            person: e.person,
            period: e.period,
            kind: e.kind,
            month,
            amount: e.amount_fen,
            fund: e.fund_fen,
            reason: e.reason,
        })
        .collect())
}

/// What a summary settles: its ledger rows and spending, and the fund's
/// opening balance.
struct Gathered {
    rows: Vec<Booked>,
    spends: Vec<Spend>,
    opening: Fen,
}

/// A summary's own rows: those of its month not settled yet, and those of
/// settled months (from the first summary issued on) booked after their
/// summary. Everything else of its month or before is the fund's opening.
fn gather(conn: &Connection, month: Month, tz: Tz) -> rusqlite::Result<Gathered> {
    let (settled_rows, settled_spends) = settled(conn)?;
    let start = first_issued(conn)?.unwrap_or(month);
    let belongs = |m: Month, settled: bool| !settled && (m == month || (m >= start && m < month));
    let mut g = Gathered {
        rows: Vec::new(),
        spends: Vec::new(),
        opening: Fen::ZERO,
    };
    for b in booked(conn, tz)?.into_iter().filter(|b| b.month <= month) {
        if belongs(b.month, settled_rows.contains(&b.id)) {
            g.rows.push(b);
        } else {
            g.opening = g.opening + b.fund;
        }
    }
    for s in fund::spends(conn)?
        .into_iter()
        .filter(|s| s.month(tz) <= month)
    {
        if belongs(s.month(tz), settled_spends.contains(&s.id)) {
            g.spends.push(s);
        } else {
            g.opening = g.opening - s.amount_fen;
        }
    }
    Ok(g)
}

fn settled(conn: &Connection) -> rusqlite::Result<(HashSet<i64>, HashSet<i64>)> {
    let mut stmt = conn.prepare("SELECT ledger, spend FROM payroll_settled")?;
    let mut rows = HashSet::new();
    let mut spends = HashSet::new();
    for r in stmt.query_map([], |r| {
        Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?))
    })? {
        let (ledger, spend) = r?;
        rows.extend(ledger);
        spends.extend(spend);
    }
    Ok((rows, spends))
}

fn first_issued(conn: &Connection) -> rusqlite::Result<Option<Month>> {
    let first: Option<String> =
        conn.query_row("SELECT min(month) FROM payroll_summaries", [], |r| r.get(0))?;
    Ok(first.and_then(|m| m.parse().ok()))
}

/// Per person, the fines and refunds of a summary: each report period's
/// rows netted (a fine and its waiver in the same summary cancel out).
fn lines_by_person(rows: &[Booked]) -> HashMap<String, (Lines, Lines, Fen, Fen)> {
    let mut groups: Vec<(&str, &str, Month, Fen, Fen, &str)> = Vec::new();
    // Each person's period found through a map: a month of a thousand
    // people is thousands of groups.
    let mut at: HashMap<(&str, &str), usize> = HashMap::new();
    for b in rows {
        match at
            .get(&(b.person.as_str(), b.period.as_str()))
            .and_then(|&i| groups.get_mut(i))
        {
            Some(g) => {
                g.3 = g.3 + b.amount;
                g.4 = g.4 + b.fund;
                if b.kind == EntryKind::Waiver {
                    g.5 = &b.reason;
                }
            }
            None => {
                at.insert((&b.person, &b.period), groups.len());
                groups.push((&b.person, &b.period, b.month, b.amount, b.fund, &b.reason));
            }
        }
    }
    let mut out: HashMap<String, (Lines, Lines, Fen, Fen)> = HashMap::new();
    for (person, period, month, amount, fund, reason) in groups {
        let entry = out.entry(person.to_string()).or_default();
        let line = Line {
            period: period.to_string(),
            month,
            amount_fen: Fen(amount.0.abs()),
            reason: reason.to_string(),
        };
        let (lines, fund_slot) = match amount.0.signum() {
            1 => (&mut entry.0, &mut entry.2),
            -1 => (&mut entry.1, &mut entry.3),
            _ => continue,
        };
        lines.count += 1;
        lines.amount_fen = lines.amount_fen + line.amount_fen;
        lines.items.push(line);
        *fund_slot = *fund_slot + fund;
    }
    out
}

// ---------------------------------------------------------------------------
// Pay.

/// Sales of the month and the month before, and the company ranking.
struct SalesContext<'a> {
    rules: &'a PayRules,
    now: Option<&'a MonthSales>,
    prev: Option<&'a MonthSales>,
    bottom_three: HashSet<String>,
}

impl<'a> SalesContext<'a> {
    fn new(cfg: &'a Config, now: Option<&'a MonthSales>, prev: Option<&'a MonthSales>) -> Self {
        let mut ctx = SalesContext {
            rules: &cfg.payroll.rules,
            now,
            prev,
            bottom_three: HashSet::new(),
        };
        if let Some(m) = now {
            let mut counted: Vec<(Fen, &str)> = m
                .rows
                .iter()
                .filter(|r| r.standing.is_some())
                .filter_map(|r| Some((ctx.counted(cfg, r)?, r.person.as_str())))
                .collect();
            counted.sort();
            if counted.len() > 3 {
                let third = counted[2].0;
                ctx.bottom_three = counted
                    .iter()
                    .filter(|(c, _)| *c <= third)
                    .map(|(_, p)| (*p).to_string())
                    .collect();
            }
        }
        ctx
    }

    /// A rep's own sales; a clerk's own and handed-over sales.
    fn counted(&self, cfg: &Config, r: &SalesRow) -> Option<Fen> {
        match cfg.roster.by_email(&r.person)?.role {
            Role::Rep => Some(r.own),
            Role::Clerk => Some(r.own + r.proxy),
            _ => None,
        }
    }
}

/// The pay part of a person's line.
#[derive(Default)]
struct Pay {
    standing: Option<Standing>,
    sales: Option<SalesFigures>,
    base: Option<Fen>,
    base_after_cut: Option<Fen>,
    commission: Option<Commission>,
    team: Option<TeamCommission>,
    flags: Vec<Flag>,
}

impl Pay {
    fn commission_total(&self) -> Option<Fen> {
        match (&self.commission, &self.team) {
            (Some(c), _) => Some(c.total_fen),
            (None, Some(t)) => Some(t.commission_fen),
            _ => None,
        }
    }
}

fn seller_pay(cfg: &Config, s: &SalesContext<'_>, p: &Person, r: &SalesRow) -> Pay {
    let rules = s.rules;
    let counted = s.counted(cfg, r).unwrap_or(Fen::ZERO);
    let standing = r.standing.unwrap_or(Standing::Regular);
    let prev = s.prev.and_then(|m| m.of(&p.email));
    let prev_counted = prev.and_then(|row| s.counted(cfg, row));
    let clerk_last = prev_counted.filter(|_| p.role == Role::Clerk);
    let base = base_salary(rules, standing, r.level.as_deref(), clerk_last);
    let commission = if p.role == Role::Clerk {
        rules::clerk_commission(rules, r.own, r.proxy, r.sms)
    } else {
        rules::rep_commission(rules, r.own, r.proxy, r.sms)
    };
    let mut flags = probation_flags(rules, standing, counted, prev_counted);
    if counted == Fen::ZERO {
        flags.push(Flag::ZeroMonth);
    }
    if counted < rules.base_performance && prev_counted.is_some_and(|c| c < rules.base_performance)
    {
        flags.push(Flag::BelowBaseTwoMonths);
    }
    if s.bottom_three.contains(&p.email) {
        flags.push(Flag::BottomThree);
    }
    if counted < rules.minimum_target {
        flags.push(Flag::BelowMinimumTarget);
    }
    Pay {
        standing: Some(standing),
        sales: Some(SalesFigures {
            own_fen: r.own,
            proxy_fen: r.proxy,
            sms_fen: r.sms,
            counted_fen: counted,
        }),
        base: Some(base),
        base_after_cut: Some(base_after_cut(rules, base, counted)),
        commission: Some(commission),
        team: None,
        flags,
    }
}

fn probation_flags(
    rules: &PayRules,
    standing: Standing,
    counted: Fen,
    prev: Option<Fen>,
) -> Vec<Flag> {
    match standing {
        Standing::Regular => vec![],
        Standing::Probation1 if counted >= rules.base_performance => vec![Flag::RegularNextMonth],
        Standing::Probation1 => vec![Flag::ProbationContinues],
        Standing::Probation2 => match prev {
            None => vec![Flag::ProbationUndecided],
            Some(p) if p + counted >= rules.probation_two_months => vec![Flag::RegularFromMonth3],
            Some(_) => vec![Flag::EliminatedByDefault],
        },
    }
}

/// A supervisor's members, or every rep and clerk for a manager.
fn team_of<'c>(cfg: &'c Config, lead: &Person) -> Vec<&'c Person> {
    cfg.roster
        .reporters()
        .filter(|p| lead.role == Role::Manager || p.supervisor.as_deref() == Some(&lead.email))
        .collect()
}

fn lead_pay(cfg: &Config, s: &SalesContext<'_>, lead: &Person, r: &SalesRow) -> Pay {
    let rules = s.rules;
    let mut flags = Vec::new();
    let mut team_sales = Fen::ZERO;
    for member in team_of(cfg, lead) {
        match s.now.and_then(|m| m.of(&member.email)) {
            Some(row) => team_sales = team_sales + s.counted(cfg, row).unwrap_or(Fen::ZERO),
            None if !flags.contains(&Flag::TeamSalesIncomplete) => {
                flags.push(Flag::TeamSalesIncomplete);
            }
            None => {}
        }
    }
    let table = if lead.role == Role::Manager {
        &rules.manager
    } else {
        &rules.supervisor
    };
    let team = r
        .team_target
        .map(|t| rules::team_commission(table, team_sales, t));
    let configured = if lead.role == Role::Manager {
        rules.base_manager
    } else {
        rules.base_supervisor
    };
    let level = r
        .level
        .as_deref()
        .and_then(|n| rules.levels.iter().find(|l| l.name == n))
        .map(|l| l.base);
    let base = level.or(configured);
    if base.is_none() {
        flags.push(Flag::BaseNotConfigured);
    }
    Pay {
        standing: None,
        sales: Some(SalesFigures {
            own_fen: Fen::ZERO,
            proxy_fen: Fen::ZERO,
            sms_fen: Fen::ZERO,
            counted_fen: team_sales,
        }),
        base,
        base_after_cut: base,
        commission: None,
        team,
        flags,
    }
}

fn pay_of(cfg: &Config, s: &SalesContext<'_>, p: &Person) -> Pay {
    let Some(month) = s.now else {
        return Pay::default();
    };
    let Some(row) = month.of(&p.email) else {
        return Pay {
            flags: vec![Flag::NoSales],
            ..Pay::default()
        };
    };
    match p.role {
        Role::Rep | Role::Clerk => seller_pay(cfg, s, p, row),
        Role::Supervisor | Role::Manager => lead_pay(cfg, s, p, row),
        Role::Assistant => Pay::default(),
    }
}

// ---------------------------------------------------------------------------
// The summary.

/// Whether `p` works in `month` (or has anything in it).
fn listed(p: &Person, month: Month) -> bool {
    p.role != Role::Assistant
        && p.since.is_none_or(|s| s <= month.last_day())
        && p.until.is_none_or(|u| u >= month.first_day())
}

fn group_of(cfg: &Config, p: &Person) -> Option<String> {
    p.group
        .clone()
        .or_else(|| cfg.roster.supervisor_of(p).and_then(|s| s.group.clone()))
}

/// The summary as it stands at `now` (not stored), and the ledger rows and
/// spending it would settle.
fn build(
    conn: &Connection,
    cfg: &Config,
    month: Month,
) -> Result<(Summary, Vec<i64>, Vec<i64>), PayrollError> {
    let tz = cfg.timezone;
    let g = gather(conn, month, tz)?;
    let now_sales = sales::month_sales(conn, month)?;
    let prev_sales = sales::month_sales(conn, month.prev())?;
    let ctx = SalesContext::new(cfg, now_sales.as_ref(), prev_sales.as_ref());
    let mut by_person = lines_by_person(&g.rows);
    let (mut fund_fines, mut fund_refunds) = (Fen::ZERO, Fen::ZERO);
    let mut people = Vec::new();
    for p in &cfg.roster.people {
        let lines = by_person.remove(&p.email);
        let has_row = now_sales.as_ref().is_some_and(|m| m.of(&p.email).is_some());
        if lines.is_none() && !has_row && !listed(p, month) {
            continue;
        }
        let (fines, refunds, ff, fr) = lines.unwrap_or_default();
        fund_fines = fund_fines + ff;
        fund_refunds = fund_refunds + fr;
        people.push(person_line(cfg, &ctx, p, fines, refunds));
    }
    // Rows of people no longer configured still count.
    let mut leftover: Vec<_> = by_person.into_iter().collect();
    leftover.sort_by(|a, b| a.0.cmp(&b.0));
    for (email, (fines, refunds, ff, fr)) in leftover {
        fund_fines = fund_fines + ff;
        fund_refunds = fund_refunds + fr;
        people.push(departed_line(email, fines, refunds));
    }
    let totals = totals(&people);
    let summary = Summary {
        month,
        state: State::Preview,
        issued_at: None,
        sales_imported: now_sales.is_some(),
        sales_source: now_sales.as_ref().map(|m| SalesSource {
            file: m.source.clone(),
            imported_at: m.at,
            by: m.by.clone(),
        }),
        people,
        totals,
        fund: FundMonth::new(g.opening, fund_fines, fund_refunds, g.spends.clone()),
    };
    let rows = g.rows.iter().map(|b| b.id).collect();
    let spends = g.spends.iter().map(|s| s.id).collect();
    Ok((summary, rows, spends))
}

fn person_line(
    cfg: &Config,
    ctx: &SalesContext<'_>,
    p: &Person,
    fines: Lines,
    refunds: Lines,
) -> PersonPay {
    let pay = pay_of(cfg, ctx, p);
    let commission_fen = pay.commission_total();
    let net = match (pay.base_after_cut, commission_fen) {
        (Some(b), Some(c)) => Some(b + c - fines.amount_fen + refunds.amount_fen),
        _ => None,
    };
    PersonPay {
        email: p.email.clone(),
        name: p.name.clone(),
        group: group_of(cfg, p),
        role: p.role.as_str().to_string(),
        standing: pay.standing,
        sales: pay.sales,
        base_fen: pay.base,
        base_after_cut_fen: pay.base_after_cut,
        commission: pay.commission,
        team: pay.team,
        commission_fen,
        fines,
        refunds,
        net_pay_fen: net,
        flags: pay.flags,
    }
}

fn departed_line(email: String, fines: Lines, refunds: Lines) -> PersonPay {
    PersonPay {
        name: email.clone(),
        email,
        group: None,
        role: String::new(),
        standing: None,
        sales: None,
        base_fen: None,
        base_after_cut_fen: None,
        commission: None,
        team: None,
        commission_fen: None,
        fines,
        refunds,
        net_pay_fen: None,
        flags: Vec::new(),
    }
}

fn totals(people: &[PersonPay]) -> Totals {
    let sum = |f: &dyn Fn(&PersonPay) -> Option<Fen>| people.iter().filter_map(f).sum::<Fen>();
    Totals {
        base_after_cut_fen: sum(&|p| p.base_after_cut_fen),
        commission_fen: sum(&|p| p.commission_fen),
        fines_fen: sum(&|p| Some(p.fines.amount_fen)),
        refunds_fen: sum(&|p| Some(p.refunds.amount_fen)),
        net_pay_fen: sum(&|p| p.net_pay_fen),
    }
}

/// The month's summary: as issued when it has been, else as it stands now.
pub fn summary(conn: &Connection, cfg: &Config, month: Month) -> Result<Summary, PayrollError> {
    match issued(conn, month)? {
        Some(s) => Ok(s),
        None => Ok(build(conn, cfg, month)?.0),
    }
}

/// Issues the month's summary: stores it as it stands at `now`, with every
/// ledger row and spending it settles. Call it inside the transaction that
/// queues its email. Fails if it was issued before.
pub fn issue(
    conn: &Connection,
    cfg: &Config,
    month: Month,
    now: DateTime<Utc>,
) -> Result<Summary, PayrollError> {
    if let Some(at) = issued_at(conn, month)? {
        return Err(PayrollError::AlreadyIssued { month, at });
    }
    let (mut summary, rows, spends) = build(conn, cfg, month)?;
    summary.state = State::Issued;
    summary.issued_at = Some(now);
    let json = serde_json::to_string(&summary)?;
    conn.execute(
        "INSERT INTO payroll_summaries (month, issued_at, summary) VALUES (?1, ?2, ?3)",
        params![month.to_string(), ts(now), json],
    )?;
    for id in rows {
        conn.execute(
            "INSERT INTO payroll_settled (month, ledger) VALUES (?1, ?2)",
            params![month.to_string(), id],
        )?;
    }
    for id in spends {
        conn.execute(
            "INSERT INTO payroll_settled (month, spend) VALUES (?1, ?2)",
            params![month.to_string(), id],
        )?;
    }
    Ok(summary)
}

/// The payroll month that pays back a waiver of `person`'s fine for
/// `period`, when that fine was already settled by an issued summary: the
/// first month after the summary that settled it with none issued yet
/// (the next summary's refund line, as [`gather`] puts it). `None` when the
/// fine is not settled yet (its own month's summary nets the waiver out) or
/// no fine is booked.
pub fn refund_month(
    conn: &Connection,
    person: &str,
    period: &str,
) -> rusqlite::Result<Option<Month>> {
    let settled = |kind: &str| -> rusqlite::Result<Option<Month>> {
        let month: Option<Option<String>> = conn
            .query_row(
                "SELECT (SELECT month FROM payroll_settled WHERE ledger = l.id)
                 FROM ledger l WHERE person = ?1 AND period = ?2 AND kind = ?3",
                params![person, period, kind],
                |r| r.get(0),
            )
            .optional()?;
        Ok(month.flatten().and_then(|m| m.parse().ok()))
    };
    let Some(fine) = settled("fine")? else {
        return Ok(None);
    };
    // A waiver already settled is where the summaries put it.
    if let Some(waiver) = settled("waiver")? {
        return Ok((waiver != fine).then_some(waiver));
    }
    let mut month = fine.next();
    while issued_at(conn, month)?.is_some() {
        month = month.next();
    }
    Ok(Some(month))
}

/// The summary as issued, if it was.
pub fn issued(conn: &Connection, month: Month) -> Result<Option<Summary>, PayrollError> {
    let json: Option<String> = conn
        .query_row(
            "SELECT summary FROM payroll_summaries WHERE month = ?1",
            [month.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
}

/// When the month's summary was issued, if it was.
pub fn issued_at(conn: &Connection, month: Month) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let at: Option<String> = conn
        .query_row(
            "SELECT issued_at FROM payroll_summaries WHERE month = ?1",
            [month.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    at.as_deref().map(parse_ts).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZHANG: &str = "zhangwei@example.com";

    fn setup() -> (tempfile::TempDir, Connection, Config) {
        let dir = tempfile::tempdir().expect("dir");
        let conn = crate::store::open(&dir.path().join("p.sqlite3")).expect("db");
        let cfg = crate::test_team::config();
        (dir, conn, cfg)
    }

    use crate::test_team::shanghai as local;

    fn month(m: &str) -> Month {
        m.parse().expect("month")
    }

    /// Books a 50-yuan fine due at `due`; returns its id.
    fn fine(conn: &Connection, period: &str, due: DateTime<Utc>) -> i64 {
        conn.execute(
            "INSERT INTO ledger (at, person, period, kind, amount_fen, fund_fen, reason, evidence)
             VALUES (?1, ?2, ?3, 'fine', 5000, 2500, 'missing', 'deadline')",
            params![ts(due), ZHANG, period],
        )
        .expect("fine");
        conn.last_insert_rowid()
    }

    fn waive(conn: &Connection, fine: i64, period: &str, at: DateTime<Utc>) {
        conn.execute(
            "INSERT INTO ledger (at, person, period, kind, amount_fen, fund_fen, reason, evidence, reverses)
             VALUES (?1, ?2, ?3, 'waiver', -5000, -2500, '病假', 'excuse #1', ?4)",
            params![ts(at), ZHANG, period, fine],
        )
        .expect("waiver");
    }

    /// Imports `csv` as the sales of month `m`.
    fn import_csv(conn: &Connection, cfg: &Config, m: &str, csv: &str) {
        let m = month(m);
        crate::payroll::sales::import(conn, cfg, m, "s.csv", csv.as_bytes(), "x", Utc::now())
            .expect("import");
    }

    fn zhang(s: &Summary) -> &PersonPay {
        s.people.iter().find(|p| p.email == ZHANG).expect("zhang")
    }

    #[test]
    fn a_fine_is_deducted_in_the_month_of_its_deadline() {
        let (_d, conn, cfg) = setup();
        // W48 is due Sat 2026-11-28 22:00; November's monthly report is
        // due at the end of Tue 2026-12-01 (00:00 on Dec 2).
        fine(&conn, "2026-W48", local(2026, 11, 28, 22));
        fine(&conn, "2026-11", local(2026, 12, 2, 0));
        let nov = summary(&conn, &cfg, month("2026-11")).expect("nov");
        let dec = summary(&conn, &cfg, month("2026-12")).expect("dec");
        let periods = |s: &Summary| -> Vec<String> {
            zhang(s)
                .fines
                .items
                .iter()
                .map(|l| l.period.clone())
                .collect()
        };
        assert_eq!(periods(&nov), ["2026-W48"]);
        assert_eq!(periods(&dec), ["2026-11"]);
        assert_eq!(zhang(&nov).fines.amount_fen, Fen(5000));
        assert!(!nov.sales_imported && zhang(&nov).net_pay_fen.is_none());
    }

    #[test]
    fn a_waiver_before_the_summary_nets_out_one_after_is_a_refund_next_month() {
        let (_d, conn, cfg) = setup();
        let w46 = fine(&conn, "2026-W46", local(2026, 11, 14, 22));
        waive(&conn, w46, "2026-W46", local(2026, 11, 16, 10));
        let w47 = fine(&conn, "2026-W47", local(2026, 11, 21, 22));
        let issued = issue(&conn, &cfg, month("2026-11"), local(2026, 12, 3, 8)).expect("issue");
        assert_eq!(zhang(&issued).fines.count, 1, "W46 nets out, W47 stands");
        assert_eq!(issued.fund.fines_fen, Fen(2500));
        assert_eq!(issued.fund.closing_fen, Fen(2500));
        // After the summary went out: W47 is waived.
        waive(&conn, w47, "2026-W47", local(2026, 12, 5, 10));
        let again = summary(&conn, &cfg, month("2026-11")).expect("nov");
        assert_eq!(again, issued, "a sent summary is never changed");
        let dec = summary(&conn, &cfg, month("2026-12")).expect("dec");
        let refund = &zhang(&dec).refunds;
        assert_eq!(refund.amount_fen, Fen(5000));
        assert_eq!(refund.items[0].period, "2026-W47");
        assert_eq!(refund.items[0].month, month("2026-11"));
        assert_eq!(zhang(&dec).fines.count, 0);
        assert_eq!(
            (
                dec.fund.opening_fen,
                dec.fund.refunds_fen,
                dec.fund.closing_fen
            ),
            (Fen(2500), Fen(-2500), Fen(0))
        );
        let e = issue(&conn, &cfg, month("2026-11"), local(2026, 12, 6, 8)).unwrap_err();
        assert!(matches!(e, PayrollError::AlreadyIssued { .. }), "{e}");
    }

    #[test]
    fn a_waiver_after_the_summary_is_refunded_in_the_next_summary_not_yet_issued() {
        let (_d, conn, cfg) = setup();
        let w46 = fine(&conn, "2026-W46", local(2026, 11, 14, 22));
        let w47 = fine(&conn, "2026-W47", local(2026, 11, 21, 22));
        waive(&conn, w46, "2026-W46", local(2026, 11, 16, 10));
        assert_eq!(
            refund_month(&conn, ZHANG, "2026-W47").expect("w47"),
            None,
            "not settled yet: November's summary nets a waiver out"
        );
        issue(&conn, &cfg, month("2026-11"), local(2026, 12, 3, 8)).expect("issue");
        assert_eq!(
            refund_month(&conn, ZHANG, "2026-W46").expect("w46"),
            None,
            "waived before the summary: netted out in it"
        );
        assert_eq!(
            refund_month(&conn, ZHANG, "2026-W47").expect("w47"),
            Some(month("2026-12"))
        );
        // December's summary went out too: January's pays it back, and
        // once settled there it stays there.
        issue(&conn, &cfg, month("2026-12"), local(2027, 1, 6, 8)).expect("issue dec");
        assert_eq!(
            refund_month(&conn, ZHANG, "2026-W47").expect("w47"),
            Some(month("2027-01"))
        );
        waive(&conn, w47, "2026-W47", local(2027, 1, 10, 10));
        let jan = summary(&conn, &cfg, month("2027-01")).expect("jan");
        assert_eq!(zhang(&jan).refunds.items[0].period, "2026-W47");
        issue(&conn, &cfg, month("2027-01"), local(2027, 2, 3, 8)).expect("issue jan");
        assert_eq!(
            refund_month(&conn, ZHANG, "2026-W47").expect("w47"),
            Some(month("2027-01"))
        );
        assert_eq!(refund_month(&conn, ZHANG, "2026-W48").expect("none"), None);
    }

    #[test]
    fn spending_leaves_the_fund_in_its_month() {
        let (_d, conn, cfg) = setup();
        fine(&conn, "2026-W46", local(2026, 11, 14, 22));
        fund::spend(
            &conn,
            &cfg,
            Fen(1_250),
            "奶茶",
            "chengang@example.com",
            local(2026, 11, 20, 15),
        )
        .expect("spend");
        fund::spend(
            &conn,
            &cfg,
            Fen(100),
            "x",
            "chengang@example.com",
            local(2026, 12, 1, 9),
        )
        .expect("spend");
        let nov = summary(&conn, &cfg, month("2026-11")).expect("nov");
        assert_eq!(nov.fund.spending_fen, Fen(1_250));
        assert_eq!(nov.fund.closing_fen, Fen(2500 - 1_250));
        assert_eq!(nov.fund.spending[0].note, "奶茶");
    }

    #[test]
    fn the_fund_is_never_overdrawn_and_only_a_manager_or_the_assistant_approves() {
        let (_d, conn, cfg) = setup();
        fine(&conn, "2026-W46", local(2026, 11, 14, 22));
        let at = local(2026, 11, 20, 15);
        let spend = |amount: i64, by: &str| fund::spend(&conn, &cfg, Fen(amount), "团建", by, at);
        // 25.00 in the fund: a typo of 12050 yuan for 120.50 is refused.
        let e = spend(1_205_000, "chengang@example.com").unwrap_err();
        assert!(matches!(e, fund::FundError::Overdrawn { .. }), "{e}");
        let e = spend(1_000, ZHANG).unwrap_err();
        assert!(matches!(e, fund::FundError::NotApprover(_)), "{e}");
        spend(2_500, "chengang@example.com").expect("the whole fund may be spent");
        spend(-500, "chengang@example.com").expect("a correction is always recorded");
        assert_eq!(fund::balance(&conn).expect("balance"), Fen(500));
    }

    #[test]
    fn pay_follows_the_worked_examples_and_the_team_bands() {
        let (_d, conn, cfg) = setup();
        let csv = "姓名,自拓,代理拜访,状态,团队目标\n张伟,23000,7000,转正,\n李娜,32000,0,转正,\n王芳,,,,50000\n";
        import_csv(&conn, &cfg, "2026-11", csv);
        fine(&conn, "2026-W48", local(2026, 11, 28, 22));
        let s = summary(&conn, &cfg, month("2026-11")).expect("summary");
        let z = zhang(&s);
        assert_eq!(z.base_after_cut_fen, Some(Fen::from_yuan(750)));
        assert_eq!(z.commission_fen, Some(Fen::from_yuan(210 + 440 + 70)));
        assert_eq!(z.net_pay_fen, Some(Fen::from_yuan(750 + 720 - 50)));
        let lina = s
            .people
            .iter()
            .find(|p| p.email == "lina@example.com")
            .expect("lina");
        assert_eq!(lina.commission_fen, Some(Fen::from_yuan(240 + 640)));
        let wang = s
            .people
            .iter()
            .find(|p| p.email == "wangfang@example.com")
            .expect("wang");
        let team = wang.team.expect("team");
        assert_eq!(team.team_sales_fen, Fen::from_yuan(23_000 + 32_000));
        assert_eq!(team.commission_fen, Fen::from_yuan(825), "110% → 1.5%");
        assert_eq!(wang.net_pay_fen, None);
        assert!(wang.flags.contains(&Flag::BaseNotConfigured));
        let chen = s
            .people
            .iter()
            .find(|p| p.email == "chengang@example.com")
            .expect("chen");
        assert_eq!(chen.flags, [Flag::NoSales]);
        assert!(s.people.iter().all(|p| p.role != "assistant"));
    }

    #[test]
    fn probation_and_elimination_flags() {
        let (_d, conn, cfg) = setup();
        let import = |m: &str, csv: &str| import_csv(&conn, &cfg, m, csv);
        import(
            "2026-10",
            "姓名,自拓,状态\n张伟,6000,试用1\n李娜,3000,转正\n",
        );
        import("2026-11", "姓名,自拓,状态\n张伟,9000,试用2\n李娜,0,转正\n");
        let s = summary(&conn, &cfg, month("2026-11")).expect("summary");
        assert_eq!(
            zhang(&s).flags,
            [Flag::RegularFromMonth3],
            "6000 + 9000 = 15000"
        );
        let lina = s
            .people
            .iter()
            .find(|p| p.email == "lina@example.com")
            .expect("lina");
        assert_eq!(
            lina.flags,
            [
                Flag::ZeroMonth,
                Flag::BelowBaseTwoMonths,
                Flag::BelowMinimumTarget
            ]
        );
        assert_eq!(lina.base_after_cut_fen, Some(Fen::ZERO));
        import("2026-12", "姓名,自拓,状态\n张伟,100,试用2\n");
        let dec = summary(&conn, &cfg, month("2026-12")).expect("dec");
        assert!(zhang(&dec).flags.contains(&Flag::EliminatedByDefault));
    }

    #[test]
    fn the_bottom_three_are_flagged_ties_included() {
        let (_d, conn, mut cfg) = setup();
        let template = cfg.roster.by_email(ZHANG).expect("zhang").clone();
        let mut people = cfg.roster.people.clone();
        for (name, email) in [
            ("甲", "a@example.com"),
            ("乙", "b@example.com"),
            ("丙", "c@example.com"),
        ] {
            let mut p = template.clone();
            p.name = name.into();
            p.email = email.into();
            people.push(p);
        }
        cfg.roster = crate::config::Roster::new(people);
        let csv = "姓名,自拓,状态\n张伟,100,转正\n李娜,200,转正\n甲,300,转正\n乙,300,转正\n丙,1000,转正\n";
        import_csv(&conn, &cfg, "2026-11", csv);
        let s = summary(&conn, &cfg, month("2026-11")).expect("summary");
        let bottom: Vec<&str> = s
            .people
            .iter()
            .filter(|p| p.flags.contains(&Flag::BottomThree))
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(
            bottom,
            ["张伟", "李娜", "甲", "乙"],
            "甲 and 乙 tie for third"
        );
    }
}
