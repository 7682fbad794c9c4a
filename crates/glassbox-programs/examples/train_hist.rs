//! Train the histogram program and print it as Python.
//!
//! `cargo run --release -p glassbox-programs --example train_hist [EPOCHS]`: 40 epochs (the
//! default) take about 25 s on 2 cores and reach about 99.5%; the paper's 250 take about 3
//! minutes (seed 1 is the committed fixture's).

use burn::prelude::Device;
use glassbox_data::rasp::{Task, TaskData};
use glassbox_programs::{
    Language, Program, ProgramConfig, RenderOptions, TrainConfig, render, train_program,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let epochs = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(40);
    let data = TaskData::generate(&Task::Hist.default_config().with_seed(1))?;
    let config = ProgramConfig::for_task(Task::Hist, &data);
    let train = TrainConfig {
        epochs,
        seed: 1,
        progress: true,
        ..TrainConfig::for_task(Task::Hist)
    };
    let (model, report) = train_program(&config, &train, &data, &Device::flex())?;
    let program = Program::extract(&model, &config)?;
    let options = RenderOptions {
        language: Language::Python,
        prune: true,
        title: "hist",
    };
    println!("{}", render(&program, &options));
    println!(
        "# hist: {epochs} epochs in {:.1} s; discretised accuracy train {:.2}% val {:.2}% test {:.2}%",
        report.train_seconds,
        100.0 * report.train_accuracy,
        100.0 * report.val_accuracy,
        100.0 * report.test_accuracy
    );
    Ok(())
}
