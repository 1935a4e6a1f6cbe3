//! NER features: first-subword labels, overlapping windows, and merging window
//! predictions back to exactly one per word.
mod common;

use bertlab_data::{
    build_ner_features, merge_window_predictions, plan_windows, ConllOptions, DataError, NerConfig,
    NerSplits, IGNORE_INDEX,
};
use proptest::prelude::*;

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

#[test]
fn first_subword_carries_the_label() {
    let tok = common::tiny_tokenizer();
    let sentences = vec![words("Peter Blackburn rejects xyz")];
    let labels = vec![vec![1, 2, 0, 3]];
    let f = build_ner_features(&tok, &sentences, Some(&labels), &NerConfig::default()).unwrap();
    assert_eq!(f.len(), 1);
    let f = &f[0];
    let toks: Vec<String> = f
        .input_ids
        .iter()
        .map(|&i| tok.id_to_token(i).unwrap())
        .collect();
    assert_eq!(
        toks,
        ["[CLS]", "peter", "black", "##burn", "rejects", "x", "##y", "##z", "[SEP]"]
    );
    assert_eq!(
        f.labels,
        [
            IGNORE_INDEX,
            1,
            2,
            IGNORE_INDEX,
            0,
            3,
            IGNORE_INDEX,
            IGNORE_INDEX,
            IGNORE_INDEX
        ]
    );
    assert_eq!(
        f.word_index,
        [
            None,
            Some(0),
            Some(1),
            Some(1),
            Some(2),
            Some(3),
            Some(3),
            Some(3),
            None
        ]
    );
    assert_eq!(f.token_type_ids, vec![0; 9]);
    assert_eq!(
        (f.words.clone(), f.owned.clone(), f.num_windows),
        (0..4, 0..4, 1)
    );
}

#[test]
fn words_without_subwords_become_unk_and_are_predicted() {
    let tok = common::tiny_tokenizer();
    let sentences = vec![vec![
        "eu".to_string(),
        "\u{0007}".to_string(),
        "".to_string(),
        "lamb".to_string(),
    ]];
    let f = build_ner_features(
        &tok,
        &sentences,
        Some(&[vec![1, 2, 3, 4]]),
        &NerConfig::default(),
    )
    .unwrap();
    assert_eq!(
        f[0].input_ids[2], 1,
        "[UNK] stands in for the control character"
    );
    assert_eq!(f[0].labels, [IGNORE_INDEX, 1, 2, 3, 4, IGNORE_INDEX]);
    let preds: Vec<Vec<i64>> = f.iter().map(|x| x.labels.clone()).collect();
    let merged = merge_window_predictions(&f, &preds, &[4]).unwrap();
    assert_eq!(merged, vec![vec![1, 2, 3, 4]]);
}

#[test]
fn long_sentences_are_windowed_and_merge_back() {
    let tok = common::tiny_tokenizer();
    // 30 words of 1-3 subwords, max_len 10 => capacity 8.
    let text: Vec<String> = (0..30)
        .map(|i| ["eu", "peter", "blackburn", "ab", "xyz"][i % 5].to_string())
        .collect();
    let labels: Vec<i64> = (0..30).collect();
    let cfg = NerConfig {
        max_len: 10,
        stride: 3,
    };
    let f = build_ner_features(
        &tok,
        std::slice::from_ref(&text),
        Some(std::slice::from_ref(&labels)),
        &cfg,
    )
    .unwrap();
    assert!(f.len() > 3);
    assert!(f.iter().all(|x| x.len() <= 10));
    // Consecutive windows overlap and the owned ranges tile the sentence.
    for w in f.windows(2) {
        assert!(
            w[1].words.start < w[0].words.end,
            "{:?} {:?}",
            w[0].words,
            w[1].words
        );
        assert_eq!(w[0].owned.end, w[1].owned.start);
    }
    assert_eq!(f[0].owned.start, 0);
    assert_eq!(f.last().unwrap().owned.end, 30);
    let preds: Vec<Vec<i64>> = f.iter().map(|x| x.labels.clone()).collect();
    assert_eq!(
        merge_window_predictions(&f, &preds, &[30]).unwrap(),
        vec![labels]
    );
}

