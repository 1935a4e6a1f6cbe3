//! AdamW and LAMB over a [`VarStore`]'s trainable variables, with global-norm gradient clipping
//! and a state that can be saved and restored exactly (for resumable training).
//!
//! The optimizer is written on plain tensor ops rather than tch's `nn::Optimizer` so that its
//! moments and step counts are visible: [`Optimizer::state_tensors`] / [`Optimizer::load_state`].

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Tensor};

/// Errors from building, stepping or restoring an [`Optimizer`].
#[derive(Debug, thiserror::Error)]
pub enum OptimError {
    /// A key that the optimizer's state needs is absent from the restored map.
    #[error("optimizer state is missing `{key}`")]
    MissingKey { key: String },
    /// A restored tensor has the wrong shape.
    #[error("optimizer state `{key}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        key: String,
        found: Vec<i64>,
        expected: Vec<i64>,
    },
    /// A restored tensor has the right shape but an unusable kind or value.
    #[error("optimizer state `{key}` is invalid: {reason}")]
    InvalidValue { key: String, reason: String },
    /// A hyper-parameter is out of range (see [`OptimConfig::validate`]).
    #[error("invalid optimizer config: {0}")]
    InvalidConfig(String),
    /// libtorch failed (e.g. parameters moved to another device after the optimizer was built).
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

/// Which update rule to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// `torch.optim.AdamW` (decoupled weight decay).
    AdamW,
    /// LAMB (You et al. 2019): Adam direction scaled by a per-parameter trust ratio.
    Lamb,
}

/// Optimizer hyper-parameters. `lr` is the peak learning rate (what schedules scale);
/// [`Optimizer::step`] takes the current learning rate explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OptimConfig {
    pub kind: OptimizerKind,
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Decoupled weight decay, applied to every parameter except biases and norm weights.
    pub weight_decay: f64,
}

