//! Pretraining examples as the BERT and ALBERT papers build them.
//!
//! - Segments (lines) of a document are packed up to `max_seq_len - 3` tokens;
//!   with probability `short_seq_prob` (0.1) a shorter random target length is used.
//! - BERT's NSP: 50% of the time the second segment is replaced by segments from
//!   another, random document (label 1 = random next, 0 = actual next).
//! - ALBERT's SOP: 50% of consecutive segment pairs are swapped (label 1 = swapped).
//! - Masking: 15% of the maskable tokens, 80% `[MASK]` / 10% random / 10% kept,
//!   optionally over whole words, optionally as n-grams (n ≤ `max_ngram`,
//!   p(n) ∝ 1/n, ALBERT). Special tokens are never masked.
//! - Masking is dynamic: [`PretrainDataset`] masks anew for each epoch, and
//!   everything is deterministic under a seed.
//!
//! Two choices differ from the reference scripts: packing is exact (a segment
//! that would overflow the target length is cut at a word start and its tail
//! opens the next chunk, so long paragraphs are not truncated away), and a chunk
//! made of a single segment is split at a random word start into A and B (so
//! NSP/SOP labels stay 50/50 instead of forcing "random next").

use rand::seq::SliceRandom;
use rand::Rng;
use rayon::prelude::*;

use bertlab_tokenize::Tokenizer;

use crate::batch::{collate, derived_rng, Batch, Example};
use crate::corpus::{CorpusReader, Document};
use crate::error::{DataError, Result};
use crate::ner::IGNORE_INDEX;

/// Token ids of one segment with a flag for the first subword of each word.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Segment {
    /// Token ids (no special tokens).
    pub ids: Vec<u32>,
    /// `true` where a word starts.
    pub word_start: Vec<bool>,
}

impl Segment {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    /// Whether there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
    fn extend(&mut self, other: &Segment) {
        self.ids.extend_from_slice(&other.ids);
        self.word_start.extend_from_slice(&other.word_start);
    }
    fn slice(&self, r: std::ops::Range<usize>) -> Segment {
        Segment {
            ids: self.ids[r.clone()].to_vec(),
            word_start: self.word_start[r].to_vec(),
        }
    }
}

/// A tokenized document: its non-empty segments in order.
pub type TokenizedDocument = Vec<Segment>;

/// Tokenize documents (all lines in parallel); empty lines and documents are dropped.
pub fn tokenize_documents(
    tokenizer: &Tokenizer,
    docs: &[Document],
) -> Result<Vec<TokenizedDocument>> {
    let lines: Vec<&str> = docs
        .iter()
        .flat_map(|d| d.lines.iter().map(String::as_str))
        .collect();
    let encodings = tokenizer.encode_batch(&lines, false)?;
    let mut it = encodings.into_iter();
    let mut out = Vec::with_capacity(docs.len());
    for d in docs {
        let mut segs = Vec::with_capacity(d.lines.len());
        for enc in it.by_ref().take(d.lines.len()) {
            if enc.is_empty() {
                continue;
            }
            let wids = enc.word_ids();
            let word_start = (0..enc.len())
                .map(|i| i == 0 || wids[i].is_none() || wids[i] != wids[i - 1])
                .collect();
            segs.push(Segment {
                ids: enc.ids().to_vec(),
                word_start,
            });
        }
        if !segs.is_empty() {
            out.push(segs);
        }
    }
    Ok(out)
}

/// Which sentence-pair task labels the pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairTask {
    /// BERT's next-sentence prediction.
    Nsp,
    /// ALBERT's sentence-order prediction.
    Sop,
}

/// How instances are cut from documents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstanceConfig {
    /// Longest instance, the three special tokens included.
    pub max_seq_len: usize,
    /// Probability of a shorter random target length.
    pub short_seq_prob: f64,
    /// NSP or SOP.
    pub task: PairTask,
}

