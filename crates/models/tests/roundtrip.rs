//! Saving in HF format: bertlab reloads its own output, and transformers loads it with no
//! missing keys and the same outputs.

mod common;

use bertlab_models::{Model, Task};
use common::*;
use std::process::Command;
use tch::Device;

#[test]
fn saved_checkpoints_reload_with_identical_outputs() {
    for name in [
        "bert_gelu",
        "albert_groups",
        "bert_gelu_new_noprefix",
        "albert_tanh_sharded",
    ] {
        let src = fixtures().join(name);
        let model = Model::from_pretrained(&src, Device::Cpu, None, None).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        model.save_pretrained(tmp.path(), None).unwrap();
        let back = Model::from_pretrained(tmp.path(), Device::Cpu, None, None).unwrap();
        assert_eq!(back.task, model.task);
        let expected = read_expected(&src.join("expected.safetensors"));
        assert!(check_cases(&back, &expected, 1e-5, name) > 0);
    }
}

/// Loads `dir` with transformers and checks it against `expected.safetensors`.
const HF_CHECK: &str = r#"
import sys, torch, transformers
from safetensors.torch import load_file
d, cls_name, exp = sys.argv[1], sys.argv[2], sys.argv[3]
model, info = getattr(transformers, cls_name).from_pretrained(d, output_loading_info=True)
assert not info["missing_keys"], info
assert not info["mismatched_keys"], info
model.eval()
e = load_file(exp)
with torch.no_grad():
    out = model(input_ids=e["batch.input_ids"], token_type_ids=e["batch.token_type_ids"],
                attention_mask=e["batch.attention_mask"], output_hidden_states=True)
diff = (out.hidden_states[-1] - e["batch.last_hidden_state"]).abs().max().item()
assert diff <= 1e-5, diff
print("OK", cls_name, diff, sorted(info["unexpected_keys"]))
"#;

#[test]
fn transformers_loads_saved_checkpoints_with_no_missing_keys() {
    let Some(python) = std::env::var_os("BERTLAB_PYTHON") else {
        eprintln!("skipped: BERTLAB_PYTHON is not set (run `cargo xtask setup`)");
        return;
    };
    for (name, task) in [
        ("bert_gelu", None),
        ("albert_groups", None),
        ("bert_gelu_new_noprefix", None),
        ("albert_gelu_new_noprefix", Some(Task::TokenClassification)),
        ("bert_gelu", Some(Task::SequenceClassification)),
    ] {
        let src = fixtures().join(name);
        let labels = ["NEG".to_string(), "POS".to_string(), "MID".to_string()];
        let model =
            Model::from_pretrained(&src, Device::Cpu, task, task.map(|_| &labels[..])).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        model.save_pretrained(tmp.path(), None).unwrap();
        let class = model.task.class_name(model.config.arch);
        let out = Command::new(&python)
            .args(["-c", HF_CHECK])
            .arg(tmp.path())
            .arg(&class)
            .arg(src.join("expected.safetensors"))
            .env("HF_HUB_OFFLINE", "1")
            .env("TRANSFORMERS_VERBOSITY", "error")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.starts_with("OK"),
            "{name} as {class}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
