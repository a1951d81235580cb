//! Payroll against real servers: the monthly summary email reaches the
//! assistant and the manager through Postfix and Dovecot with an XLSX whose
//! every figure is checked against the ledger and the handbook's rules;
//! refunds of waivers booked after a summary went out; the activity fund;
//! re-issues; sales files refused whole; sales files sent by email.

mod app;
mod common;

use std::io::Cursor;
use std::time::Duration;

use app::{App, Imap, utf8_word};
use calamine::{Data, Reader};
use chrono::DateTime;
use common::MailServers;
use serde_json::Value;

const ZHANG: &str = "zhangwei@example.com";
const LINA: &str = "lina@example.com";
const WANG: &str = "wangfang@example.com";
const CHEN: &str = "chengang@example.com";
const PASS: &str =
    "mx.test; spf=pass smtp.mailfrom=chengang@example.com; dmarc=pass header.from=example.com";
const FAIL: &str =
    "mx.test; spf=fail smtp.mailfrom=chengang@example.com; dmarc=fail header.from=example.com";

/// The sales of September 2026: the handbook's two worked examples, SMS
/// orders, and the team targets.
const SALES: &str = "姓名,自拓业绩（元）,代理拜访,短信群发,状态,团队目标,备注\n\
张伟,23000,7000,,转正,,\n\
李娜,\"32,000\",,1000,转正,,\n\
王芳,,,,,50000,\n\
陈刚,,,,,60000,经理\n";

fn start() -> (MailServers, App) {
    let servers = MailServers::start(app::USERS);
    let extra = format!(
        "[notify]\nauthserv_id = \"mx.test\"\n\n{}\n[payroll]\nbase_supervisor_yuan = 3000\nbase_manager_yuan = 5000\n",
        app::smtp_section(servers.smtp_port())
    );
    let app = App::configure(
        Imap {
            port: servers.imap_port(),
            security: "plain",
            password: servers.password(),
            ca_file: None,
        },
        "2026-09-01",
        &extra,
        app::ROSTER,
    );
    (servers, app)
}

/// September 2026 (every time is in the past: `--now` ahead of the clock
/// is refused): every report missing (fines for 2026-08 and W36–W39),
/// 张伟's W37 excused before the summary, 120.50 spent from the fund, the
/// sales imported as a GBK CSV; then the daemon's pass after the close time,
/// the third working day of October (Thu 8, Fri 9, the make-up Saturday 10)
/// at 08:30.
fn september(app: &App) {
    app.sync("2026-09-27T10:00:00+08:00");
    app.run(&[
        "excuse",
        "--person",
        ZHANG,
        "--period",
        "2026-W37",
        "--reason",
        "病假",
        "--by",
        WANG,
        "--now",
        "2026-09-20T10:00:00+08:00",
    ]);
    app.run(&[
        "fund",
        "spend",
        "--amount",
        "120.50",
        "--note",
        "团建聚餐",
        "--by",
        CHEN,
        "--now",
        "2026-09-25T12:00:00+08:00",
    ]);
    let (gbk, _, lossy) = encoding_rs::GBK.encode(SALES);
    assert!(!lossy);
    let file = app.dir.path().join("业绩-9月.csv");
    std::fs::write(&file, &gbk).expect("csv");
    let out = app.run(&[
        "sales",
        "import",
        file.to_str().expect("path"),
        "--month",
        "2026-09",
        "--now",
        "2026-10-09T09:00:00+08:00",
    ]);
    assert!(out.contains("imported 4 row(s)"), "{out}");
    assert!(
        out.contains("备注"),
        "the notes column is named as not read: {out}"
    );
    app.sync("2026-10-10T09:00:00+08:00");
}

