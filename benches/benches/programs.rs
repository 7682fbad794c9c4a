//! The generated Rust programs against the discretised models' forward pass on the same test
//! set (issue 8's goal: the program ≥ 100× faster), plus the IR interpreter. The programs are
//! the committed fixtures `crates/glassbox-programs/fixtures/{hist,sort}/program.rs`, extracted
//! from the committed models next to them (a test keeps the two in sync).

#[rustfmt::skip] // generated code: kept byte-identical to what the extractor renders
#[path = "../../crates/glassbox-programs/fixtures/hist/program.rs"]
mod hist;
#[rustfmt::skip] // generated code: kept byte-identical to what the extractor renders
#[path = "../../crates/glassbox-programs/fixtures/sort/program.rs"]
mod sort;

use std::hint::black_box;
use std::path::Path;

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
}

fn benches() {
    let mut c = Criterion::default().configure_from_args();
    bench_task(&mut c, "hist", hist::run, hist::run_ids);
    bench_task(&mut c, "sort", sort::run, sort::run_ids);
}

criterion_main!(benches);
