//! The department activity fund (部门活动经费): half of each report fine
//! flows in (booked by the ledger), spending recorded with `reportd fund
//! spend` flows out. Owns the `fund_spending` table, whose rows are only
//! ever inserted; a mistake is corrected by a negative spend.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use crate::config::{Config, Role};
use crate::money::Fen;
use crate::period::Month;
use crate::store::{parse_ts, ts};

/// Money spent from the fund (negative: a correction that puts it back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spend {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub amount_fen: Fen,
    pub note: String,
    pub by: String,
}

impl Spend {
    /// The month the spending is reported in (team time zone).
    pub fn month(&self, tz: Tz) -> Month {
        Month::containing(self.at.with_timezone(&tz).date_naive())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FundError {
    #[error("the amount must not be 0: give the yuan spent (a negative amount corrects a mistake)")]
    Zero,
    #[error("the note is empty: say what the money was for, e.g. --note \"团建聚餐\"")]
    EmptyNote,
    #[error("{0} is not a configured person: --by names who approved the spending by address")]
    UnknownBy(String),
    #[error(
        "{0} does not approve spending: --by names the manager or the assistant who approved it"
    )]
    NotApprover(String),
    #[error(
        "the activity fund holds {balance} yuan; spending {amount} yuan would leave it at {after} yuan. \
         Check the amount (yuan, e.g. 120.50); the fund is never overdrawn"
    )]
    Overdrawn {
        balance: Fen,
        amount: Fen,
        after: Fen,
    },
    #[error("database error in the activity fund: {0}")]
    Db(#[from] rusqlite::Error),
}

/// Records spending.
pub fn spend(
    conn: &Connection,
    cfg: &Config,
    amount: Fen,
    note: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Spend, FundError> {
    if amount == Fen::ZERO {
        return Err(FundError::Zero);
    }
    let note = note.trim();
    if note.is_empty() {
        return Err(FundError::EmptyNote);
    }
    let approver = cfg
        .roster
        .by_email(by.trim())
        .ok_or_else(|| FundError::UnknownBy(by.to_string()))?;
    if !matches!(approver.role, Role::Manager | Role::Assistant) {
        return Err(FundError::NotApprover(approver.email.clone()));
    }
    let by = approver.email.clone();
    // A typo (12050 for 120.50) must not drain the fund; a correction
    // (a negative amount) always may be recorded.
    let balance = balance(conn)?;
    let after = balance - amount;
    if amount > Fen::ZERO && after < Fen::ZERO {
        return Err(FundError::Overdrawn {
            balance,
            amount,
            after,
        });
    }
    conn.execute(
        "INSERT INTO fund_spending (at, amount_fen, note, by) VALUES (?1, ?2, ?3, ?4)",
        params![ts(now), amount.0, note, by],
    )?;
    Ok(Spend {
        id: conn.last_insert_rowid(),
        at: now,
        amount_fen: amount,
        note: note.to_string(),
        by,
    })
}

/// Every spending, oldest first.
pub fn spends(conn: &Connection) -> rusqlite::Result<Vec<Spend>> {
    let mut stmt =
        conn.prepare("SELECT id, at, amount_fen, note, by FROM fund_spending ORDER BY at, id")?;
    stmt.query_map([], |r| {
        Ok(Spend {
            id: r.get(0)?,
            at: parse_ts(&r.get::<_, String>(1)?)?,
            amount_fen: Fen(r.get(2)?),
            note: r.get(3)?,
            by: r.get(4)?,
        })
    })?
    .collect()
}

/// The fund's balance now: every fund share booked (waivers take theirs
/// back) less every spending.
pub fn balance(conn: &Connection) -> rusqlite::Result<Fen> {
    conn.query_row(
        "SELECT (SELECT coalesce(sum(fund_fen), 0) FROM ledger)
              - (SELECT coalesce(sum(amount_fen), 0) FROM fund_spending)",
        [],
        |r| r.get(0).map(Fen),
    )
}

/// The fund in one month's payroll summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundMonth {
    /// Everything accounted before this summary.
    pub opening_fen: Fen,
    /// Fund shares of the fines in this summary.
    pub fines_fen: Fen,
    /// Fund shares given back by refunds (0 or negative).
    pub refunds_fen: Fen,
    /// Spending in this summary.
    pub spending_fen: Fen,
    pub closing_fen: Fen,
    pub spending: Vec<Spend>,
}

impl FundMonth {
    pub fn new(opening: Fen, fines: Fen, refunds: Fen, spending: Vec<Spend>) -> FundMonth {
        let spent: Fen = spending.iter().map(|s| s.amount_fen).sum();
        FundMonth {
            opening_fen: opening,
            fines_fen: fines,
            refunds_fen: refunds,
            spending_fen: spent,
            closing_fen: opening + fines + refunds - spent,
            spending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_is_opening_plus_fines_less_refunds_and_spending() {
        let s = |fen: i64| Spend {
            id: 1,
            at: Utc::now(),
            amount_fen: Fen(fen),
            note: "团建".into(),
            by: "a@example.com".into(),
        };
        let f = FundMonth::new(
            Fen(10_000),
            Fen(7_500),
            Fen(-2_500),
            vec![s(12_050), s(-50)],
        );
        assert_eq!(f.spending_fen, Fen(12_000));
        assert_eq!(f.closing_fen, Fen(3_000));
    }
}
