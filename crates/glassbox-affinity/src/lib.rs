//! # glassbox-affinity
//!
//! Matching-based few-shot segmentation that explains itself ("Matching-Based Few-Shot
//! Semantic Segmentation Models Are Interpretable by Design", De Marinis et al., 2025):
//!
//! * [`MatchingSegmenter`]: a DCAMA-style segmenter on any glassbox backbone — multi-head
//!   query-to-support attention at several feature levels transfers the support masks to the
//!   query, a light decoder turns the per-level coarse masks into query mask logits; it
//!   implements core's `FewShotSegmenter` and this crate's [`MatchingModel`], exposing its
//!   affinity tensors;
//! * [`AffinityExplainer`]: support-image attributions from those affinities (Unmasked, Masked,
//!   Signed; feature-ablation layer weights), at the cost of about one forward pass;
//! * [`train`]: episodic training with a progress bar, and mIoU / FB-IoU evaluation on held-out
//!   classes;
//! * [`sheet`]: a PNG sheet (query | prediction | each support with its map) for any
//!   `SupportAttribution`.
//!
//! Any model implementing [`MatchingModel`] can be explained; the explainer needs nothing else.

pub mod explainer;
pub mod matching;
pub mod model;
pub mod readout;
pub mod sheet;
pub mod smoothing;
pub mod train;
pub mod upsample;

pub use explainer::{
    AffinityExplainer, AffinityExplainerConfig, AffinityExplanation, Aggregation, Region, Variant,
};
pub use matching::{AffinityLayer, MatchingModel, MatchingOutput};
pub use model::{DecoderState, MatchingSegmenter, MatchingSegmenterConfig};
pub use sheet::support_sheet;
pub use train::{FssTrainConfig, FssTrainReport, SegmentationScores, evaluate, train_segmenter};
