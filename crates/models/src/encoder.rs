//! The BERT and ALBERT encoders: embeddings, post-LN transformer layers and pooler.
//!
//! The two architectures compute the same layer; they differ in parameter names, in ALBERT's
//! factorised embeddings (E → H through `embedding_hidden_mapping_in`) and in ALBERT's
//! cross-layer sharing, which [`ModelConfig::layer_schedule`] describes. Parameters are
//! created under their HF checkpoint names (`bert.encoder.layer.0.attention.self.query.weight`,
//! `albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.weight`, …).

use crate::config::{Arch, ModelConfig};
use bertlab_nn::{embedding, layer_norm, linear, padding_mask, FeedForward, SelfAttention};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

/// `p / "a.b.c"`: a sub-path named by a dotted checkpoint key fragment.
pub fn sub<'a>(p: &nn::Path<'a>, dotted: &str) -> nn::Path<'a> {
    let mut parts = dotted.split('.');
    let first = parts.next().unwrap_or_default();
    parts.fold(p / first, |acc, part| acc / part)
}

/// Word, position and token-type embeddings, summed, then LayerNorm and dropout.
#[derive(Debug)]
pub struct Embeddings {
    pub word_embeddings: nn::Embedding,
    pub position_embeddings: nn::Embedding,
    pub token_type_embeddings: nn::Embedding,
    pub layer_norm: nn::LayerNorm,
    pub dropout: f64,
}

impl Embeddings {
    pub fn new(p: &nn::Path, cfg: &ModelConfig) -> Self {
        let (e, std) = (cfg.embedding_size, cfg.initializer_range);
        Embeddings {
            word_embeddings: embedding(p / "word_embeddings", cfg.vocab_size, e, std),
            position_embeddings: embedding(
                p / "position_embeddings",
                cfg.max_position_embeddings,
                e,
                std,
            ),
            token_type_embeddings: embedding(
                p / "token_type_embeddings",
                cfg.type_vocab_size,
                e,
                std,
            ),
            layer_norm: layer_norm(p / "LayerNorm", e, cfg.layer_norm_eps),
            dropout: cfg.hidden_dropout_prob,
        }
    }

    /// `input_ids` [B, T] → [B, T, E]. Token types default to zeros.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        token_type_ids: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        let t = input_ids.size()[1];
        let positions = Tensor::arange(t, (Kind::Int64, input_ids.device())).unsqueeze(0);
        let words = self.word_embeddings.forward(input_ids);
        let with_types = match token_type_ids {
            Some(tt) => words + self.token_type_embeddings.forward(tt),
            None => words + self.token_type_embeddings.ws.get(0),
        };
        let x = with_types + self.position_embeddings.forward(&positions);
        self.layer_norm.forward(&x).dropout(self.dropout, train)
    }
}

/// Where one layer's parameters live, relative to the layer's path.
struct LayerNames {
    attention: &'static str,
    attention_dense: &'static str,
    attention_norm: &'static str,
    ffn_up: &'static str,
    ffn_down: &'static str,
    output_norm: &'static str,
}

const BERT_LAYER: LayerNames = LayerNames {
    attention: "attention.self",
    attention_dense: "attention.output.dense",
    attention_norm: "attention.output.LayerNorm",
    ffn_up: "intermediate.dense",
    ffn_down: "output.dense",
    output_norm: "output.LayerNorm",
};

const ALBERT_LAYER: LayerNames = LayerNames {
    attention: "attention",
    attention_dense: "attention.dense",
    attention_norm: "attention.LayerNorm",
    ffn_up: "ffn",
    ffn_down: "ffn_output",
    output_norm: "full_layer_layer_norm",
};

/// One post-LN transformer layer:
/// `a = LN(x + drop(W_o·attn(x)))`, `y = LN(a + drop(ffn(a)))`.
#[derive(Debug)]
pub struct TransformerLayer {
    pub attention: SelfAttention,
    pub attention_dense: nn::Linear,
    pub attention_norm: nn::LayerNorm,
    pub ffn: FeedForward,
    pub output_norm: nn::LayerNorm,
    pub hidden_dropout: f64,
    /// Dropout after the feed-forward: BERT's `hidden_dropout_prob`; HF's ALBERT applies none.
    pub ffn_dropout: f64,
}

