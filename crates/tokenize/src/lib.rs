//! Hugging Face tokenizers for bertlab, with no Python at run time.
//!
//! [`Tokenizer`] wraps a `tokenizers` pipeline loaded from any `tokenizer.json`
//! (BERT WordPiece, ALBERT Unigram with Metaspace, ...). Padding and truncation
//! stored in the file are switched off on load unless the caller asks to keep
//! them, so an encoding is exactly `[CLS] A [SEP] (B [SEP])` with no padding.
//!
//! [`train`] builds BERT-style WordPiece and ALBERT-style Unigram vocabularies
//! from a corpus, with post-processors for single and paired input.

#![warn(missing_docs)]

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use tokenizers::tokenizer::InputSequence;
use tokenizers::utils::padding::{PaddingDirection, PaddingParams, PaddingStrategy};
use tokenizers::utils::truncation::{
    truncate_encodings, TruncationDirection, TruncationParams, TruncationStrategy,
};
use tokenizers::EncodeInput;

pub mod train;

pub use train::{
    train_unigram, train_unigram_from_texts, train_wordpiece, train_wordpiece_from_texts,
    UnigramTrainOptions, WordPieceTrainOptions,
};

/// Everything that can go wrong while loading, encoding, training or saving.
#[derive(Debug, thiserror::Error)]
pub enum TokenizeError {
    /// A `tokenizer.json` (or vocabulary) could not be read or parsed.
    #[error("cannot load tokenizer from {path}: {message}")]
    Load {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The tokenizer could not be written.
    #[error("cannot save tokenizer to {path}: {message}")]
    Save {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Encoding failed inside the HF pipeline.
    #[error("cannot encode input: {0}")]
    Encode(String),
    /// Decoding failed inside the HF pipeline.
    #[error("cannot decode ids: {0}")]
    Decode(String),
    /// A special token the caller needs is not in the vocabulary.
    #[error("special token {role} is missing from the vocabulary (looked for {candidates:?})")]
    MissingSpecialToken {
        /// Role of the token (`pad`, `unk`, `cls`, `sep`, `mask`).
        role: &'static str,
        /// Token strings that were looked up.
        candidates: &'static [&'static str],
    },
    /// Training a vocabulary failed.
    #[error("cannot train tokenizer: {0}")]
    Train(String),
    /// Invalid options were given.
    #[error("invalid tokenizer option {key}: {message}")]
    Option {
        /// Name of the option.
        key: &'static str,
        /// What is wrong with its value.
        message: String,
    },
}

/// Crate result type.
pub type Result<T> = std::result::Result<T, TokenizeError>;

/// What to keep from the padding and truncation settings stored in a `tokenizer.json`.
///
/// Both default to `false`: a loaded tokenizer neither pads nor truncates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Keep the file's padding settings.
    pub keep_padding: bool,
    /// Keep the file's truncation settings.
    pub keep_truncation: bool,
}

/// Ids of the five special tokens BERT-family models use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialTokens {
    /// Padding token (`[PAD]` or `<pad>`).
    pub pad: u32,
    /// Unknown token (`[UNK]` or `<unk>`).
    pub unk: u32,
    /// Classification token (`[CLS]`).
    pub cls: u32,
    /// Separator token (`[SEP]`).
    pub sep: u32,
    /// Mask token (`[MASK]`).
    pub mask: u32,
}

const PAD_NAMES: &[&str] = &["[PAD]", "<pad>"];
const UNK_NAMES: &[&str] = &["[UNK]", "<unk>"];
const CLS_NAMES: &[&str] = &["[CLS]", "<cls>", "<s>"];
const SEP_NAMES: &[&str] = &["[SEP]", "<sep>", "</s>"];
const MASK_NAMES: &[&str] = &["[MASK]", "<mask>"];

/// Padding length for opt-in padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PadTo {
    /// Pad every encoding of a batch to the longest one.
    Longest,
    /// Pad every encoding to this many tokens.
    Fixed(usize),
}

/// One encoded input: ids, token types, tokens, offsets and word alignment.
///
/// A thin owner of the HF encoding; accessors borrow without copying.
#[derive(Debug, Clone)]
pub struct Encoding(tokenizers::Encoding);