impl InstanceConfig {
    /// BERT defaults: NSP, short-sequence probability 0.1.
    pub fn bert(max_seq_len: usize) -> Self {
        Self {
            max_seq_len,
            short_seq_prob: 0.1,
            task: PairTask::Nsp,
        }
    }
    /// ALBERT defaults: SOP, short-sequence probability 0.1.
    pub fn albert(max_seq_len: usize) -> Self {
        Self {
            max_seq_len,
            short_seq_prob: 0.1,
            task: PairTask::Sop,
        }
    }
    fn max_num_tokens(&self) -> Result<usize> {
        if self.max_seq_len < 5 {
            return Err(DataError::config(
                "max_seq_len",
                format!(
                    "{} is too short for [CLS] A [SEP] B [SEP]",
                    self.max_seq_len
                ),
            ));
        }
        if !(0.0..=1.0).contains(&self.short_seq_prob) {
            return Err(DataError::config("short_seq_prob", "must be in [0, 1]"));
        }
        Ok(self.max_seq_len - 3)
    }
}

/// An unmasked pretraining instance `[CLS] A [SEP] B [SEP]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PretrainInstance {
    /// Token ids, special tokens included.
    pub tokens: Vec<u32>,
    /// Word starts (special positions are `true`).
    pub word_start: Vec<bool>,
    /// Length of segment A (without specials): A is `tokens[1..1 + a_len]`.
    pub a_len: usize,
    /// NSP: 1 = B is random; SOP: 1 = A and B swapped; 0 otherwise.
    pub pair_label: i64,
}

impl PretrainInstance {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }
    /// Whether there are no tokens (never true for built instances).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
    /// Whether position `i` is `[CLS]` or one of the `[SEP]`s.
    pub fn is_special_position(&self, i: usize) -> bool {
        i == 0 || i == self.a_len + 1 || i + 1 == self.tokens.len()
    }
    /// 0 up to and including the first `[SEP]`, then 1.
    pub fn token_type_ids(&self) -> Vec<u32> {
        (0..self.tokens.len())
            .map(|i| u32::from(i > self.a_len + 1))
            .collect()
    }
}

/// A random split point in `1..len`, preferring word starts.
fn split_point<R: Rng>(seg: &Segment, rng: &mut R) -> usize {
    let starts: Vec<usize> = (1..seg.len()).filter(|&i| seg.word_start[i]).collect();
    if starts.is_empty() {
        rng.random_range(1..seg.len())
    } else {
        starts[rng.random_range(0..starts.len())]
    }
}

/// BERT's `truncate_seq_pair`: trim the longer side, from the front or the back
/// at random, until the pair fits.
fn truncate_pair<R: Rng>(a: &mut Segment, b: &mut Segment, max_num_tokens: usize, rng: &mut R) {
    while a.len() + b.len() > max_num_tokens {
        let longer = if a.len() > b.len() { &mut *a } else { &mut *b };
        if longer.len() <= 1 {
            break;
        }
        if rng.random_bool(0.5) {
            longer.ids.remove(0);
            longer.word_start.remove(0);
        } else {
            longer.ids.pop();
            longer.word_start.pop();
        }
    }
}

fn assemble(a: &Segment, b: &Segment, cls: u32, sep: u32, pair_label: i64) -> PretrainInstance {
    let mut tokens = Vec::with_capacity(a.len() + b.len() + 3);
    let mut word_start = Vec::with_capacity(tokens.capacity());
    tokens.push(cls);
    word_start.push(true);
    for seg in [a, b] {
        tokens.extend_from_slice(&seg.ids);
        word_start.extend_from_slice(&seg.word_start);
        if let Some(first) = word_start.get_mut(tokens.len() - seg.len()) {
            *first = true; // a segment never continues a word across [SEP]
        }
        tokens.push(sep);
        word_start.push(true);
    }
    PretrainInstance {
        tokens,
        word_start,
        a_len: a.len(),
        pair_label,
    }
}

