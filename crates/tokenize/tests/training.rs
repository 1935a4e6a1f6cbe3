//! Training WordPiece (cased, uncased) and Unigram vocabularies.
mod common;

use bertlab_tokenize::train::{ALBERT_SPECIALS, BERT_SPECIALS};
use bertlab_tokenize::{
    train_unigram_from_texts, train_wordpiece, train_wordpiece_from_texts, TokenizeError,
    Tokenizer, UnigramTrainOptions, WordPieceTrainOptions,
};

fn check_specials(tok: &Tokenizer, names: &[&str; 5]) {
    for (id, name) in names.iter().enumerate() {
        assert_eq!(tok.token_to_id(name), Some(id as u32), "{name}");
    }
    let sp = tok.special_tokens().unwrap();
    assert_eq!((sp.pad, sp.unk, sp.cls, sp.sep, sp.mask), (0, 1, 2, 3, 4));
    assert_eq!(tok.special_ids(), vec![0, 1, 2, 3, 4]);
}

fn check_pair_template(tok: &Tokenizer) {
    let enc = tok.encode_pair("the first", Some("the second")).unwrap();
    assert_eq!(enc.ids()[0], 2);
    let seps: Vec<usize> = enc
        .ids()
        .iter()
        .enumerate()
        .filter(|(_, &i)| i == 3)
        .map(|(p, _)| p)
        .collect();
    assert_eq!(seps.len(), 2);
    assert_eq!(*seps.last().unwrap(), enc.len() - 1);
    for (p, &t) in enc.type_ids().iter().enumerate() {
        assert_eq!(t, u32::from(p > seps[0]), "type id at {p}");
    }
    let single = tok.encode("the first", true).unwrap();
    assert_eq!(single.ids()[0], 2);
    assert_eq!(*single.ids().last().unwrap(), 3);
}

#[test]
fn wordpiece_uncased_training() {
    let tok = common::train_fixture("wordpiece_uncased");
    check_specials(&tok, &BERT_SPECIALS);
    check_pair_template(&tok);
    assert!(
        tok.vocab_size() <= 400 && tok.vocab_size() > 200,
        "{}",
        tok.vocab_size()
    );
    let enc = tok.encode("Café EUROPEAN", false).unwrap();
    assert_eq!(enc.tokens().concat().replace("##", ""), "cafeeuropean");
    // Subword pieces continue with ##.
    let long = tok.encode("counterrevolutionaries", false).unwrap();
    assert!(long.len() > 1 && long.tokens()[1..].iter().all(|t| t.starts_with("##")));
    // Round trip through a saved file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    tok.save(&path, false).unwrap();
    let back = Tokenizer::from_file(&path).unwrap();
    let text = "The European Commission said on Thursday: 東京 😀 naïve";
    assert_eq!(
        back.encode_pair(text, Some(text)).unwrap().ids(),
        tok.encode_pair(text, Some(text)).unwrap().ids()
    );
}

#[test]
fn wordpiece_cased_keeps_case_and_accents() {
    let tok = common::train_fixture("wordpiece_cased");
    check_specials(&tok, &BERT_SPECIALS);
    let enc = tok.encode("Café EUROPEAN", false).unwrap();
    assert_eq!(enc.tokens().concat().replace("##", ""), "CaféEUROPEAN");
}

#[test]
fn unigram_training_albert_style() {
    let tok = common::train_fixture("unigram");
    check_specials(&tok, &ALBERT_SPECIALS);
    check_pair_template(&tok);
    let enc = tok.encode("Ｆｕｌｌ Width", false).unwrap();
    // NFKC folds full-width letters, lowercase folds case, words start with ▁.
    assert_eq!(enc.tokens().concat(), "▁full▁width");
    assert!(enc.tokens()[0].starts_with('\u{2581}'));
    assert_eq!(tok.decode(enc.ids(), true).unwrap(), "full width");
    // A character never seen in training maps to <unk>.
    let unk = tok.encode("ꙮ", false).unwrap();
    assert!(unk.ids().contains(&1), "{:?}", unk.tokens());
}

#[test]
fn training_from_texts_and_option_errors() {
    let texts: Vec<String> = std::fs::read_to_string(common::corpus())
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let wp = train_wordpiece_from_texts(texts.clone(), &common::wordpiece_options(true)).unwrap();
    check_specials(&wp, &BERT_SPECIALS);
    let uni = train_unigram_from_texts(
        texts,
        &UnigramTrainOptions {
            vocab_size: 200,
            ..Default::default()
        },
    )
    .unwrap();
    check_specials(&uni, &ALBERT_SPECIALS);
    assert!(uni.vocab_size() <= 200);

    let err = train_wordpiece(&[], &WordPieceTrainOptions::default()).unwrap_err();
    assert!(matches!(err, TokenizeError::Option { key: "files", .. }));
    let missing = common::fixtures().join("no-such-corpus.txt");
    let err = train_wordpiece(&[missing], &WordPieceTrainOptions::default()).unwrap_err();
    assert!(err.to_string().contains("no-such-corpus.txt"), "{err}");
    let err = train_wordpiece(
        &[common::corpus()],
        &WordPieceTrainOptions {
            vocab_size: 3,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(
        err,
        TokenizeError::Option {
            key: "vocab_size",
            ..
        }
    ));
}
