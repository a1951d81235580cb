//! The payroll summary as a workbook (rust_xlsxwriter): a pay sheet with
//! one row per person, a sheet with each fine and refund, and the activity
//! fund's account. Money is written as numbers in yuan with two decimals,
//! so payroll can add them up in Excel or WPS; labels follow the team's
//! language.

use chrono_tz::Tz;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use crate::config::Language;
use crate::money::Fen;
use crate::payroll::summary::{Flag, PersonPay, Summary};

/// Column headers and words, per language.
struct Words {
    pay_sheet: &'static str,
    lines_sheet: &'static str,
    fund_sheet: &'static str,
    pay_headers: [&'static str; 22],
    line_headers: [&'static str; 6],
    fine: &'static str,
    refund: &'static str,
    fund_rows: [&'static str; 5],
    spend_headers: [&'static str; 4],
    no_sales: &'static str,
}

const ZH: Words = Words {
    pay_sheet: "工资汇总",
    lines_sheet: "罚款与退款",
    fund_sheet: "活动经费",
    pay_headers: [
        "姓名",
        "邮箱",
        "小组",
        "岗位",
        "状态",
        "自拓业绩",
        "代理拜访",
        "短信群发",
        "计入业绩",
        "底薪",
        "扣减后底薪",
        "业绩提成",
        "代理拜访提成",
        "短信提成",
        "团队提成",
        "提成合计",
        "罚款次数",
        "罚款金额",
        "罚款周期",
        "退款",
        "实发",
        "标记",
    ],
    line_headers: ["姓名", "邮箱", "类别", "周期", "所属月份", "金额"],
    fine: "罚款",
    refund: "退款",
    fund_rows: ["期初余额", "罚款计入", "退款退回", "支出", "期末余额"],
    spend_headers: ["日期", "金额", "用途", "批准人"],
    no_sales: "本月未导入业绩，底薪与提成未计算。",
};

const EN: Words = Words {
    pay_sheet: "Payroll",
    lines_sheet: "Fines and refunds",
    fund_sheet: "Activity fund",
    pay_headers: [
        "Name",
        "Email",
        "Group",
        "Role",
        "Status",
        "Own sales",
        "Proxy-visit sales",
        "SMS orders",
        "Counted sales",
        "Base",
        "Base after cut",
        "Sales commission",
        "Proxy-visit commission",
        "SMS commission",
        "Team commission",
        "Commission",
        "Fines",
        "Fine amount",
        "Fined periods",
        "Refunds",
        "Net pay",
        "Flags",
    ],
    line_headers: ["Name", "Email", "Kind", "Period", "Payroll month", "Amount"],
    fine: "fine",
    refund: "refund",
    fund_rows: ["Opening", "Fines in", "Refunds out", "Spending", "Closing"],
    spend_headers: ["Date", "Amount", "Note", "Approved by"],
    no_sales: "No sales were imported for the month: base and commission are not computed.",
};

fn words(lang: Language) -> &'static Words {
    match lang {
        Language::Zh => &ZH,
        Language::En => &EN,
    }
}

/// A role, status or flag in the team's language.
pub fn label(lang: Language, code: &str) -> &'static str {
    let zh = lang == Language::Zh;
    match code {
        "rep" => pick(zh, "商务代表", "rep"),
        "clerk" => pick(zh, "商务文员", "clerk"),
        "supervisor" => pick(zh, "商务主管", "supervisor"),
        "manager" => pick(zh, "商务经理", "manager"),
        "assistant" => pick(zh, "商务助理", "assistant"),
        "probation_1" => pick(zh, "试用第1月", "probation month 1"),
        "probation_2" => pick(zh, "试用第2月", "probation month 2"),
        "regular" => pick(zh, "转正", "regular"),
        _ => pick(zh, "", ""),
    }
}

fn pick(zh: bool, a: &'static str, b: &'static str) -> &'static str {
    if zh { a } else { b }
}

/// A flag in the team's language.
pub fn flag_label(lang: Language, f: Flag) -> &'static str {
    let zh = lang == Language::Zh;
    match f {
        Flag::RegularNextMonth => pick(zh, "次月转正", "regular next month"),
        Flag::ProbationContinues => pick(zh, "继续试用", "probation continues"),
        Flag::RegularFromMonth3 => pick(zh, "第三个月转正", "regular from month 3"),
        Flag::EliminatedByDefault => pick(zh, "默认淘汰（经理可例外）", "eliminated by default"),
        Flag::ProbationUndecided => pick(zh, "缺首月业绩，无法判定", "month 1 sales missing"),
        Flag::BelowBaseTwoMonths => pick(zh, "连续两月未达基础业绩", "below base two months"),
        Flag::ZeroMonth => pick(zh, "当月业绩为0", "zero month"),
        Flag::BottomThree => pick(zh, "公司后三名", "bottom three"),
        Flag::BelowMinimumTarget => pick(zh, "低于公司最低指标", "below minimum target"),
        Flag::NoSales => pick(zh, "无业绩数据", "no sales row"),
        Flag::TeamSalesIncomplete => pick(zh, "团队业绩不全", "team sales incomplete"),
        Flag::BaseNotConfigured => pick(zh, "未配置底薪", "base not configured"),
    }
}

