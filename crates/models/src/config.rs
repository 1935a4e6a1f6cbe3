//! HF `config.json` for BERT and ALBERT, read into one [`ModelConfig`].
//!
//! Absent fields take the defaults of `transformers.BertConfig` / `AlbertConfig`. Unknown
//! fields are kept and written back on save.

use crate::error::ModelError;
use bertlab_nn::Activation;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Which of the two architectures a config describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Bert,
    Albert,
}

impl Arch {
    /// `model_type` in config.json, which is also the prefix of the base model's keys.
    pub fn model_type(self) -> &'static str {
        match self {
            Arch::Bert => "bert",
            Arch::Albert => "albert",
        }
    }

    /// The HF class name stem (`Bert`, `Albert`).
    pub fn class_stem(self) -> &'static str {
        match self {
            Arch::Bert => "Bert",
            Arch::Albert => "Albert",
        }
    }

    pub fn parse(name: &str) -> Option<Arch> {
        match name {
            "bert" => Some(Arch::Bert),
            "albert" => Some(Arch::Albert),
            _ => None,
        }
    }
}

/// A BERT or ALBERT configuration. For BERT, `embedding_size == hidden_size`,
/// `num_hidden_groups == 1` and `inner_group_num == 1` with a layer of its own per depth.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub arch: Arch,
    pub vocab_size: i64,
    /// E: the width of the token embeddings (ALBERT factorises it from H).
    pub embedding_size: i64,
    /// H.
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    /// ALBERT: groups of layers whose parameters are shared.
    pub num_hidden_groups: i64,
    /// ALBERT: distinct layers inside each group.
    pub inner_group_num: i64,
    pub hidden_act: Activation,
    pub hidden_dropout_prob: f64,
    pub attention_probs_dropout_prob: f64,
    pub max_position_embeddings: i64,
    pub type_vocab_size: i64,
    pub initializer_range: f64,
    pub layer_norm_eps: f64,
    pub pad_token_id: i64,
    /// BERT's `classifier_dropout` (None: use `hidden_dropout_prob`); ALBERT's
    /// `classifier_dropout_prob`.
    pub classifier_dropout: Option<f64>,
    /// Label names of a classification head, by index.
    pub id2label: Option<BTreeMap<i64, String>>,
    /// `architectures` as read (e.g. `["BertForTokenClassification"]`).
    pub architectures: Vec<String>,
    /// Every other key of config.json, written back unchanged.
    pub extra: Map<String, Value>,
}

/// Keys this struct owns (the rest go to `extra`).
const OWN_KEYS: &[&str] = &[
    "model_type",
    "vocab_size",
    "embedding_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "num_hidden_groups",
    "inner_group_num",
    "hidden_act",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "max_position_embeddings",
    "type_vocab_size",
    "initializer_range",
    "layer_norm_eps",
    "pad_token_id",
    "classifier_dropout",
    "classifier_dropout_prob",
    "position_embedding_type",
    "id2label",
    "label2id",
    "num_labels",
    "architectures",
];

struct Reader<'a> {
    obj: &'a Map<String, Value>,
    source: String,
}

impl Reader<'_> {
    fn err(&self, key: &str, msg: String) -> ModelError {
        ModelError::Config {
            path: self.source.clone(),
            key: key.to_string(),
            msg,
        }
    }

    fn int(&self, key: &str, default: i64) -> Result<i64, ModelError> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_i64()
                .ok_or_else(|| self.err(key, format!("expected an integer, found {v}"))),
        }
    }

    fn float(&self, key: &str, default: f64) -> Result<f64, ModelError> {
        self.opt_float(key).map(|v| v.unwrap_or(default))
    }

    fn opt_float(&self, key: &str) -> Result<Option<f64>, ModelError> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.err(key, format!("expected a number, found {v}"))),
        }
    }

    fn string(&self, key: &str, default: &str) -> Result<String, ModelError> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(default.to_string()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(self.err(key, format!("expected a string, found {v}"))),
        }
    }
}

