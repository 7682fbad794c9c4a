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
use burn::store::PyTorchToBurnAdapter;
use glassbox_core::Result;
use glassbox_core::checkpoint::load_safetensors_strict;

/// Load a PyTorch-exported safetensors state dict into `model` (built with the matching
/// config). torchvision's `downsample.0`/`downsample.1` keys map to our
/// `downsample.conv`/`downsample.bn`.
pub fn load_pytorch_safetensors<M: Module>(model: M, path: impl AsRef<Path>) -> Result<M> {
    load_safetensors_strict(
        model,
        path.as_ref(),
        |store| {
            store
                .with_from_adapter(PyTorchToBurnAdapter)
                .with_key_remapping(r"\.downsample\.0\.", ".downsample.conv.")
                .with_key_remapping(r"\.downsample\.1\.", ".downsample.bn.")
        },
        |key| key.ends_with("num_batches_tracked"),
    )
}
