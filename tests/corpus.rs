//! Robustness corpus: every message in `shared/corpus/` (real-world files from
//! public parser test suites, many deliberately broken) goes through
//! `mail::parse::parse` without a panic and in bounded time, and the decoded
//! subjects agree with `MANIFEST.tsv`.
//!
//! The corpus sits beside the crate: `$CARGO_MANIFEST_DIR/../shared/corpus`
//! (in CI the clone sits beside a copy of `shared/`). A missing corpus fails
//! the test; it is never skipped.
//!
//! `REPORTD_CORPUS_DUMP=1 cargo test --test corpus -- --nocapture` prints
//! what was decoded from every file.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reportd::mail::parse::{Envelope, ParseError, normalize_whitespace, parse};

/// Where `MANIFEST.tsv`'s `subject_decoded` is not a decoded subject, the
/// subject we expect instead (`*` matches any run of characters). Each value
/// was checked by hand against the raw header: base64/QP decoded and read
/// in the right charset with Python's codecs.
///
/// The manifest was written by a tool that (a) wrote `(undecodable) ` and
/// the raw encoded words when it could not decode them, (b) wrote one
/// U+FFFD per raw 8-bit header byte, even valid UTF-8, and (c) dropped the
/// white space of a folded line after an encoded word. Case (b) is matched
/// generically (see `subject_matches`) except where the raw bytes are CJK
/// double-byte text, whose ASCII trail bytes the manifest shows as stray
/// letters (`�d��6��17` for Big5 `\xb9\x64\xc3\xfb6...`): those need the
/// real text here.
const MANIFEST_OVERRIDES: &[(&str, &str)] = &[
    // (a) A GB2312 character split across two encoded words (mailparse
    // fails on it; we decode adjacent words' bytes together).
    (
        "SpamScope__mail-parser/tests/mails/mail_test_9",
        "我把镜头拉近些，你们看看这个是什么屄，这种场合自然少不了内射",
    ),
    // (a) Corrupt base64 (49 data characters, one too many): garbage in
    // every decoder; only "no panic, some text" is asked.
    (
        "Webklex__php-imap/tests/messages/imap_mime_header_decode_returns_false.eml",
        "*",
    ),
    // (a) Unknown charset label `X-IAS-German`: the ASCII text is kept.
    (
        "Webklex__php-imap/tests/messages/undefined_charset_header.eml",
        "Submit your tax refund | Australian Taxation Office.",
    ),
    // (a) ISO-8859-8-I (Hebrew) encoded word.
    (
        "php-mime-mail-parser__php-mime-mail-parser/tests/mails/issue149",
        "מענה 'אני לא נמצא': Invoice 02722027",
    ),
    // (a) Raw 8-bit Latin-1 inside a Q encoded word (the manifest kept it
    // undecoded).
    (
        "zbateson__mail-mime-parser/tests/_data/emails/m2004.txt",
        "Die Hasen und die Frösche",
    ),
    // (b) Raw 8-bit Big5 subject; the message declares big5.
    (
        "apache__spamassassin/t/data/nice/cjk/big5-base64.1",
        "[SLAT-talk] 鉅靡6月17日新片又到.如有重複寄發.敬請原諒!．．．．．．鉅靡6月17日新片又到.如有重複寄發.敬請原諒!．．．",
    ),
    // (b) Raw 8-bit GB2312 subjects.
    (
        "apache__spamassassin/t/data/nice/cjk/gb2312.1",
        "全新原装进口，送货上门，货到付款－台湾鑫龙商贸集团公司向您拜年!",
    ),
    (
        "mailgun__flanker/tests/fixtures/messages/charset-gb2312.eml",
        "提示：您的企业成员暂时无法登录邮件客户端",
    ),
    // (b) The file itself is damaged: GBK bytes mixed with UTF-8
    // replacement characters (EF BF BD), and the mix happens to be valid
    // UTF-8. Garbage in; only "no panic, some text" is asked.
    (
        "mailgun__flanker/tests/fixtures/messages/charset-gb2312-1.eml",
        "*",
    ),
    // (b) Big5 text that a gateway read as Latin-1 and stored as UTF-8
    // (`¤j®a»¡` for 大家說); the message declares big5, so we repair it.
    (
        "mikel__mail/spec/fixtures/emails/error_emails/content_transfer_encoding_empty.eml",
        "4d8119 (大補泡麵專賣) 大家說英語 每日聽MP3 (2004年6月份) 繁體中文光碟版 (英語教學) 8afb90",
    ),
    // (c) `...=?UTF-8?Q?=E2=9C=94?=<CRLF> (1476358788189)`: unfolding
    // removes only the CRLF (RFC 5322 2.2.3), so the space stays.
    (
        "nodemailer__mailparser/test/fixtures/nodemailer.eml",
        "Nodemailer is unicode friendly ✔ (1476358788189)",
    ),
];

