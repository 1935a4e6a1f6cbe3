//! `bertlab`: pretrain, fine-tune, evaluate and compare BERT and ALBERT on libtorch.

mod encode;
mod info;

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
    }
}
