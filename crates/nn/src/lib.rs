//! Tensors and attention on tch: embeddings, fused multi-head attention, feed-forward,
//! activations and initialisation shared by the BERT and ALBERT models.

pub mod runtime;

pub use runtime::{parse_device, LibtorchInfo};
