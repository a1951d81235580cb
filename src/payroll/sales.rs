//! Sales import (业绩): each person's month read from a spreadsheet,
//! checked whole, and stored. Owns the `sales_imports` and `sales_rows`
//! tables.
//!
//! A file is imported only when every row is valid; otherwise every bad
//! cell is named (row, column, reason) and nothing changes. Re-importing a
//! month stores a new import (the old ones stay, for the record) and says
//! what changed; a month's figures are those of its newest import.
//!
//! Columns are found by their header, in Chinese or English, in any order:
//! person (姓名 / name / email: an address, alias or name from the roster),
//! 自拓 (self-developed sales), 代理拜访 (proxy-visit sales), 短信群发 (SMS
//! orders), 状态 (试用1 / 试用2 / 转正), 团队目标 (team target, for
//! supervisors and managers), 级别 (level, optional). Amounts are yuan with at
//! most two decimals (`32000`, `32,000.50`, `¥1,200`); an empty amount is 0.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{Config, Person, Role};
use crate::money::Fen;
use crate::payroll::rules::Standing;
use crate::payroll::sheet::{Cell, Sheet, column_letter};
use crate::period::Month;
use crate::store::{parse_ts, ts};

/// One person's month as imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SalesRow {
    /// The person's configured address.
    pub person: String,
    /// The spreadsheet row it came from.
    pub row: usize,
    /// Self-developed sales (自拓).
    pub own: Fen,
    /// Proxy-visit sales (代理拜访): for a rep, closed on a clerk's behalf;
    /// for a clerk, handed to a rep.
    pub proxy: Fen,
    /// SMS bulk-sending orders (短信群发).
    pub sms: Fen,
    /// Reps and clerks only.
    pub standing: Option<Standing>,
    /// Supervisors and managers only.
    pub team_target: Option<Fen>,
    pub level: Option<String>,
}

/// One bad cell (or row, or header) of a refused file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub row: usize,
    /// `C (自拓)`, or empty when the whole row is meant.
    pub column: String,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.column.is_empty() {
            write!(f, "row {}: {}", self.row, self.reason)
        } else {
            write!(
                f,
                "row {}, column {}: {}",
                self.row, self.column, self.reason
            )
        }
    }
}

/// The columns reportd reads, with the headers it knows them by (compared
/// after [`normalize_header`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Column {
    Person,
    Own,
    Proxy,
    Sms,
    Standing,
    Target,
    Level,
}

const HEADERS: &[(Column, &[&str])] = &[
    (
        Column::Person,
        &[
            "person",
            "name",
            "email",
            "姓名",
            "人员",
            "员工",
            "邮箱",
            "商务人员",
        ],
    ),
    (
        Column::Own,
        &[
            "自拓",
            "自拓业绩",
            "self",
            "own",
            "selfdeveloped",
            "selfdevelopedsales",
            "ownsales",
        ],
    ),
    (
        Column::Proxy,
        &[
            "代理拜访",
            "代理拜访业绩",
            "代理",
            "proxy",
            "proxyvisit",
            "proxyvisitsales",
            "proxysales",
        ],
    ),
    (
        Column::Sms,
        &["短信群发", "短信", "短信群发业绩", "sms", "smsorders"],
    ),
    (
        Column::Standing,
        &["状态", "试用转正", "status", "standing"],
    ),
    (
        Column::Target,
        &[
            "团队目标",
            "目标",
            "销售指标",
            "团队指标",
            "teamtarget",
            "target",
        ],
    ),
    (Column::Level, &["级别", "等级", "业务级别", "level"]),
];

/// Lower case, without spaces, `_`, `-`, `/` and a unit in brackets
/// (`自拓业绩（元）` → `自拓业绩`).
fn normalize_header(h: &str) -> String {
    let mut s: String = h
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-' | '/'))
        .collect::<String>()
        .to_lowercase();
    for (open, close) in [('(', ')'), ('（', '）'), ('[', ']')] {
        if s.ends_with(close)
            && let Some(i) = s.rfind(open)
        {
            s.truncate(i);
        }
    }
    s
}

