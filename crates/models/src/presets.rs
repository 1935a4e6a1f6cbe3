//! Built-in model sizes: the BERT paper and Turc et al. (2019) sizes, the ALBERT paper sizes
//! (E = 128, all layers shared), CPU-sized ALBERTs matched to the small BERTs, and the configs
//! of two published checkpoints.

use crate::config::{Arch, ModelConfig};
use crate::error::ModelError;
use bertlab_nn::Activation;
use serde_json::json;

/// (name, layers, hidden, heads, intermediate) for the BERT presets.
const BERT_SIZES: &[(&str, i64, i64, i64, i64)] = &[
    ("tiny", 2, 128, 2, 512),
    ("mini", 4, 256, 4, 1024),
    ("small", 4, 512, 8, 2048),
    ("medium", 8, 512, 8, 2048),
    ("base", 12, 768, 12, 3072),
    ("large", 24, 1024, 16, 4096),
];

/// (name, layers, hidden, heads, intermediate) for the ALBERT presets; tiny, mini and small
/// match the BERT sizes of the same name.
const ALBERT_SIZES: &[(&str, i64, i64, i64, i64)] = &[
    ("tiny", 2, 128, 2, 512),
    ("mini", 4, 256, 4, 1024),
    ("small", 4, 512, 8, 2048),
    ("base", 12, 768, 12, 3072),
    ("large", 24, 1024, 16, 4096),
    ("xlarge", 24, 2048, 16, 8192),
    ("xxlarge", 12, 4096, 64, 16384),
];

/// Names of the presets of `arch`.
pub fn preset_names(arch: Arch) -> Vec<&'static str> {
    let sizes = match arch {
        Arch::Bert => BERT_SIZES,
        Arch::Albert => ALBERT_SIZES,
    };
    sizes.iter().map(|s| s.0).collect()
}

/// The config of a preset with the given vocabulary size (30,000 in the papers' counts) and
/// 512 positions.
pub fn preset(arch: Arch, name: &str, vocab_size: i64) -> Result<ModelConfig, ModelError> {
    let sizes = match arch {
        Arch::Bert => BERT_SIZES,
        Arch::Albert => ALBERT_SIZES,
    };
    let &(_, layers, hidden, heads, intermediate) =
        sizes
            .iter()
            .find(|s| s.0 == name)
            .ok_or_else(|| ModelError::UnknownPreset {
                arch: arch.model_type().into(),
                name: name.into(),
                known: preset_names(arch).join(", "),
            })?;
    let mut v = json!({
        "model_type": arch.model_type(),
        "vocab_size": vocab_size,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": intermediate,
        "max_position_embeddings": 512,
    });
    if arch == Arch::Albert {
        v["embedding_size"] = 128.into();
        v["num_hidden_groups"] = 1.into();
        v["inner_group_num"] = 1.into();
    }
    ModelConfig::from_json(&v, &format!("{} preset {name}", arch.model_type()))
}

/// `bert-base-cased`'s config.
pub fn bert_base_cased() -> ModelConfig {
    let mut c = preset(Arch::Bert, "base", 28996).expect("built-in preset");
    c.hidden_act = Activation::Gelu;
    c
}

/// `albert-base-v2`'s config.
pub fn albert_base_v2() -> ModelConfig {
    preset(Arch::Albert, "base", 30000).expect("built-in preset")
}
