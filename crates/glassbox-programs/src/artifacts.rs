//! A trained program on disk: the model checkpoint, the data and model settings that rebuild
//! it, the training report, and the extracted program in every form.
//!
//! ```text
//! DIR/model.bpk        weights (burnpack)
//! DIR/config.json      RunConfig: task data settings + model architecture
//! DIR/report.json      TrainReport (+ the equivalence check once extracted)
//! DIR/program.json     the program IR
//! DIR/program.py       standalone Python, standard library only
//! DIR/program.rs       standalone Rust module, std only
//! ```

use std::path::Path;

use burn::prelude::*;
use glassbox_core::checkpoint::{load_checkpoint_config, load_checkpoint_weights, save_checkpoint};
use glassbox_core::{Error, Result};
use glassbox_data::rasp::TaskConfig;
use serde::{Deserialize, Serialize};

use crate::config::ProgramConfig;
use crate::model::TransformerProgram;

/// What rebuilds a saved model and its data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The task's data settings (seeded: regenerates the exact splits).
    pub data: TaskConfig,
    /// The architecture.
    pub model: ProgramConfig,
}

/// Save the model and its [`RunConfig`] into `dir` (refuses to overwrite unless asked).
pub fn save_model(
    model: &TransformerProgram,
    run: &RunConfig,
    dir: &Path,
    overwrite: bool,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    save_checkpoint(model, run, dir, overwrite)?;
    Ok(())
}

/// Load a model saved with [`save_model`] onto `device`.
pub fn load_model(dir: &Path, device: &Device) -> Result<(TransformerProgram, RunConfig)> {
    let run: RunConfig = load_checkpoint_config(dir)?;
    let model = TransformerProgram::init(&run.model, device)?;
    let model = load_checkpoint_weights(model, dir)?;
    Ok((model, run))
}

/// Write `bytes` to `dir/name`, refusing to replace an existing file unless `overwrite`.
pub fn write_artifact(dir: &Path, name: &str, bytes: &[u8], overwrite: bool) -> Result<()> {
    glassbox_core::io::write_new(&dir.join(name), bytes, overwrite)
}

/// Serialise `value` as pretty JSON into `dir/name`.
pub fn write_json<T: Serialize>(dir: &Path, name: &str, value: &T, overwrite: bool) -> Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(|source| Error::Json {
        what: name.into(),
        source,
    })?;
    write_artifact(dir, name, &json, overwrite)
}
