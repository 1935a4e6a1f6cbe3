//! `bertlab encode`: run a checkpoint on one input and write its outputs as safetensors.
//!
//! Contract (tools outside the project depend on it):
//! `bertlab encode --model DIR --text TEXT [--pair TEXT] --out FILE.safetensors [--truncate]`
//! writes `input_ids` i64 [1,T], `last_hidden_state` f32 [1,T,H], and when the checkpoint has
//! them `pooler_output` [1,H], `mlm_logits` [1,T,V], `nsp_logits` (BERT) or `sop_logits`
//! (ALBERT) [1,2].

use anyhow::{bail, Context, Result};
use bertlab_models::{Arch, Model};
use bertlab_tokenize::Tokenizer;
use clap::Args;
use std::path::PathBuf;
use tch::{Device, Kind, Tensor};

#[derive(Args)]
pub struct EncodeArgs {
    /// HF checkpoint directory (config.json, weights, tokenizer.json).
    #[arg(long)]
    model: PathBuf,
    /// The first segment.
    #[arg(long)]
    text: String,
    /// An optional second segment.
    #[arg(long)]
    pair: Option<String>,
    /// Output safetensors file.
    #[arg(long)]
    out: PathBuf,
    /// Cut input longer than max_position_embeddings instead of failing.
    #[arg(long)]
    truncate: bool,
    #[arg(long, default_value = "cpu")]
    device: String,
}

pub fn run(args: EncodeArgs) -> Result<()> {
    let device = bertlab_nn::parse_device(&args.device)?;
    let tok_path = args.model.join("tokenizer.json");
    if !tok_path.is_file() {
        bail!(
            "{}: no tokenizer.json in the checkpoint directory",
            args.model.display()
        );
    }
    // Loading switches off the padding and truncation stored in the file.
    let tokenizer = Tokenizer::from_file(&tok_path)
        .with_context(|| format!("loading {}", tok_path.display()))?;
    let model = Model::from_pretrained(&args.model, device, None, None)
        .with_context(|| format!("loading {}", args.model.display()))?;
    let max_len = model.config.max_position_embeddings as usize;
    let encoding = if args.truncate {
        tokenizer.encode_pair_truncated(&args.text, args.pair.as_deref(), max_len)?
    } else {
        tokenizer.encode_pair(&args.text, args.pair.as_deref())?
    };
    if encoding.len() > max_len {
        bail!(
            "the input is {} tokens long, more than max_position_embeddings = {max_len} of {}; pass --truncate to cut it",
            encoding.len(),
            args.model.display()
        );
    }
    let ids: Vec<i64> = encoding.ids().iter().map(|&i| i as i64).collect();
    let types: Vec<i64> = if model.config.type_vocab_size == 1 {
        vec![0; ids.len()]
    } else {
        encoding.type_ids().iter().map(|&t| t as i64).collect()
    };
    let input_ids = Tensor::from_slice(&ids).unsqueeze(0).to_device(device);
    let token_type_ids = Tensor::from_slice(&types).unsqueeze(0).to_device(device);
    let out = tch::no_grad(|| model.forward(&input_ids, Some(&token_type_ids), None, false));

    let mut named: Vec<(String, Tensor)> = vec![
        ("input_ids".into(), input_ids.to_device(Device::Cpu)),
        ("last_hidden_state".into(), out.last_hidden_state),
    ];
    named.extend(out.pooler_output.map(|t| ("pooler_output".to_string(), t)));
    named.extend(out.mlm_logits.map(|t| ("mlm_logits".to_string(), t)));
    let pair_name = match model.config.arch {
        Arch::Bert => "nsp_logits",
        Arch::Albert => "sop_logits",
    };
    named.extend(out.pair_logits.map(|t| (pair_name.to_string(), t)));
    let named: Vec<(String, Tensor)> = named
        .into_iter()
        .map(|(n, t)| {
            let t = t.to_device(Device::Cpu);
            let t = if t.kind() == Kind::Int64 {
                t
            } else {
                t.to_kind(Kind::Float)
            };
            (n, t.contiguous())
        })
        .collect();
    let tmp = args.out.with_extension("safetensors.tmp");
    Tensor::write_safetensors(&named, &tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &args.out).with_context(|| format!("writing {}", args.out.display()))?;
    tracing::info!("wrote {} ({} tokens)", args.out.display(), ids.len());
    Ok(())
}
