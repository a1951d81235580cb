//! Raw RFC 5322 bytes to a decoded [`Envelope`]: RFC 2047 headers, any
//! charset (GB2312 read as GB18030, GBK, Big5, UTF-8, raw 8-bit headers),
//! addresses, threading headers. Never panics on bad input, and never costs
//! more than linear time: header fields, addresses and Message-IDs beyond
//! fixed caps ([`MAX_HEADER_FIELDS`], [`MAX_ADDRESSES`], [`MAX_MESSAGE_IDS`])
//! are ignored and named in [`Envelope::limits_hit`].
//!
//! mailparse does the MIME structure (header block, multipart tree,
//! Content-Type parameters) and the address grammar. Everything that turns
//! bytes into text is done here instead (in `decode` and `date`), because
//! mailparse gets these wrong (see `shared/EMAIL-STACK-NOTES.md`):
//!
//! - encoded words are decoded by [`decode_header`]: adjacent words of the
//!   same charset are decoded as one byte string (a GBK character split
//!   across two words survives), words need no surrounding space, the
//!   RFC 2231 language suffix (`=?utf-8*en?Q?`) is dropped, and raw 8-bit
//!   header bytes are read as UTF-8, else in the message's declared charset,
//!   else as GB18030;
//! - charset labels go through [`decode_text`]: every GB label is read as
//!   GB18030, UTF-7 is decoded, an unknown label falls back to UTF-8 →
//!   GB18030 → windows-1252 rather than leaving the text undecoded;
//! - a body without a charset is read as UTF-8, else GB18030 (never
//!   windows-1252 first);
//! - the Date header is read by [`parse_date`], never by
//!   `mailparse::dateparse`.

mod date;
mod decode;

use std::collections::HashSet;

use chrono::{DateTime, FixedOffset};
use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};
use mailparse::{DispositionType, MailAddr, MailHeader, MailHeaderMap, ParsedMail};

pub use date::parse_date;
use decode::{
    Charset, Piece, b64_decode, b64_encode, decode_header_with_hint, header_pieces, qp_decode,
    resolve_charset,
};
pub use decode::{decode_header, decode_text, normalize_whitespace};

/// The longest body text kept, in bytes of UTF-8.
pub const BODY_TEXT_MAX: usize = 64 * 1024;

/// The longest subject kept, in characters (a subject is never longer in
/// real mail; the corpus has a 200 KB one).
pub const SUBJECT_MAX_CHARS: usize = 2000;

/// Header fields read per message; the ones after are ignored and the
/// message is flagged (real mail has 10 to 80; a long relay chain, 150).
pub const MAX_HEADER_FIELDS: usize = 1_000;

/// Addresses kept in each of `To` and `Cc` (all fields of that name
/// together, duplicates removed first); the ones after are ignored and the
/// message is flagged.
pub const MAX_ADDRESSES: usize = 1_000;

/// Message-IDs kept in each of `In-Reply-To` (the first ones) and
/// `References` (the last ones: the nearest ancestors, which threading
/// reads first), duplicates removed; the others are ignored and the message
/// is flagged.
pub const MAX_MESSAGE_IDS: usize = 1_000;

/// One address, lower-cased, with its decoded display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    /// Lower-cased `local@domain`.
    pub email: String,
}

/// What reportd needs to know about one message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// Without angle brackets.
    pub message_id: Option<String>,
    pub from: Option<Mailbox>,
    /// Why `from` may not be the sender the receiving server checked: the
    /// From field names more than one address, or its address is written
    /// inside an encoded word (which the address grammar does not decode).
    /// Sender authentication refuses such a message (see `mail::auth`).
    pub from_doubt: Option<String>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    /// Decoded, whitespace-normalised; empty when absent. At most
    /// [`SUBJECT_MAX_CHARS`] characters.
    pub subject: String,
    /// The sender's own claim; never used to judge a deadline.
    pub date: Option<DateTime<FixedOffset>>,
    /// Message-IDs without angle brackets.
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// Raw values of every `Authentication-Results` header, top first.
    pub authentication_results: Vec<String>,
    /// `X-Mailer`, or `User-Agent` when there is no `X-Mailer`.
    pub x_mailer: Option<String>,
    /// The first text/plain part decoded (or text/html with tags stripped),
    /// at most 64 KiB.
    pub body_text: String,
    /// `Some("<Header>: <value>")` when the message says it was sent by a
    /// machine (RFC 3834 and common practice; see [`auto_reply`]): the
    /// header that says so, to show the assistant why.
    pub auto_reply: Option<String>,
    /// What was over a cap ([`MAX_HEADER_FIELDS`], [`MAX_ADDRESSES`],
    /// [`MAX_MESSAGE_IDS`]) and ignored, one line each (`"To: 200000
    /// addresses; only the first 1000 were kept"`). Not empty: the message
    /// must be flagged for the assistant.
    pub limits_hit: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not a parsable message: {0}")]
    Malformed(String),
    #[error("message has no From address it could read")]
    NoSender,
}

/// Parses one message. An `Err` is recorded with the raw bytes and flagged
/// for the assistant; it never stops a run.
///
/// `Err(Malformed)` when the bytes do not start with a header field (after
/// an optional mbox `From ` line), `Err(NoSender)` when no From header holds
/// a valid address. Everything else (broken MIME, bad charsets, bad dates)
/// gives an `Envelope` with what could be read.
pub fn parse(raw: &[u8]) -> Result<Envelope, ParseError> {
    let raw = skip_preamble(raw);
    if raw.is_empty() {
        return Err(ParseError::Malformed("empty message".into()));
    }
    if !starts_with_header_field(raw) {
        return Err(ParseError::Malformed(
            "no header block: the first line is not a header field".into(),
        ));
    }
    // Old Mac line ends (a lone CR) in the header block: mailparse either
    // refuses them or reads several fields as one, and the fields could not
    // be counted.
    let plain_line_ends;
    let raw = if lone_cr_in_header_block(raw) {
        plain_line_ends = normalize_line_ends(raw);
        &plain_line_ends[..]
    } else {
        raw
    };
    let capped = cap_header_fields(raw);
    let (raw, fields) = match &capped {
        Some((bytes, fields)) => (&bytes[..], Some(*fields)),
        None => (raw, None),
    };
    let mut env = parse_fields(raw)?;
    if let Some(n) = fields {
        env.limits_hit.insert(
            0,
            format!("{n} header fields; only the first {MAX_HEADER_FIELDS} were read"),
        );
    }
    Ok(env)
}

fn parse_fields(raw: &[u8]) -> Result<Envelope, ParseError> {
    if let Ok(mail) = mailparse::parse_mail(raw) {
        return envelope(&mail.headers, Body::Parsed(&mail));
    }
    // Retry with plain line ends (and, when mailparse gives up on nesting
    // deeper than its recursion limit, fall back to the header block).
    let fixed = normalize_line_ends(raw);
    if fixed != raw
        && let Ok(mail) = mailparse::parse_mail(&fixed)
    {
        return envelope(&mail.headers, Body::Parsed(&mail));
    }
    match mailparse::parse_headers(&fixed) {
        Ok((headers, ix)) => {
            let body = fixed.get(ix..).unwrap_or_default();
            envelope(&headers, Body::Raw(body))
        }
        Err(e) => Err(ParseError::Malformed(format!(
            "unreadable header block: {e}"
        ))),
    }
}

/// The message without the header fields after the first
/// [`MAX_HEADER_FIELDS`], and how many fields its header block has; `None`
/// when it is within the cap (nothing is copied then).
fn cap_header_fields(raw: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut fields = 0;
    let mut cut = None;
    let mut pos = 0;
    while pos < raw.len() {
        let end = raw[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |i| pos + i + 1);
        let line = &raw[pos..end];
        if line == b"\n" || line == b"\r\n" {
            break; // the blank line that ends the header block
        }
        if !matches!(line.first(), Some(b' ' | b'\t')) {
            fields += 1;
            if fields == MAX_HEADER_FIELDS + 1 {
                cut = Some(pos);
            }
        }
        pos = end;
    }
    let cut = cut?;
    let mut out = Vec::with_capacity(cut + raw.len() - pos);
    out.extend_from_slice(&raw[..cut]);
    out.extend_from_slice(&raw[pos..]);
    Some((out, fields))
}

// ---------------------------------------------------------------------------
// The message as a whole.

