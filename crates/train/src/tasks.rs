//! The two fine-tuning tasks: NER on CoNLL files and sentence (pair) classification on TSV.

use crate::error::{Result, TrainError};
use crate::finetune::{cross_entropy, BatchTensors, Evaluation, FinetuneTask, Split};
use bertlab_data::{
    build_classification_features, build_ner_features, collate, format_conlleval,
    merge_window_predictions, plan_batches, read_tsv, ClassLabels, ClassificationFeature,
    ConllOptions, NerConfig, NerFeature, NerSplits, SamplerConfig, Sentence, TagScheme, TsvOptions,
};
use bertlab_metrics::{classification_report, Mode, NerEvaluator, Scheme};
use bertlab_models::Model;
use bertlab_tokenize::Tokenizer;
use serde_json::json;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Reduction, Tensor};

/// Window settings for a maximum length: windows overlap by about a quarter of their room.
pub fn ner_config(max_seq_len: usize) -> NerConfig {
    let room = max_seq_len.saturating_sub(2);
    NerConfig {
        max_len: max_seq_len,
        stride: (room / 4).min(32),
    }
}

/// Runs the model over `examples` in length-sorted eval batches and returns, per example, the
/// argmax of the logits (per token for token classification, one per row otherwise) and the
/// softmax probability of that argmax.
fn predict_rows<E: bertlab_data::Example>(
    model: &Model,
    examples: &[E],
    pad_id: u32,
    batch_size: usize,
    device: Device,
) -> Result<Vec<(Vec<i64>, Vec<f64>)>> {
    let lengths: Vec<usize> = examples.iter().map(|e| e.seq_len()).collect();
    let sampler = SamplerConfig {
        bucket: true,
        ..SamplerConfig::eval(batch_size)
    };
    let mut rows: Vec<(Vec<i64>, Vec<f64>)> = vec![(vec![], vec![]); examples.len()];
    for indices in plan_batches(&lengths, &sampler, 0)? {
        let batch = collate(examples, &indices, pad_id, None)?;
        let t = BatchTensors::new(&batch, device);
        let logits = tch::no_grad(|| {
            model
                .forward(
                    &t.input_ids,
                    Some(&t.token_type_ids),
                    t.attention_mask.as_ref(),
                    false,
                )
                .logits
        })
        .expect("a classification model has logits");
        let probs = logits.to_kind(Kind::Float).softmax(-1, Kind::Float);
        let (best_p, best) = probs.max_dim(-1, false);
        let best = best
            .to_device(Device::Cpu)
            .reshape([indices.len() as i64, -1]);
        let best_p = best_p
            .to_device(Device::Cpu)
            .to_kind(Kind::Double)
            .reshape([indices.len() as i64, -1]);
        for (r, &i) in indices.iter().enumerate() {
            let ids: Vec<i64> = Vec::try_from(best.get(r as i64))?;
            let ps: Vec<f64> = Vec::try_from(best_p.get(r as i64))?;
            rows[i] = (ids, ps);
        }
    }
    Ok(rows)
}

/// Named-entity recognition on CoNLL column files (`train.txt`, `dev.txt`, `test.txt`), trained
/// and scored in IOB2 whatever scheme the files use.
pub struct NerTask {
    pub splits: NerSplits,
    pub train: Vec<NerFeature>,
    pub dev: Vec<NerFeature>,
    pub test: Vec<NerFeature>,
    pub pad_id: u32,
    pub device: Device,
}

impl NerTask {
    /// Reads the splits of `data_dir` and builds windowed features with `tokenizer`.
    pub fn load(
        data_dir: &Path,
        tokenizer: &Tokenizer,
        max_seq_len: usize,
        device: Device,
    ) -> Result<Self> {
        let splits = NerSplits::load(data_dir, &ConllOptions::default(), Some(TagScheme::Iob2))?;
        let config = ner_config(max_seq_len);
        let features = |file: &bertlab_data::ConllFile, ids: &[Vec<i64>]| {
            let words: Vec<&[String]> = file.sentences.iter().map(|s| s.words.as_slice()).collect();
            build_ner_features(tokenizer, &words, Some(ids), &config)
        };
        let train = features(&splits.train, &splits.train_ids)?;
        let dev = features(&splits.dev, &splits.dev_ids)?;
        let test = features(&splits.test, &splits.test_ids)?;
        tracing::info!(
            "NER data: {} / {} / {} sentences ({} source scheme), {} / {} / {} windows, labels {:?}",
            splits.train.sentences.len(),
            splits.dev.sentences.len(),
            splits.test.sentences.len(),
            splits.source_scheme,
            train.len(),
            dev.len(),
            test.len(),
            splits.labels.names()
        );
        let pad_id = tokenizer.special_tokens()?.pad;
        Ok(NerTask {
            splits,
            train,
            dev,
            test,
            pad_id,
            device,
        })
    }

