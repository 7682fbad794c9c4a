//! Checkpoints: a model's weights (burnpack) next to the JSON config that rebuilds it.
//!
//! burn 0.22 removed recorders; weights are stored as burnpack bytes through
//! `Module::into_record().into_bytes()`. We write the bytes ourselves so that saving is atomic
//! and never replaces an existing checkpoint unless the caller asks for it.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::ModuleRecord;
use serde::{Serialize, de::DeserializeOwned};

use crate::{Error, Result};

/// File name of the weights inside a checkpoint directory.
pub const WEIGHTS_FILE: &str = "model.bpk";
/// File name of the model config inside a checkpoint directory.
pub const CONFIG_FILE: &str = "config.json";

/// Paths of a checkpoint directory's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointPaths {
    /// The burnpack weights.
    pub weights: PathBuf,
    /// The JSON config.
    pub config: PathBuf,
}

impl CheckpointPaths {
    /// The files of the checkpoint in `dir`.
    pub fn in_dir(dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        Self {
            weights: dir.join(WEIGHTS_FILE),
            config: dir.join(CONFIG_FILE),
        }
    }
}

/// Save `model`'s weights and `config` into `dir` (created if missing).
///
/// Refuses to replace an existing checkpoint unless `overwrite` is true.
pub fn save_checkpoint<M: Module + Clone, C: Serialize>(
    model: &M,
    config: &C,
    dir: impl AsRef<Path>,
    overwrite: bool,
) -> Result<CheckpointPaths> {
    let paths = CheckpointPaths::in_dir(dir);
    if !overwrite {
        for p in [&paths.weights, &paths.config] {
            if p.exists() {
                return Err(Error::AlreadyExists(p.clone()));
            }
        }
    }
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| Error::Checkpoint {
            path: paths.weights.clone(),
            reason: e.to_string(),
        })?;
    let json = serde_json::to_vec_pretty(config).map_err(|source| Error::Json {
        what: "model config".into(),
        source,
    })?;
    crate::io::write_new(&paths.config, &json, overwrite)?;
    crate::io::write_new(&paths.weights, &bytes, overwrite)?;
    Ok(paths)
}

/// Read the JSON config of the checkpoint in `dir`.
pub fn load_checkpoint_config<C: DeserializeOwned>(dir: impl AsRef<Path>) -> Result<C> {
    let path = CheckpointPaths::in_dir(dir).config;
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text).map_err(|source| Error::Json {
        what: path.display().to_string(),
        source,
    })
}

/// Load the weights of the checkpoint in `dir` into `model` (built from the same config).
///
/// Fails with [`Error::Checkpoint`] if the file is corrupt or its tensors do not match the
/// model's parameters (names or shapes).
pub fn load_checkpoint_weights<M: Module>(model: M, dir: impl AsRef<Path>) -> Result<M> {
    let path = CheckpointPaths::in_dir(dir).weights;
    load_weights_file(model, &path)
}

/// Load burnpack weights from a file path into `model`.
pub fn load_weights_file<M: Module>(model: M, path: &Path) -> Result<M> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let fail = |reason: String| Error::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    // burnpack's reader trusts header offsets; catch a panic on a corrupt file and report it
    // as a typed error rather than bringing the program down.
    let record = std::panic::catch_unwind(|| {
        ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
    })
    .map_err(|_| fail("corrupt burnpack file".into()))?
    .map_err(|e| fail(e.to_string()))?;
    model
        .try_load_record(record)
        .map_err(|e| fail(e.to_string()))
}

/// Load a safetensors file into `model`, strictly: a tensor the model expects but the file
/// lacks, a tensor of the file the model does not use (other than keys `ignore` accepts), or a
/// shape mismatch is an [`Error::Checkpoint`] listing the offending keys — never a silent
/// partial load. `configure` sets up the store (adapters, key remapping) before reading.
pub fn load_safetensors_strict<M: Module>(
    mut model: M,
    path: &Path,
    configure: impl FnOnce(burn::store::SafetensorsStore) -> burn::store::SafetensorsStore,
    ignore: impl Fn(&str) -> bool,
) -> Result<M> {
    use burn::store::ModuleSnapshot;
    let fail = |reason: String| Error::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    if !path.is_file() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such weights file"),
        ));
    }
    let mut store = configure(burn::store::SafetensorsStore::from_file(path)).allow_partial(true);
    let result = model
        .load_from(&mut store)
        .map_err(|e| fail(format!("cannot read safetensors: {e}")))?;
    let mut problems = Vec::new();
    if !result.missing.is_empty() {
        let keys: Vec<&str> = result.missing.iter().map(|(k, _)| k.as_str()).collect();
        problems.push(format!("missing in file: {}", keys.join(", ")));
    }
    let unused: Vec<&str> = result
        .unused
        .iter()
        .map(String::as_str)
        .filter(|k| !ignore(k))
        .collect();
    if !unused.is_empty() {
        problems.push(format!("not used by the model: {}", unused.join(", ")));
    }
    if !result.errors.is_empty() {
        let errs: Vec<String> = result.errors.iter().map(|e| format!("{e:?}")).collect();
        problems.push(format!("errors: {}", errs.join("; ")));
    }
    if problems.is_empty() {
        Ok(model)
    } else {
        Err(fail(problems.join(" | ")))
    }
}
