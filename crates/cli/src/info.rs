//! `bertlab info`.

use anyhow::Result;
use bertlab_nn::{parse_device, LibtorchInfo};
use clap::{Args, ValueEnum};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args)]
pub struct InfoArgs {
    /// Device to check: cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    device: String,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

pub fn run(args: InfoArgs) -> Result<()> {
    let device = parse_device(&args.device)?;
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
