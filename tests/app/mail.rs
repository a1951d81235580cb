//! One email as a test reads it back from a recipient's INBOX: the
//! addresses, the threading headers and both parts, decoded.

use std::time::Duration;

use mailparse::MailHeaderMap;

use crate::common::MailServers;

/// How long an email may take through Postfix into Dovecot.
pub const WAIT: Duration = Duration::from_secs(20);

/// One delivered email, decoded.
#[derive(Debug)]
pub struct Mail {
    pub message_id: String,
    pub subject: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub in_reply_to: Option<String>,
    pub text: String,
    pub html: String,
}

impl Mail {
    pub fn parse(raw: &[u8]) -> Mail {
        let m = mailparse::parse_mail(raw).expect("parse a delivered email");
        let addrs = |name: &str| -> Vec<String> {
            m.headers
                .get_first_header(name)
                .map(|h| mailparse::addrparse_header(h).expect("address header"))
                .map(|list| {
                    list.iter()
                        .flat_map(|a| match a {
                            mailparse::MailAddr::Single(s) => vec![s.addr.to_lowercase()],
                            mailparse::MailAddr::Group(g) => {
                                g.addrs.iter().map(|s| s.addr.to_lowercase()).collect()
                            }
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let part = |mimetype: &str| {
            m.subparts
                .iter()
                .find(|p| p.ctype.mimetype == mimetype)
                .map(|p| p.get_body().expect("decodable part").replace("\r\n", "\n"))
                .unwrap_or_else(|| panic!("no {mimetype} part"))
        };
        Mail {
            message_id: m
                .headers
                .get_first_value("Message-ID")
                .unwrap_or_default()
                .trim_matches(['<', '>', ' '])
                .to_string(),
            subject: m.headers.get_first_value("Subject").unwrap_or_default(),
            to: addrs("To"),
            cc: addrs("Cc"),
            in_reply_to: m.headers.get_first_value("In-Reply-To"),
            text: part("text/plain"),
            html: part("text/html"),
        }
    }
}

/// Waits until `user`'s INBOX holds `n` messages, lets a second copy (there
/// must be none) arrive, and returns exactly those `n`.
pub async fn inbox(servers: &MailServers, user: &str, n: usize) -> Vec<Mail> {
    if n > 0 {
        servers
            .wait_for(user, "INBOX", n, WAIT)
            .await
            .unwrap_or_else(|e| panic!("waiting for {n} message(s) to {user}: {e:#}"));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all: Vec<Mail> = servers
        .fetch_all(user, "INBOX")
        .await
        .expect("fetch INBOX")
        .iter()
        .map(|f| Mail::parse(&f.raw))
        .collect();
    let seen: Vec<&str> = all.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(all.len(), n, "{user} should hold {n} message(s): {seen:#?}");
    all
}

/// The one email in `mails` under this outbox key.
pub fn by_key<'a>(mails: &'a [Mail], key: &str) -> &'a Mail {
    let id = reportd::notify::outbox::message_id_for(key, "example.com");
    let found: Vec<&Mail> = mails.iter().filter(|m| m.message_id == id).collect();
    assert_eq!(found.len(), 1, "one email under {key}: {mails:#?}");
    found[0]
}

/// The email under outbox key `key` in `user`'s INBOX, once it arrives
/// (other mail may be there too).
pub async fn wait_for_key(servers: &crate::common::MailServers, user: &str, key: &str) -> Mail {
    let id = reportd::notify::outbox::message_id_for(key, "example.com");
    let start = std::time::Instant::now();
    loop {
        let all = servers.fetch_all(user, "INBOX").await.expect("fetch INBOX");
        let ours = |raw: &[u8]| {
            mailparse::parse_headers(raw)
                .ok()
                .and_then(|(h, _)| h.get_first_value("Message-ID"))
                .is_some_and(|v| v.trim_matches(['<', '>', ' ']) == id)
        };
        if let Some(f) = all.iter().find(|f| ours(&f.raw)) {
            return Mail::parse(&f.raw);
        }
        assert!(start.elapsed() < WAIT, "no email under {key} to {user}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}
