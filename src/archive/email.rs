//! The archive email to the assistant: text and phone-readable HTML with
//! the manifest's SHA-256, and the zip attached when it is at most
//! `[archive] max_attachment_mb`, else a note with its path.
//!
//! [`ArchiveEmail`] is what the email is, independent of how it is queued:
//! [`ArchiveEmail::message`] builds the MIME message with lettre
//! (`multipart/mixed` of `multipart/alternative` and the zip in base64, or
//! just the alternative), ready for `notify::outbox::Outgoing::from_message`.
//! When the generic attachment support of `notify::compose` is merged, this
//! builder is the one place to replace.

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment as MimeAttachment, Body, Mailbox, MultiPart};
use serde::Serialize;

use crate::config::Language;
use crate::notify::compose::{Contact, Rendered};

use super::index::{render, templates};
use super::{ArchiveError, Summary};

/// The zip as an attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// The archive email, rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveEmail {
    pub to: Vec<Contact>,
    pub lang: Language,
    pub rendered: Rendered,
    /// `None` when the zip is over the limit: the body names its path.
    pub attachment: Option<Attachment>,
}

/// The archive a re-issue replaces, as the email names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Previous {
    pub name: String,
    pub manifest_sha256: String,
}

/// What the archive email says.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    pub recipient: Contact,
    pub month: String,
    /// 1, 2, … for a re-issue; absent for the first issue.
    pub reissue: Option<u32>,
    pub previous: Option<Previous>,
    pub summary: Summary,
    pub fines: String,
    pub waived: String,
    pub manifest_sha256: String,
    pub zip_name: String,
    pub zip_sha256: String,
    pub size: String,
    pub attached: bool,
    /// Where the zip is kept on the reportd machine.
    pub path: String,
    pub max_mb: u32,
    /// The command that checks the archive later.
    pub verify: String,
}

/// `834 B`, `12.3 KiB`, `4.5 MiB`.
pub fn size_text(bytes: u64) -> String {
    const KIB: u64 = 1024;
    match bytes {
        b if b < KIB => format!("{b} B"),
        b if b < KIB * KIB => format!("{}.{} KiB", b / KIB, (b % KIB) * 10 / KIB),
        b => format!(
            "{}.{} MiB",
            b / (KIB * KIB),
            (b % (KIB * KIB)) * 10 / (KIB * KIB)
        ),
    }
}

/// Whether a zip of `bytes` goes out attached under a limit of `limit`
/// bytes (0: never).
pub fn attaches(bytes: u64, limit: u64) -> bool {
    bytes > 0 && bytes <= limit
}

/// Renders the email to `to` in `lang`; attaches `zip` when `ctx.attached`.
pub fn compose(
    ctx: &Context,
    to: Vec<Contact>,
    lang: Language,
    zip: &[u8],
) -> Result<ArchiveEmail, ArchiveError> {
    let tera = templates()?;
    let dir = lang.as_str();
    let subject = render(&tera, &format!("{dir}/archive.subject.txt"), lang, ctx)?;
    let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    // The bodies show the subject too (the HTML's <title>).
    #[derive(Serialize)]
    struct WithSubject<'a> {
        #[serde(flatten)]
        ctx: &'a Context,
        subject: &'a str,
    }
    let full = WithSubject {
        ctx,
        subject: &subject,
    };
    let text = render(&tera, &format!("{dir}/archive.txt"), lang, &full)?;
    let html = render(&tera, &format!("{dir}/archive.html"), lang, &full)?;
    Ok(ArchiveEmail {
        to,
        lang,
        rendered: Rendered {
            subject,
            text: text.trim().to_string() + "\n",
            html: html.trim().to_string() + "\n",
        },
        attachment: ctx.attached.then(|| Attachment {
            filename: ctx.zip_name.clone(),
            bytes: zip.to_vec(),
        }),
    })
}

const AUTO_SUBMITTED: HeaderName = HeaderName::new_from_ascii_str("Auto-Submitted");