fn column_of(header: &str) -> Option<Column> {
    let h = normalize_header(header);
    HEADERS
        .iter()
        .find(|(_, names)| names.contains(&h.as_str()))
        .map(|(c, _)| *c)
}

/// A file read and checked: its rows, and what was passed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checked {
    pub rows: Vec<SalesRow>,
    /// Headers of columns reportd does not read (notes and the like).
    pub ignored_columns: Vec<String>,
}

/// Where each known column is, and the header row.
struct Layout {
    header_row: usize,
    columns: HashMap<Column, (usize, String)>,
    ignored: Vec<String>,
}

impl Layout {
    fn label(&self, c: Column) -> String {
        self.columns
            .get(&c)
            .map(|(i, h)| format!("{} ({})", column_letter(*i), h.trim()))
            .unwrap_or_default()
    }

    fn cell<'r>(&self, row: &'r [Cell], c: Column) -> Option<&'r Cell> {
        self.columns.get(&c).and_then(|(i, _)| row.get(*i))
    }
}

/// The first row (of the first ten) naming a person column is the header;
/// a title above it is passed over.
fn layout(sheet: &Sheet) -> Result<Layout, Vec<Problem>> {
    for (n, row) in sheet.numbered().take(10) {
        if !row
            .iter()
            .any(|c| column_of(&c.shown()) == Some(Column::Person))
        {
            continue;
        }
        let mut columns = HashMap::new();
        let mut ignored = Vec::new();
        let mut problems = Vec::new();
        for (i, cell) in row.iter().enumerate() {
            let header = cell.shown();
            match column_of(&header) {
                Some(c) if columns.contains_key(&c) => problems.push(Problem {
                    row: n,
                    column: format!("{} ({header})", column_letter(i)),
                    reason: "a second column for the same thing; keep one".into(),
                }),
                Some(c) => {
                    columns.insert(c, (i, header));
                }
                None if !header.is_empty() => ignored.push(header),
                None => {}
            }
        }
        if !columns.contains_key(&Column::Own) {
            problems.push(Problem {
                row: n,
                column: String::new(),
                reason: "no 自拓 (self-developed sales) column; add one headed 自拓 or own".into(),
            });
        }
        return if problems.is_empty() {
            Ok(Layout {
                header_row: n,
                columns,
                ignored,
            })
        } else {
            Err(problems)
        };
    }
    Err(vec![Problem {
        row: sheet.first_row,
        column: String::new(),
        reason: "no header row: the first row must name the columns, e.g. 姓名, 自拓, 代理拜访, \
                 短信群发, 状态, 团队目标 (or person, own, proxy, sms, status, team_target)"
            .into(),
    }])
}

/// Checks every row of `sheet` against the roster and the rules; returns
/// every problem found, or the rows.
pub fn check(sheet: &Sheet, cfg: &Config) -> Result<Checked, Vec<Problem>> {
    let layout = layout(sheet)?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (n, row) in sheet.numbered().filter(|(n, _)| *n > layout.header_row) {
        if row.iter().all(Cell::is_empty) || is_total_row(&layout, row) {
            continue;
        }
        let mut p = RowCheck {
            n,
            layout: &layout,
            row,
            problems: &mut problems,
        };
        let (person, checked) = p.check(cfg);
        if let Some(person) = person
            && let Some(first) = seen.insert(person.clone(), n)
        {
            problems.push(Problem {
                row: n,
                column: layout.label(Column::Person),
                reason: format!("{person} is already on row {first}; give each person one row"),
            });
            continue;
        }
        rows.extend(checked);
    }
    if rows.is_empty() && problems.is_empty() {
        problems.push(Problem {
            row: layout.header_row,
            column: String::new(),
            reason: "no rows under the header: put one row per person".into(),
        });
    }
    if problems.is_empty() {
        Ok(Checked {
            rows,
            ignored_columns: layout.ignored,
        })
    } else {
        Err(problems)
    }
}

/// A 合计 / total line under the table.
fn is_total_row(layout: &Layout, row: &[Cell]) -> bool {
    layout.cell(row, Column::Person).is_some_and(|c| {
        matches!(
            normalize_header(&c.shown()).as_str(),
            "合计" | "总计" | "total" | "sum"
        )
    })
}

