//! `bertlab tokenizer train`: a BERT WordPiece or ALBERT Unigram vocabulary from a corpus.

use anyhow::{Context, Result};
use bertlab_models::Arch;
use bertlab_train::pretrain::{pretraining_tokenizer, TokenizerSource};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum TokenizerCommand {
    /// Train on every *.txt file of a corpus folder and write a tokenizer.json.
    Train(TrainArgs),
}

#[derive(Args)]
pub struct TrainArgs {
    /// bert: WordPiece (BertNormalizer, lowercased); albert: Unigram (NFKC, lowercase, Metaspace).
    #[arg(long, value_parser = ["bert", "albert"])]
    arch: String,
    #[arg(long)]
    corpus: PathBuf,
    #[arg(long)]
    vocab_size: usize,
    /// The tokenizer.json to write.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(cmd: TokenizerCommand) -> Result<()> {
    let TokenizerCommand::Train(args) = cmd;
    let arch = Arch::parse(&args.arch).expect("clap restricts --arch");
    let dir = output_dir(&args.out)?;
    let source = TokenizerSource::Train {
        vocab_size: args.vocab_size,
    };
    let tokenizer = pretraining_tokenizer(source, arch, &args.corpus, &dir, false)?;
    tokenizer
        .save(&args.out, true)
        .with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "wrote {} ({} tokens)",
        args.out.display(),
        tokenizer.vocab_size()
    );
    Ok(())
}

/// The folder of the output file, created if needed.
fn output_dir(out: &std::path::Path) -> Result<PathBuf> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
