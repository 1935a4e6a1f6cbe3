//! Writes the trained tokenizer fixtures. Run by hand, then run
//! `tests/fixtures/gen_expectations.py` to refresh the Python expectations:
//!
//! ```text
//! cargo test -p bertlab-tokenize --test regenerate -- --ignored
//! ```
mod common;

use bertlab_tokenize::Tokenizer;

#[test]
#[ignore = "rewrites committed fixtures; run by hand"]
fn regenerate_trained_fixtures() {
    let corpus = std::fs::read_to_string(common::corpus()).unwrap();
    for name in common::TRAINED {
        let tok = common::train_fixture(name);
        let path = common::fixtures().join(format!("{name}.json"));
        tok.save(&path, true).unwrap();
        // The written file encodes the corpus exactly as the trained tokenizer does.
        let back = Tokenizer::from_file(&path).unwrap();
        for line in corpus.lines() {
            assert_eq!(
                back.encode(line, true).unwrap().ids(),
                tok.encode(line, true).unwrap().ids()
            );
        }
        eprintln!("wrote {}", path.display());
    }
}
