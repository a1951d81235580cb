//! One email as a test reads it back from a recipient's INBOX: the
//! addresses, the threading headers and both parts, decoded.

use mailparse::MailHeaderMap;

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
