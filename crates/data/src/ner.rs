//! NER features: subword labels, overlapping windows, and merging window
//! predictions back to exactly one prediction per word.
//!
//! The first subword of each word carries the word's label and the others
//! carry [`IGNORE_INDEX`]. A sentence whose subwords do not fit in
//! `max_len - 2` tokens is split into overlapping windows over whole words.
//! Each word is *owned* by exactly one window (the overlap is split down the
//! middle), and [`merge_window_predictions`] takes each word's prediction from
//! its owner, so no word is dropped or predicted twice.

use std::ops::Range;

use bertlab_tokenize::Tokenizer;

use crate::error::{DataError, Result};

/// Label value for positions that take no part in the loss.
pub const IGNORE_INDEX: i64 = -100;

/// How many of `labels` take part in the loss (are not [`IGNORE_INDEX`]).
pub fn count_labelled(labels: &[i64]) -> usize {
    labels.iter().filter(|&&l| l != IGNORE_INDEX).count()
}

/// Window settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NerConfig {
    /// Longest feature, `[CLS]` and `[SEP]` included.
    pub max_len: usize,
    /// Subword tokens shared by consecutive windows (at most; whole words only).
    /// Must be less than half of `max_len - 2`.
    pub stride: usize,
}

impl Default for NerConfig {
    fn default() -> Self {
        Self {
            max_len: 128,
            stride: 32,
        }
    }
}

impl NerConfig {
    fn capacity(&self) -> Result<usize> {
        if self.max_len < 3 {
            return Err(DataError::config(
                "max_len",
                format!(
                    "{} leaves no room for words between [CLS] and [SEP]",
                    self.max_len
                ),
            ));
        }
        let cap = self.max_len - 2;
        if 2 * self.stride >= cap {
            return Err(DataError::config(
                "stride",
                format!(
                    "{} must be less than half of max_len - 2 = {cap}",
                    self.stride
                ),
            ));
        }
        Ok(cap)
    }
}

/// A window over the words of one sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowPlan {
    /// Words whose subwords are in the window.
    pub words: Range<usize>,
    /// Words whose prediction is taken from this window (a sub-range of `words`;
    /// may be empty).
    pub owned: Range<usize>,
}

/// Plan windows over words with `word_lens[i]` subwords each, at most `capacity`
/// subwords per window and about `overlap` subwords shared between neighbours.
///
/// A word longer than `capacity` gets a window of its own (its subwords are cut
/// to `capacity`, keeping the first). Every word is owned by exactly one window.
pub fn plan_windows(word_lens: &[usize], capacity: usize, overlap: usize) -> Vec<WindowPlan> {
    let n = word_lens.len();
    let cap = capacity.max(1);
    let size = |w: usize| word_lens[w].clamp(1, cap);
    if n == 0 {
        return vec![WindowPlan {
            words: 0..0,
            owned: 0..0,
        }];
    }
    let mut spans: Vec<Range<usize>> = Vec::new();
    let mut start = 0;
    loop {
        let mut end = start + 1;
        let mut used = size(start);
        while end < n && used + size(end) <= cap {
            used += size(end);
            end += 1;
        }
        spans.push(start..end);
        if end == n {
            break;
        }
        // Step back over whole words while the shared part stays within `overlap`.
        let mut next = end;
        let mut shared = 0;
        while next - 1 > start && shared + size(next - 1) <= overlap {
            shared += size(next - 1);
            next -= 1;
        }
        start = next;
    }
    // Split each overlap down the middle; clamp so ranges stay ordered and inside.
    let mut bounds = Vec::with_capacity(spans.len() + 1);
    bounds.push(0);
    for k in 0..spans.len() - 1 {
        let mid = (spans[k + 1].start + spans[k].end) / 2;
        let prev = *bounds.last().unwrap();
        bounds.push(mid.max(prev).min(spans[k].end));
    }
    bounds.push(n);
    spans
        .into_iter()
        .enumerate()
        .map(|(k, words)| WindowPlan {
            owned: bounds[k]..bounds[k + 1],
            words,
        })
        .collect()
}

/// One model input built from (part of) a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NerFeature {
    /// `[CLS] subwords [SEP]`.
    pub input_ids: Vec<u32>,
    /// All 0 (single segment).
    pub token_type_ids: Vec<u32>,
    /// Label id at each word's first subword, [`IGNORE_INDEX`] elsewhere. All
    /// [`IGNORE_INDEX`] when built without labels.
    pub labels: Vec<i64>,
    /// Sentence word index of each position (`None` for `[CLS]`/`[SEP]`).
    pub word_index: Vec<Option<usize>>,
    /// Whether each position is the first subword of its word.
    pub first_subword: Vec<bool>,
    /// Index of the sentence this feature comes from.
    pub sentence: usize,
    /// Index of this window within its sentence.
    pub window: usize,
    /// Number of windows of the sentence.
    pub num_windows: usize,
    /// Words present in this window.
    pub words: Range<usize>,
    /// Words whose prediction comes from this window.
    pub owned: Range<usize>,
}

impl NerFeature {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.input_ids.len()
    }
    /// Whether there are no tokens (never true for built features).
    pub fn is_empty(&self) -> bool {
        self.input_ids.is_empty()
    }
    /// Positions of the first subwords of the owned words, in word order.
    pub fn owned_positions(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.word_index
            .iter()
            .zip(&self.first_subword)
            .enumerate()
            .filter_map(|(pos, (w, &first))| match w {
                Some(w) if first && self.owned.contains(w) => Some((*w, pos)),
                _ => None,
            })
    }
}

