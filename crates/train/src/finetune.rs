//! The fine-tuning loop, shared by NER and sentence classification.
//!
//! Reads top to bottom: plan every epoch's batches (length-bucketed, seeded), then for each
//! optimizer step run the accumulated micro-batches forward and backward, clip, step, log;
//! evaluate on dev each epoch (or every N steps), keep the best model, stop early if asked;
//! checkpoint atomically so `--resume` continues exactly. Finally score the best model on dev
//! and test and write `metrics.json`, `report.txt` and the predictions.

use crate::checkpoint::{
    fingerprint_of, save_checkpoint, save_model_dir, start_state, TrainerState,
};
use crate::error::{Result, TrainError};
use crate::logging::{progress_bar, MetricsLog};
use crate::optim::{OptimConfig, Optimizer, OptimizerKind};
use crate::schedule::{DecayKind, LrSchedule};
use bertlab_data::{plan_batches, Batch, SamplerConfig};
use bertlab_models::{Checkpoint, Model};
use bertlab_nn::Autocast;
use serde::Serialize;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// Fine-tuning settings (the CLI's options).
#[derive(Debug, Clone, Serialize)]
pub struct FinetuneConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub max_seq_len: usize,
    /// Warmup as a fraction of all optimizer steps.
    pub warmup: f64,
    pub seed: u64,
    /// Stop after this many optimizer steps (the schedule spans them).
    pub max_steps: Option<usize>,
    pub grad_accum: usize,
    pub max_grad_norm: f64,
    pub weight_decay: f64,
    pub optimizer: OptimizerKind,
    pub schedule: DecayKind,
    /// Evaluate every N optimizer steps; None: at the end of each epoch.
    pub eval_every: Option<usize>,
    /// Stop after this many evaluations without a better dev score.
    pub early_stopping: Option<usize>,
    /// Write a resumable checkpoint every N steps (and at each epoch end).
    pub save_every: Option<usize>,
    pub log_every: usize,
    pub eval_batch_size: usize,
    /// Forward passes (training and evaluation) under bf16 autocast, as HF `--bf16`: matrix
    /// products in bf16, weights, gradients and optimizer state in fp32.
    pub bf16: bool,
    #[serde(skip)]
    pub device: Device,
    /// Continue from `OUT/checkpoint` when present.
    #[serde(skip)]
    pub resume: bool,
    /// Stop (as if interrupted) after this many steps, leaving a checkpoint; for tests.
    #[serde(skip)]
    pub stop_after: Option<usize>,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        FinetuneConfig {
            epochs: 3,
            batch_size: 32,
            lr: 5e-5,
            max_seq_len: 128,
            warmup: 0.1,
            seed: 0,
            max_steps: None,
            grad_accum: 1,
            max_grad_norm: 1.0,
            weight_decay: 0.01,
            optimizer: OptimizerKind::AdamW,
            schedule: DecayKind::Linear,
            eval_every: None,
            early_stopping: None,
            save_every: None,
            log_every: 20,
            eval_batch_size: 64,
            bf16: false,
            device: Device::Cpu,
            resume: false,
            stop_after: None,
        }
    }
}

/// A data split to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Dev,
    Test,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Split::Dev => "dev",
            Split::Test => "test",
        }
    }
}

/// The result of scoring one split.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The model-selection score (entity micro F1 for NER, accuracy for classification).
    pub score: f64,
    /// The full metrics, as written to `metrics.json`.
    pub metrics: Value,
    /// Human-readable report.
    pub report: String,
    /// Predictions in a file format of the task (conlleval layout for NER).
    pub predictions: Option<String>,
    /// Real (unpadded) tokens the model read.
    pub tokens: usize,
}