/// Build instances from every document of a pool. `cls`/`sep` are the special ids.
///
/// For NSP the random second segment comes from another document of `docs`; a
/// pool of a single document uses itself, as BERT's reference script ends up doing.
pub fn create_instances<R: Rng>(
    docs: &[TokenizedDocument],
    config: &InstanceConfig,
    cls: u32,
    sep: u32,
    rng: &mut R,
) -> Result<Vec<PretrainInstance>> {
    let max_num_tokens = config.max_num_tokens()?;
    let docs: Vec<Vec<Segment>> = docs
        .iter()
        .map(|d| {
            d.iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect::<Vec<_>>()
        })
        .filter(|d: &Vec<Segment>| !d.is_empty())
        .collect();
    let mut out = Vec::new();
    for d in 0..docs.len() {
        instances_from_document(&docs, d, config, max_num_tokens, cls, sep, rng, &mut out);
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn instances_from_document<R: Rng>(
    docs: &[Vec<Segment>],
    doc_index: usize,
    config: &InstanceConfig,
    max_num_tokens: usize,
    cls: u32,
    sep: u32,
    rng: &mut R,
    out: &mut Vec<PretrainInstance>,
) {
    let mut document: Vec<Segment> = docs[doc_index].clone();
    let mut target_len = max_num_tokens;
    if rng.random_bool(config.short_seq_prob) {
        target_len = rng.random_range(2..=max_num_tokens);
    }
    let mut chunk_start = 0;
    let mut chunk_len = 0;
    let mut i = 0;
    while i < document.len() {
        // Pack exactly: a segment that would overflow the target is cut at a word
        // start and its tail begins the next chunk, so no text is truncated away.
        let room = target_len - chunk_len;
        let mut cut_here = false;
        if document[i].len() > room {
            let seg = &document[i];
            let cut = (1..=room)
                .rev()
                .find(|&p| seg.word_start[p])
                .unwrap_or(room);
            let tail = seg.slice(cut..seg.len());
            document[i] = seg.slice(0..cut);
            document.insert(i + 1, tail);
            cut_here = true;
        }
        chunk_len += document[i].len();
        if i + 1 == document.len() || chunk_len >= target_len || cut_here {
            let chunk = &document[chunk_start..=i];
            // A and B from the chunk: split at a segment boundary, or inside a lone segment.
            let (mut a, mut b, unused_after_a) = if chunk.len() >= 2 {
                let a_end = rng.random_range(1..chunk.len());
                let mut a = Segment::default();
                chunk[..a_end].iter().for_each(|s| a.extend(s));
                let mut b = Segment::default();
                chunk[a_end..].iter().for_each(|s| b.extend(s));
                (a, b, chunk.len() - a_end)
            } else if chunk[0].len() >= 2 {
                let cut = split_point(&chunk[0], rng);
                (
                    chunk[0].slice(0..cut),
                    chunk[0].slice(cut..chunk[0].len()),
                    0,
                )
            } else {
                (chunk[0].clone(), Segment::default(), 0)
            };
            let mut pair_label = 0;
            match config.task {
                PairTask::Nsp => {
                    if b.is_empty() || rng.random_bool(0.5) {
                        pair_label = 1;
                        let target_b = target_len.saturating_sub(a.len()).max(1);
                        let other = if docs.len() < 2 {
                            doc_index
                        } else {
                            let o = rng.random_range(0..docs.len() - 1);
                            o + usize::from(o >= doc_index)
                        };
                        let rdoc = &docs[other];
                        let start = rng.random_range(0..rdoc.len());
                        b = Segment::default();
                        for seg in &rdoc[start..] {
                            b.extend(seg);
                            if b.len() >= target_b {
                                break;
                            }
                        }
                        // The segments of this chunk that went unused are not wasted.
                        i -= unused_after_a;
                    }
                }
                PairTask::Sop => {
                    if b.is_empty() {
                        // A one-token document cannot form an ordered pair.
                        chunk_start = i + 1;
                        chunk_len = 0;
                        i += 1;
                        continue;
                    }
                    if rng.random_bool(0.5) {
                        pair_label = 1;
                        std::mem::swap(&mut a, &mut b);
                    }
                }
            }
            truncate_pair(&mut a, &mut b, max_num_tokens, rng);
            out.push(assemble(&a, &b, cls, sep, pair_label));
            chunk_start = i + 1;
            chunk_len = 0;
        }
        i += 1;
    }
}

/// How tokens are chosen and replaced for masked language modelling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaskingConfig {
    /// Fraction of maskable tokens to predict (0.15).
    pub mask_prob: f64,
    /// At most this many predictions per instance.
    pub max_predictions: usize,
    /// Mask whole words (all subwords of a word together).
    pub whole_word: bool,
    /// Longest n-gram of units (words or tokens) masked together; 1 = BERT, 3 = ALBERT.
    pub max_ngram: usize,
    /// Share of chosen tokens replaced by `[MASK]` (0.8).
    pub mask_token_prob: f64,
    /// Share of chosen tokens replaced by a random token (0.1); the rest are kept.
    pub random_token_prob: f64,
}

impl MaskingConfig {
    /// BERT: single tokens, 15%, 80/10/10.
    pub fn bert(max_predictions: usize) -> Self {
        Self {
            mask_prob: 0.15,
            max_predictions,
            whole_word: false,
            max_ngram: 1,
            mask_token_prob: 0.8,
            random_token_prob: 0.1,
        }
    }
    /// ALBERT: n-grams up to 3 with p(n) ∝ 1/n, 15%, 80/10/10.
    pub fn albert(max_predictions: usize) -> Self {
        Self {
            max_ngram: 3,
            ..Self::bert(max_predictions)
        }
    }
    fn validate(&self) -> Result<()> {
        let p = |x: f64| (0.0..=1.0).contains(&x);
        if !p(self.mask_prob) {
            return Err(DataError::config("mask_prob", "must be in [0, 1]"));
        }
        if !p(self.mask_token_prob)
            || !p(self.random_token_prob)
            || self.mask_token_prob + self.random_token_prob > 1.0
        {
            return Err(DataError::config(
                "mask_token_prob",
                "mask and random shares must be in [0, 1] and add up to at most 1",
            ));
        }
        if self.max_ngram == 0 {
            return Err(DataError::config("max_ngram", "must be at least 1"));
        }
        Ok(())
    }
}

/// The vocabulary facts masking needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskVocab {
    /// Id of `[MASK]`.
    pub mask_id: u32,
    /// Number of ids; random replacements are drawn from `0..vocab_size`.
    pub vocab_size: u32,
    /// Ids that are never masked and never drawn as replacements (sorted).
    pub special_ids: Vec<u32>,
}

