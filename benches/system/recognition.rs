//! reportd's classes (`reportd messages --json`) against the generator's
//! labels: recall and precision of reports (report, revision or
//! misaddressed) and of replies, and how many messages are in exactly the
//! class their label says.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use serde_json::{Value, json};

use crate::setup::Instance;
use crate::support::mailbox::Label;

/// Counts for one kind of message.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub true_pos: usize,
    pub false_pos: usize,
    pub false_neg: usize,
}

impl Counts {
    fn add(&mut self, labelled: bool, classed: bool) {
        match (labelled, classed) {
            (true, true) => self.true_pos += 1,
            (false, true) => self.false_pos += 1,
            (true, false) => self.false_neg += 1,
            (false, false) => {}
        }
    }

    pub fn recall(&self) -> f64 {
        ratio(self.true_pos, self.true_pos + self.false_neg)
    }

    pub fn precision(&self) -> f64 {
        ratio(self.true_pos, self.true_pos + self.false_pos)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

pub struct Scores {
    pub report: Counts,
    pub reply: Counts,
    pub total: usize,
    pub agreeing: usize,
    /// (label, class reportd gave) → count, for every disagreement.
    pub confusion: BTreeMap<(String, String), usize>,
    pub per_label: BTreeMap<&'static str, usize>,
    /// Labelled messages reportd does not list.
    pub unseen: usize,
}

impl Scores {
    pub fn agreement(&self) -> f64 {
        ratio(self.agreeing, self.total)
    }

    pub fn summary(&self) -> String {
        let mut s = format!(
            "recognition: reports recall {:.4} precision {:.4}; replies recall {:.4} precision {:.4}; {} of {} messages in their labelled class",
            self.report.recall(),
            self.report.precision(),
            self.reply.recall(),
            self.reply.precision(),
            self.agreeing,
            self.total
        );
        if self.unseen > 0 {
            s += &format!("; {} labelled messages not listed by reportd", self.unseen);
        }
        for ((label, class), n) in self.confusion.iter().take(12) {
            s += &format!("\n  labelled {label}, classed {class}: {n}");
        }
        s
    }

    pub fn labels_json(&self) -> Value {
        json!(self.per_label)
    }
}

fn is_report_class(class: &str) -> bool {
    matches!(class, "report" | "revision" | "misaddressed")
}

/// Scores the classes in `inst`'s database against `labels` (by Message-ID).
pub fn score(inst: &Instance, labels: &HashMap<String, Label>) -> anyhow::Result<Scores> {
    let listed = inst.json(&["messages", "--json"])?;
    let rows = listed.as_array().context("messages --json is not a list")?;
    let mut class_of: HashMap<String, String> = HashMap::with_capacity(rows.len());
    for r in rows {
        let id = r["message_id"].as_str().unwrap_or_default();
        let id = id.trim_start_matches('<').trim_end_matches('>');
        let class = r["class"].as_str().unwrap_or("unclassified");
        let class = if r["flagged"].as_bool() == Some(true) && class == "ignored" {
            "flagged"
        } else {
            class
        };
        class_of.insert(id.to_string(), class.to_string());
    }
    let mut s = Scores {
        report: Counts::default(),
        reply: Counts::default(),
        total: 0,
        agreeing: 0,
        confusion: BTreeMap::new(),
        per_label: BTreeMap::new(),
        unseen: 0,
    };
    for (id, label) in labels {
        *s.per_label.entry(label.as_str()).or_default() += 1;
        let class = class_of.get(id).map_or("unseen", String::as_str);
        if class == "unseen" {
            s.unseen += 1;
        }
        s.total += 1;
        s.report.add(label.is_report(), is_report_class(class));
        s.reply.add(*label == Label::Reply, class == "reply");
        if class == label.expected_class() {
            s.agreeing += 1;
        } else {
            *s.confusion
                .entry((label.as_str().to_string(), class.to_string()))
                .or_default() += 1;
        }
    }
    Ok(s)
}
