//! Tensors and attention on tch: embeddings, fused multi-head attention, feed-forward,
//! activations and initialisation shared by the BERT and ALBERT models.
//!
//! Parameter names follow the Hugging Face checkpoints (`weight`, `bias`), so a module built
//! under a [`tch::nn::Path`] named after a checkpoint key maps one to one onto that key.

pub mod activation;
pub mod attention;
pub mod autocast;
pub mod init;
pub mod layers;
pub mod runtime;

pub use activation::Activation;
pub use attention::{padding_mask, SelfAttention};
pub use autocast::Autocast;
pub use layers::{embedding, layer_norm, linear, FeedForward};
pub use runtime::{parse_device, LibtorchInfo};
