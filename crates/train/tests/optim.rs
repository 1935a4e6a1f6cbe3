//! Optimizers and schedules against references computed by PyTorch / transformers
//! (`tests/fixtures/gen_optim.py`), plus state save/restore.

use std::collections::HashMap;
use std::path::PathBuf;

use bertlab_train::optim::{OptimConfig, OptimError, Optimizer, OptimizerKind, STEPS_TAKEN_KEY};
use bertlab_train::schedule::{DecayKind, LrSchedule};
use serde::Deserialize;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

fn fixture<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ------------------------------------------------------------------------------------------------
// Schedules
// ------------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct ScheduleFixture {
    schedules: Vec<ScheduleCase>,
    fractions: Vec<FractionCase>,
}

#[derive(Deserialize)]
struct ScheduleCase {
    decay: DecayKind,
    warmup_steps: i64,
    total_steps: i64,
    multipliers: Vec<f64>,
}

#[derive(Deserialize)]
struct FractionCase {
    fraction: f64,
    total_steps: i64,
    warmup_steps: i64,
}

#[test]
fn schedules_match_transformers() {
    let fx: ScheduleFixture = fixture("schedules.json");
    assert_eq!(fx.schedules.len(), 15);
    for case in &fx.schedules {
        let peak = 3e-4;
        let s = LrSchedule {
            peak_lr: peak,
            warmup_steps: case.warmup_steps,
            total_steps: case.total_steps,
            decay: case.decay,
        };
        for (step, want) in case.multipliers.iter().enumerate() {
            let step = step as i64;
            let what = format!(
                "{:?} warmup {} total {} step {step}",
                case.decay, case.warmup_steps, case.total_steps
            );
            assert!(
                (s.multiplier(step) - want).abs() <= 1e-12,
                "{what}: {} vs {want}",
                s.multiplier(step)
            );
            assert!(
                (s.lr_at(step) - peak * want).abs() <= 1e-15,
                "{what}: lr {} vs {}",
                s.lr_at(step),
                peak * want
            );
        }
    }
}

#[test]
fn warmup_fraction_matches_transformers() {
    let fx: ScheduleFixture = fixture("schedules.json");
    assert!(!fx.fractions.is_empty());
    for case in &fx.fractions {
        let s = LrSchedule::from_warmup_fraction(
            1e-3,
            case.fraction,
            case.total_steps,
            DecayKind::Linear,
        );
        assert_eq!(
            s.warmup_steps, case.warmup_steps,
            "fraction {} of {}",
            case.fraction, case.total_steps
        );
        assert_eq!(
            (s.total_steps, s.peak_lr, s.decay),
            (case.total_steps, 1e-3, DecayKind::Linear)
        );
    }
}

// ------------------------------------------------------------------------------------------------
// Optimizers
// ------------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct OptimFixture {
    peak_lr: f64,
    warmup_steps: i64,
    total_steps: i64,
    max_norm: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    params: Vec<ParamInit>,
    grads: Vec<HashMap<String, Vec<f32>>>,
    steps: Vec<StepRecord>,
}

#[derive(Deserialize)]
struct ParamInit {
    name: String,
    shape: Vec<i64>,
    init: Vec<f32>,
}

#[derive(Deserialize)]
struct StepRecord {
    lr: f64,
    grad_norm: f64,
    params: HashMap<String, Vec<f32>>,
}

impl OptimFixture {
    fn config(&self, kind: OptimizerKind) -> OptimConfig {
        OptimConfig {
            kind,
            lr: self.peak_lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
        }
    }

    fn schedule(&self) -> LrSchedule {
        LrSchedule {
            peak_lr: self.peak_lr,
            warmup_steps: self.warmup_steps,
            total_steps: self.total_steps,
            decay: DecayKind::Linear,
        }
    }
}

/// Registers `name` (dot-separated, HF style) in `vs` with the given initial value.
fn add_var(vs: &VarStore, name: &str, value: &Tensor) -> Tensor {
    let segs: Vec<&str> = name.split('.').collect();
    let mut path = vs.root();
    for seg in &segs[..segs.len() - 1] {
        path = path / *seg;
    }
    path.var_copy(segs[segs.len() - 1], value)
}

struct Model {
    vs: VarStore,
    params: Vec<(String, Tensor)>,
}

fn build(fx: &OptimFixture, device: Device) -> Model {
    let vs = VarStore::new(device);
    let params = fx
        .params
        .iter()
        .map(|p| {
            let init = Tensor::from_slice(&p.init)
                .reshape(&p.shape[..])
                .to_device(device);
            (p.name.clone(), add_var(&vs, &p.name, &init))
        })
        .collect();
    Model { vs, params }
}

