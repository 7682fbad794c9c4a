//! The whole path a user runs: train a task, save the model, extract the program, render it,
//! check every form against the model, write everything to a directory.

use std::path::Path;

use burn::prelude::*;
use glassbox_core::{Error, Result};
use glassbox_data::rasp::{Task, TaskData, encode_with};
use serde::{Deserialize, Serialize};

use crate::artifacts::{RunConfig, load_model, save_model, write_artifact, write_json};
use crate::config::{ProgramConfig, ProgramShape, TrainConfig};
use crate::ir::Program;
use crate::model::TransformerProgram;
use crate::render::{Language, RenderOptions, render};
use crate::train::{TrainReport, train_program};
use crate::verify::{Equivalence, check_equivalence};

/// Line counts of the rendered programs (the paper's Table 4 compares full and pruned).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgramLines {
    /// Python, every value of every variable.
    pub python_full: usize,
    /// Python, unreachable branches pruned (the file written).
    pub python_pruned: usize,
    /// Rust, pruned (the file written).
    pub rust_pruned: usize,
}

/// What extraction wrote and checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractReport {
    /// Program sizes.
    pub lines: ProgramLines,
    /// Agreement with the discretised model on the test split.
    pub equivalence: Equivalence,
    /// Discretised test accuracy the program reproduces.
    pub test_accuracy: f64,
}

/// Extract `model`'s program into `dir` (`program.json`, `program.py`, `program.rs`,
/// `extract.json`) and check the IR interpreter, and with `check_sources` the generated Python
/// (`python3`) and Rust (`rustc`), against the model on the task's test split.
pub fn extract_to_dir(
    model: &TransformerProgram,
    run: &RunConfig,
    dir: &Path,
    check_sources: bool,
    overwrite: bool,
    device: &Device,
) -> Result<ExtractReport> {
    let program = Program::extract(model, &run.model)?;
    let title = run.data.task.name();
    let opts = |language, prune| RenderOptions {
        language,
        prune,
        title,
    };
    let python = render(&program, &opts(Language::Python, true));
    let rust = render(&program, &opts(Language::Rust, true));
    let full = render(&program, &opts(Language::Python, false));
    let data = TaskData::generate(&run.data)?;
    // Encode with the model's own vocabularies (the data is regenerated from its seed).
    let m = &run.model;
    let encoded = encode_with(&data.test, &m.vocab, &m.classes, m.n_ctx)?;
    let equivalence = check_equivalence(
        model,
        &program,
        &data.test,
        &encoded,
        check_sources.then_some(python.as_str()),
        check_sources.then_some(rust.as_str()),
        device,
    )?;
    let test_accuracy = crate::train::accuracy(model, &encoded, device);
    let report = ExtractReport {
        lines: ProgramLines {
            python_full: full.lines().count(),
            python_pruned: python.lines().count(),
            rust_pruned: rust.lines().count(),
        },
        equivalence,
        test_accuracy,
    };
    write_json(dir, "program.json", &program, overwrite)?;
    write_artifact(dir, "program.py", python.as_bytes(), overwrite)?;
    write_artifact(dir, "program.rs", rust.as_bytes(), overwrite)?;
    write_json(dir, "extract.json", &report, overwrite)?;
    Ok(report)
}

/// Extract the program of a model saved in `dir` (see [`extract_to_dir`]).
pub fn extract_saved(
    dir: &Path,
    check_sources: bool,
    overwrite: bool,
    device: &Device,
) -> Result<ExtractReport> {
    let (model, run) = load_model(dir, device)?;
    extract_to_dir(&model, &run, dir, check_sources, overwrite, device)
}

/// Train `task` with the paper's Table 1 shape (or `shape`) and write the model,
/// `report.json` and the extracted program into `dir`.
pub fn train_to_dir(
    task: Task,
    train: &TrainConfig,
    shape: Option<ProgramShape>,
    dir: &Path,
    check_sources: bool,
    overwrite: bool,
    device: &Device,
) -> Result<(TrainReport, ExtractReport)> {
    if !overwrite && dir.join(glassbox_core::checkpoint::WEIGHTS_FILE).exists() {
        return Err(Error::AlreadyExists(
            dir.join(glassbox_core::checkpoint::WEIGHTS_FILE),
        ));
    }
    let data_config = task.default_config().with_seed(train.seed);
    let data = TaskData::generate(&data_config)?;
    let shape = shape.unwrap_or_else(|| ProgramShape::for_task(task));
    let model_config = ProgramConfig::with_shape(task, &data, shape);
    let (trained, report) = train_program(&model_config, train, &data, device)?;
    let run = RunConfig {
        data: data_config,
        model: model_config,
    };
    save_model(&trained, &run, dir, overwrite)?;
    write_json(dir, "report.json", &report, overwrite)?;
    let extract = extract_to_dir(&trained, &run, dir, check_sources, overwrite, device)?;
    Ok((report, extract))
}
