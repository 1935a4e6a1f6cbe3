//! `bertlab finetune`, `eval` and `predict` on a tiny random checkpoint.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tiny_checkpoint() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tests/fixtures/bert_gelu")
}

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

const NAMES: [&str; 4] = ["john", "mary", "peter", "anna"];
const PLACES: [&str; 4] = ["paris", "london", "berlin", "rome"];
const ORGS: [&str; 3] = ["acme", "fox", "globex"];

/// 20 sentences in CoNLL-2003's IOB1 layout (4 columns, `-DOCSTART-`), one `B-PER`.
fn ner_sentences() -> Vec<Vec<(String, &'static str)>> {
    (0..20)
        .map(|i| {
            let (n, p, o) = (NAMES[i % 4], PLACES[(i / 2) % 4], ORGS[i % 3]);
            let s: Vec<(&str, &str)> = match i % 3 {
                0 => vec![
                    (n, "I-PER"),
                    ("lives", "O"),
                    ("in", "O"),
                    (p, "I-LOC"),
                    (".", "O"),
                ],
                1 => vec![(o, "I-ORG"), ("is", "O"), ("in", "O"), (p, "I-LOC")],
                _ => vec![
                    (n, "I-PER"),
                    ("and", "O"),
                    (NAMES[(i + 1) % 4], "B-PER"),
                    ("work", "O"),
                    ("at", "O"),
                    (o, "I-ORG"),
                ],
            };
            s.into_iter().map(|(w, t)| (w.to_string(), t)).collect()
        })
        .collect()
}

fn write_ner_data(dir: &Path) {
    let mut text = String::from("-DOCSTART- -X- O O\n\n");
    for s in ner_sentences() {
        for (w, t) in s {
            text += &format!("{w} NN I-NP {t}\n");
        }
        text += "\n";
    }
    std::fs::create_dir_all(dir).unwrap();
    for f in ["train.txt", "dev.txt", "test.txt"] {
        std::fs::write(dir.join(f), &text).unwrap();
    }
}

fn finetune_ner(data: &Path, out: &Path, extra: &[&str]) -> Output {
    let model = tiny_checkpoint();
    let mut args = vec![
        "finetune",
        "ner",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--epochs",
        "40",
        "--batch-size",
        "4",
        "--lr",
        "3e-3",
        "--device",
        "cpu",
        "--log-every",
        "1",
    ];
    args.extend_from_slice(extra);
    bertlab(&args)
}

fn losses(out: &Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v.get("loss").is_some())
        .map(|v| (v["step"].as_u64().unwrap(), v["loss"].as_f64().unwrap()))
        .collect()
}

/// bf16 autocast (`--bf16`, as HF's) trains the same model: fp32 weights, bf16 products. Run on
/// CPU here, where libtorch autocasts too; the CUDA path differs only in the device type.
#[test]
fn bf16_autocast_fine_tuning_learns_and_saves_fp32_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, out) = (tmp.path().join("data"), tmp.path().join("out"));
    write_ner_data(&data);
    ok(&finetune_ner(&data, &out, &["--bf16"]));
    let metrics: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    let f1 = metrics["test"]["entity"]["micro"]["f1"].as_f64().unwrap();
    assert!(f1 >= 0.9, "bf16 run reached test F1 {f1}");
    let first = losses(&out)[0].1;
    let last = losses(&out).last().unwrap().1;
    assert!(last < first / 5.0, "loss {first} -> {last}");
    // The products really ran in bf16: the first step's loss differs from the fp32 run's,
    // though only by bf16's rounding.
    let fp32_out = tmp.path().join("fp32");
    ok(&finetune_ner(&data, &fp32_out, &["--max-steps", "1"]));
    let fp32_first = losses(&fp32_out)[0].1;
    let gap = (first - fp32_first).abs();
    assert!(
        gap > 1e-6 && gap < 0.05 * fp32_first,
        "bf16 {first} against fp32 {fp32_first}"
    );
    let saved = std::fs::read(out.join("model/model.safetensors")).unwrap();
    let header_len = u64::from_le_bytes(saved[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&saved[8..8 + header_len]).unwrap();
    for (name, info) in header.as_object().unwrap() {
        if name != "__metadata__" {
            assert_eq!(info["dtype"], "F32", "{name} saved as {}", info["dtype"]);
        }
    }
}

