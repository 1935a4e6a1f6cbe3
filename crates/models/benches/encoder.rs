//! Encoder forward and forward+backward, BERT against ALBERT at matched depth and width
//! (ALBERT with E = 128 and all layers shared), batch 32 × 128 tokens.
//!
//! `BERTLAB_BENCH_PRESET` picks the size (default `mini`; `base` on a GPU) and
//! `BERTLAB_DEVICE` the device (`cpu`, `cuda`, `auto`; `cargo xtask bench --device` sets it).

use bertlab_models::{presets, Arch, Model, Task};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;
use tch::{Device, Kind, Tensor};

const BATCH: i64 = 32;
const SEQ: i64 = 128;

fn bench_encoders(c: &mut Criterion) {
    let preset = std::env::var("BERTLAB_BENCH_PRESET").unwrap_or_else(|_| "mini".into());
    let device = bertlab_nn::parse_device(
        &std::env::var("BERTLAB_DEVICE").unwrap_or_else(|_| "auto".into()),
    )
    .expect("BERTLAB_DEVICE");
    tch::manual_seed(0);
    let mut group = c.benchmark_group(format!("encoder-{preset}-{BATCH}x{SEQ}"));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements((BATCH * SEQ) as u64));
    for arch in [Arch::Bert, Arch::Albert] {
        let config = presets::preset(arch, &preset, 30000).expect("preset");
        let model = Model::new(config, Task::Base, device);
        let ids = Tensor::randint(30000, [BATCH, SEQ], (Kind::Int64, device));
        let name = arch.model_type();
        group.bench_function(BenchmarkId::new("forward", name), |b| {
            b.iter(|| {
                let out = tch::no_grad(|| model.forward(&ids, None, None, false));
                out.last_hidden_state.sum(Kind::Float).double_value(&[])
            })
        });
        group.bench_function(BenchmarkId::new("forward_backward", name), |b| {
            b.iter(|| {
                let out = model.forward(&ids, None, None, true);
                let loss = out.last_hidden_state.pow_tensor_scalar(2).mean(Kind::Float);
                loss.backward();
                for (_, mut v) in model.vs.variables() {
                    v.zero_grad();
                }
                loss.double_value(&[])
            })
        });
    }
    group.finish();
    if device == Device::Cpu {
        eprintln!("threads: {}", tch::get_num_threads());
    }
}

criterion_group!(benches, bench_encoders);
criterion_main!(benches);
