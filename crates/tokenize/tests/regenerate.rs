//! Writes the trained tokenizer fixtures. Run by hand, then run
//! `tests/fixtures/gen_expectations.py` to refresh the Python expectations:
//!
//! ```text
//! cargo test -p bertlab-tokenize --test regenerate -- --ignored
//! ```
mod common;

#[test]
#[ignore = "rewrites committed fixtures; run by hand"]
fn regenerate_trained_fixtures() {
    for name in common::TRAINED {
        let tok = common::train_fixture(name);
        let path = common::fixtures().join(format!("{name}.json"));
        tok.save(&path, true).unwrap();
        eprintln!("wrote {}", path.display());
    }
}
