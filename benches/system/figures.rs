//! The benchmark's figures: each beside its target from issue 9, printed as
//! a table, and written as JSON and as a markdown table for the README.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use serde_json::{Value, json};

/// Which way a figure must go to meet its target.
#[derive(Debug, Clone, Copy)]
pub enum Goal {
    AtMost(f64),
    AtLeast(f64),
    /// Shown for context; no target.
    None,
}

#[derive(Debug, Clone)]
pub struct Figure {
    /// Stable key in the JSON (`sync_msg_per_s`).
    pub key: &'static str,
    pub what: String,
    pub value: f64,
    pub unit: &'static str,
    pub goal: Goal,
    /// The target as the issue says it (`≤ 3 × floor`).
    pub target: String,
}

impl Figure {
    pub fn met(&self) -> Option<bool> {
        match self.goal {
            Goal::AtMost(t) => Some(self.value <= t),
            Goal::AtLeast(t) => Some(self.value >= t),
            Goal::None => None,
        }
    }

    fn shown(&self) -> String {
        let v = self.value;
        let number = if self.unit.is_empty() {
            // Ratios such as recall: a 0.9988 must not read as 1.00.
            format!("{v:.4}")
        } else if v.abs() >= 1000.0 {
            group_thousands(v.round() as i64)
        } else if v.abs() >= 100.0 {
            format!("{v:.0}")
        } else if v.abs() >= 10.0 {
            format!("{v:.1}")
        } else if v.abs() >= 1.0 {
            format!("{v:.2}")
        } else {
            // A 0.195 s that meets a 0.2 s target must not read as 0.20.
            format!("{v:.3}")
        };
        if self.unit.is_empty() {
            number
        } else {
            format!("{number} {}", self.unit)
        }
    }

    fn verdict(&self) -> &'static str {
        match self.met() {
            Some(true) => "met",
            Some(false) => "NOT met",
            None => "",
        }
    }
}

fn group_thousands(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A figure's row: what, the measured value, the target, met or not.
fn cells(f: &Figure) -> [String; 4] {
    [
        f.what.clone(),
        f.shown(),
        f.target.clone(),
        f.verdict().to_string(),
    ]
}

/// The console table: columns aligned, the values to the right.
pub fn text_table(figures: &[Figure]) -> String {
    let rows: Vec<[String; 4]> = figures.iter().map(cells).collect();
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let (w0, w1, w2) = (width(0), width(1), width(2));
    let mut t = String::new();
    for [what, value, target, verdict] in &rows {
        let _ = writeln!(t, "{what:<w0$}  {value:>w1$}  {target:<w2$}  {verdict}");
    }
    t
}

/// The markdown table the README's Performance section pastes.
pub fn markdown_table(figures: &[Figure]) -> String {
    let mut t = String::from("| what | measured | target | |\n|---|---|---|---|\n");
    for row in figures.iter().map(cells) {
        let _ = writeln!(t, "| {} |", row.join(" | "));
    }
    t
}

pub fn json(figures: &[Figure], context: Value) -> Value {
    let rows: Vec<Value> = figures
        .iter()
        .map(|f| {
            json!({
                "key": f.key,
                "what": f.what,
                "value": f.value,
                "unit": f.unit,
                "target": f.target,
                "met": f.met(),
            })
        })
        .collect();
    let mut values = serde_json::Map::new();
    for f in figures {
        values.insert(f.key.to_string(), json!(f.value));
    }
    json!({ "context": context, "values": values, "figures": rows })
}

/// Writes `latest.json` and `latest.md` into `dir`, and the JSON also as
/// `latest-<messages>.json`, so a larger run can compare its memory with
/// the 10,000-message one.
pub fn write(
    dir: &Path,
    messages: usize,
    figures: &[Figure],
    context: Value,
    header: &str,
) -> anyhow::Result<()> {
    fs::create_dir_all(dir)?;
    let text = serde_json::to_string_pretty(&json(figures, context))? + "\n";
    fs::write(dir.join("latest.json"), &text)?;
    fs::write(dir.join(format!("latest-{messages}.json")), &text)?;
    fs::write(
        dir.join("latest.md"),
        format!("{header}\n\n{}", markdown_table(figures)),
    )?;
    Ok(())
}
