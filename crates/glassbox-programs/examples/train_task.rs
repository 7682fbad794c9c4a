//! Train one task with the paper's Table 1 configuration and save the model and report.
//!
//! `cargo run --release -p glassbox-programs --example train_task -- TASK SEED OUT_DIR [EPOCHS]`

use std::path::PathBuf;

use burn::prelude::Device;
use glassbox_data::rasp::{Task, TaskData};
use glassbox_programs::artifacts::{RunConfig, save_model, write_json};
use glassbox_programs::{ProgramConfig, TrainConfig, train_program};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: train_task TASK SEED OUT_DIR [EPOCHS]".into());
    }
    let task: Task = args[1].parse()?;
    let seed: u64 = args[2].parse()?;
    let out = PathBuf::from(&args[3]);
    let data_config = task.default_config().with_seed(seed);
    let data = TaskData::generate(&data_config)?;
    let model_config = ProgramConfig::for_task(task, &data);
    let mut train = TrainConfig {
        seed,
        ..TrainConfig::for_task(task)
    };
    if let Some(e) = args.get(4) {
        train.epochs = e.parse()?;
    }
    let device = Device::flex();
    let (model, report) = train_program(&model_config, &train, &data, &device)?;
    let run = RunConfig {
        data: data_config,
        model: model_config,
    };
    save_model(&model, &run, &out, false)?;
    write_json(&out, "report.json", &report, false)?;
    println!(
        "{task} seed {seed}: {:.1} s, discretised accuracy train {:.2}% val {:.2}% test {:.2}%",
        report.train_seconds,
        100.0 * report.train_accuracy,
        100.0 * report.val_accuracy,
        100.0 * report.test_accuracy
    );
    Ok(())
}
