//! The generated Rust programs against the discretised models' forward pass on the same test
//! set (issue 8's goal: the program ≥ 100× faster), plus the IR interpreter. The programs are
//! the committed fixtures `crates/glassbox-programs/fixtures/{hist,sort}/program.rs`, extracted
//! from the committed models next to them (a test keeps the two in sync).
//!
//! After criterion's groups, the model and `run_ids` are also timed interleaved, round after
//! round, and the ratio printed from the minima and from the medians: on a shared VM the
//! model's time drifts by ±20 % between criterion's (sequential) groups, which moves a ratio
//! of two of them more than any change to the program does.

#[rustfmt::skip] // generated code: kept byte-identical to what the extractor renders
#[path = "../../crates/glassbox-programs/fixtures/hist/program.rs"]
mod hist;
#[rustfmt::skip] // generated code: kept byte-identical to what the extractor renders
#[path = "../../crates/glassbox-programs/fixtures/sort/program.rs"]
mod sort;

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use burn::prelude::*;
use criterion::{Criterion, criterion_main};
use glassbox::programs::artifacts::load_model;
use glassbox::programs::data::{TaskData, encode_with};
use glassbox::programs::{Program, predict};

type Run = fn(&[&str]) -> Result<Vec<&'static str>, String>;
type RunIds = fn(&[u8], &mut [u16]) -> Result<(), String>;

fn bench_task(c: &mut Criterion, name: &str, run: Run, run_ids: RunIds) {
    let dev = Device::flex();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/glassbox-programs/fixtures")
        .join(name);
    let (model, config) = load_model(&dir, &dev).expect("fixture model");
    let program = Program::extract(&model, &config.model).expect("extract");
    let data = TaskData::generate(&config.data).expect("data");
    let m = &config.model;
    let encoded = encode_with(&data.test, &m.vocab, &m.classes, m.n_ctx).expect("encode");
    let inputs: Vec<Vec<&str>> = data
        .test
        .iter()
        .map(|e| e.tokens.iter().map(String::as_str).collect())
        .collect();
    // The same sequences as token ids, as the model gets them (its tensors are built outside
    // the timed loop too).
    let ids: Vec<Vec<u8>> = inputs
        .iter()
        .enumerate()
        .map(|(r, t)| {
            let row = &encoded.tokens[r * encoded.n_ctx..r * encoded.n_ctx + t.len()];
            row.iter().map(|&x| x as u8).collect()
        })
        .collect();
    let mut g = c.benchmark_group(format!("program_{name}_{}_sequences", inputs.len()));
    g.sample_size(10);
    g.bench_function("model_forward_argmax", |b| {
        b.iter(|| black_box(predict(&model, &encoded, 2048, &dev)))
    });
    g.bench_function("generated_rust", |b| {
        b.iter(|| {
            for t in &inputs {
                black_box(run(t).expect("valid input"));
            }
        })
    });
    g.bench_function("generated_rust_ids", |b| {
        let mut out = [0u16; 64];
        b.iter(|| {
            for t in &ids {
                run_ids(t, &mut out).expect("valid input");
                black_box(&out);
            }
        })
    });
    g.bench_function("ir_interpreter", |b| {
        b.iter(|| {
            for t in &inputs {
                black_box(program.run(t).expect("valid input"));
            }
        })
    });
    g.finish();
    interleaved(
        name,
        || predict(&model, &encoded, 2048, &dev),
        &ids,
        run_ids,
    );
}

/// Time the model's forward pass and the program's `run_ids` over the test set alternately and
/// print minima, medians and their ratios.
fn interleaved<T>(name: &str, model: impl Fn() -> T, ids: &[Vec<u8>], run_ids: RunIds) {
    const ROUNDS: usize = 40;
    const PROGRAM_RUNS: usize = 10;
    let ms = |start: Instant| start.elapsed().as_secs_f64() * 1e3;
    let (mut model_ms, mut program_ms) = (Vec::new(), Vec::new());
    let mut out = [0u16; 64];
    for _ in 0..ROUNDS {
        let start = Instant::now();
        black_box(model());
        model_ms.push(ms(start));
        for _ in 0..PROGRAM_RUNS {
            let start = Instant::now();
            for t in ids {
                run_ids(t, &mut out).expect("valid input");
                black_box(&out);
            }
            program_ms.push(ms(start));
        }
    }
    let min_median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[0], v[v.len() / 2])
    };
    let (m_min, m_med) = min_median(&mut model_ms);
    let (p_min, p_med) = min_median(&mut program_ms);
    println!(
        "{name} interleaved ({ROUNDS} rounds): model min {m_min:.2} ms, median {m_med:.2} ms; \
         run_ids min {:.1} µs, median {:.1} µs; model / run_ids: {:.0}× (minima), {:.0}× (medians)",
        p_min * 1e3,
        p_med * 1e3,
        m_min / p_min,
        m_med / p_med
    );
}

fn benches() {
    let mut c = Criterion::default().configure_from_args();
    bench_task(&mut c, "hist", hist::run, hist::run_ids);
    bench_task(&mut c, "sort", sort::run, sort::run_ids);
}

criterion_main!(benches);