/// Sets each parameter's gradient to the fixture's gradient for `step` through a backward pass
/// of `sum(p * g)` (whose gradient is exactly `g`), after zeroing the previous gradients.
fn set_grads(model: &Model, opt: &mut Optimizer, fx: &OptimFixture, step: usize) {
    opt.zero_grad();
    let device = model.vs.device();
    let mut loss = Tensor::zeros([], (Kind::Float, device));
    for (name, p) in &model.params {
        if let Some(g) = fx.grads[step].get(name) {
            let g = Tensor::from_slice(g).reshape(p.size()).to_device(device);
            loss += (p * g).sum(Kind::Float);
        }
    }
    loss.backward();
}

/// Runs fixture steps `range` (zero_grad, gradients, clip, step with the scheduled lr), checking the
/// lr and the pre-clipping norm against the fixture when `check` is set.
fn run(
    model: &Model,
    opt: &mut Optimizer,
    fx: &OptimFixture,
    range: std::ops::Range<usize>,
    check: bool,
) {
    let schedule = fx.schedule();
    for s in range {
        set_grads(model, opt, fx, s);
        let lr = schedule.lr_at(s as i64);
        let norm = opt.clip_grad_norm(fx.max_norm);
        if check {
            assert!(
                (lr - fx.steps[s].lr).abs() <= 1e-15,
                "step {s}: lr {lr} vs {}",
                fx.steps[s].lr
            );
            let want = fx.steps[s].grad_norm;
            assert!(
                (norm - want).abs() <= 1e-6 * want.max(1.0),
                "step {s}: grad norm {norm} vs {want}"
            );
        }
        opt.step(lr);
    }
}

fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.to_device(Device::Cpu).flatten(0, -1)).unwrap()
}

fn assert_matches_fixture(kind: OptimizerKind, file: &str, device: Device) {
    let fx: OptimFixture = fixture(file);
    assert_eq!(fx.steps.len(), 5);
    let model = build(&fx, device);
    let mut opt = Optimizer::new(&model.vs, fx.config(kind));
    assert_eq!(opt.num_params(), fx.params.len());
    for s in 0..fx.steps.len() {
        run(&model, &mut opt, &fx, s..s + 1, true);
        assert_eq!(opt.steps_taken(), s as i64 + 1);
        let mut worst = 0f32;
        for (name, p) in &model.params {
            let want = &fx.steps[s].params[name];
            let got = values(p);
            assert_eq!(got.len(), want.len(), "{name}");
            for (i, (a, b)) in got.iter().zip(want).enumerate() {
                let diff = (a - b).abs();
                worst = worst.max(diff);
                assert!(diff <= 1e-6, "{kind:?} step {s} {name}[{i}]: {a} vs {b}");
            }
        }
        eprintln!("{kind:?} on {device:?}: step {s} max |diff| {worst:e}");
    }
    // The parameter that never had a gradient is untouched and has no step of its own.
    let pooler = fx
        .params
        .iter()
        .find(|p| p.name == "pooler.dense.weight")
        .unwrap();
    let got = values(
        &model
            .params
            .iter()
            .find(|(n, _)| n == "pooler.dense.weight")
            .unwrap()
            .1,
    );
    assert_eq!(got, pooler.init);
    let state: HashMap<String, Tensor> = opt.state_tensors().into_iter().collect();
    assert_eq!(state["pooler.dense.weight.step"].int64_value(&[]), 0);
    assert_eq!(state["classifier.weight.step"].int64_value(&[]), 5);
}

#[test]
fn adamw_matches_torch_optim_adamw() {
    assert_matches_fixture(OptimizerKind::AdamW, "adamw.json", Device::Cpu);
}

#[test]
fn lamb_matches_reference_formula() {
    assert_matches_fixture(OptimizerKind::Lamb, "lamb.json", Device::Cpu);
}

#[test]
fn matches_fixtures_on_cuda_when_available() {
    if !tch::Cuda::is_available() {
        eprintln!("CUDA not available: skipped");
        return;
    }
    assert_matches_fixture(OptimizerKind::AdamW, "adamw.json", Device::Cuda(0));
    assert_matches_fixture(OptimizerKind::Lamb, "lamb.json", Device::Cuda(0));
}

