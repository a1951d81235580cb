//! `mail::parse::parse` over every message of the robustness corpus
//! (`$CARGO_MANIFEST_DIR/../shared/corpus`, the files listed in
//! `MANIFEST.tsv`): real-world messages from public parser test suites,
//! many deliberately broken, some with large attachments.
//!
//! One iteration parses the whole corpus once; criterion reports it as
//! messages per second and bytes per second.
//!
//! `parse/hostile_*` parse one message that any outsider could send to cost
//! reportd time: 200,000 `To` addresses (4 MB), and a 10 MB one with
//! addresses, Message-IDs and header fields far beyond every cap of
//! `mail::parse` (see its `MAX_*` constants).
//!
//! `cargo bench --bench parse`

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reportd::mail::parse::parse;

/// Every corpus file named in `MANIFEST.tsv`, read into memory. A missing
/// corpus is an error, never an empty benchmark.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let manifest = dir.join("MANIFEST.tsv");
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", manifest.display()));
    let messages: Vec<(String, Vec<u8>)> = text
        .lines()
        .skip(1) // the header row
        .filter_map(|line| line.split('\t').next())
        .filter(|path| !path.is_empty())
        .map(|path| {
            let file = dir.join(path);
            let raw = std::fs::read(&file)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
            (path.to_string(), raw)
        })
        .collect();
    assert!(
        !messages.is_empty(),
        "{} lists no messages",
        manifest.display()
    );
    messages
}

fn bench_parse(c: &mut Criterion) {
    let messages = corpus();
    let bytes: usize = messages.iter().map(|(_, raw)| raw.len()).sum();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::ElementsAndBytes {
        elements: messages.len() as u64,
        bytes: bytes as u64,
    });
    group.bench_function("corpus", |b| {
        b.iter(|| {
            for (_, raw) in &messages {
                // Err (malformed, no sender) is a result too: keep it.
                let _ = black_box(parse(black_box(raw)));
            }
        })
    });
    group.finish();
}

/// A message with `n` distinct `To` addresses (20 bytes each), four to a
/// folded line.
fn many_addresses(n: usize) -> Vec<u8> {
    let mut m = String::from("From: stranger@example.net\r\nSubject: hi\r\nTo: ");
    for i in 0..n {
        let sep = match i + 1 {
            k if k == n => "\r\n",
            k if k % 4 == 0 => ",\r\n ",
            _ => ", ",
        };
        let _ = write!(m, "u{i:06}@example.cn{sep}");
    }
    m.push_str("\r\nhello\r\n");
    m.into_bytes()
}

/// A message with `n` distinct `Cc` addresses, each with an encoded Chinese
/// display name (`=?UTF-8?B?5byg5LyfMTIz?= <cN@example.cn>`): the case
/// that used to cost minutes, when the whole list went to mailparse at once.
fn many_named_addresses(n: usize) -> Vec<u8> {
    let mut m =
        String::from("From: stranger@example.net\r\nSubject: hi\r\nTo: a@example.cn\r\nCc: ");
    for i in 0..n {
        let sep = if i + 1 == n { "\r\n" } else { ",\r\n " };
        let _ = write!(m, "=?UTF-8?B?5byg5LyfMTIz?= <c{i}@example.cn>{sep}");
    }
    m.push_str("\r\nhello\r\n");
    m.into_bytes()
}

/// About `bytes` of hostile header: a quarter each of `To` addresses, `Cc`
/// addresses, `References` ids and one-line header fields, each list
/// repeating every entry once (so de-duplication has work to do).
fn everything_over_the_caps(bytes: usize) -> Vec<u8> {
    let quarter = bytes / 4;
    let mut m = String::from("From: stranger@example.net\r\nSubject: hi\r\n");
    for field in ["To", "Cc"] {
        let _ = write!(m, "{field}: ");
        let start = m.len();
        let mut i = 0;
        while m.len() - start < quarter {
            let _ = write!(m, "u{}@example.com,\r\n ", i / 2);
            i += 1;
        }
        m.push_str("last@example.com\r\n");
    }
    m.push_str("References: ");
    let start = m.len();
    let mut i = 0;
    while m.len() - start < quarter {
        let _ = write!(m, "<id{}@example.net>\r\n ", i / 2);
        i += 1;
    }
    m.push_str("<last@example.net>\r\n");
    let start = m.len();
    let mut i = 0;
    while m.len() - start < quarter {
        let _ = write!(m, "X-Filler-{i}: {i}\r\n");
        i += 1;
    }
    m.push_str("\r\nhello\r\n");
    m.into_bytes()
}

fn bench_hostile(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for (name, raw) in [
        ("hostile_200k_to", many_addresses(200_000)),
        ("hostile_210k_named_cc", many_named_addresses(210_000)),
        ("hostile_10mb", everything_over_the_caps(10 << 20)),
    ] {
        group.throughput(Throughput::Bytes(raw.len() as u64));
        group.bench_function(name, |b| b.iter(|| black_box(parse(black_box(&raw)))));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = bench_parse, bench_hostile
}
criterion_main!(benches);
