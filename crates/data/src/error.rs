//! Errors of the data crate. Every error about input names its file and line.

use std::path::PathBuf;

/// Everything that can go wrong while reading data or building examples.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line of input is malformed.
    #[error("{path}:{line}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },
    /// A dev/test label does not occur in the training label set.
    #[error(
        "{path}:{line}: label {label:?} does not occur in the training data \
         (known labels: {known})"
    )]
    UnknownLabel {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The unseen label.
        label: String,
        /// The training labels, space-separated.
        known: String,
    },
    /// An invalid configuration value.
    #[error("invalid option {key}: {message}")]
    Config {
        /// Name of the option.
        key: &'static str,
        /// What is wrong with its value.
        message: String,
    },
    /// Inputs that must agree in shape do not.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// The tokenizer failed.
    #[error(transparent)]
    Tokenize(#[from] bertlab_tokenize::TokenizeError),
}

/// Crate result type.
pub type Result<T> = std::result::Result<T, DataError>;

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn malformed(
        path: impl Into<PathBuf>,
        line: usize,
        message: impl Into<String>,
    ) -> Self {
        Self::Malformed {
            path: path.into(),
            line,
            message: message.into(),
        }
    }

    pub(crate) fn config(key: &'static str, message: impl Into<String>) -> Self {
        Self::Config {
            key,
            message: message.into(),
        }
    }
}
