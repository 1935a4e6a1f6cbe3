//! Pretraining from scratch: BERT (MLM + NSP) and ALBERT (MLM + SOP) on a text corpus.
//!
//! Reads top to bottom: split the corpus into training documents and a held-out slice, build
//! the held-out batches once, then for each optimizer step draw the accumulated micro-batches
//! from a deterministic stream (epoch by epoch, pool by pool, masked anew each epoch), run them
//! forward and backward with the MLM logits computed at the masked positions only, clip, step,
//! log; evaluate on the held-out slice every N steps; checkpoint atomically so `--resume`
//! continues exactly; save the model in HF format (`*ForPreTraining`) to `OUT/model`.
//!
//! The data stream: an epoch reads the training documents `pool_docs` at a time, tokenizes a
//! pool, cuts its instances (seeded by epoch and pool), plans length-bucketed shuffled batches
//! within the pool (the last one of a pool may be short) and masks each batch for the epoch.
//! Everything is a pure function of (seed, epoch, pool), so a checkpoint only records the epoch
//! and how many batches of it were drawn.

use crate::checkpoint::{
    fingerprint_of, save_checkpoint, save_model_dir, start_state, TrainerState,
};
use crate::error::{Result, TrainError};
use crate::finetune::{cross_entropy, mixed_precision, BatchTensors};
use crate::logging::{progress_bar, MetricsLog};
use crate::optim::{OptimConfig, Optimizer, OptimizerKind};
use crate::schedule::{DecayKind, LrSchedule};
use bertlab_data::{
    corpus_files, create_instances, derived_rng, plan_batches, tokenize_documents, Batch,
    CorpusReader, Document, InstanceConfig, MaskVocab, MaskingConfig, PretrainDataset,
    SamplerConfig,
};
use bertlab_models::{presets, Arch, Model, ModelConfig, Task};
use bertlab_tokenize::train::{
    train_unigram, train_wordpiece, UnigramTrainOptions, WordPieceTrainOptions,
};
use bertlab_tokenize::Tokenizer;
use serde::Serialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// Pretraining settings (the CLI's options).
#[derive(Debug, Clone, Serialize)]
pub struct PretrainConfig {
    /// Folder of `*.txt` files: one paragraph per line, a blank line between documents.
    pub corpus: PathBuf,
    /// Optimizer steps (the schedule spans them).
    pub steps: usize,
    /// Instances per micro-batch.
    pub batch_size: usize,
    /// Longest instance, `[CLS]` and both `[SEP]`s included.
    pub seq_len: usize,
    pub optimizer: OptimizerKind,
    /// Peak learning rate.
    pub lr: f64,
    /// Linear warmup steps; None: 10% of `steps`.
    pub warmup_steps: Option<usize>,
    /// Micro-batches per optimizer step.
    pub grad_accum: usize,
    pub max_grad_norm: f64,
    pub weight_decay: f64,
    pub seed: u64,
    /// Documents tokenized and cut together; NSP's random segments come from the same pool.
    pub pool_docs: usize,
    /// Evaluate on the held-out slice every N steps (0: only at the end).
    pub eval_every: usize,
    /// Held-out batches per evaluation.
    pub eval_batches: usize,
    /// Write the checkpoint and `OUT/model` every N steps (0: only at the end).
    pub save_every: usize,
    /// Write a training line to `metrics.jsonl` every N steps (averaged over them).
    pub log_every: usize,
    /// Forward passes under bf16 autocast (weights, gradients and optimizer state stay fp32).
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

impl Default for PretrainConfig {
    /// AdamW at a peak lr of 1e-4 with 10% warmup and linear decay, batch 32 × 128 tokens.
    fn default() -> Self {
        PretrainConfig {
            corpus: PathBuf::new(),
            steps: 1000,
            batch_size: 32,
            seq_len: 128,
            optimizer: OptimizerKind::AdamW,
            lr: 1e-4,
            warmup_steps: None,
            grad_accum: 1,
            max_grad_norm: 1.0,
            weight_decay: 0.01,
            seed: 0,
            pool_docs: 1000,
            eval_every: 500,
            eval_batches: 20,
            save_every: 500,
            log_every: 1,
            bf16: false,
            device: Device::Cpu,
            resume: false,
            stop_after: None,
        }
    }
}

/// Figures of a finished (or interrupted) run.
#[derive(Debug, Clone, Serialize)]
pub struct PretrainSummary {
    pub steps: usize,
    /// The epoch in progress at the end (0-based).
    pub epoch: usize,
    pub train_seconds: f64,
    /// Real (unpadded) tokens trained on.
    pub tokens_seen: u64,
    pub tokens_per_second: f64,
    /// Parameters of the whole `*ForPreTraining` model.
    pub parameters: i64,
    /// The last evaluation on the held-out slice, if any.
    pub eval: Option<Value>,
    /// False when `stop_after` interrupted the run.
    pub finished: bool,
    /// Peak resident memory of the process, in bytes.
    pub peak_rss_bytes: Option<u64>,
}

/// The losses of one batch, with the counts behind its accuracies.
pub struct PretrainLoss {
    /// MLM loss + NSP/SOP loss (what is minimised): a scalar tensor with its graph.
    pub loss: Tensor,
    /// Mean cross-entropy over the masked positions.
    pub mlm_loss: f64,
    /// Mean NSP/SOP cross-entropy over the rows.
    pub pair_loss: f64,
    pub mlm_correct: i64,
    /// Masked positions predicted.
    pub mlm_predictions: i64,
    pub pair_correct: i64,
    pub pairs: i64,
}

/// Runs a pretraining model on a batch: the encoder, the MLM head at the masked positions only
/// (gathered before the decoder, as the original BERT code does) and the NSP/SOP head on the
/// pooled output. `batch` needs MLM labels (`token_labels`) and pair labels (`sequence_labels`).
pub fn pretraining_loss(model: &Model, batch: &BatchTensors, train: bool) -> Result<PretrainLoss> {
    let (Some(mlm), Some(pair)) = (&model.mlm, &model.pair) else {
        return Err(TrainError::Invalid(format!(
            "a {:?} model has no pretraining heads",
            model.task
        )));
    };
    let (Some(labels), Some(pair_labels)) = (&batch.token_labels, &batch.sequence_labels) else {
        return Err(TrainError::Invalid(
            "a pretraining batch needs MLM and NSP/SOP labels".into(),
        ));
    };
    let out = model.encoder.forward(
        &batch.input_ids,
        Some(&batch.token_type_ids),
        batch.attention_mask.as_ref(),
        train,
    );
    let labels = labels.reshape([-1]);
    let positions = labels
        .ne(bertlab_data::IGNORE_INDEX)
        .nonzero()
        .squeeze_dim(1);
    let targets = labels.index_select(0, &positions);
    let mlm_logits = mlm.forward_at(&out.last_hidden_state, &positions, model.word_embeddings());
    let mlm_predictions = targets.size()[0];
    let mlm_loss = if mlm_predictions > 0 {
        cross_entropy(&mlm_logits, &targets, tch::Reduction::Mean)
    } else {
        // Nothing masked: a zero that keeps the graph, rather than the NaN of an empty mean.
        mlm_logits.sum(Kind::Float) * 0.0
    };
    let pooled = out
        .pooler_output
        .as_ref()
        .expect("a pretraining model has a pooler");
    let pair_logits = pair.forward(pooled, train);
    let pair_loss = cross_entropy(&pair_logits, pair_labels, tch::Reduction::Mean);
    let correct = |logits: &Tensor, targets: &Tensor| {
        tch::no_grad(|| {
            logits
                .argmax(-1, false)
                .eq_tensor(targets)
                .sum(Kind::Int64)
                .int64_value(&[])
        })
    };
    Ok(PretrainLoss {
        mlm_loss: mlm_loss.double_value(&[]),
        pair_loss: pair_loss.double_value(&[]),
        mlm_correct: correct(&mlm_logits, &targets),
        mlm_predictions,
        pair_correct: correct(&pair_logits, pair_labels),
        pairs: pair_labels.size()[0],
        loss: mlm_loss + pair_loss,
    })
}

/// Where the model's sizes come from.
#[derive(Debug, Clone, Copy)]
pub enum ModelSource<'a> {
    /// A built-in size (see [`bertlab_models::presets`]).
    Preset(&'a str),
    /// An HF `config.json`; its `model_type` must be the architecture asked for.
    ConfigFile(&'a Path),
}

/// A freshly initialised `*ForPreTraining` model (seeded by `seed`) over the tokenizer's
/// vocabulary. Its position embeddings must cover `seq_len`.
pub fn pretraining_model(
    arch: Arch,
    source: ModelSource,
    tokenizer: &Tokenizer,
    seq_len: usize,
    seed: u64,
    device: Device,
) -> Result<Model> {
    let vocab_size = tokenizer.vocab_size() as i64;
    let (mut config, origin) = match source {
        ModelSource::Preset(name) => (
            presets::preset(arch, name, vocab_size)?,
            format!("{} preset {name}", arch.model_type()),
        ),
        ModelSource::ConfigFile(path) => {
            (ModelConfig::from_file(path)?, path.display().to_string())
        }
    };
    if config.arch != arch {
        return Err(TrainError::Invalid(format!(
            "{origin}: key `model_type`: {:?} does not match --arch {}",
            config.arch.model_type(),
            arch.model_type()
        )));
    }
    if config.max_position_embeddings < seq_len as i64 {
        return Err(TrainError::Invalid(format!(
            "{origin}: key `max_position_embeddings`: {} positions cannot hold --seq-len {seq_len}",
            config.max_position_embeddings
        )));
    }
    config.vocab_size = vocab_size;
    config.pad_token_id = tokenizer.special_tokens()?.pad as i64;
    config.architectures.clear();
    config.id2label = None;
    config.validate(&origin)?;
    tch::manual_seed(seed as i64);
    Ok(Model::new(config, Task::Pretraining, device))
}

/// Where the tokenizer comes from.
#[derive(Debug, Clone, Copy)]
pub enum TokenizerSource<'a> {
    /// A `tokenizer.json`.
    File(&'a Path),
    /// Trained on the corpus: WordPiece (lowercased) for BERT, Unigram for ALBERT.
    Train { vocab_size: usize },
}

/// Loads the tokenizer or trains one on every `*.txt` file of `corpus` (the held-out slice
/// included). A resumed run (`resume`) reuses `OUT/tokenizer.json` instead of training again.
/// [`pretrain`] writes the tokenizer to `OUT/tokenizer.json`.
pub fn pretraining_tokenizer(
    source: TokenizerSource,
    arch: Arch,
    corpus: &Path,
    out: &Path,
    resume: bool,
) -> Result<Tokenizer> {
    let saved = out.join("tokenizer.json");
    let (tokenizer, origin) = match source {
        TokenizerSource::File(path) => (Tokenizer::from_file(path)?, path.display().to_string()),
        TokenizerSource::Train { .. } if resume && saved.is_file() => {
            (Tokenizer::from_file(&saved)?, saved.display().to_string())
        }
        TokenizerSource::Train { vocab_size } => {
            let files = corpus_files(corpus, "txt")?;
            if files.is_empty() {
                return Err(TrainError::Corpus {
                    dir: corpus.display().to_string(),
                    msg: "has no *.txt files".into(),
                });
            }
            tracing::info!(
                "training a {vocab_size}-token vocabulary on {} files",
                files.len()
            );
            let tokenizer = match arch {
                Arch::Bert => train_wordpiece(
                    &files,
                    &WordPieceTrainOptions {
                        vocab_size,
                        ..Default::default()
                    },
                )?,
                Arch::Albert => train_unigram(
                    &files,
                    &UnigramTrainOptions {
                        vocab_size: vocab_size as u32,
                        ..Default::default()
                    },
                )?,
            };
            (
                tokenizer,
                format!("the tokenizer trained on {}", corpus.display()),
            )
        }
    };
    // Pretraining needs [CLS], [SEP] and [MASK]; say which file lacks them.
    tokenizer
        .special_tokens()
        .map_err(|e| TrainError::Invalid(format!("{origin}: {e}")))?;
    Ok(tokenizer)
}

/// The corpus divided into training documents and a held-out slice: the last file when there
/// are several, else the last tenth of the documents of the only file.
struct CorpusSplit {
    dir: PathBuf,
    train_files: Vec<PathBuf>,
    /// Only the first N documents of `train_files` train (a single-file corpus).
    train_docs: Option<usize>,
    held_out_files: Vec<PathBuf>,
    /// Documents of `held_out_files` before the held-out slice.
    held_out_skip: usize,
}

impl CorpusSplit {
    fn new(dir: &Path) -> Result<Self> {
        let corpus_err = |msg: String| TrainError::Corpus {
            dir: dir.display().to_string(),
            msg,
        };
        let mut files = corpus_files(dir, "txt")?;
        match files.len() {
            0 => Err(corpus_err("has no *.txt files".into())),
            1 => {
                let mut docs = 0;
                for doc in CorpusReader::new(files.clone()) {
                    doc?;
                    docs += 1;
                }
                if docs < 2 {
                    return Err(corpus_err(format!(
                        "the corpus is too small for a single pretraining example: it has {docs} document(s), \
                         and at least 2 are needed (one is held out for evaluation)"
                    )));
                }
                let held_out = (docs / 10).max(1);
                Ok(CorpusSplit {
                    dir: dir.to_path_buf(),
                    train_files: files.clone(),
                    train_docs: Some(docs - held_out),
                    held_out_files: files,
                    held_out_skip: docs - held_out,
                })
            }
            _ => {
                let last = files.pop().expect("several files");
                Ok(CorpusSplit {
                    dir: dir.to_path_buf(),
                    train_files: files,
                    train_docs: None,
                    held_out_files: vec![last],
                    held_out_skip: 0,
                })
            }
        }
    }

    fn train_documents(&self) -> Documents {
        Box::new(
            CorpusReader::new(self.train_files.clone()).take(self.train_docs.unwrap_or(usize::MAX)),
        )
    }

    fn held_out_documents(&self) -> Documents {
        Box::new(CorpusReader::new(self.held_out_files.clone()).skip(self.held_out_skip))
    }
}

type Documents = Box<dyn Iterator<Item = bertlab_data::Result<Document>>>;

/// Salts of the data's random streams, so none repeats another: the training and held-out
/// data, each with its instance cutting, batch order and masking.
const TRAINING: u64 = 0;
const HELD_OUT: u64 = 16;
const INSTANCE_SALT: u64 = 1;
const SAMPLER_SALT: u64 = 2;
const MASK_SALT: u64 = 3;

fn salted(seed: u64, salt: u64, pool: u64) -> u64 {
    seed.wrapping_add(salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(pool.wrapping_mul(0xD1B5_4A32_D192_ED03))
}

/// What turns documents into masked batches.
struct DataSpec<'t> {
    tokenizer: &'t Tokenizer,
    instances: InstanceConfig,
    masking: MaskingConfig,
    vocab: MaskVocab,
    pad: u32,
    cls: u32,
    sep: u32,
    seed: u64,
    pool_docs: usize,
    batch_size: usize,
}

impl<'t> DataSpec<'t> {
    fn new(tokenizer: &'t Tokenizer, arch: Arch, cfg: &PretrainConfig) -> Result<Self> {
        let special = tokenizer.special_tokens()?;
        // BERT's max_predictions_per_seq: 20 at 128 tokens.
        let max_predictions = ((cfg.seq_len as f64) * 0.15).ceil() as usize;
        let (instances, masking) = match arch {
            Arch::Bert => (
                InstanceConfig::bert(cfg.seq_len),
                MaskingConfig::bert(max_predictions),
            ),
            Arch::Albert => (
                InstanceConfig::albert(cfg.seq_len),
                MaskingConfig::albert(max_predictions),
            ),
        };
        Ok(DataSpec {
            tokenizer,
            instances,
            masking,
            vocab: MaskVocab::from_tokenizer(tokenizer)?,
            pad: special.pad,
            cls: special.cls,
            sep: special.sep,
            seed: cfg.seed,
            pool_docs: cfg.pool_docs.max(2),
            batch_size: cfg.batch_size,
        })
    }

    /// The next pool of documents as a dataset with its batch plan; None at the end.
    fn next_pool(
        &self,
        docs: &mut Documents,
        data: u64,
        epoch: u64,
        pool: u64,
        shuffle: bool,
    ) -> Result<Option<Pool>> {
        let documents: Vec<Document> = docs
            .by_ref()
            .take(self.pool_docs)
            .collect::<Result<_, _>>()?;
        if documents.is_empty() {
            return Ok(None);
        }
        let tokenized = tokenize_documents(self.tokenizer, &documents)?;
        let mut rng = derived_rng(salted(self.seed, data + INSTANCE_SALT, pool), epoch, 0);
        let instances =
            create_instances(&tokenized, &self.instances, self.cls, self.sep, &mut rng)?;
        let lengths: Vec<usize> = instances.iter().map(|i| i.len()).collect();
        let sampler = if shuffle {
            SamplerConfig::train(
                self.batch_size,
                salted(self.seed, data + SAMPLER_SALT, pool),
            )
        } else {
            SamplerConfig::eval(self.batch_size)
        };
        let plan = plan_batches(&lengths, &sampler, epoch)?;
        let mask_seed = salted(self.seed, data + MASK_SALT, pool);
        let dataset = PretrainDataset::new(
            instances,
            self.masking,
            self.vocab.clone(),
            self.pad,
            mask_seed,
        )?;
        Ok(Some(Pool {
            dataset,
            plan,
            next: 0,
        }))
    }
}

/// One pool's instances and its batches, `next` of them drawn.
struct Pool {
    dataset: PretrainDataset,
    plan: Vec<Vec<usize>>,
    next: usize,
}

/// Training batches in a fixed order, epoch after epoch.
struct BatchStream<'a> {
    spec: &'a DataSpec<'a>,
    split: &'a CorpusSplit,
    /// The epoch being drawn, and how many of its batches were drawn.
    epoch: usize,
    batch_in_epoch: usize,
    docs: Documents,
    pool_index: u64,
    pool: Option<Pool>,
    epoch_instances: usize,
}

impl<'a> BatchStream<'a> {
    /// The stream positioned after `batch_in_epoch` batches of `epoch`.
    fn at(
        spec: &'a DataSpec<'a>,
        split: &'a CorpusSplit,
        epoch: usize,
        batch_in_epoch: usize,
    ) -> Result<Self> {
        let mut stream = BatchStream {
            spec,
            split,
            epoch,
            batch_in_epoch: 0,
            docs: split.train_documents(),
            pool_index: 0,
            pool: None,
            epoch_instances: 0,
        };
        for _ in 0..batch_in_epoch {
            stream.next_indices()?;
        }
        Ok(stream)
    }

