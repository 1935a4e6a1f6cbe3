//! `cargo xtask`: project automation for bertlab.
//!
//! - `setup`: find or create the PyTorch 2.11.0 environment that `tch` links against and write
//!   `.cargo/local.toml`, so plain `cargo build/test/run` work with no environment variables.
//! - `test`: run every test of the workspace (runs `setup` first).
//! - `download`, `reproduce`, `bench`: see `--help`.

mod bench_hf;
mod download;
mod report;
mod reproduce;
mod setup;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "bertlab project automation")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

/// Where tensors run.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum DeviceArg {
    Cpu,
    Cuda,
    Auto,
}

impl DeviceArg {
    fn as_str(self) -> &'static str {
        match self {
            DeviceArg::Cpu => "cpu",
            DeviceArg::Cuda => "cuda",
            DeviceArg::Auto => "auto",
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Find or install PyTorch 2.11.0 and configure cargo to link and run against it.
    Setup {
        /// Recreate the cached torch environment even when one is found.
        #[arg(long)]
        force: bool,
    },
    /// Run all tests of the workspace.
    Test {
        /// Extra arguments passed to `cargo test` (after `--`).
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Fetch the datasets pinned in data/datasets.json (resumable, sha256-verified), or copy
    /// them from a local mirror folder laid out like shared/data; `--model` fetches HF
    /// checkpoints through hf-hub.
    Download {
        /// Local folder laid out like `shared/data` (also read from BERTLAB_DATA_MIRROR).
        #[arg(long)]
        mirror: Option<PathBuf>,
        /// Where the datasets go (models go to OUT/models/).
        #[arg(long, default_value = "data/cache")]
        out: PathBuf,
        /// Only these datasets (conll2003, sst2, corpus-enwiki); default all, or none when
        /// `--model` is given.
        #[arg(long = "dataset")]
        datasets: Vec<String>,
        /// HF hub model ids to download, e.g. bert-base-cased, albert-base-v2.
        #[arg(long = "model")]
        models: Vec<String>,
    },
    /// Run the ALBERT-vs-BERT comparison end to end and write OUT/report.md.
    Reproduce {
        /// smoke (≤ 3 min on 2 CPU cores), cpu (≤ 60 min on 2 cores) or gpu (base size).
        #[arg(long, default_value = "cpu")]
        preset: String,
        /// Output folder (default runs/PRESET).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Fine-tuning seeds per model (accuracy is reported as mean ± std).
        #[arg(long)]
        seeds: Option<usize>,
        /// Skip pretraining and compare two checkpoints: DIR_BERT,DIR_ALBERT.
        #[arg(long)]
        pretrained: Option<String>,
        /// Dataset folder laid out like shared/data (default: BERTLAB_DATA_MIRROR,
        /// ../shared/data or data/cache).
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "auto")]
        device: DeviceArg,
    },
    /// Regenerate the committed parity fixtures with Python transformers (run by hand).
    GenFixtures,
    /// Run the criterion benchmarks; `bench pretrain` compares pretraining with HF transformers.
    Bench {
        /// Benchmark name filter (e.g. `encoder`, `score`), or `pretrain` / `finetune` (against HF).
        filter: Option<String>,
        #[arg(long, value_enum, default_value = "auto")]
        device: DeviceArg,
        /// `bench pretrain`: model sizes.
        #[arg(long, value_delimiter = ',', default_value = "tiny,mini,small,base")]
        sizes: Vec<String>,
        /// `bench pretrain`: batch size and sequence length.
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        #[arg(long, default_value_t = 128)]
        seq_len: usize,
    },
}

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// Runs a command in the workspace root and fails with its name when it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    eprintln!("xtask: running {shown}");
    let status = cmd
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("could not start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

/// `path` with `suffix` appended to its file name (`train.txt` → `train.txt.part`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Writes `data` to `dest` through a temporary file beside it and a rename, so a reader never
/// sees a half-written file.
pub fn write_atomic(dest: &Path, data: &[u8]) -> Result<()> {
    let tmp = with_suffix(dest, ".tmp");
    std::fs::write(&tmp, data).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, dest).with_context(|| format!("moving {} into place", dest.display()))
}

