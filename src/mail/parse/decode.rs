//! Bytes to text, as mail clients mean them: charset labels (every GB label
//! read as GB18030, UTF-7, 8-bit text without a label guessed as UTF-8, else
//! GB18030), lenient base64 and quoted-printable, and RFC 2047 encoded words
//! (adjacent words of one charset decoded together, no white space needed,
//! RFC 2231 language suffixes dropped). Never fails: at worst a character
//! becomes U+FFFD.

use encoding_rs::{BIG5, Encoding, GB18030, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

/// Collapses every run of white space (and control characters) into one
/// space and trims.
pub fn normalize_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Charsets.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Charset {
    Known(&'static Encoding),
    Utf7,
    /// US-ASCII: says nothing about 8-bit bytes, which then need guessing.
    Ascii,
}

/// Reads a charset label as a mail client means it. `None`: unknown.
pub(super) fn resolve_charset(label: &str) -> Option<Charset> {
    let label = label.trim().trim_matches(|c| c == '"' || c == '\'');
    // RFC 2231 language suffix: `utf-8*en`.
    let label = label
        .split('*')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let label = label.as_str();
    match label {
        "gb2312" | "gbk" | "x-gbk" | "cp936" | "ms936" | "windows-936" | "euc-cn" | "x-euc-cn"
        | "csgb2312" | "gb_2312-80" | "gb_2312" | "chinese" | "iso-ir-58" | "gb18030"
        | "gb-18030" | "936" => return Some(Charset::Known(GB18030)),
        "big5" | "big-5" | "big5-hkscs" | "x-x-big5" | "cp950" | "ms950" | "windows-950"
        | "csbig5" | "cn-big5" | "x-big5" => return Some(Charset::Known(BIG5)),
        "utf-7" | "utf7" | "unicode-1-1-utf-7" | "x-unicode20utf7" => return Some(Charset::Utf7),
        "us-ascii" | "ascii" | "ansi_x3.4-1968" | "us" | "iso646-us" | "csascii" | "646"
        | "iso-ir-6" | "7bit" | "" => return Some(Charset::Ascii),
        "utf8" | "utf-8" | "unicode-1-1-utf-8" => return Some(Charset::Known(UTF_8)),
        _ => {}
    }
    if let Some(enc) = Encoding::for_label_no_replacement(label.as_bytes()) {
        return Some(Charset::Known(enc));
    }
    // A label mangled by a broken quoted-printable pass: `3Dutf-8`.
    if let Some(rest) = label.strip_prefix("3d")
        && !rest.is_empty()
    {
        return resolve_charset(rest);
    }
    None
}

pub(super) fn strict(enc: &'static Encoding, bytes: &[u8]) -> Option<String> {
    enc.decode_without_bom_handling_and_without_replacement(bytes)
        .map(|c| c.into_owned())
}

/// Text that a gateway decoded as Latin-1 and re-encoded as UTF-8 although
/// it was in a CJK multi-byte charset (`¤j®a»¡` for Big5 `大家說`): when
/// `enc` is such a charset, the text is mostly characters U+0080–U+00FF
/// (at least two, and at least 30% of the non-space characters; an
/// accented word in real Latin text stays far below that), and their
/// Latin-1 bytes are valid in `enc`, those bytes decoded in `enc`.
pub(super) fn repair_latin1_mojibake(text: &str, enc: &'static Encoding) -> Option<String> {
    let multibyte = [
        GB18030,
        BIG5,
        encoding_rs::EUC_KR,
        encoding_rs::SHIFT_JIS,
        encoding_rs::EUC_JP,
    ];
    if !multibyte.contains(&enc) || text.chars().any(|c| u32::from(c) > 0xFF) {
        return None;
    }
    let high = text.chars().filter(|&c| u32::from(c) >= 0x80).count();
    let visible = text.chars().filter(|c| !c.is_whitespace()).count();
    if high < 2 || high * 10 < visible * 3 {
        return None;
    }
    let bytes: Vec<u8> = text.chars().map(|c| u32::from(c) as u8).collect();
    strict(enc, &bytes)
}

/// Bytes in an unknown or undeclared charset: UTF-8, else GB18030, else
/// windows-1252 (which reads anything).
pub(super) fn guess(bytes: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_string();
    }
    if let Some(s) = strict(GB18030, bytes) {
        return s;
    }
    WINDOWS_1252
        .decode_without_bom_handling(bytes)
        .0
        .into_owned()
}

/// Decodes text in the charset a message declares for it (`None`: no label).
///
/// GB2312/GBK labels are read as GB18030; a declared charset that the bytes
/// break is retried as UTF-8 and GB18030 before replacement characters are
/// used (Chinese clients mislabel both ways); an unknown label, no label or
/// US-ASCII with 8-bit bytes is guessed as UTF-8, else GB18030, else
/// windows-1252. Never fails.
pub fn decode_text(bytes: &[u8], charset: Option<&str>) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.is_empty() {
        return String::new();
    }
    match charset.map(resolve_charset).unwrap_or(Some(Charset::Ascii)) {
        None | Some(Charset::Ascii) => guess(bytes),
        Some(Charset::Utf7) => decode_utf7(bytes),
        Some(Charset::Known(enc)) if enc == UTF_16LE || enc == UTF_16BE => {
            // `utf-16` without a BOM is little-endian for encoding_rs; a
            // BOM, when there is one, decides.
            enc.decode(bytes).0.into_owned()
        }
        Some(Charset::Known(enc)) => {
            if let Some(s) = strict(enc, bytes) {
                return s;
            }
            if enc != UTF_8
                && let Ok(s) = std::str::from_utf8(bytes)
            {
                return repair_latin1_mojibake(s, enc).unwrap_or_else(|| s.to_string());
            }
            if enc != GB18030
                && let Some(s) = strict(GB18030, bytes)
            {
                return s;
            }
            enc.decode_without_bom_handling(bytes).0.into_owned()
        }
    }
}