/// Waits (up to 20 s) for a message in `user`'s INBOX whose subject holds
/// `subject`; returns every such message.
async fn mails(servers: &MailServers, user: &str, subject: &str, count: usize) -> Vec<Vec<u8>> {
    for _ in 0..100 {
        let found: Vec<Vec<u8>> = servers
            .fetch_all(user, "INBOX")
            .await
            .expect("fetch")
            .into_iter()
            .filter(|f| header(&f.raw, "Subject").contains(subject))
            .map(|f| f.raw)
            .collect();
        if found.len() >= count {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "no mail \"{subject}\" for {user}:\n{}",
        servers.postfix_log()
    );
}

fn header(raw: &[u8], name: &str) -> String {
    let m = mailparse::parse_mail(raw).expect("parse");
    m.headers
        .iter()
        .find(|h| h.get_key_ref().eq_ignore_ascii_case(name))
        .map(|h| h.get_value())
        .unwrap_or_default()
}

/// The attachment named `name` in a message.
fn attachment(raw: &[u8], name: &str) -> Vec<u8> {
    let m = mailparse::parse_mail(raw).expect("parse");
    let mut stack = vec![&m];
    while let Some(p) = stack.pop() {
        stack.extend(p.subparts.iter());
        let d = p.get_content_disposition();
        if d.params.get("filename").map(String::as_str) == Some(name) {
            assert_eq!(
                p.headers
                    .iter()
                    .find(|h| h
                        .get_key_ref()
                        .eq_ignore_ascii_case("Content-Transfer-Encoding"))
                    .map(|h| h.get_value())
                    .as_deref(),
                Some("base64")
            );
            return p.get_body_raw().expect("body");
        }
    }
    panic!("no attachment {name}");
}

/// The text parts of a message: plain, html.
fn bodies(raw: &[u8]) -> (String, String) {
    let m = mailparse::parse_mail(raw).expect("parse");
    let mut stack = vec![&m];
    let (mut text, mut html) = (String::new(), String::new());
    while let Some(p) = stack.pop() {
        stack.extend(p.subparts.iter());
        match p.ctype.mimetype.as_str() {
            "text/plain" => text = p.get_body().expect("text"),
            "text/html" => html = p.get_body().expect("html"),
            _ => {}
        }
    }
    (text, html)
}

/// One sheet of a workbook as rows of cells.
fn sheet(xlsx: &[u8], name: &str) -> Vec<Vec<Data>> {
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(xlsx.to_vec())).expect("xlsx");
    let range = book.worksheet_range(name).expect("sheet");
    range.rows().map(<[Data]>::to_vec).collect()
}

/// Fen in a money cell (yuan as a number).
fn fen(cell: &Data) -> Option<i64> {
    match cell {
        Data::Float(f) => Some((f * 100.0).round() as i64),
        Data::Int(i) => Some(i * 100),
        Data::Empty => None,
        other => panic!("not money: {other:?}"),
    }
}

