//! `bertlab score ner`: the command-line contract that outside tools depend on.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn bertlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bertlab"))
        .args(args)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("bertlab binary runs")
}

/// The parity fixtures of the metrics crate (inputs and seqeval's expectations).
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../metrics/tests/fixtures")
}

fn input(name: &str) -> String {
    fixtures().join("ner").join(name).display().to_string()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "bertlab failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&stdout(&bertlab(args))).expect("stdout is JSON")
}

fn expected(fixture: &str, scheme: &str, mode: &str) -> Value {
    let path = fixtures()
        .join("expected/ner")
        .join(format!("{fixture}.json"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["scheme"] == scheme && c["mode"] == mode)
        .unwrap()["entity"]
        .clone()
}

fn assert_scores_close(actual: &Value, expected: &Value, what: &str) {
    for key in ["precision", "recall", "f1"] {
        let (a, e) = (
            actual[key].as_f64().unwrap(),
            expected[key].as_f64().unwrap(),
        );
        assert!((a - e).abs() < 1e-12, "{what}.{key}: {a} vs {e}");
    }
    assert_eq!(actual["support"], expected["support"], "{what}.support");
}

fn temp_input(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

#[test]
fn json_has_the_contract_shape_and_seqevals_numbers() {
    let v = json(&[
        "score",
        "ner",
        "--input",
        &input("iob2_messy.txt"),
        "--format",
        "json",
    ]);
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["accuracy", "macro", "micro", "per_type", "weighted"]
    );
    for avg in ["micro", "macro", "weighted"] {
        let mut fields: Vec<&String> = v[avg].as_object().unwrap().keys().collect();
        fields.sort();
        assert_eq!(fields, ["f1", "precision", "recall", "support"], "{avg}");
    }
    let expected = expected("iob2_messy", "iob2", "conlleval");
    assert!(
        (v["accuracy"].as_f64().unwrap() - expected["accuracy"].as_f64().unwrap()).abs() < 1e-12
    );
    for avg in ["micro", "macro", "weighted"] {
        assert_scores_close(&v[avg], &expected[avg], avg);
    }
    let types: Vec<&String> = v["per_type"].as_object().unwrap().keys().collect();
    assert_eq!(types, ["EVENT", "LOC", "MISC", "ORG", "ORG-X", "PER"]);
    for (kind, scores) in expected["per_type"].as_object().unwrap() {
        assert_scores_close(&v["per_type"][kind], scores, kind);
    }
}

#[test]
fn defaults_are_iob2_conlleval_text() {
    let file = input("iob1_conll.txt");
    let implicit = stdout(&bertlab(&["score", "ner", "--input", &file]));
    let explicit = stdout(&bertlab(&[
        "score",
        "ner",
        "--input",
        &file,
        "--scheme",
        "iob2",
        "--mode",
        "conlleval",
        "--format",
        "text",
    ]));
    assert_eq!(implicit, explicit);
    assert!(
        implicit.contains("(iob2 scheme, conlleval mode;"),
        "{implicit}"
    );
    let json_default = json(&["score", "ner", "--input", &file, "--format", "json"]);
    let json_explicit = json(&[
        "score",
        "ner",
        "--input",
        &file,
        "--format",
        "json",
        "--scheme",
        "iob2",
        "--mode",
        "conlleval",
    ]);
    assert_eq!(json_default, json_explicit);
}

#[test]
fn scheme_and_mode_select_seqevals_strict_scoring() {
    for (fixture, scheme) in [
        ("iob1_conll", "iob1"),
        ("iobes", "iobes"),
        ("bilou", "bilou"),
    ] {
        let v = json(&[
            "score",
            "ner",
            "--input",
            &input(&format!("{fixture}.txt")),
            "--scheme",
            scheme,
            "--mode",
            "strict",
            "--format",
            "json",
        ]);
        let expected = expected(fixture, scheme, "strict");
        for avg in ["micro", "macro", "weighted"] {
            assert_scores_close(&v[avg], &expected[avg], &format!("{fixture} {avg}"));
        }
    }
}

#[test]
fn text_output_is_seqevals_report_then_a_labelled_token_level_report() {
    let text = stdout(&bertlab(&[
        "score",
        "ner",
        "--input",
        &input("seqeval_example.txt"),
    ]));
    assert!(text.contains(
        "              precision    recall  f1-score   support\n\n        MISC     0.0000    0.0000    0.0000         1\n"
    ), "{text}");
    assert!(
        text.contains("   micro avg     0.5000    0.5000    0.5000         2\n"),
        "{text}"
    );
    let token_at = text
        .find("Token-level report")
        .expect("token-level report present");
    assert!(text[token_at..].contains("NOT entity-level F1"));
    assert!(
        text[token_at..].contains("           O     1.0000    0.8000    0.8889         5\n"),
        "{text}"
    );
    assert!(text.find("micro avg").unwrap() < token_at);
}

#[test]
fn markdown_output_has_both_tables() {
    let md = stdout(&bertlab(&[
        "score",
        "ner",
        "--input",
        &input("seqeval_example.txt"),
        "--format",
        "markdown",
    ]));
    assert!(
        md.contains("| PER | 1.0000 | 1.0000 | 1.0000 | 1 |"),
        "{md}"
    );
    assert!(
        md.contains("| tag | precision | recall | f1-score | support |"),
        "{md}"
    );
}

#[test]
fn no_predicted_entities_gives_precision_zero_not_nan() {
    let v = json(&[
        "score",
        "ner",
        "--input",
        &input("no_predictions.txt"),
        "--format",
        "json",
    ]);
    assert_eq!(v["micro"]["precision"], 0.0);
    assert_eq!(v["per_type"]["PER"]["precision"], 0.0);
    assert_eq!(v["micro"]["support"], 2);
    let all_o = json(&[
        "score",
        "ner",
        "--input",
        &input("all_o.txt"),
        "--format",
        "json",
    ]);
    assert_eq!(all_o["accuracy"], 1.0);
    assert_eq!(all_o["macro"]["f1"], 0.0);
    assert!(all_o["per_type"].as_object().unwrap().is_empty());
}

#[test]
fn one_column_is_an_error_naming_the_file_and_line() {
    let file = temp_input("John B-PER B-PER\nlives O O\n\nin\n");
    let out = bertlab(&["score", "ner", "--input", file.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:4: expected at least 2", file.path().display())),
        "{stderr}"
    );
}

#[test]
fn an_unknown_prefix_in_strict_mode_is_an_error_naming_the_line() {
    let file = temp_input("-DOCSTART- O O\n\nJohn B-PER B-PER\nSmith I-PER E-PER\n");
    let path = file.path().to_str().unwrap();
    let out = bertlab(&["score", "ner", "--input", path, "--mode", "strict"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{path}:4: predicted tag \"E-PER\" has a prefix that iob2 does not allow in strict mode"
        )),
        "{stderr}"
    );
    // The same file scores in conlleval mode, and in strict mode under IOBES.
    assert!(bertlab(&["score", "ner", "--input", path]).status.success());
    assert!(
        bertlab(&["score", "ner", "--input", path, "--mode", "strict", "--scheme", "iobes"])
            .status
            .success()
    );
}

#[test]
fn a_missing_file_and_unknown_choices_are_errors() {
    let out = bertlab(&["score", "ner", "--input", "/nonexistent/dev.txt"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/dev.txt"));
    let file = input("all_o.txt");
    for bad in [
        ["--scheme", "bio"],
        ["--mode", "lenient"],
        ["--format", "yaml"],
    ] {
        let out = bertlab(&["score", "ner", "--input", &file, bad[0], bad[1]]);
        assert!(!out.status.success(), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("invalid value"),
            "{bad:?}"
        );
    }
}
