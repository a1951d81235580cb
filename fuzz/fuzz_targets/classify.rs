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

const HEADER: &str = r#"
database = "fuzz.sqlite3"
tracking_starts = "2026-11-02"
calendar = []
[maildir]
path = "/nonexistent"
"#;

fn config() -> &'static Config {
    static CONFIG_ONCE: OnceLock<Config> = OnceLock::new();
    CONFIG_ONCE.get_or_init(|| {
        // The tests' team, with a personal address as 张伟's alias.
        let team = include_str!("../../tests/app/team.toml").replace(
            "role = \"rep\"\n",
            "role = \"rep\"\naliases = [\"zw1988@163.com\"]\n",
        );
        let toml = format!("{HEADER}{team}");
        Config::from_toml_str(&toml, Path::new("fuzz.toml")).expect("the fuzz config is valid")
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
