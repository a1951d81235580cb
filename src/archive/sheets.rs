//! The register as people open it: the words of each cell in the team's
//! language ([`cells`], shared by the CSV, the XLSX and `index.html`), then
//! `register.csv` (UTF-8 with a BOM and CRLF, which Excel and WPS both open
//! as UTF-8) and `register.xlsx` (amounts as numbers, everything else as
//! text, so nothing is reinterpreted as a date).

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
use serde::Serialize;

use crate::config::{Config, Language, Roster};
use crate::money::Fen;
use crate::period::{Deadline, Kind};
use crate::reports::compliance::Status;
use crate::reports::filed::Document;

use super::register::RegisterRow;
use super::{ArchiveError, Month};

pub const CSV_NAME: &str = "register.csv";
pub const XLSX_NAME: &str = "register.xlsx";

/// The register's columns, in order: (zh, en).
const COLUMNS: [(&str, &str); 18] = [
    ("姓名", "Name"),
    ("邮箱", "Email"),
    ("小组", "Group"),
    ("类型", "Kind"),
    ("期间", "Period"),
    ("截止时间", "Due"),
    ("文件类别", "Document"),
    ("主题", "Subject"),
    ("到达时间", "Arrived"),
    ("状态", "Status"),
    ("回复时间", "Replied at"),
    ("回复人", "Replied by"),
    ("罚款（元）", "Fine (yuan)"),
    ("免罚（元）", "Waived (yuan)"),
    ("理由", "Reason"),
    ("批准人", "Approved by"),
    ("邮件文件", "File"),
    ("SHA-256", "SHA-256"),
];

/// Columns holding amounts, written as numbers in the XLSX.
const FINE_COLUMN: usize = 12;
const WAIVED_COLUMN: usize = 13;

/// One register row in words. `status_key` is the config word of the
/// status (`on_time`, … or `none`), for colours in `index.html`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cells {
    pub name: String,
    pub email: String,
    pub group: String,
    pub kind: String,
    pub period: String,
    pub due: String,
    pub document: String,
    pub subject: String,
    pub arrived: String,
    pub status: String,
    pub status_key: String,
    pub replied_at: String,
    pub replied_by: String,
    pub fine: String,
    pub waived: String,
    /// The fine and the waiver as figures, which the XLSX writes as numbers.
    #[serde(skip)]
    pub amounts: [Option<Fen>; 2],
    pub reason: String,
    pub approved_by: String,
    pub file: String,
    pub sha256: String,
}

impl Cells {
    /// The cells in column order.
    fn in_order(&self) -> [&str; 18] {
        [
            &self.name,
            &self.email,
            &self.group,
            &self.kind,
            &self.period,
            &self.due,
            &self.document,
            &self.subject,
            &self.arrived,
            &self.status,
            &self.replied_at,
            &self.replied_by,
            &self.fine,
            &self.waived,
            &self.reason,
            &self.approved_by,
            &self.file,
            &self.sha256,
        ]
    }
}

/// The column titles in `lang`.
pub fn headers(lang: Language) -> [&'static str; 18] {
    COLUMNS.map(|(zh, en)| match lang {
        Language::Zh => zh,
        Language::En => en,
    })
}

fn word(lang: Language, zh: &'static str, en: &'static str) -> &'static str {
    match lang {
        Language::Zh => zh,
        Language::En => en,
    }
}

pub fn status_word(status: Option<Status>, lang: Language) -> &'static str {
    match status {
        Some(Status::OnTime) => word(lang, "按时", "on time"),
        Some(Status::Late) => word(lang, "迟交", "late"),
        Some(Status::Missing) => word(lang, "未交", "missing"),
        Some(Status::Excused) => word(lang, "已免", "excused"),
        Some(Status::Pending) => word(lang, "待交", "pending"),
        None => word(lang, "未跟踪", "not tracked"),
    }
}

fn document_word(document: Option<Document>, lang: Language) -> &'static str {
    match document {
        Some(Document::Report) => word(lang, "报告", "report"),
        Some(Document::Revision) => word(lang, "修订", "revision"),
        Some(Document::Misaddressed) => word(lang, "发错对象", "misaddressed"),
        Some(Document::Reply) => word(lang, "回复", "reply"),
        None => word(lang, "本月无文件", "none this month"),
    }
}