    /// Advances to the next batch and returns its instance indices in the current pool.
    fn next_indices(&mut self) -> Result<Vec<usize>> {
        loop {
            if let Some(pool) = &mut self.pool {
                if let Some(indices) = pool.plan.get(pool.next) {
                    pool.next += 1;
                    self.batch_in_epoch += 1;
                    return Ok(indices.clone());
                }
            }
            let (epoch, pool) = (self.epoch as u64, self.pool_index);
            self.pool = self
                .spec
                .next_pool(&mut self.docs, TRAINING, epoch, pool, true)?;
            self.pool_index += 1;
            match &self.pool {
                Some(p) => self.epoch_instances += p.dataset.len(),
                None if self.epoch_instances == 0 => return Err(self.too_small()),
                None => {
                    self.epoch += 1;
                    self.batch_in_epoch = 0;
                    self.docs = self.split.train_documents();
                    self.pool_index = 0;
                    self.epoch_instances = 0;
                }
            }
        }
    }

    /// The next batch, masked for its epoch.
    fn next_batch(&mut self) -> Result<Batch> {
        let indices = self.next_indices()?;
        let pool = self.pool.as_ref().expect("next_indices leaves a pool");
        Ok(pool.dataset.batch(&indices, self.epoch as u64)?)
    }