impl Encoding {
    /// Token ids.
    pub fn ids(&self) -> &[u32] {
        self.0.get_ids()
    }
    /// Token type (segment) ids: 0 for the first sequence and its specials, 1 for the second.
    pub fn type_ids(&self) -> &[u32] {
        self.0.get_type_ids()
    }
    /// Token strings.
    pub fn tokens(&self) -> &[String] {
        self.0.get_tokens()
    }
    /// Byte offsets of each token in its (original) input sequence.
    pub fn offsets(&self) -> &[(usize, usize)] {
        self.0.get_offsets()
    }
    /// Index of the word each token comes from; `None` for special tokens.
    ///
    /// For pre-split input ([`Tokenizer::encode_words`]) this is the index into
    /// the given word slice.
    pub fn word_ids(&self) -> &[Option<u32>] {
        self.0.get_word_ids()
    }
    /// Which input sequence (0 or 1) each token belongs to; `None` for special tokens.
    pub fn sequence_ids(&self) -> Vec<Option<usize>> {
        self.0.get_sequence_ids()
    }
    /// 1 for tokens added by the post-processor (CLS/SEP) or padding, else 0.
    pub fn special_tokens_mask(&self) -> &[u32] {
        self.0.get_special_tokens_mask()
    }
    /// 1 for real tokens, 0 for padding.
    pub fn attention_mask(&self) -> &[u32] {
        self.0.get_attention_mask()
    }
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether there are no tokens at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The wrapped HF encoding.
    pub fn as_hf(&self) -> &tokenizers::Encoding {
        &self.0
    }
}

/// A loaded or trained tokenizer. Cheap to share across threads (`Send + Sync`).
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    file_padding: Option<PaddingParams>,
    file_truncation: Option<TruncationParams>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.vocab_size())
            .field("padding", &self.inner.get_padding().is_some())
            .field("truncation", &self.inner.get_truncation().is_some())
            .finish()
    }
}