/// A batch on the device.
pub struct BatchTensors {
    pub input_ids: Tensor,
    pub token_type_ids: Tensor,
    /// None when nothing in the batch is padded.
    pub attention_mask: Option<Tensor>,
    pub token_labels: Option<Tensor>,
    pub sequence_labels: Option<Tensor>,
    pub real_tokens: usize,
    /// Positions or examples with a label: what the loss sums over.
    pub targets: usize,
}

impl BatchTensors {
    pub fn new(b: &Batch, device: Device) -> Self {
        let shape = [b.batch_size as i64, b.seq_len as i64];
        let t = |v: &[i64]| Tensor::from_slice(v).view(shape).to_device(device);
        let real_tokens = b.real_tokens();
        let targets = match (&b.token_labels, &b.sequence_labels) {
            (Some(labels), _) => bertlab_data::count_labelled(labels),
            (None, Some(labels)) => labels.len(),
            (None, None) => 0,
        };
        BatchTensors {
            input_ids: t(&b.input_ids),
            token_type_ids: t(&b.token_type_ids),
            attention_mask: (real_tokens < b.batch_size * b.seq_len).then(|| t(&b.attention_mask)),
            token_labels: b.token_labels.as_deref().map(t),
            sequence_labels: b
                .sequence_labels
                .as_deref()
                .map(|v| Tensor::from_slice(v).to_device(device)),
            real_tokens,
            targets,
        }
    }
}

/// What a task supplies to the loop.
pub trait FinetuneTask {
    /// Lengths of the training examples (for bucketing).
    fn train_lengths(&self) -> Vec<usize>;
    /// Labelled targets of each training example: its labelled tokens (NER) or 1.
    fn train_targets(&self) -> Vec<usize>;
    /// The padded batch of the given training examples.
    fn train_batch(&self, indices: &[usize]) -> Result<Batch>;
    /// Loss of a batch summed over its [`BatchTensors::targets`].
    fn loss(&self, model: &Model, batch: &BatchTensors, train: bool) -> Tensor;
    /// Scores the model on a split.
    fn evaluate(&self, model: &Model, split: Split, batch_size: usize) -> Result<Evaluation>;
    /// Whether the data has this split.
    fn has_split(&self, split: Split) -> bool;
    /// Names of the classes, by id (the training split's label set).
    fn labels(&self) -> Vec<String>;
}

/// Figures of a finished (or interrupted) run.
#[derive(Debug, Clone, Serialize)]
pub struct FinetuneSummary {
    pub steps: usize,
    pub epochs_completed: usize,
    pub train_seconds: f64,
    pub tokens_seen: u64,
    pub tokens_per_second: f64,
    pub best_dev_score: Option<f64>,
    /// False when `stop_after` interrupted the run.
    pub finished: bool,
    pub dev: Option<Value>,
    pub test: Option<Value>,
    /// Inference throughput of the final dev/test evaluation, in real tokens per second.
    pub inference_tokens_per_second: Option<f64>,
    /// Peak resident memory of the process, in bytes.
    pub peak_rss_bytes: Option<u64>,
}

/// bf16 autocast on `device` while the returned guard lives, when `bf16` is set.
pub fn mixed_precision(bf16: bool, device: Device) -> Option<Autocast> {
    bf16.then(|| Autocast::enter(device, Kind::BFloat16).expect("bf16 is an autocast kind"))
}

/// Cross-entropy over `logits` [N, C] against `labels` [N], skipping -100, reduced by
/// `reduction` (the mean or the sum over the labelled rows).
pub fn cross_entropy(logits: &Tensor, labels: &Tensor, reduction: tch::Reduction) -> Tensor {
    let c = *logits.size().last().expect("logits have a class dimension");
    logits
        .reshape([-1, c])
        .to_kind(Kind::Float)
        .cross_entropy_loss::<Tensor>(
            &labels.reshape([-1]),
            None,
            reduction,
            bertlab_data::IGNORE_INDEX,
            0.0,
        )
}