    fn split(&self, split: Split) -> (&[Sentence], &[NerFeature]) {
        match split {
            Split::Dev => (&self.splits.dev.sentences, &self.dev),
            Split::Test => (&self.splits.test.sentences, &self.test),
        }
    }
}

/// Predicts one tag (and its probability) per word of every sentence; every word gets
/// exactly one prediction, windows merged.
pub fn predict_ner_words(
    model: &Model,
    features: &[NerFeature],
    num_words: &[usize],
    labels: &[String],
    pad_id: u32,
    batch_size: usize,
    device: Device,
) -> Result<Vec<Vec<(String, f64)>>> {
    let rows = predict_rows(model, features, pad_id, batch_size, device)?;
    let per_token: Vec<Vec<(i64, f64)>> = rows
        .into_iter()
        .map(|(ids, ps)| ids.into_iter().zip(ps).collect())
        .collect();
    let merged = merge_window_predictions(features, &per_token, num_words)?;
    merged
        .into_iter()
        .map(|words| {
            words
                .into_iter()
                .map(|(id, p)| {
                    let name = labels.get(id as usize).ok_or_else(|| {
                        TrainError::Invalid(format!("predicted label id {id} has no name"))
                    })?;
                    Ok((name.clone(), p))
                })
                .collect()
        })
        .collect()
}

impl FinetuneTask for NerTask {
    fn train_lengths(&self) -> Vec<usize> {
        self.train.iter().map(NerFeature::len).collect()
    }

    fn train_targets(&self) -> Vec<usize> {
        self.train
            .iter()
            .map(|f| bertlab_data::count_labelled(&f.labels))
            .collect()
    }

    fn train_batch(&self, indices: &[usize]) -> Result<bertlab_data::Batch> {
        Ok(collate(&self.train, indices, self.pad_id, None)?)
    }

    fn loss(&self, model: &Model, batch: &BatchTensors, train: bool) -> Tensor {
        let out = model.forward(
            &batch.input_ids,
            Some(&batch.token_type_ids),
            batch.attention_mask.as_ref(),
            train,
        );
        cross_entropy(
            &out.logits.expect("token classifier"),
            batch.token_labels.as_ref().expect("NER labels"),
            Reduction::Sum,
        )
    }

    fn has_split(&self, split: Split) -> bool {
        !self.split(split).0.is_empty()
    }

    fn labels(&self) -> Vec<String> {
        self.splits.labels.names().to_vec()
    }

    fn evaluate(&self, model: &Model, split: Split, batch_size: usize) -> Result<Evaluation> {
        let (sentences, features) = self.split(split);
        let num_words: Vec<usize> = sentences.iter().map(|s| s.words.len()).collect();
        let labels = self.labels();
        let predicted = predict_ner_words(
            model,
            features,
            &num_words,
            &labels,
            self.pad_id,
            batch_size,
            self.device,
        )?;
        let tags: Vec<Vec<String>> = predicted
            .into_iter()
            .map(|w| w.into_iter().map(|(t, _)| t).collect())
            .collect();
        let mut evaluator = NerEvaluator::new(Scheme::Iob2, Mode::Conlleval);
        for (s, pred) in sentences.iter().zip(&tags) {
            evaluator
                .add_sentence(&s.tags, pred)
                .map_err(|e| TrainError::Invalid(format!("scoring {}: {e}", split.name())))?;
        }
        let report = evaluator.report();
        let score = report.entity.micro.f1;
        Ok(Evaluation {
            score,
            metrics: serde_json::to_value(&report).expect("report serialises"),
            report: report.to_text(),
            predictions: Some(format_conlleval(sentences, &tags)?),
            tokens: features.iter().map(NerFeature::len).sum(),
        })
    }
}