fn text(cell: &Data) -> String {
    match cell {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

/// The pay sheet's row of `email`.
fn pay_row(rows: &[Vec<Data>], email: &str) -> Vec<Data> {
    rows.iter()
        .find(|r| text(&r[1]) == email)
        .unwrap_or_else(|| panic!("no row for {email}"))
        .clone()
}

/// Net fen the ledger holds for `person` over `periods`.
fn ledger_net(ledger: &Value, person: &str, periods: &[&str]) -> (i64, i64) {
    let mut amount = 0;
    let mut fund = 0;
    for e in ledger["entries"].as_array().expect("entries") {
        if e["person"] == person && periods.iter().any(|p| e["period"] == *p) {
            amount += e["amount_fen"].as_i64().expect("amount");
            fund += e["fund_fen"].as_i64().expect("fund");
        }
    }
    (amount, fund)
}

/// The periods whose deadlines fall in September 2026: the August monthly
/// report (due at the end of Tue 1 September) and weeks 36 to 39.
const SEPTEMBER: [&str; 5] = ["2026-08", "2026-W36", "2026-W37", "2026-W38", "2026-W39"];

#[tokio::test]
async fn payroll_email_carries_an_xlsx_whose_figures_match_the_ledger_and_the_rules() {
    let (servers, app) = start();
    app.sync("2026-09-27T10:00:00+08:00");
    // Before any sales are imported the summary still gives fines and the
    // fund, and says the sales part is missing.
    let preview: Value =
        serde_json::from_str(&app.run(&["payroll", "--month", "2026-09", "--json"])).expect("json");
    assert_eq!(preview["state"], "preview");
    assert_eq!(preview["sales_imported"], false);
    let z = preview["people"]
        .as_array()
        .expect("people")
        .iter()
        .find(|p| p["email"] == ZHANG)
        .expect("zhang");
    assert_eq!(z["net_pay_fen"], Value::Null);
    assert_eq!(z["fines"]["count"], 5);

    september(&app);
    let mail = mails(&servers, "zhaomin", "工资汇总 2026-09", 1).await;
    assert_eq!(mail.len(), 1);
    let raw = &mail[0];
    assert!(header(raw, "To").contains(CHEN), "the manager gets it too");
    mails(&servers, "chengang", "工资汇总 2026-09", 1).await;
    let (plain, html) = bodies(raw);
    assert!(html.contains("width=device-width"), "reads on a phone");
    assert!(plain.contains("payroll-2026-09.xlsx"), "{plain}");
    // Amounts read as people write them, the thousands grouped, in the
    // figures and in how the commissions were worked out.
    let ungrouped = regex::Regex::new(r"\d{4,}\.\d\d").expect("regex");
    for part in [&plain, &html] {
        assert!(part.contains("23,000.00"), "Zhang's counted sales: {part}");
        assert!(part.contains("55,000.00 / 50,000.00"), "the team: {part}");
        assert!(!ungrouped.is_match(part), "{:?}", ungrouped.find(part));
    }
    let xlsx = attachment(raw, "payroll-2026-09.xlsx");

    let ledger = app.ledger();
    let pay = sheet(&xlsx, "工资汇总");
    let yuan = |y: i64| Some(y * 100);
    // Rep: 23,000 own + 7,000 proxy → base + 210 + 440 + 70.
    let z = pay_row(&pay, ZHANG);
    let (zhang_fines, zhang_fund) = ledger_net(&ledger, ZHANG, &SEPTEMBER);
    assert_eq!(zhang_fines, 4 * 5000, "W37 was excused before the summary");
    assert_eq!(fen(&z[8]), yuan(23_000), "counted: own sales only");
    assert_eq!((fen(&z[9]), fen(&z[10])), (yuan(750), yuan(750)));
    assert_eq!(fen(&z[11]), yuan(210 + 440));
    assert_eq!(fen(&z[12]), yuan(70));
    assert_eq!(fen(&z[15]), yuan(720));
    assert_eq!(fen(&z[16]), Some(4 * 100), "four fines");
    assert_eq!(fen(&z[17]), Some(zhang_fines));
    assert_eq!(text(&z[18]), "2026-08, 2026-W36, 2026-W38, 2026-W39");
    assert_eq!(fen(&z[20]), Some(75_000 + 72_000 - zhang_fines));
    // Clerk: 32,000 → base + 240 + 640; SMS 1,000 at 3%.
    let l = pay_row(&pay, LINA);
    let (lina_fines, lina_fund) = ledger_net(&ledger, LINA, &SEPTEMBER);
    assert_eq!(lina_fines, 5 * 5000);
    assert_eq!(fen(&l[11]), yuan(240 + 640));
    assert_eq!(fen(&l[13]), yuan(30));
    assert_eq!(fen(&l[20]), Some(75_000 + 91_000 - lina_fines));
    // Supervisor: team 55,000 of 50,000 = 110% → 1.5%; manager 55,000 of
    // 60,000 = 91.7% → 1%.
    let w = pay_row(&pay, WANG);
    assert_eq!(fen(&w[8]), yuan(55_000));
    assert_eq!(fen(&w[14]), yuan(825));
    assert_eq!(fen(&w[20]), yuan(3_000 + 825));
    let c = pay_row(&pay, CHEN);
    assert_eq!(fen(&c[14]), yuan(550));
    assert_eq!(fen(&c[20]), yuan(5_000 + 550));
    // The fund: half of every fine deducted, less the spending.
    let fund = sheet(&xlsx, "活动经费");
    let fines_in = zhang_fund + lina_fund;
    assert_eq!(fines_in, 9 * 2500);
    assert_eq!(fen(&fund[0][1]), Some(0), "opening");
    assert_eq!(fen(&fund[1][1]), Some(fines_in));
    assert_eq!(fen(&fund[3][1]), Some(-12_050));
    assert_eq!(fen(&fund[4][1]), Some(fines_in - 12_050), "closing");
    assert_eq!(text(&fund[7][2]), "团建聚餐");
    // October's fine (September's monthly report, due 8 October) is not in it.
    let lines = sheet(&xlsx, "罚款与退款");
    assert!(lines.iter().all(|r| text(&r[3]) != "2026-09"), "{lines:?}");

    // Running payroll again sends nothing more.
    app.sync("2026-10-10T10:00:00+08:00");
    app.run(&["payroll", "--month", "2026-09"]);
    let payroll_rows: Vec<Value> = app
        .outbox()
        .into_iter()
        .filter(|r| r["kind"] == "payroll")
        .collect();
    assert_eq!(payroll_rows.len(), 1, "{payroll_rows:?}");
    assert_eq!(payroll_rows[0]["state"], "sent");
    let issued: Value =
        serde_json::from_str(&app.run(&["payroll", "--month", "2026-09", "--json"])).expect("json");
    assert_eq!(issued["state"], "issued");
}

#[tokio::test]
async fn a_waiver_after_the_summary_is_a_refund_next_month_and_a_reissue_is_marked() {
    let (servers, app) = start();
    september(&app);
    mails(&servers, "zhaomin", "工资汇总 2026-09", 1).await;
    let before = app.run(&["payroll", "--month", "2026-09", "--json"]);
    // W38 excused after the summary went out.
    app.run(&[
        "excuse",
        "--person",
        ZHANG,
        "--period",
        "2026-W38",
        "--reason",
        "出差",
        "--by",
        WANG,
        "--now",
        "2026-10-12T10:00:00+08:00",
    ]);
    assert_eq!(
        app.run(&["payroll", "--month", "2026-09", "--json"]),
        before,
        "a sent summary is never changed"
    );
    // October closes on the third working day of November (Wed 4).
    app.sync("2026-11-05T09:00:00+08:00");
    let october = mails(&servers, "zhaomin", "工资汇总 2026-10", 1).await;
    let xlsx = attachment(&october[0], "payroll-2026-10.xlsx");
    let z = pay_row(&sheet(&xlsx, "工资汇总"), ZHANG);
    assert_eq!(fen(&z[19]), Some(5000), "the W38 fine is paid back");
    let lines = sheet(&xlsx, "罚款与退款");
    let refund = lines
        .iter()
        .find(|r| text(&r[2]) == "退款")
        .expect("a refund line");
    assert_eq!(
        (
            text(&refund[1]),
            text(&refund[3]),
            text(&refund[4]),
            fen(&refund[5])
        ),
        (
            ZHANG.to_string(),
            "2026-W38".into(),
            "2026-09".into(),
            Some(5000)
        )
    );
    let nov: Value = serde_json::from_str(&before).expect("json");
    let fund = sheet(&xlsx, "活动经费");
    assert_eq!(
        fen(&fund[0][1]),
        nov["fund"]["closing_fen"].as_i64(),
        "October opens where September closed"
    );
    assert_eq!(fen(&fund[2][1]), Some(-2500), "the refund leaves the fund");

    // A re-issue of September is marked and carries the original figures.
    app.run(&[
        "payroll",
        "--month",
        "2026-09",
        "--send",
        "--now",
        "2026-11-05T10:00:00+08:00",
    ]);
    let again = mails(&servers, "zhaomin", "工资汇总 2026-09", 2).await;
    let reissue = again
        .iter()
        .find(|m| header(m, "Subject").starts_with("【重发】"))
        .expect("a re-issue marked 重发");
    let (plain, _) = bodies(reissue);
    assert!(plain.contains("重发件"), "{plain}");
    let original = sheet(&attachment(&again[0], "payroll-2026-09.xlsx"), "工资汇总");
    let copy = sheet(&attachment(reissue, "payroll-2026-09.xlsx"), "工资汇总");
    assert_eq!(original, copy);
    assert!(
        app.outbox()
            .iter()
            .any(|r| r["key"] == "payroll:2026-09:reissue-1"),
        "re-issued under its own key"
    );
}

fn bad_sales_app() -> App {
    App::configure(
        Imap {
            port: 1,
            security: "plain",
            password: "x",
            ca_file: None,
        },
        "2026-11-02",
        "",
        app::ROSTER,
    )
}

/// Runs `sales import` expecting a refusal; returns stderr.
fn refused_import(app: &App, file: &std::path::Path) -> String {
    let out = app
        .command()
        .args([
            "sales",
            "import",
            file.to_str().expect("path"),
            "--month",
            "2026-11",
        ])
        .output()
        .expect("run");
    assert!(!out.status.success(), "a bad file must be refused");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn sales_imported(app: &App) -> Value {
    let s: Value =
        serde_json::from_str(&app.run(&["payroll", "--month", "2026-11", "--json"])).expect("json");
    s["sales_imported"].clone()
}

#[test]
fn a_malformed_csv_is_refused_whole_naming_every_bad_row() {
    let app = bad_sales_app();
    let csv = "姓名,自拓,代理拜访,状态,团队目标\n\
               张伟,12.345,0,转正,\n\
               无名氏,100,0,转正,\n\
               李娜,-5,abc,在职,\n\
               王芳,,,,\n";
    let file = app.dir.path().join("bad.csv");
    std::fs::write(&file, csv).expect("csv");
    let err = refused_import(&app, &file);
    for expected in [
        "row 2, column B (自拓): `12.345` has more than two decimals",
        "row 3, column A (姓名): 无名氏 is not a configured [[person]]",
        "row 4, column B (自拓): `-5` is negative",
        "row 4, column C (代理拜访): `abc` is not an amount",
        "row 4, column D (状态): `在职` is not a status",
        "row 5, column E (团队目标): empty",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(err.contains("nothing changed"), "{err}");
    assert_eq!(sales_imported(&app), false, "nothing was imported");
}

#[test]
fn a_malformed_xlsx_is_refused_whole_and_the_month_keeps_its_import() {
    let app = bad_sales_app();
    let good = app.dir.path().join("good.csv");
    std::fs::write(&good, "姓名,自拓,状态\n张伟,1000,转正\n李娜,2000,转正\n").expect("csv");
    app.run(&[
        "sales",
        "import",
        good.to_str().expect("path"),
        "--month",
        "2026-11",
    ]);

    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    // A title above the header, as exports have.
    ws.write_string(0, 0, "2026年11月业绩").expect("cell");
    for (c, h) in ["Person", "Own", "Proxy", "Status"].iter().enumerate() {
        ws.write_string(1, c as u16, *h).expect("cell");
    }
    ws.write_string(2, 0, ZHANG).expect("cell");
    ws.write_number(2, 1, 1500.125).expect("cell");
    ws.write_string(2, 3, "regular").expect("cell");
    ws.write_string(3, 0, LINA).expect("cell");
    ws.write_number(3, 1, 500).expect("cell");
    ws.write_string(3, 3, "maybe").expect("cell");
    ws.write_string(4, 0, "zhaomin@example.com").expect("cell");
    let file = app.dir.path().join("bad.xlsx");
    std::fs::write(&file, book.save_to_buffer().expect("xlsx")).expect("write");
    let err = refused_import(&app, &file);
    for expected in [
        "row 3, column B (Own): `1500.125` has more than two decimals",
        "row 4, column D (Status): `maybe` is not a status",
        "row 5, column A (Person): zhaomin@example.com is the assistant",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    let s: Value =
        serde_json::from_str(&app.run(&["payroll", "--month", "2026-11", "--json"])).expect("json");
    assert_eq!(
        s["sales_source"]["file"], "good.csv",
        "the earlier import stands"
    );
}

/// An email with a spreadsheet attached, as the manager would send it.
fn sales_email(auth: &str, from: &str, id: &str, name: &str, data: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "Authentication-Results: {auth}\r\nFrom: {from}\r\nTo: zhaomin@example.com\r\n\
         Subject: {}\r\nDate: Fri, 09 Oct 2026 09:00:00 +0800\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n9月业绩见附件。\r\n--b1\r\n\
         Content-Type: application/octet-stream; name=\"{name}\"\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        utf8_word("业绩 2026-09"),
        lines.join("\r\n")
    )
    .into_bytes()
}

async fn append(servers: &MailServers, raw: &[u8], at: &str) {
    let at = DateTime::parse_from_rfc3339(at).expect("time");
    servers
        .append("zhaomin", "INBOX", raw, at)
        .await
        .expect("append");
}

#[tokio::test]
async fn a_sales_file_sent_by_the_manager_is_imported_and_answered_a_forged_one_is_not() {
    let (servers, app) = start();
    let (gbk, _, _) = encoding_rs::GBK.encode(SALES);
    append(
        &servers,
        &sales_email(
            PASS,
            "陈刚 <chengang@example.com>",
            "sales1@x",
            "sales.csv",
            &gbk,
        ),
        "2026-10-09T09:00:00+08:00",
    )
    .await;
    let forged = SALES.replace("23000", "99000");
    append(
        &servers,
        &sales_email(
            FAIL,
            "陈刚 <chengang@example.com>",
            "forged@x",
            "sales.csv",
            forged.as_bytes(),
        ),
        "2026-10-09T09:30:00+08:00",
    )
    .await;
    let bad = "姓名,自拓,状态\n张伟,abc,转正\n";
    append(
        &servers,
        &sales_email(
            PASS,
            "陈刚 <chengang@example.com>",
            "bad@x",
            "bad.csv",
            bad.as_bytes(),
        ),
        "2026-10-09T10:00:00+08:00",
    )
    .await;
    app.sync("2026-10-09T11:00:00+08:00");

    let answers = mails(&servers, "chengang", "业绩 2026-09", 2).await;
    let imported = answers
        .iter()
        .find(|m| header(m, "In-Reply-To").contains("sales1@x"))
        .expect("answer to the sales email");
    assert!(header(imported, "Subject").contains("已导入"));
    let refused = answers
        .iter()
        .find(|m| header(m, "In-Reply-To").contains("bad@x"))
        .expect("answer to the bad file");
    let (plain, _) = bodies(refused);
    assert!(plain.contains("第 2 行，B (自拓) 列"), "{plain}");
    assert!(
        answers
            .iter()
            .all(|m| !header(m, "In-Reply-To").contains("forged@x")),
        "a forged sender gets no answer"
    );
    assert_eq!(app.class_of("forged@x", true).as_deref(), Some("refused"));
    assert_eq!(app.class_of("sales1@x", false).as_deref(), Some("command"));
    assert_eq!(app.class_of("bad@x", true).as_deref(), Some("command"));

    let s: Value =
        serde_json::from_str(&app.run(&["payroll", "--month", "2026-09", "--json"])).expect("json");
    let z = s["people"]
        .as_array()
        .expect("people")
        .iter()
        .find(|p| p["email"] == ZHANG)
        .expect("zhang");
    assert_eq!(
        z["sales"]["own_fen"], 2_300_000,
        "the authenticated file counts"
    );
    assert_eq!(s["sales_source"]["by"], CHEN);
}

#[test]
fn a_summary_of_a_month_that_is_not_over_is_never_sent() {
    let app = bad_sales_app();
    let current = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m")
        .to_string();
    for month in [current.as_str(), "2099-06"] {
        let out = app
            .command()
            .args(["payroll", "--month", month, "--send"])
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{month}: {stderr}");
        assert!(stderr.contains("is not over yet"), "{month}: {stderr}");
    }
    // Nothing was recorded as issued: the month still reads as not sent.
    let s: Value =
        serde_json::from_str(&app.run(&["payroll", "--month", &current, "--json"])).expect("json");
    assert!(s["issued_at"].is_null(), "{s}");
}

#[tokio::test]
async fn a_sales_file_whose_subject_cannot_be_read_is_flagged_not_dropped() {
    let (servers, app) = start();
    let raw = String::from_utf8(sales_email(
        PASS,
        "陈刚 <chengang@example.com>",
        "loose@x",
        "sales.csv",
        SALES.as_bytes(),
    ))
    .expect("utf8")
    .replace(&utf8_word("业绩 2026-09"), &utf8_word("2026年9月业绩"));
    append(&servers, raw.as_bytes(), "2026-10-09T09:00:00+08:00").await;
    app.sync("2026-10-09T11:00:00+08:00");
    app.sync("2026-10-09T12:00:00+08:00");
    let flagged = app.messages(true);
    let m = flagged
        .iter()
        .find(|m| m["message_id"] == "loose@x")
        .unwrap_or_else(|| panic!("not flagged: {flagged:?}"));
    let reason = m["reason"].as_str().unwrap_or("");
    assert!(reason.contains("业绩 YYYY-MM"), "{reason}");
    assert_eq!(
        reason.matches("looks like a sales file").count(),
        1,
        "flagged once: {reason}"
    );
}