/// Raw header bytes outside encoded words: UTF-8 (RFC 6532; repaired when
/// it is Latin-1 mojibake of the message's declared CJK charset), else the
/// message's declared charset, else GB18030, else windows-1252.
pub(super) fn decode_raw_header(bytes: &[u8], hint: Option<&'static Encoding>) -> String {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return hint
            .and_then(|enc| repair_latin1_mojibake(s, enc))
            .unwrap_or_else(|| s.to_string());
    }
    if let Some(enc) = hint
        && let Some(s) = strict(enc, bytes)
    {
        return s;
    }
    guess(bytes)
}

/// RFC 2152 UTF-7 (encoding_rs does not have it).
pub(super) fn decode_utf7(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        if b != b'+' {
            out.push(if b < 0x80 {
                char::from(b)
            } else {
                char::REPLACEMENT_CHARACTER
            });
            continue;
        }
        if bytes.get(i) == Some(&b'-') {
            out.push('+');
            i += 1;
            continue;
        }
        let mut units = Vec::new();
        let (mut acc, mut nbits) = (0u32, 0u32);
        while let Some(v) = bytes.get(i).and_then(|&c| b64_value(c)) {
            acc = (acc << 6) | u32::from(v);
            nbits += 6;
            if nbits >= 16 {
                nbits -= 16;
                units.push(((acc >> nbits) & 0xFFFF) as u16);
                acc &= (1 << nbits) - 1;
            }
            i += 1;
        }
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        out.extend(char::decode_utf16(units).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)));
    }
    out
}

// ---------------------------------------------------------------------------
// Transfer encodings (lenient: never an error).

pub(super) fn b64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Base64 that skips anything outside the alphabet and restarts after
/// padding (so concatenated padded blocks decode too).
pub(super) fn b64_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let (mut acc, mut nbits) = (0u32, 0u32);
    for &c in input {
        if c == b'=' {
            acc = 0;
            nbits = 0;
            continue;
        }
        let Some(v) = b64_value(c) else { continue };
        acc = (acc << 6) | u32::from(v);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((acc >> nbits) as u8);
            acc &= (1 << nbits) - 1;
        }
    }
    out
}

