//! `bertlab info`: the libtorch build, or a model's parameter counts.

use anyhow::{bail, Context, Result};
use bertlab_models::{presets, Arch, Model, ParamCounts, Task};
use bertlab_nn::{parse_device, LibtorchInfo};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use tch::Device;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args)]
pub struct InfoArgs {
    /// An HF checkpoint directory: print its parameter counts.
    #[arg(long, conflicts_with_all = ["arch", "preset"])]
    model: Option<PathBuf>,
    /// With --preset: the architecture of a built-in size.
    #[arg(long, value_parser = ["bert", "albert"], requires = "preset")]
    arch: Option<String>,
    /// A built-in size (bert: tiny mini small medium base large; albert: tiny mini small base
    /// large xlarge xxlarge).
    #[arg(long, requires = "arch")]
    preset: Option<String>,
    /// Vocabulary size for --preset.
    #[arg(long, default_value_t = 30000)]
    vocab_size: i64,
    /// Device to check: cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    device: String,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

pub fn run(args: InfoArgs) -> Result<()> {
    if let Some(dir) = &args.model {
        let model = Model::from_pretrained(dir, Device::Cpu, None, None)
            .with_context(|| format!("loading {}", dir.display()))?;
        let label = format!(
            "{} ({})",
            dir.display(),
            model.task.class_name(model.config.arch)
        );
        return print_counts(&label, &model.parameter_counts(), args.format);
    }
    if let (Some(arch), Some(preset)) = (&args.arch, &args.preset) {
        let arch = Arch::parse(arch).expect("clap restricts --arch");
        let config = presets::preset(arch, preset, args.vocab_size)?;
        let model = Model::new(config, Task::Pretraining, Device::Cpu);
        let mut counts = model.parameter_counts();
        // As AutoModel counts: the base model with its pooler, heads listed apart.
        counts.total = ["embeddings", "encoder", "pooler"]
            .iter()
            .filter_map(|c| counts.components.get(*c))
            .sum();
        return print_counts(
            &format!("{} {preset}", arch.model_type()),
            &counts,
            args.format,
        );
    }
    print_runtime(&args)
}

fn print_counts(label: &str, counts: &ParamCounts, format: Format) -> Result<()> {
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(counts)?);
        return Ok(());
    }
    println!("{label}");
    for (name, n) in &counts.components {
        println!("  {name:<12} {:>14}", group_digits(*n));
    }
    println!("  {:<12} {:>14}", "total", group_digits(counts.total));
    Ok(())
}

/// 108310272 → "108,310,272".
fn group_digits(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn print_runtime(args: &InfoArgs) -> Result<()> {
    let device = parse_device(&args.device)?;
    if matches!(device, Device::Cuda(_)) && !tch::Cuda::is_available() && args.device != "auto" {
        bail!(
            "--device {} requested but CUDA is not available",
            args.device
        );
    }
    let info = LibtorchInfo::current();
    if args.format == Format::Json {
        let mut v = serde_json::to_value(&info)?;
        v["bertlab_version"] = env!("CARGO_PKG_VERSION").into();
        v["device"] = format!("{device:?}").into();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("bertlab {}", env!("CARGO_PKG_VERSION"));
    println!("libtorch: {}", info.version);
    if let Some(dir) = &info.lib_dir {
        println!("libtorch path: {}", dir.display());
    }
    println!(
        "cuda available: {} ({} device(s), cudnn {})",
        info.cuda_available, info.cuda_device_count, info.cudnn_available
    );
    println!("threads: {}", info.num_threads);
    println!("device: {device:?}");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn digits_are_grouped_in_thousands() {
        assert_eq!(super::group_digits(108_310_272), "108,310,272");
        assert_eq!(super::group_digits(999), "999");
        assert_eq!(super::group_digits(1000), "1,000");
    }
}
