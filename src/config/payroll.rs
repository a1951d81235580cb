//! The `[payroll]` section: the pay rules as data (the handbook's values
//! when a key is left out), who receives the monthly payroll summary, and
//! when it goes out. Every mistake names the file, the key and the line, as
//! in the other sections.

use chrono::NaiveTime;
use toml::de::DeValue;

use super::{
    At, Ctx, Roster, Sec, check_keys, opt_int_in, opt_str, opt_str_list, opt_table, opt_time,
    wrong_type,
};
use crate::money::Fen;
use crate::notify::schedule::CloseTime;
use crate::payroll::rules::{
    AchievementBand, AchievementTable, Bracket, Level, MarginalTable, PayRules, Rate,
};

/// The `[payroll]` section, with defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayrollConfig {
    pub rules: PayRules,
    /// Lower-cased addresses of configured people; by default every
    /// assistant and manager.
    pub recipients: Vec<String>,
    /// When the summary of a month goes out: by default the third working
    /// day of the next month at `[notify] digest_time`.
    pub send: CloseTime,
}

impl PayrollConfig {
    /// The defaults for a roster and a digest time.
    pub fn defaults(roster: &Roster, digest_time: NaiveTime) -> PayrollConfig {
        PayrollConfig {
            rules: PayRules::default(),
            recipients: default_recipients(roster),
            send: CloseTime {
                working_day: 3,
                time: digest_time,
            },
        }
    }
}

fn default_recipients(roster: &Roster) -> Vec<String> {
    roster
        .assistants()
        .chain(roster.managers())
        .map(|p| p.email.clone())
        .collect()
}

const PAYROLL_KEYS: &[&str] = &[
    "recipients",
    "send_working_day",
    "send_time",
    "base_probation_yuan",
    "base_regular_yuan",
    "base_supervisor_yuan",
    "base_manager_yuan",
    "base_performance_yuan",
    "probation_two_months_yuan",
    "minimum_target_yuan",
    "proxy_share",
    "sms_rate",
    "clerk_commission",
    "rep_commission",
    "supervisor_bands",
    "manager_bands",
    "level",
];

/// Reads `[payroll]` if present.
pub(super) fn parse(
    ctx: &mut Ctx<'_>,
    root: &Sec<'_, '_>,
    roster: &Roster,
    digest_time: NaiveTime,
) -> PayrollConfig {
    let mut cfg = PayrollConfig::defaults(roster, digest_time);
    let Some(sec) = opt_table(ctx, root, "payroll") else {
        return cfg;
    };
    check_keys(ctx, &sec, PAYROLL_KEYS);
    if let Some(list) = recipients(ctx, &sec, roster) {
        cfg.recipients = list;
    }
    if let Some(day) = opt_int_in(
        ctx,
        &sec,
        "send_working_day",
        1..=15,
        "it counts working days of the next month, from 1 to 15",
        "send_working_day = 3",
    ) && let Ok(day) = u32::try_from(day.v)
    {
        cfg.send.working_day = day;
    }
    if let Some(t) = opt_time(ctx, &sec, "send_time", r#"send_time = "08:30""#) {
        cfg.send.time = t;
    }
    money_keys(ctx, &sec, &mut cfg.rules);
    rates(ctx, &sec, &mut cfg.rules);
    tables(ctx, &sec, &mut cfg.rules);
    if let Some(levels) = levels(ctx, &sec) {
        cfg.rules.levels = levels;
    }
    cfg
}

fn recipients(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>, roster: &Roster) -> Option<Vec<String>> {
    let example = r#"recipients = ["zhaomin@example.com", "chengang@example.com"]"#;
    let items = opt_str_list(ctx, sec, "recipients", example)?;
    if items.is_empty() {
        let line = sec
            .get("recipients")
            .map_or(sec.line, |i| ctx.line(i.span()));
        ctx.push(
            sec.key("recipients"),
            line,
            format!("is empty, so the summary would go to nobody; write e.g. {example}"),
        );
        return None;
    }
    let mut out = Vec::new();
    for (i, item) in items {
        let email = item.v.trim().to_lowercase();
        match roster.by_email(&email) {
            Some(p) => out.push(p.email.clone()),
            None => ctx.push(
                format!("{}[{i}]", sec.key("recipients")),
                item.line,
                format!(
                    "\"{}\" is not the address of a configured [[person]]; add them or fix the \
                     address",
                    item.v
                ),
            ),
        }
    }
    Some(out)
}

