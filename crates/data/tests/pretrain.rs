//! Pretraining instances (packing, NSP, SOP) and masking (rates, 80/10/10,
//! whole words, n-grams, specials, dynamic and seeded).
mod common;

use bertlab_data::{
    create_instances, derived_rng, mask_instance, num_to_predict, sample_ngram_len,
    tokenize_documents, CorpusReader, Document, InstanceConfig, InstanceStream, MaskVocab,
    MaskingConfig, PairTask, PretrainDataset, PretrainInstance, Segment, IGNORE_INDEX,
};
use proptest::prelude::*;

const CLS: u32 = 2;
const SEP: u32 = 3;
const MASK: u32 = 4;

/// Token id encoding (document, position): ids start at 1000 so they never clash
/// with the specials; doc d's token k is 1000 + d * 10_000 + k.
fn synthetic_docs(n_docs: usize, seed: u64) -> Vec<Vec<Segment>> {
    use rand::Rng;
    let mut rng = derived_rng(seed, 0, 0);
    (0..n_docs)
        .map(|d| {
            let mut k = 0u32;
            (0..rng.random_range(1..12))
                .map(|_| {
                    let len = rng.random_range(1..40);
                    let ids: Vec<u32> = (0..len)
                        .map(|_| {
                            k += 1;
                            1000 + d as u32 * 10_000 + k
                        })
                        .collect();
                    let word_start = (0..len).map(|_| rng.random_bool(0.7)).collect();
                    Segment { ids, word_start }
                })
                .collect()
        })
        .collect()
}

fn doc_pos(id: u32) -> (u32, u32) {
    ((id - 1000) / 10_000, (id - 1000) % 10_000)
}

fn vocab() -> MaskVocab {
    MaskVocab {
        mask_id: MASK,
        vocab_size: 200_000,
        special_ids: vec![0, 1, 2, 3, 4],
    }
}

fn check_structure(inst: &PretrainInstance, max_seq_len: usize) {
    assert!(inst.len() <= max_seq_len);
    assert_eq!(inst.tokens[0], CLS);
    assert_eq!(inst.tokens[inst.a_len + 1], SEP);
    assert_eq!(*inst.tokens.last().unwrap(), SEP);
    assert!(
        inst.a_len >= 1 && inst.len() - inst.a_len - 3 >= 1,
        "both segments non-empty"
    );
    let types = inst.token_type_ids();
    assert!(types[..=inst.a_len + 1].iter().all(|&t| t == 0));
    assert!(types[inst.a_len + 2..].iter().all(|&t| t == 1));
}

#[test]
fn nsp_instances_half_random_next_from_other_documents() {
    let docs = synthetic_docs(300, 1);
    let cfg = InstanceConfig::bert(64);
    let mut rng = derived_rng(7, 0, 0);
    let inst = create_instances(&docs, &cfg, CLS, SEP, &mut rng).unwrap();
    assert!(inst.len() > 500);
    let mut random = 0;
    for i in &inst {
        check_structure(i, 64);
        let a: Vec<(u32, u32)> = i.tokens[1..=i.a_len].iter().map(|&t| doc_pos(t)).collect();
        let b: Vec<(u32, u32)> = i.tokens[i.a_len + 2..i.len() - 1]
            .iter()
            .map(|&t| doc_pos(t))
            .collect();
        assert!(
            a.windows(2).all(|w| w[0].0 == w[1].0 && w[0].1 < w[1].1),
            "A is contiguous text of one document"
        );
        assert!(b.windows(2).all(|w| w[0].0 == w[1].0 && w[0].1 < w[1].1));
        if i.pair_label == 1 {
            random += 1;
            assert_ne!(a[0].0, b[0].0, "random next comes from another document");
        } else {
            assert_eq!(a[0].0, b[0].0);
            assert!(a.last().unwrap().1 < b[0].1, "actual next follows A");
        }
    }
    let rate = random as f64 / inst.len() as f64;
    println!("{} instances, random-next rate {rate:.3}", inst.len());
    assert!((rate - 0.5).abs() < 0.05, "{rate}");
}

#[test]
fn sop_instances_swap_half_of_consecutive_pairs() {
    let docs = synthetic_docs(300, 2);
    let mut rng = derived_rng(8, 0, 0);
    let inst = create_instances(&docs, &InstanceConfig::albert(64), CLS, SEP, &mut rng).unwrap();
    let mut swapped = 0;
    for i in &inst {
        check_structure(i, 64);
        let a = doc_pos(i.tokens[1]);
        let b = doc_pos(i.tokens[i.a_len + 2]);
        assert_eq!(a.0, b.0, "SOP never leaves the document");
        if i.pair_label == 1 {
            swapped += 1;
            assert!(b.1 < a.1);
        } else {
            assert!(a.1 < b.1);
        }
    }
    let rate = swapped as f64 / inst.len() as f64;
    assert!((rate - 0.5).abs() < 0.05, "{rate}");
}

