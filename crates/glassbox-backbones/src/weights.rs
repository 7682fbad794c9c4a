//! Importing PyTorch weights from safetensors files.
//!
//! A state dict exported from PyTorch (`safetensors.torch.save_file(model.state_dict(), p)`)
//! loads through burn-store's `SafetensorsStore` with the PyTorch adapter (Linear weights
//! transposed, batch-norm `weight`/`bias` → `gamma`/`beta`). The load is strict: a tensor the
//! model expects but the file lacks, a tensor the file has but the model does not use (other
//! than PyTorch's `num_batches_tracked` counters, which burn does not keep), or a shape
//! mismatch is an [`Error::Checkpoint`] that lists the offending keys — never a silent
//! partial load.

use std::path::Path;

use burn::module::Module;
use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use glassbox_core::{Error, Result};

/// Load a PyTorch-exported safetensors state dict into `model` (built with the matching
/// config). torchvision's `downsample.0`/`downsample.1` keys map to our
/// `downsample.conv`/`downsample.bn`.
pub fn load_pytorch_safetensors<M: Module>(mut model: M, path: impl AsRef<Path>) -> Result<M> {
    let path = path.as_ref();
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
    let mut store = SafetensorsStore::from_file(path)
        .with_from_adapter(PyTorchToBurnAdapter)
        .with_key_remapping(r"\.downsample\.0\.", ".downsample.conv.")
        .with_key_remapping(r"\.downsample\.1\.", ".downsample.bn.")
        .allow_partial(true);
    let result = model
        .load_from(&mut store)
        .map_err(|e| fail(format!("cannot read safetensors: {e}")))?;
    let unused: Vec<&String> = result
        .unused
        .iter()
        .filter(|k| !k.ends_with("num_batches_tracked"))
        .collect();
    let mut problems = Vec::new();
    if !result.missing.is_empty() {
        let keys: Vec<&str> = result.missing.iter().map(|(k, _)| k.as_str()).collect();
        problems.push(format!("missing in file: {}", keys.join(", ")));
    }
    if !unused.is_empty() {
        let keys: Vec<&str> = unused.iter().map(|k| k.as_str()).collect();
        problems.push(format!("not used by the model: {}", keys.join(", ")));
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