/// Whole yuan in 0..=10,000,000.
fn yuan(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>, key: &str, example: &str) -> Option<Fen> {
    opt_int_in(
        ctx,
        sec,
        key,
        0..=10_000_000,
        "an amount is whole yuan from 0 to 10000000",
        example,
    )
    .map(|a| Fen::from_yuan(a.v))
}

fn money_keys(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>, rules: &mut PayRules) {
    let slots: [(&str, &str, &mut Fen); 5] = [
        (
            "base_probation_yuan",
            "base_probation_yuan = 700",
            &mut rules.base_probation,
        ),
        (
            "base_regular_yuan",
            "base_regular_yuan = 750",
            &mut rules.base_regular,
        ),
        (
            "base_performance_yuan",
            "base_performance_yuan = 8000",
            &mut rules.base_performance,
        ),
        (
            "probation_two_months_yuan",
            "probation_two_months_yuan = 15000",
            &mut rules.probation_two_months,
        ),
        (
            "minimum_target_yuan",
            "minimum_target_yuan = 8000",
            &mut rules.minimum_target,
        ),
    ];
    for (key, example, slot) in slots {
        if let Some(v) = yuan(ctx, sec, key, example) {
            *slot = v;
        }
    }
    if let Some(v) = yuan(
        ctx,
        sec,
        "base_supervisor_yuan",
        "base_supervisor_yuan = 3000",
    ) {
        rules.base_supervisor = Some(v);
    }
    if let Some(v) = yuan(ctx, sec, "base_manager_yuan", "base_manager_yuan = 5000") {
        rules.base_manager = Some(v);
    }
}

fn rate_at(ctx: &mut Ctx<'_>, key: String, text: &At<String>) -> Option<Rate> {
    match text.v.parse::<Rate>() {
        Ok(r) => Some(r),
        Err(e) => {
            ctx.push(key, text.line, e.to_string());
            None
        }
    }
}