impl Default for OptimConfig {
    /// AdamW, lr 5e-5, betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
    fn default() -> Self {
        OptimConfig {
            kind: OptimizerKind::AdamW,
            lr: 5e-5,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

impl OptimConfig {
    /// The defaults for `kind`: as [`Default`], with eps 1e-6 for LAMB (its conventional value).
    pub fn for_kind(kind: OptimizerKind) -> Self {
        let eps = match kind {
            OptimizerKind::AdamW => 1e-8,
            OptimizerKind::Lamb => 1e-6,
        };
        OptimConfig {
            kind,
            eps,
            ..Default::default()
        }
    }

    /// Checks the ranges torch checks: `lr >= 0`, `eps >= 0`, `0 <= beta < 1`, `weight_decay >= 0`.
    pub fn validate(&self) -> Result<(), OptimError> {
        let bad = |what: &str, v: f64| Err(OptimError::InvalidConfig(format!("{what} = {v}")));
        if !(self.lr >= 0.0 && self.lr.is_finite()) {
            return bad("lr", self.lr);
        }
        if !(self.eps >= 0.0 && self.eps.is_finite()) {
            return bad("eps", self.eps);
        }
        if !(0.0..1.0).contains(&self.beta1) {
            return bad("beta1", self.beta1);
        }
        if !(0.0..1.0).contains(&self.beta2) {
            return bad("beta2", self.beta2);
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad("weight_decay", self.weight_decay);
        }
        Ok(())
    }
}

/// Whether a parameter is exempt from weight decay: its name ends in `bias`, or one of its
/// `.`/`/`-separated segments is a normalisation layer (contains `layernorm` / `layer_norm`, or
/// ends in `norm`, case-insensitively), e.g. `bert.embeddings.LayerNorm.weight`,
/// `albert.encoder.albert_layer_groups.0.albert_layers.0.full_layer_layer_norm.weight`,
/// `cls.predictions.bias`.
pub fn is_no_decay(name: &str) -> bool {
    name.ends_with("bias")
        || name.split(['.', '/']).any(|seg| {
            let seg = seg.to_ascii_lowercase();
            seg.contains("layernorm") || seg.contains("layer_norm") || seg.ends_with("norm")
        })
}

/// One parameter and its optimizer state (on the parameter's device).
#[derive(Debug)]
struct ParamState {
    name: String,
    param: Tensor,
    decay: bool,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    /// Updates this parameter received (torch keeps a step per parameter: one whose grad is
    /// undefined at a step is not counted).
    step: i64,
}

/// AdamW / LAMB over the trainable variables of a [`VarStore`]; see [`OptimizerKind`].
#[derive(Debug)]
pub struct Optimizer {
    cfg: OptimConfig,
    params: Vec<ParamState>,
    steps_taken: i64,
}

/// Key of the global step counter in [`Optimizer::state_tensors`].
pub const STEPS_TAKEN_KEY: &str = "steps_taken";

fn key(name: &str, what: &str) -> String {
    format!("{name}.{what}")
}

/// A CPU copy that never aliases the live state (`to_device(Cpu)` is a no-op on CPU).
fn cpu_copy(t: &Tensor) -> Result<Tensor, tch::TchError> {
    if t.device() == Device::Cpu {
        t.f_detach_copy()
    } else {
        t.f_detach()?.f_to_device(Device::Cpu)
    }
}

impl Optimizer {
    /// Takes every trainable variable of `vs` (sorted by name for determinism). Weight decay applies to
    /// all except biases and norm parameters ([`is_no_decay`]). A tensor registered under several
    /// names is optimized once, under the first name. State starts at zero on each parameter's device.
    pub fn new(vs: &VarStore, cfg: OptimConfig) -> Self {
        let trainable = vs.trainable_variables();
        let ptrs: HashSet<usize> = trainable
            .iter()
            .map(|t| t.data_ptr() as usize)
            .filter(|p| *p != 0)
            .collect();
        let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let mut seen = HashSet::new();
        let mut params = Vec::new();
        for (name, t) in named {
            let ptr = t.data_ptr() as usize;
            // Zero-element tensors may have no storage: fall back to requires_grad.
            let is_trainable = if ptr == 0 {
                t.requires_grad()
            } else {
                ptrs.contains(&ptr)
            };
            if !is_trainable || (ptr != 0 && !seen.insert(ptr)) {
                continue;
            }
            let (exp_avg, exp_avg_sq) = tch::no_grad(|| (t.zeros_like(), t.zeros_like()));
            params.push(ParamState {
                decay: !is_no_decay(&name),
                name,
                param: t,
                exp_avg,
                exp_avg_sq,
                step: 0,
            });
        }
        Optimizer {
            cfg,
            params,
            steps_taken: 0,
        }
    }

    /// The configuration this optimizer was built with.
    pub fn config(&self) -> &OptimConfig {
        &self.cfg
    }

    /// Zeroes the gradients in place (tch cannot reset a gradient to undefined, so this is
    /// torch's `zero_grad(set_to_none=False)`: a parameter that once had a gradient keeps a
    /// zero one and is still updated by momentum and weight decay).
    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.param.zero_grad();
        }
    }

    /// Clips gradients by their global L2 norm (like `torch.nn.utils.clip_grad_norm_`: scale by
    /// `min(1, max_norm / (norm + 1e-6))`); returns the norm before clipping (0 when no
    /// parameter has a gradient; NaN/inf are returned as they are, and then scale the gradients
    /// as in torch). A negative or NaN `max_norm` leaves the gradients alone.
    ///
    /// Panics only if libtorch fails; see [`Self::try_clip_grad_norm`].
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> f64 {
        self.try_clip_grad_norm(max_norm)
            .unwrap_or_else(|e| panic!("clip_grad_norm: {e}"))
    }

    /// [`Self::clip_grad_norm`], returning libtorch errors instead of panicking.
    pub fn try_clip_grad_norm(&mut self, max_norm: f64) -> Result<f64, OptimError> {
        let _guard = tch::no_grad_guard();
        let mut grads = Vec::new();
        for p in &self.params {
            let g = p.param.f_grad()?;
            if g.defined() {
                grads.push(g);
            }
        }
        if grads.is_empty() {
            return Ok(0.0);
        }
        let norms = grads
            .iter()
            .map(|g| g.f_norm())
            .collect::<Result<Vec<_>, _>>()?;
        let total = Tensor::f_stack(&norms, 0)?.f_norm()?;
        if max_norm >= 0.0 {
            // torch: clip_coef = max_norm / (total + 1e-6), i.e. reciprocal(total + 1e-6) * max_norm.
            let coef = total
                .f_add_scalar(1e-6)?
                .f_reciprocal()?
                .f_mul_scalar(max_norm)?
                .f_clamp_max(1.0)?;
            for g in &mut grads {
                let _ = g.f_mul_(&coef)?;
            }
        } else {
            tracing::warn!("clip_grad_norm: max_norm {max_norm} ignored");
        }
        Ok(total.f_double_value(&[])?)
    }

    /// One update with learning rate `lr` (the schedule's current value). Parameters whose grad is
    /// undefined are skipped (their per-parameter step does not advance).
    ///
    /// Panics only if libtorch fails; see [`Self::try_step`].
    pub fn step(&mut self, lr: f64) {
        self.try_step(lr)
            .unwrap_or_else(|e| panic!("optimizer step: {e}"))
    }

    /// [`Self::step`], returning libtorch errors instead of panicking.
    ///
    /// **AdamW** (exactly `torch.optim.AdamW`'s single-tensor path), per parameter `p` with
    /// gradient `g` at its step `t` (1-based), `wd` = weight decay of its group:
    /// ```text
    /// p *= 1 - lr*wd                       (skipped when wd == 0)
    /// m  = m.lerp(g, 1-beta1)
    /// v  = v*beta2 + (1-beta2)*g*g
    /// p += -(lr / (1-beta1^t)) * m / (sqrt(v) / sqrt(1-beta2^t) + eps)
    /// ```
    /// **LAMB** (You et al. 2019; trust ratio applied to every parameter, as in NVIDIA's LAMB):
    /// ```text
    /// m, v as above;  m̂ = m / (1-beta1^t);  v̂ = v / (1-beta2^t)
    /// u = m̂ / (sqrt(v̂) + eps) + wd*p
    /// trust = ||p|| / ||u||   if ||p|| > 0 and ||u|| > 0, else 1
    /// p -= lr * trust * u
    /// ```
    pub fn try_step(&mut self, lr: f64) -> Result<(), OptimError> {
        let _guard = tch::no_grad_guard();
        let OptimConfig {
            kind,
            beta1,
            beta2,
            eps,
            weight_decay,
            ..
        } = self.cfg;
        for st in &mut self.params {
            let grad = st.param.f_grad()?;
            if !grad.defined() {
                continue;
            }
            let wd = if st.decay { weight_decay } else { 0.0 };
            st.step += 1;
            let t = st.step as f64;
            let bias_correction1 = 1.0 - beta1.powf(t);
            let bias_correction2 = 1.0 - beta2.powf(t);
            let _ = st.exp_avg.f_lerp_(&grad, 1.0 - beta1)?;
            // torch: exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1-beta2); the kernel
            // computes (value*g)*g, so pre-scaling one factor is the same arithmetic.
            let _ = st.exp_avg_sq.f_mul_scalar_(beta2)?;
            let _ = st
                .exp_avg_sq
                .f_addcmul_(&grad.f_mul_scalar(1.0 - beta2)?, &grad)?;
            match kind {
                OptimizerKind::AdamW => {
                    if wd != 0.0 {
                        let _ = st.param.f_mul_scalar_(1.0 - lr * wd)?;
                    }
                    let step_size = lr / bias_correction1;
                    let bias_correction2_sqrt = bias_correction2.powf(0.5);
                    let mut denom = st
                        .exp_avg_sq
                        .f_sqrt()?
                        .f_div_scalar(bias_correction2_sqrt)?;
                    let _ = denom.f_add_scalar_(eps)?;
                    // torch: p.addcdiv_(m, denom, value=-step_size), computed as (value*m)/denom.
                    let _ = st
                        .param
                        .f_addcdiv_(&st.exp_avg.f_mul_scalar(-step_size)?, &denom)?;
                }
                OptimizerKind::Lamb => {
                    let m_hat = st.exp_avg.f_div_scalar(bias_correction1)?;
                    let v_hat = st.exp_avg_sq.f_div_scalar(bias_correction2)?;
                    let mut u = m_hat.f_div(&v_hat.f_sqrt()?.f_add_scalar(eps)?)?;
                    if wd != 0.0 {
                        u = u.f_add(&st.param.f_mul_scalar(wd)?)?;
                    }
                    let p_norm = st.param.f_norm()?;
                    let u_norm = u.f_norm()?;
                    let both = p_norm.f_gt(0.0)?.f_logical_and(&u_norm.f_gt(0.0)?)?;
                    let trust = p_norm
                        .f_div(&u_norm)?
                        .f_where_self(&both, &p_norm.f_ones_like()?)?;
                    let _ = st.param.f_sub_(&u.f_mul(&trust)?.f_mul_scalar(lr)?)?;
                }
            }
        }
        self.steps_taken += 1;
        Ok(())
    }

    /// Number of [`Self::step`] calls so far (restored by [`Self::load_state`]).
    pub fn steps_taken(&self) -> i64 {
        self.steps_taken
    }

    /// The full state as named CPU tensors, for a checkpoint: `"{param}.exp_avg"`,
    /// `"{param}.exp_avg_sq"` (param's kind and shape), `"{param}.step"` (int64 scalar) for
    /// every parameter, and [`STEPS_TAKEN_KEY`] (int64 scalar). The tensors are copies.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        self.try_state_tensors()
            .unwrap_or_else(|e| panic!("optimizer state_tensors: {e}"))
    }

