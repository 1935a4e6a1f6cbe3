//! Print CoNLL statistics: sentences, tokens, documents and entities per split.
//!
//! ```text
//! cargo run -p bertlab-data --example conll_stats -- ../shared/data/conll2003
//! ```

use bertlab_data::{ConllOptions, NerSplits};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/data/conll2003".to_string());
    let splits = NerSplits::load(&dir, &ConllOptions::default(), None)?;
    println!("{dir}: tag scheme {}", splits.source_scheme);
    println!("labels: {}", splits.labels.names().join(" "));
    for (name, file) in [
        ("train", &splits.train),
        ("dev", &splits.dev),
        ("test", &splits.test),
    ] {
        let s = file.stats(splits.source_scheme)?;
        let entities: Vec<String> = s.entities.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!(
            "{name:5}: {:6} sentences {:7} tokens {:4} documents | {}",
            s.sentences,
            s.tokens,
            s.documents,
            entities.join(", ")
        );
    }
    Ok(())
}
