//! A month of filed mail written straight into a test database, for the
//! archive's unit tests: reports, a revision, a misaddressed report and a
//! reply of October 2026 by the shared test team, each with its raw bytes.

use rusqlite::{Connection, params};

/// One filed message of the fixture.
pub(crate) struct Mail<'a> {
    pub id: i64,
    pub person: &'a str,
    pub period: &'a str,
    /// `report`, `revision`, `misaddressed` or `reply`.
    pub class: &'a str,
    pub at: &'a str,
    pub raw: Vec<u8>,
}

/// An email of `len` bytes whose body does not compress much, so the zip
/// holds about as many bytes as the messages.
pub(crate) fn raw(subject: &str, len: usize, seed: u64) -> Vec<u8> {
    let mut out = format!(
        "From: rep@example.com\r\nTo: boss@example.com\r\nSubject: {subject}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    .into_bytes();
    // xorshift: printable, varied and the same on every run.
    let mut x = seed | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push(b'!' + u8::try_from(x % 90).unwrap_or(0));
        if out.len() % 78 == 0 {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.truncate(len);
    out
}

/// Inserts `mails` (replies answer the report with the id before theirs of
/// the same person and period).
pub(crate) fn insert(conn: &Connection, mails: &[Mail<'_>]) {
    for m in mails {
        conn.execute(
            "INSERT INTO messages (id, source, source_key, sha256, internaldate, ingested_at,
                                   sender, subject, class, size)
             VALUES (?1, 'test', ?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7)",
            params![
                m.id,
                super::sha256_hex(&m.raw),
                m.at,
                m.person,
                format!("{} {} {}", m.class, m.person, m.period),
                m.class,
                i64::try_from(m.raw.len()).expect("size")
            ],
        )
        .expect("message");
        conn.execute(
            "INSERT INTO message_raw (message, raw) VALUES (?1, ?2)",
            params![m.id, m.raw],
        )
        .expect("raw");
        if m.class == "reply" {
            let report: i64 = conn
                .query_row(
                    "SELECT max(id) FROM reports WHERE person = ?1 AND period = ?2",
                    params![m.person, m.period],
                    |r| r.get(0),
                )
                .expect("the report a reply answers");
            conn.execute(
                "INSERT INTO replies (message, report, replier, at)
                 VALUES (?1, ?2, 'wangfang@example.com', ?3)",
                params![m.id, report, m.at],
            )
            .expect("reply");
        } else {
            let first: Option<i64> = conn
                .query_row(
                    "SELECT min(id) FROM reports WHERE person = ?1 AND period = ?2 AND counts = 1",
                    params![m.person, m.period],
                    |r| r.get(0),
                )
                .expect("first report");
            let kind = if m.period.contains('W') {
                "weekly"
            } else {
                "monthly"
            };
            conn.execute(
                "INSERT INTO reports (message, person, kind, period, received, counts, revision_of)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    m.id,
                    m.person,
                    kind,
                    m.period,
                    m.at,
                    i64::from(m.class != "misaddressed"),
                    if m.class == "revision" { first } else { None }
                ],
            )
            .expect("report");
        }
    }
}

/// October 2026 of the test team: small messages of every kind.
pub(crate) fn october() -> Vec<Mail<'static>> {
    let mail = |id, person, period, class, at| Mail {
        id,
        person,
        period,
        class,
        at,
        raw: raw(
            &format!("{class} {period}"),
            900 + 37 * id as usize,
            id as u64,
        ),
    };
    vec![
        mail(
            1,
            "zhangwei@example.com",
            "2026-W40",
            "report",
            "2026-10-02T09:00:00Z",
        ),
        mail(
            2,
            "zhangwei@example.com",
            "2026-W40",
            "reply",
            "2026-10-02T11:30:00Z",
        ),
        mail(
            3,
            "lina@example.com",
            "2026-W40",
            "report",
            "2026-10-03T12:00:00Z",
        ),
        mail(
            4,
            "zhangwei@example.com",
            "2026-W40",
            "revision",
            "2026-10-04T01:00:00Z",
        ),
        mail(
            5,
            "lina@example.com",
            "2026-W41",
            "misaddressed",
            "2026-10-09T08:00:00Z",
        ),
        mail(
            6,
            "zhangwei@example.com",
            "2026-W42",
            "report",
            "2026-10-16T08:00:00Z",
        ),
        mail(
            7,
            "zhangwei@example.com",
            "2026-09",
            "report",
            "2026-10-01T02:00:00Z",
        ),
    ]
}