fn kind_word(kind: Kind, lang: Language) -> &'static str {
    match kind {
        Kind::Weekly => word(lang, "周报", "weekly"),
        Kind::Monthly => word(lang, "月报", "monthly"),
    }
}

/// `2026-11-28 21:59:59` in the team's zone.
fn when(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// `2026-11-28 22:00`; a deadline at midnight is the end of the day before,
/// `2026-12-01 24:00`, as the status board shows it.
fn due_text(due: &Deadline, tz: Tz) -> String {
    let local = due.due.with_timezone(&tz);
    if local.time() == NaiveTime::MIN {
        format!("{} 24:00", due.due_day(tz).format("%Y-%m-%d"))
    } else {
        local.format("%Y-%m-%d %H:%M").to_string()
    }
}

/// `王芳 <wangfang@example.com>` for someone on the roster, else the address.
fn who(email: &str, roster: &Roster) -> String {
    match roster.by_email(email) {
        Some(p) => format!("{} <{}>", p.name, p.email),
        None => email.to_string(),
    }
}

fn money(fen: Option<Fen>) -> String {
    fen.map(|f| f.to_string()).unwrap_or_default()
}

/// Every row in words.
pub fn cells(rows: &[RegisterRow], cfg: &Config, lang: Language) -> Vec<Cells> {
    let tz = cfg.timezone;
    rows.iter()
        .map(|r| Cells {
            name: r.name.clone(),
            email: r.person.clone(),
            group: r.group.clone().unwrap_or_default(),
            kind: kind_word(r.kind(), lang).into(),
            period: r.period.to_string(),
            due: r.due.as_ref().map(|d| due_text(d, tz)).unwrap_or_default(),
            document: document_word(r.document, lang).into(),
            subject: r.subject.clone().unwrap_or_default(),
            arrived: r.arrival.map(|a| when(a, tz)).unwrap_or_default(),
            status: status_word(r.status, lang).into(),
            status_key: r.status.map_or("none", |s| s.as_str()).into(),
            replied_at: r.reply.as_ref().map(|x| when(x.at, tz)).unwrap_or_default(),
            replied_by: r
                .reply
                .as_ref()
                .map(|x| who(&x.replier, &cfg.roster))
                .unwrap_or_default(),
            fine: money(r.fine),
            waived: money(r.waived),
            amounts: [r.fine, r.waived],
            reason: r.reason.clone().unwrap_or_default(),
            approved_by: r
                .approver
                .as_deref()
                .map(|a| who(a, &cfg.roster))
                .unwrap_or_default(),
            file: r.file.clone().unwrap_or_default(),
            sha256: r.sha256.clone().unwrap_or_default(),
        })
        .collect()
}

/// `register.csv`: a BOM, the header row, one record per row, CRLF. Text
/// that Excel or WPS would take for a formula is kept as text.
pub fn csv(cells: &[Cells], lang: Language) -> Result<Vec<u8>, ArchiveError> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        writer.write_record(headers(lang))?;
        for c in cells {
            let record = c
                .in_order()
                .into_iter()
                .enumerate()
                .map(|(col, text)| match col {
                    FINE_COLUMN | WAIVED_COLUMN => std::borrow::Cow::Borrowed(text),
                    _ => as_text(text),
                });
            writer.write_record(record.collect::<Vec<_>>().iter().map(|t| t.as_bytes()))?;
        }
        writer.flush().map_err(csv::Error::from)?;
    }
    Ok(out)
}

