//! # glassbox-metrics
//!
//! Scores for explanations, in Quantus' six families, on one batched perturbation engine.
//!
//! | family | metrics |
//! |---|---|
//! | [`faithfulness`] | Pixel-Flipping, deletion / insertion (RISE), Region Perturbation, Selectivity, Faithfulness Correlation / Estimate, Monotonicity (Arya), Monotonicity Correlation (Nguyen), Sensitivity-N, IROF, Infidelity, ROAD |
//! | [`robustness`] | Max- / Avg-Sensitivity, Local Lipschitz Estimate, Relative Input / Output Stability |
//! | [`localisation`] | Pointing Game, Attribution Localisation, Top-K Intersection, Relevance Rank / Mass Accuracy, AUC |
//! | [`complexity`] | Sparseness (Gini), Complexity (entropy), Effective Complexity |
//! | [`randomisation`] | Model Parameter Randomisation, Random Logit |
//! | [`axiomatic`] | Completeness, Non-Sensitivity, Input Invariance |
//! | [`support`] | few-shot segmentation over the support set: IAUC / DAUC (IoU), IAUC@p (confidence), mIoU Loss@p |
//!
//! Each metric is a config struct (serde, Quantus' defaults, differences documented on the
//! type) implementing [`Metric`]: `metric.evaluate(&ctx, &batch)` returns per-sample scores,
//! their aggregate and any curves. Inputs follow Quantus' conventions: channel-first images,
//! attributions with one channel or one per input channel, `normalise` then `abs`.
//!
//! **Correct by default, Quantus on request.** Quantus 0.6.0 normalises by the maximum of the
//! whole batch, so a sample's score depends on its batch-mates; several metrics have confirmed
//! defects (Monotonicity is always true, ROAD and Sensitivity-N score only the first internal
//! batch, an empty mask is a Pointing Game hit, Completeness tests exact float equality).
//! glassbox computes each sample on its own as the papers define, and every affected metric
//! has `quantus_compat` to reproduce Quantus where a published number must be matched.
//!
//! **One engine.** Perturbation metrics describe their copies ([`Perturbation`]: how many per
//! image, and how to write each) and the [`PerturbationEngine`] runs them through the model in
//! batches of at most `batch_size`, on the context's device. Random draws come from seeds and
//! are fixed per (image, copy), so scores do not depend on batch size or budget.
//!
//! ```no_run
//! # use burn::prelude::*;
//! # use glassbox_core::HostTensor;
//! # fn demo(model: &dyn glassbox_core::Classifier, device: &Device, x: HostTensor, a: HostTensor) -> glassbox_core::Result<()> {
//! use glassbox_metrics::{Context, Metric, MetricBatch, PixelFlipping};
//! let batch = MetricBatch::new(x, a, vec![3, 1])?;
//! let ctx = Context::new(model, device);
//! let result = PixelFlipping::default().with_features_in_step(16).evaluate(&ctx, &batch)?;
//! println!("{} = {:.4}", result.metric, result.aggregate);
//! # Ok(()) }
//! ```

pub mod axiomatic;
mod baseline;
mod batch;
pub mod complexity;
pub mod engine;
pub mod faithfulness;
pub mod features;
pub mod localisation;
mod macros;
mod metric;
mod perturb;
pub mod preprocess;
pub mod randomisation;
pub mod randomise;
mod registry;
pub mod report;
pub mod robustness;
pub mod stats;
pub mod support;

pub use axiomatic::{Completeness, InputInvariance, NonSensitivity};
pub use baseline::PerturbBaseline;
pub use batch::MetricBatch;
pub use complexity::{Complexity, EffectiveComplexity, Sparseness};
pub use engine::{Outputs, Perturbation, PerturbationEngine, Readout};
pub use faithfulness::{
    Deletion, FaithfulnessCorrelation, FaithfulnessEstimate, Infidelity, Insertion, Irof,
    Monotonicity, MonotonicityCorrelation, PixelFlipping, RegionOrder, RegionPerturbation, Road,
    RoadOrder, Segmentation, Selectivity, SensitivityN, Substrate,
};
pub use features::FeatureLayout;
pub use localisation::{
    AttributionLocalisation, Auc, PointingGame, RelevanceMassAccuracy, RelevanceRankAccuracy,
    TopKIntersection,
};
pub use metric::{Category, Context, ExplainFn, Metric, MetricResult};
pub use randomisation::{Mprt, RandomLogit};
pub use randomise::{cascade, parameter_layers, randomise_layers};
pub use registry::{METRIC_NAMES, metric_by_name, metric_from_config};
pub use report::{MetricReport, MetricTable};
pub use robustness::{
    AvgSensitivity, LocalLipschitzEstimate, MaxSensitivity, Noise, NoisyCopies,
    RelativeInputStability, RelativeOutputStability,
};
pub use support::{Direction, MiouLoss, SupportBatch, SupportCurve, SupportMeasure, SupportScores};
