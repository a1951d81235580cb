//! Reading the config's TOML: a walk over toml's spanned document tree, so
//! that every issue is collected (serde would stop at the first) and
//! carries its line. The typed readers (`opt_str`, `opt_int_in`,
//! `opt_str_list`, ...) that every section's parser uses.

use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveTime};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{ChoiceError, ConfigError, ConfigIssue, line_number};

pub(super) type Item<'i> = Spanned<DeValue<'i>>;

/// A value and the line it was written on.
#[derive(Debug, Clone)]
pub(super) struct At<T> {
    pub(super) v: T,
    pub(super) line: usize,
}

pub(super) struct Ctx<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
    /// Where the text's line breaks are (see `line_of`).
    pub(super) newlines: Vec<usize>,
    pub(super) issues: Vec<ConfigIssue>,
}

impl Ctx<'_> {
    pub(super) fn line(&self, span: Range<usize>) -> usize {
        line_number(&self.newlines, span.start)
    }

    pub(super) fn push(&mut self, key: impl Into<String>, line: usize, message: impl Into<String>) {
        self.issues.push(ConfigIssue {
            file: self.file.to_path_buf(),
            key: key.into(),
            line,
            message: message.into(),
        });
    }

    pub(super) fn into_error(mut self) -> ConfigError {
        if self.issues.is_empty() {
            // Only reachable through a bug in this module; still say something useful.
            self.push(
                "",
                0,
                "the config could not be built although no mistake was found; please report \
                 this as a bug in reportd",
            );
        }
        self.issues.sort_by_key(|i| i.line);
        ConfigError(self.issues)
    }
}

/// One TOML table being read.
pub(super) struct Sec<'t, 'i> {
    /// Dotted path, "" for the top level.
    pub(super) path: String,
    pub(super) table: &'t DeTable<'i>,
    /// Line of the table's header (0 for the top level).
    pub(super) line: usize,
}

impl<'t, 'i> Sec<'t, 'i> {
    pub(super) fn key(&self, k: &str) -> String {
        if self.path.is_empty() {
            k.to_string()
        } else {
            format!("{}.{k}", self.path)
        }
    }

    pub(super) fn get(&self, k: &str) -> Option<&'t Item<'i>> {
        self.table.get(k)
    }

    pub(super) fn has(&self, k: &str) -> bool {
        self.table.contains_key(k)
    }

    pub(super) fn name(&self) -> String {
        if self.path.is_empty() {
            "the top level".to_string()
        } else {
            format!("[{}]", self.path)
        }
    }
}

