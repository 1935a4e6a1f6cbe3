//! What libtorch this process runs on, and device selection.

use std::path::{Path, PathBuf};
use tch::Device;

/// An unknown `--device` value.
#[derive(Debug, thiserror::Error)]
#[error("unknown device {0:?}: expected cpu, cuda, cuda:N or auto")]
pub struct DeviceError(pub String);

/// Parses `cpu`, `cuda`, `cuda:N` or `auto` (CUDA when available, else CPU).
pub fn parse_device(name: &str) -> Result<Device, DeviceError> {
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" => Ok(Device::Cuda(0)),
        "auto" => Ok(Device::cuda_if_available()),
        other => other
            .strip_prefix("cuda:")
            .and_then(|n| n.parse().ok())
            .map(Device::Cuda)
            .ok_or_else(|| DeviceError(other.to_string())),
    }
}

/// Facts about the libtorch loaded into this process.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LibtorchInfo {
    /// Version read from the loaded library's install (e.g. `2.11.0+cu130`).
    pub version: String,
    /// Folder of the `libtorch_cpu.so` actually mapped into the process.
    pub lib_dir: Option<PathBuf>,
    pub cuda_available: bool,
    pub cuda_device_count: i64,
    pub cudnn_available: bool,
    /// Intra-op thread count.
    pub num_threads: i32,
}

impl LibtorchInfo {
    /// Queries the running libtorch.
    pub fn current() -> Self {
        // Touch libtorch so it is mapped before /proc/self/maps is read.
        let num_threads = tch::get_num_threads();
        let lib_dir = loaded_lib_dir();
        let version = lib_dir
            .as_deref()
            .and_then(version_near)
            .unwrap_or_else(|| "unknown".to_string());
        LibtorchInfo {
            version,
            lib_dir,
            cuda_available: tch::Cuda::is_available(),
            cuda_device_count: tch::Cuda::device_count(),
            cudnn_available: tch::Cuda::cudnn_is_available(),
            num_threads,
        }
    }
}

/// The folder of the `libtorch_cpu.so` mapped into this process (Linux).
fn loaded_lib_dir() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.ends_with("/libtorch_cpu.so"))
        .and_then(|p| Path::new(p).parent().map(Path::to_path_buf))
}

/// Reads the version of the install that holds `lib_dir`: PyTorch's `version.py`, or a
/// libtorch distribution's `build-version`.
fn version_near(lib_dir: &Path) -> Option<String> {
    let root = lib_dir.parent()?;
    if let Ok(text) = std::fs::read_to_string(root.join("version.py")) {
        return text.lines().find_map(|l| {
            let v = l.strip_prefix("__version__")?;
            let v = v.split(['\'', '"']).nth(1)?;
            Some(v.to_string())
        });
    }
    std::fs::read_to_string(root.join("build-version"))
        .ok()
        .map(|s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    #[test]
    fn tch_creates_and_multiplies_a_tensor() {
        let a = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).reshape([2, 2]);
        let b = Tensor::from_slice(&[5.0f32, 6.0, 7.0, 8.0]).reshape([2, 2]);
        let c = a.matmul(&b);
        let got: Vec<f32> = Vec::try_from(c.flatten(0, -1)).unwrap();
        assert_eq!(got, vec![19.0, 22.0, 43.0, 50.0]);
        assert_eq!(c.kind(), Kind::Float);
    }

    #[test]
    fn device_names_parse() {
        assert_eq!(parse_device("cpu").unwrap(), Device::Cpu);
        assert_eq!(parse_device("cuda:1").unwrap(), Device::Cuda(1));
        assert!(parse_device("tpu").is_err());
    }

    #[test]
    fn reports_the_loaded_libtorch_version() {
        let info = LibtorchInfo::current();
        assert!(
            info.lib_dir.is_some(),
            "libtorch_cpu.so not found in /proc/self/maps"
        );
        assert!(
            info.version.starts_with("2.11.0"),
            "version {}",
            info.version
        );
        assert!(info.num_threads >= 1);
    }
}
