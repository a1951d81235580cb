//! Any bytes through the parser and then the classifier, with a small team
//! (a rep with an alias, a supervisor, a manager, the assistant) and the
//! default keywords: every message gets a class, never a panic.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use reportd::config::Config;
use reportd::reports::classify::classify;

const CONFIG: &str = r#"
database = "fuzz.sqlite3"
tracking_starts = "2026-11-02"
calendar = []
[maildir]
path = "/nonexistent"
[[person]]
name = "陈刚"
email = "chengang@example.com"
role = "manager"
[[person]]
name = "王芳"
email = "wangfang@example.com"
role = "supervisor"
[[person]]
name = "赵敏"
email = "zhaomin@example.com"
role = "assistant"
[[person]]
name = "张伟"
email = "zhangwei@example.com"
role = "rep"
supervisor = "wangfang@example.com"
aliases = ["zw1988@163.com"]
"#;

fn config() -> &'static Config {
    static CONFIG_ONCE: OnceLock<Config> = OnceLock::new();
    CONFIG_ONCE.get_or_init(|| {
        Config::from_toml_str(CONFIG, Path::new("fuzz.toml")).expect("the fuzz config is valid")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(env) = reportd::mail::parse::parse(data) else {
        return;
    };
    let cfg = config();
    // Known ids by a property of the input, so both answers are reached.
    let known = |id: &str| id.len() % 2 == 0;
    let arrival = NaiveDate::from_ymd_opt(2026, 11, 14).expect("a date");
    let _ = classify(&env, arrival, &cfg.roster, &cfg.keywords, &known, &known);
});
