//! # glassbox-core
//!
//! The vocabulary every glassbox crate speaks:
//!
//! | module | what |
//! |---|---|
//! | [`model`] | model-as-function traits: [`Classifier`], [`FeatureClassifier`], [`FewShotSegmenter`] (closures qualify) |
//! | [`target`] | [`Target`]: which output an explanation is about |
//! | [`explanation`] | typed evidence ([`Attribution`], [`SupportAttribution`], [`PrototypeEvidence`], [`ConceptEvidence`]) serialisable to JSON |
//! | [`explainer`] | the one-verb [`Explainer`] trait |
//! | [`rescale`] | ReLU and max-pooling that DeepLift can see (record a reference pass, rescale the input pass) |
//! | [`render`] | colormaps, heatmaps, overlays, captioned grids, PNG output |
//! | [`train`] | a fit loop with progress bar and per-epoch metrics |
//! | [`checkpoint`] | burnpack weights + JSON config, never overwritten silently |
//! | [`check`] | input validation returning typed errors |
//! | [`backend`] | parsing `--device` names |
//! | [`npy`] | NumPy `.npy` reading and writing of `float32` tensors |
//! | [`rng`] | a seeded SplitMix64 for data order, augmentation and random masks |
//!
//! Library code here never names a backend: it takes `&Device` or reads `tensor.device()`.

pub mod backend;
pub mod check;
pub mod checkpoint;
mod error;
pub mod explainer;
pub mod explanation;
pub mod host;
pub mod io;
pub mod model;
pub mod npy;
pub mod render;
pub mod rescale;
pub mod rng;
pub mod target;
pub mod train;

pub use backend::BackendKind;
pub use error::{Error, Result};
pub use explainer::Explainer;
pub use explanation::{
    Attribution, AttributionRecord, ConceptEvidence, ConceptEvidenceRecord, Explanation,
    PrototypeEvidence, PrototypeEvidenceRecord, SupportAttribution, SupportAttributionRecord,
};
pub use host::{HostTensor, HostView};
pub use model::{Classifier, FeatureClassifier, FewShotInput, FewShotSegmenter};
pub use target::Target;

/// Seed burn's random number generator on `device` (parameter init, dropout, `Tensor::random`).
///
/// Data shuffling in glassbox uses its own seeded generator, so one seed fixes a whole run
/// on deterministic backends such as Flex.
pub fn seed(device: &burn::prelude::Device, seed: u64) {
    device.seed(seed);
}
