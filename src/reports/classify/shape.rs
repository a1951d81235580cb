//! Recognising a report by the shape people write rather than by a list of
//! phrases: a period word (周, 本周, 月度, 11月, 第48周, W48, 2026.06,
//! week, monthly, November) and a report word (报, 总结, 汇报, 小结, 报告,
//! report, summary, update) in one subject, in either order and with
//! anything between them (`宋旭娜 2025.06 月度工作总结`, `张伟-第48周-工作汇报`,
//! `Weekly sales update - W48`). The kind follows the period word.
//!
//! Words that look like one of these but mean something else (周末, 周年,
//! 周刊, 报价, 报销, 报名, 个月, 出差报告, expense report) are read as what
//! they are, by longest match: `本周报销` is 本周 + 报销, not 周报. The
//! people's names are blanked first, so 周明 or 王月 is not a period.
//!
//! The config adds to this: `[keywords] weekly` / `monthly` are extra
//! phrases that mark a report of that kind by themselves, and `exclude`
//! vetoes a subject (a newsletter is not a report however it is worded).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, LazyLock, Mutex};

use aho_corasick::{AhoCorasick, MatchKind};

use crate::config::Keywords;
use crate::period::Kind;

use super::fold::{fold, is_keyword_separator, keyword_form, skip_fillers};
use super::periods::numbered;

/// What a subject says about being a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// A report of this kind.
    Report(Kind),
    /// An excluded word vetoes the subject; `shape` is what it would have
    /// been read as without that word.
    Excluded { word: String, shape: Option<Kind> },
    /// A report word that is a report by itself (总结, 汇报, 小结), but no
    /// week or month: a report whose kind cannot be decided.
    NoPeriod { word: String },
    /// Nothing of a report.
    Nothing,
}

/// Where people's names are written in a folded subject.
pub type Names<'a> = dyn Fn(&str) -> Vec<Range<usize>> + 'a;

/// Reads `subject`. `names` finds people's names in the folded subject (the
/// roster's, the sender's), which are blanked first, so that a name holding
/// 周 or 月 is no period.
pub fn recognise(subject: &str, keywords: &Keywords, names: &Names<'_>) -> Reading {
    let mut hay = fold(subject);
    // Vetoes first: a name (a newsletter's display name `销售周刊`) must not
    // hide one.
    // A configured phrase (`例会纪要`) is not vetoed by a word it holds
    // (`例会`).
    let added = additions(&hay, keywords);
    let excluded: Vec<_> = find_words(&hay, &keywords.exclude)
        .into_iter()
        .filter(|(_, span)| {
            !added
                .iter()
                .any(|a| a.span.start <= span.start && span.end <= a.span.end)
        })
        .collect();
    for span in names(&hay) {
        blank(&mut hay, span);
    }
    let Some(word) = excluded.first().and_then(|(i, _)| keywords.exclude.get(*i)) else {
        return read(&hay, keywords);
    };
    let word = word.clone();
    // The excluded word stays in: `11月考勤报表` has a report's shape
    // through its 报表, and is flagged rather than ignored.
    let shape = match read(&hay, keywords) {
        Reading::Report(kind) => Some(kind),
        _ => None,
    };
    Reading::Excluded { word, shape }
}

// ---------------------------------------------------------------------------
// Words.

/// What a word of a subject is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    /// A period word of this kind (`周`, `本月`, `weekly`, `第48周`).
    Period(Kind),
    /// A period word and a report word in one (`周报`, `月报`).
    PeriodReport(Kind),
    /// A report word; a strong one (总结, 汇报, 小结) marks a report even
    /// without a period, to be flagged.
    Report { strong: bool },
    /// A report word only right after a period word: `报` (`周 报`,
    /// `11月报`), `汇总` (`周汇总`), `工作情况`, `status`, `highlights`.
    Bound,
    /// A configured phrase that marks a report of this kind by itself.
    Addition(Kind),
    /// Looks like a period or report word but means something else.
    LookAlike,
}

const W: Word = Word::Period(Kind::Weekly);
const M: Word = Word::Period(Kind::Monthly);
const STRONG: Word = Word::Report { strong: true };
const WEAK: Word = Word::Report { strong: false };
const LOOK: Word = Word::LookAlike;

