//! Pretraining: the masked-only MLM head against the full one, loss falling on a small corpus,
//! exact resume, and a corpus too small for one example.

use bertlab_data::{Batch, IGNORE_INDEX};
use bertlab_models::{Arch, Model};
use bertlab_tokenize::Tokenizer;
use bertlab_train::finetune::{cross_entropy, BatchTensors};
use bertlab_train::pretrain::{
    pretraining_loss, pretraining_model, pretraining_tokenizer, ModelSource, TokenizerSource,
};
use bertlab_train::{pretrain, PretrainConfig, TrainError};
use serde_json::Value;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use tch::{Device, Tensor};

const SUBJECTS: [&str; 6] = [
    "the cat",
    "a dog",
    "my friend",
    "the old man",
    "his sister",
    "the teacher",
];
const VERBS: [&str; 6] = ["sees", "likes", "finds", "follows", "paints", "calls"];
const OBJECTS: [&str; 6] = [
    "the ball",
    "a red house",
    "the river",
    "some bread",
    "the small bird",
    "a green tree",
];
const PLACES: [&str; 4] = ["in the park", "at home", "near the lake", "in the city"];

/// Model initialisation and dropout draw from libtorch's one global generator: tests that
/// depend on it run one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static TORCH_RNG: Mutex<()> = Mutex::new(());
    TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// `files` files of `docs` documents, each of four one-sentence paragraphs.
fn write_corpus(dir: &Path, files: usize, docs: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for f in 0..files {
        let mut text = String::new();
        for d in 0..docs {
            let k = f * docs + d;
            for s in 0..4 {
                let i = k * 7 + s * 3;
                text += &format!(
                    "{} {} {} {} .\n",
                    SUBJECTS[i % 6],
                    VERBS[(i / 6) % 6],
                    OBJECTS[(i + k) % 6],
                    PLACES[(i / 2) % 4]
                );
            }
            text += "\n";
        }
        std::fs::write(dir.join(format!("wiki_{f:02}.txt")), text).unwrap();
    }
}

fn tokenizer(arch: Arch, corpus: &Path, out: &Path) -> Tokenizer {
    pretraining_tokenizer(
        TokenizerSource::Train { vocab_size: 200 },
        arch,
        corpus,
        out,
        false,
    )
    .unwrap()
}

fn tiny(arch: Arch, tokenizer: &Tokenizer, seq_len: usize) -> Model {
    pretraining_model(
        arch,
        ModelSource::Preset("tiny"),
        tokenizer,
        seq_len,
        0,
        Device::Cpu,
    )
    .unwrap()
}

fn config(corpus: &Path, steps: usize) -> PretrainConfig {
    PretrainConfig {
        corpus: corpus.to_path_buf(),
        steps,
        batch_size: 8,
        seq_len: 32,
        lr: 2e-3,
        warmup_steps: Some(3),
        eval_every: 10,
        eval_batches: 2,
        save_every: 0,
        ..PretrainConfig::default()
    }
}

/// The metrics.jsonl lines, training and evaluation, without the timing.
fn log_lines(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            // Wall-clock figures differ between runs; everything else must repeat.
            let fields = v.as_object_mut().unwrap();
            fields.remove("tokens_per_s");
            fields.remove("train_seconds");
            v
        })
        .collect()
}

fn losses(out: &Path) -> Vec<f64> {
    log_lines(out)
        .iter()
        .filter_map(|v| v["loss"].as_f64())
        .collect()
}

/// A batch of random ids with a few masked positions per row and padding in the last row.
fn random_batch(vocab: i64, rows: usize, len: usize) -> Batch {
    tch::manual_seed(11);
    let ids: Vec<i64> = Vec::try_from(Tensor::randint_low(
        5,
        vocab,
        [(rows * len) as i64],
        (tch::Kind::Int64, Device::Cpu),
    ))
    .unwrap();
    let mut input_ids = ids.clone();
    let mut labels = vec![IGNORE_INDEX; rows * len];
    let mut mask = vec![1i64; rows * len];
    for r in 0..rows {
        for p in [1 + r, 4 + 2 * r, len - 3] {
            labels[r * len + p] = ids[r * len + p];
            input_ids[r * len + p] = 4;
        }
    }
    for p in len - 2..len {
        mask[(rows - 1) * len + p] = 0;
        labels[(rows - 1) * len + p] = IGNORE_INDEX;
    }
    Batch {
        batch_size: rows,
        seq_len: len,
        input_ids,
        token_type_ids: (0..rows * len)
            .map(|i| i64::from(i % len >= len / 2))
            .collect(),
        attention_mask: mask,
        token_labels: Some(labels),
        sequence_labels: Some((0..rows as i64).map(|r| r % 2).collect()),
        indices: (0..rows).collect(),
    }
}

