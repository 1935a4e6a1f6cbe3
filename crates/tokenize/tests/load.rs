//! Loading behaviour: stored padding/truncation stay off unless asked for, pairs,
//! pre-split words, batches, truncation on request, atomic save and load errors.
mod common;

use bertlab_tokenize::{LoadOptions, PadTo, TokenizeError, Tokenizer};

fn minilm() -> Option<Tokenizer> {
    common::minilm_tokenizer_json().map(|p| Tokenizer::from_file(p).unwrap())
}

fn uncased_fixture() -> Tokenizer {
    Tokenizer::from_file(common::fixtures().join("wordpiece_uncased.json")).unwrap()
}

#[test]
fn minilm_file_padding_and_truncation_are_switched_off() {
    let Some(path) = common::minilm_tokenizer_json() else {
        return;
    };
    let tok = Tokenizer::from_file(&path).unwrap();
    // The file turns both on (Fixed(128) padding, max_length 128 truncation).
    assert!(tok.file_padding().is_some());
    assert_eq!(tok.file_truncation().unwrap().max_length, 128);
    assert!(!tok.padding_enabled());
    assert!(!tok.truncation_enabled());
    let short = tok.encode("hello world", true).unwrap();
    assert_eq!(short.ids(), &[101, 7592, 2088, 102]);
    assert!(short.attention_mask().iter().all(|&m| m == 1));
    let long_text = "word ".repeat(300);
    let long = tok.encode(&long_text, true).unwrap();
    assert_eq!(long.len(), 302, "no truncation to 128");

    let kept = Tokenizer::from_file_with(
        &path,
        LoadOptions {
            keep_padding: true,
            keep_truncation: true,
        },
    )
    .unwrap();
    assert_eq!(kept.encode("hello world", true).unwrap().len(), 128);
    assert_eq!(kept.encode(&long_text, true).unwrap().len(), 128);
}

#[test]
fn minilm_special_tokens_and_pair_types() {
    let Some(tok) = minilm() else { return };
    let sp = tok.special_tokens().unwrap();
    assert_eq!(
        (sp.pad, sp.unk, sp.cls, sp.sep, sp.mask),
        (0, 100, 101, 102, 103)
    );
    assert_eq!(tok.special_ids(), vec![0, 100, 101, 102, 103]);
    assert_eq!(tok.num_added_tokens(false), 2);
    assert_eq!(tok.num_added_tokens(true), 3);
    let enc = tok.encode_pair("the cat", Some("sat down")).unwrap();
    assert_eq!(
        enc.tokens(),
        &["[CLS]", "the", "cat", "[SEP]", "sat", "down", "[SEP]"]
    );
    assert_eq!(enc.type_ids(), &[0, 0, 0, 0, 1, 1, 1]);
    assert_eq!(enc.special_tokens_mask(), &[1, 0, 0, 1, 0, 0, 1]);
    let single = tok.encode_pair("the cat", None).unwrap();
    assert_eq!(single.type_ids(), &[0, 0, 0, 0]);
}

#[test]
fn words_get_word_ids_and_subwords_share_them() {
    let Some(tok) = minilm() else { return };
    let words = ["Tokenization", "of", "EU", "counterrevolutionaries"];
    let enc = tok.encode_words(&words, true).unwrap();
    let wids = enc.word_ids();
    assert_eq!(wids.first(), Some(&None));
    assert_eq!(wids.last(), Some(&None));
    // Every word appears, in order, with its subwords contiguous.
    let seen: Vec<u32> = wids.iter().flatten().copied().collect();
    let mut dedup = seen.clone();
    dedup.dedup();
    assert_eq!(dedup, vec![0, 1, 2, 3]);
    assert!(
        seen.len() > words.len(),
        "long words are split: {:?}",
        enc.tokens()
    );
    let batch = tok
        .encode_words_batch(&[words.to_vec(), vec!["x"]], false)
        .unwrap();
    assert_eq!(batch[0].ids(), &enc.ids()[1..enc.len() - 1]);
    assert_eq!(batch[1].word_ids(), &[Some(0)]);
}

