//! Training BERT-style WordPiece and ALBERT-style Unigram vocabularies.
//!
//! - WordPiece: `BertNormalizer` (cased or uncased), `BertPreTokenizer`,
//!   specials `[PAD] [UNK] [CLS] [SEP] [MASK]` with ids 0..=4.
//! - Unigram: NFKC + lowercase, whitespace split then Metaspace `▁`,
//!   specials `<pad> <unk> [CLS] [SEP] [MASK]` with ids 0..=4.
//!
//! Both get a `[CLS] $A [SEP]` / `[CLS] $A [SEP] $B:1 [SEP]:1` post-processor
//! and a matching decoder, so the saved `tokenizer.json` loads in Python's
//! `PreTrainedTokenizerFast` and gives the same ids.

use std::path::{Path, PathBuf};

use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::unigram::{Unigram, UnigramTrainer};
use tokenizers::models::wordpiece::{WordPiece, WordPieceTrainer};
use tokenizers::models::TrainerWrapper;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::normalizers::unicode::NFKC;
use tokenizers::normalizers::utils::{Lowercase, Sequence as NormalizerSequence};
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::pre_tokenizers::whitespace::WhitespaceSplit;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::AddedToken;

use crate::{LoadOptions, Result, TokenizeError, Tokenizer};

/// Special tokens of a BERT-style WordPiece vocabulary, in id order.
pub const BERT_SPECIALS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
/// Special tokens of an ALBERT-style Unigram vocabulary, in id order.
pub const ALBERT_SPECIALS: [&str; 5] = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"];
/// The Metaspace replacement character.
pub const METASPACE: char = '\u{2581}';

/// Options for BERT-style WordPiece training.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordPieceTrainOptions {
    /// Target vocabulary size, specials included.
    pub vocab_size: usize,
    /// Lowercase (and strip accents) as uncased BERT does.
    pub lowercase: bool,
    /// Minimum pair frequency for a merge.
    pub min_frequency: u64,
    /// Maximum number of distinct characters kept in the initial alphabet.
    pub limit_alphabet: usize,
    /// Show a progress bar.
    pub show_progress: bool,
}

impl Default for WordPieceTrainOptions {
    fn default() -> Self {
        Self {
            vocab_size: 30_522,
            lowercase: true,
            min_frequency: 2,
            limit_alphabet: 1000,
            show_progress: false,
        }
    }
}

/// Options for ALBERT-style Unigram training.
#[derive(Debug, Clone, PartialEq)]
pub struct UnigramTrainOptions {
    /// Target vocabulary size, specials included.
    pub vocab_size: u32,
    /// Longest piece, in characters.
    pub max_piece_length: usize,
    /// EM sub-iterations per pruning round.
    pub n_sub_iterations: u32,
    /// Fraction of pieces kept at each pruning round.
    pub shrinking_factor: f64,
    /// Show a progress bar.
    pub show_progress: bool,
}

impl Default for UnigramTrainOptions {
    fn default() -> Self {
        Self {
            vocab_size: 30_000,
            max_piece_length: 16,
            n_sub_iterations: 2,
            shrinking_factor: 0.75,
            show_progress: false,
        }
    }
}

fn train_err(e: impl std::fmt::Display) -> TokenizeError {
    TokenizeError::Train(e.to_string())
}

fn specials(names: &[&str]) -> Vec<AddedToken> {
    names
        .iter()
        .map(|n| AddedToken::from(n.to_string(), true))
        .collect()
}

/// `[CLS] $A [SEP]` and `[CLS] $A [SEP] $B:1 [SEP]:1` with the ids in `tok`.
fn cls_sep_template(tok: &tokenizers::Tokenizer) -> Result<TemplateProcessing> {
    let cls = tok
        .token_to_id("[CLS]")
        .ok_or_else(|| train_err("[CLS] missing after training"))?;
    let sep = tok
        .token_to_id("[SEP]")
        .ok_or_else(|| train_err("[SEP] missing after training"))?;
    TemplateProcessing::builder()
        .try_single("[CLS]:0 $A:0 [SEP]:0")
        .map_err(train_err)?
        .try_pair("[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1")
        .map_err(train_err)?
        .special_tokens(vec![("[CLS]", cls), ("[SEP]", sep)])
        .build()
        .map_err(train_err)
}

fn bert_normalizer(lowercase: bool) -> BertNormalizer {
    // strip_accents = None follows `lowercase`, exactly as HF's BertNormalizer does.
    BertNormalizer::new(true, true, None, lowercase)
}

fn bert_pipeline(model: WordPiece, lowercase: bool) -> tokenizers::Tokenizer {
    let mut tok = tokenizers::Tokenizer::new(model);
    tok.with_normalizer(Some(bert_normalizer(lowercase)));
    tok.with_pre_tokenizer(Some(BertPreTokenizer));
    tok.with_decoder(Some(WordPieceDecoder::new("##".into(), true)));
    tok
}

fn albert_pipeline(model: Unigram) -> tokenizers::Tokenizer {
    let mut tok = tokenizers::Tokenizer::new(model);
    tok.with_normalizer(Some(NormalizerSequence::new(vec![
        NFKC.into(),
        Lowercase.into(),
    ])));
    tok.with_pre_tokenizer(Some(PreTokenizerSequence::new(vec![
        WhitespaceSplit.into(),
        Metaspace::new(METASPACE, PrependScheme::Always, true).into(),
    ])));
    tok.with_decoder(Some(Metaspace::new(METASPACE, PrependScheme::Always, true)));
    tok
}

