//! The payroll summary's email: a [`MonthlyClose`] hook of the planner.
//! When a month closes (by default the third working day of the next month
//! at `[notify] digest_time`) it issues the month's summary and sends it,
//! with the XLSX attached, to the `[payroll] recipients`; a re-issue sends
//! the summary as first issued, marked 重发 / re-issue.

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde::Serialize;

use crate::config::Config;
use crate::money::Fen;
use crate::notify::compose::{self, Attachment, Contact, Email};
use crate::notify::plan::{CloseContext, CloseError, Issue, Letter, MonthlyClose};
use crate::notify::schedule::CloseTime;
use crate::payroll::summary::{self, PersonPay, Summary};
use crate::payroll::xlsx;
use crate::period::Month;

/// The payroll summary's monthly-close hook.
#[derive(Debug, Clone, Copy, Default)]
pub struct PayrollClose;

impl MonthlyClose for PayrollClose {
    fn name(&self) -> &'static str {
        "payroll"
    }

    fn close_time(&self, cfg: &Config) -> CloseTime {
        cfg.payroll.send
    }

    fn letter(
        &self,
        ctx: &CloseContext<'_>,
        conn: &Connection,
        month: Month,
        issue: Issue,
        now: DateTime<Utc>,
    ) -> Result<Letter, CloseError> {
        let cfg = ctx.cfg;
        // A first issue stores the summary; a re-issue (or a first issue
        // whose outbox row was lost) sends what was stored.
        let summary = match summary::issued(conn, month)? {
            Some(s) => s,
            None => summary::issue(conn, cfg, month, now)?,
        };
        let lang = cfg.language;
        let file = attachment_name(month);
        let data = xlsx::workbook(&summary, lang, cfg.timezone)?;
        let email = PayrollEmail::new(&summary, cfg, issue, &file);
        let rendered = ctx.templates.render_email(lang, &email)?;
        let to = cfg
            .payroll
            .recipients
            .iter()
            .filter_map(|e| cfg.roster.by_email(e))
            .map(Contact::from)
            .collect();
        Ok(Letter {
            to,
            cc: vec![],
            rendered,
            attachments: vec![Attachment::new(file, compose::XLSX, data)],
        })
    }
}

/// The workbook's file name.
pub fn attachment_name(month: Month) -> String {
    format!("payroll-{month}.xlsx")
}

/// The payroll email's template context: the summary's figures as shown
/// (yuan with two decimals), codes for roles, statuses and flags, which the
/// templates put in words.
#[derive(Debug, Clone, Serialize)]
pub struct PayrollEmail {
    pub month: String,
    /// The re-issue's number, when this is one.
    pub reissue: Option<u32>,
    /// When the summary was first issued (local).
    pub issued_at: String,
    pub sales_imported: bool,
    pub sales_file: Option<String>,
    pub people: Vec<PayRow>,
    pub totals: TotalsView,
    pub fund: FundView,
    /// How many people carry a flag.
    pub flagged: usize,
    /// The attached workbook's name.
    pub attachment: String,
}