/// Every parameter's gradient by name (a copy), then zeroes them.
fn gradients(model: &Model) -> Vec<(String, Tensor)> {
    let mut grads: Vec<(String, Tensor)> = model
        .vs
        .variables()
        .into_iter()
        .map(|(name, var)| {
            let mut g = var.grad();
            let copy = if g.defined() {
                g.copy()
            } else {
                g.shallow_clone()
            };
            if g.defined() {
                let _ = g.zero_();
            }
            (name, copy)
        })
        .collect();
    grads.sort_by(|a, b| a.0.cmp(&b.0));
    grads
}

#[test]
fn the_masked_only_head_gives_the_full_heads_loss_and_gradients() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    write_corpus(&tmp.path().join("corpus"), 1, 12);
    for arch in [Arch::Bert, Arch::Albert] {
        let tok = tokenizer(arch, &tmp.path().join("corpus"), tmp.path());
        let model = tiny(arch, &tok, 32);
        let batch = BatchTensors::new(&random_batch(tok.vocab_size() as i64, 3, 16), Device::Cpu);

        // Dropout is on: the same seed gives both passes the same masks.
        tch::manual_seed(5);
        let masked = pretraining_loss(&model, &batch, true).unwrap();
        masked.loss.backward();
        let masked_grads = gradients(&model);

        tch::manual_seed(5);
        let out = model.forward(
            &batch.input_ids,
            Some(&batch.token_type_ids),
            batch.attention_mask.as_ref(),
            true,
        );
        let full_mlm = cross_entropy(
            out.mlm_logits.as_ref().unwrap(),
            batch.token_labels.as_ref().unwrap(),
            tch::Reduction::Mean,
        );
        let full_pair = cross_entropy(
            out.pair_logits.as_ref().unwrap(),
            batch.sequence_labels.as_ref().unwrap(),
            tch::Reduction::Mean,
        );
        let full_loss = &full_mlm + &full_pair;
        full_loss.backward();
        let full_grads = gradients(&model);

        let (a, b) = (masked.mlm_loss, full_mlm.double_value(&[]));
        assert!((a - b).abs() <= 1e-6, "{arch:?} MLM loss {a} vs {b}");
        assert!(
            (masked.loss.double_value(&[]) - full_loss.double_value(&[])).abs() <= 1e-6,
            "{arch:?} loss"
        );
        assert_eq!(masked.mlm_predictions, 9);
        assert_eq!(masked_grads.len(), full_grads.len());
        let mut checked = 0;
        for ((name, a), (_, b)) in masked_grads.iter().zip(&full_grads) {
            assert_eq!(a.defined(), b.defined(), "{arch:?} {name}");
            if !a.defined() {
                continue;
            }
            let diff = (a - b).abs().max().double_value(&[]);
            assert!(diff <= 1e-6, "{arch:?} {name}: gradients differ by {diff}");
            assert!(
                a.abs().max().double_value(&[]) > 0.0,
                "{arch:?} {name}: no gradient"
            );
            checked += 1;
        }
        assert_eq!(
            checked,
            full_grads.len(),
            "{arch:?}: every parameter has a gradient"
        );
    }
}

#[test]
fn loss_falls_on_a_small_corpus() {
    let _serial = serial();
    for arch in [Arch::Bert, Arch::Albert] {
        let tmp = tempfile::tempdir().unwrap();
        let (corpus, out) = (tmp.path().join("corpus"), tmp.path().join("out"));
        write_corpus(&corpus, 2, 16);
        let tok = tokenizer(arch, &corpus, &out);
        let mut model = tiny(arch, &tok, 32);
        let summary = pretrain(&config(&corpus, 40), &mut model, &tok, &out).unwrap();
        assert!(summary.finished && summary.steps == 40);
        let l = losses(&out);
        assert_eq!(l.len(), 40);
        let (first, last) = (
            l[..5].iter().sum::<f64>() / 5.0,
            l[35..].iter().sum::<f64>() / 5.0,
        );
        assert!(last < first - 0.5, "{arch:?}: loss {first:.3} -> {last:.3}");
        let evals: Vec<Value> = log_lines(&out)
            .into_iter()
            .filter(|v| v.get("eval").is_some())
            .collect();
        assert_eq!(
            evals.len(),
            4,
            "{arch:?}: held-out evaluations at steps 10, 20, 30, 40"
        );
        let mlm = |v: &Value| v["eval"]["mlm_loss"].as_f64().unwrap();
        assert!(
            mlm(&evals[3]) < mlm(&evals[0]),
            "{arch:?}: held-out MLM loss falls"
        );
        for key in ["mlm_acc", "pair_acc"] {
            let acc = evals[3]["eval"][key].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&acc), "{arch:?}: {key} {acc}");
        }
        assert!(
            out.join("model/config.json").is_file() && out.join("model/tokenizer.json").is_file()
        );
        assert!(out.join("checkpoint/state.json").is_file());
    }
}

