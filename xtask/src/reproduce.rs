//! `cargo xtask reproduce`: the ALBERT-vs-BERT comparison end to end.
//!
//! Stages, each cached under `OUT/<stage>/` (a `.done` file marks a finished stage, and an
//! interrupted pretraining or fine-tuning run continues with `--resume`):
//! 1. train the two tokenizers (WordPiece for BERT, Unigram for ALBERT) on the corpus;
//! 2. pretrain BERT (MLM+NSP) and ALBERT (MLM+SOP, E = 128, all layers shared) at the same
//!    depth and width on the same token budget;
//! 3. fine-tune each on CoNLL-2003 NER and SST-2, once per seed;
//! 4. collect the figures and write `report.md`, `report.json` and SVG plots.

use crate::{run, workspace_root};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// One size of the comparison.
#[derive(Debug, Clone)]
pub struct Preset {
    pub name: &'static str,
    /// Model size preset of both architectures (`bertlab info --preset`).
    pub size: &'static str,
    pub vocab_size: usize,
    /// Corpus files used for pretraining (the last one is held out for evaluation).
    pub corpus_files: usize,
    pub pretrain_steps: usize,
    pub pretrain_batch: usize,
    pub seq_len: usize,
    pub pretrain_lr: f64,
    pub finetune_epochs: usize,
    /// Caps each fine-tuning run (smoke runs).
    pub finetune_max_steps: Option<usize>,
    pub finetune_batch: usize,
    pub finetune_lr: f64,
    /// Score dev every N fine-tuning steps (None: at each epoch end), for the dev-F1 curve.
    pub finetune_eval_every: Option<usize>,
    pub seeds: usize,
    /// Pretrain and fine-tune under bf16 autocast (CUDA).
    pub bf16: bool,
}

pub fn preset(name: &str) -> Result<Preset> {
    Ok(match name {
        // At most 3 minutes on 2 CPU cores: the whole chain, tiny and short.
        "smoke" => Preset {
            name: "smoke",
            size: "tiny",
            vocab_size: 2000,
            corpus_files: 3,
            pretrain_steps: 30,
            pretrain_batch: 16,
            seq_len: 64,
            pretrain_lr: 1e-3,
            finetune_epochs: 1,
            finetune_max_steps: Some(30),
            finetune_batch: 32,
            finetune_lr: 1e-3,
            finetune_eval_every: None,
            seeds: 1,
            bf16: false,
        },
        // At most an hour on 2 CPU cores.
        "cpu" => Preset {
            name: "cpu",
            size: "mini",
            vocab_size: 8000,
            corpus_files: 16,
            pretrain_steps: 500,
            pretrain_batch: 32,
            seq_len: 128,
            pretrain_lr: 5e-4,
            finetune_epochs: 1,
            finetune_max_steps: None,
            finetune_batch: 32,
            finetune_lr: 1e-4,
            // One epoch: a dev point every 100 steps draws the curve.
            finetune_eval_every: Some(100),
            seeds: 2,
            bf16: false,
        },
        // Base-size models on one GPU.
        "gpu" => Preset {
            name: "gpu",
            size: "base",
            vocab_size: 30000,
            corpus_files: 64,
            pretrain_steps: 20000,
            pretrain_batch: 128,
            seq_len: 128,
            pretrain_lr: 1e-4,
            finetune_epochs: 3,
            finetune_max_steps: None,
            finetune_batch: 32,
            finetune_lr: 5e-5,
            finetune_eval_every: None,
            seeds: 3,
            bf16: true,
        },
        other => bail!("unknown preset {other:?}: expected smoke, cpu or gpu"),
    })
}

/// What the user asked for.
pub struct ReproduceArgs {
    pub preset: String,
    pub out: Option<PathBuf>,
    pub seeds: Option<usize>,
    pub device: String,
    pub pretrained: Option<String>,
    pub data: Option<PathBuf>,
    /// Build and run the release binary (the debug one serves the CI smoke test).
    pub release: bool,
}

const ARCHS: [&str; 2] = ["bert", "albert"];

