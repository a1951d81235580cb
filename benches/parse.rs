//! `mail::parse::parse` over every message of the robustness corpus
//! (`$CARGO_MANIFEST_DIR/../shared/corpus`, the files listed in
//! `MANIFEST.tsv`): real-world messages from public parser test suites,
//! many deliberately broken, some with large attachments.
//!
//! One iteration parses the whole corpus once; criterion reports it as
//! messages per second and bytes per second.
//!
//! `cargo bench --bench parse`

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

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = bench_parse
}
criterion_main!(benches);
