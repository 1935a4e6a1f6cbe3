//! Helpers shared by the models tests.
#![allow(dead_code)]

use bertlab_models::Model;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::Tensor;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn read_expected(path: &Path) -> HashMap<String, Tensor> {
    Tensor::read_safetensors(path)
        .unwrap()
        .into_iter()
        .collect()
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "shapes differ");
    (a - b).abs().max().double_value(&[])
}

/// Runs `model` on each case stored in `expected` and checks every output it has against the
/// reference within `tol`. Returns how many tensors were compared.
pub fn check_cases(
    model: &Model,
    expected: &HashMap<String, Tensor>,
    tol: f64,
    label: &str,
) -> usize {
    let mut cases: Vec<&str> = expected
        .keys()
        .filter_map(|k| k.strip_suffix(".input_ids"))
        .collect();
    cases.sort();
    let mut compared = 0;
    for case in cases {
        let ids = &expected[&format!("{case}.input_ids")];
        let types = expected.get(&format!("{case}.token_type_ids"));
        let mask = expected.get(&format!("{case}.attention_mask"));
        // Unpadded inputs go through the mask-free path, padded ones with the mask.
        let padded = mask.is_some_and(|m| m.min().int64_value(&[]) == 0);
        let out =
            tch::no_grad(|| model.forward(ids, types, if padded { mask } else { None }, false));
        let outputs = [
            ("last_hidden_state", Some(&out.last_hidden_state)),
            ("pooler_output", out.pooler_output.as_ref()),
            ("mlm_logits", out.mlm_logits.as_ref()),
            ("pair_logits", out.pair_logits.as_ref()),
        ];
        for (name, got) in outputs {
            let key = format!("{case}.{name}");
            match (got, expected.get(&key)) {
                (Some(got), Some(want)) => {
                    let d = max_abs_diff(got, want);
                    eprintln!("{label} {key}: max abs diff {d:.2e}");
                    assert!(d <= tol, "{label} {key}: max abs diff {d:e} > {tol:e}");
                    compared += 1;
                }
                (None, None) => {}
                (g, w) => panic!(
                    "{label} {key}: rust has it: {}, reference has it: {}",
                    g.is_some(),
                    w.is_some()
                ),
            }
        }
    }
    compared
}
