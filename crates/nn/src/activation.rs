//! Activation functions named as in HF `ACT2FN`.

use serde::{Deserialize, Serialize};
use tch::Tensor;

/// An activation named by a config's `hidden_act`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// Exact GELU, `x·Φ(x)` with the error function.
    #[serde(rename = "gelu")]
    Gelu,
    /// GELU's tanh approximation as written in the original BERT/GPT-2 code (ALBERT's
    /// default), `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    #[serde(rename = "gelu_new")]
    GeluNew,
    /// GELU's tanh approximation as computed by PyTorch's fused kernel.
    #[serde(rename = "gelu_pytorch_tanh")]
    GeluPytorchTanh,
    /// `0.5·x·(1 + tanh(x·0.7978845608·(1 + 0.044715·x²)))`.
    #[serde(rename = "gelu_fast")]
    GeluFast,
    #[serde(rename = "relu")]
    Relu,
    #[serde(rename = "silu", alias = "swish")]
    Silu,
    #[serde(rename = "tanh")]
    Tanh,
}

impl Activation {
    /// Applies the activation.
    pub fn forward(self, x: &Tensor) -> Tensor {
        match self {
            Activation::Gelu => x.gelu("none"),
            // The three are one formula (0.7978845608 = √(2/π)); HF writes two of them out as
            // seven element-wise operations, libtorch's fused kernel computes it in one pass,
            // equal to rounding (see the tests), which makes ALBERT's feed-forward cheaper.
            Activation::GeluNew | Activation::GeluPytorchTanh | Activation::GeluFast => {
                x.gelu("tanh")
            }
            Activation::Relu => x.relu(),
            Activation::Silu => x.silu(),
            Activation::Tanh => x.tanh(),
        }
    }

    /// The name a config's `hidden_act` uses.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Gelu => "gelu",
            Activation::GeluNew => "gelu_new",
            Activation::GeluPytorchTanh => "gelu_pytorch_tanh",
            Activation::GeluFast => "gelu_fast",
            Activation::Relu => "relu",
            Activation::Silu => "silu",
            Activation::Tanh => "tanh",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: &Tensor) -> Vec<f64> {
        Vec::<f64>::try_from(t.to_kind(tch::Kind::Double)).unwrap()
    }

    #[test]
    fn gelu_variants_match_their_formulas() {
        let xs = [-3.0f64, -1.0, -0.25, 0.0, 0.5, 2.0];
        let x = Tensor::from_slice(&xs);
        let exact = values(&Activation::Gelu.forward(&x));
        let new = values(&Activation::GeluNew.forward(&x));
        let torch_tanh = values(&Activation::GeluPytorchTanh.forward(&x));
        for (i, &v) in xs.iter().enumerate() {
            let phi = 0.5 * (1.0 + libm_erf(v / 2f64.sqrt()));
            assert!((exact[i] - v * phi).abs() < 1e-12);
            let t = 0.5
                * v
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v.powi(3))).tanh());
            assert!((new[i] - t).abs() < 1e-12);
            assert!((torch_tanh[i] - t).abs() < 1e-12);
        }
        // The approximation differs from the exact GELU away from zero.
        assert!((exact[1] - new[1]).abs() > 1e-5);
    }

    /// The fused kernel against the formula HF's `NewGELUActivation` and `FastGELUActivation`
    /// spell out, in fp32 over a wide range of inputs.
    #[test]
    fn the_fused_tanh_gelu_equals_the_written_out_formulas_in_fp32() {
        let x = Tensor::linspace(-12.0, 12.0, 100_001, (tch::Kind::Float, tch::Device::Cpu));
        let new = {
            let inner =
                (&x + x.pow_tensor_scalar(3.0) * 0.044715) * (2.0 / std::f64::consts::PI).sqrt();
            &x * 0.5 * (inner.tanh() + 1.0)
        };
        let fast = {
            let inner = &x * 0.797_884_560_8 * (&x * &x * 0.044715 + 1.0);
            &x * 0.5 * (inner.tanh() + 1.0)
        };
        for (name, written) in [("gelu_new", new), ("gelu_fast", fast)] {
            let fused = Activation::GeluNew.forward(&x);
            let diff = (fused - written).abs().max().double_value(&[]);
            assert!(diff < 1e-5, "{name}: max abs difference {diff}");
        }
    }

    /// erf via its Taylor-free continued form (Abramowitz-Stegun 7.1.26 is too coarse);
    /// integrate numerically for a reference independent of libtorch.
    fn libm_erf(x: f64) -> f64 {
        let n = 20_000;
        let h = x / n as f64;
        let f = |t: f64| (-t * t).exp();
        let mut s = f(0.0) + f(x);
        for i in 1..n {
            let t = i as f64 * h;
            s += if i % 2 == 1 { 4.0 } else { 2.0 } * f(t);
        }
        s * h / 3.0 * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn names_round_trip_through_serde() {
        for a in [
            Activation::Gelu,
            Activation::GeluNew,
            Activation::GeluPytorchTanh,
            Activation::GeluFast,
            Activation::Relu,
            Activation::Silu,
            Activation::Tanh,
        ] {
            let s = serde_json::to_string(&a).unwrap();
            assert_eq!(s, format!("\"{}\"", a.name()));
            assert_eq!(serde_json::from_str::<Activation>(&s).unwrap(), a);
        }
        assert_eq!(
            serde_json::from_str::<Activation>("\"swish\"").unwrap(),
            Activation::Silu
        );
        assert!(serde_json::from_str::<Activation>("\"gelu_bogus\"").is_err());
    }
}