/// Checking one row, collecting its problems.
struct RowCheck<'a> {
    n: usize,
    layout: &'a Layout,
    row: &'a [Cell],
    problems: &'a mut Vec<Problem>,
}

impl RowCheck<'_> {
    fn problem(&mut self, c: Column, reason: impl Into<String>) {
        self.problems.push(Problem {
            row: self.n,
            column: self.layout.label(c),
            reason: reason.into(),
        });
    }

    fn text(&self, c: Column) -> String {
        self.layout
            .cell(self.row, c)
            .map(Cell::shown)
            .unwrap_or_default()
    }

    /// The person named (when found), and the row when all of it is valid.
    fn check(&mut self, cfg: &Config) -> (Option<String>, Option<SalesRow>) {
        let person = self.person(cfg);
        let row = self.fields(cfg, person);
        (person.map(|p| p.email.clone()), row)
    }

    fn fields(&mut self, cfg: &Config, person: Option<&Person>) -> Option<SalesRow> {
        let own = self.amount(Column::Own);
        let proxy = self.amount(Column::Proxy);
        let sms = self.amount(Column::Sms);
        let level = self.level(cfg);
        let person = person?;
        let leads = matches!(person.role, Role::Supervisor | Role::Manager);
        let (standing, team_target) = if leads {
            self.lead_only(own, proxy, sms);
            (None, self.target())
        } else {
            if !self.text(Column::Target).is_empty() {
                self.problem(
                    Column::Target,
                    "a team target is for supervisors and managers only; leave it empty for a \
                     rep or clerk",
                );
            }
            (self.standing(), None)
        };
        Some(SalesRow {
            person: person.email.clone(),
            row: self.n,
            own: own?,
            proxy: proxy?,
            sms: sms?,
            standing: if leads { None } else { Some(standing?) },
            team_target: if leads { Some(team_target?) } else { None },
            level,
        })
    }

    fn person<'c>(&mut self, cfg: &'c Config) -> Option<&'c Person> {
        let text = self.text(Column::Person);
        if text.is_empty() {
            self.problem(
                Column::Person,
                "empty: write the person's email address or name",
            );
            return None;
        }
        let found = match cfg.roster.by_email(&text) {
            Some(p) => Some(p),
            None => {
                let named: Vec<&Person> = cfg
                    .roster
                    .people
                    .iter()
                    .filter(|p| p.name == text)
                    .collect();
                if named.len() > 1 {
                    self.problem(
                        Column::Person,
                        format!(
                            "{text} is the name of {} people; write the email address instead",
                            named.len()
                        ),
                    );
                    return None;
                }
                named.first().copied()
            }
        };
        match found {
            None => {
                self.problem(
                    Column::Person,
                    format!(
                        "{text} is not a configured [[person]] (by address or name); fix the \
                         name or add the person to the config"
                    ),
                );
                None
            }
            Some(p) if matches!(p.role, Role::Assistant) => {
                self.problem(
                    Column::Person,
                    format!(
                        "{text} is the assistant; only reps, clerks, supervisors and managers \
                         are paid on sales"
                    ),
                );
                None
            }
            Some(p) => Some(p),
        }
    }

    fn amount(&mut self, c: Column) -> Option<Fen> {
        let Some(cell) = self.layout.cell(self.row, c) else {
            return Some(Fen::ZERO);
        };
        match parse_amount(cell) {
            Ok(f) => Some(f),
            Err(reason) => {
                self.problem(c, reason);
                None
            }
        }
    }

    /// Supervisors and managers are paid on their team's sales.
    fn lead_only(&mut self, own: Option<Fen>, proxy: Option<Fen>, sms: Option<Fen>) {
        for (c, v) in [
            (Column::Own, own),
            (Column::Proxy, proxy),
            (Column::Sms, sms),
        ] {
            if v.is_some_and(|v| v != Fen::ZERO) {
                self.problem(
                    c,
                    "supervisors and managers are paid on their team's sales: leave their own \
                     sales empty and give 团队目标 (team target)",
                );
            }
        }
    }

    fn target(&mut self) -> Option<Fen> {
        let has_column = self.layout.columns.contains_key(&Column::Target);
        let cell = self.layout.cell(self.row, Column::Target);
        match cell.map(parse_amount) {
            Some(Ok(t)) if t > Fen::ZERO => Some(t),
            Some(Err(reason)) => {
                self.problem(Column::Target, reason);
                None
            }
            _ => {
                let reason = if has_column {
                    "empty: a supervisor's or manager's team target (团队目标) in yuan is needed \
                     for the commission"
                } else {
                    "the file has no 团队目标 (team_target) column, which supervisors and \
                     managers need: add one"
                };
                self.problems.push(Problem {
                    row: self.n,
                    column: self.layout.label(Column::Target),
                    reason: reason.into(),
                });
                None
            }
        }
    }

    fn standing(&mut self) -> Option<Standing> {
        let text = self.text(Column::Standing);
        if !self.layout.columns.contains_key(&Column::Standing) {
            self.problems.push(Problem {
                row: self.n,
                column: String::new(),
                reason: "the file has no 状态 (status) column: add one with 试用1, 试用2 or 转正 \
                         (probation1, probation2, regular) for each rep and clerk"
                    .into(),
            });
            return None;
        }
        let standing = parse_standing(&text);
        if standing.is_none() {
            self.problem(
                Column::Standing,
                format!(
                    "`{text}` is not a status: write 试用1 or probation1 (first probation \
                     month), 试用2 or probation2, 转正 or regular"
                ),
            );
        }
        standing
    }

    fn level(&mut self, cfg: &Config) -> Option<String> {
        let text = self.text(Column::Level);
        if text.is_empty() {
            return None;
        }
        let levels = &cfg.payroll.rules.levels;
        if levels.iter().any(|l| l.name == text) {
            return Some(text);
        }
        let known: Vec<&str> = levels.iter().map(|l| l.name.as_str()).collect();
        self.problem(
            Column::Level,
            if known.is_empty() {
                format!(
                    "`{text}`: no levels are configured; add [[payroll.level]] or leave it empty"
                )
            } else {
                format!(
                    "`{text}` is not a configured level: use one of {}",
                    known.join(", ")
                )
            },
        );
        None
    }
}

