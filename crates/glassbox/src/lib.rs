//! # glassbox
//!
//! Interpretable-by-design deep learning on [burn](https://burn.dev): models whose structure
//! is the explanation, the post-hoc baselines they are compared with, and the metrics that
//! score any explanation — on any burn device.
//!
//! This umbrella crate re-exports the family crates and selects backends:
//!
//! | re-export | crate |
//! |---|---|
//! | [`core`] | `glassbox-core`: traits, explanation types, rendering, training helpers |
//! | [`data`] | `glassbox-data`: IDX reader, Fashion-MNIST, batching |
//! | [`backbones`] | `glassbox-backbones`: `SmallCnn`, multi-level features |
//! | [`attribution`] | `glassbox-attribution`: Saliency, IG, SmoothGrad, Grad-CAM, Occlusion |
//! | [`affinity`] | `glassbox-affinity`: matching-based few-shot segmenter and the Affinity Explainer |
//! | [`metrics`] | `glassbox-metrics`: faithfulness, robustness, localisation, complexity, randomisation and axiomatic metrics |
//! | [`programs`] | `glassbox-programs`: Transformer Programs, extracted to verified Python and Rust |
//! | [`prototypes`] | `glassbox-prototypes`: ProtoPNet and ST-ProtoPNet |
//!
//! [`scoring`] joins the two: every attribution method as a metric explainer, and a method ×
//! metric table in one call ([`scoring::score_methods`]); [`fss`] does the same for few-shot
//! segmentation (Affinity Explainer vs support-image baselines, support-set causal metrics).
//!
//! ## Features
//! | feature | backend |
//! |---|---|
//! | `flex` (default) | pure-Rust CPU |
//! | `ndarray` | deprecated burn CPU backend |
//! | `wgpu` | GPU via wgpu (or Mesa llvmpipe) |
//! | `cuda` | NVIDIA CUDA |
//!
//! Pick the device at run time with [`device::parse_device`].

pub use glassbox_affinity as affinity;
pub use glassbox_attribution as attribution;
pub use glassbox_backbones as backbones;
pub use glassbox_core as core;
pub use glassbox_data as data;
pub use glassbox_metrics as metrics;
pub use glassbox_programs as programs;
pub use glassbox_prototypes as prototypes;

pub mod classification;
pub mod device;
pub mod fss;
/// One classifier type over every backbone (re-exported from `glassbox-backbones`).
pub use glassbox_backbones::image_classifier;
pub mod scoring;

/// The names most programs need.
pub mod prelude {
    pub use crate::classification::{
        Evaluation, TrainConfig, evaluate_classifier, train_classifier,
    };
    pub use crate::device::{compiled_backends, device, parse_device};
    pub use crate::image_classifier::{ImageClassifier, ModelConfig};
    pub use glassbox_backbones::{
        MultiLevelBackbone, ResNet, ResNetConfig, ResNetDepth, SmallCnn, SmallCnnConfig,
    };
    pub use glassbox_core::{
        Attribution, BackendKind, Classifier, Error, Explainer, Explanation, FeatureClassifier,
        FewShotSegmenter, Result, Target,
    };
    pub use glassbox_data::{BatchConfig, FashionMnist, LabeledImages, Split};
}
