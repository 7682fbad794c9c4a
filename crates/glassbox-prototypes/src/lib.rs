//! # glassbox-prototypes
//!
//! Prototype networks — "this looks like that" — on any glassbox backbone:
//!
//! * **ProtoPNet** (Chen et al., NeurIPS 2019): add-on layers, `m` prototypes per class,
//!   squared-L2 patch distances with the log similarity `log((d + 1)/(d + ε))`, global
//!   max-pooling, a last layer initialised +1 own class / −0.5 others; cross-entropy + cluster −
//!   separation + L1; warm-up → joint → **push** → last layer.
//! * **ST-ProtoPNet** (Wang et al., ICCV 2023): a trivial and a support branch with cosine
//!   similarity, orthogonality, discrimination (trivial) and closeness (support) losses,
//!   alternating updates, and the sum of both branches' logits as prediction.
//!
//! Evidence for any prediction is core's [`glassbox_core::PrototypeEvidence`] (similarities,
//! similarity maps, prototype classes, class weights), which is also an attribution map for
//! glassbox-metrics.

pub mod evidence;
pub mod loss;
pub mod model;
pub mod push;
pub mod train;

pub use evidence::{
    PredictionExplanation, PrototypeMatch, explain, explanation_sheet, prototype_gallery,
};
pub use loss::LossCoefficients;
pub use model::{BranchOutput, PrototypeBranch, PrototypeNet, PrototypeNetConfig, Variant};
pub use push::{PushRecord, push};
pub use train::{
    LearningRates, PhaseEpoch, PrototypeTrainConfig, PrototypeTrainReport, accuracy,
    train_prototype_net,
};