/// `试用1` / `probation1` / `转正` / `regular` and close spellings.
fn parse_standing(text: &str) -> Option<Standing> {
    let t = normalize_header(text).replace("期", "").replace("第", "");
    match t.as_str() {
        "试用1" | "试用一" | "试用1月" | "试用首月" | "试用一月" | "probation1" | "p1" => {
            Some(Standing::Probation1)
        }
        "试用2" | "试用二" | "试用2月" | "试用次月" | "试用二月" | "probation2" | "p2" => {
            Some(Standing::Probation2)
        }
        "转正" | "正式" | "已转正" | "regular" => Some(Standing::Regular),
        _ => None,
    }
}

/// Yuan with at most two decimals, not negative; empty is 0.
pub fn parse_amount(cell: &Cell) -> Result<Fen, String> {
    match cell {
        Cell::Empty => Ok(Fen::ZERO),
        Cell::Number(n) => {
            let fen = (n * 100.0).round();
            if !n.is_finite() || *n < 0.0 || fen > 1e14 {
                Err(format!(
                    "`{}` is not an amount in yuan: write e.g. 32000 or 32000.50",
                    cell.shown()
                ))
            } else if (n * 100.0 - fen).abs() > 1e-4 {
                Err(format!(
                    "`{}` has more than two decimals: round it to the fen",
                    cell.shown()
                ))
            } else {
                // In range: checked above.
                Ok(Fen(fen as i64))
            }
        }
        Cell::Text(t) => parse_amount_text(t),
    }
}

