//! Golden parity with HF transformers: tiny random checkpoints saved by transformers, with the
//! outputs it computed (see tests/fixtures/gen_fixtures.py). fp32, CPU, max abs diff ≤ 1e-5.

mod common;

use bertlab_models::{Arch, Model, Task};
use common::*;
use tch::Device;

const FIXTURES: &[(&str, Arch, Task)] = &[
    ("bert_gelu", Arch::Bert, Task::Pretraining),
    ("bert_gelu_new_noprefix", Arch::Bert, Task::Base),
    ("bert_relu_mlm", Arch::Bert, Task::MaskedLm),
    ("bert_silu", Arch::Bert, Task::Pretraining),
    ("bert_gelu_fast_legacy_bin", Arch::Bert, Task::Pretraining),
    ("albert_groups", Arch::Albert, Task::Pretraining),
    ("albert_gelu_new_noprefix", Arch::Albert, Task::Base),
    ("albert_tanh_sharded", Arch::Albert, Task::Pretraining),
];

#[test]
fn outputs_match_transformers_within_1e5() {
    for &(name, arch, task) in FIXTURES {
        let dir = fixtures().join(name);
        let model = Model::from_pretrained(&dir, Device::Cpu, None, None).unwrap();
        assert_eq!(model.config.arch, arch, "{name}");
        assert_eq!(model.task, task, "{name}: task inferred from architectures");
        let expected = read_expected(&dir.join("expected.safetensors"));
        let compared = check_cases(&model, &expected, 1e-5, name);
        // 3 cases × (hidden state + whatever heads the class has).
        let per_case = 1
            + task.has_pooler() as usize
            + matches!(task, Task::Pretraining | Task::MaskedLm) as usize
            + (task == Task::Pretraining) as usize;
        assert_eq!(compared, 3 * per_case, "{name}");
    }
}

#[test]
fn parameter_totals_equal_pytorch_numel() {
    for &(name, _, _) in FIXTURES {
        let dir = fixtures().join(name);
        let model = Model::from_pretrained(&dir, Device::Cpu, None, None).unwrap();
        let want: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("expected_counts.json")).unwrap(),
        )
        .unwrap();
        let counts = model.parameter_counts();
        assert_eq!(counts.total, want["total"].as_i64().unwrap(), "{name}");
        assert_eq!(counts.components.values().sum::<i64>(), counts.total);
    }
}

#[test]
fn published_configs_reproduce_known_counts() {
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("published_counts.json")).unwrap(),
    )
    .unwrap();
    let bert = Model::new(
        bertlab_models::presets::bert_base_cased(),
        Task::Base,
        Device::Cpu,
    );
    assert_eq!(bert.parameter_counts().total, 108_310_272);
    assert_eq!(
        bert.parameter_counts().total,
        want["bert-base-cased"].as_i64().unwrap()
    );
    let albert = Model::new(
        bertlab_models::presets::albert_base_v2(),
        Task::Base,
        Device::Cpu,
    );
    assert_eq!(albert.parameter_counts().total, 11_683_584);
    assert_eq!(
        albert.parameter_counts().total,
        want["albert-base-v2"].as_i64().unwrap()
    );
}

#[test]
fn a_missing_encoder_weight_is_an_error_naming_the_key() {
    let src = fixtures().join("bert_gelu");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(src.join("config.json"), tmp.path().join("config.json")).unwrap();
    let tensors: Vec<(String, tch::Tensor)> =
        tch::Tensor::read_safetensors(src.join("model.safetensors"))
            .unwrap()
            .into_iter()
            .filter(|(k, _)| k != "bert.encoder.layer.1.attention.self.key.weight")
            .collect();
    tch::Tensor::write_safetensors(&tensors, tmp.path().join("model.safetensors")).unwrap();
    let err = Model::from_pretrained(tmp.path(), Device::Cpu, None, None)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("bert.encoder.layer.1.attention.self.key.weight"),
        "{err}"
    );
}

#[test]
fn an_absent_head_is_freshly_initialised() {
    // A base checkpoint loaded for token classification: encoder from the file, new classifier.
    let dir = fixtures().join("bert_gelu_new_noprefix");
    let labels: Vec<String> = ["O", "B-PER", "I-PER"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let model = Model::from_pretrained(
        &dir,
        Device::Cpu,
        Some(Task::TokenClassification),
        Some(&labels),
    )
    .unwrap();
    let head = model.classifier.as_ref().unwrap();
    assert_eq!(head.linear.ws.size(), vec![3, 32]);
    let std = f64::try_from(head.linear.ws.std(true)).unwrap();
    assert!(std > 0.05 && std < 0.2, "normal(0, 0.1) init, std {std}");
    assert!(
        model.encoder.pooler.is_none(),
        "token classification has no pooler"
    );
    let expected = read_expected(&dir.join("expected.safetensors"));
    let out = tch::no_grad(|| model.forward(&expected["single.input_ids"], None, None, false));
    assert!(
        max_abs_diff(
            &out.last_hidden_state,
            &expected["single.last_hidden_state"]
        ) <= 1e-5
    );
    assert_eq!(out.logits.unwrap().size(), vec![1, 9, 3]);
}

#[test]
fn a_directory_without_weights_or_config_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = Model::from_pretrained(tmp.path(), Device::Cpu, None, None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("config.json"), "{err}");
    std::fs::copy(
        fixtures().join("bert_gelu/config.json"),
        tmp.path().join("config.json"),
    )
    .unwrap();
    let err = Model::from_pretrained(tmp.path(), Device::Cpu, None, None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("model.safetensors"), "{err}");
}

#[test]
fn dropout_is_active_only_in_training() {
    let dir = fixtures().join("bert_gelu");
    let model = Model::from_pretrained(&dir, Device::Cpu, None, None).unwrap();
    let expected = read_expected(&dir.join("expected.safetensors"));
    let ids = &expected["single.input_ids"];
    let eval1 = model.forward(ids, None, None, false).last_hidden_state;
    let eval2 = model.forward(ids, None, None, false).last_hidden_state;
    assert_eq!(max_abs_diff(&eval1, &eval2), 0.0);
    let train = model.forward(ids, None, None, true).last_hidden_state;
    assert!(
        max_abs_diff(&eval1, &train) > 1e-3,
        "hidden_dropout_prob 0.1 changes training outputs"
    );
}
