//! Batching: dynamic padding to the longest sequence of a batch, length-bucketed
//! sampling, and batches bounded by a token budget. Batches are plain Rust data.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{DataError, Result};
use crate::ner::{NerFeature, IGNORE_INDEX};

/// Anything that can go into a [`Batch`].
pub trait Example {
    /// Token ids.
    fn input_ids(&self) -> &[u32];
    /// Token type ids (same length as `input_ids`).
    fn token_type_ids(&self) -> &[u32];
    /// Per-token labels (NER tags, MLM targets) with [`IGNORE_INDEX`] where unused.
    fn token_labels(&self) -> Option<&[i64]> {
        None
    }
    /// One label for the whole sequence (class, NSP/SOP).
    fn sequence_label(&self) -> Option<i64> {
        None
    }
    /// Number of tokens.
    fn seq_len(&self) -> usize {
        self.input_ids().len()
    }
}

impl Example for NerFeature {
    fn input_ids(&self) -> &[u32] {
        &self.input_ids
    }
    fn token_type_ids(&self) -> &[u32] {
        &self.token_type_ids
    }
    fn token_labels(&self) -> Option<&[i64]> {
        Some(&self.labels)
    }
}

/// A padded batch, row-major `(batch_size, seq_len)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Number of rows.
    pub batch_size: usize,
    /// Length of every row (the longest example, rounded up if asked).
    pub seq_len: usize,
    /// Token ids, padded with the pad id.
    pub input_ids: Vec<i64>,
    /// Token types, padded with 0.
    pub token_type_ids: Vec<i64>,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Vec<i64>,
    /// Per-token labels, padded with [`IGNORE_INDEX`], when the examples have them.
    pub token_labels: Option<Vec<i64>>,
    /// One label per row, when the examples have them.
    pub sequence_labels: Option<Vec<i64>>,
    /// Index of each row's example in the source collection.
    pub indices: Vec<usize>,
}

impl Batch {
    /// `(batch_size, seq_len)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.batch_size, self.seq_len)
    }
    /// Real (unpadded) tokens in the batch.
    pub fn real_tokens(&self) -> usize {
        self.attention_mask.iter().filter(|&&m| m == 1).count()
    }
}

/// Pad `examples[indices]` to the longest of them (rounded up to a multiple of
/// `pad_to_multiple_of` when given).
pub fn collate<E: Example>(
    examples: &[E],
    indices: &[usize],
    pad_id: u32,
    pad_to_multiple_of: Option<usize>,
) -> Result<Batch> {
    let rows: Vec<&E> = indices
        .iter()
        .map(|&i| {
            examples.get(i).ok_or_else(|| {
                DataError::Shape(format!("index {i} out of {} examples", examples.len()))
            })
        })
        .collect::<Result<_>>()?;
    let longest = rows.iter().map(|e| e.seq_len()).max().unwrap_or(0);
    let seq_len = match pad_to_multiple_of {
        Some(m) if m > 1 => longest.div_ceil(m) * m,
        _ => longest,
    };
    let b = rows.len();
    let mut input_ids = vec![pad_id as i64; b * seq_len];
    let mut token_type_ids = vec![0i64; b * seq_len];
    let mut attention_mask = vec![0i64; b * seq_len];
    let has_token_labels = rows.first().is_some_and(|e| e.token_labels().is_some());
    let has_seq_labels = rows.first().is_some_and(|e| e.sequence_label().is_some());
    let mut token_labels = has_token_labels.then(|| vec![IGNORE_INDEX; b * seq_len]);
    let mut sequence_labels = has_seq_labels.then(|| Vec::with_capacity(b));
    for (r, (e, &idx)) in rows.iter().zip(indices).enumerate() {
        let n = e.seq_len();
        let off = r * seq_len;
        if e.token_type_ids().len() != n {
            return Err(DataError::Shape(format!(
                "example {idx}: {} token types for {n} tokens",
                e.token_type_ids().len()
            )));
        }
        for (k, (&id, &ty)) in e.input_ids().iter().zip(e.token_type_ids()).enumerate() {
            input_ids[off + k] = id as i64;
            token_type_ids[off + k] = ty as i64;
            attention_mask[off + k] = 1;
        }
        match (&mut token_labels, e.token_labels()) {
            (Some(out), Some(l)) if l.len() == n => out[off..off + n].copy_from_slice(l),
            (Some(_), Some(l)) => {
                return Err(DataError::Shape(format!(
                    "example {idx}: {} token labels for {n} tokens",
                    l.len()
                )))
            }
            (None, None) => {}
            _ => {
                return Err(DataError::Shape(format!(
                    "example {idx} disagrees with the first row about having token labels"
                )))
            }
        }
        match (&mut sequence_labels, e.sequence_label()) {
            (Some(out), Some(l)) => out.push(l),
            (None, None) => {}
            _ => {
                return Err(DataError::Shape(format!(
                    "example {idx} disagrees with the first row about having a sequence label"
                )))
            }
        }
    }
    Ok(Batch {
        batch_size: b,
        seq_len,
        input_ids,
        token_type_ids,
        attention_mask,
        token_labels,
        sequence_labels,
        indices: indices.to_vec(),
    })
}