#[test]
fn packing_fills_sequences_and_short_ones_appear_at_the_set_rate() {
    let docs = synthetic_docs(400, 3);
    let mean_len = |p: f64| {
        let cfg = InstanceConfig {
            short_seq_prob: p,
            ..InstanceConfig::albert(128)
        };
        let inst = create_instances(&docs, &cfg, CLS, SEP, &mut derived_rng(9, 0, 0)).unwrap();
        inst.iter().map(|i| i.len()).sum::<usize>() as f64 / inst.len() as f64
    };
    let (never, default, always) = (mean_len(0.0), mean_len(0.1), mean_len(1.0));
    println!("mean lengths: short prob 0 → {never:.1}, 0.1 → {default:.1}, 1 → {always:.1}");
    assert!(never > default && default > always);
    // Segments are packed: with no short targets most instances come near the limit.
    assert!(never > 70.0, "{never}");
}

#[test]
fn long_lines_are_cut_at_word_starts_not_dropped() {
    let ids: Vec<u32> = (0..500).map(|k| 500_000 + k).collect();
    let word_start = (0..500).map(|k| k % 3 == 0).collect();
    let docs = vec![
        vec![Segment { ids, word_start }],
        synthetic_docs(1, 4).remove(0),
    ];
    let cfg = InstanceConfig {
        short_seq_prob: 0.0,
        ..InstanceConfig::albert(64)
    };
    let inst = create_instances(&docs, &cfg, CLS, SEP, &mut derived_rng(1, 0, 0)).unwrap();
    let mut from_long: Vec<u32> = inst
        .iter()
        .flat_map(|i| i.tokens.iter().copied().filter(|&t| t >= 500_000))
        .collect();
    assert!(inst.iter().all(|i| i.len() <= 64));
    from_long.sort();
    from_long.dedup();
    let from_long = from_long.len();
    assert_eq!(from_long, 500, "every token of the 500-token line is used");
}

