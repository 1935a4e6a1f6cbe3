//! BERT and ALBERT on libtorch, with their heads, loading and saving Hugging Face checkpoints.
//!
//! ```no_run
//! use bertlab_models::{Model, Task};
//! let model = Model::from_pretrained("path/to/checkpoint".as_ref(), tch::Device::Cpu, Some(Task::Base), None)?;
//! let ids = tch::Tensor::from_slice(&[101i64, 7592, 102]).unsqueeze(0);
//! let out = model.forward(&ids, None, None, false);
//! println!("{:?}", out.last_hidden_state.size());
//! # Ok::<(), bertlab_models::ModelError>(())
//! ```

pub mod checkpoint;
pub mod config;
pub mod encoder;
pub mod error;
pub mod heads;
pub mod model;
pub mod presets;

pub use checkpoint::Checkpoint;
pub use config::{Arch, ModelConfig};
pub use encoder::{Encoder, EncoderOutput};
pub use error::ModelError;
pub use heads::{ClassifierHead, MlmHead};
pub use model::{write_atomic, Model, ModelOutput, ParamCounts, Task, TOKENIZER_FILES};
