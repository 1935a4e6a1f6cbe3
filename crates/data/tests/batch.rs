//! Dynamic padding, length bucketing and token-budget batches.
mod common;

use bertlab_data::{
    collate, plan_batches, BatchSize, DataError, Example, SamplerConfig, IGNORE_INDEX,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Ex {
    ids: Vec<u32>,
    types: Vec<u32>,
    labels: Option<Vec<i64>>,
    class: Option<i64>,
}

impl Example for Ex {
    fn input_ids(&self) -> &[u32] {
        &self.ids
    }
    fn token_type_ids(&self) -> &[u32] {
        &self.types
    }
    fn token_labels(&self) -> Option<&[i64]> {
        self.labels.as_deref()
    }
    fn sequence_label(&self) -> Option<i64> {
        self.class
    }
}

fn ex(len: usize, class: i64) -> Ex {
    Ex {
        ids: (10..10 + len as u32).collect(),
        types: (0..len as u32).map(|i| u32::from(i >= 2)).collect(),
        labels: Some((0..len as i64).collect()),
        class: Some(class),
    }
}

#[test]
fn pads_to_the_longest_in_the_batch() {
    let data = vec![ex(3, 0), ex(5, 1), ex(2, 1), ex(9, 0)];
    let b = collate(&data, &[0, 1, 2], 0, None).unwrap();
    assert_eq!(b.shape(), (3, 5));
    assert_eq!(
        b.input_ids,
        [10, 11, 12, 0, 0, 10, 11, 12, 13, 14, 10, 11, 0, 0, 0]
    );
    assert_eq!(
        b.attention_mask,
        [1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]
    );
    assert_eq!(
        b.token_type_ids,
        [0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0]
    );
    let l = b.token_labels.as_ref().unwrap();
    assert_eq!(&l[..5], &[0, 1, 2, IGNORE_INDEX, IGNORE_INDEX]);
    assert_eq!(b.sequence_labels, Some(vec![0, 1, 1]));
    assert_eq!(b.indices, [0, 1, 2]);
    assert_eq!(b.real_tokens(), 10);
    let m = collate(&data, &[0, 2], 7, Some(8)).unwrap();
    assert_eq!(m.shape(), (2, 8));
    assert_eq!(m.input_ids[3], 7);
}

#[test]
fn inconsistent_examples_are_errors() {
    let mut odd = ex(3, 0);
    odd.labels = None;
    let data = vec![ex(3, 0), odd];
    assert!(matches!(
        collate(&data, &[0, 1], 0, None),
        Err(DataError::Shape(_))
    ));
    assert!(matches!(
        collate(&data, &[5], 0, None),
        Err(DataError::Shape(_))
    ));
    let mut short = ex(3, 0);
    short.types.pop();
    assert!(matches!(
        collate(&[short], &[0], 0, None),
        Err(DataError::Shape(_))
    ));
    let cfg = SamplerConfig {
        size: BatchSize::Tokens(0),
        ..SamplerConfig::eval(1)
    };
    assert!(matches!(
        plan_batches(&[1, 2], &cfg, 0),
        Err(DataError::Config { .. })
    ));
}

fn padded_tokens(lengths: &[usize], batches: &[Vec<usize>]) -> usize {
    batches
        .iter()
        .map(|b| b.len() * b.iter().map(|&i| lengths[i]).max().unwrap())
        .sum()
}

#[test]
fn bucketing_cuts_padding() {
    let lengths: Vec<usize> = (0..2000).map(|i| 5 + (i * 7919) % 120).collect();
    let plain = SamplerConfig {
        bucket: false,
        ..SamplerConfig::train(32, 1)
    };
    let bucketed = SamplerConfig::train(32, 1);
    let p = padded_tokens(&lengths, &plan_batches(&lengths, &plain, 0).unwrap());
    let q = padded_tokens(&lengths, &plan_batches(&lengths, &bucketed, 0).unwrap());
    let real: usize = lengths.iter().sum();
    println!("real {real}, padded without buckets {p}, with buckets {q}");
    assert!(
        q < real * 11 / 10,
        "bucketed padding is within 10% of the real tokens"
    );
    assert!(p > real * 13 / 10);
    // Evaluation order without shuffling is the input order.
    let eval = plan_batches(&lengths, &SamplerConfig::eval(100), 0).unwrap();
    assert_eq!(eval[0], (0..100).collect::<Vec<_>>());
}

#[test]
fn shuffling_is_seeded_and_new_each_epoch() {
    let lengths: Vec<usize> = (0..500).map(|i| 1 + i % 50).collect();
    let cfg = SamplerConfig::train(16, 42);
    let a = plan_batches(&lengths, &cfg, 0).unwrap();
    assert_eq!(a, plan_batches(&lengths, &cfg, 0).unwrap());
    assert_ne!(a, plan_batches(&lengths, &cfg, 1).unwrap());
    assert_ne!(
        a,
        plan_batches(&lengths, &SamplerConfig::train(16, 43), 0).unwrap()
    );
}

proptest! {
    #[test]
    fn every_example_lands_in_exactly_one_batch(
        lengths in proptest::collection::vec(0usize..300, 0..400),
        by_tokens in any::<bool>(),
        size in 1usize..64,
        budget in 1usize..2048,
        shuffle in any::<bool>(),
        bucket in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let cfg = SamplerConfig {
            size: if by_tokens { BatchSize::Tokens(budget) } else { BatchSize::Examples(size) },
            shuffle,
            bucket,
            bucket_pool: 4,
            seed,
        };
        let batches = plan_batches(&lengths, &cfg, 3).unwrap();
        let mut seen = vec![0u32; lengths.len()];
        for b in &batches {
            prop_assert!(!b.is_empty());
            for &i in b { seen[i] += 1; }
            if by_tokens {
                let longest = b.iter().map(|&i| lengths[i].max(1)).max().unwrap();
                prop_assert!(b.len() == 1 || b.len() * longest <= budget);
            } else {
                prop_assert!(b.len() <= size);
            }
        }
        prop_assert!(seen.iter().all(|&c| c == 1));
    }
}
