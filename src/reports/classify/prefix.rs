//! Reply and forward prefixes (`Re:`, `回复：`, `Fwd:`, `转发:`, `AW:`,
//! `RE[2]:`): the one thing that makes a reporter's message a reply or a
//! forward rather than a report. In-Reply-To does not: a rep may write this
//! week's report inside last week's thread.

use crate::config::Keywords;

use super::fold::fold;

/// Forward markers (folded), whatever the configured reply prefixes say: a
/// forward is never a report, and a supervisor's forward is not a reply.
const FORWARD_PREFIXES: &[&str] = &["fw", "fwd", "转发", "转寄", "wg"];

/// The first prefix of a subject (`Re`, `回复`, `Fwd`), folded and lower
/// case, after any leading bracketed tags (`[外部]`, `【External】`).
fn first_prefix(subject: &str) -> Option<String> {
    let folded = fold(subject);
    let mut rest = folded.trim_start();
    // Leading tags, e.g. `[外部] Re: ...`.
    for _ in 0..4 {
        let close = match rest.chars().next() {
            Some('[') => ']',
            Some('【') => '】',
            Some('〔') => '〕',
            _ => break,
        };
        match rest.find(close) {
            Some(end) if rest[..end].chars().count() <= 40 => {
                rest = rest[end + close.len_utf8()..].trim_start()
            }
            _ => break,
        }
    }
    let colon = rest.find(':')?;
    let head = rest[..colon].trim_end();
    // A counter after the prefix: `Re[2]:`, `RE(3):`, `Re^2:`.
    let head = head
        .trim_end_matches(|c: char| c.is_ascii_digit() || "[]()^ ".contains(c))
        .trim_end();
    (!head.is_empty() && head.chars().count() <= 8).then(|| head.to_string())
}

/// A configured prefix as compared: folded, without a trailing colon.
fn prefix_form(p: &str) -> String {
    fold(p).trim().trim_end_matches(':').trim_end().to_string()
}

/// Whether the subject starts with a reply or forward prefix (Re:, 回复:, ...).
///
/// Prefixes come from `keywords.reply_prefixes` (with or without their
/// colon), compared case-insensitively; the colon may be fullwidth (`：`),
/// there may be leading tags (`[外部] Re:`), a counter (`Re[2]:`) and
/// spaces before the colon (`RE :`).
pub fn has_reply_prefix(subject: &str, keywords: &Keywords) -> bool {
    let Some(first) = first_prefix(subject) else {
        return false;
    };
    keywords.reply_prefixes.iter().any(|p| {
        let p = prefix_form(p);
        !p.is_empty() && p == first
    })
}

/// The subject after its leading reply prefixes (`Re: 回复: ...`), folded,
/// with every space dropped: the form in which a reply's subject is
/// compared with a report's (`Re: 周报 第32周` and `回复：周报　第３２周`
/// are one).
pub fn reply_core(subject: &str, keywords: &Keywords) -> String {
    let mut rest = fold(subject);
    // A bounded loop: a subject may stack a few prefixes, never many.
    for _ in 0..8 {
        if !has_reply_prefix(&rest, keywords) {
            break;
        }
        match rest.find(':') {
            Some(colon) => rest = rest[colon + 1..].to_string(),
            None => break,
        }
    }
    rest.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Whether the subject starts with a forward prefix (Fw:, Fwd:, 转发:, ...).
pub fn is_forward(subject: &str) -> bool {
    first_prefix(subject).is_some_and(|p| FORWARD_PREFIXES.contains(&p.as_str()))
}
/// Whether the subject starts with a configured reply prefix or a forward
/// prefix.
pub fn is_reply_or_forward(subject: &str, keywords: &Keywords) -> bool {
    has_reply_prefix(subject, keywords) || is_forward(subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_core_drops_stacked_prefixes_spaces_and_width() {
        let k = Keywords::default();
        let core = reply_core("Re: 周报 第32周（8月3日–9日） 李娜", &k);
        assert_eq!(
            reply_core("回复：RE: 周报　第３２周（8月3日–9日）李娜", &k),
            core
        );
        assert_eq!(reply_core("周报 第32周（8月3日–9日） 李娜", &k), core);
        assert_ne!(reply_core("Re: 周报 第33周（8月10日–16日） 李娜", &k), core);
    }

    #[test]
    fn reply_prefixes_match_only_at_the_start() {
        let k = Keywords::default();
        assert!(has_reply_prefix("re:周报", &k));
        assert!(has_reply_prefix("  AW: Wochenbericht", &k));
        assert!(!has_reply_prefix("周报 re: 客户", &k));
        assert!(!has_reply_prefix("Report: weekly", &k));
        assert!(!has_reply_prefix("Regional weekly report", &k));
        assert!(!has_reply_prefix("[周报] 张伟 W48", &k));
        assert!(!has_reply_prefix("张伟：第48周周报", &k));
        assert!(!has_reply_prefix("", &k));
    }

    #[test]
    fn reply_prefixes_are_configurable_with_or_without_colon() {
        let k = Keywords {
            reply_prefixes: vec!["SV".into(), "答复：".into()],
            ..Keywords::default()
        };
        assert!(has_reply_prefix("Sv: rapport", &k));
        assert!(has_reply_prefix("答复: 周报", &k));
        assert!(!has_reply_prefix("Re: 周报", &k));
    }
    #[test]
    fn every_clients_reply_and_forward_prefix_is_recognised() {
        let k = Keywords::default();
        for subject in [
            "Re: 周报",
            "RE: 周报",
            "回复: 周报",
            "回复：周报",
            "答复: 周报",
            "答复：周报",
            "转发: 周报",
            "转发：周报",
            "Fw: 周报",
            "FW: 周报",
            "Fwd: 周报",
            "回覆: 週報",
            "轉寄: 週報",
            "AW: report",
            "WG: report",
            "SV: report",
            "VS: report",
            "Antw: report",
            "RE[2]: 周报",
            "Re(3): 周报",
            "Re^2: 周报",
            "Ｒｅ：周报",
            "[外部] Re: 周报",
            "【外部邮件】回复:周报",
        ] {
            assert!(is_reply_or_forward(subject, &k), "{subject}");
        }
    }
}