pub(super) fn a_type(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Reports every key of `sec` not in `known`, suggesting a close spelling.
pub(super) fn check_keys(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>, known: &[&str]) {
    for (k, _) in sec.table.iter() {
        let name: &str = k.get_ref();
        if known.contains(&name) {
            continue;
        }
        let close = known
            .iter()
            .map(|c| (edit_distance(&name.to_lowercase(), c), *c))
            .filter(|(d, _)| *d <= 2)
            .min_by_key(|(d, _)| *d);
        let message = match close {
            Some((_, c)) => format!("unknown key `{name}`; did you mean `{c}`?"),
            None => format!(
                "unknown key `{name}` in {}; remove it or use one of: {}",
                sec.name(),
                known.join(", ")
            ),
        };
        let line = ctx.line(k.span());
        ctx.push(sec.key(name), line, message);
    }
}

pub(super) fn wrong_type(
    ctx: &mut Ctx<'_>,
    key: String,
    item: &Item<'_>,
    expected: &str,
    example: &str,
) {
    let line = ctx.line(item.span());
    let got = a_type(item.get_ref());
    ctx.push(
        key,
        line,
        format!("must be {expected}, not {got}; write e.g. {example}"),
    );
}

pub(super) fn missing(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>, k: &str, example: &str) {
    let message = format!("missing key `{k}` in {}; add e.g. {example}", sec.name());
    ctx.push(sec.key(k), sec.line, message);
}

/// A non-empty string; `None` (with an issue when present but wrong) otherwise.
pub(super) fn opt_str(
    ctx: &mut Ctx<'_>,
    sec: &Sec<'_, '_>,
    k: &str,
    example: &str,
) -> Option<At<String>> {
    let item = sec.get(k)?;
    let line = ctx.line(item.span());
    match item.get_ref() {
        DeValue::String(s) if s.trim().is_empty() => {
            ctx.push(
                sec.key(k),
                line,
                format!("is empty; write e.g. {example}, or remove the key"),
            );
            None
        }
        DeValue::String(s) => Some(At {
            v: s.to_string(),
            line,
        }),
        _ => {
            wrong_type(ctx, sec.key(k), item, "a string", example);
            None
        }
    }
}

pub(super) fn req_str(
    ctx: &mut Ctx<'_>,
    sec: &Sec<'_, '_>,
    k: &str,
    example: &str,
) -> Option<At<String>> {
    if !sec.has(k) {
        missing(ctx, sec, k, example);
        return None;
    }
    opt_str(ctx, sec, k, example)
}

pub(super) fn opt_int(
    ctx: &mut Ctx<'_>,
    sec: &Sec<'_, '_>,
    k: &str,
    example: &str,
) -> Option<At<i64>> {
    let item = sec.get(k)?;
    let line = ctx.line(item.span());
    match item.get_ref() {
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(v) => Some(At { v, line }),
            Err(_) => {
                ctx.push(
                    sec.key(k),
                    line,
                    format!("is far too large; write e.g. {example}"),
                );
                None
            }
        },
        DeValue::Float(_) => {
            ctx.push(
                sec.key(k),
                line,
                format!("must be a whole number, without a decimal point; write e.g. {example}"),
            );
            None
        }
        _ => {
            wrong_type(ctx, sec.key(k), item, "a whole number", example);
            None
        }
    }
}

/// An integer in `range`, or `None` with an issue.
pub(super) fn opt_int_in(
    ctx: &mut Ctx<'_>,
    sec: &Sec<'_, '_>,
    k: &str,
    range: std::ops::RangeInclusive<i64>,
    what: &str,
    example: &str,
) -> Option<At<i64>> {
    let at = opt_int(ctx, sec, k, example)?;
    if range.contains(&at.v) {
        Some(at)
    } else {
        ctx.push(
            sec.key(k),
            at.line,
            format!("is {}, but {what}; write e.g. {example}", at.v),
        );
        None
    }
}

pub(super) fn opt_bool(
    ctx: &mut Ctx<'_>,
    sec: &Sec<'_, '_>,
    k: &str,
    example: &str,
) -> Option<bool> {
    let item = sec.get(k)?;
    match item.get_ref() {
        DeValue::Boolean(b) => Some(*b),
        _ => {
            wrong_type(ctx, sec.key(k), item, "true or false", example);
            None
        }
    }
}

/// A date written as `"2026-11-02"` or as a bare TOML date `2026-11-02`.
pub(super) fn opt_date(
    ctx: &mut Ctx<'_>,
    sec: &Sec<'_, '_>,
    k: &str,
    example: &str,
) -> Option<At<NaiveDate>> {
    let item = sec.get(k)?;
    let line = ctx.line(item.span());
    let date = match item.get_ref() {
        DeValue::String(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok(),
        DeValue::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
            (Some(d), None, None) => {
                NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
            }
            _ => None,
        },
        _ => {
            wrong_type(ctx, sec.key(k), item, "a date", example);
            return None;
        }
    };
    match date {
        Some(v) => Some(At { v, line }),
        None => {
            let shown = match item.get_ref() {
                DeValue::String(s) => format!("\"{s}\""),
                DeValue::Datetime(dt) => dt.to_string(),
                _ => String::new(),
            };
            ctx.push(
                sec.key(k),
                line,
                format!(
                    "{shown} is not a calendar date; write YYYY-MM-DD without a time, \
                     e.g. {example}"
                ),
            );
            None
        }
    }
}

/// A local time of day written `"HH:MM"`.
pub(super) fn opt_time(
    ctx: &mut Ctx<'_>,
    sec: &Sec<'_, '_>,
    k: &str,
    example: &str,
) -> Option<NaiveTime> {
    let s = opt_str(ctx, sec, k, example)?;
    match NaiveTime::parse_from_str(s.v.trim(), "%H:%M") {
        Ok(t) => Some(t),
        Err(_) => {
            let message = format!(
                "\"{}\" is not a time of day; write it as HH:MM, e.g. {example}",
                s.v
            );
            ctx.push(sec.key(k), s.line, message);
            None
        }
    }
}

