//! Errors of the models crate.

use std::path::Path;

/// Loading, building or saving a model failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A config.json problem, naming the file and the key.
    #[error("{path}: key `{key}`: {msg}")]
    Config {
        path: String,
        key: String,
        msg: String,
    },
    /// A weight the encoder needs is not in the checkpoint.
    #[error("{dir}: missing weight `{key}` (looked for {tried})")]
    MissingWeight {
        dir: String,
        key: String,
        tried: String,
    },
    /// A weight has another shape than the config implies.
    #[error("{file}: weight `{key}` has shape {found:?}, the config implies {expected:?}")]
    ShapeMismatch {
        file: String,
        key: String,
        found: Vec<i64>,
        expected: Vec<i64>,
    },
    /// A checkpoint file could not be parsed.
    #[error("{file}: {msg}")]
    Format { file: String, msg: String },
    /// Something the checkpoint directory must hold is not there.
    #[error("{dir}: {msg}")]
    MissingFile { dir: String, msg: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    /// An unknown preset name.
    #[error("unknown {arch} preset {name:?}: expected one of {known}")]
    UnknownPreset {
        arch: String,
        name: String,
        known: String,
    },
}

impl ModelError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