impl MaskVocab {
    /// From a tokenizer: its `[MASK]`, size and special ids.
    pub fn from_tokenizer(tokenizer: &Tokenizer) -> Result<Self> {
        let special = tokenizer.special_tokens()?;
        Ok(Self {
            mask_id: special.mask,
            vocab_size: tokenizer.vocab_size() as u32,
            special_ids: tokenizer.special_ids(),
        })
    }
    fn is_special(&self, id: u32) -> bool {
        self.special_ids.binary_search(&id).is_ok()
    }
    fn random_token<R: Rng>(&self, rng: &mut R) -> u32 {
        if self.special_ids.len() as u32 >= self.vocab_size {
            return self.mask_id;
        }
        loop {
            let id = rng.random_range(0..self.vocab_size);
            if !self.is_special(id) {
                return id;
            }
        }
    }
}

/// A masked instance ready for batching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskedInstance {
    /// Token ids after masking.
    pub input_ids: Vec<u32>,
    /// Segment ids.
    pub token_type_ids: Vec<u32>,
    /// Original id at each chosen position, [`IGNORE_INDEX`] elsewhere.
    pub mlm_labels: Vec<i64>,
    /// NSP / SOP label.
    pub pair_label: i64,
}

impl Example for MaskedInstance {
    fn input_ids(&self) -> &[u32] {
        &self.input_ids
    }
    fn token_type_ids(&self) -> &[u32] {
        &self.token_type_ids
    }
    fn token_labels(&self) -> Option<&[i64]> {
        Some(&self.mlm_labels)
    }
    fn sequence_label(&self) -> Option<i64> {
        Some(self.pair_label)
    }
}

