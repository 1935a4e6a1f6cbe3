//! A BERT or ALBERT encoder with the heads of one task: building, HF loading and saving, and
//! parameter counts.

use crate::checkpoint::Checkpoint;
use crate::config::{Arch, ModelConfig};
use crate::encoder::{sub, Encoder, EncoderOutput};
use crate::error::ModelError;
use crate::heads::{ClassifierHead, MlmHead};
use std::collections::BTreeMap;
use std::path::Path;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// What the model is for; decides its heads and whether it has a pooler, as the matching
/// transformers class does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Task {
    /// `BertModel`/`AlbertModel`: encoder and pooler.
    Base,
    /// `*ForPreTraining`: pooler, MLM head and NSP (BERT) or SOP (ALBERT) head.
    Pretraining,
    /// `*ForMaskedLM`: MLM head, no pooler.
    MaskedLm,
    /// `*ForTokenClassification`: a classifier on every token, no pooler.
    TokenClassification,
    /// `*ForSequenceClassification`: a classifier on the pooled output.
    SequenceClassification,
}

impl Task {
    const ALL: [Task; 5] = [
        Task::Base,
        Task::Pretraining,
        Task::MaskedLm,
        Task::TokenClassification,
        Task::SequenceClassification,
    ];

    /// The transformers class name suffix.
    fn suffix(self) -> &'static str {
        match self {
            Task::Base => "Model",
            Task::Pretraining => "ForPreTraining",
            Task::MaskedLm => "ForMaskedLM",
            Task::TokenClassification => "ForTokenClassification",
            Task::SequenceClassification => "ForSequenceClassification",
        }
    }

    /// The transformers class, e.g. `AlbertForPreTraining`.
    pub fn class_name(self, arch: Arch) -> String {
        format!("{}{}", arch.class_stem(), self.suffix())
    }

    /// Reads a transformers class name (e.g. `BertForMaskedLM`).
    pub fn from_class_name(name: &str) -> Option<Task> {
        let rest = name
            .strip_prefix("Bert")
            .or_else(|| name.strip_prefix("Albert"))?;
        Task::ALL.into_iter().find(|t| t.suffix() == rest)
    }

    pub fn has_pooler(self) -> bool {
        matches!(
            self,
            Task::Base | Task::Pretraining | Task::SequenceClassification
        )
    }

    fn has_mlm(self) -> bool {
        matches!(self, Task::Pretraining | Task::MaskedLm)
    }
}

/// Everything a forward pass may return.
#[derive(Debug)]
pub struct ModelOutput {
    /// [B, T, H].
    pub last_hidden_state: Tensor,
    /// [B, H], with a pooler.
    pub pooler_output: Option<Tensor>,
    /// [B, T, V], with an MLM head.
    pub mlm_logits: Option<Tensor>,
    /// NSP (BERT) or SOP (ALBERT) logits [B, 2], in pretraining.
    pub pair_logits: Option<Tensor>,
    /// Token ([B, T, L]) or sequence ([B, L]) classification logits.
    pub logits: Option<Tensor>,
}

/// Parameter counts by component.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ParamCounts {
    pub total: i64,
    pub components: BTreeMap<String, i64>,
}

/// A BERT or ALBERT model with the heads of its task.
pub struct Model {
    pub config: ModelConfig,
    pub task: Task,
    pub vs: VarStore,
    pub encoder: Encoder,
    pub mlm: Option<MlmHead>,
    /// NSP (`cls.seq_relationship`) or SOP (`sop_classifier.classifier`).
    pub pair: Option<ClassifierHead>,
    /// Token or sequence classifier (`classifier`).
    pub classifier: Option<ClassifierHead>,
}

/// The component a parameter belongs to, by its key.
fn component_of(arch: Arch, key: &str) -> &'static str {
    let base = key
        .strip_prefix(arch.model_type())
        .and_then(|k| k.strip_prefix('.'));
    match base {
        Some(k) if k.starts_with("embeddings.") => "embeddings",
        Some(k) if k.starts_with("encoder.") => "encoder",
        Some(k) if k.starts_with("pooler") => "pooler",
        _ if key.starts_with("cls.predictions.") || key.starts_with("predictions.") => "mlm_head",
        _ if key.starts_with("cls.seq_relationship.") => "nsp_head",
        _ if key.starts_with("sop_classifier.") => "sop_head",
        _ if key.starts_with("classifier.") => "classifier",
        _ => "other",
    }
}

