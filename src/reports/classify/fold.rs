//! The one form subjects are compared in: fullwidth ASCII becomes ASCII,
//! dashes become `-`, traditional characters of the words reportd looks
//! for become simplified ones, and everything is lower case. Keywords from
//! the config are compared in [`keyword_form`], which also drops spaces and
//! separators, so `Weekly Report`, `weekly-report` and `WEEKLYREPORT` are
//! one word.

/// Traditional characters of the words reportd reads in subjects (report
/// and period words, their look-alikes, reply prefixes), with their
/// simplified forms: a Big5 client writes `週報`, `月報`, `回覆:`, `轉寄:`.
const TRADITIONAL: &[(char, char)] = &[
    ('週', '周'),
    ('報', '报'),
    ('總', '总'),
    ('結', '结'),
    ('匯', '汇'),
    ('彙', '汇'),
    ('轉', '转'),
    ('發', '发'),
    ('覆', '复'),
    ('復', '复'),
    ('號', '号'),
    ('價', '价'),
    ('銷', '销'),
    ('簡', '简'),
    ('會', '会'),
    ('議', '议'),
    ('歲', '岁'),
    ('餅', '饼'),
    ('個', '个'),
    ('訂', '订'),
    ('訊', '讯'),
    ('請', '请'),
    ('動', '动'),
    ('訓', '训'),
    ('調', '调'),
    ('檢', '检'),
    ('測', '测'),
    ('評', '评'),
    ('審', '审'),
    ('紀', '纪'),
    ('業', '业'),
    ('務', '务'),
    ('顧', '顾'),
    ('當', '当'),
    ('這', '这'),
];

/// Fullwidth ASCII to ASCII, ideographic space to space, dashes to `-`,
/// wave dashes to `~`, the traditional characters of [`TRADITIONAL`] to
/// simplified ones, then lower case.
pub fn fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' => '-',
            '\u{301C}' | '\u{223C}' => '~',
            _ => TRADITIONAL
                .iter()
                .find(|(t, _)| *t == c)
                .map(|&(_, s)| s)
                .unwrap_or(c),
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// What configured words are compared without: spaces, `-`, `_`, `.`, `·`.
pub fn is_keyword_separator(c: char) -> bool {
    c.is_whitespace() || "-_.·".contains(c)
}

/// The form configured words are compared in: folded, without
/// [`is_keyword_separator`] characters.
pub fn keyword_form(s: &str) -> String {
    fold(s)
        .chars()
        .filter(|c| !is_keyword_separator(*c))
        .collect()
}

/// Words that may stand between a period word and its report word without
/// parting them (`月度工作总结`, `weekly sales update`).
const FILLERS: &[&str] = &[
    "工作",
    "销售",
    "业务",
    "业绩",
    "述职",
    "个人",
    "团队",
    "的",
    "sales",
    "status",
    "team",
    "work",
    "progress",
    "performance",
];

/// What parts words in a subject: spaces, ASCII and CJK punctuation.
pub fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || c.is_ascii_punctuation()
        || "【】（）《》「」『』〔〕，、：；。！？·…".contains(c)
}

/// `text` without the separators and filler words it starts with: what
/// follows a period word once `工作`, `的`, spaces and the like are passed.
pub fn skip_fillers(mut text: &str) -> &str {
    loop {
        text = text.trim_start_matches(is_separator);
        match FILLERS.iter().find(|f| text.starts_with(*f)) {
            Some(f) => text = &text[f.len()..],
            None => return text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fullwidth_traditional_and_case_fold_to_one_form() {
        assert_eq!(fold("Ｗ４８　週報：張偉"), "w48 周报:張偉");
        assert_eq!(fold("11.23－11.28～"), "11.23-11.28~");
        assert_eq!(keyword_form("Weekly-Report_W.48"), "weeklyreportw48");
    }
}