/// Rows whose subject we decode differently from the manifest on purpose.
/// Keep this list small and explain every entry.
const ALLOW_MISMATCH: &[(&str, &str)] = &[
    // Raw 8-bit Latin-1 subjects with no charset declared anywhere in the
    // message. Raw 8-bit header bytes that are not UTF-8 are read as
    // GB18030 (this mailbox's Chinese clients), and these Latin-1 bytes
    // happen to be valid GB18030 (`Fr\xF6sche` → `Fr鰏che`). A declared
    // charset (e.g. iso-8859-1) would have been used instead.
    (
        "mikel__mail/spec/fixtures/emails/error_emails/invalid_subject_characters.eml",
        "Latin-1 read as GB18030",
    ),
    (
        "zbateson__mail-mime-parser/tests/_data/emails/m0009.txt",
        "Latin-1 read as GB18030",
    ),
];

/// Rows with Chinese text (`cn_charset` set, `han_text` yes) that `parse`
/// rejects on purpose, so no Envelope shows their text.
const HAN_CHECK_EXEMPT: &[(&str, &str)] = &[
    // A charset test file without a From header (ParseError::NoSender by
    // design). Its Big5 and GB18030 parts are the cases covered by the
    // `decode_text` unit tests in src/mail/parse.rs.
    (
        "mozilla__releases-comm-central/mailnews/mime/jsmime/test/unit/data/charsets",
        "no From header",
    ),
];

const PER_MESSAGE_LIMIT: Duration = Duration::from_secs(10);

struct Row {
    fields: HashMap<String, String>,
}

impl Row {
    fn get(&self, key: &str) -> &str {
        self.fields.get(key).map(String::as_str).unwrap_or("")
    }
}

fn corpus_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    assert!(
        dir.join("MANIFEST.tsv").is_file(),
        "the robustness corpus is missing: expected {}/MANIFEST.tsv. \
         It lives in shared/corpus beside the crate checkout; copy or link \
         shared/ next to the clone (this test never skips).",
        dir.display()
    );
    dir
}

fn manifest(dir: &Path) -> Vec<Row> {
    let text =
        std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv is UTF-8 text");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("MANIFEST.tsv has a header")
        .split('\t')
        .map(String::from)
        .collect();
    for column in ["path", "cn_charset", "han_text", "subject_decoded", "note"] {
        assert!(
            header.iter().any(|h| h == column),
            "MANIFEST.tsv lacks column {column}"
        );
    }
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| Row {
            fields: header
                .iter()
                .cloned()
                .zip(l.split('\t').map(String::from))
                .collect(),
        })
        .collect()
}

fn has_han(s: &str) -> bool {
    s.chars().any(|c| {
        matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF)
    })
}

/// `*` in a pattern matches any run of characters (possibly empty).
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first)
        || !text[first.len()..].ends_with(last)
        || text.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Whether our subject agrees with the manifest's value. The manifest cuts