#[test]
fn decay_groups_split_biases_and_norms() {
    let fx: OptimFixture = fixture("adamw.json");
    let model = build(&fx, Device::Cpu);
    // A non-trainable buffer is not optimized.
    let _buffer = model.vs.root().zeros_no_train("position_ids", &[4]);
    let opt = Optimizer::new(&model.vs, OptimConfig::default());
    let (decay, no_decay) = opt.decay_groups();
    assert_eq!(
        decay,
        [
            "bert.encoder.layer.0.attention.self.query.weight",
            "classifier.weight",
            "pooler.dense.weight",
            "zero.weight"
        ]
    );
    assert_eq!(
        no_decay,
        [
            "albert.encoder.albert_layer_groups.0.albert_layers.0.full_layer_layer_norm.weight",
            "bert.encoder.layer.0.attention.self.query.bias",
            "bert.encoder.layer.0.output.LayerNorm.weight",
            "cls.predictions.bias",
        ]
    );
}

fn assert_same_params(a: &Model, b: &Model) {
    for ((name, x), (_, y)) in a.params.iter().zip(&b.params) {
        assert_eq!(values(x), values(y), "{name} differs");
    }
}

fn round_trip(kind: OptimizerKind, file: &str, safetensors: bool) {
    let fx: OptimFixture = fixture(file);
    let straight = build(&fx, Device::Cpu);
    let mut opt = Optimizer::new(&straight.vs, fx.config(kind));
    run(&straight, &mut opt, &fx, 0..5, false);

    let resumed = build(&fx, Device::Cpu);
    let mut first = Optimizer::new(&resumed.vs, fx.config(kind));
    run(&resumed, &mut first, &fx, 0..3, false);
    // Through a file, as a checkpoint would (safetensors, as crate::checkpoint writes, or .pt).
    let dir = tempfile::tempdir().unwrap();
    let loaded: HashMap<String, Tensor> = if safetensors {
        let path = dir.path().join("optimizer.safetensors");
        Tensor::write_safetensors(&first.state_tensors(), &path).unwrap();
        Tensor::read_safetensors(&path)
            .unwrap()
            .into_iter()
            .collect()
    } else {
        let path = dir.path().join("optimizer.pt");
        Tensor::save_multi(&first.state_tensors(), &path).unwrap();
        Tensor::load_multi(&path).unwrap().into_iter().collect()
    };
    drop(first);
    let mut second = Optimizer::new(&resumed.vs, fx.config(kind));
    assert_eq!(second.steps_taken(), 0);
    second.load_state(&loaded).unwrap();
    assert_eq!(second.steps_taken(), 3);
    run(&resumed, &mut second, &fx, 3..5, false);
    assert_eq!(second.steps_taken(), 5);
    assert_same_params(&straight, &resumed);

    // Without the restore the result differs (the test can fail).
    let fresh = build(&fx, Device::Cpu);
    let mut o = Optimizer::new(&fresh.vs, fx.config(kind));
    run(&fresh, &mut o, &fx, 0..3, false);
    let mut o = Optimizer::new(&fresh.vs, fx.config(kind));
    run(&fresh, &mut o, &fx, 3..5, false);
    let w = "bert.encoder.layer.0.attention.self.query.weight";
    let get = |m: &Model| values(&m.params.iter().find(|(n, _)| n == w).unwrap().1);
    assert_ne!(get(&fresh), get(&straight));
}

#[test]
fn adamw_state_round_trip_equals_straight_run() {
    round_trip(OptimizerKind::AdamW, "adamw.json", true);
}

#[test]
fn lamb_state_round_trip_equals_straight_run() {
    round_trip(OptimizerKind::Lamb, "lamb.json", false);
}

#[test]
fn state_tensors_are_cpu_snapshots() {
    let fx: OptimFixture = fixture("adamw.json");
    let model = build(&fx, Device::Cpu);
    let mut opt = Optimizer::new(&model.vs, fx.config(OptimizerKind::AdamW));
    run(&model, &mut opt, &fx, 0..2, false);
    let saved = opt.state_tensors();
    assert_eq!(saved.len(), 3 * fx.params.len() + 1);
    let before: Vec<Vec<f32>> = saved
        .iter()
        .filter(|(_, t)| t.kind() == Kind::Float)
        .map(|(_, t)| values(t))
        .collect();
    run(&model, &mut opt, &fx, 2..3, false);
    let after: Vec<Vec<f32>> = saved
        .iter()
        .filter(|(_, t)| t.kind() == Kind::Float)
        .map(|(_, t)| values(t))
        .collect();
    assert_eq!(before, after, "state_tensors must not alias the live state");
    for (name, t) in &saved {
        assert_eq!(t.device(), Device::Cpu, "{name}");
    }
    let map: HashMap<String, Tensor> = saved.into_iter().collect();
    assert_eq!(map[STEPS_TAKEN_KEY].int64_value(&[]), 2);
    assert_eq!(map["classifier.weight.exp_avg"].size(), [2, 3]);
}

