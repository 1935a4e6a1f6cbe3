//! Errors of the training crate.

/// Training, evaluation or checkpointing failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Model(#[from] bertlab_models::ModelError),
    #[error(transparent)]
    Data(#[from] bertlab_data::DataError),
    #[error(transparent)]
    Tokenize(#[from] bertlab_tokenize::TokenizeError),
    #[error(transparent)]
    Metrics(#[from] bertlab_metrics::MetricsError),
    #[error(transparent)]
    Optim(#[from] crate::optim::OptimError),
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// A checkpoint that does not belong to this run or is damaged.
    #[error("{path}: {msg}")]
    Checkpoint { path: String, msg: String },
    /// A pretraining corpus that cannot be used (no files, too small).
    #[error("{dir}: {msg}")]
    Corpus { dir: String, msg: String },
    /// Bad settings or input.
    #[error("{0}")]
    Invalid(String),
}

impl TrainError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;