fn parse_amount_text(t: &str) -> Result<Fen, String> {
    let bare = t
        .trim()
        .trim_start_matches(['¥', '￥'])
        .trim_end_matches('元');
    if !thousands_grouped(bare) {
        return Err(format!(
            "`{}` has a comma that does not separate thousands: write e.g. 12,000 or 12000.50",
            t.trim()
        ));
    }
    let clean: String = bare
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | ' '))
        .collect();
    if clean.is_empty() {
        return Ok(Fen::ZERO);
    }
    let bad = || {
        format!(
            "`{}` is not an amount in yuan: write e.g. 32000 or 32000.50",
            t.trim()
        )
    };
    if clean.starts_with('-') {
        return Err(format!("`{}` is negative: sales are 0 or more", t.trim()));
    }
    let (whole, frac) = clean.split_once('.').unwrap_or((clean.as_str(), ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) || whole.len() > 12 {
        return Err(bad());
    }
    if frac.len() > 2 {
        return Err(format!(
            "`{}` has more than two decimals: round it to the fen",
            t.trim()
        ));
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    Ok(Fen(whole * 100 + frac))
}

/// Whether every comma (or space) in the whole-yuan part separates groups of
/// three digits: `12,000` and `1,234,567.50` yes, `12,00` or `1,2345` no (a
/// typo for 12.00, or another country's decimal comma, must not become
/// 1,200 yuan).
fn thousands_grouped(amount: &str) -> bool {
    let whole = amount.split('.').next().unwrap_or("");
    let mut groups = whole.split([',', '，', ' ']);
    let first_ok = groups
        .next()
        .is_some_and(|g| !g.is_empty() || !whole.contains([',', '，', ' ']));
    first_ok && groups.all(|g| g.len() == 3)
}

// ---------------------------------------------------------------------------
// Storage.

/// The newest import of a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthSales {
    pub import: i64,
    pub at: DateTime<Utc>,
    pub source: String,
    pub by: String,
    pub rows: Vec<SalesRow>,
}

impl MonthSales {
    pub fn of(&self, email: &str) -> Option<&SalesRow> {
        self.rows.iter().find(|r| r.person == email)
    }
}

/// What a re-import changed for one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub person: String,
    /// `added`, `removed`, or the field that changed (`own`, `proxy`, `sms`,
    /// `standing`, `team_target`, `level`).
    pub what: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// `before` and `after` are amounts in yuan (as `Fen` shows them); not
    /// stored with the answer, which keeps them as they are.
    #[serde(skip)]
    pub amounts: bool,
}

impl Change {
    /// `before` and `after` as an email shows them: amounts with their
    /// thousands grouped (`23,000.00`); the rest as they are.
    pub fn shown(&self) -> (Option<String>, Option<String>) {
        let show = |v: &Option<String>| {
            v.as_ref().map(|s| match parse_amount_text(s) {
                Ok(fen) if self.amounts && !s.is_empty() => fen.grouped().to_string(),
                _ => s.clone(),
            })
        };
        (show(&self.before), show(&self.after))
    }
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Imported {
    pub month: Month,
    pub import: i64,
    pub rows: usize,
    /// Whether an earlier import of the month was replaced.
    pub replaced: bool,
    /// The same bytes as the newest import: nothing was stored.
    pub unchanged: bool,
    pub changes: Vec<Change>,
    pub ignored_columns: Vec<String>,
    /// When the month's payroll summary went out, if it has: a sent
    /// summary is never changed, so the difference is settled by hand.
    pub summary_issued_at: Option<DateTime<Utc>>,
}

/// Why an import did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Sheet(#[from] crate::payroll::sheet::SheetError),
    #[error(
        "{file} was not imported: {} problem(s), nothing changed; fix them and import the whole file again:\n{}",
        problems.len(),
        problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
    )]
    Invalid {
        file: String,
        problems: Vec<Problem>,
    },
    #[error("database error while importing sales: {0}")]
    Db(#[from] rusqlite::Error),
}

