//! Scoring for sequence labelling, classification and regression, in pure Rust.
//!
//! * **NER / chunking**: entity-level precision, recall and F1 that match seqeval
//!   (both its default, conlleval-compatible mode and its strict mode) for the
//!   IOB1, IOB2, IOE1, IOE2, IOBES and BILOU schemes; token accuracy; a
//!   seqeval-style report as text, JSON and Markdown; and the token-level
//!   per-tag report scikit-learn prints, clearly labelled as such.
//! * **Sequence classification**: accuracy, binary and macro precision/recall/F1,
//!   Matthews correlation and the confusion matrix, as scikit-learn computes them.
//! * **Regression**: Pearson and Spearman correlation.
//!
//! Every score is a fraction in `[0, 1]` (correlations in `[-1, 1]`); where a
//! division would be by zero (no predicted entities, say) the score is 0, never NaN.
//!
//! ```
//! use bertlab_metrics::{score_ner, Mode, Scheme};
//!
//! let gold = [vec!["B-PER", "I-PER", "O", "B-LOC"]];
//! let predicted = [vec!["B-PER", "I-PER", "O", "O"]];
//! let report = score_ner(&gold, &predicted, Scheme::Iob2, Mode::Conlleval)?;
//! assert_eq!(report.entity.micro.precision, 1.0);
//! assert_eq!(report.entity.micro.recall, 0.5);
//! assert_eq!(report.entity.accuracy, 0.75);
//! println!("{}", report.to_text());
//! # Ok::<(), bertlab_metrics::MetricsError>(())
//! ```

#![warn(missing_docs)]

mod classification;
mod conll;
mod error;
mod ner;
mod regression;
mod scheme;
mod table;

pub use classification::{
    classification_report, ClassScores, ClassificationReport, ConfusionMatrix,
};
pub use conll::{read_conll, score_conll, score_conll_file, ConllReader, ConllSentence, DOCSTART};
pub use error::{LineError, MetricsError, SentenceError, Side};
pub use ner::{
    score_ner, Counts, EntityScores, NerEvaluator, NerReport, Scores, TokenReport,
    TOKEN_REPORT_TITLE,
};
pub use regression::{pearson, ranks, spearman, RegressionReport};
pub use scheme::{
    extract_entities, tag_type, validate_strict, Entity, Mode, Scheme, TagError, UnknownName,
    UNTYPED,
};

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
