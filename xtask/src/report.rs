//! The comparison report of `cargo xtask reproduce`: `report.json`, `report.md` and SVG plots.

use crate::reproduce::{dev_curve, json_file, mean_std, parameters, pretrain_curve, Preset};
use anyhow::Result;
use plotters::prelude::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const ARCHS: [&str; 2] = ["bert", "albert"];

/// Table 2 of Lan et al. (2020), "ALBERT: A Lite BERT for Self-supervised Learning of Language
/// Representations": parameters, SST-2 dev accuracy and training speedup over BERT-large.
const PAPER: &[(&str, &str, f64, &str)] = &[
    ("BERT base", "108M", 92.8, "4.7x"),
    ("BERT large", "334M", 93.0, "1.0"),
    ("ALBERT base", "12M", 90.3, "5.6x"),
    ("ALBERT large", "18M", 91.7, "1.7x"),
    ("ALBERT xlarge", "60M", 92.4, "0.6x"),
    ("ALBERT xxlarge", "235M", 95.2, "0.3x"),
];

/// Gathers every figure of a finished run.
pub fn collect(
    out: &Path,
    p: &Preset,
    models: &[PathBuf],
    bin: &Path,
    given: bool,
) -> Result<Value> {
    let mut entries = serde_json::Map::new();
    for (arch, model) in ARCHS.iter().zip(models) {
        let counts = parameters(bin, model)?;
        let comp = |c: &str| counts["components"][c].as_i64().unwrap_or(0);
        let base = comp("embeddings") + comp("encoder") + comp("pooler");
        let pretrain = if given {
            Value::Null
        } else {
            let dir = out.join(format!("pretrain-{arch}"));
            let summary = json_file(&dir.join("metrics.json"))?;
            let curve = pretrain_curve(&dir)?;
            json!({
                "steps": summary["steps"],
                "train_seconds": summary["train_seconds"],
                "tokens_per_second": summary["tokens_per_second"],
                "peak_rss_bytes": summary["peak_rss_bytes"],
                "final_mlm_loss": curve.last().map(|c| c.2),
                "held_out": summary["eval"],
            })
        };
        let (mut f1, mut acc, mut infer, mut mem) = (vec![], vec![], vec![], vec![]);
        for seed in 0..p.seeds {
            let ner = json_file(&out.join(format!("finetune-ner-{arch}-s{seed}/metrics.json")))?;
            f1.push(
                ner["test"]["entity"]["micro"]["f1"]
                    .as_f64()
                    .unwrap_or(f64::NAN),
            );
            infer.push(
                ner["training"]["inference_tokens_per_second"]
                    .as_f64()
                    .unwrap_or(f64::NAN),
            );
            mem.push(
                ner["training"]["peak_rss_bytes"]
                    .as_f64()
                    .unwrap_or(f64::NAN),
            );
            let cls =
                json_file(&out.join(format!("finetune-classify-{arch}-s{seed}/metrics.json")))?;
            acc.push(cls["dev"]["accuracy"].as_f64().unwrap_or(f64::NAN));
        }
        entries.insert(
            arch.to_string(),
            json!({
                "model": model.display().to_string(),
                "parameters": base,
                "parameters_with_heads": counts["total"],
                "pretraining": pretrain,
                "inference_tokens_per_second": mean_std(&infer),
                "finetune_peak_rss_bytes": mean_std(&mem),
                "conll2003_test_entity_f1": mean_std(&f1),
                "sst2_dev_accuracy": mean_std(&acc),
            }),
        );
    }
    let speed = |a: &str| entries[a]["pretraining"]["tokens_per_second"].as_f64();
    let speedup = match (speed("albert"), speed("bert")) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    let threads = std::process::Command::new(bin)
        .args(["info", "--format", "json", "--device", "cpu"])
        .output()
        .ok()
        .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok());
    Ok(json!({
        "preset": p.name,
        "size": p.size,
        "seeds": p.seeds,
        "pretrain_steps": p.pretrain_steps,
        "pretrain_batch": p.pretrain_batch,
        "seq_len": p.seq_len,
        "models": entries,
        "albert_pretraining_speedup_over_bert": speedup,
        "runtime": threads,
        "paper_table_2": PAPER.iter().map(|(m, params, sst2, speedup)| json!({"model": m, "parameters": params, "sst2": sst2, "speedup": speedup})).collect::<Vec<_>>(),
    }))
}

fn fmt_ms(v: &Value, scale: f64, digits: usize) -> String {
    match (v["mean"].as_f64(), v["std"].as_f64()) {
        (Some(m), Some(s)) if v["values"].as_array().is_some_and(|a| a.len() > 1) => {
            format!("{:.*} ± {:.*}", digits, m * scale, digits, s * scale)
        }
        (Some(m), _) => format!("{:.*}", digits, m * scale),
        _ => "–".into(),
    }
}

