//! `bertlab pretrain`: BERT (MLM + NSP) or ALBERT (MLM + SOP) from scratch on a text corpus.

use anyhow::{Context, Result};
use bertlab_models::Arch;
use bertlab_nn::parse_device;
use bertlab_train::pretrain::{
    pretraining_model, pretraining_tokenizer, ModelSource, TokenizerSource,
};
use bertlab_train::{pretrain, OptimizerKind, PretrainConfig};
use clap::{ArgGroup, Args, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ArchArg {
    Bert,
    Albert,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OptimizerArg {
    Adamw,
    Lamb,
}

#[derive(Args)]
#[command(group(ArgGroup::new("size").required(true).args(["preset", "config"])))]
#[command(group(ArgGroup::new("vocabulary").required(true).args(["tokenizer", "train_tokenizer"])))]
pub struct PretrainArgs {
    #[arg(long, value_enum)]
    arch: ArchArg,
    /// A built-in size (bert: tiny mini small medium base large; albert: tiny mini small base
    /// large xlarge xxlarge).
    #[arg(long)]
    preset: Option<String>,
    /// An HF config.json instead of a preset (its vocab_size is replaced by the tokenizer's).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Folder of *.txt files: one paragraph per line, a blank line between documents. The last
    /// file (or, with a single file, its last tenth of documents) is held out for evaluation.
    #[arg(long)]
    corpus: PathBuf,
    /// A tokenizer.json.
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// Train a vocabulary on the corpus (WordPiece for BERT, Unigram for ALBERT).
    #[arg(long, requires = "vocab_size")]
    train_tokenizer: bool,
    /// Size of the trained vocabulary.
    #[arg(long, requires = "train_tokenizer")]
    vocab_size: Option<usize>,
    /// Output directory: model/ (HF format), checkpoint/, tokenizer.json, metrics.jsonl.
    #[arg(long)]
    out: PathBuf,
    /// Optimizer steps.
    #[arg(long)]
    steps: usize,
    /// Instances per micro-batch.
    #[arg(long)]
    batch_size: usize,
    /// Longest instance in tokens, [CLS] and [SEP]s included.
    #[arg(long)]
    seq_len: usize,
    #[arg(long, value_enum, default_value = "adamw")]
    optimizer: OptimizerArg,
    /// Peak learning rate (linear warmup, then linear decay to 0).
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    /// Warmup steps [default: 10% of --steps].
    #[arg(long)]
    warmup_steps: Option<usize>,
    /// Micro-batches per optimizer step.
    #[arg(long, default_value_t = 1)]
    grad_accum: usize,
    /// Continue from OUT/checkpoint.
    #[arg(long)]
    resume: bool,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Run forward passes under bf16 autocast (meant for CUDA).
    #[arg(long)]
    bf16: bool,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = 0.01)]
    weight_decay: f64,
    #[arg(long, default_value_t = 1.0)]
    max_grad_norm: f64,
    /// Write the checkpoint and OUT/model every N steps (and at the end); 0: only at the end.
    #[arg(long, default_value_t = 500)]
    save_every: usize,
    /// Evaluate on the held-out slice every N steps (and at the end); 0: only at the end.
    #[arg(long, default_value_t = 500)]
    eval_every: usize,
    /// Held-out batches per evaluation.
    #[arg(long, default_value_t = 20)]
    eval_batches: usize,
    /// Write a line to metrics.jsonl every N steps.
    #[arg(long, default_value_t = 1)]
    log_every: usize,
    /// Documents tokenized and cut into instances together (NSP draws its random segments
    /// from the same pool).
    #[arg(long, default_value_t = 1000)]
    pool_docs: usize,
    /// Stop after N steps as if interrupted, leaving a checkpoint (for testing --resume).
    #[arg(long, hide = true)]
    stop_after: Option<usize>,
}

pub fn run(args: PretrainArgs) -> Result<()> {
    let arch = match args.arch {
        ArchArg::Bert => Arch::Bert,
        ArchArg::Albert => Arch::Albert,
    };
    let cfg = PretrainConfig {
        corpus: args.corpus.clone(),
        steps: args.steps,
        batch_size: args.batch_size,
        seq_len: args.seq_len,
        optimizer: match args.optimizer {
            OptimizerArg::Adamw => OptimizerKind::AdamW,
            OptimizerArg::Lamb => OptimizerKind::Lamb,
        },
        lr: args.lr,
        warmup_steps: args.warmup_steps,
        grad_accum: args.grad_accum,
        max_grad_norm: args.max_grad_norm,
        weight_decay: args.weight_decay,
        seed: args.seed,
        pool_docs: args.pool_docs,
        eval_every: args.eval_every,
        eval_batches: args.eval_batches,
        save_every: args.save_every,
        log_every: args.log_every,
        bf16: args.bf16,
        device: parse_device(&args.device)?,
        resume: args.resume,
        stop_after: args.stop_after,
    };
    let tokenizer_source = match (&args.tokenizer, args.vocab_size) {
        (Some(path), _) => TokenizerSource::File(path),
        (None, Some(vocab_size)) => TokenizerSource::Train { vocab_size },
        (None, None) => unreachable!("clap requires --tokenizer or --train-tokenizer --vocab-size"),
    };
    let tokenizer =
        pretraining_tokenizer(tokenizer_source, arch, &args.corpus, &args.out, args.resume)?;
    let model_source = match (&args.preset, &args.config) {
        (Some(name), _) => ModelSource::Preset(name),
        (None, Some(path)) => ModelSource::ConfigFile(path),
        (None, None) => unreachable!("clap requires --preset or --config"),
    };
    let mut model = pretraining_model(
        arch,
        model_source,
        &tokenizer,
        cfg.seq_len,
        cfg.seed,
        cfg.device,
    )?;
    let summary = pretrain(&cfg, &mut model, &tokenizer, &args.out)
        .with_context(|| format!("pretraining into {}", args.out.display()))?;
    if !summary.finished {
        eprintln!(
            "stopped after {} steps; continue with --resume",
            summary.steps
        );
        return Ok(());
    }
    println!(
        "{} steps, {} parameters, {:.1} s, {:.0} tokens/s",
        summary.steps, summary.parameters, summary.train_seconds, summary.tokens_per_second
    );
    if let Some(eval) = &summary.eval {
        println!("held-out: {eval}");
    }
    eprintln!("wrote {}", args.out.join("model").display());
    Ok(())
}