/// The Chinese words, folded (simplified, lower case). Longest match wins
/// at each place, so a look-alike hides the shorter word it contains.
const LEXICON: &[(&str, Word)] = &[
    // Weeks.
    ("周", W),
    ("本周", W),
    ("上周", W),
    ("下周", W),
    ("这周", W),
    ("每周", W),
    ("该周", W),
    ("当周", W),
    ("周度", W),
    ("星期", W),
    ("周报", Word::PeriodReport(Kind::Weekly)),
    ("周总结", Word::PeriodReport(Kind::Weekly)),
    // `周报销售`: a weekly report, then 销售 (sales); not 周 + 报销.
    ("周报销售", Word::PeriodReport(Kind::Weekly)),
    // Months.
    ("月", M),
    ("本月", M),
    ("上月", M),
    ("下月", M),
    ("这月", M),
    ("每月", M),
    ("该月", M),
    ("当月", M),
    ("次月", M),
    ("月度", M),
    ("月份", M),
    ("月末", M),
    ("月底", M),
    ("月初", M),
    ("月报", Word::PeriodReport(Kind::Monthly)),
    ("月报销售", Word::PeriodReport(Kind::Monthly)),
    // Reports.
    ("总结", STRONG),
    ("汇报", STRONG),
    ("小结", STRONG),
    ("报告", WEAK),
    ("简报", WEAK),
    ("报表", WEAK),
    ("回顾", WEAK),
    ("报", Word::Bound),
    // Report words only right after a period word: `周汇总`, `本周工作情况`.
    ("汇总", Word::Bound),
    ("工作情况", Word::Bound),
    ("汇总表", LOOK),
    // 周 that is not a week: weekdays, weekend, anniversary, magazine,
    // surroundings, cycle, turnover, Mr. Zhou (周总).
    ("周一", LOOK),
    ("周二", LOOK),
    ("周三", LOOK),
    ("周四", LOOK),
    ("周五", LOOK),
    ("周六", LOOK),
    ("周日", LOOK),
    ("周天", LOOK),
    ("周末", LOOK),
    ("周年", LOOK),
    ("周刊", LOOK),
    ("周边", LOOK),
    ("周期", LOOK),
    ("周转", LOOK),
    ("周围", LOOK),
    ("周到", LOOK),
    ("周全", LOOK),
    ("周知", LOOK),
    ("周岁", LOOK),
    ("周旋", LOOK),
    ("周密", LOOK),
    ("周总", LOOK),
    ("周报价", LOOK),
    ("周报销", LOOK),
    ("周报名", LOOK),
    ("星期一", LOOK),
    ("星期二", LOOK),
    ("星期三", LOOK),
    ("星期四", LOOK),
    ("星期五", LOOK),
    ("星期六", LOOK),
    ("星期日", LOOK),
    ("星期天", LOOK),
    // 月 that is not a month.
    ("个月", LOOK),
    ("月饼", LOOK),
    ("岁月", LOOK),
    ("月刊", LOOK),
    ("月亮", LOOK),
    ("月光", LOOK),
    ("月球", LOOK),
    ("月薪", LOOK),
    ("月嫂", LOOK),
    ("月子", LOOK),
    ("月卡", LOOK),
    ("月租", LOOK),
    ("月报价", LOOK),
    ("月报销", LOOK),
    // 报 that is not a report: quote, expenses, sign-up, check-in, news,
    // customs, tax, repair, police, scrap, newspaper, filing, approval,
    // exam, forecast, poster, telegram, tip-off, daily paper, return.
    ("报价", LOOK),
    ("报销", LOOK),
    ("报名", LOOK),
    ("报到", LOOK),
    ("报道", LOOK),
    ("报关", LOOK),
    ("报税", LOOK),
    ("报修", LOOK),
    ("报警", LOOK),
    ("报废", LOOK),
    ("报纸", LOOK),
    ("报备", LOOK),
    ("报批", LOOK),
    ("报考", LOOK),
    ("预报", LOOK),
    ("海报", LOOK),
    ("电报", LOOK),
    ("举报", LOOK),
    ("日报", LOOK),
    ("晚报", LOOK),
    ("早报", LOOK),
    ("情报", LOOK),
    ("回报", LOOK),
    // Meetings and one-off summaries or reports of a subject, not a period.
    ("总结会", LOOK),
    ("汇报会", LOOK),
    ("总结大会", LOOK),
    ("汇报大会", LOOK),
    ("活动总结", LOOK),
    ("培训总结", LOOK),
    ("会议总结", LOOK),
    ("出差报告", LOOK),
    ("调研报告", LOOK),
    ("分析报告", LOOK),
    ("投诉报告", LOOK),
    ("事故报告", LOOK),
    ("检测报告", LOOK),
    ("体检报告", LOOK),
    ("评估报告", LOOK),
    ("审计报告", LOOK),
    ("考察报告", LOOK),
];

