//! Training for bertlab: optimizers (AdamW, LAMB), learning-rate schedules, the fine-tuning
//! loop for NER and sentence classification, and atomic, resumable checkpoints.

pub mod checkpoint;
pub mod error;
pub mod finetune;
pub mod logging;
pub mod optim;
pub mod pretrain;
pub mod schedule;
pub mod tasks;

pub use checkpoint::{load_checkpoint, save_checkpoint, TrainerState};
pub use error::{Result, TrainError};
pub use finetune::{finetune, Evaluation, FinetuneConfig, FinetuneSummary, FinetuneTask, Split};
pub use optim::{OptimConfig, Optimizer, OptimizerKind};
pub use pretrain::{pretrain, PretrainConfig, PretrainSummary};
pub use schedule::{DecayKind, LrSchedule};
pub use tasks::{ClassifyTask, NerTask};
