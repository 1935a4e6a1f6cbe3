//! Scoring one million tokens: in memory in both modes, and from conlleval-format text.

use std::hint::black_box;

use bertlab_metrics::{score_conll, Mode, NerEvaluator, Scheme};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const TOKENS: usize = 1_000_000;
const TYPES: [&str; 4] = ["PER", "LOC", "ORG", "MISC"];

/// A deterministic xorshift generator, so every run scores the same corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// IOB2 sentences of 1 to 30 tokens, about a sixth of them entity tokens, with
/// about one predicted tag in ten corrupted.
fn corpus() -> Vec<(Vec<String>, Vec<String>)> {
    let mut rng = Rng(0x5eed);
    let mut sentences = Vec::new();
    let mut total = 0;
    while total < TOKENS {
        let len = (1 + rng.below(30) as usize).min(TOKENS - total);
        let mut gold = Vec::with_capacity(len);
        let mut i = 0;
        while i < len {
            if rng.below(8) == 0 {
                let kind = TYPES[rng.below(4) as usize];
                let span = (1 + rng.below(3) as usize).min(len - i);
                gold.push(format!("B-{kind}"));
                gold.extend((1..span).map(|_| format!("I-{kind}")));
                i += span;
            } else {
                gold.push("O".to_string());
                i += 1;
            }
        }
        let predicted = gold
            .iter()
            .map(|tag| match rng.below(10) {
                0 => format!("I-{}", TYPES[rng.below(4) as usize]),
                _ => tag.clone(),
            })
            .collect();
        total += len;
        sentences.push((gold, predicted));
    }
    sentences
}

fn bench(c: &mut Criterion) {
    let corpus = corpus();
    let mut text = String::new();
    for (sentence, (gold, predicted)) in corpus.iter().enumerate() {
        for (g, p) in gold.iter().zip(predicted) {
            text.push_str(&format!("w{sentence} {g} {p}\n"));
        }
        text.push('\n');
    }

    let mut group = c.benchmark_group("score_1m_tokens");
    group.throughput(Throughput::Elements(TOKENS as u64));
    group.sample_size(10);
    for mode in [Mode::Conlleval, Mode::Strict] {
        group.bench_function(format!("evaluator_{mode}"), |b| {
            b.iter(|| {
                let mut eval = NerEvaluator::new(Scheme::Iob2, mode);
                for (gold, predicted) in &corpus {
                    eval.add_sentence(gold, predicted).unwrap();
                }
                black_box(eval.report())
            })
        });
    }
    group.bench_function("conll_text_conlleval", |b| {
        b.iter(|| {
            black_box(score_conll(text.as_bytes(), "bench", Scheme::Iob2, Mode::Conlleval).unwrap())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