#[test]
fn a_tiny_checkpoint_overfits_20_sentences_to_f1_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, out) = (tmp.path().join("data"), tmp.path().join("out"));
    write_ner_data(&data);
    ok(&finetune_ner(&data, &out, &[]));

    let metrics: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(
        metrics["test"]["entity"]["micro"]["f1"].as_f64().unwrap(),
        1.0,
        "{}",
        metrics["test"]["entity"]
    );
    assert_eq!(
        metrics["dev"]["entity"]["micro"]["f1"].as_f64().unwrap(),
        1.0
    );
    assert!(
        metrics["test"]["token_level"]["per_tag"]["O"].is_object(),
        "token-level report next to entity F1"
    );
    let report = std::fs::read_to_string(out.join("report.txt")).unwrap();
    assert!(
        report.contains("micro avg") && report.contains("NOT entity-level"),
        "{report}"
    );
    let first = losses(&out)[0].1;
    let last = losses(&out).last().unwrap().1;
    assert!(last < first / 10.0, "loss {first} -> {last}");

    // Every word of the test file is predicted, in conlleval layout that `score ner` reads.
    let predictions = out.join("predictions/test.txt");
    let words: usize = ner_sentences().iter().map(Vec::len).sum();
    let text = std::fs::read_to_string(&predictions).unwrap();
    assert_eq!(text.lines().filter(|l| !l.is_empty()).count(), words);
    let scored: Value = serde_json::from_str(&ok(&bertlab(&[
        "score",
        "ner",
        "--input",
        predictions.to_str().unwrap(),
        "--format",
        "json",
    ])))
    .unwrap();
    assert_eq!(scored["micro"]["f1"].as_f64().unwrap(), 1.0);

    // The saved model is an HF token-classification checkpoint with the labels.
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("model/config.json")).unwrap())
            .unwrap();
    assert_eq!(config["architectures"][0], "BertForTokenClassification");
    assert_eq!(config["label2id"]["B-PER"].as_i64().is_some(), true);
    assert!(out.join("model/tokenizer.json").is_file());

    // `eval` scores the saved model again; `predict` finds entities with character offsets.
    let eval: Value = serde_json::from_str(&ok(&bertlab(&[
        "eval",
        "--model",
        out.join("model").to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--json",
        "--device",
        "cpu",
    ])))
    .unwrap();
    assert_eq!(eval["entity"]["micro"]["f1"].as_f64().unwrap(), 1.0);
    let text = "Mary lives in Berlin.";
    let lines = ok(&bertlab(&[
        "predict",
        "ner",
        "--model",
        out.join("model").to_str().unwrap(),
        "--text",
        text,
        "--device",
        "cpu",
    ]));
    let entities: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entities.len(), 2, "{lines}");
    assert_eq!(
        (entities[0]["text"].as_str(), entities[0]["type"].as_str()),
        (Some("Mary"), Some("PER"))
    );
    assert_eq!(
        (entities[0]["start"].as_u64(), entities[0]["end"].as_u64()),
        (Some(0), Some(4))
    );
    assert_eq!(
        (entities[1]["text"].as_str(), entities[1]["type"].as_str()),
        (Some("Berlin"), Some("LOC"))
    );
    let score = entities[1]["score"].as_f64().unwrap();
    assert!(score > 0.5 && score <= 1.0);
}

/// Steps at which `metrics.jsonl` records a dev evaluation.
fn eval_steps(out: &Path) -> Vec<u64> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v.get("eval").is_some())
        .map(|v| v["step"].as_u64().unwrap())
        .collect()
}

