//! Linear, embedding, LayerNorm and feed-forward layers with HF parameter names and paper init.

use crate::activation::Activation;
use crate::init::{normal, ZEROS};
use tch::nn::{self, Module};
use tch::Tensor;

/// `Linear(in → out)` with `weight` [out, in] ~ normal(0, std) and a zero `bias`.
pub fn linear(p: nn::Path, inputs: i64, outputs: i64, std: f64) -> nn::Linear {
    nn::linear(
        p,
        inputs,
        outputs,
        nn::LinearConfig {
            ws_init: normal(std),
            bs_init: Some(ZEROS),
            bias: true,
        },
    )
}

/// `Embedding(n, dim)` with `weight` ~ normal(0, std).
pub fn embedding(p: nn::Path, n: i64, dim: i64, std: f64) -> nn::Embedding {
    nn::embedding(
        p,
        n,
        dim,
        nn::EmbeddingConfig {
            ws_init: normal(std),
            ..Default::default()
        },
    )
}

/// LayerNorm over the last dimension, `weight` one and `bias` zero.
pub fn layer_norm(p: nn::Path, dim: i64, eps: f64) -> nn::LayerNorm {
    nn::layer_norm(
        p,
        vec![dim],
        nn::LayerNormConfig {
            eps,
            ..Default::default()
        },
    )
}

/// Position-wise feed-forward: `down(act(up(x)))`.
#[derive(Debug)]
pub struct FeedForward {
    pub up: nn::Linear,
    pub down: nn::Linear,
    pub activation: Activation,
}

impl FeedForward {
    /// Builds `up` (hidden → intermediate) and `down` (intermediate → hidden) under the given
    /// paths, which differ between BERT (`intermediate.dense`, `output.dense`) and ALBERT
    /// (`ffn`, `ffn_output`).
    pub fn new(
        up: nn::Path,
        down: nn::Path,
        hidden: i64,
        intermediate: i64,
        activation: Activation,
        std: f64,
    ) -> Self {
        FeedForward {
            up: linear(up, hidden, intermediate, std),
            down: linear(down, intermediate, hidden, std),
            activation,
        }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.down
            .forward(&self.activation.forward(&self.up.forward(x)))
    }
}