/// Fine-tunes `model` on `task`, writing into `out`: `checkpoint/` (resumable state),
/// `model/` (the best model on dev, HF format, with the tokenizer from `tokenizer_dir`),
/// `metrics.jsonl`, and at the end `metrics.json`, `report.txt` and `predictions/`.
pub fn finetune(
    task: &dyn FinetuneTask,
    model: &mut Model,
    cfg: &FinetuneConfig,
    out: &Path,
    tokenizer_dir: &Path,
) -> Result<FinetuneSummary> {
    if cfg.batch_size == 0 || cfg.grad_accum == 0 || cfg.epochs == 0 {
        return Err(TrainError::Invalid(
            "--batch-size, --grad-accum and --epochs must be positive".into(),
        ));
    }
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    let checkpoint_dir = out.join("checkpoint");
    let model_dir = out.join("model");

    // Every epoch's batches, fixed by the seed: a resumed run sees the same order.
    let lengths = task.train_lengths();
    if lengths.is_empty() {
        return Err(TrainError::Invalid(
            "the training split has no examples".into(),
        ));
    }
    let sampler = SamplerConfig::train(cfg.batch_size, cfg.seed);
    let plans: Vec<Vec<Vec<usize>>> = (0..cfg.epochs)
        .map(|e| plan_batches(&lengths, &sampler, e as u64))
        .collect::<Result<_, _>>()?;
    // Every labelled target weighs the same whatever batch it lands in: a batch's summed loss
    // is divided by the epoch's mean targets per batch, not by its own count. Length bucketing
    // fills some batches with short sentences only; a per-batch mean would give each of their
    // tokens several times the weight of a token in a batch of long ones (with random
    // batches, as transformers' Trainer draws them, the two are about equal).
    let targets = task.train_targets();
    let total_targets: usize = targets.iter().sum();
    let targets_per_batch: Vec<f64> = plans
        .iter()
        .map(|p| (total_targets as f64 / p.len() as f64).max(1.0))
        .collect();
    let steps_per_epoch: Vec<usize> = plans
        .iter()
        .map(|p| p.len().div_ceil(cfg.grad_accum))
        .collect();
    let all_steps: usize = steps_per_epoch.iter().sum();
    let total_steps = cfg.max_steps.map_or(all_steps, |m| m.min(all_steps));
    let schedule =
        LrSchedule::from_warmup_fraction(cfg.lr, cfg.warmup, total_steps as i64, cfg.schedule);

    let mut optimizer = Optimizer::new(
        &model.vs,
        OptimConfig {
            lr: cfg.lr,
            weight_decay: cfg.weight_decay,
            ..OptimConfig::for_kind(cfg.optimizer)
        },
    );
    let fingerprint = fingerprint_of(&json!({"config": cfg, "train_examples": lengths.len()}));
    let mut state = start_state(
        &checkpoint_dir,
        cfg.resume,
        fingerprint,
        &mut model.vs,
        &mut optimizer,
    )?;
    let mut log = MetricsLog::open(
        &out.join("metrics.jsonl"),
        cfg.resume.then_some(state.global_step),
    )?;
    let config_json = serde_json::to_string_pretty(cfg).expect("config serialises");
    write(&out.join("finetune_config.json"), config_json.as_bytes())?;

    let bar = progress_bar(total_steps as u64, "finetune");
    bar.set_position(state.global_step as u64);
    let mut window_loss = 0.0;
    let mut window_targets = 0usize;
    let mut window_tokens = 0usize;
    let mut window_start = Instant::now();
    let mut evaluated = false;
    let mut stop = state.global_step >= total_steps;

    while !stop && state.epoch < cfg.epochs {
        let plan = &plans[state.epoch];
        while state.batch_in_epoch < plan.len() {
            let step_start = Instant::now();
            let group = &plan
                [state.batch_in_epoch..(state.batch_in_epoch + cfg.grad_accum).min(plan.len())];
            // Dropout masks depend only on the seed and the step, so a resumed run repeats them.
            tch::manual_seed(
                (cfg.seed as i64)
                    .wrapping_mul(1_000_003)
                    .wrapping_add(state.global_step as i64),
            );
            let mut step_loss = 0.0;
            let mut step_targets = 0;
            let mut step_tokens = 0;
            let scale = targets_per_batch[state.epoch] * group.len() as f64;
            for indices in group {
                let batch = BatchTensors::new(&task.train_batch(indices)?, cfg.device);
                let summed = {
                    let _amp = mixed_precision(cfg.bf16, cfg.device);
                    task.loss(model, &batch, true)
                };
                (&summed / scale).backward();
                step_loss += summed.double_value(&[]);
                step_targets += batch.targets;
                step_tokens += batch.real_tokens;
            }
            optimizer.clip_grad_norm(cfg.max_grad_norm);
            let lr = schedule.lr_at(state.global_step as i64);
            optimizer.step(lr);
            optimizer.zero_grad();

            state.global_step += 1;
            state.batch_in_epoch += group.len();
            state.tokens_seen += step_tokens as u64;
            state.train_seconds += step_start.elapsed().as_secs_f64();
            window_loss += step_loss;
            window_targets += step_targets;
            window_tokens += step_tokens;
            bar.inc(1);

            if state.global_step % cfg.log_every.max(1) == 0 || state.global_step == total_steps {
                let secs = window_start.elapsed().as_secs_f64().max(1e-9);
                // The mean loss per labelled target over the window.
                let mean_loss = window_loss / window_targets.max(1) as f64;
                let line = json!({
                    "step": state.global_step,
                    "epoch": state.epoch,
                    "loss": mean_loss,
                    "lr": lr,
                    "tokens_per_s": window_tokens as f64 / secs,
                });
                bar.set_message(format!(
                    "loss {mean_loss:.4} lr {lr:.2e} {:.0} tok/s",
                    window_tokens as f64 / secs
                ));
                log.write(&line)?;
                (window_loss, window_targets, window_tokens, window_start) =
                    (0.0, 0, 0, Instant::now());
            }
            let finished = state.global_step >= total_steps;
            stop |= finished;
            let epoch_done = state.batch_in_epoch >= plan.len();
            if epoch_done {
                state.epoch += 1;
                state.batch_in_epoch = 0;
            }
            // The last step is always evaluated, so the steps after the last periodic
            // evaluation (or a `--max-steps` cut inside an epoch) count for the best model.
            let evaluate_now = finished
                || match cfg.eval_every {
                    Some(n) => state.global_step % n == 0,
                    None => epoch_done,
                };
            if evaluate_now {
                stop |= evaluate_and_keep_best(
                    task,
                    model,
                    cfg,
                    &mut state,
                    &mut log,
                    &model_dir,
                    tokenizer_dir,
                )?;
                evaluated = true;
                window_start = Instant::now();
            }
            if epoch_done || stop || cfg.save_every.is_some_and(|n| state.global_step % n == 0) {
                save_checkpoint(&checkpoint_dir, &model.vs, &optimizer, &state)?;
            }
            if cfg.stop_after == Some(state.global_step) && !stop {
                save_checkpoint(&checkpoint_dir, &model.vs, &optimizer, &state)?;
                bar.abandon_with_message("interrupted");
                return Ok(summary(&state, false, None, None));
            }
            if stop || epoch_done {
                break;
            }
        }
    }
    bar.finish();
    if !evaluated && state.best_score.is_none() {
        evaluate_and_keep_best(
            task,
            model,
            cfg,
            &mut state,
            &mut log,
            &model_dir,
            tokenizer_dir,
        )?;
    }

    // Score the best model on dev and test.
    let best = Checkpoint::open(&model_dir)?;
    model.load_weights(&best)?;
    let eval_start = Instant::now();
    let amp = mixed_precision(cfg.bf16, cfg.device);
    let dev = task.evaluate(model, Split::Dev, cfg.eval_batch_size)?;
    let test = if task.has_split(Split::Test) {
        Some(task.evaluate(model, Split::Test, cfg.eval_batch_size)?)
    } else {
        None
    };
    drop(amp);
    let eval_tokens = dev.tokens + test.as_ref().map_or(0, |t| t.tokens);
    let mut summary = summary(&state, true, Some(&dev), test.as_ref());
    summary.inference_tokens_per_second =
        Some(eval_tokens as f64 / eval_start.elapsed().as_secs_f64().max(1e-9));
    let metrics = json!({
        "dev": dev.metrics,
        "test": test.as_ref().map(|t| t.metrics.clone()),
        "training": summary,
    });
    write(
        &out.join("metrics.json"),
        serde_json::to_string_pretty(&metrics)
            .expect("json")
            .as_bytes(),
    )?;
    let mut report = format!("== dev ==\n{}\n", dev.report);
    if let Some(t) = &test {
        report += &format!("\n== test ==\n{}\n", t.report);
    }
    report += &format!(
        "\ntraining: {} steps, {:.1} s, {:.0} tokens/s\n",
        state.global_step, state.train_seconds, summary.tokens_per_second
    );
    write(&out.join("report.txt"), report.as_bytes())?;
    let predictions = out.join("predictions");
    std::fs::create_dir_all(&predictions).map_err(|e| TrainError::io(&predictions, e))?;
    for (split, eval) in [("dev", Some(&dev)), ("test", test.as_ref())] {
        if let Some(text) = eval.and_then(|e| e.predictions.as_ref()) {
            write(&predictions.join(format!("{split}.txt")), text.as_bytes())?;
        }
    }
    Ok(summary)
}