#[test]
fn instances_are_deterministic_under_a_seed() {
    let docs = synthetic_docs(50, 5);
    let cfg = InstanceConfig::bert(32);
    let a = create_instances(&docs, &cfg, CLS, SEP, &mut derived_rng(1, 0, 0)).unwrap();
    let b = create_instances(&docs, &cfg, CLS, SEP, &mut derived_rng(1, 0, 0)).unwrap();
    let c = create_instances(&docs, &cfg, CLS, SEP, &mut derived_rng(2, 0, 0)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    let err = create_instances(
        &docs,
        &InstanceConfig::bert(4),
        CLS,
        SEP,
        &mut derived_rng(1, 0, 0),
    )
    .unwrap_err();
    assert!(err.to_string().contains("max_seq_len"), "{err}");
}

#[test]
fn ngram_lengths_follow_one_over_n() {
    let mut rng = derived_rng(3, 0, 0);
    let mut counts = [0usize; 4];
    let n = 60_000;
    for _ in 0..n {
        counts[sample_ngram_len(3, &mut rng)] += 1;
    }
    for (k, want) in [(1, 6.0 / 11.0), (2, 3.0 / 11.0), (3, 2.0 / 11.0)] {
        let got = counts[k] as f64 / n as f64;
        assert!((got - want).abs() < 0.01, "p({k}) = {got}, want {want}");
    }
    assert_eq!(sample_ngram_len(1, &mut rng), 1);
}

#[test]
fn masking_rates_and_80_10_10() {
    let docs = synthetic_docs(400, 6);
    let inst = create_instances(
        &docs,
        &InstanceConfig::bert(128),
        CLS,
        SEP,
        &mut derived_rng(1, 0, 0),
    )
    .unwrap();
    let cfg = MaskingConfig::bert(1000);
    let (mut candidates, mut chosen, mut masked, mut kept, mut random) = (0, 0, 0, 0, 0);
    for (k, i) in inst.iter().enumerate() {
        let m = mask_instance(i, &cfg, &vocab(), &mut derived_rng(5, 0, k as u64));
        candidates += i.len() - 3;
        for p in 0..i.len() {
            if m.mlm_labels[p] != IGNORE_INDEX {
                chosen += 1;
                match m.input_ids[p] {
                    MASK => masked += 1,
                    t if t == i.tokens[p] => kept += 1,
                    _ => random += 1,
                }
            }
        }
    }
    let rate = chosen as f64 / candidates as f64;
    let c = chosen as f64;
    println!(
        "masking rate {rate:.4}; mask {:.3} keep {:.3} random {:.3}",
        masked as f64 / c,
        kept as f64 / c,
        random as f64 / c
    );
    assert!((rate - 0.15).abs() < 0.005, "{rate}");
    assert!((masked as f64 / c - 0.8).abs() < 0.01);
    assert!((kept as f64 / c - 0.1).abs() < 0.01);
    assert!((random as f64 / c - 0.1).abs() < 0.01);
}

#[test]
fn dataset_masks_anew_each_epoch_and_batches() {
    let docs = synthetic_docs(60, 7);
    let inst = create_instances(
        &docs,
        &InstanceConfig::bert(48),
        CLS,
        SEP,
        &mut derived_rng(1, 0, 0),
    )
    .unwrap();
    let ds = PretrainDataset::new(inst, MaskingConfig::bert(20), vocab(), 0, 99).unwrap();
    assert_eq!(ds.masked(3, 0), ds.masked(3, 0));
    let differs = (0..ds.len())
        .filter(|&i| ds.masked(i, 0).mlm_labels != ds.masked(i, 1).mlm_labels)
        .count();
    assert!(
        differs * 10 > ds.len() * 9,
        "dynamic masking: {differs} of {} differ",
        ds.len()
    );
    let b = ds.batch(&[0, 1, 2, 3], 5).unwrap();
    assert_eq!(b.batch_size, 4);
    assert_eq!(
        b.seq_len,
        (0..4).map(|i| ds.instances[i].len()).max().unwrap()
    );
    let labels = b.token_labels.as_ref().unwrap();
    for r in 0..4 {
        let m = ds.masked(r, 5);
        assert_eq!(
            &b.input_ids[r * b.seq_len..r * b.seq_len + m.input_ids.len()],
            m.input_ids
                .iter()
                .map(|&x| x as i64)
                .collect::<Vec<_>>()
                .as_slice()
        );
        assert!(
            labels[r * b.seq_len + m.input_ids.len()..(r + 1) * b.seq_len]
                .iter()
                .all(|&l| l == IGNORE_INDEX)
        );
    }
    assert_eq!(b.sequence_labels.as_ref().unwrap().len(), 4);
    assert!(ds.batch(&[ds.len()], 0).is_err());
    let bad = MaskingConfig {
        mask_token_prob: 0.95,
        ..MaskingConfig::bert(20)
    };
    assert!(PretrainDataset::new(vec![], bad, vocab(), 0, 1).is_err());
}

fn instance_strategy() -> impl Strategy<Value = PretrainInstance> {
    (
        proptest::collection::vec((5u32..60, any::<bool>()), 1..80),
        proptest::collection::vec((5u32..60, any::<bool>()), 1..80),
        0i64..2,
    )
        .prop_map(|(a, b, label)| {
            // Sprinkle some special ids ([UNK]=1, [PAD]=0) into the text as well.
            let fix = |t: u32| if t % 17 == 0 { t % 2 } else { t };
            let a_seg = Segment {
                ids: a.iter().map(|x| fix(x.0)).collect(),
                word_start: a.iter().map(|x| x.1).collect(),
            };
            let b_seg = Segment {
                ids: b.iter().map(|x| fix(x.0)).collect(),
                word_start: b.iter().map(|x| x.1).collect(),
            };
            let mut tokens = vec![CLS];
            tokens.extend(&a_seg.ids);
            tokens.push(SEP);
            tokens.extend(&b_seg.ids);
            tokens.push(SEP);
            let mut word_start = vec![true];
            word_start.extend(&a_seg.word_start);
            word_start.push(true);
            word_start.extend(&b_seg.word_start);
            word_start.push(true);
            PretrainInstance {
                tokens,
                word_start,
                a_len: a_seg.ids.len(),
                pair_label: label,
            }
        })
}

proptest! {
    #[test]
    fn masking_invariants(
        inst in instance_strategy(),
        whole_word in any::<bool>(),
        max_ngram in 1usize..4,
        max_predictions in 1usize..40,
        seed in any::<u64>(),
    ) {
        let cfg = MaskingConfig { whole_word, max_ngram, ..MaskingConfig::bert(max_predictions) };
        let vocab = MaskVocab { mask_id: MASK, vocab_size: 60, special_ids: vec![0, 1, 2, 3, 4] };
        let m = mask_instance(&inst, &cfg, &vocab, &mut derived_rng(seed, 0, 0));
        let n = inst.len();
        prop_assert_eq!(m.input_ids.len(), n);
        prop_assert_eq!(m.mlm_labels.len(), n);
        prop_assert_eq!(m.pair_label, inst.pair_label);
        let special = |p: usize| inst.is_special_position(p) || inst.tokens[p] <= 4;
        let maskable = (0..n).filter(|&p| !special(p)).count();
        let budget = num_to_predict(maskable, &cfg);
        let chosen: Vec<usize> = (0..n).filter(|&p| m.mlm_labels[p] != IGNORE_INDEX).collect();
        // Rate: never above the budget; exact for single tokens.
        prop_assert!(chosen.len() <= budget);
        if !whole_word && max_ngram == 1 {
            prop_assert_eq!(chosen.len(), budget);
        }
        if maskable > 0 && !whole_word {
            prop_assert!(!chosen.is_empty());
        }
        for p in 0..n {
            if special(p) {
                // Special tokens are never masked or replaced.
                prop_assert_eq!(m.mlm_labels[p], IGNORE_INDEX);
                prop_assert_eq!(m.input_ids[p], inst.tokens[p]);
            } else if m.mlm_labels[p] == IGNORE_INDEX {
                prop_assert_eq!(m.input_ids[p], inst.tokens[p]);
            } else {
                // Labels are the original tokens; replacements are never special ids.
                prop_assert_eq!(m.mlm_labels[p], inst.tokens[p] as i64);
                prop_assert!(m.input_ids[p] == MASK || m.input_ids[p] > 4);
            }
        }
        if whole_word {
            // A word is masked entirely or not at all.
            for p in 1..n {
                if !inst.word_start[p] && !special(p) && !special(p - 1) {
                    prop_assert_eq!(m.mlm_labels[p] != IGNORE_INDEX, m.mlm_labels[p - 1] != IGNORE_INDEX);
                }
            }
        }
    }
}

#[test]
fn tokenized_documents_mark_word_starts() {
    let tok = common::tiny_tokenizer();
    let docs = vec![
        Document {
            lines: vec!["peter blackburn".into(), "".into(), "xyz eu".into()],
            path: "a".into(),
            first_line: 1,
        },
        Document {
            lines: vec!["\u{0007}".into()],
            path: "a".into(),
            first_line: 9,
        },
    ];
    let t = tokenize_documents(&tok, &docs).unwrap();
    assert_eq!(t.len(), 1, "a document with no tokens is dropped");
    assert_eq!(t[0].len(), 2, "an empty line is dropped");
    assert_eq!(t[0][0].word_start, [true, true, false]);
    assert_eq!(t[0][1].word_start, [true, false, false, true]);
}

#[test]
fn wikipedia_stream_builds_valid_instances() {
    let Some(dir) = common::shared_data("corpus-enwiki") else {
        return;
    };
    let Some(tok) = common::minilm() else { return };
    let reader = CorpusReader::new(bertlab_data::corpus_files(&dir, "txt").unwrap()[..1].to_vec());
    let mut stream = InstanceStream::new(reader, &tok, InstanceConfig::bert(128), 64, 11).unwrap();
    let pool = stream.next().unwrap().unwrap();
    assert!(pool.len() > 100, "{}", pool.len());
    let sp = tok.special_tokens().unwrap();
    for i in &pool {
        assert!(i.len() <= 128);
        assert_eq!(
            (
                i.tokens[0],
                i.tokens[i.a_len + 1],
                *i.tokens.last().unwrap()
            ),
            (sp.cls, sp.sep, sp.sep)
        );
    }
    let nsp = pool.iter().filter(|i| i.pair_label == 1).count() as f64 / pool.len() as f64;
    assert!((nsp - 0.5).abs() < 0.15, "{nsp}");
    let ds = PretrainDataset::new(
        pool,
        MaskingConfig::bert(20),
        MaskVocab::from_tokenizer(&tok).unwrap(),
        sp.pad,
        1,
    )
    .unwrap();
    let b = ds.batch(&[0, 1, 2, 3, 4, 5, 6, 7], 0).unwrap();
    assert_eq!(b.batch_size, 8);
    assert!(b.token_labels.unwrap().iter().any(|&l| l != IGNORE_INDEX));
    assert_eq!(PairTask::Nsp, InstanceConfig::bert(128).task);
}