/// One person's card.
#[derive(Debug, Clone, Serialize)]
pub struct PayRow {
    pub person: Contact,
    pub group: Option<String>,
    pub role: String,
    pub standing: Option<String>,
    pub counted: Option<String>,
    pub base: Option<String>,
    pub base_after_cut: Option<String>,
    /// The base was cut for sales below the base performance.
    pub cut: bool,
    pub commission: Option<String>,
    /// `(part, amount, how)`: `sales` / `proxy` / `sms` / `team`.
    pub parts: Vec<Part>,
    pub fines: String,
    pub fine_count: u32,
    pub fine_periods: Vec<String>,
    pub refunds: String,
    pub refund_items: Vec<RefundView>,
    pub net: Option<String>,
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Part {
    pub part: &'static str,
    pub amount: String,
    pub how: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RefundView {
    pub period: String,
    pub month: String,
    pub amount: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TotalsView {
    pub people: usize,
    pub base_after_cut: String,
    pub commission: String,
    pub fines: String,
    pub refunds: String,
    pub net: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FundView {
    pub opening: String,
    pub fines: String,
    pub refunds: String,
    pub spending: String,
    pub closing: String,
    pub items: Vec<SpendView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SpendView {
    pub date: String,
    pub amount: String,
    pub note: String,
    pub by: String,
}

impl Email for PayrollEmail {
    const KIND: &'static str = "payroll";
}

fn money(f: Fen) -> String {
    f.grouped().to_string()
}

impl PayrollEmail {
    pub fn new(s: &Summary, cfg: &Config, issue: Issue, attachment: &str) -> PayrollEmail {
        let tz = cfg.timezone;
        let people: Vec<PayRow> = s.people.iter().map(pay_row).collect();
        PayrollEmail {
            month: s.month.to_string(),
            reissue: match issue {
                Issue::First => None,
                Issue::Reissue(n) => Some(n),
            },
            issued_at: s
                .issued_at
                .map(|t| compose::local_time(t, tz))
                .unwrap_or_default(),
            sales_imported: s.sales_imported,
            sales_file: s.sales_source.as_ref().map(|x| x.file.clone()),
            flagged: people.iter().filter(|p| !p.flags.is_empty()).count(),
            totals: TotalsView {
                people: s.people.len(),
                base_after_cut: money(s.totals.base_after_cut_fen),
                commission: money(s.totals.commission_fen),
                fines: money(s.totals.fines_fen),
                refunds: money(s.totals.refunds_fen),
                net: money(s.totals.net_pay_fen),
            },
            fund: FundView {
                opening: money(s.fund.opening_fen),
                fines: money(s.fund.fines_fen),
                refunds: money(s.fund.refunds_fen),
                spending: money(s.fund.spending_fen),
                closing: money(s.fund.closing_fen),
                items: s
                    .fund
                    .spending
                    .iter()
                    .map(|sp| SpendView {
                        date: sp.at.with_timezone(&tz).format("%Y-%m-%d").to_string(),
                        amount: money(sp.amount_fen),
                        note: sp.note.clone(),
                        by: cfg
                            .roster
                            .by_email(&sp.by)
                            .map_or_else(|| sp.by.clone(), |p| p.name.clone()),
                    })
                    .collect(),
            },
            people,
            attachment: attachment.to_string(),
        }
    }
}

fn pay_row(p: &PersonPay) -> PayRow {
    PayRow {
        person: Contact::new(p.name.clone(), p.email.clone()),
        group: p.group.clone(),
        role: p.role.clone(),
        standing: p.standing.map(|s| s.as_str().to_string()),
        counted: p.sales.map(|s| money(s.counted_fen)),
        base: p.base_fen.map(money),
        base_after_cut: p.base_after_cut_fen.map(money),
        cut: matches!((p.base_fen, p.base_after_cut_fen), (Some(a), Some(b)) if a != b),
        commission: p.commission_fen.map(money),
        parts: parts(p),
        fines: money(p.fines.amount_fen),
        fine_count: p.fines.count,
        fine_periods: p.fines.items.iter().map(|l| l.period.clone()).collect(),
        refunds: money(p.refunds.amount_fen),
        refund_items: p
            .refunds
            .items
            .iter()
            .map(|l| RefundView {
                period: l.period.clone(),
                month: l.month.to_string(),
                amount: money(l.amount_fen),
            })
            .collect(),
        net: p.net_pay_fen.map(money),
        flags: p
            .flags
            .iter()
            .map(|f| {
                serde_json::to_value(f)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            })
            .collect(),
    }
}

/// Each commission part with how it was computed.
fn parts(p: &PersonPay) -> Vec<Part> {
    let mut out = Vec::new();
    if let Some(c) = &p.commission {
        let how: Vec<String> = c
            .sales
            .parts
            .iter()
            .map(|b| format!("{} × {} = {}", money(b.amount), b.rate, money(b.commission)))
            .collect();
        out.push(Part {
            part: "sales",
            amount: money(c.sales.total),
            how: how.join(" + "),
        });
        if c.proxy_fen != Fen::ZERO {
            out.push(Part {
                part: "proxy",
                amount: money(c.proxy_fen),
                how: String::new(),
            });
        }
        if c.sms_fen != Fen::ZERO {
            out.push(Part {
                part: "sms",
                amount: money(c.sms_fen),
                how: String::new(),
            });
        }
    }
    if let Some(t) = &p.team {
        out.push(Part {
            part: "team",
            amount: money(t.commission_fen),
            how: format!(
                "{} / {} = {} → {} × {}",
                money(t.team_sales_fen),
                money(t.target_fen),
                t.achievement,
                money(t.team_sales_fen),
                t.rate
            ),
        });
    }
    out
}

/// A filled-in context for template tests.
#[cfg(test)]
pub(crate) fn sample_email(person: Contact) -> PayrollEmail {
    PayrollEmail {
        month: "2026-11".into(),
        reissue: None,
        issued_at: "2026-12-03 08:30".into(),
        sales_imported: true,
        sales_file: Some("sales-2026-11.xlsx".into()),
        people: vec![PayRow {
            person,
            group: Some("商务一组".into()),
            role: "rep".into(),
            standing: Some("regular".into()),
            counted: Some("23,000.00".into()),
            base: Some("750.00".into()),
            base_after_cut: Some("750.00".into()),
            cut: false,
            commission: Some("720.00".into()),
            parts: vec![
                Part {
                    part: "sales",
                    amount: "650.00".into(),
                    how: "7,000.00 × 3% = 210.00 + 11,000.00 × 4% = 440.00".into(),
                },
                Part {
                    part: "proxy",
                    amount: "70.00".into(),
                    how: String::new(),
                },
            ],
            fines: "50.00".into(),
            fine_count: 1,
            fine_periods: vec!["2026-W48".into()],
            refunds: "50.00".into(),
            refund_items: vec![RefundView {
                period: "2026-W44".into(),
                month: "2026-10".into(),
                amount: "50.00".into(),
            }],
            net: Some("1,470.00".into()),
            flags: vec!["bottom_three".into()],
        }],
        totals: TotalsView {
            people: 1,
            base_after_cut: "750.00".into(),
            commission: "720.00".into(),
            fines: "50.00".into(),
            refunds: "50.00".into(),
            net: "1,470.00".into(),
        },
        fund: FundView {
            opening: "300.00".into(),
            fines: "25.00".into(),
            refunds: "−25.00".into(),
            spending: "120.50".into(),
            closing: "179.50".into(),
            items: vec![SpendView {
                date: "2026-11-20".into(),
                amount: "120.50".into(),
                note: "团建聚餐".into(),
                by: "陈刚".into(),
            }],
        },
        flagged: 1,
        attachment: "payroll-2026-11.xlsx".into(),
    }
}