impl TransformerLayer {
    fn new(p: &nn::Path, cfg: &ModelConfig) -> Self {
        let names = match cfg.arch {
            Arch::Bert => &BERT_LAYER,
            Arch::Albert => &ALBERT_LAYER,
        };
        let (h, std, eps) = (cfg.hidden_size, cfg.initializer_range, cfg.layer_norm_eps);
        TransformerLayer {
            attention: SelfAttention::new(
                &sub(p, names.attention),
                h,
                cfg.num_attention_heads,
                cfg.attention_probs_dropout_prob,
                std,
            ),
            attention_dense: linear(sub(p, names.attention_dense), h, h, std),
            attention_norm: layer_norm(sub(p, names.attention_norm), h, eps),
            ffn: FeedForward::new(
                sub(p, names.ffn_up),
                sub(p, names.ffn_down),
                h,
                cfg.intermediate_size,
                cfg.hidden_act,
                std,
            ),
            output_norm: layer_norm(sub(p, names.output_norm), h, eps),
            hidden_dropout: cfg.hidden_dropout_prob,
            ffn_dropout: match cfg.arch {
                Arch::Bert => cfg.hidden_dropout_prob,
                Arch::Albert => 0.0,
            },
        }
    }

    pub fn forward(&self, x: &Tensor, mask: Option<&Tensor>, train: bool) -> Tensor {
        let ctx = self.attention.forward(x, mask, train);
        let attended = self
            .attention_dense
            .forward(&ctx)
            .dropout(self.hidden_dropout, train);
        let a = self.attention_norm.forward(&(x + attended));
        let f = self.ffn.forward(&a).dropout(self.ffn_dropout, train);
        self.output_norm.forward(&(a + f))
    }
}

/// What the encoder returns.
#[derive(Debug)]
pub struct EncoderOutput {
    /// [B, T, H].
    pub last_hidden_state: Tensor,
    /// `tanh(W·h_[CLS] + b)` [B, H], when the model has a pooler.
    pub pooler_output: Option<Tensor>,
}

/// Embeddings, transformer layers and optional pooler of BERT or ALBERT.
#[derive(Debug)]
pub struct Encoder {
    pub embeddings: Embeddings,
    /// ALBERT's `embedding_hidden_mapping_in` (E → H).
    pub embedding_hidden_mapping_in: Option<nn::Linear>,
    /// The distinct layers holding parameters.
    pub layers: Vec<TransformerLayer>,
    /// Index into `layers` for each step of the forward pass.
    pub schedule: Vec<usize>,
    pub pooler: Option<nn::Linear>,
}

impl Encoder {
    /// Builds the encoder under `root / model_type` (`bert.` or `albert.` keys).
    pub fn new(root: &nn::Path, cfg: &ModelConfig, with_pooler: bool) -> Self {
        let base = root / cfg.arch.model_type();
        let std = cfg.initializer_range;
        let embeddings = Embeddings::new(&(&base / "embeddings"), cfg);
        let encoder = &base / "encoder";
        let (mapping_in, layers, pooler_path) = match cfg.arch {
            Arch::Bert => {
                let layers = (0..cfg.num_hidden_layers)
                    .map(|i| TransformerLayer::new(&(&encoder / "layer" / i), cfg))
                    .collect();
                (None, layers, sub(&base, "pooler.dense"))
            }
            Arch::Albert => {
                let mapping = linear(
                    &encoder / "embedding_hidden_mapping_in",
                    cfg.embedding_size,
                    cfg.hidden_size,
                    std,
                );
                let mut layers = Vec::new();
                for g in 0..cfg.num_hidden_groups {
                    for j in 0..cfg.inner_group_num {
                        let p = &encoder / "albert_layer_groups" / g / "albert_layers" / j;
                        layers.push(TransformerLayer::new(&p, cfg));
                    }
                }
                (Some(mapping), layers, &base / "pooler")
            }
        };
        let pooler =
            with_pooler.then(|| linear(pooler_path, cfg.hidden_size, cfg.hidden_size, std));
        Encoder {
            embeddings,
            embedding_hidden_mapping_in: mapping_in,
            layers,
            schedule: cfg.layer_schedule(),
            pooler,
        }
    }

    /// `input_ids` [B, T] (i64); `token_type_ids` [B, T] or None for zeros; `attention_mask`
    /// [B, T] with 1 for tokens and 0 for padding, or None when nothing is padded.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        token_type_ids: Option<&Tensor>,
        attention_mask: Option<&Tensor>,
        train: bool,
    ) -> EncoderOutput {
        let mut x = self.embeddings.forward(input_ids, token_type_ids, train);
        if let Some(m) = &self.embedding_hidden_mapping_in {
            x = m.forward(&x);
        }
        let mask = attention_mask.map(padding_mask);
        for &i in &self.schedule {
            x = self.layers[i].forward(&x, mask.as_ref(), train);
        }
        let pooler_output = self
            .pooler
            .as_ref()
            .map(|p| p.forward(&x.select(1, 0)).tanh());
        EncoderOutput {
            last_hidden_state: x,
            pooler_output,
        }
    }
}