enum Body<'a> {
    Parsed(&'a ParsedMail<'a>),
    /// Bytes after the header block, when the MIME tree could not be built.
    Raw(&'a [u8]),
}

fn envelope(headers: &[MailHeader], body: Body) -> Result<Envelope, ParseError> {
    let hint = header_charset_hint(headers, &body);

    let mut limits_hit = Vec::new();
    let from = headers
        .get_all_headers("From")
        .into_iter()
        .find_map(|h| {
            let mut one = Addresses::new(1);
            address_list(h.get_value_raw(), hint, &mut one);
            one.kept.pop()
        })
        .ok_or(ParseError::NoSender)?;
    let from_doubt = from_doubt(headers, hint, &from);

    let mut recipients = |key: &str| {
        let mut set = Addresses::new(MAX_ADDRESSES);
        for h in headers.get_all_headers(key) {
            address_list(h.get_value_raw(), hint, &mut set);
        }
        if set.over > 0 {
            limits_hit.push(format!(
                "{key}: {} addresses; only the first {MAX_ADDRESSES} were kept",
                set.kept.len() + set.over
            ));
        }
        set.kept
    };
    let to = recipients("To");
    let cc = recipients("Cc");

    let subject = headers
        .get_first_header("Subject")
        .map(|h| {
            let s = normalize_whitespace(&decode_header_with_hint(h.get_value_raw(), hint));
            truncate_chars(s, SUBJECT_MAX_CHARS)
        })
        .unwrap_or_default();

    let date = headers
        .get_first_header("Date")
        .and_then(|h| parse_date(&String::from_utf8_lossy(h.get_value_raw())));

    let message_id = headers
        .get_all_headers("Message-ID")
        .into_iter()
        .find_map(|h| {
            parse_message_ids(&String::from_utf8_lossy(h.get_value_raw()))
                .into_iter()
                .next()
        });
    let mut ids = |key: &str, keep: Keep| {
        let (ids, all) = message_ids_of(headers, key, keep);
        if all > ids.len() {
            let which = match keep {
                Keep::First => "first",
                Keep::Last => "last",
            };
            limits_hit.push(format!(
                "{key}: {all} Message-IDs; only the {which} {MAX_MESSAGE_IDS} were kept"
            ));
        }
        ids
    };
    let in_reply_to = ids("In-Reply-To", Keep::First);
    let references = ids("References", Keep::Last);

    let authentication_results = headers
        .get_all_headers("Authentication-Results")
        .into_iter()
        .map(|h| unfold(&String::from_utf8_lossy(h.get_value_raw())))
        .collect();

    let x_mailer = ["X-Mailer", "User-Agent"].iter().find_map(|key| {
        headers.get_first_header(key).and_then(|h| {
            let v = normalize_whitespace(&decode_header_with_hint(h.get_value_raw(), hint));
            (!v.is_empty()).then_some(v)
        })
    });

    let body_text = match body {
        Body::Parsed(mail) => body_text(mail),
        Body::Raw(bytes) => {
            let charset = headers
                .get_first_value("Content-Type")
                .map(|v| mailparse::parse_content_type(&v))
                .and_then(|ct| ct.params.get("charset").cloned());
            cap_body(decode_text(bytes, charset.as_deref()).replace("\r\n", "\n"))
        }
    };

    Ok(Envelope {
        message_id,
        from: Some(from),
        from_doubt,
        to,
        cc,
        subject,
        date,
        in_reply_to,
        references,
        authentication_results,
        x_mailer,
        body_text,
        auto_reply: auto_reply(headers),
        limits_hit,
    })
}

/// See [`Envelope::from_doubt`]. A server checks the From address as the
/// grammar reads it; reportd must not believe one it had to dig out of an
/// encoded word or pick among several.
fn from_doubt(
    headers: &[MailHeader],
    hint: Option<&'static Encoding>,
    from: &Mailbox,
) -> Option<String> {
    let fields = headers.get_all_headers("From");
    let mut all = Addresses::new(MAX_ADDRESSES);
    for h in &fields {
        address_list(h.get_value_raw(), hint, &mut all);
    }
    if all.kept.len() > 1 {
        let list: Vec<&str> = all.kept.iter().map(|m| m.email.as_str()).collect();
        return Some(format!(
            "From names {} addresses: {}",
            list.len(),
            list.join(", ")
        ));
    }
    let written = fields
        .iter()
        .any(|h| contains_ignoring_case(h.get_value_raw(), from.email.as_bytes()));
    (!written).then(|| {
        format!(
            "the From address {} is written inside an encoded word, not as an address",
            from.email
        )
    })
}

fn contains_ignoring_case(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Which end of an over-long list of Message-IDs is kept.
#[derive(Clone, Copy)]
enum Keep {
    First,
    Last,
}

/// The Message-IDs of every `key` field, duplicates removed, at most
/// [`MAX_MESSAGE_IDS`] of them; with how many distinct ones there were.
fn message_ids_of(headers: &[MailHeader], key: &str, keep: Keep) -> (Vec<String>, usize) {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for h in headers.get_all_headers(key) {
        for id in parse_message_ids(&String::from_utf8_lossy(h.get_value_raw())) {
            if seen.insert(id.clone()) {
                out.push(id);
            }
        }
    }
    let all = out.len();
    match keep {
        Keep::First => out.truncate(MAX_MESSAGE_IDS),
        Keep::Last => {
            out.drain(..all.saturating_sub(MAX_MESSAGE_IDS));
        }
    }
    (out, all)
}

/// The header that marks a message as automatic, as `"<Header>: <value>"`:
/// `Auto-Submitted` with any value other than `no` (RFC 3834 §5), any
/// `X-Autoreply` or `X-Autorespond` header (vacation programs), or
/// `Precedence: auto_reply | bulk | junk | list` (case-insensitive;
/// mailing lists and older responders). `None` otherwise.
pub fn auto_reply(headers: &[MailHeader]) -> Option<String> {
    let value = |h: &MailHeader| normalize_whitespace(&decode_header(h.get_value_raw()));
    // The keyword of a structured value: before any parameter or comment.
    let keyword = |v: &str| {
        v.split([';', '('])
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    };
    let found = |name: &str, v: String| Some(format!("{name}: {v}"));
    for h in headers.get_all_headers("Auto-Submitted") {
        let v = value(h);
        let k = keyword(&v);
        if !k.is_empty() && k != "no" {
            return found("Auto-Submitted", v);
        }
    }
    for name in ["X-Autoreply", "X-Autorespond"] {
        if let Some(h) = headers.get_first_header(name) {
            return found(name, value(h));
        }
    }
    for h in headers.get_all_headers("Precedence") {
        let v = value(h);
        if ["auto_reply", "bulk", "junk", "list"].contains(&keyword(&v).as_str()) {
            return found("Precedence", v);
        }
    }
    None
}

/// Drops a UTF-8 BOM, an mbox `From ` separator line and leading lines of
/// white space.
fn skip_preamble(raw: &[u8]) -> &[u8] {
    let mut raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    if raw.starts_with(b"From ") {
        raw = match raw.iter().position(|&b| b == b'\n') {
            Some(i) => &raw[i + 1..],
            None => &[],
        };
    }
    loop {
        let line_end = raw.iter().position(|&b| b == b'\n');
        match line_end {
            Some(i) if raw[..i].iter().all(|b| b" \t\r".contains(b)) => raw = &raw[i + 1..],
            _ => return raw,
        }
    }
}

/// Whether the first line is `field-name:` (printable ASCII except colon,
/// optional white space before the colon).
fn starts_with_header_field(raw: &[u8]) -> bool {
    let name_len = raw
        .iter()
        .take_while(|&&b| (33..=126).contains(&b) && b != b':')
        .count();
    if name_len == 0 {
        return false;
    }
    let rest = &raw[name_len..];
    let ws = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    rest.get(ws) == Some(&b':')
}

fn lone_cr_in_header_block(raw: &[u8]) -> bool {
    for (i, &b) in raw.iter().enumerate() {
        match b {
            b'\r' if raw.get(i + 1) != Some(&b'\n') => return true,
            // A blank line ends the header block.
            b'\n' if raw.get(i + 1) == Some(&b'\n') || raw.get(i + 1..i + 3) == Some(b"\r\n") => {
                return false;
            }
            _ => {}
        }
    }
    false
}

fn normalize_line_ends(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' if raw.get(i + 1) == Some(&b'\n') => {}
            b'\r' => out.push(b'\n'),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// The charset a sender's client most likely used for raw 8-bit header
/// bytes: the top-level Content-Type charset, else that of the first text
/// part. Only real 8-bit charsets count (not ASCII, UTF-8 or UTF-16).
fn header_charset_hint(headers: &[MailHeader], body: &Body) -> Option<&'static Encoding> {
    let usable = |label: &str| match resolve_charset(label) {
        Some(Charset::Known(enc))
            if enc != UTF_8 && enc != UTF_16LE && enc != UTF_16BE && enc.is_ascii_compatible() =>
        {
            Some(enc)
        }
        _ => None,
    };
    let top = headers
        .get_first_value("Content-Type")
        .map(|v| mailparse::parse_content_type(&v))
        .and_then(|ct| ct.params.get("charset").and_then(|c| usable(c)));
    if top.is_some() {
        return top;
    }
    if let Body::Parsed(mail) = body {
        for part in mail.parts() {
            if part.ctype.mimetype.starts_with("text/")
                && let Some(label) = part.ctype.params.get("charset")
            {
                return usable(label);
            }
        }
    }
    None
}

fn truncate_chars(s: String, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_string(),
        None => s,
    }
}