/// Subword ids of each word (a word with no subwords becomes `[UNK]`, so it still
/// gets a prediction).
fn subwords_per_word<W: AsRef<[String]> + Sync>(
    tokenizer: &Tokenizer,
    sentences: &[W],
    unk: u32,
) -> Result<Vec<Vec<Vec<u32>>>> {
    let encodings = tokenizer.encode_words_batch(sentences, false)?;
    Ok(sentences
        .iter()
        .zip(encodings)
        .map(|(words, enc)| {
            let mut per_word: Vec<Vec<u32>> = vec![Vec::new(); words.as_ref().len()];
            for (&id, wid) in enc.ids().iter().zip(enc.word_ids()) {
                if let Some(w) = wid {
                    if let Some(slot) = per_word.get_mut(*w as usize) {
                        slot.push(id);
                    }
                }
            }
            for slot in &mut per_word {
                if slot.is_empty() {
                    slot.push(unk);
                }
            }
            per_word
        })
        .collect())
}

/// Build NER features for pre-split sentences.
///
/// `labels`, when given, has one label id per word of each sentence.
pub fn build_ner_features<W: AsRef<[String]> + Sync>(
    tokenizer: &Tokenizer,
    sentences: &[W],
    labels: Option<&[Vec<i64>]>,
    config: &NerConfig,
) -> Result<Vec<NerFeature>> {
    let capacity = config.capacity()?;
    if let Some(labels) = labels {
        if labels.len() != sentences.len() {
            return Err(DataError::Shape(format!(
                "{} sentences but {} label lists",
                sentences.len(),
                labels.len()
            )));
        }
        for (i, (s, l)) in sentences.iter().zip(labels).enumerate() {
            if s.as_ref().len() != l.len() {
                return Err(DataError::Shape(format!(
                    "sentence {i} has {} words but {} labels",
                    s.as_ref().len(),
                    l.len()
                )));
            }
        }
    }
    let special = tokenizer.special_tokens()?;
    let per_sentence = subwords_per_word(tokenizer, sentences, special.unk)?;
    let mut features = Vec::new();
    for (si, subwords) in per_sentence.iter().enumerate() {
        let lens: Vec<usize> = subwords.iter().map(Vec::len).collect();
        let plans = plan_windows(&lens, capacity, config.stride);
        let num_windows = plans.len();
        for (wi, plan) in plans.into_iter().enumerate() {
            let mut input_ids = vec![special.cls];
            let mut word_index = vec![None];
            let mut first_subword = vec![false];
            let mut label_row = vec![IGNORE_INDEX];
            for w in plan.words.clone() {
                let ids = &subwords[w][..subwords[w].len().min(capacity)];
                for (k, &id) in ids.iter().enumerate() {
                    input_ids.push(id);
                    word_index.push(Some(w));
                    first_subword.push(k == 0);
                    label_row.push(match (k, labels) {
                        (0, Some(l)) => l[si][w],
                        _ => IGNORE_INDEX,
                    });
                }
            }
            input_ids.push(special.sep);
            word_index.push(None);
            first_subword.push(false);
            label_row.push(IGNORE_INDEX);
            features.push(NerFeature {
                token_type_ids: vec![0; input_ids.len()],
                input_ids,
                labels: label_row,
                word_index,
                first_subword,
                sentence: si,
                window: wi,
                num_windows,
                words: plan.words,
                owned: plan.owned,
            });
        }
    }
    Ok(features)
}

/// Merge per-position predictions of every feature back to one prediction per
/// word of every sentence. `predictions[f]` is aligned with `features[f].input_ids`
/// (it may be longer, e.g. padded); `num_words[s]` is the word count of sentence `s`.
///
/// Fails if any word would get no prediction or more than one.
pub fn merge_window_predictions<T: Clone>(
    features: &[NerFeature],
    predictions: &[Vec<T>],
    num_words: &[usize],
) -> Result<Vec<Vec<T>>> {
    if features.len() != predictions.len() {
        return Err(DataError::Shape(format!(
            "{} features but {} prediction rows",
            features.len(),
            predictions.len()
        )));
    }
    let mut merged: Vec<Vec<Option<T>>> = num_words.iter().map(|&n| vec![None; n]).collect();
    for (f, (feature, row)) in features.iter().zip(predictions).enumerate() {
        if row.len() < feature.len() {
            return Err(DataError::Shape(format!(
                "feature {f} has {} tokens but {} predictions",
                feature.len(),
                row.len()
            )));
        }
        let slots = merged.get_mut(feature.sentence).ok_or_else(|| {
            DataError::Shape(format!(
                "feature {f} refers to sentence {} of {}",
                feature.sentence,
                num_words.len()
            ))
        })?;
        for (w, pos) in feature.owned_positions() {
            let slot = slots.get_mut(w).ok_or_else(|| {
                DataError::Shape(format!(
                    "feature {f} refers to word {w} of sentence {} with {} words",
                    feature.sentence, num_words[feature.sentence]
                ))
            })?;
            if slot.is_some() {
                return Err(DataError::Shape(format!(
                    "word {w} of sentence {} is predicted twice",
                    feature.sentence
                )));
            }
            *slot = Some(row[pos].clone());
        }
    }
    merged
        .into_iter()
        .enumerate()
        .map(|(s, words)| {
            words
                .into_iter()
                .enumerate()
                .map(|(w, p)| {
                    p.ok_or_else(|| {
                        DataError::Shape(format!("word {w} of sentence {s} has no prediction"))
                    })
                })
                .collect()
        })
        .collect()
}