/// Sentence or sentence-pair classification on TSV files (`train.tsv`, `dev.tsv`, and
/// `test.tsv` or else `test_unofficial.tsv` when present).
pub struct ClassifyTask {
    pub labels: ClassLabels,
    pub train: Vec<ClassificationFeature>,
    pub dev: Vec<ClassificationFeature>,
    pub test: Vec<ClassificationFeature>,
    pub test_file: Option<PathBuf>,
    pub pad_id: u32,
    pub device: Device,
}

impl ClassifyTask {
    pub fn load(
        data_dir: &Path,
        tokenizer: &Tokenizer,
        max_seq_len: usize,
        device: Device,
    ) -> Result<Self> {
        let options = TsvOptions::default();
        let train_file = read_tsv(data_dir.join("train.tsv"), &options)?;
        let labels = ClassLabels::from_train(&train_file);
        let train = build_classification_features(tokenizer, &train_file, &labels, max_seq_len)?;
        let dev_file = read_tsv(data_dir.join("dev.tsv"), &options)?;
        let dev = build_classification_features(tokenizer, &dev_file, &labels, max_seq_len)?;
        let test_file = ["test.tsv", "test_unofficial.tsv"]
            .iter()
            .map(|n| data_dir.join(n))
            .find(|p| p.is_file());
        let test = match &test_file {
            Some(p) => build_classification_features(
                tokenizer,
                &read_tsv(p, &options)?,
                &labels,
                max_seq_len,
            )?,
            None => vec![],
        };
        tracing::info!(
            "classification data: {} / {} / {} examples, labels {:?}",
            train.len(),
            dev.len(),
            test.len(),
            labels.names()
        );
        let pad_id = tokenizer.special_tokens()?.pad;
        Ok(ClassifyTask {
            labels,
            train,
            dev,
            test,
            test_file,
            pad_id,
            device,
        })
    }
}

impl FinetuneTask for ClassifyTask {
    fn train_lengths(&self) -> Vec<usize> {
        self.train.iter().map(|f| f.input_ids.len()).collect()
    }

    fn train_targets(&self) -> Vec<usize> {
        vec![1; self.train.len()]
    }

    fn train_batch(&self, indices: &[usize]) -> Result<bertlab_data::Batch> {
        Ok(collate(&self.train, indices, self.pad_id, None)?)
    }

    fn loss(&self, model: &Model, batch: &BatchTensors, train: bool) -> Tensor {
        let out = model.forward(
            &batch.input_ids,
            Some(&batch.token_type_ids),
            batch.attention_mask.as_ref(),
            train,
        );
        cross_entropy(
            &out.logits.expect("sequence classifier"),
            batch.sequence_labels.as_ref().expect("labels"),
            Reduction::Sum,
        )
    }

    fn labels(&self) -> Vec<String> {
        self.labels.names().to_vec()
    }

    fn has_split(&self, split: Split) -> bool {
        match split {
            Split::Dev => !self.dev.is_empty(),
            Split::Test => !self.test.is_empty(),
        }
    }

    fn evaluate(&self, model: &Model, split: Split, batch_size: usize) -> Result<Evaluation> {
        let examples = match split {
            Split::Dev => &self.dev,
            Split::Test => &self.test,
        };
        let rows = predict_rows(model, examples, self.pad_id, batch_size, self.device)?;
        let predicted: Vec<usize> = rows.iter().map(|(ids, _)| ids[0] as usize).collect();
        let gold: Vec<usize> = examples.iter().map(|e| e.label as usize).collect();
        let report = classification_report(&gold, &predicted, self.labels.names())?;
        let mut metrics = serde_json::to_value(&report).expect("report serialises");
        if split == Split::Test {
            if let Some(p) = &self.test_file {
                metrics["file"] = json!(p.file_name().map(|n| n.to_string_lossy().into_owned()));
            }
        }
        let predictions: String = predicted
            .iter()
            .map(|&p| format!("{}\n", self.labels.names()[p]))
            .collect();
        Ok(Evaluation {
            score: report.accuracy,
            metrics,
            report: report.to_text(4),
            predictions: Some(predictions),
            tokens: examples.iter().map(|e| e.input_ids.len()).sum(),
        })
    }
}
