//! `bertlab`: pretrain, fine-tune, evaluate and compare BERT and ALBERT on libtorch.

mod encode;
mod finetune;
mod info;
mod pretrain;
mod score;
mod tokenizer;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "bertlab", version, about = "BERT and ALBERT on libtorch")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the libtorch build, CUDA availability and threads; or a model's parameter counts.
    Info(info::InfoArgs),
    /// Run a checkpoint on one input and write its outputs as safetensors.
    Encode(encode::EncodeArgs),
    /// Score predictions against gold labels (`score ner`: entity-level F1 of tagged tokens).
    Score(score::ScoreArgs),
    /// Pretrain BERT (MLM + NSP) or ALBERT (MLM + SOP) from scratch on a text corpus.
    Pretrain(pretrain::PretrainArgs),
    /// Fine-tune a BERT or ALBERT checkpoint for NER or sentence classification.
    #[command(subcommand)]
    Finetune(finetune::FinetuneCommand),
    /// Score a fine-tuned model on a data split.
    Eval(finetune::EvalArgs),
    /// Predict with a fine-tuned model.
    #[command(subcommand)]
    Predict(finetune::PredictCommand),
    /// Train a tokenizer on a corpus.
    #[command(subcommand)]
    Tokenizer(tokenizer::TokenizerCommand),
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Info(args) => info::run(args),
        Command::Encode(args) => encode::run(args),
        Command::Score(args) => score::run(args),
        Command::Pretrain(args) => pretrain::run(args),
        Command::Finetune(cmd) => finetune::run_finetune(cmd),
        Command::Eval(args) => finetune::run_eval(args),
        Command::Predict(cmd) => finetune::run_predict(cmd),
        Command::Tokenizer(cmd) => tokenizer::run(cmd),
    }
}
