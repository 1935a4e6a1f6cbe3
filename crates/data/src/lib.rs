//! Data for bertlab: CoNLL, TSV and corpus readers, NER features with
//! overlapping windows, MLM·NSP·SOP pretraining examples, and batching.
//!
//! Everything here is plain Rust data (`Vec<u32>`, `Vec<i64>`); nothing depends
//! on tch. Errors about input name the file and line.

#![warn(missing_docs)]

pub mod batch;
pub mod conll;
pub mod corpus;
pub mod error;
pub mod ner;
pub mod pretrain;
pub mod tsv;

pub use batch::{collate, derived_rng, plan_batches, Batch, BatchSize, Example, SamplerConfig};
pub use conll::{
    convert_tags, detect_scheme, entity_spans, format_conlleval, parse_conll, read_conll,
    spans_to_tags, write_conlleval, ConllFile, ConllOptions, ConllStats, LabelSet, NerSplits,
    Sentence, Span, TagColumn, TagScheme,
};
pub use corpus::{corpus_files, CorpusReader, Document};
pub use error::{DataError, Result};
pub use ner::{
    build_ner_features, count_labelled, merge_window_predictions, plan_windows, NerConfig,
    NerFeature, WindowPlan, IGNORE_INDEX,
};
pub use pretrain::{
    create_instances, mask_instance, num_to_predict, sample_ngram_len, tokenize_documents,
    InstanceConfig, InstanceStream, MaskVocab, MaskedInstance, MaskingConfig, PairTask,
    PretrainDataset, PretrainInstance, Segment, TokenizedDocument,
};
pub use tsv::{
    build_classification_features, parse_tsv, read_tsv, ClassLabels, ClassificationFeature, Header,
    TsvExample, TsvFile, TsvOptions,
};