/// values at 90 characters (then only the prefix counts), keeps runs of
/// white space (the Envelope normalises them, so both sides are
/// normalised), and writes one U+FFFD per raw 8-bit byte (a run of them
/// matches one or more characters of ours).
fn subject_matches(expected_raw: &str, ours: &str) -> bool {
    let truncated = expected_raw.chars().count() >= 90;
    let expected = normalize_whitespace(expected_raw);
    let mut pattern = String::new();
    let mut in_run = false;
    for c in expected.chars() {
        if c == '\u{FFFD}' {
            if !in_run {
                pattern.push_str("\u{1}*");
            }
            in_run = true;
        } else {
            in_run = false;
            pattern.push(c);
        }
    }
    if truncated {
        pattern = pattern.trim_end().to_string();
        pattern.push('*');
    }
    // `\u{1}` marks "at least one character" before the `*`.
    let at_least_one = pattern.matches('\u{1}').count();
    let pattern = pattern.replace('\u{1}', "");
    glob(&pattern, ours)
        && ours.chars().count() >= pattern.chars().filter(|&c| c != '*').count() + at_least_one
}

fn describe(result: &Result<Envelope, ParseError>) -> String {
    match result {
        Ok(env) => format!(
            "ok from={:?} subject={:?} body={:?}",
            env.from.as_ref().map(|m| &m.email),
            env.subject,
            env.body_text.chars().take(60).collect::<String>()
        ),
        Err(e) => format!("err {e}"),
    }
}