/// Joins folded lines (CRLF + white space becomes the white space).
fn unfold(s: &str) -> String {
    s.replace("\r\n", "").replace(['\r', '\n'], "")
}

// ---------------------------------------------------------------------------
// Addresses.

/// The valid mailboxes of an address header (To, Cc, From). Groups give
/// their members; entries that are not addresses are skipped.
/// Where [`address_list`] puts what it reads: the first `cap` distinct
/// addresses in order, a count of the distinct ones over it. Linear: a
/// message with 200,000 recipients must not cost seconds.
struct Addresses {
    kept: Vec<Mailbox>,
    seen: HashSet<String>,
    cap: usize,
    over: usize,
}

impl Addresses {
    fn new(cap: usize) -> Addresses {
        Addresses {
            kept: Vec::new(),
            seen: HashSet::new(),
            cap,
            over: 0,
        }
    }

    /// Whether no more addresses will be kept (reading further only counts).
    fn full(&self) -> bool {
        self.kept.len() >= self.cap
    }

    fn push(&mut self, name: Option<&str>, email: String) {
        if !self.seen.insert(email.clone()) {
            return;
        }
        if self.full() {
            self.over += 1;
            return;
        }
        let name = name
            .map(normalize_whitespace)
            .map(|n| n.trim_matches(|c| c == '"' || c == '\'').trim().to_string())
            .filter(|n| !n.is_empty());
        self.kept.push(Mailbox { name, email });
    }
}

fn address_list(raw: &[u8], hint: Option<&'static Encoding>, out: &mut Addresses) {
    // One address at a time: mailparse's address parser slows down with the
    // length of what it is given (it walks characters by index), so a
    // header of 100,000 encoded names handed over whole took minutes. Once
    // the cap is reached, the rest are only counted.
    for item in address_items(raw) {
        if out.full() || item.len() > MAX_ADDRESS_ITEM {
            addresses_in_text(item, out);
        } else {
            one_address_item(item, hint, out);
        }
    }
}

/// Longer than any real `name <address>`: an unclosed quote or comment that
/// swallowed the rest of the list. Such an item is only scanned for
/// addresses, so a hostile header stays linear.
const MAX_ADDRESS_ITEM: usize = 4096;

/// The top-level items of an address list: split at commas outside quoted
/// strings and comments. Encoded words hold no raw comma,
/// and no byte of a GBK character is one, so the split is safe before
/// decoding.
fn address_items(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    let (mut quoted, mut escaped, mut depth) = (false, false, 0usize);
    raw.split(move |&b| {
        if quoted {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => quoted = false,
                _ => {}
            }
            return false;
        }
        match b {
            b'"' if depth == 0 => quoted = true,
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b',' => return depth == 0,
            _ => {}
        }
        false
    })
    .filter(|item| item.iter().any(|b| !b.is_ascii_whitespace()))
}

/// The addresses in an item read as plain text, without names: for items
/// past the cap (they only count toward what was left out) and over-long
/// ones.
fn addresses_in_text(item: &[u8], out: &mut Addresses) {
    let text = String::from_utf8_lossy(item);
    for token in text.split(|c: char| c.is_whitespace() || ",;<>()\"'[]".contains(c)) {
        if let Some(email) = valid_email(token) {
            out.push(None, email);
        }
    }
}

fn one_address_item(raw: &[u8], hint: Option<&'static Encoding>, out: &mut Addresses) {
    // mailparse decodes encoded words itself but with the failures listed in
    // the module doc, and reads raw 8-bit bytes as Latin-1; it also checks
    // word boundaries by character index on a byte offset, so non-ASCII
    // text confuses it. Hand it an all-ASCII value: every decoded piece and
    // every non-ASCII run re-encoded as one UTF-8 encoded word.
    let ascii = ascii_address_value(raw, hint);
    let header = format!("To: {ascii}");
    let parsed = mailparse::parse_header(header.as_bytes())
        .ok()
        .and_then(|(h, _)| mailparse::addrparse_header(&h).ok());
    match parsed {
        Some(list) => {
            for addr in list.iter() {
                match addr {
                    MailAddr::Single(s) => push_mailbox(out, s.display_name.as_deref(), &s.addr),
                    MailAddr::Group(g) => {
                        for s in &g.addrs {
                            push_mailbox(out, s.display_name.as_deref(), &s.addr);
                        }
                    }
                }
            }
        }
        None => {
            // The address grammar failed (a stray word, an unbalanced
            // quote): keep whatever looks like an address.
            let text = decode_header_with_hint(raw, hint);
            for token in text.split(|c: char| c.is_whitespace() || ",;<>()\"'[]".contains(c)) {
                push_mailbox(out, None, token);
            }
        }
    }
}

fn push_mailbox(out: &mut Addresses, name: Option<&str>, addr: &str) {
    let email = match valid_email(addr) {
        Some(e) => e,
        // `<junk user@host>` or `a@b c@d` in one slot: the first token that
        // is an address.
        None => match addr
            .split(|c: char| c.is_whitespace() || ",;".contains(c))
            .find_map(valid_email)
        {
            Some(e) => e,
            None => return,
        },
    };
    out.push(name, email);
}

/// Lower-cased `local@domain` when `addr` has that shape: exactly one `@`,
/// non-empty parts, no white space or address punctuation, a domain of
/// letters, digits, dots, hyphens and underscores (IDN letters allowed).
pub fn valid_email(addr: &str) -> Option<String> {
    let addr = addr
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    let (local, domain) = addr.split_once('@')?;
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return None;
    }
    if local
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c))
    {
        return None;
    }
    if domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
        || !domain
            .chars()
            .all(|c| c.is_alphanumeric() || ".-_".contains(c))
    {
        return None;
    }
    Some(addr.to_lowercase())
}