#[test]
fn truncated_pairs_fit_max_length_longest_first() {
    let tok = uncased_fixture();
    let a = "the european commission said on thursday it disagreed with german advice";
    let b = "peter";
    let full = tok.encode_pair(a, Some(b)).unwrap();
    assert!(full.len() > 12);
    let cut = tok.encode_pair_truncated(a, Some(b), 12).unwrap();
    assert_eq!(cut.len(), 12);
    // Longest first: b keeps all of its tokens, a loses from the right.
    let b_len = tok.encode(b, false).unwrap().len();
    assert_eq!(
        cut.type_ids().iter().filter(|&&t| t == 1).count(),
        b_len + 1
    );
    assert_eq!(cut.ids()[..5], full.ids()[..5]);
    let sp = tok.special_tokens().unwrap();
    assert_eq!(cut.ids()[0], sp.cls);
    assert_eq!(*cut.ids().last().unwrap(), sp.sep);
    // A short input is untouched.
    let short = tok.encode_pair_truncated("peter", None, 12).unwrap();
    assert_eq!(short.ids(), tok.encode_pair("peter", None).unwrap().ids());
    // Too small a budget is an error naming the option, not a panic.
    let err = tok.encode_pair_truncated(a, Some(b), 3).unwrap_err();
    assert!(matches!(
        err,
        TokenizeError::Option {
            key: "max_length",
            ..
        }
    ));
}

#[test]
fn padding_and_truncation_only_when_asked() {
    let tok = uncased_fixture();
    let texts = ["peter", "the european commission said on thursday"];
    let plain = tok.encode_batch(&texts, true).unwrap();
    assert_ne!(plain[0].len(), plain[1].len());
    let padded = tok.clone().with_padding(PadTo::Longest).unwrap();
    let enc = padded.encode_batch(&texts, true).unwrap();
    assert_eq!(enc[0].len(), enc[1].len());
    let pad = tok.special_tokens().unwrap().pad;
    let n_real = plain[0].len();
    assert!(enc[0].ids()[n_real..].iter().all(|&i| i == pad));
    assert_eq!(enc[0].attention_mask().iter().sum::<u32>() as usize, n_real);
    let fixed = tok.clone().with_padding(PadTo::Fixed(20)).unwrap();
    assert_eq!(fixed.encode("peter", true).unwrap().len(), 20);
    let trunc = tok.clone().with_truncation(5).unwrap();
    assert_eq!(trunc.encode(texts[1], true).unwrap().len(), 5);
}

#[test]
fn save_is_atomic_and_round_trips() {
    let tok = uncased_fixture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    tok.save(&path, false).unwrap();
    tok.save(&path, true).unwrap(); // overwrite in place
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("tokenizer.json")],
        "no temp files left"
    );
    let back = Tokenizer::from_file(&path).unwrap();
    let text = "Zürich counterrevolutionaries 東京 😀";
    assert_eq!(
        back.encode(text, true).unwrap().ids(),
        tok.encode(text, true).unwrap().ids()
    );
}

#[test]
fn load_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let err = Tokenizer::from_file(&missing).unwrap_err();
    assert!(err.to_string().contains("nope.json"), "{err}");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"model\": 3}").unwrap();
    let err = Tokenizer::from_file(&bad).unwrap_err();
    assert!(matches!(err, TokenizeError::Load { .. }));
    assert!(err.to_string().contains("bad.json"), "{err}");
}

#[test]
fn wordpiece_from_vocab_list() {
    let vocab = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", "!",
    ];
    let tok = Tokenizer::from_wordpiece_vocab(&vocab, true).unwrap();
    let enc = tok.encode_pair("Hello worlds!", Some("HELLO")).unwrap();
    assert_eq!(enc.ids(), &[2, 5, 6, 7, 8, 3, 5, 3]);
    assert_eq!(enc.type_ids(), &[0, 0, 0, 0, 0, 0, 1, 1]);
    assert_eq!(tok.encode("unknown", false).unwrap().ids(), &[1]);
    let err = Tokenizer::from_wordpiece_vocab(&["a", "b"], true).unwrap_err();
    assert!(matches!(
        err,
        TokenizeError::MissingSpecialToken { role: "unk", .. }
    ));
    let no_mask =
        Tokenizer::from_wordpiece_vocab(&["[UNK]", "[CLS]", "[SEP]", "[PAD]"], true).unwrap();
    let err = no_mask.special_tokens().unwrap_err();
    assert!(err.to_string().contains("[MASK]"), "{err}");
}