/// The folder holding conll2003/, sst2/ and corpus-enwiki/.
pub fn data_dir(explicit: Option<PathBuf>) -> Result<PathBuf> {
    let candidates = explicit
        .into_iter()
        .chain(std::env::var_os("BERTLAB_DATA_MIRROR").map(PathBuf::from))
        .chain([
            workspace_root().join("../shared/data"),
            workspace_root().join("data/cache"),
        ]);
    for dir in candidates {
        if dir.join("conll2003/train.txt").is_file() {
            return Ok(dir);
        }
    }
    bail!("no datasets found: run `cargo xtask download` (or pass --data DIR / set BERTLAB_DATA_MIRROR)")
}

/// Links the first `count` corpus files (in name order) of `data/corpus-enwiki` into `dir`.
pub fn link_corpus_slice(data: &Path, dir: &Path, count: usize) -> Result<()> {
    let source = data.join("corpus-enwiki");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&source)
        .with_context(|| format!("reading {}", source.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    std::fs::create_dir_all(dir)?;
    for f in files.iter().take(count) {
        let link = dir.join(f.file_name().expect("a listed file has a name"));
        if !link.exists() {
            std::os::unix::fs::symlink(std::path::absolute(f)?, &link)?;
        }
    }
    Ok(())
}

/// Trains `arch`'s tokenizer (WordPiece for BERT, Unigram for ALBERT) on `corpus` with the
/// binary `bin`, into `out`.
pub fn train_tokenizer(
    bin: &Path,
    arch: &str,
    vocab_size: usize,
    corpus: &Path,
    out: &Path,
) -> Result<()> {
    run(Command::new(bin)
        .env("RUST_LOG", "warn")
        .args(["tokenizer", "train", "--arch", arch, "--vocab-size"])
        .arg(vocab_size.to_string())
        .arg("--corpus")
        .arg(corpus)
        .arg("--out")
        .arg(out))
}

/// Runs `f` unless `dir/.done` exists, then marks the stage done.
fn stage(dir: &Path, label: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    let done = dir.join(".done");
    if done.is_file() {
        eprintln!("xtask: {label}: done already ({})", dir.display());
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    let start = Instant::now();
    eprintln!("xtask: {label} ...");
    f().with_context(|| format!("stage {label}"))?;
    crate::write_atomic(
        &done,
        format!("{:.1}\n", start.elapsed().as_secs_f64()).as_bytes(),
    )?;
    eprintln!("xtask: {label}: {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn read_jsonl(path: &Path) -> Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Ok(serde_json::from_str(l)?))
        .collect()
}

pub fn reproduce(args: ReproduceArgs) -> Result<()> {
    let mut p = preset(&args.preset)?;
    if let Some(s) = args.seeds {
        p.seeds = s.max(1);
    }
    let out = workspace_root().join(
        args.out
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("runs/{}", p.name))),
    );
    std::fs::create_dir_all(&out)?;
    let data = data_dir(args.data.clone())?;
    let profile = if args.release { "release" } else { "debug" };
    let mut build = crate::cargo();
    build.args(["build", "--bin", "bertlab"]);
    if args.release {
        build.arg("--release");
    }
    run(&mut build)?;
    let bin = workspace_root()
        .join("target")
        .join(profile)
        .join("bertlab");
    let bertlab = || {
        let mut c = Command::new(&bin);
        c.env("RUST_LOG", "warn");
        c
    };
    let total = Instant::now();

    // The model directories to fine-tune: pretrained here, or given.
    let models: Vec<PathBuf> = match &args.pretrained {
        Some(dirs) => {
            let dirs: Vec<PathBuf> = dirs.split(',').map(PathBuf::from).collect();
            if dirs.len() != 2 {
                bail!(
                    "--pretrained takes two directories, BERT's and ALBERT's, separated by a comma"
                );
            }
            dirs
        }
        None => {
            // 1. A corpus slice: the first files, the last one held out by pretraining.
            let corpus = out.join("corpus");
            stage(&corpus, "corpus slice", || {
                link_corpus_slice(&data, &corpus, p.corpus_files)
            })?;
            // 2. Tokenizers.
            let tokenizers = out.join("tokenizers");
            stage(&tokenizers, "tokenizers", || {
                for arch in ARCHS {
                    let path = tokenizers.join(format!("{arch}.json"));
                    train_tokenizer(&bin, arch, p.vocab_size, &corpus, &path)?;
                }
                Ok(())
            })?;
            // 3. Pretraining, same size, same token budget.
            for arch in ARCHS {
                let dir = out.join(format!("pretrain-{arch}"));
                stage(&dir, &format!("pretrain {arch}"), || {
                    let mut c = bertlab();
                    c.args(["pretrain", "--arch", arch, "--preset", p.size])
                        .arg("--corpus")
                        .arg(&corpus)
                        .arg("--tokenizer")
                        .arg(tokenizers.join(format!("{arch}.json")))
                        .arg("--out")
                        .arg(&dir)
                        .args([
                            "--steps",
                            &p.pretrain_steps.to_string(),
                            "--batch-size",
                            &p.pretrain_batch.to_string(),
                        ])
                        .args([
                            "--seq-len",
                            &p.seq_len.to_string(),
                            "--lr",
                            &p.pretrain_lr.to_string(),
                        ])
                        .args(["--device", &args.device, "--resume"]);
                    if p.bf16 {
                        c.arg("--bf16");
                    }
                    run(&mut c)
                })?;
            }
            ARCHS
                .iter()
                .map(|a| out.join(format!("pretrain-{a}/model")))
                .collect()
        }
    };

    // 4. Fine-tuning: NER and SST-2, once per seed.
    for (arch, model) in ARCHS.iter().zip(&models) {
        for seed in 0..p.seeds {
            for (task, dataset) in [("ner", "conll2003"), ("classify", "sst2")] {
                let dir = out.join(format!("finetune-{task}-{arch}-s{seed}"));
                stage(&dir, &format!("finetune {task} {arch} seed {seed}"), || {
                    let mut c = bertlab();
                    c.args(["finetune", task, "--model"])
                        .arg(model)
                        .arg("--data")
                        .arg(data.join(dataset))
                        .arg("--out")
                        .arg(&dir)
                        .args([
                            "--epochs",
                            &p.finetune_epochs.to_string(),
                            "--batch-size",
                            &p.finetune_batch.to_string(),
                        ])
                        .args([
                            "--lr",
                            &p.finetune_lr.to_string(),
                            "--seed",
                            &seed.to_string(),
                        ])
                        .args([
                            "--max-seq-len",
                            &p.seq_len.to_string(),
                            "--device",
                            &args.device,
                            "--resume",
                        ]);
                    if let Some(m) = p.finetune_max_steps {
                        c.args(["--max-steps", &m.to_string()]);
                    }
                    if let Some(n) = p.finetune_eval_every {
                        c.args(["--eval-every", &n.to_string()]);
                    }
                    if p.bf16 {
                        c.arg("--bf16");
                    }
                    run(&mut c)
                })?;
            }
        }
    }

    // 5. The report.
    let report = crate::report::collect(&out, &p, &models, &bin, args.pretrained.is_some())?;
    crate::report::write(&out, &report)?;
    eprintln!(
        "xtask: reproduce ({}) finished in {:.1} s: {}",
        p.name,
        total.elapsed().as_secs_f64(),
        out.join("report.md").display()
    );
    Ok(())
}

/// Checks a finished run's report: every figure present and in range, ALBERT smaller than
/// BERT, the plots written.
pub fn check_report(out: &Path) -> Result<()> {
    let r = read_json(&out.join("report.json"))?;
    let mut problems = Vec::new();
    for arch in ARCHS {
        let m = &r["models"][arch];
        let in_unit = |v: &Value| v.as_f64().is_some_and(|x| (0.0..=1.0).contains(&x));
        if !(m["parameters"].as_i64().unwrap_or(0) > 0) {
            problems.push(format!("{arch}: no parameter count"));
        }
        if !(m["pretraining"]["tokens_per_second"]
            .as_f64()
            .unwrap_or(0.0)
            > 0.0)
        {
            problems.push(format!("{arch}: no pretraining throughput"));
        }
        if !(m["inference_tokens_per_second"]["mean"]
            .as_f64()
            .unwrap_or(0.0)
            > 0.0)
        {
            problems.push(format!("{arch}: no inference throughput"));
        }
        if !in_unit(&m["conll2003_test_entity_f1"]["mean"])
            || !in_unit(&m["sst2_dev_accuracy"]["mean"])
        {
            problems.push(format!("{arch}: accuracy figures missing or out of [0, 1]"));
        }
    }
    if r["models"]["albert"]["parameters"].as_i64() >= r["models"]["bert"]["parameters"].as_i64() {
        problems.push(
            "ALBERT (E = 128, shared layers) is not smaller than BERT of the same size".into(),
        );
    }
    for svg in [
        "mlm_loss_steps",
        "mlm_loss_time",
        "dev_f1",
        "f1_vs_params",
        "throughput_memory",
    ] {
        let path = out.join(format!("{svg}.svg"));
        let ok = std::fs::read_to_string(&path)
            .is_ok_and(|t| t.starts_with("<svg") && t.contains("</svg>"));
        if !ok {
            problems.push(format!("{} is missing or not an SVG", path.display()));
        }
    }
    let md = std::fs::read_to_string(out.join("report.md"))?;
    if !md.contains("| BERT ") || !md.contains("| ALBERT ") || !md.contains("Table 2") {
        problems.push("report.md lacks the main table or the paper's figures".into());
    }
    if !problems.is_empty() {
        bail!(
            "{}: {}",
            out.join("report.json").display(),
            problems.join("; ")
        );
    }
    Ok(())
}

/// Reads the pretraining log of `dir`: (step, train seconds, MLM loss) per logging step.
pub fn pretrain_curve(dir: &Path) -> Result<Vec<(f64, f64, f64)>> {
    Ok(read_jsonl(&dir.join("metrics.jsonl"))?
        .into_iter()
        .filter_map(|v| {
            Some((
                v["step"].as_f64()?,
                v["train_seconds"].as_f64()?,
                v["mlm_loss"].as_f64()?,
            ))
        })
        .collect())
}

/// Dev scores per evaluation of a fine-tuning run: (epoch or step, score).
pub fn dev_curve(dir: &Path) -> Result<Vec<(f64, f64)>> {
    Ok(read_jsonl(&dir.join("metrics.jsonl"))?
        .into_iter()
        .filter_map(|v| Some((v["step"].as_f64()?, v["eval"]["score"].as_f64()?)))
        .collect())
}

pub fn json_file(path: &Path) -> Result<Value> {
    read_json(path)
}

/// Parameter counts of a model directory, through the binary.
pub fn parameters(bin: &Path, model: &Path) -> Result<Value> {
    let out = Command::new(bin)
        .arg("info")
        .arg("--model")
        .arg(model)
        .args(["--format", "json"])
        .output()?;
    if !out.status.success() {
        bail!(
            "bertlab info --model {}: {}",
            model.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Mean and sample standard deviation.
pub fn mean_std(xs: &[f64]) -> Value {
    if xs.is_empty() {
        return Value::Null;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let std = if xs.len() > 1 {
        (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    json!({"mean": mean, "std": std, "values": xs})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_std() {
        let v = mean_std(&[1.0, 2.0, 3.0]);
        assert_eq!(v["mean"], 2.0);
        assert!((v["std"].as_f64().unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(mean_std(&[5.0])["std"], 0.0);
        assert!(mean_std(&[]).is_null());
    }

    #[test]
    fn a_corpus_slice_links_the_first_text_files_in_name_order() {
        let tmp = tempfile::tempdir().unwrap();
        let source = tmp.path().join("data/corpus-enwiki");
        std::fs::create_dir_all(&source).unwrap();
        for name in ["wiki_02.txt", "wiki_00.txt", "PROVENANCE.md", "wiki_01.txt"] {
            std::fs::write(source.join(name), name).unwrap();
        }
        let slice = tmp.path().join("slice");
        link_corpus_slice(&tmp.path().join("data"), &slice, 2).unwrap();
        let mut linked: Vec<String> = std::fs::read_dir(&slice)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        linked.sort();
        assert_eq!(linked, ["wiki_00.txt", "wiki_01.txt"]);
        assert_eq!(
            std::fs::read_to_string(slice.join("wiki_01.txt")).unwrap(),
            "wiki_01.txt"
        );
        // Linking again (a resumed stage) keeps what is there.
        link_corpus_slice(&tmp.path().join("data"), &slice, 2).unwrap();
    }

    #[test]
    fn presets_are_known() {
        for name in ["smoke", "cpu", "gpu"] {
            assert_eq!(preset(name).unwrap().name, name);
        }
        assert!(preset("huge").is_err());
    }
}