/// Reads, checks and (when the whole file is valid) stores `bytes` as the
/// sales of `month`. Call it inside a transaction.
pub fn import(
    conn: &Connection,
    cfg: &Config,
    month: Month,
    file: &str,
    bytes: &[u8],
    by: &str,
    now: DateTime<Utc>,
) -> Result<Imported, ImportError> {
    let sheet = crate::payroll::sheet::read(file, bytes)?;
    let checked = check(&sheet, cfg).map_err(|problems| ImportError::Invalid {
        file: file.to_string(),
        problems,
    })?;
    let sha = hex(&Sha256::digest(bytes));
    let before = month_sales(conn, month)?;
    let summary_issued_at = crate::payroll::summary::issued_at(conn, month)?;
    let newest_sha: Option<String> = match &before {
        Some(b) => conn.query_row(
            "SELECT sha256 FROM sales_imports WHERE id = ?1",
            [b.import],
            |r| r.get(0),
        )?,
        None => None,
    };
    if let (Some(b), Some(s)) = (&before, newest_sha)
        && s == sha
    {
        return Ok(Imported {
            month,
            import: b.import,
            rows: b.rows.len(),
            replaced: false,
            unchanged: true,
            changes: Vec::new(),
            ignored_columns: checked.ignored_columns,
            summary_issued_at,
        });
    }
    conn.execute(
        "INSERT INTO sales_imports (month, at, source, sha256, by) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![month.to_string(), ts(now), file, sha, by],
    )?;
    let id = conn.last_insert_rowid();
    for r in &checked.rows {
        insert_row(conn, id, r)?;
    }
    Ok(Imported {
        month,
        import: id,
        rows: checked.rows.len(),
        replaced: before.is_some(),
        unchanged: false,
        changes: before.map_or_else(Vec::new, |b| changes(&b.rows, &checked.rows)),
        ignored_columns: checked.ignored_columns,
        summary_issued_at,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn insert_row(conn: &Connection, import: i64, r: &SalesRow) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO sales_rows (import, person, row, own_fen, proxy_fen, sms_fen, standing, team_target_fen, level)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            import,
            r.person,
            i64::try_from(r.row).unwrap_or(i64::MAX),
            r.own.0,
            r.proxy.0,
            r.sms.0,
            r.standing.map(Standing::as_str),
            r.team_target.map(|t| t.0),
            r.level,
        ],
    )?;
    Ok(())
}

/// Field by field, what differs between two imports of a month.
fn changes(before: &[SalesRow], after: &[SalesRow]) -> Vec<Change> {
    let mut out = Vec::new();
    let change = |person: &str, what: &str, values: Option<(String, String, bool)>| {
        let (before, after, amounts) = match values {
            Some((b, a, amounts)) => (Some(b), Some(a), amounts),
            None => (None, None, false),
        };
        Change {
            person: person.to_string(),
            what: what.to_string(),
            before,
            after,
            amounts,
        }
    };
    for a in after {
        let Some(b) = before.iter().find(|b| b.person == a.person) else {
            out.push(change(&a.person, "added", None));
            continue;
        };
        // (field, before, after, whether the values are amounts)
        let fields = [
            ("own", b.own.to_string(), a.own.to_string(), true),
            ("proxy", b.proxy.to_string(), a.proxy.to_string(), true),
            ("sms", b.sms.to_string(), a.sms.to_string(), true),
            (
                "standing",
                b.standing.map(Standing::as_str).unwrap_or("").to_string(),
                a.standing.map(Standing::as_str).unwrap_or("").to_string(),
                false,
            ),
            (
                "team_target",
                b.team_target.map(|t| t.to_string()).unwrap_or_default(),
                a.team_target.map(|t| t.to_string()).unwrap_or_default(),
                true,
            ),
            (
                "level",
                b.level.clone().unwrap_or_default(),
                a.level.clone().unwrap_or_default(),
                false,
            ),
        ];
        for (what, old, new, amounts) in fields {
            if old != new {
                out.push(change(&a.person, what, Some((old, new, amounts))));
            }
        }
    }
    for b in before
        .iter()
        .filter(|b| !after.iter().any(|a| a.person == b.person))
    {
        out.push(change(&b.person, "removed", None));
    }
    out
}

