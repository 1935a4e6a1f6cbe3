//! Initialisation as in the BERT and ALBERT papers: normal(0, σ) weights (σ = the config's
//! `initializer_range`, 0.02), zero biases, LayerNorm weights of one and biases of zero.

use tch::nn::Init;

/// normal(0, `std`) init.
pub fn normal(std: f64) -> Init {
    Init::Randn {
        mean: 0.0,
        stdev: std,
    }
}

/// Zero init (biases).
pub const ZEROS: Init = Init::Const(0.0);
