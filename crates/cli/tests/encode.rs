//! `bertlab encode` and `bertlab info --model/--preset` against transformers' outputs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tch::Tensor;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/tests/fixtures")
        .join(name)
}

fn bertlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bertlab"))
        .args(args)
        .output()
        .expect("bertlab runs")
}

fn read(path: &Path) -> HashMap<String, Tensor> {
    Tensor::read_safetensors(path)
        .unwrap()
        .into_iter()
        .collect()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

const TEXT: &str = "The quick brown fox jumps";
const PAIR: &str = "over the lazy dogs!";

#[test]
fn encode_writes_the_contract_tensors_matching_transformers() {
    for (name, pair_key) in [
        ("bert_gelu", "nsp_logits"),
        ("albert_groups", "sop_logits"),
        ("bert_silu", "nsp_logits"),
    ] {
        let dir = fixture(name);
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out.safetensors");
        let o = bertlab(&[
            "encode",
            "--model",
            dir.to_str().unwrap(),
            "--text",
            TEXT,
            "--pair",
            PAIR,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let got = read(&out);
        let want = read(&dir.join("encode_expected.safetensors"));
        let mut keys: Vec<&String> = got.keys().collect();
        keys.sort();
        let mut want_keys = vec![
            "input_ids",
            "last_hidden_state",
            "mlm_logits",
            pair_key,
            "pooler_output",
        ];
        want_keys.sort();
        assert_eq!(keys, want_keys, "{name}");
        assert_eq!(got["input_ids"].kind(), tch::Kind::Int64);
        // The tokenizer.json turns on padding to 32 and truncation to 6; both must be ignored.
        assert_eq!(got["input_ids"], want["input_ids"], "{name}: ids");
        let t = want["input_ids"].size()[1];
        assert!(t > 6 && t < 32, "{name}: {t} tokens");
        assert_eq!(got["last_hidden_state"].size(), vec![1, t, 32]);
        assert_eq!(got[pair_key].size(), vec![1, 2]);
        for (k, w) in [
            ("last_hidden_state", "last_hidden_state"),
            ("pooler_output", "pooler_output"),
            ("mlm_logits", "mlm_logits"),
            (pair_key, "pair_logits"),
        ] {
            let d = max_diff(&got[k], &want[w]);
            assert!(d <= 1e-5, "{name} {k}: {d:e}");
        }
    }
}

#[test]
fn encode_minilm_matches_transformers() {
    let Some(dir) = std::env::var_os("BERTLAB_MINILM_DIR") else {
        eprintln!("skipped: BERTLAB_MINILM_DIR is not set (run `cargo xtask setup`)");
        return;
    };
    let fixtures = fixture("");
    let sentences: Vec<String> = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("minilm_sentences.json")).unwrap(),
    )
    .unwrap();
    let want = read(&fixtures.join("minilm_expected.safetensors"));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o.safetensors");
    let o = bertlab(&[
        "encode",
        "--model",
        dir.to_str().unwrap(),
        "--text",
        &sentences[2],
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = read(&out);
    assert_eq!(got["input_ids"], want["s2.input_ids"]);
    assert!(max_diff(&got["last_hidden_state"], &want["s2.last_hidden_state"]) <= 1e-4);
    assert!(max_diff(&got["pooler_output"], &want["s2.pooler_output"]) <= 1e-4);
    assert!(
        !got.contains_key("mlm_logits"),
        "all-MiniLM-L6-v2 has no MLM head"
    );
}

#[test]
fn encode_rejects_overlong_input_unless_truncating() {
    let dir = fixture("bert_gelu");
    let long = "fox ".repeat(80); // max_position_embeddings is 64
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o.safetensors");
    let o = bertlab(&[
        "encode",
        "--model",
        dir.to_str().unwrap(),
        "--text",
        &long,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("max_position_embeddings") && err.contains("--truncate"),
        "{err}"
    );
    assert!(!out.exists());
    let o = bertlab(&[
        "encode",
        "--model",
        dir.to_str().unwrap(),
        "--text",
        &long,
        "--out",
        out.to_str().unwrap(),
        "--truncate",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read(&out)["input_ids"].size(), vec![1, 64]);
}

#[test]
fn encode_without_tokenizer_is_a_clear_error() {
    let dir = fixture("bert_relu_mlm");
    let o = bertlab(&[
        "encode",
        "--model",
        dir.to_str().unwrap(),
        "--text",
        "x",
        "--out",
        "/tmp/never.safetensors",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("tokenizer.json"));
}

#[test]
fn info_model_prints_component_counts_as_json() {
    let dir = fixture("albert_groups");
    let o = bertlab(&["info", "--model", dir.to_str().unwrap(), "--format", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected_counts.json")).unwrap())
            .unwrap();
    assert_eq!(v["total"], want["total"]);
    let comps = v["components"].as_object().unwrap();
    for c in ["embeddings", "encoder", "pooler", "mlm_head", "sop_head"] {
        assert!(comps[c].as_i64().unwrap() > 0, "{c}");
    }
    let sum: i64 = comps.values().map(|n| n.as_i64().unwrap()).sum();
    assert_eq!(sum, v["total"].as_i64().unwrap());
}

/// The paper presets with a 30,000 vocabulary and 512 positions, as transformers counts them.
#[test]
fn info_preset_totals_equal_transformers_counts() {
    for (arch, preset, total) in [
        ("bert", "base", 109_081_344i64),
        ("bert", "large", 334_607_360),
        ("albert", "base", 11_683_584),
        ("albert", "large", 17_683_968),
        ("albert", "xlarge", 58_724_864),
        ("albert", "xxlarge", 222_595_584),
    ] {
        let o = bertlab(&[
            "info", "--arch", arch, "--preset", preset, "--format", "json",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["total"].as_i64().unwrap(), total, "{arch} {preset}");
        let heads = if arch == "bert" {
            "nsp_head"
        } else {
            "sop_head"
        };
        assert!(v["components"]["mlm_head"].as_i64().unwrap() > 0);
        assert!(v["components"][heads].as_i64().unwrap() > 0);
    }
}