fn summary(
    state: &TrainerState,
    finished: bool,
    dev: Option<&Evaluation>,
    test: Option<&Evaluation>,
) -> FinetuneSummary {
    FinetuneSummary {
        steps: state.global_step,
        epochs_completed: state.epoch,
        train_seconds: state.train_seconds,
        tokens_seen: state.tokens_seen,
        tokens_per_second: state.tokens_seen as f64 / state.train_seconds.max(1e-9),
        best_dev_score: state.best_score,
        finished,
        dev: dev.map(|d| d.metrics.clone()),
        test: test.map(|t| t.metrics.clone()),
        inference_tokens_per_second: None,
        peak_rss_bytes: crate::logging::peak_rss_bytes(),
    }
}

/// Evaluates on dev, saves the model when it is the best so far, and says whether early
/// stopping has run out of patience.
fn evaluate_and_keep_best(
    task: &dyn FinetuneTask,
    model: &Model,
    cfg: &FinetuneConfig,
    state: &mut TrainerState,
    log: &mut MetricsLog,
    model_dir: &Path,
    tokenizer_dir: &Path,
) -> Result<bool> {
    let eval = {
        let _amp = mixed_precision(cfg.bf16, cfg.device);
        task.evaluate(model, Split::Dev, cfg.eval_batch_size)?
    };
    let improved = state.best_score.is_none_or(|b| eval.score > b);
    log.write(&json!({"step": state.global_step, "epoch": state.epoch, "eval": {"split": "dev", "score": eval.score, "metrics": eval.metrics}}))?;
    tracing::info!(
        "step {}: dev score {:.4}{}",
        state.global_step,
        eval.score,
        if improved { " (best)" } else { "" }
    );
    if improved {
        state.best_score = Some(eval.score);
        state.best_step = Some(state.global_step);
        state.evals_since_best = 0;
        save_model_dir(model, model_dir, tokenizer_dir)?;
    } else {
        state.evals_since_best += 1;
    }
    Ok(cfg
        .early_stopping
        .is_some_and(|p| state.evals_since_best >= p))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    bertlab_tokenize::write_atomic(path, bytes).map_err(|e| TrainError::io(path, e))
}