fn mib(bytes: Option<f64>) -> String {
    bytes.map_or("–".into(), |b| {
        format!("{:.0} MiB", b / (1024.0 * 1024.0))
    })
}

/// Writes `report.json`, `report.md` and the plots.
pub fn write(out: &Path, r: &Value) -> Result<()> {
    crate::write_atomic(
        &out.join("report.json"),
        serde_json::to_string_pretty(r)?.as_bytes(),
    )?;
    let mut md = format!(
        "# ALBERT vs BERT: preset `{}` ({} size, {} pretraining steps of {} × {} tokens, {} seed(s))\n\n",
        r["preset"].as_str().unwrap_or(""),
        r["size"].as_str().unwrap_or(""),
        r["pretrain_steps"],
        r["pretrain_batch"],
        r["seq_len"],
        r["seeds"]
    );
    md += "Measured by `cargo xtask reproduce` on this machine; accuracy is mean ± std over seeds.\n\n";
    md += "| Model | Parameters | Pretraining tokens/s (speedup) | Inference tokens/s | Peak memory (pretraining) | CoNLL-2003 test entity F1 | SST-2 dev accuracy |\n";
    md += "|---|---:|---:|---:|---:|---:|---:|\n";
    let bert_speed = r["models"]["bert"]["pretraining"]["tokens_per_second"].as_f64();
    for arch in ARCHS {
        let m = &r["models"][arch];
        let speed = m["pretraining"]["tokens_per_second"].as_f64();
        let speed_cell = match (speed, bert_speed) {
            (Some(s), Some(b)) => format!("{s:.0} ({:.2}x)", s / b),
            _ => "–".into(),
        };
        md += &format!(
            "| {} {} | {} | {} | {} | {} | {} | {} |\n",
            if arch == "bert" { "BERT" } else { "ALBERT" },
            r["size"].as_str().unwrap_or(""),
            group(m["parameters"].as_i64().unwrap_or(0)),
            speed_cell,
            fmt_ms(&m["inference_tokens_per_second"], 1.0, 0),
            mib(m["pretraining"]["peak_rss_bytes"].as_f64()),
            fmt_ms(&m["conll2003_test_entity_f1"], 100.0, 2),
            fmt_ms(&m["sst2_dev_accuracy"], 100.0, 2),
        );
    }
    md += "\nThe paper's figures (Lan et al., 2020, Table 2; speedup is training throughput relative to BERT-large; SST-2 dev accuracy). They are the paper's, not measured here, and come from far larger pretraining:\n\n";
    md += "| Model (paper) | Parameters | SST-2 | Speedup |\n|---|---:|---:|---:|\n";
    for (m, params, sst2, speedup) in PAPER {
        md += &format!("| {m} | {params} | {sst2:.1} | {speedup} |\n");
    }
    md += "\n![MLM loss against steps](mlm_loss_steps.svg) ![MLM loss against time](mlm_loss_time.svg)\n\n";
    md += "![dev F1 per evaluation](dev_f1.svg) ![F1 against parameters](f1_vs_params.svg) ![throughput and memory](throughput_memory.svg)\n";
    crate::write_atomic(&out.join("report.md"), md.as_bytes())?;
    plots(out, r)?;
    Ok(())
}

fn group(n: i64) -> String {
    let s = n.to_string();
    let mut o = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            o.push(',');
        }
        o.push(c);
    }
    o
}

const COLORS: [RGBColor; 2] = [RGBColor(31, 119, 180), RGBColor(214, 39, 40)];

/// A line chart of one series per architecture.
fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<()> {
    svg(path, (640, 400), |root| {
        root.fill(&WHITE)?;
        let pts = series.iter().flat_map(|s| s.1.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in pts {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
        if x0 > x1 {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        let pad = ((y1 - y0) * 0.05).max(1e-6);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1.max(x0 + 1e-9), (y0 - pad)..(y1 + pad))?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .draw()?;
        for (i, (name, pts)) in series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 2, color.filled())))?;
        }
        legend(&mut chart)?;
        Ok(())
    })
}

/// Draws the series labels of `chart` in a framed box.
fn legend<'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
) -> Result<()> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// Draws a chart of `size` pixels and writes it to `path` as SVG, atomically.
fn svg(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>) -> Result<()>,
) -> Result<()> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        draw(&root)?;
        root.present()?;
    }
    crate::write_atomic(path, text.as_bytes())
}

