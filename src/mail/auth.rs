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
        "Authentication-Results from {authserv_id} show no DMARC pass and no DKIM or SPF pass aligned with {from_domain}: {header}"
    )]
    NoPass {
        authserv_id: String,
        from_domain: String,
        header: String,
    },
}

/// `Ok` when the topmost `Authentication-Results` header of `authserv_id`
/// shows a pass that covers the From domain.
pub fn check(env: &Envelope, authserv_id: &str) -> Result<(), Unauthenticated> {
    let from_domain = env
        .from
        .as_ref()
        .and_then(|f| f.email.rsplit_once('@'))
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

/// Drops `(comments)`, which may hold anything, before reading a header.
fn without_comments(h: &str) -> String {
    let mut out = String::with_capacity(h.len());
    let mut depth = 0usize;
    for c in h.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

fn authserv_of(header: &str) -> String {
    let clean = without_comments(header);
    clean
        .split(';')
        .next()
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or("")
        .to_string()
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
    let clean = without_comments(header);
    clean.split(';').skip(1).any(|clause| {
        let mut tokens = clause.split_whitespace();
        let Some((method, result)) = tokens.next().and_then(|t| t.split_once('=')) else {
            return false;
        };
        if !result.eq_ignore_ascii_case("pass") {
            return false;
        }
        let prop = |name: &str| {
            clause
                .split_whitespace()
                .filter_map(|t| t.split_once('='))
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim_matches('"').to_string())
        };
        match method.to_ascii_lowercase().as_str() {
            // DMARC itself evaluates the From domain; when the server names
            // it, it must be ours.
            "dmarc" => prop("header.from").is_none_or(|d| aligned(&d, from_domain)),
            "dkim" => prop("header.d")
                .or_else(|| prop("header.i").map(|i| domain_part(&i).to_string()))
                .is_some_and(|d| aligned(&d, from_domain)),
            "spf" => prop("smtp.mailfrom").is_some_and(|m| aligned(domain_part(&m), from_domain)),
            _ => false,
        }
    })
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
    fn a_pass_hidden_in_a_comment_does_not_count() {
        assert!(!passes(
            "mx.example.com; spf=fail (dmarc=pass header.from=example.com) smtp.mailfrom=a@evil.test",
            "example.com"
        ));
    }
}
