//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use bertlab_tokenize::{
    train_unigram, train_wordpiece, Tokenizer, UnigramTrainOptions, WordPieceTrainOptions,
};

/// Folder of committed fixtures.
pub fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

/// The committed training corpus.
pub fn corpus() -> PathBuf {
    fixtures().join("corpus.txt")
}

/// Options used for the committed WordPiece fixtures.
pub fn wordpiece_options(lowercase: bool) -> WordPieceTrainOptions {
    WordPieceTrainOptions {
        vocab_size: 400,
        lowercase,
        min_frequency: 2,
        limit_alphabet: 1000,
        show_progress: false,
    }
}

/// Options used for the committed Unigram fixture.
pub fn unigram_options() -> UnigramTrainOptions {
    UnigramTrainOptions {
        vocab_size: 300,
        ..UnigramTrainOptions::default()
    }
}

/// The three trained fixtures: (file name, trainer).
pub fn train_fixture(name: &str) -> Tokenizer {
    let files = [corpus()];
    match name {
        "wordpiece_uncased" => train_wordpiece(&files, &wordpiece_options(true)).unwrap(),
        "wordpiece_cased" => train_wordpiece(&files, &wordpiece_options(false)).unwrap(),
        "unigram" => train_unigram(&files, &unigram_options()).unwrap(),
        other => panic!("unknown fixture {other}"),
    }
}

/// Names of the trained fixtures.
pub const TRAINED: [&str; 3] = ["wordpiece_uncased", "wordpiece_cased", "unigram"];

/// MiniLM's folder from `BERTLAB_MINILM_DIR`, or `None` with a printed skip message.
pub fn minilm_tokenizer_json() -> Option<PathBuf> {
    match std::env::var_os("BERTLAB_MINILM_DIR") {
        Some(d) => {
            let p = PathBuf::from(d).join("tokenizer.json");
            if p.is_file() {
                Some(p)
            } else {
                eprintln!("SKIP: {} not found", p.display());
                None
            }
        }
        None => {
            eprintln!("SKIP: BERTLAB_MINILM_DIR is not set; MiniLM checks skipped");
            None
        }
    }
}
