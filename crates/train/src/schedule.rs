//! Learning-rate schedules with linear warmup, matching HF transformers'
//! `get_linear_schedule_with_warmup`, `get_cosine_schedule_with_warmup` (`num_cycles = 0.5`) and
//! `get_constant_schedule_with_warmup`.

use serde::{Deserialize, Serialize};

/// What happens to the learning rate after warmup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecayKind {
    /// Linear decay from `peak_lr` to 0 at `total_steps`.
    Linear,
    /// Half a cosine period from `peak_lr` to 0 at `total_steps`.
    Cosine,
    /// Stays at `peak_lr`.
    Constant,
}

/// A warmup-then-decay learning-rate schedule.
///
/// `lr_at(step)` is the learning rate for the `(step + 1)`-th optimizer update (0-based `step`),
/// i.e. `peak_lr * lambda(step)` with HF's lambda:
///
/// * warmup (`step < warmup_steps`): `step / max(1, warmup_steps)`;
/// * linear: `max(0, (total - step) / max(1, total - warmup))`;
/// * cosine: `max(0, 0.5 * (1 + cos(pi * progress)))`, `progress = (step - warmup) / max(1, total - warmup)`
///   (like HF, not clamped past `total_steps`: the cosine rises again there);
/// * constant: `1`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    /// The learning rate reached at the end of warmup.
    pub peak_lr: f64,
    /// Number of linear warmup steps (from 0 to `peak_lr`).
    pub warmup_steps: i64,
    /// Total number of optimizer steps (where linear/cosine decay reach 0).
    pub total_steps: i64,
    /// Shape of the decay after warmup.
    pub decay: DecayKind,
}

impl LrSchedule {
    /// The learning rate for optimizer step `step` (0-based). Negative steps are treated as 0.
    pub fn lr_at(&self, step: i64) -> f64 {
        self.peak_lr * self.multiplier(step)
    }

    /// The factor applied to `peak_lr` at `step` (HF's `lr_lambda`).
    pub fn multiplier(&self, step: i64) -> f64 {
        let step = step.max(0);
        let warmup = self.warmup_steps;
        if step < warmup {
            return step as f64 / warmup.max(1) as f64;
        }
        let span = self.total_steps.saturating_sub(warmup).max(1) as f64;
        match self.decay {
            DecayKind::Constant => 1.0,
            DecayKind::Linear => (self.total_steps.saturating_sub(step) as f64 / span).max(0.0),
            DecayKind::Cosine => {
                let progress = (step - warmup) as f64 / span;
                (0.5 * (1.0 + (std::f64::consts::PI * 0.5 * 2.0 * progress).cos())).max(0.0)
            }
        }
    }

    /// A schedule whose warmup is `ceil(total_steps * warmup_fraction)` steps, as HF's
    /// `TrainingArguments.get_warmup_steps` does for a ratio. The fraction is clamped to `[0, 1]`
    /// (NaN counts as 0); a negative `total_steps` counts as 0.
    pub fn from_warmup_fraction(
        peak_lr: f64,
        warmup_fraction: f64,
        total_steps: i64,
        decay: DecayKind,
    ) -> Self {
        let total_steps = total_steps.max(0);
        let fraction = if warmup_fraction.is_nan() {
            0.0
        } else {
            warmup_fraction.clamp(0.0, 1.0)
        };
        let warmup_steps = ((total_steps as f64 * fraction).ceil() as i64).clamp(0, total_steps);
        LrSchedule {
            peak_lr,
            warmup_steps,
            total_steps,
            decay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(decay: DecayKind) -> LrSchedule {
        LrSchedule {
            peak_lr: 2.0,
            warmup_steps: 4,
            total_steps: 12,
            decay,
        }
    }

    #[test]
    fn warmup_is_linear_from_zero() {
        for decay in [DecayKind::Linear, DecayKind::Cosine, DecayKind::Constant] {
            let s = sched(decay);
            assert_eq!(s.lr_at(0), 0.0);
            assert_eq!(s.lr_at(2), 1.0);
            assert_eq!(s.lr_at(4), 2.0, "{decay:?} peaks at the end of warmup");
        }
    }

    #[test]
    fn decays_reach_zero_at_total_and_halfway_is_half() {
        let lin = sched(DecayKind::Linear);
        let cos = sched(DecayKind::Cosine);
        assert!((lin.lr_at(8) - 1.0).abs() < 1e-12);
        assert!((cos.lr_at(8) - 1.0).abs() < 1e-12);
        assert_eq!(lin.lr_at(12), 0.0);
        assert!(cos.lr_at(12).abs() < 1e-12);
        assert_eq!(lin.lr_at(100), 0.0);
        assert_eq!(sched(DecayKind::Constant).lr_at(1000), 2.0);
    }

    #[test]
    fn negative_step_and_degenerate_inputs_do_not_panic() {
        let s = sched(DecayKind::Linear);
        assert_eq!(s.lr_at(-5), 0.0);
        let z = LrSchedule {
            peak_lr: 1.0,
            warmup_steps: 0,
            total_steps: 0,
            decay: DecayKind::Cosine,
        };
        assert!(z.lr_at(0).is_finite());
        let s = LrSchedule::from_warmup_fraction(1.0, f64::NAN, 10, DecayKind::Linear);
        assert_eq!(s.warmup_steps, 0);
        let s = LrSchedule::from_warmup_fraction(1.0, 7.0, 10, DecayKind::Linear);
        assert_eq!(s.warmup_steps, 10);
        let s = LrSchedule::from_warmup_fraction(1.0, 0.5, -3, DecayKind::Linear);
        assert_eq!((s.warmup_steps, s.total_steps), (0, 0));
    }

    #[test]
    fn decay_kind_serde_is_lowercase() {
        assert_eq!(
            serde_json::to_string(&DecayKind::Cosine).unwrap(),
            "\"cosine\""
        );
        let k: DecayKind = serde_json::from_str("\"constant\"").unwrap();
        assert_eq!(k, DecayKind::Constant);
        assert!(serde_json::from_str::<DecayKind>("\"Linear\"").is_err());
    }
}
