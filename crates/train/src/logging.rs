//! `metrics.jsonl` (one JSON object per logging step and per evaluation) and progress bars.

use crate::error::{Result, TrainError};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

/// An append-only JSON-lines log.
pub struct MetricsLog {
    path: PathBuf,
    file: std::fs::File,
}

impl MetricsLog {
    /// Opens `path`. A fresh run starts it empty; a resumed run keeps only the lines up to
    /// `resume_step`, so the log reads as if the run had never stopped.
    pub fn open(path: &Path, resume_step: Option<usize>) -> Result<Self> {
        let kept = match resume_step {
            Some(step) => std::fs::read_to_string(path)
                .unwrap_or_default()
                .lines()
                .filter(|l| {
                    serde_json::from_str::<Value>(l)
                        .ok()
                        .and_then(|v| v["step"].as_u64())
                        .is_some_and(|s| s as usize <= step)
                })
                .map(|l| format!("{l}\n"))
                .collect::<String>(),
            None => String::new(),
        };
        bertlab_tokenize::write_atomic(path, kept.as_bytes())
            .map_err(|e| TrainError::io(path, e))?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| TrainError::io(path, e))?;
        Ok(MetricsLog {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends one line.
    pub fn write(&mut self, value: &Value) -> Result<()> {
        writeln!(self.file, "{value}").map_err(|e| TrainError::io(&self.path, e))?;
        self.file.flush().map_err(|e| TrainError::io(&self.path, e))
    }
}

/// A progress bar for `total` steps on stderr (hidden when stderr is not a terminal).
pub fn progress_bar(total: u64, prefix: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(prefix.to_string());
    bar
}

/// The process's peak resident memory (VmHWM) in bytes, on Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_memory_is_read_from_proc() {
        let before = super::peak_rss_bytes().expect("Linux /proc");
        let big = vec![1u8; 64 << 20];
        let after = super::peak_rss_bytes().unwrap();
        assert!(
            after >= before && after >= big.len() as u64,
            "{before} {after}"
        );
        assert_eq!(big[12345], 1);
    }
}