#[test]
fn a_word_longer_than_a_window_keeps_its_first_subword() {
    let tok = common::tiny_tokenizer();
    let long = "q".repeat(40);
    let sentence = vec!["eu".to_string(), long, "lamb".to_string()];
    let cfg = NerConfig {
        max_len: 8,
        stride: 1,
    };
    let f = build_ner_features(&tok, &[sentence], Some(&[vec![5, 6, 7]]), &cfg).unwrap();
    assert!(f.iter().all(|x| x.len() <= 8));
    let preds: Vec<Vec<i64>> = f.iter().map(|x| x.labels.clone()).collect();
    assert_eq!(
        merge_window_predictions(&f, &preds, &[3]).unwrap(),
        vec![vec![5, 6, 7]]
    );
}

#[test]
fn shape_and_config_errors() {
    let tok = common::tiny_tokenizer();
    let s = vec![words("eu lamb")];
    let err = build_ner_features(&tok, &s, Some(&[vec![1]]), &NerConfig::default()).unwrap_err();
    assert!(matches!(err, DataError::Shape(_)), "{err}");
    let err = build_ner_features(
        &tok,
        &s,
        None,
        &NerConfig {
            max_len: 2,
            stride: 0,
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, DataError::Config { key: "max_len", .. }),
        "{err}"
    );
    let err = build_ner_features(
        &tok,
        &s,
        None,
        &NerConfig {
            max_len: 10,
            stride: 4,
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, DataError::Config { key: "stride", .. }),
        "{err}"
    );
    let f = build_ner_features(&tok, &s, None, &NerConfig::default()).unwrap();
    assert!(f[0].labels.iter().all(|&l| l == IGNORE_INDEX));
    let err = merge_window_predictions(&f, &[vec![0; 2]], &[2]).unwrap_err();
    assert!(matches!(err, DataError::Shape(_)));
    let err = merge_window_predictions(&f, &[vec![0; 4], vec![0; 4]], &[2]).unwrap_err();
    assert!(matches!(err, DataError::Shape(_)));
    // Dropping a window leaves words without a prediction: an error, not a silent gap.
    let long: Vec<String> = (0..20).map(|_| "peter".to_string()).collect();
    let f = build_ner_features(
        &tok,
        &[long],
        None,
        &NerConfig {
            max_len: 6,
            stride: 1,
        },
    )
    .unwrap();
    let preds: Vec<Vec<i64>> = f.iter().map(|x| vec![0; x.len()]).collect();
    let err = merge_window_predictions(&f[1..], &preds[1..], &[20]).unwrap_err();
    assert!(err.to_string().contains("no prediction"), "{err}");
}

#[test]
fn empty_sentence_gives_cls_sep_and_no_predictions() {
    let tok = common::tiny_tokenizer();
    let f = build_ner_features(
        &tok,
        &[Vec::<String>::new()],
        Some(&[vec![]]),
        &NerConfig::default(),
    )
    .unwrap();
    assert_eq!(f[0].input_ids, [2, 3]);
    let merged = merge_window_predictions(&f, &[vec![9, 9]], &[0]).unwrap();
    assert_eq!(merged, vec![Vec::<i64>::new()]);
}