/// Keys a checkpoint may store a variable under: with or without the base prefix, and with
/// the legacy `LayerNorm.gamma`/`beta` names; the MLM output bias also as `decoder.bias`.
fn candidate_keys(arch: Arch, name: &str) -> Vec<String> {
    let mut names = vec![name.to_string()];
    if let Some(stripped) = name.strip_prefix(&format!("{}.", arch.model_type())) {
        names.push(stripped.to_string());
    }
    if let Some(stem) = name.strip_suffix("predictions.bias") {
        names.push(format!("{stem}predictions.decoder.bias"));
    }
    let legacy: Vec<String> = names
        .iter()
        .filter_map(|n| {
            n.strip_suffix("LayerNorm.weight")
                .map(|s| format!("{s}LayerNorm.gamma"))
                .or_else(|| {
                    n.strip_suffix("LayerNorm.bias")
                        .map(|s| format!("{s}LayerNorm.beta"))
                })
        })
        .collect();
    names.extend(legacy);
    names
}

impl Model {
    /// A freshly initialised model (normal(0, initializer_range) weights, zero biases,
    /// LayerNorm at one). Classification heads get one output per `config.id2label` entry.
    pub fn new(config: ModelConfig, task: Task, device: Device) -> Self {
        let vs = VarStore::new(device);
        let root = vs.root();
        let cfg = &config;
        let encoder = Encoder::new(&root, cfg, task.has_pooler());
        let mlm = task.has_mlm().then(|| MlmHead::new(&root, cfg));
        let (h, std) = (cfg.hidden_size, cfg.initializer_range);
        let pair = (task == Task::Pretraining).then(|| match cfg.arch {
            Arch::Bert => ClassifierHead::new(sub(&root, "cls.seq_relationship"), h, 2, 0.0, std),
            Arch::Albert => ClassifierHead::new(
                sub(&root, "sop_classifier.classifier"),
                h,
                2,
                cfg.classifier_dropout_prob(),
                std,
            ),
        });
        let classifier = matches!(
            task,
            Task::TokenClassification | Task::SequenceClassification
        )
        .then(|| {
            ClassifierHead::new(
                &root / "classifier",
                h,
                config.num_labels(),
                cfg.classifier_dropout_prob(),
                std,
            )
        });
        drop(root);
        Model {
            config,
            task,
            vs,
            encoder,
            mlm,
            pair,
            classifier,
        }
    }