#[test]
fn load_state_reports_missing_and_misshaped_keys_and_changes_nothing() {
    let fx: OptimFixture = fixture("adamw.json");
    let model = build(&fx, Device::Cpu);
    let mut opt = Optimizer::new(&model.vs, fx.config(OptimizerKind::AdamW));
    run(&model, &mut opt, &fx, 0..2, false);
    let good: HashMap<String, Tensor> = opt.state_tensors().into_iter().collect();

    let mut target = Optimizer::new(&model.vs, fx.config(OptimizerKind::AdamW));
    let mut missing: HashMap<String, Tensor> = good
        .iter()
        .map(|(k, v)| (k.clone(), v.shallow_clone()))
        .collect();
    missing.remove("cls.predictions.bias.exp_avg_sq");
    let err = target.load_state(&missing).unwrap_err();
    assert!(
        matches!(&err, OptimError::MissingKey { key } if key == "cls.predictions.bias.exp_avg_sq"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("cls.predictions.bias.exp_avg_sq"),
        "{err}"
    );

    let mut no_steps: HashMap<String, Tensor> = good
        .iter()
        .map(|(k, v)| (k.clone(), v.shallow_clone()))
        .collect();
    no_steps.remove(STEPS_TAKEN_KEY);
    let err = target.load_state(&no_steps).unwrap_err();
    assert!(err.to_string().contains(STEPS_TAKEN_KEY), "{err}");

    let mut misshaped: HashMap<String, Tensor> = good
        .iter()
        .map(|(k, v)| (k.clone(), v.shallow_clone()))
        .collect();
    misshaped.insert(
        "classifier.weight.exp_avg".into(),
        Tensor::zeros([3, 2], (Kind::Float, Device::Cpu)),
    );
    let err = target.load_state(&misshaped).unwrap_err();
    assert!(
        matches!(&err, OptimError::ShapeMismatch { key, found, expected }
            if key == "classifier.weight.exp_avg" && found == &[3, 2] && expected == &[2, 3]),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("classifier.weight.exp_avg"),
        "{err}"
    );

    let mut bad_kind: HashMap<String, Tensor> = good
        .iter()
        .map(|(k, v)| (k.clone(), v.shallow_clone()))
        .collect();
    bad_kind.insert(
        "classifier.weight.exp_avg".into(),
        Tensor::zeros([2, 3], (Kind::Int64, Device::Cpu)),
    );
    assert!(matches!(
        target.load_state(&bad_kind),
        Err(OptimError::InvalidValue { .. })
    ));

    // Failed loads changed nothing: the target still has the fresh (zero) state.
    assert_eq!(target.steps_taken(), 0);
    for (name, t) in target.state_tensors() {
        assert_eq!(t.abs().sum(Kind::Double).double_value(&[]), 0.0, "{name}");
    }
    // And the good map loads.
    target.load_state(&good).unwrap();
    assert_eq!(target.steps_taken(), 2);
}

#[test]
fn clip_without_gradients_returns_zero_and_step_skips() {
    let fx: OptimFixture = fixture("adamw.json");
    let model = build(&fx, Device::Cpu);
    let mut opt = Optimizer::new(&model.vs, fx.config(OptimizerKind::AdamW));
    assert_eq!(opt.clip_grad_norm(1.0), 0.0);
    opt.step(1e-2);
    assert_eq!(opt.steps_taken(), 1);
    for ((name, p), init) in model.params.iter().zip(&fx.params) {
        assert_eq!(values(p), init.init, "{name} changed without a gradient");
    }
}

#[test]
fn clip_scales_to_max_norm() {
    let fx: OptimFixture = fixture("adamw.json");
    let model = build(&fx, Device::Cpu);
    let mut opt = Optimizer::new(&model.vs, fx.config(OptimizerKind::AdamW));
    set_grads(&model, &mut opt, &fx, 0);
    let before = opt.clip_grad_norm(0.5);
    assert!(before > 0.5);
    // A second clip sees the clipped norm: max_norm * norm / (norm + 1e-6).
    let after = opt.clip_grad_norm(f64::INFINITY);
    assert!(
        (after - 0.5 * before / (before + 1e-6)).abs() < 1e-6,
        "{after}"
    );
    // Negative max_norm leaves gradients alone.
    assert!((opt.clip_grad_norm(-1.0) - after).abs() < 1e-7);
}
