//! `bertlab finetune ner|classify`, `bertlab eval` and `bertlab predict ner`.

use anyhow::{bail, Context, Result};
use bertlab_data::build_ner_features;
use bertlab_metrics::{extract_entities, Mode, Scheme};
use bertlab_models::{Model, Task};
use bertlab_nn::parse_device;
use bertlab_tokenize::Tokenizer;
use bertlab_train::finetune::Split;
use bertlab_train::tasks::{ner_config, predict_ner_words};
use bertlab_train::{
    finetune, ClassifyTask, DecayKind, FinetuneConfig, FinetuneTask, NerTask, OptimizerKind,
};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use std::io::BufRead;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum FinetuneCommand {
    /// Token classification on CoNLL column files (train.txt, dev.txt, test.txt; tag last).
    Ner(FinetuneArgs),
    /// Sentence (pair) classification on TSV files (train.tsv, dev.tsv[, test.tsv]).
    Classify(FinetuneArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OptimizerArg {
    Adamw,
    Lamb,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ScheduleArg {
    Linear,
    Cosine,
    Constant,
}

#[derive(Args)]
pub struct FinetuneArgs {
    /// HF checkpoint directory (config.json, weights, tokenizer.json).
    #[arg(long)]
    model: PathBuf,
    /// Data directory.
    #[arg(long)]
    data: PathBuf,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 5e-5)]
    lr: f64,
    #[arg(long, default_value_t = 128)]
    max_seq_len: usize,
    /// Warmup as a fraction of all steps.
    #[arg(long, default_value_t = 0.1)]
    warmup: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Stop after N optimizer steps.
    #[arg(long)]
    max_steps: Option<usize>,
    #[arg(long, default_value = "auto")]
    device: String,
    /// Run forward passes under bf16 autocast (as HF `--bf16`; meant for CUDA).
    #[arg(long)]
    bf16: bool,
    /// Continue from OUT/checkpoint.
    #[arg(long)]
    resume: bool,
    #[arg(long, default_value_t = 1)]
    grad_accum: usize,
    #[arg(long, default_value_t = 1.0)]
    max_grad_norm: f64,
    #[arg(long, default_value_t = 0.01)]
    weight_decay: f64,
    #[arg(long, value_enum, default_value = "adamw")]
    optimizer: OptimizerArg,
    #[arg(long, value_enum, default_value = "linear")]
    schedule: ScheduleArg,
    /// Evaluate on dev every N steps instead of each epoch.
    #[arg(long)]
    eval_every: Option<usize>,
    /// Stop after N evaluations without improvement.
    #[arg(long)]
    early_stopping: Option<usize>,
    /// Write a resumable checkpoint every N steps (also at each epoch end).
    #[arg(long)]
    save_every: Option<usize>,
    #[arg(long, default_value_t = 20)]
    log_every: usize,
    /// Stop after N steps as if interrupted, leaving a checkpoint (for testing --resume).
    #[arg(long, hide = true)]
    stop_after: Option<usize>,
}

impl FinetuneArgs {
    fn config(&self) -> Result<FinetuneConfig> {
        Ok(FinetuneConfig {
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            max_seq_len: self.max_seq_len,
            warmup: self.warmup,
            seed: self.seed,
            max_steps: self.max_steps,
            grad_accum: self.grad_accum,
            max_grad_norm: self.max_grad_norm,
            weight_decay: self.weight_decay,
            optimizer: match self.optimizer {
                OptimizerArg::Adamw => OptimizerKind::AdamW,
                OptimizerArg::Lamb => OptimizerKind::Lamb,
            },
            schedule: match self.schedule {
                ScheduleArg::Linear => DecayKind::Linear,
                ScheduleArg::Cosine => DecayKind::Cosine,
                ScheduleArg::Constant => DecayKind::Constant,
            },
            eval_every: self.eval_every,
            early_stopping: self.early_stopping,
            save_every: self.save_every,
            log_every: self.log_every,
            eval_batch_size: 64,
            bf16: self.bf16,
            device: parse_device(&self.device)?,
            resume: self.resume,
            stop_after: self.stop_after,
        })
    }
}

/// Loads `DIR/tokenizer.json`, with a clear error when the checkpoint has none.
fn load_tokenizer(model_dir: &Path) -> Result<Tokenizer> {
    let path = model_dir.join("tokenizer.json");
    if !path.is_file() {
        bail!(
            "{}: the checkpoint directory has no tokenizer.json (bertlab needs the fast-tokenizer file next to config.json)",
            model_dir.display()
        );
    }
    Tokenizer::from_file(&path).with_context(|| format!("loading {}", path.display()))
}

pub fn run_finetune(cmd: FinetuneCommand) -> Result<()> {
    let (args, ner) = match cmd {
        FinetuneCommand::Ner(a) => (a, true),
        FinetuneCommand::Classify(a) => (a, false),
    };
    let cfg = args.config()?;
    let tokenizer = load_tokenizer(&args.model)?;
    tch::manual_seed(cfg.seed as i64);
    let task: Box<dyn FinetuneTask> = if ner {
        Box::new(NerTask::load(
            &args.data,
            &tokenizer,
            cfg.max_seq_len,
            cfg.device,
        )?)
    } else {
        Box::new(ClassifyTask::load(
            &args.data,
            &tokenizer,
            cfg.max_seq_len,
            cfg.device,
        )?)
    };
    let model_task = if ner {
        Task::TokenClassification
    } else {
        Task::SequenceClassification
    };
    let labels = task.labels();
    let mut model =
        Model::from_pretrained(&args.model, cfg.device, Some(model_task), Some(&labels))
            .with_context(|| format!("loading {}", args.model.display()))?;
    let summary = finetune(task.as_ref(), &mut model, &cfg, &args.out, &args.model)?;
    if !summary.finished {
        eprintln!(
            "stopped after {} steps; continue with --resume",
            summary.steps
        );
        return Ok(());
    }
    print!("{}", std::fs::read_to_string(args.out.join("report.txt"))?);
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

#[derive(Args)]
pub struct EvalArgs {
    /// A fine-tuned model directory (OUT/model).
    #[arg(long)]
    model: PathBuf,
    /// Data directory laid out as for `finetune`.
    #[arg(long)]
    data: PathBuf,
    #[arg(long, value_parser = ["dev", "test"], default_value = "test")]
    split: String,
    #[arg(long, default_value_t = 128)]
    max_seq_len: usize,
    #[arg(long, default_value = "auto")]
    device: String,
    /// Print the metrics as JSON instead of the report.
    #[arg(long)]
    json: bool,
}

pub fn run_eval(args: EvalArgs) -> Result<()> {
    let device = parse_device(&args.device)?;
    let tokenizer = load_tokenizer(&args.model)?;
    let model = Model::from_pretrained(&args.model, device, None, None)
        .with_context(|| format!("loading {}", args.model.display()))?;
    let split = if args.split == "dev" {
        Split::Dev
    } else {
        Split::Test
    };
    let task: Box<dyn FinetuneTask> = match model.task {
        Task::TokenClassification => Box::new(NerTask::load(
            &args.data,
            &tokenizer,
            args.max_seq_len,
            device,
        )?),
        Task::SequenceClassification => Box::new(ClassifyTask::load(
            &args.data,
            &tokenizer,
            args.max_seq_len,
            device,
        )?),
        other => bail!(
            "{}: a {other:?} model has no task to evaluate",
            args.model.display()
        ),
    };
    check_labels(&model, task.as_ref(), &args)?;
    let eval = task.evaluate(&model, split, 64)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&eval.metrics)?);
    } else {
        print!("{}", eval.report);
    }
    Ok(())
}