    /// Loads an HF checkpoint directory (`config.json` plus weights).
    ///
    /// `task` None takes the task from `architectures` in config.json (else from the heads the
    /// weights hold). `labels` replaces the config's `id2label` (for a new classification head).
    /// Missing encoder weights are an error naming the key; a missing head or pooler is freshly
    /// initialised with a warning; unexpected keys are listed at debug level.
    pub fn from_pretrained(
        dir: &Path,
        device: Device,
        task: Option<Task>,
        labels: Option<&[String]>,
    ) -> Result<Self, ModelError> {
        let config_path = dir.join("config.json");
        if !config_path.is_file() {
            return Err(ModelError::MissingFile {
                dir: dir.display().to_string(),
                msg: "no config.json".into(),
            });
        }
        let mut config = ModelConfig::from_file(&config_path)?;
        if let Some(labels) = labels {
            config.id2label = Some(
                labels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (i as i64, l.clone()))
                    .collect(),
            );
        }
        let ckpt = Checkpoint::open(dir)?;
        let task = task.unwrap_or_else(|| infer_task(&config, &ckpt));
        let mut model = Model::new(config, task, device);
        model.load_weights(&ckpt)?;
        Ok(model)
    }

    /// Copies the checkpoint's weights into the variables.
    pub fn load_weights(&mut self, ckpt: &Checkpoint) -> Result<(), ModelError> {
        let arch = self.config.arch;
        let dir = ckpt.dir.display().to_string();
        let mut used = std::collections::HashSet::new();
        let mut fresh: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
        let mut vars: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, mut var) in vars {
            let tried = candidate_keys(arch, &name);
            let Some(key) = tried.iter().find(|k| ckpt.contains(k)) else {
                let component = component_of(arch, &name);
                if matches!(component, "embeddings" | "encoder") {
                    return Err(ModelError::MissingWeight {
                        dir,
                        key: name,
                        tried: tried.join(", "),
                    });
                }
                fresh.entry(component).or_default().push(name);
                continue;
            };
            let value = ckpt.get(key)?.expect("key listed in the checkpoint index");
            if value.size() != var.size() {
                return Err(ModelError::ShapeMismatch {
                    file: ckpt
                        .file_of(key)
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                    key: key.clone(),
                    found: value.size(),
                    expected: var.size(),
                });
            }
            tch::no_grad(|| var.copy_(&value.to_kind(var.kind())));
            used.insert(key.clone());
        }
        for (component, names) in &fresh {
            tracing::warn!(
                "{dir}: no weights for the {component} ({} tensors, e.g. `{}`): freshly initialised",
                names.len(),
                names[0]
            );
        }
        let tied_decoder = [
            "cls.predictions.decoder.weight",
            "predictions.decoder.weight",
        ];
        let unexpected: Vec<&str> = ckpt
            .keys()
            .filter(|k| !used.contains(*k) && !tied_decoder.contains(k))
            .collect();
        if !unexpected.is_empty() {
            tracing::debug!(
                "{dir}: {} unexpected keys not used: {unexpected:?}",
                unexpected.len()
            );
        }
        Ok(())
    }

    /// The word embedding matrix [V, E], shared with the MLM decoder.
    pub fn word_embeddings(&self) -> &Tensor {
        &self.encoder.embeddings.word_embeddings.ws
    }

    /// Runs the encoder and every head the task has. MLM logits cover every position; see
    /// [`MlmHead::forward_at`] for masked positions only.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        token_type_ids: Option<&Tensor>,
        attention_mask: Option<&Tensor>,
        train: bool,
    ) -> ModelOutput {
        let EncoderOutput {
            last_hidden_state,
            pooler_output,
        } = self
            .encoder
            .forward(input_ids, token_type_ids, attention_mask, train);
        let mlm_logits = self
            .mlm
            .as_ref()
            .map(|m| m.forward(&last_hidden_state, self.word_embeddings()));
        let pair_logits = match (&self.pair, &pooler_output) {
            (Some(head), Some(pooled)) => Some(head.forward(pooled, train)),
            _ => None,
        };
        let logits = self.classifier.as_ref().map(|c| match self.task {
            Task::SequenceClassification => c.forward(
                pooler_output
                    .as_ref()
                    .expect("sequence classification has a pooler"),
                train,
            ),
            _ => c.forward(&last_hidden_state, train),
        });
        ModelOutput {
            last_hidden_state,
            pooler_output,
            mlm_logits,
            pair_logits,
            logits,
        }
    }

    /// Parameter counts per component; the total equals PyTorch's `sum(p.numel())` for the
    /// same transformers class (the tied decoder is counted once, in the embeddings).
    pub fn parameter_counts(&self) -> ParamCounts {
        let mut components = BTreeMap::new();
        for (name, t) in self.vs.variables() {
            *components
                .entry(component_of(self.config.arch, &name).to_string())
                .or_insert(0) += t.numel() as i64;
        }
        ParamCounts {
            total: components.values().sum(),
            components,
        }
    }

    /// The checkpoint keys this model saves under: transformers' base classes store keys
    /// without the `bert.`/`albert.` prefix, the task classes with it.
    fn saved_key(&self, name: &str) -> String {
        if self.task == Task::Base {
            let prefix = format!("{}.", self.config.arch.model_type());
            name.strip_prefix(&prefix).unwrap_or(name).to_string()
        } else {
            name.to_string()
        }
    }

    /// Writes HF format into `dir`: `config.json` (with `architectures`), `model.safetensors`
    /// and, from `tokenizer_dir`, the tokenizer files. Each file is written atomically.
    pub fn save_pretrained(
        &self,
        dir: &Path,
        tokenizer_dir: Option<&Path>,
    ) -> Result<(), ModelError> {
        std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
        let architectures = vec![self.task.class_name(self.config.arch)];
        let config =
            serde_json::to_string_pretty(&self.config.to_json(&architectures)).expect("JSON value");
        write_atomic(&dir.join("config.json"), config.as_bytes())?;

        let mut named: Vec<(String, Tensor)> = self
            .vs
            .variables()
            .into_iter()
            .map(|(n, t)| {
                (
                    self.saved_key(&n),
                    t.detach()
                        .to_device(Device::Cpu)
                        .to_kind(Kind::Float)
                        .contiguous(),
                )
            })
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        save_safetensors(&dir.join("model.safetensors"), &named)?;

        if let Some(src) = tokenizer_dir {
            for name in TOKENIZER_FILES {
                let from = src.join(name);
                if from.is_file() && src != dir {
                    let bytes = std::fs::read(&from).map_err(|e| ModelError::io(&from, e))?;
                    write_atomic(&dir.join(name), &bytes)?;
                }
            }
        }
        Ok(())
    }
}