/// Where the training text comes from.
enum Source<'a> {
    Files(&'a [PathBuf]),
    Texts(&'a mut (dyn Iterator<Item = String> + Send)),
}

fn check_files(files: &[PathBuf]) -> Result<Vec<String>> {
    if files.is_empty() {
        return Err(TokenizeError::Option {
            key: "files",
            message: "no training files given".into(),
        });
    }
    files
        .iter()
        .map(|f| {
            if !f.is_file() {
                return Err(TokenizeError::Load {
                    path: f.clone(),
                    message: "training file does not exist".into(),
                });
            }
            Ok(f.to_string_lossy().into_owned())
        })
        .collect()
}

fn run_training(
    tok: &mut tokenizers::Tokenizer,
    trainer: &mut TrainerWrapper,
    source: Source<'_>,
) -> Result<()> {
    match source {
        Source::Files(files) => {
            let names = check_files(files)?;
            tok.train_from_files(trainer, names).map_err(train_err)?;
        }
        Source::Texts(it) => {
            tok.train(trainer, it).map_err(train_err)?;
        }
    }
    Ok(())
}

fn wordpiece_impl(source: Source<'_>, options: &WordPieceTrainOptions) -> Result<Tokenizer> {
    if options.vocab_size <= BERT_SPECIALS.len() {
        return Err(TokenizeError::Option {
            key: "vocab_size",
            message: format!("{} leaves no room past the specials", options.vocab_size),
        });
    }
    let model = WordPiece::builder()
        .unk_token("[UNK]".into())
        .continuing_subword_prefix("##".into())
        .build()
        .map_err(train_err)?;
    let mut tok = bert_pipeline(model, options.lowercase);
    let mut trainer: TrainerWrapper = WordPieceTrainer::builder()
        .vocab_size(options.vocab_size)
        .min_frequency(options.min_frequency)
        .limit_alphabet(options.limit_alphabet)
        .show_progress(options.show_progress)
        .special_tokens(specials(&BERT_SPECIALS))
        .continuing_subword_prefix("##".into())
        .build()
        .into();
    run_training(&mut tok, &mut trainer, source)?;
    let template = cls_sep_template(&tok)?;
    tok.with_post_processor(Some(template));
    Ok(Tokenizer::from_hf(tok, LoadOptions::default()))
}

fn unigram_impl(source: Source<'_>, options: &UnigramTrainOptions) -> Result<Tokenizer> {
    if options.vocab_size as usize <= ALBERT_SPECIALS.len() {
        return Err(TokenizeError::Option {
            key: "vocab_size",
            message: format!("{} leaves no room past the specials", options.vocab_size),
        });
    }
    let mut tok = albert_pipeline(Unigram::default());
    let mut trainer: TrainerWrapper = UnigramTrainer::builder()
        .vocab_size(options.vocab_size)
        .max_piece_length(options.max_piece_length)
        .n_sub_iterations(options.n_sub_iterations)
        .shrinking_factor(options.shrinking_factor)
        .show_progress(options.show_progress)
        .special_tokens(specials(&ALBERT_SPECIALS))
        .unk_token(Some("<unk>".into()))
        .build()
        .map_err(train_err)?
        .into();
    run_training(&mut tok, &mut trainer, source)?;
    let template = cls_sep_template(&tok)?;
    tok.with_post_processor(Some(template));
    Ok(Tokenizer::from_hf(tok, LoadOptions::default()))
}

/// Train a BERT-style WordPiece tokenizer on text files (one or more lines each).
pub fn train_wordpiece(files: &[PathBuf], options: &WordPieceTrainOptions) -> Result<Tokenizer> {
    wordpiece_impl(Source::Files(files), options)
}

/// Train a BERT-style WordPiece tokenizer on in-memory texts.
pub fn train_wordpiece_from_texts<I>(texts: I, options: &WordPieceTrainOptions) -> Result<Tokenizer>
where
    I: IntoIterator<Item = String>,
    I::IntoIter: Send,
{
    let mut it = texts.into_iter();
    wordpiece_impl(Source::Texts(&mut it), options)
}

/// Train an ALBERT-style Unigram tokenizer on text files.
pub fn train_unigram(files: &[PathBuf], options: &UnigramTrainOptions) -> Result<Tokenizer> {
    unigram_impl(Source::Files(files), options)
}

/// Train an ALBERT-style Unigram tokenizer on in-memory texts.
pub fn train_unigram_from_texts<I>(texts: I, options: &UnigramTrainOptions) -> Result<Tokenizer>
where
    I: IntoIterator<Item = String>,
    I::IntoIter: Send,
{
    let mut it = texts.into_iter();
    unigram_impl(Source::Texts(&mut it), options)
}

/// Build a BERT pipeline over a `vocab.txt`-style vocabulary (one token per line).
pub(crate) fn bert_from_vocab_text(text: &str, lowercase: bool, path: &Path) -> Result<Tokenizer> {
    let load = |e: &dyn std::fmt::Display| TokenizeError::Load {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let vocab = WordPiece::read_bytes(text.as_bytes()).map_err(|e| load(&e))?;
    if !vocab.contains_key("[UNK]") {
        return Err(TokenizeError::MissingSpecialToken {
            role: "unk",
            candidates: &["[UNK]"],
        });
    }
    let model = WordPiece::builder()
        .vocab(vocab)
        .unk_token("[UNK]".into())
        .continuing_subword_prefix("##".into())
        .build()
        .map_err(|e| load(&e))?;
    let mut tok = bert_pipeline(model, lowercase);
    let present: Vec<AddedToken> = BERT_SPECIALS
        .iter()
        .filter(|s| tok.token_to_id(s).is_some())
        .map(|s| AddedToken::from(s.to_string(), true))
        .collect();
    tok.add_special_tokens(&present);
    let template = cls_sep_template(&tok)?;
    tok.with_post_processor(Some(template));
    Ok(Tokenizer::from_hf(tok, LoadOptions::default()))
}