    fn try_state_tensors(&self) -> Result<Vec<(String, Tensor)>, OptimError> {
        let _guard = tch::no_grad_guard();
        let mut out = Vec::with_capacity(3 * self.params.len() + 1);
        for st in &self.params {
            out.push((key(&st.name, "exp_avg"), cpu_copy(&st.exp_avg)?));
            out.push((key(&st.name, "exp_avg_sq"), cpu_copy(&st.exp_avg_sq)?));
            out.push((key(&st.name, "step"), Tensor::from(st.step)));
        }
        out.push((STEPS_TAKEN_KEY.to_string(), Tensor::from(self.steps_taken)));
        Ok(out)
    }

    /// Restores from [`Self::state_tensors`]' output (tensors may be on any device; they are copied
    /// onto the parameters' devices and kinds). Keys for parameters this optimizer does not have are
    /// ignored. On error nothing is changed.
    pub fn load_state(&mut self, named: &HashMap<String, Tensor>) -> Result<(), OptimError> {
        let get = |k: String| {
            named
                .get(&k)
                .ok_or(OptimError::MissingKey { key: k.clone() })
                .map(|t| (k, t))
        };
        let scalar = |(k, t): (String, &Tensor)| -> Result<i64, OptimError> {
            if t.numel() != 1 {
                return Err(OptimError::ShapeMismatch {
                    key: k,
                    found: t.size(),
                    expected: vec![],
                });
            }
            let v = t.f_int64_value(&[])?;
            if v < 0 {
                return Err(OptimError::InvalidValue {
                    key: k,
                    reason: format!("negative step count {v}"),
                });
            }
            Ok(v)
        };
        let moment = |(k, t): (String, &Tensor), like: &Tensor| -> Result<Tensor, OptimError> {
            if t.size() != like.size() {
                return Err(OptimError::ShapeMismatch {
                    key: k,
                    found: t.size(),
                    expected: like.size(),
                });
            }
            if !t.is_floating_point() {
                return Err(OptimError::InvalidValue {
                    key: k,
                    reason: format!("kind {:?} is not floating", t.kind()),
                });
            }
            Ok(t.shallow_clone())
        };
        // Validate everything first so that a failed load leaves the state untouched.
        let mut staged = Vec::with_capacity(self.params.len());
        for st in &self.params {
            let m = moment(get(key(&st.name, "exp_avg"))?, &st.exp_avg)?;
            let v = moment(get(key(&st.name, "exp_avg_sq"))?, &st.exp_avg_sq)?;
            let step = scalar(get(key(&st.name, "step"))?)?;
            staged.push((m, v, step));
        }
        let steps_taken = scalar(get(STEPS_TAKEN_KEY.to_string())?)?;
        let _guard = tch::no_grad_guard();
        for (st, (m, v, step)) in self.params.iter_mut().zip(staged) {
            st.exp_avg.f_copy_(&m.f_to_kind(st.exp_avg.kind())?)?;
            st.exp_avg_sq.f_copy_(&v.f_to_kind(st.exp_avg_sq.kind())?)?;
            st.step = step;
        }
        self.steps_taken = steps_taken;
        Ok(())
    }