#[test]
fn a_resumed_run_reproduces_the_uninterrupted_one() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    write_corpus(&corpus, 2, 12);
    let tok = tokenizer(Arch::Bert, &corpus, tmp.path());
    // Small pools and accumulation, so the interruption falls inside a pool of an epoch > 0.
    let cfg = PretrainConfig {
        pool_docs: 4,
        grad_accum: 2,
        batch_size: 4,
        eval_every: 4,
        ..config(&corpus, 16)
    };

    let whole = tmp.path().join("whole");
    pretrain(&cfg, &mut tiny(Arch::Bert, &tok, 32), &tok, &whole).unwrap();

    let resumed = tmp.path().join("resumed");
    let first = pretrain(
        &PretrainConfig {
            stop_after: Some(7),
            ..cfg.clone()
        },
        &mut tiny(Arch::Bert, &tok, 32),
        &tok,
        &resumed,
    )
    .unwrap();
    assert!(!first.finished && first.steps == 7);
    assert!(
        first.epoch > 0,
        "the interruption falls after the first epoch"
    );
    let second = pretrain(
        &PretrainConfig {
            resume: true,
            ..cfg.clone()
        },
        &mut tiny(Arch::Bert, &tok, 32),
        &tok,
        &resumed,
    )
    .unwrap();
    assert!(second.finished && second.steps == 16);

    let (a, b) = (log_lines(&resumed), log_lines(&whole));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
    }
    assert_eq!(a.len(), b.len());
    let weights = |d: &Path| std::fs::read(d.join("model/model.safetensors")).unwrap();
    assert!(
        weights(&resumed) == weights(&whole),
        "the final weights are identical"
    );

    // A checkpoint of other settings is refused rather than silently continued.
    let other = PretrainConfig {
        resume: true,
        lr: 1e-3,
        ..cfg
    };
    let err = pretrain(&other, &mut tiny(Arch::Bert, &tok, 32), &tok, &resumed).unwrap_err();
    assert!(
        matches!(err, TrainError::Checkpoint { .. }) && err.to_string().contains("other settings"),
        "{err}"
    );
}

#[test]
fn a_corpus_too_small_for_one_example_is_a_clear_error() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good");
    write_corpus(&good, 1, 12);
    for arch in [Arch::Bert, Arch::Albert] {
        let tok = tokenizer(arch, &good, tmp.path());
        let cases: [(&str, &str, &str); 3] = [
            (
                "one_doc",
                "the cat sees the ball .\n",
                "too small for a single pretraining example",
            ),
            (
                "empty",
                "\n\n",
                "too small for a single pretraining example",
            ),
            ("no_text", "", "has no *.txt files"),
        ];
        for (name, text, expected) in cases {
            let dir = tmp.path().join(format!("{name}_{arch:?}"));
            std::fs::create_dir_all(&dir).unwrap();
            if !text.is_empty() {
                std::fs::write(dir.join("a.txt"), text).unwrap();
            }
            let err = pretrain(
                &config(&dir, 5),
                &mut tiny(arch, &tok, 32),
                &tok,
                &tmp.path().join("out"),
            )
            .unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, TrainError::Corpus { .. }), "{msg}");
            assert!(
                msg.contains(&dir.display().to_string()) && msg.contains(expected),
                "{name}: {msg}"
            );
        }
    }
    // ALBERT's SOP needs two tokens in a document: one-token documents give no instance at all.
    // (A WordPiece vocabulary keeps whole words as one token.)
    let tok = tokenizer(Arch::Bert, &good, tmp.path());
    let words = SUBJECTS
        .iter()
        .chain(&OBJECTS)
        .chain(&PLACES)
        .flat_map(|p| p.split(' '));
    let word = words
        .clone()
        .find(|w| tok.encode(w, false).unwrap().len() == 1)
        .expect("a one-token word");
    let dir = tmp.path().join("one_token_docs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.txt"), format!("{word}\n\n{word}\n\n{word}\n")).unwrap();
    let err = pretrain(
        &config(&dir, 5),
        &mut tiny(Arch::Albert, &tok, 32),
        &tok,
        &tmp.path().join("out"),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&dir.display().to_string())
            && msg.contains("too small for a single pretraining example"),
        "{msg}"
    );
}

#[test]
fn positions_must_cover_the_sequence_length() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    write_corpus(&tmp.path().join("corpus"), 1, 4);
    let tok = tokenizer(Arch::Bert, &tmp.path().join("corpus"), tmp.path());
    let err = pretraining_model(
        Arch::Bert,
        ModelSource::Preset("tiny"),
        &tok,
        1024,
        0,
        Device::Cpu,
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("max_position_embeddings"), "{err}");
    let err = pretraining_model(
        Arch::Albert,
        ModelSource::Preset("huge"),
        &tok,
        32,
        0,
        Device::Cpu,
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("unknown albert preset"), "{err}");
}
