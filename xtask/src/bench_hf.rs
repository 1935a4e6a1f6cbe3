//! Benchmarks against HF transformers, run side by side in one process tree with the same
//! torch: `cargo xtask bench pretrain` (pretraining throughput and peak memory, BERT and ALBERT
//! at several sizes) and `cargo xtask bench finetune` (NER fine-tuning time per step against
//! the transformers recipe). Both print the ratios.

use crate::reproduce::{json_file, link_corpus_slice, train_tokenizer};
use crate::{run, setup, workspace_root};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Timed steps per size (the bigger, the slower each step).
fn steps_for(size: &str) -> usize {
    match size {
        "tiny" => 20,
        "mini" => 10,
        "small" => 6,
        _ => 3,
    }
}

/// Real tokens per second of a pretraining run after its first `skip` steps, from the
/// cumulative `tokens_seen` and `train_seconds` of its `metrics.jsonl`.
fn steady_tokens_per_second(run: &Path, skip: usize) -> Result<f64> {
    let lines: Vec<Value> = std::fs::read_to_string(run.join("metrics.jsonl"))?
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["tokens_seen"].is_u64())
        .collect();
    let at = |v: &Value| (v["tokens_seen"].as_f64(), v["train_seconds"].as_f64());
    let start = lines
        .iter()
        .find(|v| v["step"].as_u64() == Some(skip as u64));
    match (start.map(at), lines.last().map(at)) {
        (Some((Some(t0), Some(s0))), Some((Some(t1), Some(s1)))) if s1 > s0 => {
            Ok((t1 - t0) / (s1 - s0))
        }
        _ => bail!(
            "{}: no per-step tokens_seen/train_seconds after step {skip}",
            run.join("metrics.jsonl").display()
        ),
    }
}

pub fn bench_pretrain(
    sizes: &[String],
    batch: usize,
    seq_len: usize,
    device: &str,
    data: &Path,
) -> Result<()> {
    let python = setup::python().context("no Python with torch: run `cargo xtask setup`")?;
    run(crate::cargo().args(["build", "--release", "--bin", "bertlab"]))?;
    let bin = workspace_root().join("target/release/bertlab");
    let root = workspace_root().join("target/bench-pretrain");
    let corpus = root.join("corpus");
    link_corpus_slice(data, &corpus, 3)?;
    let mut rows = Vec::new();
    for arch in ["bert", "albert"] {
        let tokenizer = root.join(format!("{arch}-tokenizer.json"));
        if !tokenizer.is_file() {
            train_tokenizer(&bin, arch, 30000, &corpus, &tokenizer)?;
        }
        for size in sizes {
            let steps = steps_for(size);
            let out = root.join(format!("{arch}-{size}"));
            let _ = std::fs::remove_dir_all(&out);
            run(Command::new(&bin)
                .args(["pretrain", "--arch", arch, "--preset", size])
                .arg("--corpus")
                .arg(&corpus)
                .arg("--tokenizer")
                .arg(&tokenizer)
                .arg("--out")
                .arg(&out)
                .args([
                    "--steps",
                    &(steps + 2).to_string(),
                    "--batch-size",
                    &batch.to_string(),
                ])
                .args([
                    "--seq-len",
                    &seq_len.to_string(),
                    "--device",
                    device,
                    "--eval-every",
                    "0",
                ])
                .env("RUST_LOG", "warn"))?;
            let mut ours = json_file(&out.join("metrics.json"))?;
            // Like the reference, leave the first two (warm-up) steps out of the timing.
            ours["tokens_per_second"] = json!(steady_tokens_per_second(&out, 2)?);
            let hf_out = Command::new(&python)
                .arg(workspace_root().join("benches/hf_reference/pretrain.py"))
                .arg("--config")
                .arg(out.join("model"))
                .args([
                    "--batch-size",
                    &batch.to_string(),
                    "--seq-len",
                    &seq_len.to_string(),
                ])
                .args(["--steps", &steps.to_string(), "--warmup", "2"])
                .output()?;
            if !hf_out.status.success() {
                bail!(
                    "HF reference failed: {}",
                    String::from_utf8_lossy(&hf_out.stderr)
                );
            }
            let hf: Value = serde_json::from_slice(
                hf_out
                    .stdout
                    .split(|&b| b == b'\n')
                    .rfind(|l| !l.is_empty())
                    .unwrap_or(b"{}"),
            )?;
            let ratio = ours["tokens_per_second"].as_f64().unwrap_or(0.0)
                / hf["tokens_per_second"].as_f64().unwrap_or(f64::NAN);
            let mem_ratio = ours["peak_rss_bytes"].as_f64().unwrap_or(f64::NAN)
                / hf["peak_rss_bytes"].as_f64().unwrap_or(f64::NAN);
            eprintln!("xtask: {arch} {size}: bertlab {:.0} tok/s, HF {:.0} tok/s, ratio {ratio:.2}x; peak memory ratio {mem_ratio:.2}",
                ours["tokens_per_second"].as_f64().unwrap_or(0.0), hf["tokens_per_second"].as_f64().unwrap_or(0.0));
            rows.push(json!({"arch": arch, "size": size, "batch": batch, "seq_len": seq_len, "bertlab": ours, "hf": hf,
                "speed_ratio": ratio, "memory_ratio": mem_ratio}));
        }
    }
    println!("| model | bertlab tokens/s | HF tokens/s | ratio | bertlab peak MiB | HF peak MiB |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &rows {
        let mib = |v: &Value| {
            v.as_f64()
                .map_or("–".into(), |b| format!("{:.0}", b / 1048576.0))
        };
        println!(
            "| {} {} | {:.0} | {:.0} | {:.2}x | {} | {} |",
            r["arch"].as_str().unwrap_or(""),
            r["size"].as_str().unwrap_or(""),
            r["bertlab"]["tokens_per_second"].as_f64().unwrap_or(0.0),
            r["hf"]["tokens_per_second"].as_f64().unwrap_or(0.0),
            r["speed_ratio"].as_f64().unwrap_or(f64::NAN),
            mib(&r["bertlab"]["peak_rss_bytes"]),
            mib(&r["hf"]["peak_rss_bytes"]),
        );
    }
    let report: PathBuf = root.join("report.json");
    std::fs::write(&report, serde_json::to_string_pretty(&rows)?)?;
    eprintln!("xtask: wrote {}", report.display());
    Ok(())
}

