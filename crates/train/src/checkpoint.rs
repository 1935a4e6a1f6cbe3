//! Training checkpoints: weights, optimizer state and the loop's position, written atomically
//! so that `--resume` continues a run exactly.
//!
//! A checkpoint is a directory holding `weights.safetensors`, `optimizer.safetensors` and
//! `state.json`. It is written into a temporary sibling and swapped in with renames, so an
//! interruption leaves either the old or the new checkpoint, never a mix.

use crate::error::{Result, TrainError};
use crate::optim::Optimizer;
use bertlab_models::model::save_safetensors;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::nn::VarStore;
use tch::Tensor;

/// Where the loop stands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Optimizer steps taken.
    pub global_step: usize,
    /// The epoch in progress (0-based).
    pub epoch: usize,
    /// Batches of that epoch already consumed (micro-batches, counting accumulation).
    pub batch_in_epoch: usize,
    /// Best selection score on dev so far, and its step.
    pub best_score: Option<f64>,
    pub best_step: Option<usize>,
    /// Evaluations since the best one (early stopping).
    pub evals_since_best: usize,
    /// Real (unpadded) tokens trained on.
    pub tokens_seen: u64,
    /// Training wall time so far, in seconds.
    pub train_seconds: f64,
    /// Identifies the settings that must not change across a resume.
    pub fingerprint: String,
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join("state.json")
}

/// Writes a checkpoint into `dir` (replacing any there) atomically.
pub fn save_checkpoint(
    dir: &Path,
    vs: &VarStore,
    optimizer: &Optimizer,
    state: &TrainerState,
) -> Result<()> {
    let tmp = scratch_dir(dir)?;
    let mut weights: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    weights.sort_by(|a, b| a.0.cmp(&b.0));
    save_safetensors(&tmp.join("weights.safetensors"), &weights)?;
    save_safetensors(
        &tmp.join("optimizer.safetensors"),
        &optimizer.state_tensors(),
    )?;
    let json = serde_json::to_string_pretty(state).expect("state serialises");
    std::fs::write(state_path(&tmp), json).map_err(|e| TrainError::io(&tmp, e))?;
    replace_dir(&tmp, dir)
}

/// A temporary sibling of `dir` to write a replacement into (emptied first).
pub(crate) fn scratch_dir(dir: &Path) -> Result<PathBuf> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    Ok(tmp)
}

/// Moves the finished `tmp` into place of `dir`: the old one is renamed aside first and
/// removed last, so at every moment one complete directory exists.
pub(crate) fn replace_dir(tmp: &Path, dir: &Path) -> Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let old = parent.join(format!(".{name}.old"));
    if dir.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| TrainError::io(&old, e))?;
        }
        std::fs::rename(dir, &old).map_err(|e| TrainError::io(dir, e))?;
    }
    std::fs::rename(tmp, dir).map_err(|e| TrainError::io(dir, e))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| TrainError::io(&old, e))?;
    }
    Ok(())
}

/// Saves `model` as an HF directory (with the tokenizer files of `tokenizer_dir`), swapped in
/// whole: an interruption leaves the old directory or the new one.
pub fn save_model_dir(
    model: &bertlab_models::Model,
    dir: &Path,
    tokenizer_dir: &Path,
) -> Result<()> {
    let tmp = scratch_dir(dir)?;
    model.save_pretrained(&tmp, Some(tokenizer_dir))?;
    replace_dir(&tmp, dir)
}

/// A short hash of `value`'s JSON text (FNV-1a), to tell whether a checkpoint belongs to a run.
pub fn fingerprint_of(value: &serde_json::Value) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in value.to_string().bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Where a run starts: a fresh state carrying `fingerprint`, or with `resume` the checkpoint in
/// `dir` (weights and optimizer state restored into `vs` and `optimizer`), which must carry the
/// same fingerprint. `--resume` without a checkpoint starts afresh with a warning.
pub fn start_state(
    dir: &Path,
    resume: bool,
    fingerprint: String,
    vs: &mut VarStore,
    optimizer: &mut Optimizer,
) -> Result<TrainerState> {
    let fresh = TrainerState {
        fingerprint,
        ..TrainerState::default()
    };
    if !resume {
        return Ok(fresh);
    }
    let Some(found) = find_checkpoint(dir) else {
        tracing::warn!(
            "--resume: no checkpoint in {}; starting afresh",
            dir.display()
        );
        return Ok(fresh);
    };
    let state = load_checkpoint(&found, vs, optimizer)?;
    if state.fingerprint != fresh.fingerprint {
        return Err(TrainError::Checkpoint {
            path: found.display().to_string(),
            msg: "was written with other settings or data; resume with the same options".into(),
        });
    }
    tracing::info!(
        "resuming at step {} (epoch {}, batch {})",
        state.global_step,
        state.epoch,
        state.batch_in_epoch
    );
    Ok(state)
}

/// The checkpoint directory to resume from: `dir`, or the previous one kept aside when an
/// interruption fell between the two renames of [`save_checkpoint`].
pub fn find_checkpoint(dir: &Path) -> Option<PathBuf> {
    if state_path(dir).is_file() {
        return Some(dir.to_path_buf());
    }
    let name = dir.file_name()?.to_string_lossy().into_owned();
    let old = dir.parent()?.join(format!(".{name}.old"));
    state_path(&old).is_file().then_some(old)
}

fn read_tensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    let named = Tensor::read_safetensors(path).map_err(|e| TrainError::Checkpoint {
        path: path.display().to_string(),
        msg: format!("cannot read: {e}"),
    })?;
    Ok(named.into_iter().collect())
}

/// Restores weights and optimizer state from a checkpoint directory and returns the loop state.
pub fn load_checkpoint(
    dir: &Path,
    vs: &mut VarStore,
    optimizer: &mut Optimizer,
) -> Result<TrainerState> {
    let text = std::fs::read_to_string(state_path(dir))
        .map_err(|e| TrainError::io(&state_path(dir), e))?;
    let state: TrainerState = serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
        path: state_path(dir).display().to_string(),
        msg: e.to_string(),
    })?;
    let weights_path = dir.join("weights.safetensors");
    let weights = read_tensors(&weights_path)?;
    for (name, mut var) in vs.variables() {
        let value = weights.get(&name).ok_or_else(|| TrainError::Checkpoint {
            path: weights_path.display().to_string(),
            msg: format!("no weight `{name}`"),
        })?;
        if value.size() != var.size() {
            return Err(TrainError::Checkpoint {
                path: weights_path.display().to_string(),
                msg: format!(
                    "`{name}` has shape {:?}, the model {:?}",
                    value.size(),
                    var.size()
                ),
            });
        }
        tch::no_grad(|| var.copy_(value));
    }
    optimizer.load_state(&read_tensors(&dir.join("optimizer.safetensors"))?)?;
    Ok(state)
}