/// `text` as a spreadsheet shows it rather than runs it: a subject or a
/// reason that came by email and begins with `=`, `+`, `-`, `@`, a tab or
/// a carriage return would be a formula when the CSV is opened (`=HYPERLINK
/// (…)`, `=cmd|…`), so it is written after a `'`, which Excel and WPS show
/// as text. The amounts, reportd's own figures, are written as they are.
fn as_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// `register.xlsx`: one sheet, bold frozen header, amounts as numbers with
/// two decimals. Its creation time is fixed to the month's end, so the same
/// register gives the same bytes.
pub fn xlsx(cells: &[Cells], lang: Language, month: Month) -> Result<Vec<u8>, ArchiveError> {
    let mut book = Workbook::new();
    let next = month.next();
    let created = ExcelDateTime::from_ymd(next.year() as u16, next.month() as u8, 1)?;
    book.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let sheet = book.add_worksheet();
    sheet.set_name(word(lang, "登记表", "Register"))?;
    let bold = Format::new().set_bold();
    let yuan = Format::new().set_num_format("0.00");
    for (col, title) in headers(lang).iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *title, &bold)?;
    }
    for (i, c) in cells.iter().enumerate() {
        let row = i as u32 + 1;
        for (col, text) in c.in_order().iter().enumerate() {
            let amount = match col {
                FINE_COLUMN => c.amounts[0],
                WAIVED_COLUMN => c.amounts[1],
                _ => None,
            };
            match amount {
                // Fen to yuan for display only; the exact figure is also
                // in the CSV as text.
                Some(fen) => {
                    sheet.write_number_with_format(row, col as u16, fen.0 as f64 / 100.0, &yuan)?
                }
                None => sheet.write_string(row, col as u16, *text)?,
            };
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofit();
    Ok(book.save_to_buffer()?)
}

/// A register row for tests of the modules that show one.
#[cfg(test)]
pub(crate) fn sample_cells() -> Cells {
    Cells {
        name: "张伟".into(),
        email: "zhangwei@example.com".into(),
        group: "商务一组".into(),
        kind: "周报".into(),
        period: "2026-W48".into(),
        due: "2026-11-28 22:00".into(),
        document: "报告".into(),
        subject: "周报, \"第48周\"".into(),
        arrived: "2026-11-28 21:59:59".into(),
        status: "按时".into(),
        status_key: "on_time".into(),
        replied_at: String::new(),
        replied_by: String::new(),
        fine: "50.00".into(),
        waived: String::new(),
        amounts: [Some(Fen(5000)), None],
        reason: String::new(),
        approved_by: String::new(),
        file: "eml/20261128-215959-report-2026-W48-zhangwei-m1.eml".into(),
        sha256: "ab".repeat(32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_starts_with_a_bom_uses_crlf_and_quotes_what_needs_it() {
        let bytes = csv(&[sample_cells()], Language::Zh).expect("csv");
        assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "UTF-8 BOM");
        let text = String::from_utf8(bytes[3..].to_vec()).expect("utf-8");
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert!(lines[0].starts_with("姓名,邮箱,小组,类型,期间,截止时间"));
        assert!(lines[1].contains(r#""周报, ""第48周""""#), "{}", lines[1]);
        assert_eq!(lines[2], "", "ends with CRLF");
        let mut reader = ::csv::Reader::from_reader(text.as_bytes());
        let record = reader.records().next().expect("row").expect("record");
        assert_eq!(&record[7], "周报, \"第48周\"");
        assert_eq!(record.len(), 18);
    }

    #[test]
    fn text_that_would_be_a_formula_is_kept_as_text_and_amounts_stay_numbers() {
        let mut c = sample_cells();
        c.subject = "=HYPERLINK(\"http://evil.example\",\"周报\")".into();
        c.reason = "@SUM(1+1)".into();
        c.name = "-张伟".into();
        c.fine = String::new();
        c.waived = "-50.00".into();
        let bytes = csv(&[c], Language::Zh).expect("csv");
        let text = String::from_utf8(bytes[3..].to_vec()).expect("utf-8");
        let mut reader = ::csv::Reader::from_reader(text.as_bytes());
        let record = reader.records().next().expect("row").expect("record");
        assert_eq!(&record[7], "'=HYPERLINK(\"http://evil.example\",\"周报\")");
        assert_eq!(&record[14], "'@SUM(1+1)");
        assert_eq!(&record[0], "'-张伟");
        assert_eq!(&record[13], "-50.00", "an amount stays a number");
        assert_eq!(&record[1], "zhangwei@example.com", "the rest as it is");
    }

    #[test]
    fn a_midnight_deadline_reads_as_24_00_of_the_day_before() {
        let tz = chrono_tz::Asia::Shanghai;
        let due = Deadline {
            period: crate::period::Period::Month {
                year: 2026,
                month: 11,
            },
            due: chrono::DateTime::parse_from_rfc3339("2026-12-02T00:00:00+08:00")
                .expect("time")
                .with_timezone(&Utc),
            provisional: false,
        };
        assert_eq!(due_text(&due, tz), "2026-12-01 24:00");
    }

    #[test]
    fn headers_follow_the_team_language() {
        assert_eq!(headers(Language::En)[0], "Name");
        assert_eq!(headers(Language::Zh)[17], "SHA-256");
        assert_eq!(status_word(None, Language::Zh), "未跟踪");
    }
}