    fn too_small(&self) -> TrainError {
        TrainError::Corpus {
            dir: self.split.dir.display().to_string(),
            msg: format!(
                "the corpus is too small for a single pretraining example: its training documents give no \
                 [CLS] A [SEP] B [SEP] instance at --seq-len {}",
                self.spec.instances.max_seq_len
            ),
        }
    }
}

/// Up to `max_batches` batches of the held-out slice, cut and masked once.
fn held_out_batches(
    spec: &DataSpec,
    split: &CorpusSplit,
    max_batches: usize,
) -> Result<Vec<Batch>> {
    let mut docs = split.held_out_documents();
    let mut batches = Vec::new();
    let mut pool_index = 0;
    while batches.len() < max_batches {
        let Some(pool) = spec.next_pool(&mut docs, HELD_OUT, 0, pool_index, false)? else {
            break;
        };
        for indices in pool.plan.iter().take(max_batches - batches.len()) {
            batches.push(pool.dataset.batch(indices, 0)?);
        }
        pool_index += 1;
    }
    Ok(batches)
}

/// Sums of per-batch figures over a logging window or an evaluation.
#[derive(Debug, Default)]
struct Tally {
    batches: usize,
    loss: f64,
    mlm_loss: f64,
    pair_loss: f64,
    mlm_correct: i64,
    mlm_predictions: i64,
    pair_correct: i64,
    pairs: i64,
}

impl Tally {
    fn add(&mut self, l: &PretrainLoss) {
        self.batches += 1;
        self.loss += l.mlm_loss + l.pair_loss;
        self.mlm_loss += l.mlm_loss;
        self.pair_loss += l.pair_loss;
        self.mlm_correct += l.mlm_correct;
        self.mlm_predictions += l.mlm_predictions;
        self.pair_correct += l.pair_correct;
        self.pairs += l.pairs;
    }

