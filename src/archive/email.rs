//! The archive email to the assistant: text and phone-readable HTML with
//! the manifest's SHA-256, and the zip attached when it is at most
//! `[archive] max_attachment_mb`, else a note with its path. It is a
//! [`Letter`] of the planner's monthly close (see [`super::close`]), which
//! builds the MIME message and queues it.

use serde::{Deserialize, Serialize};

use crate::config::Language;
use crate::notify::compose::{Attachment, Contact, Rendered, ZIP};
use crate::notify::plan::Letter;

use super::index::{render, templates};
use super::{ArchiveError, Summary};

/// The archive a re-issue replaces, as the email names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// The email to `to` in `lang`, with `zip` attached when `ctx.attached`.
pub fn letter(
    ctx: &Context,
    to: Vec<Contact>,
    lang: Language,
    zip: &[u8],
) -> Result<Letter, ArchiveError> {
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
    let attachments = if ctx.attached {
        vec![Attachment::new(ctx.zip_name.clone(), ZIP, zip.to_vec())]
    } else {
        Vec::new()
    };
    Ok(Letter {
        to,
        cc: Vec::new(),
        rendered: Rendered {
            subject,
            text: text.trim().to_string() + "\n",
            html: html.trim().to_string() + "\n",
        },
        attachments,
    })
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

    #[test]
    fn the_body_carries_the_manifest_hash_and_the_zip_is_attached() {
        let to = vec![Contact::new("赵敏", "zhaomin@example.com")];
        let letter =
            letter(&context(true, None), to, Language::Zh, b"PK\x03\x04zip").expect("letter");
        assert_eq!(
            letter.rendered.subject,
            "2026年11月报告归档：报告 7 份，回复 3 封"
        );
        assert!(letter.rendered.text.contains(&"ab".repeat(32)));
        assert!(letter.rendered.html.contains(&"ab".repeat(32)));
        assert_eq!(letter.attachments.len(), 1);
        let zip = &letter.attachments[0];
        assert_eq!(zip.filename, "reportd-archive-2026-11.zip");
        assert_eq!(zip.content_type, ZIP);
        assert_eq!(zip.data, b"PK\x03\x04zip");
    }

    #[test]
    fn an_archive_over_the_limit_is_named_by_its_path_not_attached() {
        assert!(!attaches(11 * 1024 * 1024, 10 * 1024 * 1024));
        assert!(attaches(10 * 1024 * 1024, 10 * 1024 * 1024));
        assert!(!attaches(1, 0), "0 never attaches");
        let to = vec![Contact::new("Zhao Min", "zhaomin@example.com")];
        let letter = letter(&context(false, None), to, Language::En, b"zip").expect("letter");
        assert!(letter.attachments.is_empty());
        let path = "/var/lib/reportd/archive/reportd-archive-2026-11.zip";
        assert!(letter.rendered.text.contains(path));
        assert!(letter.rendered.html.contains(path));
    }

    #[test]
    fn a_re_issue_is_marked_in_the_subject_and_names_the_previous_one() {
        let to = vec![Contact::new("赵敏", "zhaomin@example.com")];
        let zh = letter(&context(true, Some(1)), to.clone(), Language::Zh, b"z").expect("zh");
        assert!(
            zh.rendered.subject.starts_with("【重发 1】"),
            "{}",
            zh.rendered.subject
        );
        assert!(
            zh.rendered.text.contains(&"cd".repeat(32)),
            "previous manifest"
        );
        let en = letter(&context(true, Some(2)), to, Language::En, b"z").expect("en");
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