pub(super) fn req_date(
    ctx: &mut Ctx<'_>,
    sec: &Sec<'_, '_>,
    k: &str,
    example: &str,
) -> Option<At<NaiveDate>> {
    if !sec.has(k) {
        missing(ctx, sec, k, example);
        return None;
    }
    opt_date(ctx, sec, k, example)
}

/// An array of strings (each may be empty; callers judge): the strings with
/// their index and line. Elements that are not strings are reported and left
/// out; the whole is `None` (with an issue) when the value is not an array.
pub(super) fn opt_str_list(
    ctx: &mut Ctx<'_>,
    sec: &Sec<'_, '_>,
    k: &str,
    example: &str,
) -> Option<Vec<(usize, At<String>)>> {
    let item = sec.get(k)?;
    let DeValue::Array(array) = item.get_ref() else {
        wrong_type(ctx, sec.key(k), item, "a list of strings", example);
        return None;
    };
    let mut out = Vec::new();
    for (i, elem) in array.iter().enumerate() {
        match elem.get_ref() {
            DeValue::String(s) => out.push((
                i,
                At {
                    v: s.to_string(),
                    line: ctx.line(elem.span()),
                },
            )),
            _ => {
                wrong_type(
                    ctx,
                    format!("{}[{i}]", sec.key(k)),
                    elem,
                    "a string",
                    example,
                );
            }
        }
    }
    Some(out)
}

pub(super) fn opt_table<'t, 'i>(
    ctx: &mut Ctx<'_>,
    parent: &Sec<'t, 'i>,
    k: &str,
) -> Option<Sec<'t, 'i>> {
    let item = parent.get(k)?;
    match item.get_ref() {
        DeValue::Table(table) => Some(Sec {
            path: parent.key(k),
            table,
            line: ctx.line(item.span()),
        }),
        _ => {
            let example = format!("a [{k}] section");
            wrong_type(ctx, parent.key(k), item, "a table", &example);
            None
        }
    }
}

/// Parses an allowed word (role, language, security).
pub(super) fn opt_choice<T: FromStr<Err = ChoiceError>>(
    ctx: &mut Ctx<'_>,
    sec: &Sec<'_, '_>,
    k: &str,
    example: &str,
) -> Option<At<T>> {
    let s = opt_str(ctx, sec, k, example)?;
    match s.v.trim().parse::<T>() {
        Ok(v) => Some(At { v, line: s.line }),
        Err(e) => {
            ctx.push(sec.key(k), s.line, e.to_string());
            None
        }
    }
}

/// Why `s` is not a plausible email address, if it is not.
pub(super) fn email_problem(s: &str) -> Option<&'static str> {
    if s.chars().any(char::is_whitespace) {
        return Some("contains a space");
    }
    if s.chars().any(|c| "<>()[],;:\"\\".contains(c)) {
        return Some(
            "contains a character that is not allowed in an address (write the bare address, \
             without a display name or brackets)",
        );
    }
    let mut parts = s.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Some("must contain exactly one @");
    };
    if local.is_empty() {
        return Some("has nothing before the @");
    }
    if domain.is_empty() {
        return Some("has no domain after the @");
    }
    if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return Some("has a malformed domain");
    }
    None
}

/// Checks a `from` header value: `Name <addr>` or a bare address.
pub(super) fn from_problem(s: &str) -> Option<String> {
    let s = s.trim();
    let addr = match s.find('<') {
        Some(open) => {
            let Some(inner) = s[open + 1..].strip_suffix('>') else {
                return Some(
                    "must end with the address in angle brackets, like \
                     `报告助手 <assistant@example.com>`"
                        .to_string(),
                );
            };
            inner.trim()
        }
        None => s,
    };
    email_problem(addr)
        .map(|p| format!("the address `{addr}` {p}; write e.g. `报告助手 <assistant@example.com>`"))
}