impl ModelConfig {
    /// Outputs of a classification head: the `id2label` size, else 2 (transformers' default).
    pub fn num_labels(&self) -> i64 {
        self.id2label.as_ref().map_or(2, |l| l.len() as i64)
    }
}

/// Files that make up a tokenizer in an HF model directory.
pub const TOKENIZER_FILES: &[&str] = &[
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "spiece.model",
];

/// The task a checkpoint was saved for: its `architectures`, else the heads its keys hold.
fn infer_task(config: &ModelConfig, ckpt: &Checkpoint) -> Task {
    if let Some(task) = config
        .architectures
        .iter()
        .find_map(|a| Task::from_class_name(a))
    {
        return task;
    }
    let has = |prefix: &str| ckpt.keys().any(|k| k.starts_with(prefix));
    let mlm = has("cls.predictions.") || has("predictions.");
    let pair = has("cls.seq_relationship.") || has("sop_classifier.");
    match (mlm, pair) {
        (true, true) => Task::Pretraining,
        (true, false) => Task::MaskedLm,
        _ => Task::Base,
    }
}

/// Writes `bytes` to a temporary file beside `path`, then renames it into place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    let tmp = tmp_path(path);
    std::fs::write(&tmp, bytes).map_err(|e| ModelError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| ModelError::io(path, e))
}

fn tmp_path(path: &Path) -> std::path::PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Writes f32 tensors as safetensors (with the `format: pt` metadata transformers expects),
/// atomically.
pub fn save_safetensors(path: &Path, named: &[(String, Tensor)]) -> Result<(), ModelError> {
    let mut buffers = Vec::with_capacity(named.len());
    for (name, t) in named {
        let t = t.to_kind(Kind::Float).contiguous().to_device(Device::Cpu);
        let mut bytes = vec![0u8; t.numel() * 4];
        t.f_copy_data_u8(&mut bytes, t.numel())?;
        let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
        buffers.push((name.clone(), shape, bytes));
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = buffers
        .iter()
        .map(|(n, shape, bytes)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .expect("shape matches the byte count");
            (n.clone(), view)
        })
        .collect();
    let metadata = Some(
        [("format".to_string(), "pt".to_string())]
            .into_iter()
            .collect(),
    );
    let bytes =
        safetensors::tensor::serialize(views, metadata).map_err(|e| ModelError::Format {
            file: path.display().to_string(),
            msg: e.to_string(),
        })?;
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_key_candidates_cover_prefixes_and_legacy_names() {
        let c = candidate_keys(Arch::Bert, "bert.embeddings.LayerNorm.weight");
        assert!(c.contains(&"embeddings.LayerNorm.weight".to_string()));
        assert!(c.contains(&"bert.embeddings.LayerNorm.gamma".to_string()));
        assert!(c.contains(&"embeddings.LayerNorm.gamma".to_string()));
        let c = candidate_keys(Arch::Albert, "predictions.bias");
        assert!(c.contains(&"predictions.decoder.bias".to_string()));
    }

    #[test]
    fn class_names_map_to_tasks() {
        assert_eq!(
            Task::from_class_name("BertForTokenClassification"),
            Some(Task::TokenClassification)
        );
        assert_eq!(
            Task::from_class_name("AlbertForPreTraining"),
            Some(Task::Pretraining)
        );
        assert_eq!(Task::from_class_name("BertModel"), Some(Task::Base));
        assert_eq!(Task::from_class_name("RobertaModel"), None);
        assert_eq!(Task::MaskedLm.class_name(Arch::Albert), "AlbertForMaskedLM");
    }
}