/// The summary as an `.xlsx` file.
pub fn workbook(summary: &Summary, lang: Language, tz: Tz) -> Result<Vec<u8>, XlsxError> {
    let w = words(lang);
    let mut book = Workbook::new();
    // A fixed creation time keeps the file the same for the same summary.
    let created = ExcelDateTime::from_timestamp(summary.issued_at.unwrap_or_default().timestamp())?;
    book.set_properties(
        &DocProperties::new()
            .set_title(format!("{} {}", w.pay_sheet, summary.month))
            .set_creation_datetime(&created),
    );
    let money = Format::new().set_num_format("#,##0.00");
    let bold = Format::new().set_bold();
    pay_sheet(book.add_worksheet(), summary, lang, &money, &bold)?;
    lines_sheet(book.add_worksheet(), summary, lang, &money, &bold)?;
    fund_sheet(book.add_worksheet(), summary, (lang, tz), &money, &bold)?;
    book.save_to_buffer()
}

fn yuan(f: Fen) -> f64 {
    f.0 as f64 / 100.0
}

fn headers(ws: &mut Worksheet, row: u32, names: &[&str], bold: &Format) -> Result<(), XlsxError> {
    for (c, h) in names.iter().enumerate() {
        ws.write_string_with_format(row, col(c), *h, bold)?;
    }
    Ok(())
}

fn col(c: usize) -> u16 {
    u16::try_from(c).unwrap_or(u16::MAX)
}

fn row_no(r: usize) -> u32 {
    u32::try_from(r).unwrap_or(u32::MAX)
}

fn pay_sheet(
    ws: &mut Worksheet,
    s: &Summary,
    lang: Language,
    money: &Format,
    bold: &Format,
) -> Result<(), XlsxError> {
    let w = words(lang);
    ws.set_name(w.pay_sheet)?;
    headers(ws, 0, &w.pay_headers, bold)?;
    ws.set_freeze_panes(1, 1)?;
    ws.set_column_width(0, 12)?;
    ws.set_column_width(1, 26)?;
    for (i, p) in s.people.iter().enumerate() {
        pay_row(ws, row_no(i + 1), p, lang, money)?;
    }
    if !s.sales_imported {
        ws.write_string(row_no(s.people.len() + 2), 0, w.no_sales)?;
    }
    Ok(())
}

