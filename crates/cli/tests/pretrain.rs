//! `bertlab pretrain` end to end: a trained vocabulary, a few steps on a generated corpus, an
//! HF `*ForPreTraining` directory that transformers loads and `bertlab finetune` fine-tunes.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn bertlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bertlab"))
        .args(args)
        .output()
        .expect("bertlab runs")
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const ANIMALS: [&str; 5] = ["fox", "horse", "owl", "whale", "mouse"];
const COLOURS: [&str; 4] = ["brown", "white", "grey", "black"];
const ACTS: [&str; 5] = [
    "jumps over",
    "runs past",
    "sleeps near",
    "hides behind",
    "waits for",
];

/// Two files of twelve documents; each document tells of one animal in five lines.
fn write_corpus(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for file in 0..2 {
        let mut text = String::new();
        for doc in 0..12 {
            let a = (file * 12 + doc) % ANIMALS.len();
            for line in 0..5 {
                let (c, o) = (COLOURS[(doc + line) % 4], ANIMALS[(a + line + 1) % 5]);
                text += &format!(
                    "The {c} {} {} the {o}, said {}.\n",
                    ANIMALS[a],
                    ACTS[(line + doc) % 5],
                    ANIMALS[(a + 2) % 5]
                );
            }
            text += "\n";
        }
        std::fs::write(dir.join(format!("part_{file}.txt")), text).unwrap();
    }
}

/// A few CoNLL sentences (token and IOB2 tag), the same for train, dev and test.
fn write_ner(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let mut text = String::new();
    for i in 0..8 {
        let (animal, colour) = (ANIMALS[i % 5], COLOURS[i % 4]);
        for (w, t) in [
            ("the", "O"),
            (colour, "B-COL"),
            (animal, "B-ANI"),
            ("runs", "O"),
            (".", "O"),
        ] {
            text += &format!("{w} {t}\n");
        }
        text += "\n";
    }
    for f in ["train.txt", "dev.txt", "test.txt"] {
        std::fs::write(dir.join(f), &text).unwrap();
    }
}