pub(super) fn b64_encode(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub(super) fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Quoted-printable body (soft line breaks) or, with `q_word`, the RFC 2047
/// Q encoding (`_` is a space). A malformed `=` is kept as it is.
pub(super) fn qp_decode(input: &[u8], q_word: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'_' && q_word {
            out.push(b' ');
            i += 1;
        } else if b == b'=' {
            if let (Some(h), Some(l)) = (
                input.get(i + 1).copied().and_then(hex_value),
                input.get(i + 2).copied().and_then(hex_value),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
            // Soft line break, possibly with trailing white space.
            let ws = input[i + 1..]
                .iter()
                .take_while(|&&c| c == b' ' || c == b'\t')
                .count();
            let j = i + 1 + ws;
            if !q_word && input.get(j) == Some(&b'\n') {
                i = j + 1;
            } else if !q_word && input.get(j) == Some(&b'\r') && input.get(j + 1) == Some(&b'\n') {
                i = j + 2;
            } else {
                out.push(b'=');
                i += 1;
            }
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// RFC 2047 headers.

pub(super) enum Piece {
    /// Text outside encoded words, decoded.
    Raw(String),
    /// One or more adjacent encoded words, decoded together.
    Words(String),
}

pub(super) struct EncodedWord {
    /// Lower-cased label without its language suffix.
    charset: String,
    bytes: Vec<u8>,
    /// Index just past `?=`.
    end: usize,
}

/// An encoded word starting at `buf[i]` (`=?`). Lenient: no white space is
/// needed around it, and (for words broken by folding) the text may hold
/// spaces.
pub(super) fn encoded_word_at(buf: &[u8], i: usize) -> Option<EncodedWord> {
    let rest = buf.get(i + 2..)?;
    let q1 = rest.iter().take(80).position(|&b| b == b'?')?;
    let label = &rest[..q1];
    if label.is_empty()
        || !label
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-_.:+*!#$%&'^`{}~".contains(&b))
    {
        return None;
    }
    let coding = *rest.get(q1 + 1)?;
    if rest.get(q1 + 2) != Some(&b'?') {
        return None;
    }
    let text_start = q1 + 3;
    let window = rest.get(text_start..)?;
    let window = &window[..window.len().min(1024)];
    let text_len = window.windows(2).position(|w| w == b"?=")?;
    let text = &window[..text_len];
    let bytes = match coding {
        b'B' | b'b' => b64_decode(text),
        b'Q' | b'q' => qp_decode(text, true),
        _ => return None,
    };
    let label = String::from_utf8_lossy(label).to_ascii_lowercase();
    let charset = label.split('*').next().unwrap_or_default().to_string();
    Some(EncodedWord {
        charset,
        bytes,
        end: i + 2 + text_start + text_len + 2,
    })
}

pub(super) fn header_pieces(raw: &[u8], hint: Option<&'static Encoding>) -> Vec<Piece> {
    let buf: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    let mut pieces = Vec::new();
    let mut pending: Option<(String, Vec<u8>)> = None;
    let flush = |pending: &mut Option<(String, Vec<u8>)>, pieces: &mut Vec<Piece>| {
        if let Some((charset, bytes)) = pending.take() {
            pieces.push(Piece::Words(decode_text(&bytes, Some(&charset))));
        }
    };
    let mut text_start = 0;
    let mut i = 0;
    while i + 1 < buf.len() {
        if buf[i] == b'='
            && buf[i + 1] == b'?'
            && let Some(word) = encoded_word_at(&buf, i)
        {
            let between = &buf[text_start..i];
            let only_space = between.iter().all(|&b| b == b' ' || b == b'\t');
            // White space between two encoded words is dropped.
            if !(pending.is_some() && only_space) {
                flush(&mut pending, &mut pieces);
                if !between.is_empty() {
                    pieces.push(Piece::Raw(decode_raw_header(between, hint)));
                }
            }
            match &mut pending {
                Some((charset, bytes)) if *charset == word.charset => bytes.extend(word.bytes),
                _ => {
                    flush(&mut pending, &mut pieces);
                    pending = Some((word.charset, word.bytes));
                }
            }
            i = word.end;
            text_start = i;
            continue;
        }
        i += 1;
    }
    flush(&mut pending, &mut pieces);
    if text_start < buf.len() {
        pieces.push(Piece::Raw(decode_raw_header(&buf[text_start..], hint)));
    }
    pieces
}

/// Decodes a raw header value (as `MailHeader::get_value_raw` gives it):
/// unfolds, decodes encoded words in any charset, reads raw 8-bit bytes as
/// UTF-8 or else GB18030, and normalises white space.
pub fn decode_header(raw: &[u8]) -> String {
    normalize_whitespace(&decode_header_with_hint(raw, None))
}

pub(super) fn decode_header_with_hint(raw: &[u8], hint: Option<&'static Encoding>) -> String {
    header_pieces(raw, hint)
        .into_iter()
        .map(|p| match p {
            Piece::Raw(s) | Piece::Words(s) => s,
        })
        .collect()
}
