#!/usr/bin/env python3
"""The Python baseline of issue 9: a careful script doing reportd's first
sync the plain way, to compare reportd's speed with.

It reads the whole mailbox over IMAP (imaplib, EXAMINE, UID FETCH of
UID INTERNALDATE BODY.PEEK[] in batches of 1,000), parses every message
with the standard library's email package (decoding From, To, Cc, Subject,
Message-ID, In-Reply-To, References), classifies it by subject regexes
(report, reply, auto-reply, other), and stores the raw message, its SHA-256,
the headers and the class in SQLite, one transaction per batch committed
together with the IMAP checkpoint. It prints one JSON object:
{"messages": N, "seconds": S, "max_rss_kib": K}.

scripts/bench runs it over the same mailbox as reportd.
"""

import argparse

import email.parser
from email.header import decode_header, make_header
import hashlib
import imaplib
import json
import re
import resource
import sqlite3
import time

BATCH = 1000

WEEKLY = re.compile(r"(周报|週報|周总结|周工作|周小结|weekly|week\s*\d+|W\d{1,2}\b|第\s*\d+\s*周)", re.I)
MONTHLY = re.compile(r"(月报|月報|月度|月份|monthly|\d{1,2}\s*月.*(总结|汇报|小结))", re.I)
REPORT_WORD = re.compile(r"(报|報|总结|汇报|小结|report|summary|update)", re.I)
LOOKALIKE = re.compile(r"(周刊|月刊|周年|报价|报销|expense report|digest)", re.I)
REPLY = re.compile(r"^\s*(re|回复|答复|fw|fwd|转发)\s*[:：]", re.I)
AUTO = re.compile(r"^\s*(自动回复|automatic reply|auto)", re.I)
FETCH_ITEM = re.compile(rb"UID (\d+)|INTERNALDATE \"([^\"]+)\"")

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    uid INTEGER NOT NULL UNIQUE,
    internaldate TEXT NOT NULL,
    message_id TEXT,
    sender TEXT,
    recipients TEXT,
    subject TEXT,
    in_reply_to TEXT,
    sha256 TEXT NOT NULL UNIQUE,
    raw BLOB NOT NULL,
    class TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoint (
    mailbox TEXT PRIMARY KEY,
    uidvalidity INTEGER NOT NULL,
    last_uid INTEGER NOT NULL
);
"""


def classify(msg, subject):
    if msg.get("Auto-Submitted", "no").lower() != "no" or msg.get("X-Autoreply") or AUTO.search(subject):
        return "ignored"
    if REPLY.search(subject):
        return "reply" if msg.get("In-Reply-To") else "ignored"
    if msg.get("Precedence", "").lower() in ("bulk", "list", "junk") or LOOKALIKE.search(subject):
        return "ignored"
    if REPORT_WORD.search(subject) and (WEEKLY.search(subject) or MONTHLY.search(subject)):
        return "report"
    return "ignored"


def header(msg, name):
    """A header decoded from its RFC 2047 encoded words (any charset)."""
    value = msg.get(name)
    if value is None:
        return None
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # an undecodable header is kept as it came, not a crash
        return str(value)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=143)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--db", required=True)
    a = ap.parse_args()
    with open(a.password_file) as f:
        password = f.readline().strip()

    start = time.monotonic()
    db = sqlite3.connect(a.db)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    imap = imaplib.IMAP4(a.host, a.port)
    imap.login(a.user, password)
    typ, _ = imap.select("INBOX", readonly=True)
    if typ != "OK":
        raise SystemExit("EXAMINE INBOX failed")
    uidvalidity = int(imap.response("UIDVALIDITY")[1][0])
    uidnext = int(imap.response("UIDNEXT")[1][0])
    # The compat32 policy: the fast one; headers are decoded by hand above.
    parser = email.parser.BytesParser()
    count = 0
    first = 1
    while first < uidnext:
        last = min(first + BATCH - 1, uidnext - 1)
        typ, data = imap.uid("FETCH", f"{first}:{last}", "(UID INTERNALDATE BODY.PEEK[])")
        if typ != "OK":
            raise SystemExit(f"UID FETCH {first}:{last} failed")
        rows = []
        for item in data:
            if not isinstance(item, tuple):
                continue
            meta, raw = item
            uid = internaldate = None
            for m in FETCH_ITEM.finditer(meta):
                if m.group(1):
                    uid = int(m.group(1))
                if m.group(2):
                    internaldate = m.group(2).decode()
            msg = parser.parsebytes(raw)
            subject = header(msg, "Subject") or ""
            recipients = ", ".join(filter(None, [header(msg, "To"), header(msg, "Cc")]))
            rows.append((
                uid,
                internaldate,
                header(msg, "Message-ID"),
                header(msg, "From"),
                recipients,
                subject,
                header(msg, "In-Reply-To"),
                hashlib.sha256(raw).hexdigest(),
                raw,
                classify(msg, subject),
            ))
        with db:
            db.executemany(
                "INSERT OR IGNORE INTO messages (uid, internaldate, message_id, sender, recipients,"
                " subject, in_reply_to, sha256, raw, class) VALUES (?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            db.execute(
                "INSERT OR REPLACE INTO checkpoint VALUES ('INBOX', ?, ?)", (uidvalidity, last)
            )
        count += len(rows)
        first = last + 1
    imap.logout()
    db.close()
    seconds = time.monotonic() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"messages": count, "seconds": seconds, "max_rss_kib": rss}))


if __name__ == "__main__":
    main()