/// Dev is scored at each epoch end, or every N steps, and always at the last step, so the
/// steps after the last evaluation still count for the best model.
#[test]
fn the_last_step_is_always_evaluated() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_ner_data(&data);
    // 20 sentences in batches of 4: 5 steps an epoch; --max-steps 7 stops inside epoch 2.
    let by_epoch = tmp.path().join("by-epoch");
    ok(&finetune_ner(&data, &by_epoch, &["--max-steps", "7"]));
    assert_eq!(eval_steps(&by_epoch), [5, 7]);
    let every = tmp.path().join("every");
    ok(&finetune_ner(
        &data,
        &every,
        &["--max-steps", "10", "--eval-every", "3"],
    ));
    assert_eq!(eval_steps(&every), [3, 6, 9, 10]);
}

#[test]
fn resume_after_an_interruption_reproduces_the_loss_trajectory() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_ner_data(&data);
    let straight = tmp.path().join("straight");
    let common = ["--max-steps", "12", "--save-every", "4"];
    ok(&finetune_ner(&data, &straight, &common));
    let resumed = tmp.path().join("resumed");
    let stopped = finetune_ner(
        &data,
        &resumed,
        &[&common[..], &["--stop-after", "7"]].concat(),
    );
    ok(&stopped);
    assert_eq!(losses(&resumed).len(), 7);
    ok(&finetune_ner(
        &data,
        &resumed,
        &[&common[..], &["--resume"]].concat(),
    ));
    let (a, b) = (losses(&straight), losses(&resumed));
    assert_eq!(a.len(), 12);
    assert_eq!(
        a, b,
        "the resumed run repeats the uninterrupted one step for step"
    );
}

#[test]
fn a_malformed_data_file_is_an_error_with_its_line_number() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_ner_data(&data);
    let mut text = std::fs::read_to_string(data.join("dev.txt")).unwrap();
    text = text.replacen(
        "lives NN I-NP O\n",
        "lives NN I-NP O\nbroken-line-with-a-bad-tag NN I-NP Q-PER\n",
        1,
    );
    std::fs::write(data.join("dev.txt"), text).unwrap();
    let o = finetune_ner(&data, &tmp.path().join("out"), &[]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("dev.txt:5") && err.contains("Q-PER"), "{err}");
}

#[test]
fn a_checkpoint_without_tokenizer_json_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_ner_data(&data);
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tests/fixtures/bert_relu_mlm");
    let o = bertlab(&[
        "finetune",
        "ner",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        tmp.path().join("out").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("tokenizer.json") && err.contains("bert_relu_mlm"),
        "{err}"
    );
}

#[test]
fn classification_finetunes_and_reports_accuracy_f1_and_mcc() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut tsv = String::from("sentence\tlabel\n");
    for i in 0..24 {
        let (s, l) = if i % 2 == 0 {
            ("the quick fox is lovely", 1)
        } else {
            ("the lazy dog was awful", 0)
        };
        tsv += &format!("{s} {}\t{l}\n", NAMES[i % 4]);
    }
    std::fs::write(data.join("train.tsv"), &tsv).unwrap();
    std::fs::write(data.join("dev.tsv"), &tsv).unwrap();
    let out = tmp.path().join("out");
    ok(&bertlab(&[
        "finetune",
        "classify",
        "--model",
        tiny_checkpoint().to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--epochs",
        "10",
        "--batch-size",
        "8",
        "--lr",
        "3e-3",
        "--device",
        "cpu",
    ]));
    let metrics: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(
        metrics["dev"]["accuracy"].as_f64().unwrap(),
        1.0,
        "{}",
        metrics["dev"]
    );
    assert_eq!(metrics["dev"]["mcc"].as_f64().unwrap(), 1.0);
    assert_eq!(metrics["dev"]["binary"]["f1"].as_f64().unwrap(), 1.0);
    assert!(metrics["test"].is_null(), "no test split given");
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("model/config.json")).unwrap())
            .unwrap();
    assert_eq!(config["architectures"][0], "BertForSequenceClassification");
}
