//! Reading HF checkpoints: `model.safetensors` (memory-mapped), sharded safetensors with their
//! `model.safetensors.index.json`, and legacy `pytorch_model.bin`.

use crate::error::ModelError;
use memmap2::Mmap;
use safetensors::tensor::{Dtype, Metadata};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

/// One tensor file of a checkpoint.
enum Source {
    /// A memory-mapped safetensors file; tensors are copied out one at a time on demand.
    Safetensors {
        path: PathBuf,
        mmap: Mmap,
        data_start: usize,
        metadata: Metadata,
    },
    /// A PyTorch pickle, read whole by libtorch.
    Pickle {
        path: PathBuf,
        tensors: BTreeMap<String, Tensor>,
    },
}

/// The weights of a checkpoint directory, by key.
pub struct Checkpoint {
    pub dir: PathBuf,
    sources: Vec<Source>,
    /// key → index into `sources`.
    index: BTreeMap<String, usize>,
}

fn format_err(path: &Path, msg: impl std::fmt::Display) -> ModelError {
    ModelError::Format {
        file: path.display().to_string(),
        msg: msg.to_string(),
    }
}

fn open_safetensors(path: &Path) -> Result<Source, ModelError> {
    let file = File::open(path).map_err(|e| ModelError::io(path, e))?;
    // Safety: the file is opened read-only and only read while mapped.
    let mmap = unsafe { Mmap::map(&file) }.map_err(|e| ModelError::io(path, e))?;
    let (header_len, metadata) = safetensors::SafeTensors::read_metadata(&mmap)
        .map_err(|e| format_err(path, format!("not a safetensors file: {e}")))?;
    Ok(Source::Safetensors {
        path: path.to_path_buf(),
        data_start: 8 + header_len,
        metadata,
        mmap,
    })
}

fn open_pickle(path: &Path) -> Result<Source, ModelError> {
    let tensors = Tensor::loadz_multi(path)
        .map_err(|e| format_err(path, format!("cannot read PyTorch pickle: {e}")))?
        .into_iter()
        .collect();
    Ok(Source::Pickle {
        path: path.to_path_buf(),
        tensors,
    })
}

fn kind_of(dtype: Dtype) -> Option<Kind> {
    Some(match dtype {
        Dtype::F32 => Kind::Float,
        Dtype::F16 => Kind::Half,
        Dtype::BF16 => Kind::BFloat16,
        Dtype::F64 => Kind::Double,
        Dtype::I64 => Kind::Int64,
        Dtype::I32 => Kind::Int,
        Dtype::U8 => Kind::Uint8,
        Dtype::BOOL => Kind::Bool,
        _ => return None,
    })
}

impl Checkpoint {
    /// Opens the weights of `dir`, preferring safetensors over pickles.
    pub fn open(dir: &Path) -> Result<Self, ModelError> {
        let single = dir.join("model.safetensors");
        let sharded = dir.join("model.safetensors.index.json");
        let pickle = dir.join("pytorch_model.bin");
        let mut files: Vec<PathBuf> = Vec::new();
        let mut pickles = false;
        if single.is_file() {
            files.push(single);
        } else if sharded.is_file() {
            let text =
                std::fs::read_to_string(&sharded).map_err(|e| ModelError::io(&sharded, e))?;
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format_err(&sharded, e))?;
            let map = v["weight_map"]
                .as_object()
                .ok_or_else(|| format_err(&sharded, "no `weight_map` object"))?;
            let mut shards: Vec<String> = map
                .values()
                .filter_map(|f| f.as_str().map(String::from))
                .collect();
            shards.sort();
            shards.dedup();
            files.extend(shards.iter().map(|s| dir.join(s)));
        } else if pickle.is_file() {
            files.push(pickle);
            pickles = true;
        } else {
            return Err(ModelError::MissingFile {
                dir: dir.display().to_string(),
                msg: "no model.safetensors, model.safetensors.index.json or pytorch_model.bin"
                    .into(),
            });
        }
        let mut sources = Vec::new();
        let mut index = BTreeMap::new();
        for (i, path) in files.iter().enumerate() {
            if !path.is_file() {
                return Err(ModelError::MissingFile {
                    dir: dir.display().to_string(),
                    msg: format!("shard {} named in the index is missing", path.display()),
                });
            }
            let source = if pickles {
                open_pickle(path)?
            } else {
                open_safetensors(path)?
            };
            let keys: Vec<String> = match &source {
                Source::Safetensors { metadata, .. } => {
                    metadata.tensors().keys().cloned().collect()
                }
                Source::Pickle { tensors, .. } => tensors.keys().cloned().collect(),
            };
            for k in keys {
                index.insert(k, i);
            }
            sources.push(source);
        }
        Ok(Checkpoint {
            dir: dir.to_path_buf(),
            sources,
            index,
        })
    }

    /// Every key in the checkpoint.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    /// The file that holds `key`.
    pub fn file_of(&self, key: &str) -> Option<&Path> {
        self.index.get(key).map(|&i| match &self.sources[i] {
            Source::Safetensors { path, .. } | Source::Pickle { path, .. } => path.as_path(),
        })
    }

    /// Reads one tensor onto the CPU, in its stored dtype.
    pub fn get(&self, key: &str) -> Result<Option<Tensor>, ModelError> {
        let Some(&i) = self.index.get(key) else {
            return Ok(None);
        };
        match &self.sources[i] {
            Source::Pickle { tensors, .. } => Ok(tensors.get(key).map(|t| t.shallow_clone())),
            Source::Safetensors {
                path,
                mmap,
                data_start,
                metadata,
            } => {
                let info = metadata
                    .info(key)
                    .ok_or_else(|| format_err(path, format!("no entry for {key}")))?;
                let kind = kind_of(info.dtype).ok_or_else(|| {
                    format_err(
                        path,
                        format!("`{key}` has unsupported dtype {:?}", info.dtype),
                    )
                })?;
                let (start, end) = info.data_offsets;
                let bytes = mmap
                    .get(data_start + start..data_start + end)
                    .ok_or_else(|| format_err(path, format!("`{key}` lies outside the file")))?;
                let shape: Vec<i64> = info.shape.iter().map(|&d| d as i64).collect();
                Ok(Some(Tensor::f_from_data_size(bytes, &shape, kind)?))
            }
        }
    }
}