fn load_err(path: &Path, e: impl std::fmt::Display) -> TokenizeError {
    TokenizeError::Load {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn enc_err(e: impl std::fmt::Display) -> TokenizeError {
    TokenizeError::Encode(e.to_string())
}

impl Tokenizer {
    /// Load a `tokenizer.json`, switching its padding and truncation off.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_file_with(path, LoadOptions::default())
    }

    /// Load a `tokenizer.json`, keeping the stored padding/truncation as `options` says.
    pub fn from_file_with(path: impl AsRef<Path>, options: LoadOptions) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| load_err(path, e))?;
        let inner = tokenizers::Tokenizer::from_bytes(&bytes).map_err(|e| load_err(path, e))?;
        Ok(Self::from_hf(inner, options))
    }

    /// Parse a `tokenizer.json` held in memory, switching padding and truncation off.
    pub fn from_json_str(json: &str) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_bytes(json.as_bytes())
            .map_err(|e| load_err(Path::new("<memory>"), e))?;
        Ok(Self::from_hf(inner, LoadOptions::default()))
    }

    /// Wrap an HF tokenizer; its padding/truncation are kept only as `options` says.
    pub fn from_hf(mut inner: tokenizers::Tokenizer, options: LoadOptions) -> Self {
        let file_padding = inner.get_padding().cloned();
        let file_truncation = inner.get_truncation().cloned();
        if !options.keep_padding {
            inner.with_padding(None);
        }
        if !options.keep_truncation {
            // Removing truncation cannot fail.
            let _ = inner.with_truncation(None);
        }
        Self {
            inner,
            file_padding,
            file_truncation,
        }
    }

    /// A BERT-style WordPiece tokenizer over the given vocabulary (one token per
    /// id, in order, as in `vocab.txt`), with BertNormalizer and the
    /// `[CLS] A [SEP] B [SEP]` post-processor.
    pub fn from_wordpiece_vocab<S: AsRef<str>>(vocab: &[S], lowercase: bool) -> Result<Self> {
        let text: String = vocab
            .iter()
            .map(|t| t.as_ref())
            .collect::<Vec<_>>()
            .join("\n");
        train::bert_from_vocab_text(&text, lowercase, Path::new("<memory>"))
    }

    /// A BERT-style WordPiece tokenizer from a `vocab.txt` file.
    pub fn from_vocab_txt(path: impl AsRef<Path>, lowercase: bool) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| load_err(path, e))?;
        train::bert_from_vocab_text(&text, lowercase, path)
    }

    /// The wrapped HF tokenizer.
    pub fn as_hf(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Padding settings that were stored in the loaded file, whether or not they are active.
    pub fn file_padding(&self) -> Option<&PaddingParams> {
        self.file_padding.as_ref()
    }

    /// Truncation settings that were stored in the loaded file, whether or not they are active.
    pub fn file_truncation(&self) -> Option<&TruncationParams> {
        self.file_truncation.as_ref()
    }

    /// Whether padding is active.
    pub fn padding_enabled(&self) -> bool {
        self.inner.get_padding().is_some()
    }

    /// Whether truncation is active.
    pub fn truncation_enabled(&self) -> bool {
        self.inner.get_truncation().is_some()
    }

    /// Turn on right-padding with the vocabulary's pad token.
    pub fn with_padding(mut self, pad_to: PadTo) -> Result<Self> {
        let pad = self.special_tokens_required(&["pad"])?;
        let pad_id = pad[0];
        let pad_token = self.inner.id_to_token(pad_id).unwrap_or_default();
        self.inner.with_padding(Some(PaddingParams {
            strategy: match pad_to {
                PadTo::Longest => PaddingStrategy::BatchLongest,
                PadTo::Fixed(n) => PaddingStrategy::Fixed(n),
            },
            direction: PaddingDirection::Right,
            pad_to_multiple_of: None,
            pad_id,
            pad_type_id: 0,
            pad_token,
        }));
        Ok(self)
    }

    /// Turn on longest-first truncation to `max_length` tokens (special tokens included).
    pub fn with_truncation(mut self, max_length: usize) -> Result<Self> {
        self.inner
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| TokenizeError::Option {
                key: "max_length",
                message: e.to_string(),
            })?;
        Ok(self)
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Id of a token string, if it is in the vocabulary.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Token string of an id.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    fn find_special(&self, names: &[&str]) -> Option<u32> {
        names.iter().find_map(|n| self.inner.token_to_id(n))
    }

    fn special_tokens_required(&self, roles: &[&'static str]) -> Result<Vec<u32>> {
        roles
            .iter()
            .map(|&role| {
                let candidates = match role {
                    "pad" => PAD_NAMES,
                    "unk" => UNK_NAMES,
                    "cls" => CLS_NAMES,
                    "sep" => SEP_NAMES,
                    _ => MASK_NAMES,
                };
                self.find_special(candidates)
                    .ok_or(TokenizeError::MissingSpecialToken { role, candidates })
            })
            .collect()
    }

    /// Ids of `[PAD] [UNK] [CLS] [SEP] [MASK]` (or `<pad>`/`<unk>`), or an error
    /// naming the first one missing.
    pub fn special_tokens(&self) -> Result<SpecialTokens> {
        let ids = self.special_tokens_required(&["pad", "unk", "cls", "sep", "mask"])?;
        Ok(SpecialTokens {
            pad: ids[0],
            unk: ids[1],
            cls: ids[2],
            sep: ids[3],
            mask: ids[4],
        })
    }

    /// All ids registered as special added tokens, plus the five roles of
    /// [`SpecialTokens`] when present. Sorted, no duplicates.
    pub fn special_ids(&self) -> Vec<u32> {
        let mut set: BTreeSet<u32> = self
            .inner
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, t)| t.special)
            .map(|(id, _)| id)
            .collect();
        for names in [PAD_NAMES, UNK_NAMES, CLS_NAMES, SEP_NAMES, MASK_NAMES] {
            if let Some(id) = self.find_special(names) {
                set.insert(id);
            }
        }
        set.into_iter().collect()
    }

    /// Number of tokens the post-processor adds to a single input (`false`) or a pair (`true`).
    pub fn num_added_tokens(&self, pair: bool) -> usize {
        self.inner
            .get_post_processor()
            .map(|p| tokenizers::PostProcessor::added_tokens(p, pair))
            .unwrap_or(0)
    }

    /// Encode one text.
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Encoding> {
        self.inner
            .encode(text, add_special_tokens)
            .map(Encoding)
            .map_err(enc_err)
    }

    /// Encode `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]` (special tokens added).
    ///
    /// Token types are 0 for the first segment with its CLS/SEP and 1 for the second.
    pub fn encode_pair(&self, a: &str, b: Option<&str>) -> Result<Encoding> {
        let input: EncodeInput = match b {
            Some(b) => (a, b).into(),
            None => a.into(),
        };
        self.inner
            .encode(input, true)
            .map(Encoding)
            .map_err(enc_err)
    }

    /// Like [`encode_pair`](Self::encode_pair) but cut longest-first so that the
    /// result, special tokens included, has at most `max_length` tokens.
    pub fn encode_pair_truncated(
        &self,
        a: &str,
        b: Option<&str>,
        max_length: usize,
    ) -> Result<Encoding> {
        let added = self.num_added_tokens(b.is_some());
        if max_length < added + if b.is_some() { 2 } else { 1 } {
            return Err(TokenizeError::Option {
                key: "max_length",
                message: format!(
                    "{max_length} leaves no room for text next to {added} special tokens"
                ),
            });
        }
        let ea = self.inner.encode(a, false).map_err(enc_err)?;
        let eb = match b {
            Some(b) => Some(self.inner.encode(b, false).map_err(enc_err)?),
            None => None,
        };
        let params = TruncationParams {
            direction: TruncationDirection::Right,
            max_length: max_length - added,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
        };
        let (mut ea, mut eb) = truncate_encodings(ea, eb, &params).map_err(enc_err)?;
        // Overflowing pieces are not wanted here; dropping them keeps the result plain.
        ea.set_overflowing(vec![]);
        if let Some(eb) = eb.as_mut() {
            eb.set_overflowing(vec![]);
            eb.set_type_ids(vec![1; eb.len()]);
            eb.set_sequence_id(1);
        }
        ea.set_sequence_id(0);
        self.inner
            .post_process(ea, eb, true)
            .map(Encoding)
            .map_err(enc_err)
    }

    /// Encode input that is already split into words; `word_ids` index into `words`.
    pub fn encode_words<S: AsRef<str>>(
        &self,
        words: &[S],
        add_special_tokens: bool,
    ) -> Result<Encoding> {
        let seq: Vec<Cow<str>> = words.iter().map(|w| Cow::Borrowed(w.as_ref())).collect();
        self.inner
            .encode(InputSequence::from(seq), add_special_tokens)
            .map(Encoding)
            .map_err(enc_err)
    }

    /// Encode many texts in parallel (rayon's current pool). Order is preserved.
    pub fn encode_batch<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        add_special_tokens: bool,
    ) -> Result<Vec<Encoding>> {
        let mut out: Vec<Encoding> = texts
            .par_iter()
            .map(|t| self.encode(t.as_ref(), add_special_tokens))
            .collect::<Result<_>>()?;
        self.pad_batch(&mut out)?;
        Ok(out)
    }

    /// Encode many texts on the calling thread only. Order is preserved.
    pub fn encode_batch_serial<S: AsRef<str>>(
        &self,
        texts: &[S],
        add_special_tokens: bool,
    ) -> Result<Vec<Encoding>> {
        let mut out: Vec<Encoding> = texts
            .iter()
            .map(|t| self.encode(t.as_ref(), add_special_tokens))
            .collect::<Result<_>>()?;
        self.pad_batch(&mut out)?;
        Ok(out)
    }

    /// Encode many (a, optional b) pairs in parallel, special tokens added.
    pub fn encode_pair_batch<A, B>(&self, pairs: &[(A, Option<B>)]) -> Result<Vec<Encoding>>
    where
        A: AsRef<str> + Sync,
        B: AsRef<str> + Sync,
    {
        let mut out: Vec<Encoding> = pairs
            .par_iter()
            .map(|(a, b)| self.encode_pair(a.as_ref(), b.as_ref().map(|b| b.as_ref())))
            .collect::<Result<_>>()?;
        self.pad_batch(&mut out)?;
        Ok(out)
    }

    /// Encode many pre-split word sequences in parallel.
    pub fn encode_words_batch<W, S>(
        &self,
        sentences: &[W],
        add_special_tokens: bool,
    ) -> Result<Vec<Encoding>>
    where
        W: AsRef<[S]> + Sync,
        S: AsRef<str>,
    {
        let mut out: Vec<Encoding> = sentences
            .par_iter()
            .map(|w| self.encode_words(w.as_ref(), add_special_tokens))
            .collect::<Result<_>>()?;
        self.pad_batch(&mut out)?;
        Ok(out)
    }

    /// Apply batch-longest padding when the caller turned padding on
    /// (single encodes only pad to a fixed length by themselves).
    fn pad_batch(&self, encs: &mut [Encoding]) -> Result<()> {
        if let Some(params) = self.inner.get_padding() {
            if matches!(params.strategy, PaddingStrategy::BatchLongest) {
                let mut hf: Vec<tokenizers::Encoding> =
                    encs.iter_mut().map(|e| std::mem::take(&mut e.0)).collect();
                tokenizers::pad_encodings(&mut hf, params).map_err(enc_err)?;
                for (e, h) in encs.iter_mut().zip(hf) {
                    e.0 = h;
                }
            }
        }
        Ok(())
    }

    /// Decode ids back to text.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| TokenizeError::Decode(e.to_string()))
    }

    /// Serialise as `tokenizer.json` text. Padding/truncation are written as currently active.
    pub fn to_json(&self, pretty: bool) -> Result<String> {
        self.inner
            .to_string(pretty)
            .map_err(|e| TokenizeError::Save {
                path: PathBuf::from("<memory>"),
                message: e.to_string(),
            })
    }

    /// Write `tokenizer.json` atomically (temporary file in the same folder, then rename).
    pub fn save(&self, path: impl AsRef<Path>, pretty: bool) -> Result<()> {
        let path = path.as_ref();
        let json = self.to_json(pretty).map_err(|e| match e {
            TokenizeError::Save { message, .. } => TokenizeError::Save {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })?;
        write_atomic(path, json.as_bytes()).map_err(|e| TokenizeError::Save {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}

/// Write `bytes` to `path` via a temporary file in the same folder and a rename,
/// so readers never see a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