fn rates(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>, rules: &mut PayRules) {
    for (key, example, slot) in [
        (
            "proxy_share",
            r#"proxy_share = "1%""#,
            &mut rules.proxy_share,
        ),
        ("sms_rate", r#"sms_rate = "3%""#, &mut rules.sms),
    ] {
        if let Some(s) = opt_str(ctx, sec, key, example)
            && let Some(r) = rate_at(ctx, sec.key(key), &s)
        {
            *slot = r;
        }
    }
}

/// The inline tables of an array key, each with its index and line.
fn table_list<'t, 'i>(
    ctx: &mut Ctx<'_>,
    sec: &Sec<'t, 'i>,
    key: &str,
    example: &str,
) -> Option<Vec<Sec<'t, 'i>>> {
    let item = sec.get(key)?;
    let DeValue::Array(array) = item.get_ref() else {
        wrong_type(ctx, sec.key(key), item, "a list of tables", example);
        return None;
    };
    let mut out = Vec::new();
    for (i, elem) in array.iter().enumerate() {
        match elem.get_ref() {
            DeValue::Table(table) => out.push(Sec {
                path: format!("{}[{i}]", sec.key(key)),
                table,
                line: ctx.line(elem.span()),
            }),
            _ => wrong_type(
                ctx,
                format!("{}[{i}]", sec.key(key)),
                elem,
                "a table",
                example,
            ),
        }
    }
    Some(out)
}

fn tables(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>, rules: &mut PayRules) {
    for (key, slot) in [
        ("clerk_commission", &mut rules.clerk),
        ("rep_commission", &mut rules.rep),
    ] {
        if let Some(t) = marginal_table(ctx, sec, key) {
            *slot = t;
        }
    }
    for (key, slot) in [
        ("supervisor_bands", &mut rules.supervisor),
        ("manager_bands", &mut rules.manager),
    ] {
        if let Some(t) = achievement_table(ctx, sec, key) {
            *slot = t;
        }
    }
}

fn marginal_table(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>, key: &str) -> Option<MarginalTable> {
    let example = format!(
        r#"{key} = [{{ from_yuan = 0, rate = "0%" }}, {{ from_yuan = 8000, rate = "3%" }}]"#
    );
    let mut brackets = Vec::new();
    let mut complete = true;
    for band in table_list(ctx, sec, key, &example)? {
        check_keys(ctx, &band, &["from_yuan", "rate"]);
        let from = yuan(ctx, &band, "from_yuan", "from_yuan = 8000");
        let rate = band_rate(ctx, &band, "rate");
        match (from, rate) {
            (Some(from), Some(rate)) => brackets.push(Bracket { from, rate }),
            _ => complete = false,
        }
    }
    let line = sec.get(key).map_or(sec.line, |i| ctx.line(i.span()));
    let table = MarginalTable::new(brackets)
        .map_err(|e| ctx.push(sec.key(key), line, format!("{e}; write e.g. {example}")));
    table.ok().filter(|_| complete)
}

fn achievement_table(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>, key: &str) -> Option<AchievementTable> {
    let example =
        format!(r#"{key} = [{{ from = "0%", rate = "0%" }}, {{ from = "70%", rate = "1%" }}]"#);
    let mut bands = Vec::new();
    let mut complete = true;
    for band in table_list(ctx, sec, key, &example)? {
        check_keys(ctx, &band, &["from", "rate"]);
        let from = band_rate(ctx, &band, "from");
        let rate = band_rate(ctx, &band, "rate");
        match (from, rate) {
            (Some(from), Some(rate)) => bands.push(AchievementBand { from, rate }),
            _ => complete = false,
        }
    }
    let line = sec.get(key).map_or(sec.line, |i| ctx.line(i.span()));
    let table = AchievementTable::new(bands)
        .map_err(|e| ctx.push(sec.key(key), line, format!("{e}; write e.g. {example}")));
    table.ok().filter(|_| complete)
}

/// A required percentage key of one band.
fn band_rate(ctx: &mut Ctx<'_>, band: &Sec<'_, '_>, key: &str) -> Option<Rate> {
    let example = format!(r#"{key} = "3%""#);
    if !band.has(key) {
        super::missing(ctx, band, key, &example);
        return None;
    }
    let s = opt_str(ctx, band, key, &example)?;
    rate_at(ctx, band.key(key), &s)
}

/// `[[payroll.level]]`: name, base_yuan, optional min_sales_yuan.
fn levels(ctx: &mut Ctx<'_>, sec: &Sec<'_, '_>) -> Option<Vec<Level>> {
    let example = r#"[[payroll.level]] with name = "L2", base_yuan = 900, min_sales_yuan = 20000"#;
    let mut out: Vec<Level> = Vec::new();
    for level in table_list(ctx, sec, "level", example)? {
        check_keys(ctx, &level, &["name", "base_yuan", "min_sales_yuan"]);
        let name = super::req_str(ctx, &level, "name", r#"name = "L2""#);
        if !level.has("base_yuan") {
            super::missing(ctx, &level, "base_yuan", "base_yuan = 900");
        }
        let base = yuan(ctx, &level, "base_yuan", "base_yuan = 900");
        let min_sales = yuan(ctx, &level, "min_sales_yuan", "min_sales_yuan = 20000");
        let (Some(name), Some(base)) = (name, base) else {
            continue;
        };
        let name_text = name.v.trim().to_string();
        if out.iter().any(|l| l.name == name_text) {
            ctx.push(
                level.key("name"),
                name.line,
                format!("level \"{name_text}\" is already defined; give each level its own name"),
            );
            continue;
        }
        out.push(Level {
            name: name_text,
            base,
            min_sales,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::{Config, ConfigIssue};
    use crate::money::Fen;
    use crate::payroll::rules::Rate;
    use chrono::NaiveTime;

    const BASE: &str = r#"database = "x.sqlite3"
tracking_starts = "2026-11-02"
calendar = []
[maildir]
path = "/tmp"
[notify]
digest_time = "09:15"
[[person]]
name = "陈刚"
email = "chengang@example.com"
role = "manager"
[[person]]
name = "赵敏"
email = "zhaomin@example.com"
role = "assistant"
"#;

    fn load(extra: &str) -> Result<Config, Vec<ConfigIssue>> {
        Config::from_toml_str(&format!("{BASE}{extra}"), std::path::Path::new("r.toml"))
            .map_err(|e| e.0)
    }

    #[test]
    fn defaults_are_the_handbook_and_go_to_the_assistant_and_manager() {
        let cfg = load("").expect("config");
        let p = &cfg.payroll;
        assert_eq!(
            p.recipients,
            ["zhaomin@example.com", "chengang@example.com"]
        );
        assert_eq!(p.send.working_day, 3);
        assert_eq!(
            p.send.time,
            NaiveTime::from_hms_opt(9, 15, 0).expect("time")
        );
        assert_eq!(p.rules, crate::payroll::rules::PayRules::default());
    }

    #[test]
    fn the_example_config_documents_the_defaults() {
        let text = include_str!("../../config/reportd.example.toml");
        let cfg = Config::from_toml_str(text, std::path::Path::new("example.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cfg.payroll.rules,
            crate::payroll::rules::PayRules::default()
        );
        assert_eq!(cfg.payroll.send.working_day, 3);
    }

    #[test]
    fn every_rule_can_be_set() {
        let cfg = load(
            r#"[payroll]
recipients = ["ChenGang@example.com"]
send_working_day = 5
send_time = "10:00"
base_regular_yuan = 800
base_supervisor_yuan = 3000
proxy_share = "1.5%"
rep_commission = [{ from_yuan = 0, rate = "0%" }, { from_yuan = 6000, rate = "2.5%" }]
manager_bands = [{ from = "0%", rate = "0%" }, { from = "70%", rate = "1%" }, { from = "150%", rate = "2%" }]
[[payroll.level]]
name = "L2"
base_yuan = 900
min_sales_yuan = 20000
"#,
        )
        .expect("config");
        let p = &cfg.payroll;
        assert_eq!(p.recipients, ["chengang@example.com"]);
        assert_eq!(p.send.working_day, 5);
        assert_eq!(p.rules.base_regular, Fen::from_yuan(800));
        assert_eq!(p.rules.base_supervisor, Some(Fen::from_yuan(3000)));
        assert_eq!(p.rules.proxy_share, Rate::bp(150));
        assert_eq!(p.rules.rep.brackets()[1].rate, Rate::bp(250));
        assert_eq!(p.rules.manager.bands()[2].rate, Rate::percent(2));
        assert_eq!(p.rules.levels[0].min_sales, Some(Fen::from_yuan(20_000)));
    }

    #[test]
    fn mistakes_name_the_key_and_line() {
        let issues = load(
            r#"[payroll]
recipients = ["nobody@example.com"]
sms_rate = "three percent"
clerk_commission = [{ from_yuan = 0, rate = "0%" }, { from_yuan = 0, rate = "3%" }]
supervisor_bands = [{ from = "0%" }]
send_tme = "08:00"
"#,
        )
        .unwrap_err();
        let line = |n: usize| BASE.lines().count() + n;
        let has = |key: &str, at: usize, words: &str| {
            issues
                .iter()
                .any(|i| i.key == key && i.line == at && i.message.contains(words))
        };
        assert!(
            has("payroll.recipients[0]", line(2), "not the address"),
            "{issues:#?}"
        );
        assert!(
            has("payroll.sms_rate", line(3), "not a percentage"),
            "{issues:#?}"
        );
        assert!(
            has("payroll.clerk_commission", line(4), "increasing"),
            "{issues:#?}"
        );
        assert!(
            has("payroll.supervisor_bands[0].rate", line(5), "missing key"),
            "{issues:#?}"
        );
        assert!(has("payroll.send_tme", line(6), "send_time"), "{issues:#?}");
        assert!(issues.iter().all(|i| i.file.ends_with("r.toml")));
    }
}