fn ascii_address_value(raw: &[u8], hint: Option<&'static Encoding>) -> String {
    const BOUNDARY: &str = " \t\"()<>,";
    let mut out = String::new();
    let push_word = |out: &mut String, text: &str, next: Option<char>| {
        if out.chars().last().is_some_and(|c| !BOUNDARY.contains(c)) {
            out.push(' ');
        }
        out.push_str("=?UTF-8?B?");
        out.push_str(&b64_encode(text.as_bytes()));
        out.push_str("?=");
        if next.is_some_and(|c| !BOUNDARY.contains(c)) {
            out.push(' ');
        }
    };
    let pieces = header_pieces(raw, hint);
    for (k, piece) in pieces.iter().enumerate() {
        let next_char = |rest: &str| {
            rest.chars().next().or_else(|| match pieces.get(k + 1) {
                Some(Piece::Raw(s)) => s.chars().next(),
                Some(Piece::Words(_)) => Some('='),
                None => None,
            })
        };
        match piece {
            Piece::Words(text) => push_word(&mut out, text, next_char("")),
            Piece::Raw(text) => {
                // Split into ASCII runs and non-ASCII runs.
                let mut rest = text.as_str();
                while !rest.is_empty() {
                    let ascii_len = rest.find(|c: char| !c.is_ascii()).unwrap_or(rest.len());
                    out.push_str(&rest[..ascii_len]);
                    rest = &rest[ascii_len..];
                    let wide_len = rest.find(|c: char| c.is_ascii()).unwrap_or(rest.len());
                    if wide_len > 0 {
                        let (wide, after) = rest.split_at(wide_len);
                        push_word(&mut out, wide, next_char(after));
                        rest = after;
                    }
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Message-IDs.

/// Every Message-ID in a Message-ID / In-Reply-To / References value,
/// without angle brackets, in order, without duplicates. Without any `<`,
/// white-space separated tokens holding an `@` are taken as bare ids.
pub fn parse_message_ids(value: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut push = |id: &str| {
        let id: String = id.chars().filter(|c| !c.is_whitespace()).collect();
        let id = id.trim_matches(|c| c == '"' || c == '\'' || c == ',' || c == ';');
        if !id.is_empty() && seen.insert(id.to_string()) {
            ids.push(id.to_string());
        }
    };
    if value.contains('<') {
        let mut rest = value;
        while let Some(open) = rest.find('<') {
            let after = &rest[open + 1..];
            match after.find(['>', '<']) {
                Some(close) if after.as_bytes()[close] == b'>' => {
                    push(&after[..close]);
                    rest = &after[close + 1..];
                }
                // An unterminated id runs to the next space (or `<`).
                _ => {
                    let end = after
                        .find(|c: char| c.is_whitespace() || c == '<')
                        .unwrap_or(after.len());
                    push(&after[..end]);
                    rest = &after[end..];
                }
            }
        }
    } else {
        for token in value.split(|c: char| c.is_whitespace() || c == ',') {
            if token.contains('@') && !token.starts_with('(') {
                push(token);
            }
        }
    }
    ids
}

// ---------------------------------------------------------------------------
// Body.

fn body_text(mail: &ParsedMail) -> String {
    let mut html = None;
    for part in mail.parts() {
        let mime = part.ctype.mimetype.as_str();
        if part.get_content_disposition().disposition == DispositionType::Attachment {
            continue;
        }
        if mime == "text/plain" || mime == "text" {
            return cap_body(part_text(part));
        }
        if mime == "text/html" && html.is_none() {
            html = Some(part);
        }
    }
    html.map(|p| cap_body(strip_html(&part_text(p))))
        .unwrap_or_default()
}

fn part_text(part: &ParsedMail) -> String {
    let bytes = match part.get_body_encoded() {
        mailparse::body::Body::Base64(b) => b64_decode(b.get_raw()),
        mailparse::body::Body::QuotedPrintable(b) => qp_decode(b.get_raw(), false),
        mailparse::body::Body::SevenBit(b) | mailparse::body::Body::EightBit(b) => {
            b.get_raw().to_vec()
        }
        mailparse::body::Body::Binary(b) => b.get_raw().to_vec(),
    };
    let charset = part.ctype.params.get("charset").map(String::as_str);
    decode_text(&bytes, charset).replace("\r\n", "\n")
}

fn cap_body(mut s: String) -> String {
    if s.len() > BODY_TEXT_MAX {
        let mut end = BODY_TEXT_MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// Text of an HTML document: no tags, comments, scripts or styles; common
/// entities decoded; block ends become line breaks.
pub fn strip_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while i < html.len() {
        let rest = &html[i..];
        if rest.starts_with("<!--") {
            i += rest.find("-->").map(|e| e + 3).unwrap_or(rest.len());
        } else if rest.starts_with('<') {
            let end = rest.find('>').map(|e| e + 1).unwrap_or(rest.len());
            let tag = &lower[i..i + end];
            let name: String = tag
                .trim_start_matches('<')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '/')
                .collect();
            i += end;
            match name.as_str() {
                "script" | "style" | "head" | "title" => {
                    let close = format!("</{name}");
                    i += lower[i..].find(&close).unwrap_or(html.len() - i);
                }
                "br" | "/p" | "/div" | "/tr" | "/li" | "/h1" | "/h2" | "/h3" | "/table" | "p"
                | "li" => out.push('\n'),
                "td" | "th" => out.push(' '),
                _ => {}
            }
        } else if rest.starts_with('&') {
            let end = rest.find(';').filter(|&e| e <= 10);
            match end.and_then(|e| html_entity(&rest[1..e])) {
                Some(c) => {
                    out.push(c);
                    i += end.unwrap_or(0) + 1;
                }
                None => {
                    out.push('&');
                    i += 1;
                }
            }
        } else {
            let next = rest.find(['<', '&']).unwrap_or(rest.len());
            out.push_str(&rest[..next]);
            i += next;
        }
    }
    // Collapse spaces inside lines and runs of blank lines.
    let mut text = String::with_capacity(out.len());
    let mut blank = 0;
    for line in out.lines() {
        let line = normalize_whitespace(line);
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !text.is_empty() {
            text.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        text.push_str(&line);
    }
    text
}

fn html_entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "nbsp" | "ensp" | "emsp" => ' ',
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        "ldquo" => '\u{201C}',
        "rdquo" => '\u{201D}',
        "mdash" => '—',
        "hellip" => '…',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::date::*;
    use super::decode::*;
    use super::*;
    use encoding_rs::BIG5;

    /// A minimal message around the given header lines and body.
    fn msg(headers: &[&[u8]], body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for h in headers {
            out.extend_from_slice(h);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        out
    }

    fn subject_of(raw_subject: &[u8]) -> String {
        let mut line = b"Subject: ".to_vec();
        line.extend_from_slice(raw_subject);
        let raw = msg(&[b"From: zhangwei@example.com", &line], b"hi");
        parse(&raw)
            .map(|e| e.subject)
            .unwrap_or_else(|e| format!("ERR {e}"))
    }

    // --- Subjects: encoded words in Chinese charsets ------------------------

    #[test]
    fn gb2312_base64_subject_decodes() {
        assert_eq!(
            subject_of(b"=?GB2312?B?1cXOsCC12jQ41tzW3LGo?="),
            "张伟 第48周周报"
        );
    }

    #[test]
    fn gbk_only_character_in_gb2312_subject_decodes() {
        // 镕 (E9 46) is in GBK but not in GB2312; clients still label it GB2312.
        assert_eq!(
            subject_of(b"=?GB2312?B?1uzpRrv5ILXaNDjW3Nbcsag=?="),
            "朱镕基 第48周周报"
        );
    }

    #[test]
    fn gbk_quoted_printable_subject_decodes() {
        assert_eq!(
            subject_of(b"=?gbk?Q?=C0=EE=C4=C8_11=D4=C2=D4=C2=B1=A8?="),
            "李娜 11月月报"
        );
    }

    #[test]
    fn big5_subject_decodes() {
        assert_eq!(
            subject_of(b"=?big5?B?sWmwtiCyxDQ4tme2Z7P4?="),
            "張偉 第48週週報"
        );
    }

    #[test]
    fn utf8_base64_subject_decodes() {
        assert_eq!(
            subject_of(b"=?UTF-8?B?5byg5LyfIOesrDQ45ZGo5ZGo5oql?="),
            "张伟 第48周周报"
        );
    }

    #[test]
    fn gb18030_label_decodes() {
        assert_eq!(
            subject_of(b"=?gb18030?B?1cXOsCC12jQ41tzW3LGo?="),
            "张伟 第48周周报"
        );
    }

    #[test]
    fn lower_case_encoding_letters_decode() {
        assert_eq!(
            subject_of(b"=?gb2312?b?1tyxqA==?= =?utf-8?q?=E5=91=A8?="),
            "周报周"
        );
    }

    #[test]
    fn raw_8bit_gbk_subject_decodes() {
        assert_eq!(
            subject_of(b"\xd5\xc5\xce\xb0 \xb5\xda48\xd6\xdc\xd6\xdc\xb1\xa8"),
            "张伟 第48周周报"
        );
    }

    #[test]
    fn raw_8bit_utf8_subject_decodes() {
        assert_eq!(subject_of("张伟 第48周周报".as_bytes()), "张伟 第48周周报");
    }

    #[test]
    fn raw_8bit_subject_uses_the_declared_big5_charset() {
        let raw = msg(
            &[
                b"From: a@example.com",
                b"Subject: \xb1\x69\xb0\xb6 \xb6\x67\xb3\xf8",
                b"Content-Type: text/plain; charset=big5",
            ],
            b"hi",
        );
        assert_eq!(
            parse(&raw).map(|e| e.subject).ok().as_deref(),
            Some("張偉 週報")
        );
    }

    // --- Subjects: mailparse's known failures --------------------------------

    #[test]
    fn multibyte_character_split_across_two_encoded_words_decodes() {
        // 周报 = D6 DC B1 A8, split after the first byte.
        assert_eq!(
            subject_of(b"=?GB2312?B?1g==?=\r\n =?GB2312?B?3LGo?="),
            "周报"
        );
        // UTF-8 周 = E5 91 A8, split inside the character.
        assert_eq!(subject_of(b"=?utf-8?B?5ZE=?= =?utf-8?B?qOaKpQ==?="), "周报");
    }

    #[test]
    fn adjacent_encoded_words_without_space_decode() {
        assert_eq!(
            subject_of(b"=?GB2312?B?1cXOsA==?==?GB2312?B?1tyxqA==?="),
            "张伟周报"
        );
        assert_eq!(subject_of(b"Re:=?utf-8?B?5ZGo5oql?="), "Re:周报");
    }

    #[test]
    fn white_space_between_encoded_words_is_dropped_but_kept_next_to_text() {
        assert_eq!(
            subject_of(b"=?utf-8?Q?a?= =?utf-8?Q?b?= c =?utf-8?Q?d?=  e"),
            "ab c d e"
        );
    }

    #[test]
    fn language_suffix_in_encoded_word_is_ignored() {
        assert_eq!(
            subject_of(b"=?utf-8*en?Q?Weekly_report?= =?UTF-8*zh-CN?B?5ZGo5oql?="),
            "Weekly report周报"
        );
    }

    #[test]
    fn unknown_charset_label_keeps_the_text() {
        assert_eq!(
            subject_of(b"=?x-unknown?Q?Weekly_report?="),
            "Weekly report"
        );
        // Unknown label around GBK bytes: guessed as GB18030.
        assert_eq!(subject_of(b"=?x-foo?B?1tyxqA==?="), "周报");
        assert_eq!(subject_of(b"=?NONE?B?VEVTVA=?="), "TEST");
    }

    #[test]
    fn utf7_encoded_word_decodes() {
        assert_eq!(subject_of(b"=?utf-7?Q?+VGhipQ-_W48?="), "周报 W48");
        assert_eq!(decode_text(b"a+-b", Some("UTF-7")), "a+b");
    }

    #[test]
    fn raw_8bit_bytes_inside_a_q_word_decode_in_its_charset() {
        assert_eq!(subject_of(b"=?iso-8859-1?Q?Fr\xf6sche?="), "Frösche");
    }

    #[test]
    fn folded_subject_is_unfolded_and_white_space_normalised() {
        assert_eq!(
            subject_of(b"  Weekly\r\n\treport   W48\t "),
            "Weekly report W48"
        );
    }

    #[test]
    fn broken_encoded_words_stay_as_text() {
        assert_eq!(
            subject_of(b"=?utf-8?X?abc?= =? not a word"),
            "=?utf-8?X?abc?= =? not a word"
        );
        assert_eq!(subject_of(b"=?utf-8?B?5ZGo"), "=?utf-8?B?5ZGo");
    }

    #[test]
    fn latin1_mojibake_of_a_declared_cjk_charset_is_repaired() {
        // Big5 大家說 read as Latin-1 and written as UTF-8 by a gateway.
        let raw = msg(
            &[
                b"From: a@example.com",
                b"Subject: \xc2\xa4j\xc2\xaea\xc2\xbb\xc2\xa1",
                b"Content-Type: text/html; charset=\"big5\"",
            ],
            b"x",
        );
        assert_eq!(
            parse(&raw).map(|e| e.subject).ok().as_deref(),
            Some("大家說")
        );
        // A real accented word is left alone.
        assert_eq!(repair_latin1_mojibake("Säying hello", BIG5), None);
    }

    #[test]
    fn decode_text_guesses_undeclared_bytes() {
        assert_eq!(decode_text("周报".as_bytes(), None), "周报");
        assert_eq!(decode_text(b"\xd6\xdc\xb1\xa8", None), "周报");
        assert_eq!(decode_text(b"\xd6\xdc\xb1\xa8", Some("us-ascii")), "周报");
        // Not GB18030 either: windows-1252 keeps every byte.
        assert_eq!(decode_text(b"caf\xe9 ", None), "café ");
        // GB2312 mislabelled as UTF-8.
        assert_eq!(decode_text(b"\xd6\xdc\xb1\xa8", Some("utf-8")), "周报");
        assert_eq!(decode_text(b"\xb6\x67\xb3\xf8", Some("big5")), "週報");
        assert_eq!(decode_text(b"\x81\x30\x81\x30", Some("gb18030")), "\u{80}");
        assert_eq!(decode_text(b"\xff\xfeW\x00", Some("utf-16")), "W");
        assert_eq!(decode_text(b"\xef\xbb\xbfok", Some("utf-8")), "ok");
    }

    // --- Addresses --------------------------------------------------------------

    fn addresses(to_line: &[u8]) -> Vec<Mailbox> {
        let mut line = b"To: ".to_vec();
        line.extend_from_slice(to_line);
        let raw = msg(&[b"From: a@example.com", &line], b"");
        parse(&raw).map(|e| e.to).unwrap_or_default()
    }

    fn mailbox(name: Option<&str>, email: &str) -> Mailbox {
        Mailbox {
            name: name.map(String::from),
            email: email.into(),
        }
    }

    #[test]
    fn encoded_display_names_decode_and_emails_are_lower_cased() {
        assert_eq!(
            addresses(b"=?GB2312?B?zfW3vA==?= <WangFang@Example.COM>, \"=?utf-8?B?5p2O5aic?=\" <lina@example.com>"),
            vec![mailbox(Some("王芳"), "wangfang@example.com"), mailbox(Some("李娜"), "lina@example.com")]
        );
    }

    #[test]
    fn raw_8bit_gbk_display_name_decodes() {
        assert_eq!(
            addresses(b"\"\xcd\xf5\xb7\xbc\" <wangfang@example.com>"),
            vec![mailbox(Some("王芳"), "wangfang@example.com")]
        );
        assert_eq!(
            addresses(b"\xcd\xf5\xb7\xbc<wangfang@example.com>"),
            vec![mailbox(Some("王芳"), "wangfang@example.com")]
        );
    }

    #[test]
    fn display_name_split_across_encoded_words_decodes() {
        // 王芳 = CD F5 B7 BC, split inside 芳.
        assert_eq!(
            addresses(b"=?gb2312?B?zfW3?= =?gb2312?B?vA==?= <wangfang@example.com>"),
            vec![mailbox(Some("王芳"), "wangfang@example.com")]
        );
    }

    #[test]
    fn group_members_are_kept_and_empty_groups_skipped() {
        assert_eq!(
            addresses(b"undisclosed-recipients:;, Team: a@x.com, \"B\" <b@x.com>;, c@x.com"),
            vec![
                mailbox(None, "a@x.com"),
                mailbox(Some("B"), "b@x.com"),
                mailbox(None, "c@x.com")
            ]
        );
    }

    #[test]
    fn things_that_are_not_addresses_are_skipped() {
        assert_eq!(
            addresses(b"not-an-address, x@@y.com, @y.com, a@, <a b@c.com>"),
            vec![mailbox(None, "b@c.com")]
        );
        assert_eq!(
            addresses(b"\"unbalanced <a@x.com>, b@x.com"),
            vec![mailbox(None, "a@x.com"), mailbox(None, "b@x.com")]
        );
        assert_eq!(valid_email("a@b@c"), None);
        assert_eq!(valid_email("a b@c.com"), None);
        assert_eq!(valid_email("a@c..com"), None);
        assert_eq!(
            valid_email(" <ZhangWei@Example.com> ").as_deref(),
            Some("zhangwei@example.com")
        );
    }

    #[test]
    fn to_and_cc_collect_every_header_without_duplicates() {
        let raw = msg(
            &[
                b"From: a@example.com",
                b"To: b@example.com",
                b"To: B@example.com, c@example.com",
                b"Cc: d@example.com",
            ],
            b"",
        );
        let env = parse(&raw).ok().unwrap_or_default();
        assert_eq!(
            env.to.iter().map(|m| m.email.as_str()).collect::<Vec<_>>(),
            ["b@example.com", "c@example.com"]
        );
        assert_eq!(env.cc, vec![mailbox(None, "d@example.com")]);
    }

    // --- Caps ------------------------------------------------------------------------

    /// `To: a0@x.com, a1@x.com, ...` with `n` distinct addresses, each
    /// written `times` times.
    fn to_line(n: usize, times: usize) -> Vec<u8> {
        let list: Vec<String> = (0..n)
            .flat_map(|i| std::iter::repeat_n(format!("a{i}@x.com"), times))
            .collect();
        format!("To: {}", list.join(",\r\n ")).into_bytes()
    }

    #[test]
    fn addresses_beyond_the_cap_are_not_kept_and_are_named_in_limits_hit() {
        let to = to_line(MAX_ADDRESSES + 5, 1);
        let env =
            parse(&msg(&[b"From: a@example.com", &to, b"Cc: c@x.com"], b"hi")).expect("a message");
        assert_eq!(env.to.len(), MAX_ADDRESSES);
        assert_eq!(env.to[0].email, "a0@x.com");
        assert_eq!(
            env.to[MAX_ADDRESSES - 1].email,
            format!("a{}@x.com", MAX_ADDRESSES - 1)
        );
        assert!(
            !env.to
                .iter()
                .any(|m| m.email == format!("a{MAX_ADDRESSES}@x.com"))
        );
        assert_eq!(env.cc, vec![mailbox(None, "c@x.com")]);
        assert_eq!(
            env.limits_hit,
            [format!(
                "To: {} addresses; only the first {MAX_ADDRESSES} were kept",
                MAX_ADDRESSES + 5
            )]
        );
        assert_eq!(env.body_text, "hi");
    }

    #[test]
    fn repeated_addresses_count_once_toward_the_cap() {
        let to = to_line(MAX_ADDRESSES, 3);
        let env = parse(&msg(&[b"From: a@example.com", &to], b"")).expect("a message");
        assert_eq!(env.to.len(), MAX_ADDRESSES);
        assert!(env.limits_hit.is_empty(), "{:?}", env.limits_hit);
    }

    #[test]
    fn the_cap_counts_every_to_field_together() {
        let first = to_line(MAX_ADDRESSES, 1);
        let env = parse(&msg(
            &[b"From: a@example.com", &first, b"To: later@x.com, a0@x.com"],
            b"",
        ))
        .expect("a message");
        assert_eq!(env.to.len(), MAX_ADDRESSES);
        assert!(!env.to.iter().any(|m| m.email == "later@x.com"));
        assert_eq!(env.limits_hit.len(), 1, "{:?}", env.limits_hit);
        assert!(env.limits_hit[0].starts_with(&format!("To: {} addresses", MAX_ADDRESSES + 1)));
    }

    #[test]
    fn header_fields_beyond_the_cap_are_ignored_and_the_body_still_read() {
        let filler: Vec<Vec<u8>> = (0..MAX_HEADER_FIELDS + 100)
            .map(|i| format!("X-Filler-{i}: {i}\r\n folded").into_bytes())
            .collect();
        let mut lines: Vec<&[u8]> = vec![b"From: a@example.com", b"Subject: kept"];
        lines.extend(filler.iter().map(Vec::as_slice));
        lines.push(b"To: too-late@x.com");
        let env = parse(&msg(&lines, b"the body")).expect("a message");
        assert_eq!(env.subject, "kept");
        assert!(env.to.is_empty(), "{:?}", env.to);
        assert_eq!(env.body_text, "the body");
        assert_eq!(
            env.limits_hit,
            [format!(
                "{} header fields; only the first {MAX_HEADER_FIELDS} were read",
                MAX_HEADER_FIELDS + 103
            )]
        );
    }

    #[test]
    fn header_fields_are_counted_with_old_mac_line_ends_too() {
        let mut raw = b"From: a@example.com\r".to_vec();
        for i in 0..MAX_HEADER_FIELDS {
            raw.extend_from_slice(format!("X-Filler-{i}: {i}\r").as_bytes());
        }
        raw.extend_from_slice(b"To: too-late@x.com\r\rbody");
        let env = parse(&raw).expect("a message");
        assert!(env.to.is_empty(), "{:?}", env.to);
        assert_eq!(env.limits_hit.len(), 1, "{:?}", env.limits_hit);
    }

    #[test]
    fn references_keep_the_nearest_ids_and_in_reply_to_the_first() {
        let ids = |n: usize| {
            (0..n)
                .map(|i| format!("<id{i}@x>"))
                .collect::<Vec<_>>()
                .join("\r\n ")
        };
        let refs = format!("References: {}", ids(MAX_MESSAGE_IDS + 200));
        let irt = format!("In-Reply-To: {}", ids(MAX_MESSAGE_IDS + 1));
        let env = parse(&msg(
            &[b"From: a@example.com", refs.as_bytes(), irt.as_bytes()],
            b"",
        ))
        .expect("a message");
        assert_eq!(env.references.len(), MAX_MESSAGE_IDS);
        assert_eq!(env.references[0], "id200@x");
        assert_eq!(
            env.references.last().map(String::as_str),
            Some(format!("id{}@x", MAX_MESSAGE_IDS + 199).as_str())
        );
        assert_eq!(env.in_reply_to.len(), MAX_MESSAGE_IDS);
        assert_eq!(env.in_reply_to[0], "id0@x");
        assert_eq!(
            env.limits_hit,
            [
                format!(
                    "In-Reply-To: {} Message-IDs; only the first {MAX_MESSAGE_IDS} were kept",
                    MAX_MESSAGE_IDS + 1
                ),
                format!(
                    "References: {} Message-IDs; only the last {MAX_MESSAGE_IDS} were kept",
                    MAX_MESSAGE_IDS + 200
                ),
            ]
        );
    }

    #[test]
    fn ordinary_mail_hits_no_limit() {
        let env = parse(&msg(
            &[
                b"From: a@example.com",
                b"To: b@x.com, b@x.com",
                b"References: <a@x> <a@x>",
            ],
            b"",
        ))
        .expect("a message");
        assert!(env.limits_hit.is_empty());
        assert_eq!(env.references, ["a@x"]);
    }

    // --- Rejection ----------------------------------------------------------------

    #[test]
    fn garbage_is_not_a_message() {
        for raw in [
            &b""[..],
            b"\r\n\r\n",
            b"hello world\nthis is text",
            b"\x00\x01\x02\xff\xfe",
            b": no name\n\n",
        ] {
            assert!(
                matches!(parse(raw), Err(ParseError::Malformed(_))),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn message_without_a_readable_from_is_rejected() {
        assert!(matches!(
            parse(&msg(&[b"Subject: hi"], b"x")),
            Err(ParseError::NoSender)
        ));
        assert!(matches!(
            parse(&msg(&[b"From: <>", b"Subject: hi"], b"x")),
            Err(ParseError::NoSender)
        ));
        assert!(matches!(
            parse(&msg(&[b"From: =?UTF-16?B?//492Enc?= test"], b"x")),
            Err(ParseError::NoSender)
        ));
    }

    #[test]
    fn addresses_are_read_one_item_at_a_time_with_names_and_quoted_commas() {
        let env = parse(&msg(
            &[
                b"From: a@example.com",
                b"Cc: \"Zhang, Wei\" <zw@example.com>, =?UTF-8?B?5p2O5aic?= <lina@example.com>,\r\n (team, one) b@example.com, ,",
            ],
            b"",
        ))
        .ok()
        .unwrap_or_default();
        let cc: Vec<(Option<&str>, &str)> = env
            .cc
            .iter()
            .map(|m| (m.name.as_deref(), m.email.as_str()))
            .collect();
        assert_eq!(
            cc,
            [
                (Some("Zhang, Wei"), "zw@example.com"),
                (Some("李娜"), "lina@example.com"),
                (None, "b@example.com"),
            ]
        );
    }

    #[test]
    fn an_unclosed_quote_does_not_hide_the_addresses_after_it() {
        let env = parse(&msg(
            &[
                b"From: a@example.com",
                b"To: \"Zhang <zw@example.com>, lina@example.com",
            ],
            b"",
        ))
        .ok()
        .unwrap_or_default();
        let to: Vec<&str> = env.to.iter().map(|m| m.email.as_str()).collect();
        assert_eq!(to, ["zw@example.com", "lina@example.com"]);
    }

    #[test]
    fn a_from_that_is_not_plainly_one_address_is_in_doubt() {
        let doubt = |from: &[u8]| {
            parse(&msg(&[from], b""))
                .ok()
                .unwrap_or_default()
                .from_doubt
        };
        assert_eq!(
            doubt(b"From: =?UTF-8?B?5p2O5aic?= <lina@example.com>"),
            None
        );
        assert_eq!(doubt(b"From: LiNa@Example.com"), None);
        // `<wangfang@example.com>` hidden in an encoded word.
        assert!(doubt(b"From: =?UTF-8?B?PHdhbmdmYW5nQGV4YW1wbGUuY29tPg==?=").is_some());
        assert!(
            doubt(b"From: =?UTF-8?B?546L6Iqz?= <wangfang@example.com> <zhangwei@example.com>")
                .is_some()
        );
        let two = parse(&msg(&[b"From: a@example.com", b"From: b@example.com"], b""))
            .ok()
            .unwrap_or_default();
        assert!(two.from_doubt.is_some());
    }

    #[test]
    fn first_valid_from_wins() {
        let env = parse(&msg(
            &[b"From: nobody", b"From: Zhang <ZhangWei@example.com>"],
            b"",
        ))
        .ok()
        .unwrap_or_default();
        assert_eq!(
            env.from,
            Some(mailbox(Some("Zhang"), "zhangwei@example.com"))
        );
        let env = parse(&msg(&[b"From: tim@x.com concierge@x.com"], b""))
            .ok()
            .unwrap_or_default();
        assert_eq!(env.from.map(|m| m.email).as_deref(), Some("tim@x.com"));
    }

    #[test]
    fn real_world_mess_is_still_a_message() {
        // mbox separator, BOM, a leading blank line, lone CRs, no body.
        for raw in [
            &b"From zhangwei@example.com Sat Nov 28 12:00:00 2026\nFrom: zhangwei@example.com\nSubject: x\n\nbody"[..],
            b"\xef\xbb\xbfFrom: zhangwei@example.com\r\nSubject: x\r\n\r\nbody",
            b"   \r\nFrom: zhangwei@example.com\r\nSubject: x\r\n\r\nbody",
            b"From: zhangwei@example.com\rSubject: x\r\r\nbody",
            b"From: zhangwei@example.com",
        ] {
            let env = parse(raw);
            assert_eq!(env.ok().and_then(|e| e.from).map(|m| m.email).as_deref(), Some("zhangwei@example.com"), "{raw:?}");
        }
    }

    // --- Threading headers ----------------------------------------------------------

    #[test]
    fn message_ids_are_extracted_without_brackets() {
        assert_eq!(
            parse_message_ids("<a@x> <b@y>\r\n\t<c@z>"),
            ["a@x", "b@y", "c@z"]
        );
        assert_eq!(parse_message_ids("bare@x.com"), ["bare@x.com"]);
        assert_eq!(parse_message_ids("<a@x>,<a@x>, <>"), ["a@x"]);
        assert_eq!(
            parse_message_ids("Your message of Tue <a@x> (comment)"),
            ["a@x"]
        );
        assert_eq!(parse_message_ids("<unterminated@x"), ["unterminated@x"]);
        assert_eq!(parse_message_ids("<long\r\n id@x>"), ["longid@x"]);
        assert!(parse_message_ids("").is_empty());
        assert!(parse_message_ids("no ids here").is_empty());
    }

    #[test]
    fn threading_headers_fill_the_envelope() {
        let raw = msg(
            &[
                b"From: wangfang@example.com",
                b"Message-ID: <re1@wangfang>",
                b"In-Reply-To: <w48@zhang>",
                b"References: <w47@zhang>\r\n <w48@zhang>",
            ],
            b"",
        );
        let env = parse(&raw).ok().unwrap_or_default();
        assert_eq!(env.message_id.as_deref(), Some("re1@wangfang"));
        assert_eq!(env.in_reply_to, ["w48@zhang"]);
        assert_eq!(env.references, ["w47@zhang", "w48@zhang"]);
    }

    #[test]
    fn missing_message_id_is_none() {
        assert_eq!(
            parse(&msg(&[b"From: a@x.com", b"Message-ID: "], b""))
                .ok()
                .unwrap_or_default()
                .message_id,
            None
        );
    }

    // --- Date -------------------------------------------------------------------------

    fn date(s: &str) -> Option<String> {
        parse_date(s).map(|d| d.to_rfc3339())
    }

    #[test]
    fn rfc5322_dates_parse() {
        assert_eq!(
            date("Sat, 28 Nov 2026 21:30:05 +0800").as_deref(),
            Some("2026-11-28T21:30:05+08:00")
        );
        assert_eq!(
            date("28 Nov 2026 21:30:05 -0500 (EST)").as_deref(),
            Some("2026-11-28T21:30:05-05:00")
        );
        assert_eq!(
            date("Sat, 28 Nov 26 21:30:05 GMT").as_deref(),
            Some("2026-11-28T21:30:05+00:00")
        );
        assert_eq!(
            date("Tue, 19 Jun 2001 01:16:04 +0800 (CST)").as_deref(),
            Some("2001-06-19T01:16:04+08:00")
        );
    }

    #[test]
    fn lenient_dates_parse() {
        // No seconds, colon in the zone, CST as China, no zone, ISO 8601.
        assert_eq!(
            date("Sat, 28 Nov 2026 21:30 +0800").as_deref(),
            Some("2026-11-28T21:30:00+08:00")
        );
        assert_eq!(
            date("Sat, 28 Nov 2026 21:30:00 +08:00").as_deref(),
            Some("2026-11-28T21:30:00+08:00")
        );
        assert_eq!(
            date("Sat, 28 Nov 2026 21:30:00 CST").as_deref(),
            Some("2026-11-28T21:30:00+08:00")
        );
        assert_eq!(
            date("Sat, 28 Nov 2026 21:30:00").as_deref(),
            Some("2026-11-28T21:30:00+08:00")
        );
        assert_eq!(
            date("2026-11-28T21:30:00+08:00").as_deref(),
            Some("2026-11-28T21:30:00+08:00")
        );
        assert_eq!(
            date("2026-11-28 21:30:00 +0800").as_deref(),
            Some("2026-11-28T21:30:00+08:00")
        );
        assert_eq!(
            date("Saturday, November 28, 2026 9:30:00 PM")
                .map(|d| d[..10].to_string())
                .as_deref(),
            Some("2026-11-28")
        );
    }

    #[test]
    fn garbage_dates_are_none_never_1970() {
        for s in [
            "",
            "garbage",
            "Pn, 29 paX 2007 21:13:00 +0100",
            "Sat, 28 Nov 2026 27:00:00 +0800",
            "31 Feb 2026 10:00 +0800",
            "0",
            "Sat, 28 Nov 2026",
        ] {
            assert_eq!(date(s), None, "{s}");
        }
    }

    // --- Body ---------------------------------------------------------------------------

    #[test]
    fn gbk_base64_plain_body_decodes() {
        let raw = msg(
            &[
                b"From: a@x.com",
                b"Content-Type: text/plain; charset=\"gb2312\"",
                b"Content-Transfer-Encoding: base64",
            ],
            b"sb7W3M3qs8m/zbunsN23wzEyvNKhowrPwtbcvMa7rqO6uPq9+LGovNuhow==",
        );
        assert_eq!(
            parse(&raw).ok().unwrap_or_default().body_text,
            "本周完成客户拜访12家。\n下周计划：跟进报价。"
        );
    }

    #[test]
    fn body_without_charset_is_utf8_or_gb18030_not_windows_1252() {
        let env = parse(&msg(&[b"From: a@x.com"], b"\xd6\xdc\xb1\xa8"))
            .ok()
            .unwrap_or_default();
        assert_eq!(env.body_text, "周报");
        let env = parse(&msg(&[b"From: a@x.com"], "周报".as_bytes()))
            .ok()
            .unwrap_or_default();
        assert_eq!(env.body_text, "周报");
    }

    #[test]
    fn multipart_prefers_plain_over_html_and_skips_attachments() {
        let raw = msg(
            &[b"From: a@x.com", b"Content-Type: multipart/mixed; boundary=\"b1\""],
            b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Disposition: attachment; filename=\"a.txt\"\r\n\r\nATTACHED\r\n\
--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n\
--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>HTML</p>\r\n\
--b2\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E5=91=A8=E6=8A=A5 soft=\r\nbreak\r\n\
--b2--\r\n--b1--\r\n",
        );
        assert_eq!(
            parse(&raw).ok().unwrap_or_default().body_text,
            "周报 softbreak"
        );
    }

    #[test]
    fn html_only_body_is_stripped_to_text() {
        let raw = msg(
            &[b"From: a@x.com", b"Content-Type: text/html; charset=gbk"],
            b"<html><head><style>p{color:red}</style><title>t</title></head><body><p>\xd6\xdc\xb1\xa8&nbsp;W48</p><script>x()</script><!-- c --><div>a &amp; b &#21608;&#x62a5;</div></body></html>",
        );
        assert_eq!(
            parse(&raw).ok().unwrap_or_default().body_text,
            "周报 W48\na & b 周报"
        );
    }

    #[test]
    fn body_text_is_capped_at_64_kib_on_a_char_boundary() {
        let body = "周".repeat(30_000);
        let env = parse(&msg(
            &[b"From: a@x.com", b"Content-Type: text/plain; charset=utf-8"],
            body.as_bytes(),
        ))
        .ok()
        .unwrap_or_default();
        assert!(env.body_text.len() <= BODY_TEXT_MAX && env.body_text.len() > BODY_TEXT_MAX - 4);
        assert!(env.body_text.chars().all(|c| c == '周'));
    }

    // --- Other headers ------------------------------------------------------------------

    #[test]
    fn x_mailer_falls_back_to_user_agent_and_auth_results_are_kept_in_order() {
        let raw = msg(
            &[
                b"Authentication-Results: mx.example.com;\r\n dkim=pass header.d=example.com",
                b"Authentication-Results: relay; spf=pass",
                b"From: a@x.com",
                b"User-Agent: Mozilla Thunderbird",
            ],
            b"",
        );
        let env = parse(&raw).ok().unwrap_or_default();
        assert_eq!(env.x_mailer.as_deref(), Some("Mozilla Thunderbird"));
        assert_eq!(
            env.authentication_results,
            [
                "mx.example.com; dkim=pass header.d=example.com",
                "relay; spf=pass"
            ]
        );
        let env = parse(&msg(
            &[
                b"From: a@x.com",
                b"User-Agent: UA",
                b"X-Mailer: Foxmail 7.2.25.228[cn]",
            ],
            b"",
        ))
        .ok()
        .unwrap_or_default();
        assert_eq!(env.x_mailer.as_deref(), Some("Foxmail 7.2.25.228[cn]"));
    }

    // --- Automatic messages ------------------------------------------------------

    fn auto_of(headers: &[&[u8]]) -> Option<String> {
        let mut all: Vec<&[u8]> = vec![b"From: a@x.com"];
        all.extend_from_slice(headers);
        parse(&msg(&all, b"I am out of the office."))
            .ok()?
            .auto_reply
    }

    #[test]
    fn auto_submitted_other_than_no_is_automatic() {
        assert_eq!(
            auto_of(&[b"Auto-Submitted: auto-replied"]).as_deref(),
            Some("Auto-Submitted: auto-replied")
        );
        assert_eq!(
            auto_of(&[b"auto-submitted: Auto-Generated; owner-email=\"a@x.com\""]).as_deref(),
            Some("Auto-Submitted: Auto-Generated; owner-email=\"a@x.com\"")
        );
        assert_eq!(
            auto_of(&[b"Auto-Submitted: auto-notified (vacation)"]).as_deref(),
            Some("Auto-Submitted: auto-notified (vacation)")
        );
    }

    #[test]
    fn auto_submitted_no_or_empty_is_not_automatic() {
        assert_eq!(auto_of(&[b"Auto-Submitted: no"]), None);
        assert_eq!(auto_of(&[b"Auto-Submitted: No (sent by a person)"]), None);
        assert_eq!(auto_of(&[b"Auto-Submitted:  NO ; x=y"]), None);
        assert_eq!(auto_of(&[b"Auto-Submitted: "]), None);
        assert_eq!(auto_of(&[]), None);
    }

    #[test]
    fn x_autoreply_and_x_autorespond_with_any_value_are_automatic() {
        assert_eq!(
            auto_of(&[b"X-Autoreply: yes"]).as_deref(),
            Some("X-Autoreply: yes")
        );
        assert_eq!(
            auto_of(&[b"x-autorespond: =?UTF-8?B?5piv?="]).as_deref(),
            Some("X-Autorespond: \u{662f}")
        );
        assert_eq!(
            auto_of(&[b"X-Autoreply: "]).as_deref(),
            Some("X-Autoreply: ")
        );
    }

    #[test]
    fn precedence_bulk_junk_list_auto_reply_are_automatic_in_any_case() {
        for (line, want) in [
            (&b"Precedence: bulk"[..], "Precedence: bulk"),
            (b"Precedence: JUNK", "Precedence: JUNK"),
            (b"PRECEDENCE: List", "Precedence: List"),
            (b"Precedence: auto_reply", "Precedence: auto_reply"),
        ] {
            assert_eq!(auto_of(&[line]).as_deref(), Some(want), "{line:?}");
        }
        assert_eq!(auto_of(&[b"Precedence: first-class"]), None);
        assert_eq!(auto_of(&[b"Precedence: normal"]), None);
        assert_eq!(auto_of(&[b"Precedence: bulky"]), None);
    }

    #[test]
    fn auto_submitted_wins_over_later_markers_and_a_later_no_does_not_hide_one() {
        assert_eq!(
            auto_of(&[b"Precedence: bulk", b"Auto-Submitted: auto-replied"]).as_deref(),
            Some("Auto-Submitted: auto-replied")
        );
        assert_eq!(
            auto_of(&[b"Auto-Submitted: no", b"Auto-Submitted: auto-generated"]).as_deref(),
            Some("Auto-Submitted: auto-generated")
        );
        assert_eq!(
            auto_of(&[b"Auto-Submitted: no", b"Precedence: list"]).as_deref(),
            Some("Precedence: list")
        );
    }

    // --- Robustness -----------------------------------------------------------------------

    #[test]
    fn never_panics_on_truncated_or_mutated_messages() {
        let base = msg(
            &[
                b"From: =?GB2312?B?1cXOsA==?= <zhangwei@example.com>",
                b"To: \"\xcd\xf5\xb7\xbc\" <wangfang@example.com>, g: a@b.c;",
                b"Subject: =?GB2312?B?1g==?==?GB2312?B?3LGo?= W48 =?x?Q?=?=",
                b"Date: Sat, 28 Nov 2026 21:30 +08:00",
                b"References: <a@b> <c",
                b"Content-Type: multipart/alternative; boundary=\"b\"",
            ],
            b"--b\r\nContent-Type: text/plain; charset=utf-7\r\nContent-Transfer-Encoding: base64\r\n\r\nK1ZHaGlwUS0=\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>&#xFFFFFFFF;&#99999999;<scr</p>\r\n--b--\r\n",
        );
        // Every prefix.
        for end in 0..=base.len() {
            let _ = parse(&base[..end]);
        }
        // Deterministic byte mutations (xorshift).
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..3000 {
            let mut m = base.clone();
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state % m.len() as u64) as usize;
                let byte = (state >> 32) as u8;
                match state % 3 {
                    0 => m[at] = byte,
                    1 => m.insert(at, b"=?:<>\"\r\n\xd6;"[(byte % 10) as usize]),
                    _ => {
                        m.remove(at);
                    }
                }
            }
            let _ = parse(&m);
        }
    }

    #[test]
    fn never_panics_on_address_punctuation_soup() {
        const ALPHABET: &[u8] = b"ab@.<>\"():;,\\ =?Bq_\xd6\xdc\t";
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..20_000 {
            let mut value = Vec::new();
            for _ in 0..(state % 24) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                value.push(ALPHABET[(state % ALPHABET.len() as u64) as usize]);
            }
            address_list(&value, None, &mut Addresses::new(MAX_ADDRESSES));
            let _ = decode_header(&value);
            let _ = parse_message_ids(&String::from_utf8_lossy(&value));
            let _ = parse_date(&String::from_utf8_lossy(&value));
        }
    }

    #[test]
    fn helpers_round_trip() {
        assert_eq!(
            b64_decode(b64_encode("张伟 <>".as_bytes()).as_bytes()),
            "张伟 <>".as_bytes()
        );
        assert_eq!(b64_decode(b"YQ==Yg=="), b"ab");
        assert_eq!(qp_decode(b"a=3Db=\r\nc=ZZ", false), b"a=bc=ZZ");
        assert_eq!(normalize_whitespace(" a \t\r\n b\u{3000}c "), "a b c");
    }
}