fn plots(out: &Path, r: &Value) -> Result<()> {
    let name = |a: &str| {
        if a == "bert" {
            "BERT".to_string()
        } else {
            "ALBERT".to_string()
        }
    };
    let curves: Vec<(String, Vec<(f64, f64, f64)>)> = ARCHS
        .iter()
        .filter_map(|a| {
            pretrain_curve(&out.join(format!("pretrain-{a}")))
                .ok()
                .map(|c| (name(a), c))
        })
        .collect();
    let by = |f: fn(&(f64, f64, f64)) -> (f64, f64)| -> Vec<(String, Vec<(f64, f64)>)> {
        curves
            .iter()
            .map(|(n, c)| (n.clone(), c.iter().map(f).collect()))
            .collect()
    };
    line_chart(
        &out.join("mlm_loss_steps.svg"),
        "MLM loss against steps",
        "step",
        "MLM loss",
        &by(|c| (c.0, c.2)),
    )?;
    line_chart(
        &out.join("mlm_loss_time.svg"),
        "MLM loss against training time",
        "seconds",
        "MLM loss",
        &by(|c| (c.1, c.2)),
    )?;
    let dev: Vec<(String, Vec<(f64, f64)>)> = ARCHS
        .iter()
        .filter_map(|a| {
            dev_curve(&out.join(format!("finetune-ner-{a}-s0")))
                .ok()
                .map(|c| (name(a), c))
        })
        .collect();
    line_chart(
        &out.join("dev_f1.svg"),
        "CoNLL-2003 dev entity F1 (seed 0)",
        "step",
        "F1",
        &dev,
    )?;

    // F1 against parameters.
    svg(&out.join("f1_vs_params.svg"), (640, 400), |root| {
        root.fill(&WHITE)?;
        let points: Vec<(String, f64, f64)> = ARCHS
            .iter()
            .map(|a| {
                let m = &r["models"][*a];
                (
                    name(a),
                    m["parameters"].as_f64().unwrap_or(0.0) / 1e6,
                    m["conll2003_test_entity_f1"]["mean"]
                        .as_f64()
                        .unwrap_or(0.0),
                )
            })
            .collect();
        let xmax = points.iter().map(|p| p.1).fold(0.0, f64::max) * 1.2 + 1e-6;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "CoNLL-2003 test entity F1 against parameters",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..xmax, 0.0..1.0)?;
        chart
            .configure_mesh()
            .x_desc("parameters (millions, base model)")
            .y_desc("F1")
            .draw()?;
        for (i, (n, x, y)) in points.iter().enumerate() {
            let c = COLORS[i];
            chart
                .draw_series([Circle::new((*x, *y), 6, c.filled())])?
                .label(n.as_str())
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, c.filled()));
        }
        legend(&mut chart)?;
        Ok(())
    })?;

    // Throughput and memory bars.
    svg(&out.join("throughput_memory.svg"), (900, 340), |root| {
        root.fill(&WHITE)?;
        let panels = root.split_evenly((1, 3));
        let metrics: [(&str, Box<dyn Fn(&Value) -> f64>); 3] = [
            (
                "pretraining tokens/s",
                Box::new(|m: &Value| {
                    m["pretraining"]["tokens_per_second"]
                        .as_f64()
                        .unwrap_or(0.0)
                }),
            ),
            (
                "inference tokens/s",
                Box::new(|m: &Value| {
                    m["inference_tokens_per_second"]["mean"]
                        .as_f64()
                        .unwrap_or(0.0)
                }),
            ),
            (
                "peak memory, pretraining (MiB)",
                Box::new(|m: &Value| {
                    m["pretraining"]["peak_rss_bytes"].as_f64().unwrap_or(0.0) / 1048576.0
                }),
            ),
        ];
        for (panel, (title, get)) in panels.iter().zip(metrics.iter()) {
            let values: Vec<f64> = ARCHS.iter().map(|a| get(&r["models"][*a])).collect();
            let ymax = values.iter().copied().fold(0.0, f64::max) * 1.15 + 1e-9;
            let mut chart = ChartBuilder::on(panel)
                .caption(*title, ("sans-serif", 15))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(60)
                .build_cartesian_2d((0..1).into_segmented(), 0.0..ymax)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .y_label_formatter(&|v| format!("{v:.0}"))
                .x_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(0) => "BERT".into(),
                    SegmentValue::CenterOf(1) => "ALBERT".into(),
                    _ => String::new(),
                })
                .draw()?;
            for (i, v) in values.iter().enumerate() {
                let c = COLORS[i];
                chart.draw_series([Rectangle::new(
                    [
                        (SegmentValue::Exact(i as i32), 0.0),
                        (SegmentValue::Exact(i as i32 + 1), *v),
                    ],
                    c.mix(0.8).filled(),
                )])?;
            }
        }
        Ok(())
    })
}
