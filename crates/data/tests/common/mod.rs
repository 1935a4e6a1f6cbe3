//! Helpers shared by the data integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use bertlab_tokenize::Tokenizer;

/// `BERTLAB_DATA_DIR`, or `shared/data` next to the repository; `None` (with a
/// printed skip message) when the folder `sub` is absent.
pub fn shared_data(sub: &str) -> Option<PathBuf> {
    let base = std::env::var_os("BERTLAB_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"))
        });
    let dir = base.join(sub);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIP: {} not found; real-data check skipped", dir.display());
        None
    }
}

/// MiniLM's tokenizer from `BERTLAB_MINILM_DIR`, or `None` with a skip message.
pub fn minilm() -> Option<Tokenizer> {
    let Some(dir) = std::env::var_os("BERTLAB_MINILM_DIR") else {
        eprintln!("SKIP: BERTLAB_MINILM_DIR is not set; MiniLM checks skipped");
        return None;
    };
    let path = PathBuf::from(dir).join("tokenizer.json");
    if !path.is_file() {
        eprintln!("SKIP: {} not found", path.display());
        return None;
    }
    Some(Tokenizer::from_file(path).unwrap())
}

/// A small uncased WordPiece tokenizer: specials at 0..=4, a few whole words, and
/// every letter and digit both as a word start and as a `##` continuation, so
/// any ASCII alphanumeric word tokenizes without `[UNK]`.
pub fn tiny_tokenizer() -> Tokenizer {
    let mut vocab: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for w in [
        "the", "eu", "rejects", "german", "call", "to", "boycott", "british", "lamb", "peter",
        "black", "##burn", ".", ",", "-",
    ] {
        vocab.push(w.to_string());
    }
    for c in ('a'..='z').chain('0'..='9') {
        vocab.push(c.to_string());
        vocab.push(format!("##{c}"));
    }
    Tokenizer::from_wordpiece_vocab(&vocab, true).unwrap()
}

/// Write `text` to a file named `name` in a fresh temporary folder.
pub fn temp_file(name: &str, text: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}