fn pay_row(
    ws: &mut Worksheet,
    r: u32,
    p: &PersonPay,
    lang: Language,
    money: &Format,
) -> Result<(), XlsxError> {
    let text = [
        p.name.clone(),
        p.email.clone(),
        p.group.clone().unwrap_or_default(),
        label(lang, &p.role).to_string(),
        p.standing
            .map(|s| label(lang, s.as_str()).to_string())
            .unwrap_or_default(),
    ];
    for (c, t) in text.iter().enumerate() {
        ws.write_string(r, col(c), t)?;
    }
    let sales = p.sales.as_ref();
    let commission = p.commission.as_ref();
    let amounts = [
        sales.map(|x| x.own_fen),
        sales.map(|x| x.proxy_fen),
        sales.map(|x| x.sms_fen),
        sales.map(|x| x.counted_fen),
        p.base_fen,
        p.base_after_cut_fen,
        commission.map(|c| c.sales.total),
        commission.map(|c| c.proxy_fen),
        commission.map(|c| c.sms_fen),
        p.team.map(|t| t.commission_fen),
        p.commission_fen,
    ];
    for (i, a) in amounts.iter().enumerate() {
        if let Some(a) = a {
            ws.write_number_with_format(r, col(5 + i), yuan(*a), money)?;
        }
    }
    ws.write_number(r, 16, p.fines.count)?;
    ws.write_number_with_format(r, 17, yuan(p.fines.amount_fen), money)?;
    let periods: Vec<&str> = p.fines.items.iter().map(|l| l.period.as_str()).collect();
    ws.write_string(r, 18, periods.join(", "))?;
    ws.write_number_with_format(r, 19, yuan(p.refunds.amount_fen), money)?;
    if let Some(net) = p.net_pay_fen {
        ws.write_number_with_format(r, 20, yuan(net), money)?;
    }
    let flags: Vec<&str> = p.flags.iter().map(|f| flag_label(lang, *f)).collect();
    ws.write_string(r, 21, flags.join(", "))?;
    Ok(())
}

fn lines_sheet(
    ws: &mut Worksheet,
    s: &Summary,
    lang: Language,
    money: &Format,
    bold: &Format,
) -> Result<(), XlsxError> {
    let w = words(lang);
    ws.set_name(w.lines_sheet)?;
    headers(ws, 0, &w.line_headers, bold)?;
    let mut r = 1;
    for p in &s.people {
        let all = p
            .fines
            .items
            .iter()
            .map(|l| (w.fine, l))
            .chain(p.refunds.items.iter().map(|l| (w.refund, l)));
        for (kind, l) in all {
            ws.write_string(r, 0, &p.name)?;
            ws.write_string(r, 1, &p.email)?;
            ws.write_string(r, 2, kind)?;
            ws.write_string(r, 3, &l.period)?;
            ws.write_string(r, 4, l.month.to_string())?;
            ws.write_number_with_format(r, 5, yuan(l.amount_fen), money)?;
            r += 1;
        }
    }
    Ok(())
}

fn fund_sheet(
    ws: &mut Worksheet,
    s: &Summary,
    (lang, tz): (Language, Tz),
    money: &Format,
    bold: &Format,
) -> Result<(), XlsxError> {
    let w = words(lang);
    ws.set_name(w.fund_sheet)?;
    ws.set_column_width(0, 14)?;
    let f = &s.fund;
    let figures = [
        f.opening_fen,
        f.fines_fen,
        f.refunds_fen,
        -f.spending_fen,
        f.closing_fen,
    ];
    for (i, (name, v)) in w.fund_rows.iter().zip(figures).enumerate() {
        ws.write_string(row_no(i), 0, *name)?;
        ws.write_number_with_format(row_no(i), 1, yuan(v), money)?;
    }
    headers(ws, 6, &w.spend_headers, bold)?;
    for (i, sp) in f.spending.iter().enumerate() {
        let r = row_no(7 + i);
        ws.write_string(
            r,
            0,
            sp.at.with_timezone(&tz).format("%Y-%m-%d").to_string(),
        )?;
        ws.write_number_with_format(r, 1, yuan(sp.amount_fen), money)?;
        ws.write_string(r, 2, &sp.note)?;
        ws.write_string(r, 3, &sp.by)?;
    }
    Ok(())
}