/// `cargo xtask bench finetune`: NER fine-tuning time per step (and so per epoch) of bertlab
/// against the HF transformers recipe with dynamic padding and with the comparison article's
/// `padding='max_length'`, on all-MiniLM-L6-v2 and the CoNLL-2003 training split, side by side.
pub fn bench_finetune(steps: usize, batch: usize, device: &str, data: &Path) -> Result<()> {
    let python = setup::python().context("no Python with torch: run `cargo xtask setup`")?;
    let model = setup::minilm_dir()
        .context("all-MiniLM-L6-v2 is not installed: run `cargo xtask setup`")?;
    run(crate::cargo().args(["build", "--release", "--bin", "bertlab"]))?;
    let bin = workspace_root().join("target/release/bertlab");
    let root = workspace_root().join("target/bench-finetune");
    // The full training split; small dev and test files, since only training is timed.
    let conll = root.join("conll");
    std::fs::create_dir_all(&conll)?;
    std::fs::copy(data.join("conll2003/train.txt"), conll.join("train.txt"))?;
    for split in ["dev", "test"] {
        let text = std::fs::read_to_string(data.join(format!("conll2003/{split}.txt")))?;
        let head: Vec<&str> = text.split("\n\n").take(100).collect();
        std::fs::write(conll.join(format!("{split}.txt")), head.join("\n\n") + "\n")?;
    }
    let ours_dir = root.join("bertlab");
    let _ = std::fs::remove_dir_all(&ours_dir);
    run(Command::new(&bin)
        .args(["finetune", "ner", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&conll)
        .arg("--out")
        .arg(&ours_dir)
        .args([
            "--max-steps",
            &steps.to_string(),
            "--batch-size",
            &batch.to_string(),
            "--device",
            device,
        ])
        .env("RUST_LOG", "warn"))?;
    let ours = json_file(&ours_dir.join("metrics.json"))?["training"].clone();
    let ours_step = ours["train_seconds"].as_f64().unwrap_or(f64::NAN)
        / ours["steps"].as_f64().unwrap_or(f64::NAN);
    let mut rows = vec![
        json!({"run": "bertlab", "seconds_per_step": ours_step, "tokens_per_second": ours["tokens_per_second"]}),
    ];
    for padding in ["dynamic", "max_length"] {
        let out = root.join(format!("hf-{padding}"));
        run(Command::new(&python)
            .arg(workspace_root().join("benches/hf_reference/finetune_ner.py"))
            .arg("--model")
            .arg(&model)
            .arg("--data")
            .arg(&conll)
            .arg("--out")
            .arg(&out)
            .args([
                "--max-steps",
                &steps.to_string(),
                "--batch-size",
                &batch.to_string(),
                "--padding",
                padding,
                "--no-eval",
            ]))?;
        let hf = json_file(&out.join("hf_metrics.json"))?;
        let hf_step = hf["seconds_per_step"].as_f64().unwrap_or(f64::NAN);
        rows.push(json!({"run": format!("HF transformers, {padding} padding"), "seconds_per_step": hf_step,
            "tokens_per_second": hf["real_tokens_per_s"], "speedup_of_bertlab": hf_step / ours_step}));
    }
    println!("| run | s/step | real tokens/s | bertlab speedup |\n|---|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.3} | {:.0} | {} |",
            r["run"].as_str().unwrap_or(""),
            r["seconds_per_step"].as_f64().unwrap_or(f64::NAN),
            r["tokens_per_second"].as_f64().unwrap_or(f64::NAN),
            r["speedup_of_bertlab"]
                .as_f64()
                .map_or("–".into(), |s| format!("{s:.2}x"))
        );
    }
    std::fs::write(
        root.join("report.json"),
        serde_json::to_string_pretty(&rows)?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_throughput_leaves_the_warm_up_steps_out() {
        let tmp = tempfile::tempdir().unwrap();
        let lines = [
            r#"{"step":1,"tokens_seen":100,"train_seconds":5.0}"#,
            r#"{"step":2,"tokens_seen":200,"train_seconds":6.0}"#,
            r#"{"step":2,"eval":{"loss":1.0}}"#,
            r#"{"step":3,"tokens_seen":400,"train_seconds":7.0}"#,
            r#"{"step":4,"tokens_seen":600,"train_seconds":8.0}"#,
        ];
        std::fs::write(tmp.path().join("metrics.jsonl"), lines.join("\n")).unwrap();
        assert_eq!(steady_tokens_per_second(tmp.path(), 2).unwrap(), 200.0);
        assert!(steady_tokens_per_second(tmp.path(), 9).is_err());
    }
}
