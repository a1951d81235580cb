//! Whether the receiving mail server vouches for a message's From address.
//! The single home of sender authentication: reports, replies and commands
//! from the team count only when this says yes.
//!
//! Anyone can write any `From:` header. What reportd believes instead is the
//! `Authentication-Results` header (RFC 8601) that the assistant's own
//! receiving server adds: the topmost one carrying the configured
//! authserv-id must show a DMARC pass, or a DKIM or SPF pass for a domain
//! aligned with the From domain in DMARC's relaxed mode (the same
//! organizational domain, found with the Public Suffix List). The server must
//! strip headers with its id that arrive from outside (RFC 8601 §5), so a
//! sender cannot bring their own.

use crate::mail::parse::Envelope;

/// Why a message's sender is not vouched for. Its text is shown to the
/// assistant, so it says what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unauthenticated {
    #[error("it has no From address")]
    NoSender,
    #[error("no Authentication-Results header from {authserv_id}")]
    NoResults { authserv_id: String },
    #[error(
        "the server saw it sent as {seen}, not as the From address {from}; one colleague may not write as another"
    )]
    SentAsOther { seen: String, from: String },
    #[error(
        "Authentication-Results from {authserv_id} show no DMARC pass and no DKIM or SPF pass aligned with {from_domain}: {header}"
    )]
    NoPass {
        authserv_id: String,
        from_domain: String,
        header: String,
    },
}

/// `Ok` when the topmost `Authentication-Results` header of `authserv_id`
/// shows a pass that covers the From domain, and names no other sender of
/// the same organization.
pub fn check(env: &Envelope, authserv_id: &str) -> Result<(), Unauthenticated> {
    let from = env
        .from
        .as_ref()
        .map(|f| f.email.to_ascii_lowercase())
        .ok_or(Unauthenticated::NoSender)?;
    let from_domain = from
        .rsplit_once('@')
        .map(|(_, d)| normalise(d))
        .filter(|d| !d.is_empty())
        .ok_or(Unauthenticated::NoSender)?;
    let header = env
        .authentication_results
        .iter()
        .find(|h| authserv_of(h).eq_ignore_ascii_case(authserv_id))
        .ok_or_else(|| Unauthenticated::NoResults {
            authserv_id: authserv_id.to_string(),
        })?;
    if let Some(seen) = sent_as_other(header, &from) {
        return Err(Unauthenticated::SentAsOther { seen, from });
    }
    if passes(header, &from_domain) {
        Ok(())
    } else {
        Err(Unauthenticated::NoPass {
            authserv_id: authserv_id.to_string(),
            from_domain,
            header: header.split_whitespace().collect::<Vec<_>>().join(" "),
        })
    }
}