static LEXICON_MATCHER: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(LEXICON.iter().map(|(w, _)| w))
        .ok()
});

/// An English word of a subject, with the words around it: a report word
/// after a subject (`expense report`) or before a meeting (`review
/// meeting`) is not a periodic report.
fn english_word(word: &str, before: Option<&str>, after: Option<&str>) -> Option<Word> {
    const SUBJECTS: &[&str] = &[
        "expense",
        "expenses",
        "trip",
        "travel",
        "incident",
        "accident",
        "bug",
        "test",
        "audit",
        "analysis",
        "inspection",
        "credit",
        "error",
        "delivery",
        "medical",
        "lab",
    ];
    const EVENTS: &[&str] = &["meeting", "call", "session", "template", "lunch"];
    match word {
        // End of week, end of month.
        "week" | "weekly" | "weeks" | "wk" | "eow" => Some(W),
        "month" | "monthly" | "months" | "eom" => Some(M),
        "status" | "highlights" | "wrapup" => Some(Word::Bound),
        "wrap" if after == Some("up") => Some(Word::Bound),
        "report" | "reports" | "rpt" | "summary" | "update" | "updates" | "recap" | "review" => {
            let other = before.is_some_and(|b| SUBJECTS.contains(&b))
                || after.is_some_and(|a| EVENTS.contains(&a));
            Some(if other { LOOK } else { WEAK })
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Tokens.

/// A word found in the folded subject.
#[derive(Debug, Clone)]
struct Token {
    span: Range<usize>,
    word: Word,
    /// Written with numbers (`第48周`, `11月`, `2026.06`): more specific
    /// than `周` or `monthly`.
    numbered: bool,
}

/// Every word of `hay` that matters, in order of place.
fn tokens(hay: &str, keywords: &Keywords) -> Vec<Token> {
    let mut rest = hay.to_string();
    let mut out = Vec::new();
    for n in numbered(hay) {
        if let Some(kind) = n.kind {
            out.push(Token {
                span: n.span.clone(),
                word: Word::Period(kind),
                numbered: true,
            });
        }
        // Days too: the 月 of `11月23日` is no month.
        blank(&mut rest, n.span);
    }
    if let Some(ac) = LEXICON_MATCHER.as_ref() {
        let words: Vec<Token> = ac
            .find_iter(&rest)
            .map(|m| Token {
                span: m.range(),
                word: LEXICON[m.pattern().as_usize()].1,
                numbered: false,
            })
            .collect();
        let names: Vec<usize> = (0..words.len())
            .filter(|&i| starts_a_name(&rest, &words, i))
            .collect();
        out.extend(
            words
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !names.contains(i))
                .map(|(_, t)| t),
        );
    }
    out.extend(english_tokens(&rest));
    out.extend(additions(hay, keywords));
    out.sort_by_key(|t| (t.span.start, t.span.end));
    out
}

/// Whether `words[i]` is a bare 周 or 月 that starts a name rather than
/// names a period: right before a Chinese character that begins no word
/// of the lexicon and no filler (周大福, 周经理, 周董, 月星集团), where a
/// period word is followed by its report word (周报, 周汇报, 月工作总结),
/// a separator, or a number.
fn starts_a_name(hay: &str, words: &[Token], i: usize) -> bool {
    let t = &words[i];
    if !matches!(&hay[t.span.clone()], "周" | "月") {
        return false;
    }
    let after = &hay[t.span.end..];
    let han = after
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}'));
    let word_follows = words.get(i + 1).is_some_and(|n| n.span.start == t.span.end);
    // A period's plan or meeting: `周计划与总结`, `月例会`.
    let plan = ["计划", "安排", "目标", "例会"]
        .iter()
        .any(|p| after.starts_with(p));
    han && !word_follows && !plan && skip_fillers(after).len() == after.len()
}

fn english_tokens(hay: &str) -> Vec<Token> {
    let words = latin_words(hay);
    let mut out = Vec::new();
    for (i, &(start, word)) in words.iter().enumerate() {
        let before = i.checked_sub(1).and_then(|b| words.get(b)).map(|w| w.1);
        let after = words.get(i + 1).map(|w| w.1);
        if let Some(w) = english_word(word, before, after) {
            out.push(Token {
                span: start..start + word.len(),
                word: w,
                numbered: false,
            });
        }
    }
    out
}

/// Runs of ASCII letters with their byte offsets.
fn latin_words(hay: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in hay.char_indices().chain([(hay.len(), ' ')]) {
        match (c.is_ascii_alphabetic(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, &hay[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// The configured extra phrases, compared like keywords (ignoring case,
/// spaces and `-_.`), longest first where they overlap.
fn additions(hay: &str, keywords: &Keywords) -> Vec<Token> {
    let phrases: Vec<(&String, Kind)> = keywords
        .weekly
        .iter()
        .map(|p| (p, Kind::Weekly))
        .chain(keywords.monthly.iter().map(|p| (p, Kind::Monthly)))
        .collect();
    let words: Vec<String> = phrases.iter().map(|(p, _)| (*p).clone()).collect();
    find_words(hay, &words)
        .into_iter()
        .map(|(i, span)| Token {
            span,
            word: Word::Addition(phrases[i].1),
            numbered: false,
        })
        .collect()
}

type Matcher = Option<Arc<AhoCorasick>>;

/// Compiled matchers of configured word lists, by list: a message is
/// classified many times a second and the lists change only with the
/// config, so each list is compiled once (a process holds a few).
static MATCHERS: LazyLock<Mutex<HashMap<Vec<String>, Matcher>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A leftmost-longest matcher of `words` in [`keyword_form`]; `None` when
/// there are none.
fn matcher(words: &[String]) -> Matcher {
    let Ok(mut cache) = MATCHERS.lock() else {
        return compile(words);
    };
    if let Some(m) = cache.get(words) {
        return m.clone();
    }
    let m = compile(words);
    cache.insert(words.to_vec(), m.clone());
    m
}

fn compile(words: &[String]) -> Matcher {
    let forms: Vec<String> = words.iter().map(|w| keyword_form(w)).collect();
    if forms.iter().all(String::is_empty) {
        return None;
    }
    // An empty form would match everywhere: give it a text no subject has.
    let forms = forms.iter().map(|f| {
        if f.is_empty() {
            "\u{0}\u{0}"
        } else {
            f.as_str()
        }
    });
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(forms)
        .ok()
        .map(Arc::new)
}

/// `hay` without spaces and `-_.·`, and the way back from a range of that
/// text to the range of `hay` it came from.
fn compact(hay: &str) -> (String, impl Fn(Range<usize>) -> Range<usize>) {
    let mut text = String::new();
    // For each byte of `text`, where its character starts and ends in `hay`.
    let mut from: Vec<Range<usize>> = Vec::new();
    for (i, c) in hay.char_indices() {
        if !is_keyword_separator(c) {
            text.push(c);
            from.extend(std::iter::repeat_n(i..i + c.len_utf8(), c.len_utf8()));
        }
    }
    let origin = move |r: Range<usize>| {
        let start = from.get(r.start).map_or(0, |s| s.start);
        let end = r
            .end
            .checked_sub(1)
            .and_then(|last| from.get(last))
            .map_or(start, |s| s.end);
        start..end
    };
    (text, origin)
}

/// Every configured word found in `hay` (compared like keywords): its
/// index in `words`, and where it is.
fn find_words(hay: &str, words: &[String]) -> Vec<(usize, Range<usize>)> {
    let Some(ac) = matcher(words) else {
        return Vec::new();
    };
    let (compact, origin) = compact(hay);
    ac.find_iter(&compact)
        .map(|m| (m.pattern().as_usize(), origin(m.range())))
        .collect()
}

/// Replaces `span` of `hay` with as many spaces, keeping every offset.
fn blank(hay: &mut String, span: Range<usize>) {
    if hay.is_char_boundary(span.start) && hay.is_char_boundary(span.end) && span.start < span.end {
        let spaces = " ".repeat(span.end - span.start);
        hay.replace_range(span, &spaces);
    }
}

// ---------------------------------------------------------------------------
// The shape.

/// Whether only separators and filler words stand between `a` and `b`.
fn adjacent(hay: &str, a: &Token, b: &Token) -> bool {
    match hay.get(a.span.end..b.span.start) {
        Some(gap) => skip_fillers(gap).is_empty(),
        None => a.span.end > b.span.start,
    }
}

fn is_report(word: Word) -> bool {
    matches!(
        word,
        Word::Report { .. } | Word::Bound | Word::PeriodReport(_) | Word::Addition(_)
    )
}

/// One reason to read a subject as a report of `kind`.
#[derive(Debug, Clone, Copy)]
struct Evidence {
    kind: Kind,
    /// A period word right before its report word (`周报`, `月度工作总结`,
    /// `Weekly sales update`), or a configured phrase.
    direct: bool,
    numbered: bool,
    addition: bool,
}

/// The report words that count: `报` only right after a period word.
fn report_words<'t>(hay: &str, tokens: &'t [Token]) -> Vec<&'t Token> {
    let mut out = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let counts = match t.word {
            Word::Bound => i
                .checked_sub(1)
                .and_then(|p| tokens.get(p))
                .is_some_and(|p| matches!(p.word, Word::Period(_)) && adjacent(hay, p, t)),
            w => is_report(w),
        };
        if counts {
            out.push(t);
        }
    }
    out
}

fn evidence(hay: &str, tokens: &[Token]) -> Vec<Evidence> {
    let reports = report_words(hay, tokens);
    if reports.is_empty() {
        return Vec::new();
    }
    let followed_by_report = |i: usize| {
        tokens.get(i + 1).is_some_and(|n| {
            reports.iter().any(|r| r.span == n.span) && adjacent(hay, &tokens[i], n)
        })
    };
    let mut out = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let (kind, direct, addition) = match t.word {
            Word::Period(kind) => (kind, followed_by_report(i), false),
            Word::PeriodReport(kind) => (kind, true, false),
            Word::Addition(kind) => (kind, true, true),
            _ => continue,
        };
        out.push(Evidence {
            kind,
            direct,
            numbered: t.numbered,
            addition,
        });
    }
    out
}

/// The one kind among `evidence` that passes `filter`, if exactly one.
fn only_kind(evidence: &[Evidence], filter: impl Fn(&Evidence) -> bool) -> Option<Kind> {
    let mut kinds = evidence.iter().filter(|e| filter(e)).map(|e| e.kind);
    let first = kinds.next()?;
    kinds.all(|k| k == first).then_some(first)
}

/// The kind of a subject with evidence of both kinds: a configured phrase
/// first, then the kind whose period word stands right before a report
/// word, then the kind whose period is written with numbers, then the
/// first direct evidence.
fn decide_kind(evidence: &[Evidence]) -> Option<Kind> {
    only_kind(evidence, |e| e.addition)
        .or_else(|| only_kind(evidence, |_| true))
        .or_else(|| only_kind(evidence, |e| e.direct))
        .or_else(|| only_kind(evidence, |e| e.numbered))
        .or_else(|| evidence.iter().find(|e| e.direct).map(|e| e.kind))
        .or_else(|| evidence.first().map(|e| e.kind))
}

/// Reads a folded subject (names already blanked), without exclusions.
fn read(hay: &str, keywords: &Keywords) -> Reading {
    let tokens = tokens(hay, keywords);
    if let Some(kind) = decide_kind(&evidence(hay, &tokens)) {
        return Reading::Report(kind);
    }
    match tokens
        .iter()
        .find(|t| t.word == Word::Report { strong: true })
    {
        Some(t) => Reading::NoPeriod {
            word: hay[t.span.clone()].to_string(),
        },
        None => Reading::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> Keywords {
        Keywords {
            weekly: Vec::new(),
            monthly: Vec::new(),
            exclude: Vec::new(),
            ..Keywords::default()
        }
    }

    fn nobody(_: &str) -> Vec<Range<usize>> {
        Vec::new()
    }

    fn zhou_ming_and_wang_yue(hay: &str) -> Vec<Range<usize>> {
        ["周明", "王月"]
            .iter()
            .flat_map(|n| hay.match_indices(n).map(|(at, n)| at..at + n.len()))
            .collect()
    }

    fn kind(subject: &str) -> Option<Kind> {
        match recognise(subject, &plain(), &nobody) {
            Reading::Report(kind) => Some(kind),
            _ => None,
        }
    }

    #[test]
    fn every_former_default_keyword_is_read_by_the_shape_alone() {
        for s in [
            "周报",
            "周总结",
            "周工作总结",
            "工作周报",
            "weekly report",
            "week report",
        ] {
            assert_eq!(kind(s), Some(Kind::Weekly), "{s}");
        }
        for s in [
            "月报",
            "月度总结",
            "月工作总结",
            "月度报告",
            "工作月报",
            "monthly report",
            "month report",
        ] {
            assert_eq!(kind(s), Some(Kind::Monthly), "{s}");
        }
    }

    #[test]
    fn period_and_report_words_count_in_either_order_with_anything_between() {
        assert_eq!(kind("宋旭娜 2025.06 月度工作总结"), Some(Kind::Monthly));
        assert_eq!(kind("张伟-第48周-工作汇报"), Some(Kind::Weekly));
        assert_eq!(kind("Weekly sales update - W48"), Some(Kind::Weekly));
        assert_eq!(kind("工作汇报（第48周）张伟"), Some(Kind::Weekly));
        assert_eq!(kind("Status report - week 48"), Some(Kind::Weekly));
        assert_eq!(kind("周 报"), Some(Kind::Weekly));
        assert_eq!(kind("Weekly"), None);
        assert_eq!(kind("客户名单"), None);
    }

    #[test]
    fn look_alikes_are_read_as_what_they_are() {
        for s in [
            "本周报销单",
            "11月报价单",
            "下周报名截止",
            "周末团建",
            "公司十周年庆",
            "12个月销售数据",
            "客户月报价格调整",
            "出差报告（上海，11.23-11.25）",
            "Expense report November",
            "日报 11.23-11.28",
            "【通知】11月月度总结会议",
        ] {
            assert_eq!(kind(s), None, "{s}");
        }
        assert_eq!(kind("张伟 第48周周报销售一组"), Some(Kind::Weekly));
        assert_eq!(kind("周总：第48周工作汇报"), Some(Kind::Weekly));
    }

    #[test]
    fn the_period_word_next_to_the_report_word_decides_the_kind() {
        assert_eq!(kind("月度总结暨下周计划"), Some(Kind::Monthly));
        assert_eq!(kind("Weekly Summary (Nov 23 - Nov 28)"), Some(Kind::Weekly));
        assert_eq!(kind("11月第4周周报"), Some(Kind::Weekly));
        // Both direct: the one named with numbers, else the first.
        assert_eq!(kind("11月月报（含周报）"), Some(Kind::Monthly));
        assert_eq!(kind("月报格式的第48周周报"), Some(Kind::Weekly));
        assert_eq!(kind("周报及月报"), Some(Kind::Weekly));
        assert_eq!(kind("11月月报暨第48周周报"), Some(Kind::Monthly));
    }

    #[test]
    fn names_are_no_periods() {
        let k = plain();
        assert_eq!(
            recognise("周明 工作总结", &k, &zhou_ming_and_wang_yue),
            Reading::NoPeriod {
                word: "总结".into()
            }
        );
        // Unknown names too: 周 or 月 starting a run of characters that
        // are no report word is a name or a brand, not a period.
        for s in [
            "周明 工作总结",
            "周大福项目进展汇报",
            "与周董会谈总结",
            "月星集团拜访总结",
        ] {
            assert!(
                matches!(recognise(s, &k, &nobody), Reading::NoPeriod { .. }),
                "{s}"
            );
        }
        for s in ["周经理拜访情况汇报", "周黑鸭门店拓展方案汇报"] {
            assert_ne!(kind(s), Some(Kind::Weekly), "{s}");
        }
        // A period word followed by its report word is still one.
        for (s, k) in [
            ("张伟周汇报", Kind::Weekly),
            ("周计划与总结-张伟", Kind::Weekly),
            ("张伟 周汇总", Kind::Weekly),
            ("【商务一组】周工作小结-张伟", Kind::Weekly),
            ("宋旭娜 2025/06 月总结", Kind::Monthly),
            ("张伟 月工作总结 2026.11", Kind::Monthly),
        ] {
            assert_eq!(recognise(s, &plain(), &nobody), Reading::Report(k), "{s}");
        }
        assert_eq!(
            recognise("王月 第48周周报", &k, &zhou_ming_and_wang_yue),
            Reading::Report(Kind::Weekly)
        );
    }

    #[test]
    fn a_strong_report_word_without_a_period_is_a_report_of_no_kind() {
        assert_eq!(
            recognise("张伟 工作汇报", &plain(), &nobody),
            Reading::NoPeriod {
                word: "汇报".into()
            }
        );
        // A weak one alone is not (`客户投诉处理报告`, `Contract update`).
        assert_eq!(
            recognise("客户投诉处理报告", &plain(), &nobody),
            Reading::Nothing
        );
        assert_eq!(
            recognise("Contract update", &plain(), &nobody),
            Reading::Nothing
        );
    }

    #[test]
    fn configured_phrases_add_a_report_of_their_kind() {
        let k = Keywords {
            weekly: vec!["例会纪要".into()],
            monthly: vec!["Month-End Pack".into()],
            ..plain()
        };
        assert_eq!(
            recognise("张伟 例会纪要", &k, &nobody),
            Reading::Report(Kind::Weekly)
        );
        assert_eq!(
            recognise("MONTH END PACK 张伟", &k, &nobody),
            Reading::Report(Kind::Monthly)
        );
        assert_eq!(
            recognise("张伟 例会纪要", &plain(), &nobody),
            Reading::Nothing
        );
        // The default exclusions hold 例会, which a team's own phrase
        // overrides.
        let k = Keywords {
            weekly: vec!["例会纪要".into()],
            ..Keywords::default()
        };
        assert_eq!(
            recognise("张伟 例会纪要", &k, &nobody),
            Reading::Report(Kind::Weekly)
        );
        assert!(matches!(
            recognise("周例会纪要模板", &k, &nobody),
            Reading::Excluded { .. }
        ));
        // A longer phrase holds the shorter one it contains.
        let k = Keywords {
            weekly: vec!["周报".into()],
            monthly: vec!["月度周报汇总".into()],
            ..plain()
        };
        assert_eq!(
            recognise("月度周报汇总", &k, &nobody),
            Reading::Report(Kind::Monthly)
        );
    }

    #[test]
    fn an_excluded_word_vetoes_and_says_what_the_subject_would_have_been() {
        let k = Keywords {
            exclude: vec!["Newsletter".into(), "周刊".into()],
            ..plain()
        };
        assert_eq!(
            recognise("Weekly news letter: sales update", &k, &nobody),
            Reading::Excluded {
                word: "Newsletter".into(),
                shape: Some(Kind::Weekly)
            }
        );
        let newsletter = |hay: &str| {
            hay.match_indices("营销周刊")
                .map(|(at, n)| at..at + n.len())
                .collect()
        };
        assert_eq!(
            recognise("营销周刊 第48期 本周总结", &k, &newsletter),
            Reading::Excluded {
                word: "周刊".into(),
                shape: Some(Kind::Weekly)
            }
        );
        assert_eq!(
            recognise("营销周刊 第48期", &k, &nobody),
            Reading::Excluded {
                word: "周刊".into(),
                shape: None
            }
        );
    }

    #[test]
    fn compact_maps_back_to_the_original_text() {
        let (text, origin) = compact("a-b c·周报");
        assert_eq!(text, "abc周报");
        assert_eq!(origin(1..3), 2..5);
        assert_eq!(origin(3..9), "a-b c·".len().."a-b c·周报".len());
    }
}