/// The newest import of `month`, if any.
pub fn month_sales(conn: &Connection, month: Month) -> rusqlite::Result<Option<MonthSales>> {
    let head = conn
        .query_row(
            "SELECT id, at, source, by FROM sales_imports WHERE month = ?1 ORDER BY id DESC LIMIT 1",
            [month.to_string()],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )
        .optional()?;
    let Some((import, at, source, by)) = head else {
        return Ok(None);
    };
    let mut stmt = conn.prepare(
        "SELECT person, row, own_fen, proxy_fen, sms_fen, standing, team_target_fen, level
         FROM sales_rows WHERE import = ?1 ORDER BY row",
    )?;
    let rows = stmt
        .query_map([import], |r| {
            let standing: Option<String> = r.get(5)?;
            Ok(SalesRow {
                person: r.get(0)?,
                row: usize::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                own: Fen(r.get(2)?),
                proxy: Fen(r.get(3)?),
                sms: Fen(r.get(4)?),
                standing: standing.as_deref().and_then(standing_from_db),
                team_target: r.get::<_, Option<i64>>(6)?.map(Fen),
                level: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(MonthSales {
        import,
        at: parse_ts(&at)?,
        source,
        by,
        rows,
    }))
}

fn standing_from_db(s: &str) -> Option<Standing> {
    match s {
        "probation_1" => Some(Standing::Probation1),
        "probation_2" => Some(Standing::Probation2),
        "regular" => Some(Standing::Regular),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_shows_amounts_grouped_and_everything_else_as_it_is() {
        let change = |what: &str, before: &str, after: &str| Change {
            person: "zhangwei@example.com".into(),
            what: what.into(),
            before: Some(before.into()),
            after: Some(after.into()),
            amounts: what != "level",
        };
        let shown = |c: Change| {
            let (b, a) = c.shown();
            (b.unwrap_or_default(), a.unwrap_or_default())
        };
        assert_eq!(
            shown(change("own", "23000.00", "1234567.50")),
            ("23,000.00".into(), "1,234,567.50".into())
        );
        assert_eq!(
            shown(change("team_target", "", "50000.00")),
            (String::new(), "50,000.00".into())
        );
        assert_eq!(
            shown(change("level", "2000", "L3")),
            ("2000".into(), "L3".into())
        );
    }
    use crate::payroll::sheet::read;

    fn cfg() -> Config {
        crate::test_team::config()
    }

    fn checked(csv: &str) -> Result<Checked, Vec<Problem>> {
        check(&read("s.csv", csv.as_bytes()).expect("csv"), &cfg())
    }

    #[test]
    fn chinese_headers_names_and_units_are_read() {
        let c = checked(
            "2026年11月业绩\n姓名,自拓业绩（元）,代理拜访,短信群发,状态,团队目标,备注\n\
             张伟,\"23,000\",7000,,转正,,好\n李娜,¥32000.50,0,100,试用1,,\n\
             王芳,,,,,100000,\n合计,55000.5,7000,100,,,\n",
        )
        .expect("valid");
        assert_eq!(c.rows.len(), 3);
        assert_eq!(c.ignored_columns, ["备注"]);
        let zhang = &c.rows[0];
        assert_eq!(
            (zhang.row, zhang.own, zhang.proxy),
            (3, Fen(2_300_000), Fen(700_000))
        );
        assert_eq!(zhang.standing, Some(Standing::Regular));
        assert_eq!(c.rows[1].own, Fen(3_200_050));
        assert_eq!(c.rows[1].standing, Some(Standing::Probation1));
        assert_eq!(c.rows[2].team_target, Some(Fen(10_000_000)));
    }

    #[test]
    fn english_headers_and_addresses_are_read() {
        let c = checked(
            "Person,Own,Proxy,SMS,Status,Team target\nZhangWei@Example.com,100,0,0,probation2,\n",
        )
        .expect("valid");
        assert_eq!(c.rows[0].person, "zhangwei@example.com");
        assert_eq!(c.rows[0].standing, Some(Standing::Probation2));
    }

    #[test]
    fn every_bad_row_is_named_with_column_and_reason() {
        let problems = checked(
            "姓名,自拓,代理拜访,状态,团队目标\n\
             张伟,12.345,0,转正,\n\
             无名氏,100,0,转正,\n\
             李娜,-5,abc,在职,\n\
             王芳,100,,,\n\
             赵敏,0,0,转正,\n\
             张伟,1,0,转正,\n",
        )
        .unwrap_err();
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        let has = |row: usize, col: &str, words: &str| {
            problems
                .iter()
                .any(|p| p.row == row && p.column.starts_with(col) && p.reason.contains(words))
        };
        assert!(has(2, "B (自拓)", "more than two decimals"), "{shown:#?}");
        assert!(has(3, "A (姓名)", "not a configured"), "{shown:#?}");
        assert!(has(4, "B (自拓)", "negative"), "{shown:#?}");
        assert!(has(4, "C (代理拜访)", "not an amount"), "{shown:#?}");
        assert!(has(4, "D (状态)", "not a status"), "{shown:#?}");
        assert!(has(5, "B (自拓)", "team's sales"), "{shown:#?}");
        assert!(has(5, "E (团队目标)", "empty"), "{shown:#?}");
        assert!(has(6, "A (姓名)", "assistant"), "{shown:#?}");
        assert!(has(7, "A (姓名)", "already on row 2"), "{shown:#?}");
    }

    #[test]
    fn a_file_without_a_header_or_an_own_column_is_refused() {
        let p = checked("张伟,100\n").unwrap_err();
        assert!(p[0].reason.contains("no header row"), "{p:?}");
        let p = checked("姓名,状态\n张伟,转正\n").unwrap_err();
        assert!(p[0].reason.contains("自拓"), "{p:?}");
    }

    #[test]
    fn commas_count_only_between_groups_of_three_digits() {
        let text = |s: &str| parse_amount(&Cell::Text(s.into()));
        assert_eq!(text("12,000"), Ok(Fen(1_200_000)));
        assert_eq!(text("1,234,567.50"), Ok(Fen(123_456_750)));
        assert_eq!(text("¥32,000元"), Ok(Fen(3_200_000)));
        assert_eq!(text("8000"), Ok(Fen(800_000)));
        for bad in ["12,00", "1,2345", ",000", "12,,000", "1,23"] {
            assert!(text(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amounts_in_cells_are_exact_to_the_fen() {
        assert_eq!(parse_amount(&Cell::Number(32000.5)), Ok(Fen(3_200_050)));
        assert_eq!(parse_amount(&Cell::Number(0.29)), Ok(Fen(29)));
        assert!(parse_amount(&Cell::Number(0.295)).is_err());
        assert_eq!(
            parse_amount(&Cell::Text("1,234.5元".into())),
            Ok(Fen(123_450))
        );
        assert!(parse_amount(&Cell::Text("1.2.3".into())).is_err());
        assert_eq!(parse_amount(&Cell::Empty), Ok(Fen::ZERO));
    }

    #[test]
    fn reimport_stores_a_new_import_and_lists_the_changes() {
        let dir = tempfile::tempdir().expect("dir");
        let conn = crate::store::open(&dir.path().join("s.sqlite3")).expect("db");
        let cfg = cfg();
        let nov: Month = "2026-11".parse().expect("month");
        let now = Utc::now();
        let first = "姓名,自拓,状态\n张伟,1000,转正\n李娜,2000,转正\n";
        let a = import(
            &conn,
            &cfg,
            nov,
            "a.csv",
            first.as_bytes(),
            "x@example.com",
            now,
        )
        .expect("first");
        assert!(!a.replaced && a.changes.is_empty());
        let again = import(
            &conn,
            &cfg,
            nov,
            "a.csv",
            first.as_bytes(),
            "x@example.com",
            now,
        )
        .expect("same");
        assert!(again.unchanged);
        let second = "姓名,自拓,状态\n张伟,1500,转正\n王芳,0,\n";
        let e = import(&conn, &cfg, nov, "b.csv", second.as_bytes(), "x", now).unwrap_err();
        assert!(matches!(e, ImportError::Invalid { .. }), "{e}");
        let second = "姓名,自拓,状态\n张伟,1500,转正\n";
        let b = import(&conn, &cfg, nov, "b.csv", second.as_bytes(), "x", now).expect("second");
        assert!(b.replaced);
        assert_eq!(
            b.changes,
            [
                Change {
                    person: "zhangwei@example.com".into(),
                    what: "own".into(),
                    before: Some("1000.00".into()),
                    after: Some("1500.00".into()),
                    amounts: true,
                },
                Change {
                    person: "lina@example.com".into(),
                    what: "removed".into(),
                    before: None,
                    after: None,
                    amounts: false,
                },
            ]
        );
        let month = month_sales(&conn, nov).expect("read").expect("some");
        assert_eq!(month.rows.len(), 1);
        assert_eq!(month.source, "b.csv");
    }
}