/// How many tokens of an instance with `maskable` candidates are predicted.
pub fn num_to_predict(maskable: usize, config: &MaskingConfig) -> usize {
    if maskable == 0 {
        return 0;
    }
    let n = (maskable as f64 * config.mask_prob).round() as usize;
    n.max(1).min(config.max_predictions).min(maskable)
}

/// Draw an n-gram length in `1..=max_n` with p(n) ∝ 1/n (ALBERT).
pub fn sample_ngram_len<R: Rng>(max_n: usize, rng: &mut R) -> usize {
    if max_n <= 1 {
        return 1;
    }
    let total: f64 = (1..=max_n).map(|k| 1.0 / k as f64).sum();
    let mut x = rng.random::<f64>() * total;
    for k in 1..=max_n {
        x -= 1.0 / k as f64;
        if x < 0.0 {
            return k;
        }
    }
    max_n
}

/// Mask one instance (BERT `create_masked_lm_predictions`, with ALBERT's n-grams
/// when `max_ngram > 1`).
pub fn mask_instance<R: Rng>(
    instance: &PretrainInstance,
    config: &MaskingConfig,
    vocab: &MaskVocab,
    rng: &mut R,
) -> MaskedInstance {
    let n = instance.len();
    let maskable: Vec<bool> = (0..n)
        .map(|i| !instance.is_special_position(i) && !vocab.is_special(instance.tokens[i]))
        .collect();
    // Units: maximal runs of a word's subwords (whole words) or single tokens.
    let mut units: Vec<std::ops::Range<usize>> = Vec::new();
    for i in 0..n {
        if !maskable[i] {
            continue;
        }
        let continues = config.whole_word
            && !instance.word_start[i]
            && i > 0
            && maskable[i - 1]
            && units.last().is_some_and(|u| u.end == i);
        match units.last_mut() {
            Some(u) if continues => u.end = i + 1,
            _ => units.push(i..i + 1),
        }
    }
    let budget = num_to_predict(maskable.iter().filter(|&&m| m).count(), config);
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.shuffle(rng);
    let mut covered = vec![false; n];
    let mut n_covered = 0;
    for &u in &order {
        if n_covered >= budget {
            break;
        }
        // n-grams of consecutive, adjacent units starting at u.
        let mut max_n = 1;
        while max_n < config.max_ngram
            && u + max_n < units.len()
            && units[u + max_n].start == units[u + max_n - 1].end
        {
            max_n += 1;
        }
        let mut ngram = sample_ngram_len(max_n, rng);
        let size = |k: usize| units[u + k - 1].end - units[u].start;
        while ngram > 1 && n_covered + size(ngram) > budget {
            ngram -= 1;
        }
        if n_covered + size(ngram) > budget {
            continue;
        }
        let span = units[u].start..units[u + ngram - 1].end;
        if span.clone().any(|p| covered[p]) {
            continue;
        }
        for p in span {
            covered[p] = true;
            n_covered += 1;
        }
    }
    let mut input_ids = instance.tokens.clone();
    let mut mlm_labels = vec![IGNORE_INDEX; n];
    for p in (0..n).filter(|&p| covered[p]) {
        mlm_labels[p] = instance.tokens[p] as i64;
        let r: f64 = rng.random();
        if r < config.mask_token_prob {
            input_ids[p] = vocab.mask_id;
        } else if r < config.mask_token_prob + config.random_token_prob {
            input_ids[p] = vocab.random_token(rng);
        }
    }
    MaskedInstance {
        input_ids,
        token_type_ids: instance.token_type_ids(),
        mlm_labels,
        pair_label: instance.pair_label,
    }
}