#[test]
fn every_corpus_message_parses_without_panic_and_subjects_match_the_manifest() {
    let dir = corpus_dir();
    let rows = manifest(&dir);
    assert!(
        rows.len() >= 250,
        "MANIFEST.tsv lists only {} messages",
        rows.len()
    );
    let dump = std::env::var_os("REPORTD_CORPUS_DUMP").is_some();
    let overrides: HashMap<&str, &str> = MANIFEST_OVERRIDES.iter().copied().collect();
    let allowed: HashMap<&str, &str> = ALLOW_MISMATCH.iter().copied().collect();

    // Keep the per-message panic report readable.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));

    let mut failures = Vec::new();
    let (mut parsed, mut rejected, mut compared, mut matched, mut han_checked) = (0, 0, 0, 0, 0);
    let mut slowest = (Duration::ZERO, String::new());
    let mut used: Vec<String> = Vec::new();
    for row in &rows {
        let path = row.get("path");
        let bytes = match std::fs::read(dir.join(path)) {
            Ok(b) => b,
            Err(e) => {
                failures.push(format!("{path}: cannot read: {e}"));
                continue;
            }
        };
        let started = Instant::now();
        let result = match catch_unwind(AssertUnwindSafe(|| parse(&bytes))) {
            Ok(r) => r,
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{path}: PANIC {msg}"));
                continue;
            }
        };
        let took = started.elapsed();
        if took > slowest.0 {
            slowest = (took, path.to_string());
        }
        if took > PER_MESSAGE_LIMIT {
            failures.push(format!("{path}: took {took:?}"));
        }
        if dump {
            println!("{path}\n    {}", describe(&result));
        }
        match &result {
            Ok(_) => parsed += 1,
            Err(_) => rejected += 1,
        }

        // Subjects.
        let expected = row.get("subject_decoded");
        let malformed = row.get("note").to_ascii_lowercase().contains("malformed");
        if let (Ok(env), false, false) = (&result, expected.is_empty(), malformed) {
            compared += 1;
            let ok = match overrides.get(path) {
                Some(pattern) => glob(pattern, &env.subject),
                None if expected.starts_with("(undecodable)") => false,
                None => subject_matches(expected, &env.subject),
            };
            if overrides.contains_key(path) {
                used.push(path.to_string());
            }
            if ok {
                matched += 1;
                if allowed.contains_key(path) {
                    failures.push(format!(
                        "{path}: matches now; remove it from ALLOW_MISMATCH"
                    ));
                }
            } else if allowed.contains_key(path) {
                used.push(path.to_string());
            } else {
                failures.push(format!(
                    "{path}: subject {:?}, manifest {:?}{}",
                    env.subject,
                    expected,
                    overrides
                        .get(path)
                        .map(|o| format!(" (override {o:?})"))
                        .unwrap_or_default()
                ));
            }
        }

        // Chinese text.
        let han_exempt = HAN_CHECK_EXEMPT.iter().any(|(p, _)| *p == path);
        if han_exempt {
            used.push(path.to_string());
        }
        if !row.get("cn_charset").is_empty() && row.get("han_text") == "yes" && !han_exempt {
            han_checked += 1;
            match &result {
                Ok(env) if has_han(&env.subject) || has_han(&env.body_text) => {}
                other => failures.push(format!(
                    "{path}: expected Han text, got {}",
                    describe(other)
                )),
            }
        }
    }
    std::panic::set_hook(default_hook);
    for (path, _) in MANIFEST_OVERRIDES
        .iter()
        .chain(ALLOW_MISMATCH)
        .chain(HAN_CHECK_EXEMPT)
    {
        if !used.iter().any(|u| u == path) {
            failures.push(format!("{path}: listed in corpus.rs but not used (not in MANIFEST, rejected, or marked malformed)"));
        }
    }

    println!(
        "corpus: {} messages, {parsed} parsed, {rejected} rejected (Err), \
         {matched}/{compared} subjects match the manifest ({} overrides, {} allowed mismatches), \
         {han_checked} Han checks, slowest {:?} ({})",
        rows.len(),
        MANIFEST_OVERRIDES.len(),
        ALLOW_MISMATCH.len(),
        slowest.0,
        slowest.1
    );
    assert!(
        failures.is_empty(),
        "{} corpus failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The whole corpus through the real pipeline (a Maildir source, intake,
/// judging, the outbox), as if the assistant's mailbox held all of it: every
/// message is stored once and ends in a class with a reason, none is lost,
/// and a second pass changes nothing.
#[tokio::test]
async fn every_corpus_message_is_stored_and_classified_by_the_pipeline() {
    let dir = corpus_dir();
    let rows = manifest(&dir);
    let work = tempfile::tempdir().expect("tempdir");
    let maildir = work.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
    }
    let mut distinct = std::collections::HashSet::new();
    for (i, row) in rows.iter().enumerate() {
        let raw = std::fs::read(dir.join(row.get("path"))).expect("corpus file");
        distinct.insert(raw.clone());
        std::fs::write(maildir.join("new").join(format!("{i}.corpus")), raw).expect("write");
    }
    let calendar = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/calendar/cn-2026.toml");
    let config = format!(
        "database = {:?}\ntracking_starts = \"2026-11-02\"\ncalendar = [{:?}]\n[maildir]\npath = {:?}\n\
         [[person]]\nname = \"赵敏\"\nemail = \"zhaomin@example.com\"\nrole = \"assistant\"\n",
        work.path().join("db.sqlite3").display().to_string(),
        calendar.display().to_string(),
        maildir.display().to_string(),
    );
    let cfg =
        reportd::config::Config::from_toml_str(&config, Path::new("corpus.toml")).expect("config");
    let cal = reportd::calendar::Calendar::load(&cfg.calendar).expect("calendar");
    let engine = reportd::sync::Engine::new(cfg, cal).expect("engine");
    let mut conn = reportd::store::open(&engine.cfg.database).expect("db");
    let source = reportd::sync::Source::from_config(&engine.cfg);
    let now = chrono::Utc::now();
    let first = engine
        .pass(&source, &mut conn, now, |_, _| {})
        .await
        .expect("pass");
    assert_eq!(
        first.fetched,
        distinct.len(),
        "each distinct message stored once"
    );
    let listed = reportd::mail::inbox::list(&conn, false).expect("list");
    assert_eq!(listed.len(), distinct.len());
    for m in &listed {
        assert!(
            m.class.is_some() && m.reason.as_deref().is_some_and(|r| !r.is_empty()),
            "{m:?}"
        );
    }
    let unparsable = listed
        .iter()
        .filter(|m| m.class.as_deref() == Some("unparsable"))
        .count();
    assert!(
        listed.iter().filter(|m| m.flagged).count() >= unparsable,
        "unparsable ones are flagged"
    );
    let second = engine
        .pass(&source, &mut conn, now, |_, _| {})
        .await
        .expect("second pass");
    assert_eq!((second.fetched, second.intake.total()), (0, 0));
}
