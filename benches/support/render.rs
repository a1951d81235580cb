//! A generated [`Mail`] as the bytes its mail client would send: the
//! header styles of Foxmail and Outlook (GB2312, or GBK for a name GB2312
//! lacks; base64), Tencent Exmail (UTF-8, base64) and Roundcube webmail
//! (UTF-8, Q-encoded words, quoted-printable or 8-bit bodies); auto-reply
//! and bulk headers; attachments as multipart/mixed.

use std::fmt::Write as _;

use base64::Engine as _;
use chrono_tz::Asia::Shanghai;

use super::mailbox::{Attachment, Client, Extra, Label, Mail, Rng};

/// Characters of the generator's names that GBK has and GB2312 lacks.
pub const GBK_ONLY: [char; 4] = ['堃', '喆', '珺', '镕'];

fn b64(bytes: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    // Folded at 76 characters, as mail clients do.
    let mut out = String::with_capacity(text.len() + text.len() / 38);
    for (i, chunk) in text.as_bytes().chunks(76).enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        // base64 is ASCII.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
    }
    out
}

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(text).0.into_owned()
}

/// GB2312 unless the text holds a character only GBK has.
fn gb_label(text: &str) -> &'static str {
    if text.chars().any(|c| GBK_ONLY.contains(&c)) {
        "GBK"
    } else {
        "GB2312"
    }
}

fn encoded_word(text: &str, client: Client) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let engine = base64::engine::general_purpose::STANDARD;
    match client {
        Client::Foxmail => format!("=?{}?B?{}?=", gb_label(text), engine.encode(gbk(text))),
        Client::Outlook => format!(
            "=?{}?B?{}?=",
            gb_label(text).to_lowercase(),
            engine.encode(gbk(text))
        ),
        Client::Exmail => format!("=?UTF-8?B?{}?=", engine.encode(text)),
        Client::Webmail => format!("=?UTF-8?Q?{}?=", q_word(text)),
    }
}

/// RFC 2047 Q encoding of UTF-8 text.
fn q_word(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b' ' => out.push('_'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' => out.push(b as char),
            _ => {
                let _ = write!(out, "={b:02X}");
            }
        }
    }
    out
}

const BODY: &str = "各位领导好：\r\n\r\n本周工作总结如下：\r\n\
    1. 拜访客户 6 家，其中新客户 2 家，已提交报价方案 3 份。\r\n\
    2. 跟进华东区域渠道合作，完成合同初稿，法务审核中。\r\n\
    3. 回款 12.6 万元，完成月度目标的 68%。\r\n\r\n\
    下周计划：\r\n\
    1. 完成两家重点客户的产品演示。\r\n\
    2. 推动渠道合同签署。\r\n\
    3. 整理季度销售预测，周三前提交。\r\n\r\n\
    如有问题请随时联系，谢谢！\r\n";

const REPLY_BODY: &str = "收到，辛苦了。华东渠道的合同请周三前发我看一下。\r\n";
const AUTO_BODY: &str = "您好，我正在休假，11月30日返回，期间邮件无法及时回复。\r\n\
    I am out of the office and will reply on my return.\r\n";

fn body_text(mail: &Mail) -> String {
    match mail.label {
        Label::Reply => REPLY_BODY.to_string(),
        Label::AutoReply => AUTO_BODY.to_string(),
        // A newsletter is long HTML-ish text: about 20 KB.
        Label::Newsletter => {
            let mut t = String::new();
            for k in 0..60 {
                let _ = write!(
                    t,
                    "{k}. 本期要闻：渠道合作伙伴大会将于下月召开，欢迎报名参加。点击阅读全文 https://news.example.net/a/{k}\r\n"
                );
            }
            t
        }
        _ => BODY.to_string(),
    }
}