pub(crate) fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Setup { force } => {
            let env = setup::setup(force)?;
            env.print_summary();
        }
        Cmd::Test { args } => {
            setup::ensure()?;
            let mut cmd = cargo();
            cmd.args(["test", "--workspace", "--exclude", "xtask"]);
            if !args.is_empty() {
                cmd.arg("--").args(&args);
            }
            run(&mut cmd)?;
            run(cargo().args(["test", "--package", "xtask"]))?;
            smoke_test()?;
        }
        Cmd::Download {
            mirror,
            out,
            datasets,
            models,
        } => {
            let mirror =
                mirror.or_else(|| std::env::var_os("BERTLAB_DATA_MIRROR").map(PathBuf::from));
            let out = workspace_root().join(out);
            if models.is_empty() || !datasets.is_empty() {
                let manifest = download::load_manifest(&download::manifest_path())?;
                download::download_datasets(&manifest, &out, mirror.as_deref(), &datasets)?;
            }
            for id in &models {
                download::download_model(id, &out.join("models"))?;
            }
        }
        Cmd::Reproduce {
            preset,
            out,
            seeds,
            pretrained,
            data,
            device,
        } => {
            setup::ensure()?;
            reproduce::reproduce(reproduce::ReproduceArgs {
                preset,
                out,
                seeds,
                device: device.as_str().to_string(),
                pretrained,
                data,
                release: true,
            })?;
        }
        Cmd::GenFixtures => {
            setup::ensure()?;
            gen_fixtures()?;
        }
        Cmd::Bench {
            filter,
            device,
            sizes,
            batch_size,
            seq_len,
        } => {
            setup::ensure()?;
            if filter.as_deref() == Some("finetune") {
                let data = reproduce::data_dir(None)?;
                return bench_hf::bench_finetune(40, batch_size, device.as_str(), &data);
            }
            if filter.as_deref() == Some("pretrain") {
                let data = reproduce::data_dir(None)?;
                return bench_hf::bench_pretrain(
                    &sizes,
                    batch_size,
                    seq_len,
                    device.as_str(),
                    &data,
                );
            }
            let mut cmd = cargo();
            cmd.args(["bench", "--workspace", "--exclude", "xtask"]);
            cmd.env("BERTLAB_DEVICE", device.as_str());
            if let Some(f) = filter {
                cmd.args(["--", &f]);
            }
            run(&mut cmd)?;
        }
    }
    Ok(())
}

/// Runs each crate's fixture generator with the torch environment's Python.
fn gen_fixtures() -> Result<()> {
    let python = setup::python().context("no Python with torch: run `cargo xtask setup`")?;
    let models = workspace_root().join("crates/models/tests/fixtures");
    let mut cmd = Command::new(&python);
    cmd.arg(models.join("gen_fixtures.py")).arg(&models);
    if let Some(m) = setup::minilm_dir() {
        cmd.arg(m);
    }
    run(&mut cmd)
}

/// The test of the whole chain: `reproduce --preset smoke` from scratch, checked, then run
/// again to check that finished stages are reused rather than redone.
fn smoke_test() -> Result<()> {
    let out = workspace_root().join("target/ci-smoke");
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    let args = || reproduce::ReproduceArgs {
        preset: "smoke".into(),
        out: Some(out.clone()),
        seeds: None,
        device: "cpu".into(),
        pretrained: None,
        data: None,
        release: false,
    };
    reproduce::reproduce(args())?;
    reproduce::check_report(&out)?;
    let stamp = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let marker = out.join("pretrain-bert/metrics.json");
    let before = stamp(&marker);
    reproduce::reproduce(args())?;
    if stamp(&marker) != before {
        bail!("the second smoke run redid pretraining instead of reusing its finished stage");
    }
    eprintln!("xtask: reproduce smoke: report checked, cached stages reused");
    Ok(())
}