proptest! {
    #[test]
    fn windows_tile_the_words(
        lens in proptest::collection::vec(0usize..12, 0..60),
        capacity in 1usize..20,
        overlap in 0usize..12,
    ) {
        let plans = plan_windows(&lens, capacity, overlap);
        prop_assert!(!plans.is_empty());
        let n = lens.len();
        let mut owner = vec![0usize; n];
        for p in &plans {
            prop_assert!(p.owned.start >= p.words.start && p.owned.end <= p.words.end);
            let used: usize = p.words.clone().map(|w| lens[w].clamp(1, capacity)).sum();
            prop_assert!(used <= capacity || p.words.len() == 1);
            for w in p.owned.clone() { owner[w] += 1; }
        }
        prop_assert!(owner.iter().all(|&c| c == 1), "every word owned exactly once: {:?}", owner);
        for w in plans.windows(2) {
            prop_assert!(w[1].words.start > w[0].words.start);
            prop_assert!(w[1].words.start <= w[0].words.end);
        }
    }

    #[test]
    fn merging_gives_one_prediction_per_word_from_its_owner(
        sentences in proptest::collection::vec(
            proptest::collection::vec("[a-z]{1,9}|[\u{4e00}-\u{4e10}]", 0..25), 1..6),
        max_len in 5usize..24,
        stride in 0usize..4,
    ) {
        let tok = common::tiny_tokenizer();
        let cfg = NerConfig { max_len, stride: stride.min((max_len - 3) / 2) };
        let labels: Vec<Vec<i64>> = sentences.iter().map(|s| (0..s.len() as i64).map(|w| w % 7).collect()).collect();
        let feats = build_ner_features(&tok, &sentences, Some(&labels), &cfg).unwrap();
        for f in &feats {
            prop_assert!(f.len() <= max_len);
            prop_assert_eq!(f.labels.len(), f.len());
            // Labels sit exactly on first subwords and match the word's label.
            for p in 0..f.len() {
                match (f.word_index[p], f.first_subword[p]) {
                    (Some(w), true) => prop_assert_eq!(f.labels[p], labels[f.sentence][w]),
                    _ => prop_assert_eq!(f.labels[p], IGNORE_INDEX),
                }
            }
            prop_assert_eq!(f.input_ids[0], 2);
            prop_assert_eq!(*f.input_ids.last().unwrap(), 3);
        }
        // Predictions that say where they came from.
        let preds: Vec<Vec<(usize, Option<usize>, usize)>> = feats
            .iter()
            .enumerate()
            .map(|(fi, f)| f.word_index.iter().map(|&w| (f.sentence, w, fi)).collect())
            .collect();
        let counts: Vec<usize> = sentences.iter().map(Vec::len).collect();
        let merged = merge_window_predictions(&feats, &preds, &counts).unwrap();
        prop_assert_eq!(merged.len(), sentences.len());
        for (s, row) in merged.iter().enumerate() {
            prop_assert_eq!(row.len(), sentences[s].len());
            for (w, &(ps, pw, fi)) in row.iter().enumerate() {
                prop_assert_eq!((ps, pw), (s, Some(w)));
                prop_assert!(feats[fi].owned.contains(&w));
            }
        }
    }
}

#[test]
fn conll2003_test_windows_merge_back_to_every_word() {
    let Some(dir) = common::shared_data("conll2003") else {
        return;
    };
    let Some(tok) = common::minilm() else { return };
    let splits = NerSplits::load(&dir, &ConllOptions::default(), None).unwrap();
    let words = splits.test.words();
    // A short max_len forces many sentences into several windows.
    let cfg = NerConfig {
        max_len: 24,
        stride: 4,
    };
    let feats = build_ner_features(&tok, &words, Some(&splits.test_ids), &cfg).unwrap();
    let windowed = feats.iter().filter(|f| f.num_windows > 1).count();
    println!(
        "{} features for {} sentences; {windowed} from split sentences",
        feats.len(),
        words.len()
    );
    assert!(windowed > 1000);
    assert!(feats.iter().all(|f| f.len() <= 24));
    let preds: Vec<Vec<i64>> = feats.iter().map(|f| f.labels.clone()).collect();
    let counts: Vec<usize> = words.iter().map(|w| w.len()).collect();
    let merged = merge_window_predictions(&feats, &preds, &counts).unwrap();
    assert_eq!(
        merged, splits.test_ids,
        "every one of the 46,435 words gets its own label back"
    );
}