/// How big a batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    /// A fixed number of examples (the last batch may be smaller).
    Examples(usize),
    /// At most this many padded tokens (`rows * longest`); an example longer than
    /// the budget gets a batch of its own rather than being dropped.
    Tokens(usize),
}

/// How to group examples into batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamplerConfig {
    /// Batch size.
    pub size: BatchSize,
    /// Shuffle examples and batch order (new order each epoch, fixed by `seed`).
    pub shuffle: bool,
    /// Group examples of similar length. With shuffling, lengths are sorted inside
    /// pools of `bucket_pool` batches' worth of examples; without it, globally.
    pub bucket: bool,
    /// Pool size in batches for shuffled bucketing.
    pub bucket_pool: usize,
    /// Seed of the shuffles.
    pub seed: u64,
}

impl SamplerConfig {
    /// Shuffled, bucketed batches of `n` examples (training).
    pub fn train(n: usize, seed: u64) -> Self {
        Self {
            size: BatchSize::Examples(n),
            shuffle: true,
            bucket: true,
            bucket_pool: 50,
            seed,
        }
    }
    /// Batches of `n` examples in input order (evaluation).
    pub fn eval(n: usize) -> Self {
        Self {
            size: BatchSize::Examples(n),
            shuffle: false,
            bucket: false,
            bucket_pool: 50,
            seed: 0,
        }
    }
}

/// A ChaCha8 stream for (seed, epoch, item), stable across platforms.
pub fn derived_rng(seed: u64, epoch: u64, item: u64) -> ChaCha8Rng {
    fn splitmix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    let s = splitmix(seed ^ splitmix(epoch ^ splitmix(item)));
    let mut rng = ChaCha8Rng::seed_from_u64(s);
    rng.set_stream(epoch);
    rng
}

/// Group example indices (with the given lengths) into batches for one epoch.
/// Every index appears in exactly one batch.
pub fn plan_batches(
    lengths: &[usize],
    config: &SamplerConfig,
    epoch: u64,
) -> Result<Vec<Vec<usize>>> {
    match config.size {
        BatchSize::Examples(0) => return Err(DataError::config("batch_size", "must be positive")),
        BatchSize::Tokens(0) => return Err(DataError::config("max_tokens", "must be positive")),
        _ => {}
    }
    let n = lengths.len();
    let mut rng = derived_rng(config.seed, epoch, u64::MAX);
    let mut order: Vec<usize> = (0..n).collect();
    if config.shuffle {
        order.shuffle(&mut rng);
    }
    if config.bucket {
        let by_len_desc = |a: &usize, b: &usize| lengths[*b].cmp(&lengths[*a]);
        if config.shuffle {
            let per_batch = match config.size {
                BatchSize::Examples(b) => b,
                BatchSize::Tokens(t) => {
                    let mean = (lengths.iter().sum::<usize>() / n.max(1)).max(1);
                    (t / mean).max(1)
                }
            };
            let pool = (per_batch * config.bucket_pool.max(1)).max(1);
            for chunk in order.chunks_mut(pool) {
                chunk.sort_by(by_len_desc);
            }
        } else {
            order.sort_by(by_len_desc);
        }
    }
    let mut batches: Vec<Vec<usize>> = match config.size {
        BatchSize::Examples(b) => order.chunks(b).map(<[usize]>::to_vec).collect(),
        BatchSize::Tokens(budget) => {
            let mut out = Vec::new();
            let mut cur: Vec<usize> = Vec::new();
            let mut longest = 0;
            for i in order {
                let l = lengths[i].max(1);
                let new_longest = longest.max(l);
                if !cur.is_empty() && (cur.len() + 1) * new_longest > budget {
                    out.push(std::mem::take(&mut cur));
                    longest = 0;
                }
                longest = longest.max(l);
                cur.push(i);
            }
            if !cur.is_empty() {
                out.push(cur);
            }
            out
        }
    };
    if config.shuffle {
        batches.shuffle(&mut rng);
    }
    Ok(batches)
}
