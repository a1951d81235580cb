//! The MIME message of an email: `multipart/alternative` (text, then HTML),
//! inside `multipart/mixed` when files are attached, with the threading and
//! auto-reply headers every reportd email carries. See the parent module's
//! "Message" and "Attachments" sections.

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use sha2::{Digest as _, Sha256};

use super::{ComposeError, Rendered, one_line};

/// The MIME type of an Excel workbook (`.xlsx`).
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// The MIME type of a zip archive.
pub const ZIP: &str = "application/zip";

/// A file carried by an email, sent base64-encoded (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The name the recipient sees, e.g. `payroll-2026-11.xlsx`.
    pub filename: String,
    /// A MIME type such as [`XLSX`] or [`ZIP`].
    pub content_type: String,
    pub data: Vec<u8>,
}

impl Attachment {
    pub fn new(
        filename: impl Into<String>,
        content_type: impl Into<String>,
        data: Vec<u8>,
    ) -> Attachment {
        Attachment {
            filename: filename.into(),
            content_type: content_type.into(),
            data,
        }
    }

    fn part(&self) -> Result<SinglePart, ComposeError> {
        let problem = |reason: &str| ComposeError::Attachment {
            filename: self.filename.clone(),
            reason: reason.to_string(),
        };
        let name = self.filename.trim();
        if name.is_empty()
            || name
                .chars()
                .any(|c| c.is_control() || c == '/' || c == '\\')
        {
            return Err(problem(
                "the file name is empty or has a control character or slash",
            ));
        }
        let content_type = ContentType::parse(&self.content_type)
            .map_err(|_| problem("the MIME type is not valid"))?;
        let body = Body::new_with_encoding(self.data.clone(), ContentTransferEncoding::Base64)
            .map_err(|_| problem("lettre refused base64 for it"))?;
        Ok(lettre::message::Attachment::new(name.to_string()).body(body, content_type))
    }
}

const AUTO_SUBMITTED: HeaderName = HeaderName::new_from_ascii_str("Auto-Submitted");
const AUTO_RESPONSE_SUPPRESS: HeaderName =
    HeaderName::new_from_ascii_str("X-Auto-Response-Suppress");

/// The bytes of [`compose_message`] (`Message::formatted`, CRLF line ends).
#[allow(clippy::too_many_arguments)]
pub fn compose(
    from: &Mailbox,
    to: &[Mailbox],
    cc: &[Mailbox],
    rendered: &Rendered,
    message_id: &str,
    in_reply_to: Option<&str>,
    references: &[String],
    date: DateTime<Utc>,
) -> Result<Vec<u8>, ComposeError> {
    compose_message(
        from,
        to,
        cc,
        rendered,
        message_id,
        in_reply_to,
        references,
        date,
    )
    .map(|m| m.formatted())
}

/// Builds the email: `multipart/alternative` with `text/plain` then
/// `text/html` (UTF-8; quoted-printable when mostly ASCII, else base64), the
/// subject and display names RFC 2047-encoded by lettre.
///
/// Message-IDs are given without angle brackets (a pair around one is
/// accepted and dropped). `message_id` must hold an `@`. `references` is the
/// whole References list, oldest first; `in_reply_to` is appended to it when
/// it is not already there, so the thread holds in clients that follow only
/// References. The MIME boundary is derived from the content, so the same
/// inputs always give the same bytes.
///
/// Every email carries `Auto-Submitted: auto-generated` (RFC 3834) and
/// `X-Auto-Response-Suppress: OOF, AutoReply`, threaded ones too: an
/// out-of-office answer to a reply reminder would come from the supervisor
/// into the report's thread and look like the supervisor's reply. `All` is
/// not used because it also suppresses Exchange's delivery failure reports,
/// and a bounced notice must come back to the mailbox.
#[allow(clippy::too_many_arguments)]
pub fn compose_message(
    from: &Mailbox,
    to: &[Mailbox],
    cc: &[Mailbox],
    rendered: &Rendered,
    message_id: &str,
    in_reply_to: Option<&str>,
    references: &[String],
    date: DateTime<Utc>,
) -> Result<Message, ComposeError> {
    compose_message_with(
        from,
        to,
        cc,
        rendered,
        message_id,
        in_reply_to,
        references,
        date,
        &[],
    )
}

