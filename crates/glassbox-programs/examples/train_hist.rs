//! Train the histogram program (it takes seconds) and print it.
//!
//! `cargo run --release -p glassbox-programs --example train_hist [EPOCHS]`

use burn::prelude::Device;
use glassbox_data::rasp::{Task, TaskData};
use glassbox_programs::{ProgramConfig, TrainConfig, train_program};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let epochs = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(250);
    let data = TaskData::generate(&Task::Hist.default_config())?;
    let model_config = ProgramConfig::for_task(Task::Hist, &data);
    let train = TrainConfig { epochs, progress: true, ..TrainConfig::for_task(Task::Hist) };
    let device = Device::flex();
    let (_model, report) = train_program(&model_config, &train, &data, &device)?;
    println!(
        "hist: {} epochs in {:.1} s, discretised accuracy train {:.2}% val {:.2}% test {:.2}%",
        epochs,
        report.train_seconds,
        100.0 * report.train_accuracy,
        100.0 * report.val_accuracy,
        100.0 * report.test_accuracy
    );
    let h = &report.loss_history;
    println!("loss per epoch: first {:.4}, middle {:.4}, last {:.4}", h[0], h[h.len() / 2], h[h.len() - 1]);
    Ok(())
}