/// `bertlab pretrain` of a tiny model for 6 steps of 8 × `seq_len` tokens, with a 200-token
/// vocabulary trained on the corpus; `extra` flags are appended.
fn pretrain(arch: &str, corpus: &Path, out: &Path, seq_len: usize, extra: &str) -> Output {
    let flags = format!(
        "pretrain --arch {arch} --preset tiny --train-tokenizer --vocab-size 200 --steps 6 --batch-size 8 \
         --seq-len {seq_len} --lr 1e-3 --device cpu --eval-every 3 --eval-batches 2 --save-every 3 {extra}"
    );
    let mut args: Vec<&str> = flags.split_whitespace().collect();
    args.extend([
        "--corpus",
        corpus.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    bertlab(&args)
}

/// transformers loads the directory as `class` with no missing, unexpected or mismatched keys, and the fast
/// tokenizer loads from its tokenizer.json.
const HF_CHECK: &str = r#"
import sys, transformers
d, cls = sys.argv[1], sys.argv[2]
model, info = getattr(transformers, cls).from_pretrained(d, output_loading_info=True)
assert not info["missing_keys"], info
assert not info["mismatched_keys"], info
assert not info["unexpected_keys"], info
tok = transformers.PreTrainedTokenizerFast(tokenizer_file=d + "/tokenizer.json")
ids = tok("the brown fox", "runs past the owl")["input_ids"]
assert max(ids) < model.config.vocab_size, ids
print("OK", type(model).__name__, sorted(info["unexpected_keys"]))
"#;

fn pretrain_and_finetune(arch: &str, class: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (corpus, out, ner, tuned) = (
        tmp.path().join("corpus"),
        tmp.path().join("out"),
        tmp.path().join("ner"),
        tmp.path().join("tuned"),
    );
    write_corpus(&corpus);
    write_ner(&ner);

    let stdout = ok(&pretrain(arch, &corpus, &out, 32, ""));
    assert!(
        stdout.contains("6 steps") && stdout.contains("tokens/s"),
        "{stdout}"
    );
    let model = out.join("model");
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        assert!(model.join(f).is_file(), "{arch}: OUT/model/{f}");
    }
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"], serde_json::json!([class]));
    assert_eq!(config["model_type"], arch);
    let lines: Vec<Value> = std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let train: Vec<&Value> = lines.iter().filter(|v| v.get("loss").is_some()).collect();
    assert_eq!(train.len(), 6, "{arch}: a line per step");
    for key in [
        "step",
        "loss",
        "mlm_loss",
        "mlm_acc",
        "pair_acc",
        "lr",
        "tokens_per_s",
        "train_seconds",
    ] {
        assert!(train[5][key].is_number(), "{arch}: {key} in {}", train[5]);
    }
    let evals: Vec<&Value> = lines.iter().filter(|v| v.get("eval").is_some()).collect();
    assert_eq!(
        evals.len(),
        2,
        "{arch}: held-out evaluations at steps 3 and 6"
    );
    assert!(evals[1]["eval"]["mlm_acc"].is_number() && evals[1]["eval"]["pair_acc"].is_number());

    let mut finetune: Vec<&str> =
        "finetune ner --epochs 1 --batch-size 4 --max-steps 2 --device cpu"
            .split(' ')
            .collect();
    finetune.extend([
        "--model",
        model.to_str().unwrap(),
        "--data",
        ner.to_str().unwrap(),
    ]);
    finetune.extend(["--out", tuned.to_str().unwrap()]);
    let tuned_out = ok(&bertlab(&finetune));
    assert!(tuned_out.contains("dev"), "{tuned_out}");
    assert!(tuned.join("model/config.json").is_file());

    let Some(python) = std::env::var_os("BERTLAB_PYTHON") else {
        eprintln!("transformers check skipped: BERTLAB_PYTHON is not set");
        return;
    };
    let check = Command::new(&python)
        .args(["-c", HF_CHECK])
        .arg(&model)
        .arg(class)
        .env("HF_HUB_OFFLINE", "1")
        .env("TRANSFORMERS_VERBOSITY", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && stdout.starts_with(&format!("OK {class}")),
        "{arch}: {stdout}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn bert_pretrains_into_a_bert_for_pretraining_that_finetunes() {
    pretrain_and_finetune("bert", "BertForPreTraining");
}

#[test]
fn albert_pretrains_into_an_albert_for_pretraining_that_finetunes() {
    pretrain_and_finetune("albert", "AlbertForPreTraining");
}

#[test]
fn an_interrupted_run_resumes_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (corpus, out) = (tmp.path().join("corpus"), tmp.path().join("out"));
    write_corpus(&corpus);
    let o = pretrain("bert", &corpus, &out, 32, "--stop-after 4");
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--resume"));
    assert!(out.join("checkpoint/state.json").is_file() && out.join("model/config.json").is_file());
    let stdout = ok(&pretrain("bert", &corpus, &out, 32, "--resume"));
    assert!(stdout.contains("6 steps"), "{stdout}");
    let steps: Vec<u64> = std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v.get("loss").is_some())
        .map(|v| v["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [1, 2, 3, 4, 5, 6]);
}

#[test]
fn bad_input_fails_with_a_message_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let small = tmp.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    std::fs::write(small.join("only.txt"), "A single short paragraph.\n").unwrap();
    let o = pretrain("bert", &small, &tmp.path().join("out"), 32, "");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains(small.to_str().unwrap()) && stderr.contains("too small"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let corpus = tmp.path().join("corpus");
    write_corpus(&corpus);
    let o = pretrain("albert", &corpus, &tmp.path().join("out2"), 600, "");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && stderr.contains("max_position_embeddings"),
        "{stderr}"
    );

    let flags =
        "pretrain --arch bert --preset tiny --corpus c --train-tokenizer --out o --steps 1 --batch-size 1 --seq-len 8";
    let o = bertlab(&flags.split(' ').collect::<Vec<_>>());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && stderr.contains("--vocab-size"),
        "{stderr}"
    );
}