/// Unmasked instances with dynamic masking: each (epoch, index) gets its own
/// masking, fixed by the seed.
#[derive(Debug, Clone)]
pub struct PretrainDataset {
    /// The instances.
    pub instances: Vec<PretrainInstance>,
    /// Masking settings.
    pub masking: MaskingConfig,
    /// Vocabulary facts.
    pub vocab: MaskVocab,
    /// Pad id for batches.
    pub pad_id: u32,
    /// Seed of the masking.
    pub seed: u64,
}

impl PretrainDataset {
    /// Build, checking the masking settings.
    pub fn new(
        instances: Vec<PretrainInstance>,
        masking: MaskingConfig,
        vocab: MaskVocab,
        pad_id: u32,
        seed: u64,
    ) -> Result<Self> {
        masking.validate()?;
        Ok(Self {
            instances,
            masking,
            vocab,
            pad_id,
            seed,
        })
    }
    /// Number of instances.
    pub fn len(&self) -> usize {
        self.instances.len()
    }
    /// Whether there are no instances.
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }
    /// Lengths, for batch planning.
    pub fn lengths(&self) -> Vec<usize> {
        self.instances.iter().map(PretrainInstance::len).collect()
    }
    /// Instance `index` masked for `epoch`.
    pub fn masked(&self, index: usize, epoch: u64) -> MaskedInstance {
        let mut rng = derived_rng(self.seed, epoch, index as u64);
        mask_instance(&self.instances[index], &self.masking, &self.vocab, &mut rng)
    }
    /// A padded batch of the given instances, masked for `epoch` (in parallel).
    pub fn batch(&self, indices: &[usize], epoch: u64) -> Result<Batch> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.instances.len()) {
            return Err(DataError::Shape(format!(
                "index {bad} out of {} instances",
                self.len()
            )));
        }
        let masked: Vec<MaskedInstance> =
            indices.par_iter().map(|&i| self.masked(i, epoch)).collect();
        let local: Vec<usize> = (0..masked.len()).collect();
        let mut batch = collate(&masked, &local, self.pad_id, None)?;
        batch.indices = indices.to_vec();
        Ok(batch)
    }
}

/// Streams instances from a corpus: reads `pool_docs` documents at a time,
/// tokenizes them in parallel and cuts instances within the pool (random
/// documents for NSP come from the same pool). Deterministic under `seed`.
pub struct InstanceStream<'t> {
    reader: CorpusReader,
    tokenizer: &'t Tokenizer,
    config: InstanceConfig,
    pool_docs: usize,
    seed: u64,
    pool_index: u64,
    cls: u32,
    sep: u32,
    done: bool,
}

impl<'t> InstanceStream<'t> {
    /// A stream over `reader`'s documents.
    pub fn new(
        reader: CorpusReader,
        tokenizer: &'t Tokenizer,
        config: InstanceConfig,
        pool_docs: usize,
        seed: u64,
    ) -> Result<Self> {
        config.max_num_tokens()?;
        if pool_docs < 2 {
            return Err(DataError::config("pool_docs", "must be at least 2"));
        }
        let special = tokenizer.special_tokens()?;
        Ok(Self {
            reader,
            tokenizer,
            config,
            pool_docs,
            seed,
            pool_index: 0,
            cls: special.cls,
            sep: special.sep,
            done: false,
        })
    }

    fn next_pool(&mut self) -> Option<Result<Vec<PretrainInstance>>> {
        let mut docs = Vec::with_capacity(self.pool_docs);
        for doc in self.reader.by_ref().take(self.pool_docs) {
            match doc {
                Ok(d) => docs.push(d),
                Err(e) => return Some(Err(e)),
            }
        }
        if docs.is_empty() {
            return None;
        }
        let result = (|| {
            let tokenized = tokenize_documents(self.tokenizer, &docs)?;
            let mut rng = derived_rng(self.seed, 0, self.pool_index);
            create_instances(&tokenized, &self.config, self.cls, self.sep, &mut rng)
        })();
        self.pool_index += 1;
        Some(result)
    }
}

impl Iterator for InstanceStream<'_> {
    type Item = Result<Vec<PretrainInstance>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.next_pool();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}
