//! Reading a spreadsheet the assistant exported: CSV (UTF-8 with or without
//! a BOM, or GBK as Excel and WPS in China save it) with the `csv` crate, or
//! XLSX/XLS/ODS with calamine. Gives a grid of cells numbered as the
//! spreadsheet shows them (row 1, column A), so a mistake can be named where
//! the user sees it.

use std::io::Cursor;

use calamine::{Data, Reader};

/// One cell's content.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
}

impl Cell {
    /// The text as the user sees it (numbers without a trailing `.0`).
    pub fn shown(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(t) => t.trim().to_string(),
            Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{n:.0}"),
            Cell::Number(n) => n.to_string(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(t) => t.trim().is_empty(),
            Cell::Number(_) => false,
        }
    }
}

/// A grid of cells; `rows[0]` is spreadsheet row `first_row`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    pub first_row: usize,
    pub rows: Vec<Vec<Cell>>,
}

impl Sheet {
    /// Each row with its spreadsheet row number (1-based).
    pub fn numbered(&self) -> impl Iterator<Item = (usize, &[Cell])> {
        self.rows
            .iter()
            .enumerate()
            .map(|(i, r)| (self.first_row + i, r.as_slice()))
    }
}

/// Why a file could not be read as a spreadsheet at all.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    #[error(
        "{file} is neither UTF-8 nor GBK text: save it as CSV UTF-8 (or CSV from Excel/WPS), or as XLSX"
    )]
    Encoding { file: String },
    #[error("{file} is not a CSV file that can be read ({detail}): save it again as CSV or XLSX")]
    Csv { file: String, detail: String },
    #[error("{file} is not a workbook that can be read ({detail}): save it again as XLSX (or CSV)")]
    Workbook { file: String, detail: String },
    #[error("{file} has no worksheet: put the sales on the first sheet")]
    NoSheet { file: String },
}

/// Whether the file is a workbook (by its name, else by its first bytes:
/// XLSX and ODS are zip files, XLS an OLE2 file).
fn is_workbook(name: &str, bytes: &[u8]) -> bool {
    let lower = name.to_lowercase();
    if lower.ends_with(".csv") || lower.ends_with(".txt") {
        return false;
    }
    [".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"]
        .iter()
        .any(|e| lower.ends_with(e))
        || bytes.starts_with(b"PK\x03\x04")
        || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
}

/// Reads `bytes` (a file named `name`) as a grid: a workbook's first sheet,
/// or CSV.
pub fn read(name: &str, bytes: &[u8]) -> Result<Sheet, SheetError> {
    if is_workbook(name, bytes) {
        read_workbook(name, bytes)
    } else {
        read_csv(name, bytes)
    }
}

/// UTF-8 (a BOM is dropped) or, failing that, GBK (read as GB18030, its
/// superset, as Excel's "CSV" in a Chinese Windows writes it).
pub fn decode_text(name: &str, bytes: &[u8]) -> Result<String, SheetError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(body) {
        return Ok(text.to_string());
    }
    encoding_rs::GB18030
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|t| t.into_owned())
        .ok_or_else(|| SheetError::Encoding {
            file: name.to_string(),
        })
}

fn read_csv(name: &str, bytes: &[u8]) -> Result<Sheet, SheetError> {
    let text = decode_text(name, bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| SheetError::Csv {
            file: name.to_string(),
            detail: e.to_string(),
        })?;
        rows.push(
            record
                .iter()
                .map(|c| {
                    if c.trim().is_empty() {
                        Cell::Empty
                    } else {
                        Cell::Text(c.to_string())
                    }
                })
                .collect(),
        );
    }
    Ok(Sheet { first_row: 1, rows })
}

fn read_workbook(name: &str, bytes: &[u8]) -> Result<Sheet, SheetError> {
    let bad = |detail: String| SheetError::Workbook {
        file: name.to_string(),
        detail,
    };
    let mut book =
        calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| SheetError::NoSheet {
            file: name.to_string(),
        })?
        .map_err(|e| bad(e.to_string()))?;
    // The used range need not start at A1: pad so that columns keep their
    // letters and rows their numbers.
    let (top, left) = range.start().unwrap_or((0, 0));
    let left = usize::try_from(left).unwrap_or(0);
    let rows = range
        .rows()
        .map(|r| {
            let mut cells = vec![Cell::Empty; left];
            cells.extend(r.iter().map(cell_of));
            cells
        })
        .collect();
    Ok(Sheet {
        first_row: usize::try_from(top).unwrap_or(0) + 1,
        rows,
    })
}

fn cell_of(d: &Data) -> Cell {
    match d {
        Data::Empty => Cell::Empty,
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Float(f) => Cell::Number(*f),
        Data::String(s) => Cell::Text(s.clone()),
        Data::Bool(b) => Cell::Text(b.to_string()),
        Data::DateTime(t) => Cell::Text(t.to_string()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Text(format!("#{e}")),
    }
}

/// Spreadsheet column letters: 0 → A, 25 → Z, 26 → AA.
pub fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(char::from(b'A' + u8::try_from(rem).unwrap_or(0)));
        n = (n - 1) / 26;
    }
    out.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_in_utf8_with_bom_and_in_gbk_read_the_same() {
        let text = "姓名,自拓\n张伟,\"32,000\"\n";
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        let (gbk, _, lossy) = encoding_rs::GBK.encode(text);
        assert!(!lossy);
        let a = read("a.csv", &bom).expect("utf-8");
        let b = read("b.csv", &gbk).expect("gbk");
        assert_eq!(a, b);
        assert_eq!(a.rows[0][0], Cell::Text("姓名".into()));
        assert_eq!(a.rows[1][1], Cell::Text("32,000".into()));
    }

    #[test]
    fn text_that_is_neither_utf8_nor_gbk_is_refused() {
        let e = read("x.csv", &[0x81, 0x20, 0xFF, 0xFF]).unwrap_err();
        assert!(matches!(e, SheetError::Encoding { .. }), "{e}");
    }

    #[test]
    fn a_zip_that_is_no_workbook_is_refused_by_name() {
        let e = read("sales.xlsx", b"PK\x03\x04 not really").unwrap_err();
        assert!(e.to_string().contains("sales.xlsx"), "{e}");
    }

    #[test]
    fn column_letters_go_past_z() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(27), "AB");
    }

    #[test]
    fn numbers_show_without_a_trailing_zero() {
        assert_eq!(Cell::Number(32000.0).shown(), "32000");
        assert_eq!(Cell::Number(0.5).shown(), "0.5");
    }
}