/// The model's labels must be the data's: otherwise ids would be misread.
fn check_labels(model: &Model, task: &dyn FinetuneTask, args: &EvalArgs) -> Result<()> {
    let model_labels: Vec<String> = model
        .config
        .id2label
        .clone()
        .unwrap_or_default()
        .into_values()
        .collect();
    let data_labels = task.labels();
    if model_labels != data_labels {
        bail!(
            "{}: the model's labels {model_labels:?} differ from the training labels of {}: {data_labels:?}",
            args.model.display(),
            args.data.display()
        );
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum PredictCommand {
    /// Entities in text, as JSON lines: text, type, character start/end, score.
    Ner(PredictArgs),
}

#[derive(Args)]
pub struct PredictArgs {
    /// A fine-tuned NER model directory.
    #[arg(long)]
    model: PathBuf,
    /// The text; without it, lines are read from stdin.
    #[arg(long)]
    text: Option<String>,
    #[arg(long, default_value_t = 128)]
    max_seq_len: usize,
    #[arg(long, default_value = "auto")]
    device: String,
}

/// Splits text into words with their character offsets: runs of non-space characters, with
/// each punctuation character a word of its own (as BERT's pre-tokenizer and CoNLL do).
pub fn split_words(text: &str) -> Vec<(String, usize, usize)> {
    let mut words = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (ci, c) in text.chars().enumerate() {
        if !c.is_alphanumeric() {
            if let Some((start, w)) = current.take() {
                let end = start + w.chars().count();
                words.push((w, start, end));
            }
            if !c.is_whitespace() {
                words.push((c.to_string(), ci, ci + 1));
            }
        } else {
            current.get_or_insert_with(|| (ci, String::new())).1.push(c);
        }
    }
    if let Some((start, w)) = current {
        let end = start + w.chars().count();
        words.push((w, start, end));
    }
    words
}

pub fn run_predict(cmd: PredictCommand) -> Result<()> {
    let PredictCommand::Ner(args) = cmd;
    let device = parse_device(&args.device)?;
    let tokenizer = load_tokenizer(&args.model)?;
    let model = Model::from_pretrained(&args.model, device, Some(Task::TokenClassification), None)
        .with_context(|| format!("loading {}", args.model.display()))?;
    let labels: Vec<String> = model
        .config
        .id2label
        .clone()
        .context("the model's config.json has no id2label")?
        .into_values()
        .collect();
    let pad = tokenizer.special_tokens()?.pad;
    let lines: Vec<String> = match &args.text {
        Some(t) => vec![t.clone()],
        None => std::io::stdin().lock().lines().collect::<Result<_, _>>()?,
    };
    for (line_no, line) in lines.iter().enumerate() {
        let words = split_words(line);
        if words.is_empty() {
            continue;
        }
        let tokens: Vec<String> = words.iter().map(|w| w.0.clone()).collect();
        let features = build_ner_features(
            &tokenizer,
            &[tokens.as_slice()],
            None,
            &ner_config(args.max_seq_len),
        )?;
        let predicted =
            predict_ner_words(&model, &features, &[tokens.len()], &labels, pad, 64, device)?;
        let (tags, probs): (Vec<String>, Vec<f64>) = predicted[0].iter().cloned().unzip();
        for e in extract_entities(&tags, Scheme::Iob2, Mode::Conlleval)? {
            let (start, end) = (words[e.start].1, words[e.end - 1].2);
            let text: String = line.chars().skip(start).take(end - start).collect();
            let score = probs[e.start..e.end].iter().sum::<f64>() / (e.end - e.start) as f64;
            let mut v =
                json!({"text": text, "type": e.kind, "start": start, "end": end, "score": score});
            if args.text.is_none() {
                v["line"] = json!(line_no);
            }
            println!("{v}");
        }
    }
    Ok(())
}