fn normalise(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// One `method=result` clause of the header with its `ptype.property=value`
/// pairs, keys lower-cased, values unquoted.
#[derive(Debug, Default, PartialEq, Eq)]
struct Clause {
    method: String,
    result: String,
    props: Vec<(String, String)>,
}

impl Clause {
    fn prop(&self, name: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits the header into its authserv-id and tokens per `;`-separated
/// part, as RFC 8601 reads it: `(comments)` dropped, `"quoted strings"` kept
/// whole (a `;` or `(` inside one is text, not structure).
fn lex(header: &str) -> Vec<Vec<String>> {
    let mut parts = vec![Vec::new()];
    let mut token = String::new();
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    let end_token = |token: &mut String, parts: &mut Vec<Vec<String>>| {
        if !token.is_empty()
            && let Some(part) = parts.last_mut()
        {
            part.push(std::mem::take(token));
        }
    };
    for c in header.chars() {
        if quoted {
            match c {
                _ if escaped => {
                    token.push(c);
                    escaped = false;
                }
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => token.push(c),
            }
            continue;
        }
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            '"' => quoted = true,
            ';' => {
                end_token(&mut token, &mut parts);
                parts.push(Vec::new());
            }
            c if c.is_whitespace() => end_token(&mut token, &mut parts),
            _ => token.push(c),
        }
    }
    end_token(&mut token, &mut parts);
    parts
}

fn authserv_of(header: &str) -> String {
    lex(header)
        .first()
        .and_then(|p| p.first())
        .cloned()
        .unwrap_or_default()
}

/// The result clauses (everything after the authserv-id).
fn clauses(header: &str) -> Vec<Clause> {
    lex(header)
        .into_iter()
        .skip(1)
        .filter_map(|tokens| {
            let mut pairs = tokens.iter().filter_map(|t| t.split_once('='));
            let (method, result) = pairs.next()?;
            Some(Clause {
                method: method.to_ascii_lowercase(),
                result: result.to_ascii_lowercase(),
                props: pairs
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                    .collect(),
            })
        })
        .collect()
}

/// The organizational domain (the registrable domain under the Public
/// Suffix List): `mail.example.co.uk` → `example.co.uk`; `com` → none.
fn organizational(domain: &str) -> Option<String> {
    psl::domain_str(&normalise(domain)).map(str::to_string)
}

/// DMARC's relaxed alignment: both domains have the same organizational
/// domain. A public suffix (`com`, `co.uk`) is aligned with nothing.
fn aligned(domain: &str, from_domain: &str) -> bool {
    match (organizational(domain), organizational(from_domain)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// The domain of an address-like property (`smtp.mailfrom=a@x.com`,
/// `header.i=@x.com`, or a bare domain).
fn domain_part(value: &str) -> &str {
    value.rsplit('@').next().unwrap_or("")
}

fn passes(header: &str, from_domain: &str) -> bool {
    clauses(header)
        .iter()
        .filter(|c| c.result == "pass")
        .any(|c| match c.method.as_str() {
            // DMARC evaluates the From domain; the server must say which.
            "dmarc" => c
                .prop("header.from")
                .is_some_and(|d| aligned(d, from_domain)),
            "dkim" => c
                .prop("header.d")
                .or_else(|| c.prop("header.i").map(domain_part))
                .is_some_and(|d| aligned(d, from_domain)),
            "spf" => c
                .prop("smtp.mailfrom")
                .is_some_and(|m| aligned(domain_part(m), from_domain)),
            _ => false,
        })
}

/// An address the server saw the message sent as, other than `from`, in
/// `from`'s own organization: the envelope sender of a passing SPF check, or
/// the login of an `auth` result. Domain authentication proves only the
/// domain; this is what keeps one colleague from writing as another when
/// the submission server binds the envelope sender to the login (Postfix
/// `reject_sender_login_mismatch`).
fn sent_as_other(header: &str, from: &str) -> Option<String> {
    let from_domain = from.rsplit_once('@').map(|(_, d)| d)?;
    clauses(header)
        .iter()
        .filter(|c| c.result == "pass")
        .filter_map(|c| match c.method.as_str() {
            "spf" => c.prop("smtp.mailfrom"),
            "auth" => c.prop("smtp.auth"),
            _ => None,
        })
        .filter(|seen| seen.contains('@') && aligned(domain_part(seen), from_domain))
        .find(|seen| !seen.eq_ignore_ascii_case(from))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dmarc_pass_for_the_from_domain_authenticates() {
        let h = "mx.example.com; dkim=pass header.d=example.com; spf=pass smtp.mailfrom=boss@example.com; dmarc=pass (p=reject) header.from=example.com";
        assert!(passes(h, "example.com"));
        assert_eq!(authserv_of(h), "mx.example.com");
    }

    #[test]
    fn failing_or_unaligned_results_do_not_authenticate() {
        assert!(!passes(
            "mx.example.com; dmarc=fail header.from=example.com; spf=softfail smtp.mailfrom=x@evil.test",
            "example.com"
        ));
        assert!(!passes(
            "mx.example.com; dkim=pass header.d=evil.test; spf=pass smtp.mailfrom=a@evil.test",
            "example.com"
        ));
        assert!(!passes("mx.example.com; none", "example.com"));
    }

    #[test]
    fn a_dkim_pass_for_a_public_suffix_is_aligned_with_nothing() {
        assert!(!passes("mx.test; dkim=pass header.d=com", "example.com"));
        assert!(!passes(
            "mx.test; dkim=pass header.d=co.uk",
            "example.co.uk"
        ));
        assert!(!passes(
            "mx.test; spf=pass smtp.mailfrom=x@com",
            "example.com"
        ));
    }

    #[test]
    fn relaxed_alignment_accepts_parents_and_subdomains_of_one_organization() {
        assert!(passes(
            "mx.test; dkim=pass header.d=example.com",
            "sales.example.com"
        ));
        assert!(passes(
            "mx.test; dkim=pass header.d=mail.example.com",
            "example.com"
        ));
        assert!(passes(
            "mx.test; spf=pass smtp.mailfrom=bounce@mta.example.co.uk",
            "example.co.uk"
        ));
        assert!(!passes(
            "mx.test; dkim=pass header.d=other.co.uk",
            "example.co.uk"
        ));
        assert!(!passes(
            "mx.test; dkim=pass header.d=notexample.com",
            "example.com"
        ));
    }

    #[test]
    fn a_pass_inside_a_quoted_string_is_text_not_a_result() {
        let h = r#"mx.test; spf=pass smtp.mailfrom="x; dmarc=pass y"@evil.test; dmarc=fail header.from=example.com"#;
        assert!(!passes(h, "example.com"));
        // A `(` inside quotes opens no comment that would hide what follows.
        let h = r#"mx.test; spf=fail smtp.mailfrom="a(b"@example.com; dmarc=pass header.from=example.com (c)"#;
        assert!(passes(h, "example.com"));
    }

    #[test]
    fn a_dmarc_pass_that_names_no_from_domain_does_not_count() {
        assert!(!passes("mx.test; dmarc=pass", "example.com"));
        assert!(passes(
            "mx.test; dmarc=pass header.from=example.com",
            "example.com"
        ));
    }

    #[test]
    fn a_colleague_sending_as_the_supervisor_is_caught_by_the_envelope_sender() {
        let h =
            "mx.test; dkim=pass header.d=example.com; spf=pass smtp.mailfrom=zhangwei@example.com";
        assert_eq!(
            sent_as_other(h, "wangfang@example.com").as_deref(),
            Some("zhangwei@example.com")
        );
        let h =
            "mx.test; auth=pass smtp.auth=zhangwei@example.com; dmarc=pass header.from=example.com";
        assert!(sent_as_other(h, "wangfang@example.com").is_some());
        // The same address, another case, or a bounce domain of a provider
        // outside the organization: nothing to say.
        let h = "mx.test; spf=pass smtp.mailfrom=WangFang@Example.com";
        assert_eq!(sent_as_other(h, "wangfang@example.com"), None);
        let h = "mx.test; spf=pass smtp.mailfrom=bounce-123@mailer.net";
        assert_eq!(sent_as_other(h, "wangfang@example.com"), None);
    }

    #[test]
    fn a_pass_hidden_in_a_comment_does_not_count() {
        assert!(!passes(
            "mx.example.com; spf=fail (dmarc=pass header.from=example.com) smtp.mailfrom=a@evil.test",
            "example.com"
        ));
    }
}
