//! Task heads on top of the encoder.

use crate::config::{Arch, ModelConfig};
use crate::encoder::sub;
use bertlab_nn::{init, layer_norm, linear, Activation};
use tch::nn::{self, Module};
use tch::Tensor;

/// The masked-LM head: `dense` (H → E), activation, LayerNorm(E), then a decoder tied to the
/// word embeddings (E → V) plus an output bias. BERT's E equals H.
///
/// Keys: BERT `cls.predictions.transform.{dense,LayerNorm}` and `cls.predictions.bias`;
/// ALBERT `predictions.{dense,LayerNorm}` and `predictions.bias`.
#[derive(Debug)]
pub struct MlmHead {
    pub dense: nn::Linear,
    pub layer_norm: nn::LayerNorm,
    pub bias: Tensor,
    pub activation: Activation,
}

impl MlmHead {
    pub fn new(root: &nn::Path, cfg: &ModelConfig) -> Self {
        let (transform, bias_path) = match cfg.arch {
            Arch::Bert => (
                sub(root, "cls.predictions.transform"),
                sub(root, "cls.predictions"),
            ),
            Arch::Albert => (root / "predictions", root / "predictions"),
        };
        let (h, e, std) = (cfg.hidden_size, cfg.embedding_size, cfg.initializer_range);
        MlmHead {
            dense: linear(&transform / "dense", h, e, std),
            layer_norm: layer_norm(&transform / "LayerNorm", e, cfg.layer_norm_eps),
            bias: bias_path.var("bias", &[cfg.vocab_size], init::ZEROS),
            activation: cfg.hidden_act,
        }
    }

    /// The transformed hidden states [.., E], before the vocabulary projection.
    pub fn transform(&self, hidden: &Tensor) -> Tensor {
        self.layer_norm
            .forward(&self.activation.forward(&self.dense.forward(hidden)))
    }

    /// Logits over the vocabulary for every position: [.., V].
    pub fn forward(&self, hidden: &Tensor, word_embeddings: &Tensor) -> Tensor {
        self.transform(hidden)
            .linear(word_embeddings, Some(&self.bias))
    }

    /// Logits at the chosen positions only: `hidden` [B, T, H] is flattened to [B·T, H],
    /// `flat_positions` (i64, indices into B·T) picks the rows before the decoder, as the
    /// original BERT code does. Returns [N, V]. Far cheaper than [`Self::forward`] when the
    /// vocabulary projection dominates.
    pub fn forward_at(
        &self,
        hidden: &Tensor,
        flat_positions: &Tensor,
        word_embeddings: &Tensor,
    ) -> Tensor {
        let h = hidden.size().last().copied().unwrap_or(0);
        let rows = hidden.reshape([-1, h]).index_select(0, flat_positions);
        self.forward(&rows, word_embeddings)
    }
}

/// Dropout then a linear layer: NSP (`cls.seq_relationship`, no dropout), SOP
/// (`sop_classifier.classifier`), token and sequence classification (`classifier`).
#[derive(Debug)]
pub struct ClassifierHead {
    pub dropout: f64,
    pub linear: nn::Linear,
}

impl ClassifierHead {
    pub fn new(p: nn::Path, inputs: i64, outputs: i64, dropout: f64, std: f64) -> Self {
        ClassifierHead {
            dropout,
            linear: linear(p, inputs, outputs, std),
        }
    }

    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        self.linear.forward(&x.dropout(self.dropout, train))
    }
}
