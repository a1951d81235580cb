//! The labelled table of real-looking subjects (`subjects.tsv`): every
//! row must be read as labelled, and recall and precision are printed
//! (`cargo test --lib recognition_table -- --nocapture`).

use std::ops::Range;

use crate::config::Keywords;
use crate::period::Kind;

use super::prefix::is_reply_or_forward;
use super::shape::{Reading, recognise};

/// The names of the team the subjects are written by.
const NAMES: &[&str] = &["张伟", "李娜", "宋旭娜", "周明", "王月", "赵强"];

fn names(hay: &str) -> Vec<Range<usize>> {
    NAMES
        .iter()
        .flat_map(|n| hay.match_indices(n).map(|(at, n)| at..at + n.len()))
        .collect()
}

/// How a subject from a rep is read, as a table label: `W`, `M`, `?`
/// (flagged: a report word without a week or month, or an excluded word
/// beside a report's shape) or `-`.
fn label_of(subject: &str, keywords: &Keywords) -> &'static str {
    if is_reply_or_forward(subject, keywords) {
        return "-";
    }
    match recognise(subject, keywords, &names) {
        Reading::Report(Kind::Weekly) => "W",
        Reading::Report(Kind::Monthly) => "M",
        Reading::NoPeriod { .. } | Reading::Excluded { shape: Some(_), .. } => "?",
        Reading::Excluded { shape: None, .. } | Reading::Nothing => "-",
    }
}

fn rows() -> Vec<(&'static str, &'static str)> {
    include_str!("subjects.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once('\t'))
        .collect()
}

#[test]
fn recognition_table_reads_every_subject_as_labelled() {
    let keywords = Keywords::default();
    let rows = rows();
    assert!(rows.len() >= 200, "only {} rows", rows.len());
    let (mut hit, mut missed, mut wrong) = (0, 0, 0);
    let mut mistakes = Vec::new();
    for (label, subject) in &rows {
        let got = label_of(subject, &keywords);
        let report = |l: &str| l == "W" || l == "M";
        match (report(label), got == *label) {
            (true, true) => hit += 1,
            (true, false) => missed += 1,
            _ => {}
        }
        if report(got) && got != *label {
            wrong += 1;
        }
        if got != *label {
            mistakes.push(format!("  {label} read as {got}: {subject}"));
        }
    }
    let recall = f64::from(hit) / f64::from(hit + missed);
    let precision = f64::from(hit) / f64::from(hit + wrong);
    println!(
        "recognition table: {} subjects, {} reports; recall {:.1}% ({hit}/{}), precision {:.1}% ({hit}/{})",
        rows.len(),
        hit + missed,
        recall * 100.0,
        hit + missed,
        precision * 100.0,
        hit + wrong
    );
    assert!(mistakes.is_empty(), "misread:\n{}", mistakes.join("\n"));
}