impl ArchiveEmail {
    /// The MIME message from `from`, with `message_id` (no angle brackets)
    /// and `date`. Marked `Auto-Submitted: auto-generated` like every email
    /// reportd sends, so no out-of-office answers it.
    pub fn message(
        &self,
        from: &Mailbox,
        message_id: &str,
        date: DateTime<Utc>,
    ) -> Result<Message, ArchiveError> {
        let problem = |e: &dyn std::fmt::Display| ArchiveError::Message(e.to_string());
        let mut builder = Message::builder()
            .from(from.clone())
            .message_id(Some(format!("<{message_id}>")))
            .date(SystemTime::from(date))
            .subject(self.rendered.subject.clone())
            .raw_header(HeaderValue::new(
                AUTO_SUBMITTED,
                "auto-generated".to_string(),
            ));
        for c in &self.to {
            builder = builder.to(c.mailbox().map_err(|e| problem(&e))?);
        }
        let alternative = MultiPart::alternative_plain_html(
            self.rendered.text.clone(),
            self.rendered.html.clone(),
        );
        let body = match &self.attachment {
            None => alternative,
            Some(a) => {
                // base64 always: a zip is binary, and lettre would pick 7bit
                // for bytes that happen to be ASCII.
                let body =
                    Body::new_with_encoding(a.bytes.clone(), ContentTransferEncoding::Base64)
                        .map_err(|_| problem(&"the zip cannot be encoded in base64"))?;
                let zip_type = ContentType::parse("application/zip").map_err(|e| problem(&e))?;
                MultiPart::mixed()
                    .multipart(alternative)
                    .singlepart(MimeAttachment::new(a.filename.clone()).body(body, zip_type))
            }
        };
        builder.multipart(body).map_err(|e| problem(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(attached: bool, reissue: Option<u32>) -> Context {
        Context {
            recipient: Contact::new("赵敏", "zhaomin@example.com"),
            month: "2026-11".into(),
            reissue,
            previous: reissue.map(|_| Previous {
                name: "reportd-archive-2026-11.zip".into(),
                manifest_sha256: "cd".repeat(32),
            }),
            summary: Summary {
                reports: 7,
                replies: 3,
                ..Summary::default()
            },
            fines: "50.00".into(),
            waived: "0.00".into(),
            manifest_sha256: "ab".repeat(32),
            zip_name: "reportd-archive-2026-11.zip".into(),
            zip_sha256: "ef".repeat(32),
            size: size_text(2048),
            attached,
            path: "/var/lib/reportd/archive/reportd-archive-2026-11.zip".into(),
            max_mb: 10,
            verify: "reportd archive verify reportd-archive-2026-11.zip".into(),
        }
    }

    fn from() -> Mailbox {
        "报告助手 <zhaomin@example.com>".parse().expect("from")
    }

    #[test]
    fn the_body_carries_the_manifest_hash_and_the_zip_is_attached_in_base64() {
        let to = vec![Contact::new("赵敏", "zhaomin@example.com")];
        let email =
            compose(&context(true, None), to, Language::Zh, b"PK\x03\x04zip").expect("email");
        assert_eq!(
            email.rendered.subject,
            "2026年11月报告归档：报告 7 份，回复 3 封"
        );
        assert!(email.rendered.text.contains(&"ab".repeat(32)));
        assert!(email.rendered.html.contains(&"ab".repeat(32)));
        let raw = email
            .message(&from(), "reportd.1@example.com", Utc::now())
            .expect("message")
            .formatted();
        let parsed = mailparse::parse_mail(&raw).expect("parse");
        assert_eq!(parsed.ctype.mimetype, "multipart/mixed");
        let zip = &parsed.subparts[1];
        assert_eq!(zip.ctype.mimetype, "application/zip");
        assert_eq!(zip.get_body_raw().expect("body"), b"PK\x03\x04zip");
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("Content-Transfer-Encoding: base64"));
        assert!(text.contains("filename=\"reportd-archive-2026-11.zip\""));
        assert!(text.contains("Auto-Submitted: auto-generated"));
    }

    #[test]
    fn an_archive_over_the_limit_is_named_by_its_path_not_attached() {
        assert!(!attaches(11 * 1024 * 1024, 10 * 1024 * 1024));
        assert!(attaches(10 * 1024 * 1024, 10 * 1024 * 1024));
        assert!(!attaches(1, 0), "0 never attaches");
        let to = vec![Contact::new("Zhao Min", "zhaomin@example.com")];
        let email = compose(&context(false, None), to, Language::En, b"zip").expect("email");
        assert_eq!(email.attachment, None);
        let path = "/var/lib/reportd/archive/reportd-archive-2026-11.zip";
        assert!(email.rendered.text.contains(path));
        assert!(email.rendered.html.contains(path));
        let raw = email
            .message(&from(), "reportd.2@example.com", Utc::now())
            .expect("message")
            .formatted();
        let parsed = mailparse::parse_mail(&raw).expect("parse");
        assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
    }

    #[test]
    fn a_re_issue_is_marked_in_the_subject_and_names_the_previous_one() {
        let to = vec![Contact::new("赵敏", "zhaomin@example.com")];
        let zh = compose(&context(true, Some(1)), to.clone(), Language::Zh, b"z").expect("zh");
        assert!(
            zh.rendered.subject.starts_with("【重发 1】"),
            "{}",
            zh.rendered.subject
        );
        assert!(
            zh.rendered.text.contains(&"cd".repeat(32)),
            "previous manifest"
        );
        let en = compose(&context(true, Some(2)), to, Language::En, b"z").expect("en");
        assert!(
            en.rendered.subject.starts_with("[Re-issue 2]"),
            "{}",
            en.rendered.subject
        );
    }

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(size_text(834), "834 B");
        assert_eq!(size_text(12 * 1024 + 307), "12.2 KiB");
        assert_eq!(size_text(5 * 1024 * 1024 + 512 * 1024), "5.5 MiB");
    }
}