fn headers(mail: &Mail) -> String {
    let c = mail.client;
    let mut h = String::new();
    let _ = write!(
        h,
        "From: \"{}\" <{}>\r\nTo: {}\r\n",
        encoded_word(&mail.from.0, c),
        mail.from.1,
        mail.to.join(", ")
    );
    if !mail.cc.is_empty() {
        let _ = write!(h, "Cc: {}\r\n", mail.cc.join(", "));
    }
    let _ = write!(
        h,
        "Subject: {}\r\nDate: {}\r\nMessage-ID: <{}>\r\n",
        encoded_word(&mail.subject, c),
        mail.at.with_timezone(&Shanghai).to_rfc2822(),
        mail.id
    );
    if let Some(parent) = &mail.in_reply_to {
        let _ = write!(h, "In-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n");
    }
    match mail.extra {
        Extra::None => {}
        Extra::AutoReply => h.push_str("Auto-Submitted: auto-replied\r\nX-Autoreply: yes\r\n"),
        Extra::Bulk => h.push_str(
            "Precedence: bulk\r\nList-Unsubscribe: <mailto:unsubscribe@news.example.net>\r\n",
        ),
    }
    h.push_str("MIME-Version: 1.0\r\n");
    match c {
        Client::Foxmail => h.push_str("X-Mailer: Foxmail 7.2.25.228[cn]\r\nX-Priority: 3\r\n"),
        Client::Outlook => h.push_str(
            "X-Mailer: Microsoft Outlook 16.0\r\nThread-Index: AdtSb0VwY2hN3q1fQ0uJ8B1wX7x2Ng==\r\nContent-Language: zh-cn\r\n",
        ),
        Client::Exmail => h.push_str(
            "X-QQ-mid: bizesmtp12t1764000000tabc\r\nX-QQ-SSF: 0000000000000000000000000000000\r\n",
        ),
        Client::Webmail => h.push_str("User-Agent: Roundcube Webmail/1.6.9\r\n"),
    }
    h
}

/// The text part(s) of a message: a `Content-Type` header line onwards.
fn text_part(mail: &Mail, boundary: &str) -> String {
    let body = body_text(mail);
    let html = format!(
        "<html><body><div>{}</div></body></html>",
        body.replace("\r\n", "<br>\r\n")
    );
    match mail.client {
        Client::Foxmail | Client::Outlook => {
            let cs = gb_label(&body).to_lowercase();
            format!(
                "Content-Type: multipart/alternative;\r\n\tboundary=\"{boundary}\"\r\n\r\n\
                 This is a multi-part message in MIME format.\r\n\r\n\
                 --{boundary}\r\nContent-Type: text/plain;\r\n\tcharset=\"{cs}\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{}\r\n\r\n\
                 --{boundary}\r\nContent-Type: text/html;\r\n\tcharset=\"{cs}\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{}\r\n\r\n--{boundary}--\r\n",
                b64(&gbk(&body)),
                b64(&gbk(&html))
            )
        }
        Client::Exmail => format!(
            "Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n\
             --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n\
             --{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--{boundary}--\r\n",
            b64(body.as_bytes()),
            b64(html.as_bytes())
        ),
        Client::Webmail if mail.seed.is_multiple_of(2) => format!(
            "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}"
        ),
        Client::Webmail => format!(
            "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}",
            String::from_utf8_lossy(&quoted_printable::encode(body.as_bytes()))
        ),
    }
}

fn attachment_part(mail: &Mail, a: &Attachment, boundary: &str) -> String {
    let data = Rng::new(mail.seed).bytes(a.size);
    let mime = if a.name.ends_with(".pdf") {
        "application/pdf"
    } else {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    };
    let name = match mail.client {
        Client::Webmail => format!(
            "filename*=UTF-8''{}",
            a.name
                .bytes()
                .map(|b| if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                })
                .collect::<String>()
        ),
        c => format!("filename=\"{}\"", encoded_word(&a.name, c)),
    };
    format!(
        "--{boundary}\r\nContent-Type: {mime}; name=\"{}\"\r\nContent-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; {name}\r\n\r\n{}\r\n",
        encoded_word(&a.name, mail.client),
        b64(&data)
    )
}

/// The message as the mail client wrote it.
pub fn render(mail: &Mail) -> Vec<u8> {
    let mut m = headers(mail);
    let boundary = format!(
        "----=_NextPart_{:x}",
        mail.at.timestamp() ^ mail.seed as i64
    );
    match &mail.attachment {
        None => m.push_str(&text_part(mail, &boundary)),
        Some(a) => {
            let outer = format!("{boundary}_mixed");
            let _ = write!(
                m,
                "Content-Type: multipart/mixed;\r\n\tboundary=\"{outer}\"\r\n\r\n--{outer}\r\n{}{}--{outer}--\r\n",
                text_part(mail, &boundary),
                attachment_part(mail, a, &outer)
            );
        }
    }
    m.into_bytes()
}

/// `=?UTF-8?B?...?=` for a header (plain ASCII stays as it is).
pub fn utf8_word(text: &str) -> String {
    encoded_word(text, Client::Exmail)
}
