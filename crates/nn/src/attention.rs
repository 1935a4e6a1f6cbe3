//! Multi-head self-attention through libtorch's fused `scaled_dot_product_attention`.

use crate::layers::linear;
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

/// The query/key/value projections and the fused attention; the output projection and the
/// residual LayerNorm belong to the model, whose parameter names differ (BERT's
/// `attention.output.dense` against ALBERT's `attention.dense`).
#[derive(Debug)]
pub struct SelfAttention {
    pub query: nn::Linear,
    pub key: nn::Linear,
    pub value: nn::Linear,
    pub num_heads: i64,
    pub head_dim: i64,
    /// Dropout on the attention probabilities (applied in training only).
    pub dropout: f64,
}

impl SelfAttention {
    /// Builds `query`, `key` and `value` under `p`. The caller checks that `num_heads` divides
    /// `hidden` (the configs do).
    pub fn new(p: &nn::Path, hidden: i64, num_heads: i64, dropout: f64, std: f64) -> Self {
        SelfAttention {
            query: linear(p / "query", hidden, hidden, std),
            key: linear(p / "key", hidden, hidden, std),
            value: linear(p / "value", hidden, hidden, std),
            num_heads,
            head_dim: hidden / num_heads,
            dropout,
        }
    }

    /// `x`: [B, T, H]; `mask`: boolean [B, 1, 1, T] from [`padding_mask`], true where a key may
    /// be attended. Returns the attention context [B, T, H] before the output projection.
    pub fn forward(&self, x: &Tensor, mask: Option<&Tensor>, train: bool) -> Tensor {
        let (b, t, h) = x.size3().expect("attention input is [batch, seq, hidden]");
        let heads = |y: Tensor| {
            y.view([b, t, self.num_heads, self.head_dim])
                .transpose(1, 2)
        };
        let q = heads(self.query.forward(x));
        let k = heads(self.key.forward(x));
        let v = heads(self.value.forward(x));
        let p = if train { self.dropout } else { 0.0 };
        let ctx = Tensor::scaled_dot_product_attention(&q, &k, &v, mask, p, false, None, false);
        ctx.transpose(1, 2).contiguous().view([b, t, h])
    }
}

/// Turns an HF `attention_mask` [B, T] (1 for tokens, 0 for padding) into the boolean
/// [B, 1, 1, T] mask the fused attention takes.
pub fn padding_mask(attention_mask: &Tensor) -> Tensor {
    attention_mask.to_kind(Kind::Bool).unsqueeze(1).unsqueeze(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    /// The fused kernel against attention written out by hand, with padding.
    #[test]
    fn fused_attention_matches_the_explicit_formula() {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let att = SelfAttention::new(&vs.root(), 8, 2, 0.0, 0.5);
        let x = Tensor::randn([2, 5, 8], (Kind::Float, Device::Cpu));
        let am = Tensor::from_slice(&[1i64, 1, 1, 1, 1, 1, 1, 1, 0, 0]).view([2, 5]);
        let got = att.forward(&x, Some(&padding_mask(&am)), false);

        let split = |y: Tensor| y.view([2, 5, 2, 4]).transpose(1, 2);
        let q = split(att.query.forward(&x));
        let k = split(att.key.forward(&x));
        let v = split(att.value.forward(&x));
        let additive = (am.to_kind(Kind::Float) - 1.0).view([2, 1, 1, 5]) * 1e9;
        let scores = q.matmul(&k.transpose(-1, -2)) / 2.0 + additive;
        let want = scores
            .softmax(-1, Kind::Float)
            .matmul(&v)
            .transpose(1, 2)
            .contiguous()
            .view([2, 5, 8]);
        let diff = (got - want).abs().max().double_value(&[]);
        assert!(diff < 1e-6, "max diff {diff}");
    }
}
