//! Tokenization throughput over the shared Wikipedia corpus: parallel batch
//! encoding (rayon's global pool) against the same call in a one-thread pool.
//!
//! Uses all-MiniLM-L6-v2's tokenizer from `BERTLAB_MINILM_DIR` when set, else the
//! committed WordPiece fixture. Reads `BERTLAB_DATA_DIR` (or `../shared/data`)
//! and skips with a message when the corpus is absent.
//!
//! ```text
//! cargo bench -p bertlab-tokenize -- --warm-up-time 1 --measurement-time 3
//! ```

use std::path::PathBuf;

use bertlab_tokenize::Tokenizer;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Paragraphs taken from the corpus (about 2 MiB of text).
const PARAGRAPHS: usize = 4000;

fn corpus_dir() -> PathBuf {
    std::env::var_os("BERTLAB_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"))
        })
        .join("corpus-enwiki")
}

fn load_paragraphs() -> Option<Vec<String>> {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).ok()?;
        out.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(String::from),
        );
        if out.len() >= PARAGRAPHS {
            out.truncate(PARAGRAPHS);
            break;
        }
    }
    (!out.is_empty()).then_some(out)
}

fn load_tokenizer() -> (Tokenizer, &'static str) {
    if let Some(dir) = std::env::var_os("BERTLAB_MINILM_DIR") {
        let p = PathBuf::from(dir).join("tokenizer.json");
        if let Ok(t) = Tokenizer::from_file(&p) {
            return (t, "minilm");
        }
    }
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/wordpiece_uncased.json"
    );
    (
        Tokenizer::from_file(fixture).expect("committed fixture loads"),
        "fixture-wordpiece",
    )
}

fn throughput(c: &mut Criterion) {
    let Some(paragraphs) = load_paragraphs() else {
        eprintln!(
            "SKIP: {} not found; tokenization benchmark skipped",
            corpus_dir().display()
        );
        return;
    };
    let (tok, name) = load_tokenizer();
    let tokens: usize = tok
        .encode_batch(&paragraphs, false)
        .expect("corpus encodes")
        .iter()
        .map(|e| e.len())
        .sum();
    let bytes: usize = paragraphs.iter().map(String::len).sum();
    eprintln!(
        "{name}: {} paragraphs, {bytes} bytes, {tokens} tokens; rayon threads {}",
        paragraphs.len(),
        rayon::current_num_threads()
    );
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");

    let mut group = c.benchmark_group(format!("encode_batch/{name}"));
    group.sample_size(10);
    group.throughput(Throughput::Elements(tokens as u64));
    group.bench_function(
        BenchmarkId::new("parallel", rayon::current_num_threads()),
        |b| b.iter(|| tok.encode_batch(&paragraphs, false).unwrap()),
    );
    group.bench_function(BenchmarkId::new("one_thread", 1), |b| {
        b.iter(|| one.install(|| tok.encode_batch(&paragraphs, false).unwrap()))
    });
    group.bench_function(BenchmarkId::new("serial", 1), |b| {
        b.iter(|| tok.encode_batch_serial(&paragraphs, false).unwrap())
    });
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