impl ModelConfig {
    /// Reads and validates `config.json`.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        let value: Value = serde_json::from_str(&text).map_err(|e| ModelError::Config {
            path: path.display().to_string(),
            key: String::new(),
            msg: format!("invalid JSON: {e}"),
        })?;
        Self::from_json(&value, &path.display().to_string())
    }

    /// Parses a config from JSON; `source` names it in errors.
    pub fn from_json(value: &Value, source: &str) -> Result<Self, ModelError> {
        let obj = value.as_object().ok_or_else(|| ModelError::Config {
            path: source.to_string(),
            key: String::new(),
            msg: "expected a JSON object".into(),
        })?;
        let r = Reader {
            obj,
            source: source.to_string(),
        };
        let model_type = r.string("model_type", "")?;
        let arch = Arch::parse(&model_type).ok_or_else(|| {
            r.err(
                "model_type",
                format!("unsupported model_type {model_type:?}: expected \"bert\" or \"albert\""),
            )
        })?;
        let position = r.string("position_embedding_type", "absolute")?;
        if position != "absolute" {
            return Err(r.err(
                "position_embedding_type",
                format!("{position:?} is not supported: only \"absolute\" position embeddings"),
            ));
        }
        let bert = arch == Arch::Bert;
        let hidden_size = r.int("hidden_size", if bert { 768 } else { 4096 })?;
        let act_name = r.string("hidden_act", if bert { "gelu" } else { "gelu_new" })?;
        let hidden_act: Activation = serde_json::from_value(Value::String(act_name.clone()))
            .map_err(|_| r.err("hidden_act", format!("unsupported activation {act_name:?}")))?;
        let id2label = match obj.get("id2label") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => {
                let mut labels = BTreeMap::new();
                for (k, v) in m {
                    let idx: i64 = k
                        .parse()
                        .map_err(|_| r.err("id2label", format!("key {k:?} is not an integer")))?;
                    let name = v
                        .as_str()
                        .ok_or_else(|| r.err("id2label", format!("label {v} is not a string")))?;
                    labels.insert(idx, name.to_string());
                }
                Some(labels)
            }
            Some(v) => return Err(r.err("id2label", format!("expected an object, found {v}"))),
        };
        let architectures = match obj.get("architectures") {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            Some(v) => return Err(r.err("architectures", format!("expected a list, found {v}"))),
        };
        let extra = obj
            .iter()
            .filter(|(k, _)| !OWN_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let cfg = ModelConfig {
            arch,
            vocab_size: r.int("vocab_size", if bert { 30522 } else { 30000 })?,
            embedding_size: if bert {
                hidden_size
            } else {
                r.int("embedding_size", 128)?
            },
            hidden_size,
            num_hidden_layers: r.int("num_hidden_layers", 12)?,
            num_attention_heads: r.int("num_attention_heads", if bert { 12 } else { 64 })?,
            intermediate_size: r.int("intermediate_size", if bert { 3072 } else { 16384 })?,
            num_hidden_groups: if bert {
                1
            } else {
                r.int("num_hidden_groups", 1)?
            },
            inner_group_num: if bert {
                1
            } else {
                r.int("inner_group_num", 1)?
            },
            hidden_act,
            hidden_dropout_prob: r.float("hidden_dropout_prob", if bert { 0.1 } else { 0.0 })?,
            attention_probs_dropout_prob: r
                .float("attention_probs_dropout_prob", if bert { 0.1 } else { 0.0 })?,
            max_position_embeddings: r.int("max_position_embeddings", 512)?,
            type_vocab_size: r.int("type_vocab_size", 2)?,
            initializer_range: r.float("initializer_range", 0.02)?,
            layer_norm_eps: r.float("layer_norm_eps", 1e-12)?,
            pad_token_id: r.int("pad_token_id", 0)?,
            classifier_dropout: if bert {
                r.opt_float("classifier_dropout")?
            } else {
                Some(r.float("classifier_dropout_prob", 0.1)?)
            },
            id2label,
            architectures,
            extra,
        };
        cfg.validate(source)?;
        Ok(cfg)
    }

    /// Checks the sizes against each other.
    pub fn validate(&self, source: &str) -> Result<(), ModelError> {
        let err = |key: &str, msg: String| ModelError::Config {
            path: source.to_string(),
            key: key.to_string(),
            msg,
        };
        for (key, v) in [
            ("vocab_size", self.vocab_size),
            ("embedding_size", self.embedding_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_groups", self.num_hidden_groups),
            ("inner_group_num", self.inner_group_num),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ] {
            if v < 1 {
                return Err(err(key, format!("must be at least 1, found {v}")));
            }
        }
        if self.hidden_size % self.num_attention_heads != 0 {
            return Err(err(
                "num_attention_heads",
                format!(
                    "hidden_size {} is not a multiple of num_attention_heads {}",
                    self.hidden_size, self.num_attention_heads
                ),
            ));
        }
        if self.num_hidden_groups > self.num_hidden_layers {
            return Err(err(
                "num_hidden_groups",
                format!(
                    "{} groups for {} layers: every group must be used",
                    self.num_hidden_groups, self.num_hidden_layers
                ),
            ));
        }
        for (key, p) in [
            ("hidden_dropout_prob", Some(self.hidden_dropout_prob)),
            (
                "attention_probs_dropout_prob",
                Some(self.attention_probs_dropout_prob),
            ),
            ("classifier_dropout", self.classifier_dropout),
        ] {
            if let Some(p) = p {
                if !(0.0..1.0).contains(&p) {
                    return Err(err(
                        key,
                        format!("a dropout probability must lie in [0, 1), found {p}"),
                    ));
                }
            }
        }
        if !(self.layer_norm_eps > 0.0) || !(self.initializer_range > 0.0) {
            return Err(err(
                "layer_norm_eps",
                "layer_norm_eps and initializer_range must be positive".into(),
            ));
        }
        if self.pad_token_id < 0 || self.pad_token_id >= self.vocab_size {
            return Err(err(
                "pad_token_id",
                format!(
                    "{} lies outside the vocabulary of {}",
                    self.pad_token_id, self.vocab_size
                ),
            ));
        }
        if let Some(labels) = &self.id2label {
            let n = labels.len() as i64;
            if labels.keys().copied().ne(0..n) {
                return Err(err(
                    "id2label",
                    "label indices must run 0..num_labels without gaps".into(),
                ));
            }
        }
        Ok(())
    }

    /// The dropout in front of a classification head.
    pub fn classifier_dropout_prob(&self) -> f64 {
        self.classifier_dropout.unwrap_or(self.hidden_dropout_prob)
    }

    /// The order in which layer parameters run: entry `i` of the result is the index (into the
    /// distinct layers, `group * inner_group_num + inner`) applied at step `i`. BERT runs each
    /// layer once; ALBERT maps depth `i` to group `floor(i / (L / G))` exactly as HF does, and
    /// each group runs all of its inner layers.
    pub fn layer_schedule(&self) -> Vec<usize> {
        let l = self.num_hidden_layers;
        if self.arch == Arch::Bert {
            return (0..l as usize).collect();
        }
        let g = self.num_hidden_groups;
        let mut order = Vec::new();
        for i in 0..l {
            let group = (i as f64 / (l as f64 / g as f64)) as i64;
            for inner in 0..self.inner_group_num {
                order.push((group * self.inner_group_num + inner) as usize);
            }
        }
        order
    }

    /// Number of distinct transformer layers holding parameters.
    pub fn num_distinct_layers(&self) -> i64 {
        match self.arch {
            Arch::Bert => self.num_hidden_layers,
            Arch::Albert => self.num_hidden_groups * self.inner_group_num,
        }
    }

    /// config.json as transformers writes it, with `architectures` set.
    pub fn to_json(&self, architectures: &[String]) -> Value {
        let mut m = self.extra.clone();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        put("model_type", self.arch.model_type().into());
        put(
            "architectures",
            architectures
                .iter()
                .map(|a| Value::from(a.as_str()))
                .collect(),
        );
        put("vocab_size", self.vocab_size.into());
        put("hidden_size", self.hidden_size.into());
        put("num_hidden_layers", self.num_hidden_layers.into());
        put("num_attention_heads", self.num_attention_heads.into());
        put("intermediate_size", self.intermediate_size.into());
        put("hidden_act", self.hidden_act.name().into());
        put("hidden_dropout_prob", self.hidden_dropout_prob.into());
        put(
            "attention_probs_dropout_prob",
            self.attention_probs_dropout_prob.into(),
        );
        put(
            "max_position_embeddings",
            self.max_position_embeddings.into(),
        );
        put("type_vocab_size", self.type_vocab_size.into());
        put("initializer_range", self.initializer_range.into());
        put("layer_norm_eps", self.layer_norm_eps.into());
        put("pad_token_id", self.pad_token_id.into());
        put("position_embedding_type", "absolute".into());
        match self.arch {
            Arch::Bert => {
                put(
                    "classifier_dropout",
                    self.classifier_dropout.map_or(Value::Null, Value::from),
                );
            }
            Arch::Albert => {
                put("embedding_size", self.embedding_size.into());
                put("num_hidden_groups", self.num_hidden_groups.into());
                put("inner_group_num", self.inner_group_num.into());
                put(
                    "classifier_dropout_prob",
                    self.classifier_dropout_prob().into(),
                );
            }
        }
        if let Some(labels) = &self.id2label {
            put(
                "id2label",
                labels
                    .iter()
                    .map(|(i, l)| (i.to_string(), Value::from(l.as_str())))
                    .collect::<Map<_, _>>()
                    .into(),
            );
            put(
                "label2id",
                labels
                    .iter()
                    .map(|(i, l)| (l.clone(), Value::from(*i)))
                    .collect::<Map<_, _>>()
                    .into(),
            );
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<ModelConfig, ModelError> {
        ModelConfig::from_json(&v, "config.json")
    }

    #[test]
    fn absent_fields_take_transformers_defaults() {
        let b = parse(json!({"model_type": "bert"})).unwrap();
        assert_eq!(
            (b.vocab_size, b.hidden_size, b.intermediate_size),
            (30522, 768, 3072)
        );
        assert_eq!(b.hidden_act, Activation::Gelu);
        assert_eq!(b.embedding_size, 768);
        let a = parse(json!({"model_type": "albert"})).unwrap();
        assert_eq!(
            (a.vocab_size, a.embedding_size, a.hidden_size),
            (30000, 128, 4096)
        );
        assert_eq!(a.hidden_act, Activation::GeluNew);
        assert_eq!(a.classifier_dropout_prob(), 0.1);
    }

    #[test]
    fn inconsistent_configs_get_errors_naming_the_key() {
        let cases = [
            (json!({"model_type": "roberta"}), "model_type"),
            (
                json!({"model_type": "bert", "position_embedding_type": "relative_key"}),
                "position_embedding_type",
            ),
            (
                json!({"model_type": "bert", "hidden_size": 100, "num_attention_heads": 12}),
                "num_attention_heads",
            ),
            (
                json!({"model_type": "bert", "hidden_act": "gelu_bogus"}),
                "hidden_act",
            ),
            (
                json!({"model_type": "bert", "hidden_size": "big"}),
                "hidden_size",
            ),
            (
                json!({"model_type": "albert", "num_hidden_groups": 0}),
                "num_hidden_groups",
            ),
            (
                json!({"model_type": "albert", "num_hidden_layers": 2, "num_hidden_groups": 3}),
                "num_hidden_groups",
            ),
            (
                json!({"model_type": "bert", "hidden_dropout_prob": 1.5}),
                "hidden_dropout_prob",
            ),
            (
                json!({"model_type": "bert", "vocab_size": 10, "pad_token_id": 10}),
                "pad_token_id",
            ),
        ];
        for (cfg, key) in cases {
            let e = parse(cfg.clone()).unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains(key) && text.contains("config.json"),
                "{cfg}: {text}"
            );
        }
    }

    #[test]
    fn albert_layer_schedule_matches_hf_grouping() {
        let mut c = parse(
            json!({"model_type": "albert", "num_hidden_layers": 4, "num_hidden_groups": 2,
            "inner_group_num": 2, "hidden_size": 8, "num_attention_heads": 2}),
        )
        .unwrap();
        // depth 0,1 -> group 0; depth 2,3 -> group 1; each group runs both inner layers.
        assert_eq!(c.layer_schedule(), vec![0, 1, 0, 1, 2, 3, 2, 3]);
        c.num_hidden_layers = 3;
        c.inner_group_num = 1;
        // int(i / 1.5): 0, 0, 1.
        assert_eq!(c.layer_schedule(), vec![0, 0, 1]);
        let b = parse(json!({"model_type": "bert", "num_hidden_layers": 3})).unwrap();
        assert_eq!(b.layer_schedule(), vec![0, 1, 2]);
    }

    #[test]
    fn json_round_trip_keeps_unknown_keys_and_labels() {
        let c = parse(
            json!({"model_type": "albert", "hidden_size": 8, "num_attention_heads": 2,
            "torch_dtype": "float32", "id2label": {"0": "O", "1": "B-PER"}}),
        )
        .unwrap();
        let v = c.to_json(&["AlbertForTokenClassification".into()]);
        assert_eq!(v["torch_dtype"], "float32");
        assert_eq!(v["label2id"]["B-PER"], 1);
        let back = parse(v).unwrap();
        assert_eq!(back.id2label, c.id2label);
        assert_eq!(back.embedding_size, 128);
    }
}
