//! `bertlab score`: score predictions against gold labels.
//!
//! `bertlab score ner --input FILE [--scheme iob1|iob2|ioe1|ioe2|iobes|bilou]
//! [--mode conlleval|strict] [--format text|json]` is a contract that tools outside
//! the project depend on: keep its options, defaults and JSON shape as they are.

use std::path::PathBuf;

use anyhow::Result;
use bertlab_metrics::{score_conll_file, Mode, Scheme};
use clap::{Args, Subcommand, ValueEnum};

/// Arguments of `bertlab score`.
#[derive(Args)]
pub struct ScoreArgs {
    #[command(subcommand)]
    command: ScoreCommand,
}

#[derive(Subcommand)]
enum ScoreCommand {
    /// Entity-level precision, recall and F1 (seqeval/conlleval) of tagged tokens,
    /// with token accuracy and the token-level per-tag report.
    Ner(NerArgs),
}

#[derive(Args)]
struct NerArgs {
    /// File in the conlleval layout: whitespace-separated columns ending in the gold
    /// tag and the predicted tag; a blank line between sentences; `-DOCSTART-` lines
    /// are skipped.
    #[arg(long)]
    input: PathBuf,
    /// Tagging scheme of the tags.
    #[arg(long, value_enum, default_value = "iob2")]
    scheme: SchemeArg,
    /// `conlleval`: the perl script's lenient chunking (seqeval's default);
    /// `strict`: seqeval's strict mode, which rejects prefixes foreign to the scheme.
    #[arg(long, value_enum, default_value = "conlleval")]
    mode: ModeArg,
    /// `text`: seqeval's report and the token-level report; `json`: entity-level
    /// scores as {accuracy, micro, macro, weighted, per_type}; `markdown`: both
    /// reports as Markdown tables.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemeArg {
    Iob1,
    Iob2,
    Ioe1,
    Ioe2,
    Iobes,
    Bilou,
}

impl From<SchemeArg> for Scheme {
    fn from(arg: SchemeArg) -> Self {
        match arg {
            SchemeArg::Iob1 => Scheme::Iob1,
            SchemeArg::Iob2 => Scheme::Iob2,
            SchemeArg::Ioe1 => Scheme::Ioe1,
            SchemeArg::Ioe2 => Scheme::Ioe2,
            SchemeArg::Iobes => Scheme::Iobes,
            SchemeArg::Bilou => Scheme::Bilou,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    Conlleval,
    Strict,
}

impl From<ModeArg> for Mode {
    fn from(arg: ModeArg) -> Self {
        match arg {
            ModeArg::Conlleval => Mode::Conlleval,
            ModeArg::Strict => Mode::Strict,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
    Markdown,
}

/// Runs `bertlab score`.
pub fn run(args: ScoreArgs) -> Result<()> {
    match args.command {
        ScoreCommand::Ner(args) => ner(args),
    }
}

fn ner(args: NerArgs) -> Result<()> {
    let report = score_conll_file(&args.input, args.scheme.into(), args.mode.into())?;
    match args.format {
        Format::Text => print!("{}", report.to_text()),
        Format::Json => println!("{}", report.entity.to_json()),
        Format::Markdown => print!("{}", report.to_markdown()),
    }
    Ok(())
}