/// [`compose_message`] with files attached: `multipart/mixed` holding the
/// alternative and then each attachment (without attachments, exactly
/// [`compose_message`]).
#[allow(clippy::too_many_arguments)]
pub fn compose_message_with(
    from: &Mailbox,
    to: &[Mailbox],
    cc: &[Mailbox],
    rendered: &Rendered,
    message_id: &str,
    in_reply_to: Option<&str>,
    references: &[String],
    date: DateTime<Utc>,
    attachments: &[Attachment],
) -> Result<Message, ComposeError> {
    if to.is_empty() {
        return Err(ComposeError::NoRecipient);
    }
    let id = message_id_value("Message-ID", message_id)?;
    if !id.contains('@') {
        return Err(ComposeError::MessageId {
            header: "Message-ID",
            id: message_id.to_string(),
        });
    }
    let mut builder = Message::builder()
        .from(from.clone())
        .message_id(Some(format!("<{id}>")))
        .date(SystemTime::from(date))
        .subject(one_line(&rendered.subject));
    for m in to {
        builder = builder.to(m.clone());
    }
    for m in cc {
        builder = builder.cc(m.clone());
    }
    let mut refs: Vec<&str> = Vec::with_capacity(references.len() + 1);
    for r in references {
        let r = message_id_value("References", r)?;
        if !refs.contains(&r) {
            refs.push(r);
        }
    }
    if let Some(parent) = in_reply_to {
        let parent = message_id_value("In-Reply-To", parent)?;
        builder = builder.in_reply_to(format!("<{parent}>"));
        if !refs.contains(&parent) {
            refs.push(parent);
        }
    }
    if !refs.is_empty() {
        let joined: Vec<String> = refs.iter().map(|r| format!("<{r}>")).collect();
        builder = builder.references(joined.join(" "));
    }
    builder = builder
        .raw_header(HeaderValue::new(
            AUTO_SUBMITTED,
            "auto-generated".to_string(),
        ))
        .raw_header(HeaderValue::new(
            AUTO_RESPONSE_SUPPRESS,
            "OOF, AutoReply".to_string(),
        ));

    let boundary = boundary_for(id, rendered);
    let alternative = MultiPart::alternative()
        .boundary(boundary.clone())
        .singlepart(text_part(ContentType::TEXT_PLAIN, &rendered.text)?)
        .singlepart(text_part(ContentType::TEXT_HTML, &rendered.html)?);
    if attachments.is_empty() {
        return Ok(builder.multipart(alternative)?);
    }
    let mut mixed = MultiPart::mixed()
        .boundary(mixed_boundary(&boundary, attachments))
        .multipart(alternative);
    for a in attachments {
        mixed = mixed.singlepart(a.part()?);
    }
    Ok(builder.multipart(mixed)?)
}

/// The outer boundary of an email with attachments, derived from the inner
/// one and the files, so the same inputs still give the same bytes.
fn mixed_boundary(inner: &str, attachments: &[Attachment]) -> String {
    let mut parts: Vec<&[u8]> = vec![inner.as_bytes()];
    for a in attachments {
        parts.extend([
            a.filename.as_bytes(),
            a.content_type.as_bytes(),
            &a.data[..],
        ]);
    }
    hashed_boundary("=_reportd_mixed_", &parts)
}

/// `prefix` and the first 16 bytes, in hex, of the SHA-256 of `parts`
/// (each followed by a NUL, so no two lists of parts hash alike).
fn hashed_boundary(prefix: &str, parts: &[&[u8]]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part);
        hash.update([0]);
    }
    let hex: String = hash
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{prefix}{hex}")
}

/// The id without its optional angle brackets, if it can stand in a header
/// unencoded: printable ASCII, no spaces, no `<>`.
fn message_id_value<'a>(header: &'static str, id: &'a str) -> Result<&'a str, ComposeError> {
    let trimmed = id.trim();
    let bare = trimmed
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(trimmed);
    let ok = !bare.is_empty()
        && bare.len() <= 250
        && bare
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
    if ok {
        Ok(bare)
    } else {
        Err(ComposeError::MessageId {
            header,
            id: id.to_string(),
        })
    }
}

/// `=_reportd_<hex>`: `=_` never occurs in quoted-printable or base64
/// output, so the boundary cannot collide with a body.
fn boundary_for(message_id: &str, rendered: &Rendered) -> String {
    let parts = [
        message_id.as_bytes(),
        rendered.subject.as_bytes(),
        rendered.text.as_bytes(),
        rendered.html.as_bytes(),
    ];
    hashed_boundary("=_reportd_", &parts)
}

/// A UTF-8 part: quoted-printable when at most a sixth of the bytes are
/// non-ASCII (readable English), else base64 (compact CJK). Never 7bit or
/// 8bit, so long lines and any character are safe.
fn text_part(content_type: ContentType, body: &str) -> Result<SinglePart, ComposeError> {
    let non_ascii = body.bytes().filter(|b| !b.is_ascii()).count();
    let ascii = body.len() - non_ascii;
    let encoding = if non_ascii * 5 <= ascii {
        ContentTransferEncoding::QuotedPrintable
    } else {
        ContentTransferEncoding::Base64
    };
    let body = Body::new_with_encoding(crlf(body), encoding).map_err(|_| {
        ComposeError::Build(lettre::error::Error::Io(std::io::Error::other(
            "lettre refused quoted-printable or base64 for a text part",
        )))
    })?;
    Ok(SinglePart::builder().header(content_type).body(body))
}

/// `text` with CRLF line ends (a lone LF gets a CR; a CRLF stays), as the
/// encoding needs. lettre would make them itself, but by inserting each CR
/// in place, moving the rest of the text each time: for a manager's digest
/// of a thousand people that was most of a digest pass.
fn crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut rest = text;
    while let Some((line, after)) = rest.split_once('\n') {
        out.push_str(line);
        if !line.ends_with('\r') {
            out.push('\r');
        }
        out.push('\n');
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_gives_each_lone_line_feed_a_carriage_return_and_keeps_crlf() {
        assert_eq!(crlf("a\nb\r\nc\n\n\r\nd"), "a\r\nb\r\nc\r\n\r\n\r\nd");
        assert_eq!(crlf("\n周报\n"), "\r\n周报\r\n");
        assert_eq!(crlf("no line end"), "no line end");
    }

    #[test]
    fn a_text_part_is_encoded_as_lettre_encodes_the_text_with_line_feeds() {
        let text = "第47周\n\nA line\r\nanother — with a long tail\n".repeat(50);
        for encoding in [
            ContentTransferEncoding::QuotedPrintable,
            ContentTransferEncoding::Base64,
        ] {
            let ours = Body::new_with_encoding(crlf(&text), encoding).expect("body");
            let lettre = Body::new_with_encoding(text.clone(), encoding).expect("body");
            assert_eq!(ours.into_vec(), lettre.into_vec());
        }
    }
}