    /// Names of parameters with and without weight decay (each sorted).
    pub fn decay_groups(&self) -> (Vec<String>, Vec<String>) {
        let (decay, no_decay): (Vec<&ParamState>, Vec<&ParamState>) =
            self.params.iter().partition(|p| p.decay);
        (
            decay.into_iter().map(|p| p.name.clone()).collect(),
            no_decay.into_iter().map(|p| p.name.clone()).collect(),
        )
    }

    /// Number of parameters being optimized.
    pub fn num_params(&self) -> usize {
        self.params.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_decay_names() {
        for n in [
            "bert.encoder.layer.0.output.LayerNorm.weight",
            "bert.embeddings.LayerNorm.bias",
            "albert.encoder.albert_layer_groups.0.albert_layers.0.full_layer_layer_norm.weight",
            "cls.predictions.bias",
            "bert.encoder.layer.0.attention.self.query.bias",
            "model.norm.weight",
        ] {
            assert!(is_no_decay(n), "{n}");
        }
        for n in [
            "bert.encoder.layer.0.attention.self.query.weight",
            "bert.embeddings.word_embeddings.weight",
            "albert.encoder.embedding_hidden_mapping_in.weight",
            "classifier.weight",
            "cls.seq_relationship.weight",
        ] {
            assert!(!is_no_decay(n), "{n}");
        }
    }

    #[test]
    fn config_defaults_and_serde() {
        let c = OptimConfig::default();
        assert_eq!(
            (c.kind, c.lr, c.beta1, c.beta2, c.eps, c.weight_decay),
            (OptimizerKind::AdamW, 5e-5, 0.9, 0.999, 1e-8, 0.01)
        );
        assert_eq!(OptimConfig::for_kind(OptimizerKind::Lamb).eps, 1e-6);
        assert_eq!(
            serde_json::to_string(&OptimizerKind::AdamW).unwrap(),
            "\"adamw\""
        );
        assert_eq!(
            serde_json::from_str::<OptimizerKind>("\"lamb\"").unwrap(),
            OptimizerKind::Lamb
        );
        let back: OptimConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        assert!(c.validate().is_ok());
        assert!(OptimConfig { beta2: 1.0, ..c }.validate().is_err());
        assert!(OptimConfig { lr: f64::NAN, ..c }.validate().is_err());
    }
}
