//! Errors of the metrics crate.

use std::fmt;

use thiserror::Error;

use crate::scheme::{Scheme, TagError};

/// Which tag column of a pair is meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The reference (gold) tags.
    Gold,
    /// The system's predicted tags.
    Predicted,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Gold => "gold",
            Side::Predicted => "predicted",
        })
    }
}

/// Why one gold/predicted sentence pair cannot be scored.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SentenceError {
    /// The two tag sequences differ in length.
    #[error("gold has {gold} tags but predicted has {predicted}")]
    LengthMismatch {
        /// Number of gold tags.
        gold: usize,
        /// Number of predicted tags.
        predicted: usize,
    },
    /// A tag is not valid under the scheme (strict mode).
    #[error("{side} {source}")]
    Tag {
        /// Gold or predicted column.
        side: Side,
        /// The offending tag and its position.
        source: TagError,
    },
}

/// What is wrong with one line of a conlleval-format file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LineError {
    /// A line with fewer than two columns (a gold and a predicted tag are needed).
    #[error("expected at least 2 whitespace-separated columns (… gold predicted), found {found}")]
    TooFewColumns {
        /// Columns found on the line.
        found: usize,
    },
    /// A line whose column count differs from the file's first token line.
    #[error("found {found} columns, but line {first_line} has {expected}")]
    ColumnCount {
        /// Columns found on this line.
        found: usize,
        /// Columns on the first token line.
        expected: usize,
        /// The first token line's number.
        first_line: usize,
    },
    /// A tag whose prefix the scheme does not allow in strict mode.
    #[error("{side} tag {tag:?} has a prefix that {scheme} does not allow in strict mode (allowed: {allowed})", allowed = scheme.allowed_prefixes())]
    Tag {
        /// Gold or predicted column.
        side: Side,
        /// The offending tag.
        tag: String,
        /// The scheme it was read under.
        scheme: Scheme,
    },
    /// The line is not valid UTF-8.
    #[error("line is not valid UTF-8")]
    NotUtf8,
}

/// Any error of this crate.
#[derive(Debug, Error)]
pub enum MetricsError {
    /// The gold and predicted corpora have different numbers of sentences.
    #[error("gold has {gold} sentences but predicted has {predicted}")]
    SentenceCount {
        /// Number of gold sentences.
        gold: usize,
        /// Number of predicted sentences.
        predicted: usize,
    },
    /// One sentence pair of an in-memory corpus cannot be scored.
    #[error("sentence {sentence}: {source}")]
    Sentence {
        /// Index of the sentence, from 0.
        sentence: usize,
        /// What is wrong with it.
        source: SentenceError,
    },
    /// A line of a conlleval-format input is malformed.
    #[error("{name}:{line}: {source}")]
    Line {
        /// The input's name (usually its path).
        name: String,
        /// Line number, from 1.
        line: usize,
        /// What is wrong with the line.
        source: LineError,
    },
    /// Reading an input failed.
    #[error("{name}: {source}")]
    Io {
        /// The input's name (usually its path).
        name: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Two parallel arrays (gold and predicted labels or values) differ in length.
    #[error("gold has {gold} items but predicted has {predicted}")]
    LengthMismatch {
        /// Number of gold items.
        gold: usize,
        /// Number of predicted items.
        predicted: usize,
    },
    /// A class label is not below the number of classes.
    #[error("{side} label {label} at index {index} is out of range for {num_classes} classes")]
    LabelOutOfRange {
        /// Gold or predicted array.
        side: Side,
        /// Position of the label.
        index: usize,
        /// The label.
        label: usize,
        /// Number of classes.
        num_classes: usize,
    },
    /// A correlation is undefined: fewer than two points, or a constant input.
    #[error("correlation is undefined: {0}")]
    UndefinedCorrelation(&'static str),
    /// A value is NaN or infinite.
    #[error("{side} value at index {index} is not finite")]
    NotFinite {
        /// Gold or predicted array.
        side: Side,
        /// Position of the value.
        index: usize,
    },
}