    /// Losses as means over batches; accuracies over all predictions.
    fn metrics(&self) -> Value {
        let n = self.batches.max(1) as f64;
        json!({
            "loss": self.loss / n,
            "mlm_loss": self.mlm_loss / n,
            "mlm_acc": self.mlm_correct as f64 / self.mlm_predictions.max(1) as f64,
            "pair_loss": self.pair_loss / n,
            "pair_acc": self.pair_correct as f64 / self.pairs.max(1) as f64,
        })
    }
}

/// MLM and NSP/SOP loss and accuracy on the held-out batches.
fn evaluate(model: &Model, batches: &[Batch], device: Device) -> Result<Value> {
    let mut tally = Tally::default();
    tch::no_grad(|| -> Result<()> {
        for batch in batches {
            tally.add(&pretraining_loss(
                model,
                &BatchTensors::new(batch, device),
                false,
            )?);
        }
        Ok(())
    })?;
    let mut metrics = tally.metrics();
    metrics["batches"] = json!(batches.len());
    Ok(metrics)
}

/// A fingerprint of what a resumed run must share with the original: settings, model config,
/// tokenizer and corpus files (names and sizes).
fn fingerprint(cfg: &PretrainConfig, model: &Model, tokenizer: &Tokenizer) -> Result<String> {
    let files: Vec<(String, u64)> = corpus_files(&cfg.corpus, "txt")?
        .iter()
        .map(|f| {
            (
                f.display().to_string(),
                f.metadata().map(|m| m.len()).unwrap_or(0),
            )
        })
        .collect();
    let v = json!({
        "config": cfg,
        "model": model.config.to_json(&[]),
        "tokenizer": tokenizer.to_json(false)?,
        "corpus": files,
    });
    Ok(fingerprint_of(&v))
}

/// Pretrains `model` (a `*ForPreTraining` model, see [`pretraining_model`]) on `cfg.corpus`,
/// writing into `out`: `tokenizer.json`, `checkpoint/` (resumable state), `model/` (HF format,
/// loadable by transformers and by `bertlab finetune`), `metrics.jsonl` (training lines and
/// held-out evaluations), `pretrain_config.json` and at the end `metrics.json`.
pub fn pretrain(
    cfg: &PretrainConfig,
    model: &mut Model,
    tokenizer: &Tokenizer,
    out: &Path,
) -> Result<PretrainSummary> {
    if cfg.steps == 0 || cfg.batch_size == 0 || cfg.grad_accum == 0 {
        return Err(TrainError::Invalid(
            "--steps, --batch-size and --grad-accum must be positive".into(),
        ));
    }
    if model.task != Task::Pretraining {
        return Err(TrainError::Invalid(format!(
            "pretraining needs a pretraining model, not {:?}",
            model.task
        )));
    }
    if model.config.max_position_embeddings < cfg.seq_len as i64 {
        return Err(TrainError::Invalid(format!(
            "the model's {} positions cannot hold --seq-len {}",
            model.config.max_position_embeddings, cfg.seq_len
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    tokenizer.save(out.join("tokenizer.json"), true)?;
    let checkpoint_dir = out.join("checkpoint");
    let model_dir = out.join("model");

    // The data: training documents streamed in a fixed order, held-out batches built once.
    let split = CorpusSplit::new(&cfg.corpus)?;
    let spec = DataSpec::new(tokenizer, model.config.arch, cfg)?;
    let held_out = held_out_batches(&spec, &split, cfg.eval_batches)?;
    if held_out.is_empty() && cfg.eval_batches > 0 {
        tracing::warn!(
            "{}: the held-out slice gives no example; no evaluation",
            cfg.corpus.display()
        );
    }

    let warmup_steps = cfg.warmup_steps.unwrap_or(cfg.steps / 10);
    let schedule = LrSchedule {
        peak_lr: cfg.lr,
        warmup_steps: warmup_steps as i64,
        total_steps: cfg.steps as i64,
        decay: DecayKind::Linear,
    };
    let optim_config = OptimConfig {
        lr: cfg.lr,
        weight_decay: cfg.weight_decay,
        ..OptimConfig::for_kind(cfg.optimizer)
    };
    optim_config.validate()?;
    let mut optimizer = Optimizer::new(&model.vs, optim_config);
    let fingerprint = fingerprint(cfg, model, tokenizer)?;
    let mut state = start_state(
        &checkpoint_dir,
        cfg.resume,
        fingerprint,
        &mut model.vs,
        &mut optimizer,
    )?;
    let mut stream = BatchStream::at(&spec, &split, state.epoch, state.batch_in_epoch)?;
    let mut log = MetricsLog::open(
        &out.join("metrics.jsonl"),
        cfg.resume.then_some(state.global_step),
    )?;
    write(
        &out.join("pretrain_config.json"),
        serde_json::to_string_pretty(cfg)
            .expect("config serialises")
            .as_bytes(),
    )?;
    let parameters = model.parameter_counts().total;
    tracing::info!(
        "pretraining {} ({parameters} parameters) for {} steps of {} × {} × {} tokens",
        model.task.class_name(model.config.arch),
        cfg.steps,
        cfg.grad_accum,
        cfg.batch_size,
        cfg.seq_len
    );

    let bar = progress_bar(cfg.steps as u64, "pretrain");
    bar.set_position(state.global_step as u64);
    let mut window = Tally::default();
    let mut window_tokens = 0usize;
    let mut window_start = Instant::now();
    let mut last_eval = None;
    while state.global_step < cfg.steps {
        let step_start = Instant::now();
        // Dropout masks depend only on the seed and the step, so a resumed run repeats them.
        tch::manual_seed(
            (cfg.seed as i64)
                .wrapping_mul(1_000_003)
                .wrapping_add(state.global_step as i64),
        );
        for _ in 0..cfg.grad_accum {
            let batch = BatchTensors::new(&stream.next_batch()?, cfg.device);
            let losses = {
                let _amp = mixed_precision(cfg.bf16, cfg.device);
                pretraining_loss(model, &batch, true)?
            };
            (&losses.loss / cfg.grad_accum as f64).backward();
            window.add(&losses);
            window_tokens += batch.real_tokens;
            state.tokens_seen += batch.real_tokens as u64;
        }
        optimizer.clip_grad_norm(cfg.max_grad_norm);
        let lr = schedule.lr_at(state.global_step as i64);
        optimizer.step(lr);
        optimizer.zero_grad();

        state.global_step += 1;
        (state.epoch, state.batch_in_epoch) = (stream.epoch, stream.batch_in_epoch);
        state.train_seconds += step_start.elapsed().as_secs_f64();
        bar.inc(1);
        let step = state.global_step;
        let finished = step == cfg.steps;

        if step % cfg.log_every.max(1) == 0 || finished {
            let tokens_per_s =
                window_tokens as f64 / window_start.elapsed().as_secs_f64().max(1e-9);
            let mut line = window.metrics();
            bar.set_message(format!(
                "loss {:.4} mlm acc {:.3} pair acc {:.3} {tokens_per_s:.0} tok/s",
                line["loss"].as_f64().unwrap_or(f64::NAN),
                line["mlm_acc"].as_f64().unwrap_or(f64::NAN),
                line["pair_acc"].as_f64().unwrap_or(f64::NAN)
            ));
            line["step"] = json!(step);
            line["epoch"] = json!(state.epoch);
            line["lr"] = json!(lr);
            line["tokens_per_s"] = json!(tokens_per_s);
            line["train_seconds"] = json!(state.train_seconds);
            line["tokens_seen"] = json!(state.tokens_seen);
            log.write(&line)?;
            (window, window_tokens, window_start) = (Tally::default(), 0, Instant::now());
        }
        if !held_out.is_empty() && (finished || (cfg.eval_every > 0 && step % cfg.eval_every == 0))
        {
            let eval = {
                let _amp = mixed_precision(cfg.bf16, cfg.device);
                evaluate(model, &held_out, cfg.device)?
            };
            tracing::info!("step {step}: held-out {eval}");
            log.write(&json!({"step": step, "epoch": state.epoch, "eval": eval}))?;
            last_eval = Some(eval);
            window_start = Instant::now();
        }
        let interrupted = cfg.stop_after == Some(step) && !finished;
        if finished || interrupted || (cfg.save_every > 0 && step % cfg.save_every == 0) {
            save_checkpoint(&checkpoint_dir, &model.vs, &optimizer, &state)?;
            save_model_dir(model, &model_dir, out)?;
        }
        if interrupted {
            bar.abandon_with_message("interrupted");
            return Ok(summary(&state, parameters, last_eval, false));
        }
    }
    bar.finish();
    if !model_dir.join("config.json").is_file() {
        // A resumed run that had already finished: make sure the model is there.
        save_model_dir(model, &model_dir, out)?;
    }
    let summary = summary(&state, parameters, last_eval, true);
    let metrics = serde_json::to_string_pretty(&summary).expect("summary serialises");
    write(&out.join("metrics.json"), metrics.as_bytes())?;
    Ok(summary)
}

fn summary(
    state: &TrainerState,
    parameters: i64,
    eval: Option<Value>,
    finished: bool,
) -> PretrainSummary {
    PretrainSummary {
        steps: state.global_step,
        epoch: state.epoch,
        train_seconds: state.train_seconds,
        tokens_seen: state.tokens_seen,
        tokens_per_second: state.tokens_seen as f64 / state.train_seconds.max(1e-9),
        parameters,
        eval,
        finished,
        peak_rss_bytes: crate::logging::peak_rss_bytes(),
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    bertlab_tokenize::write_atomic(path, bytes).map_err(|e| TrainError::io(path, e))
}
