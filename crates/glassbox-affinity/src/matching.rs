//! What a matching-based few-shot segmenter shows the Affinity Explainer: its dense
//! query-to-support affinities, one matrix per matching layer, and (optionally) how much its
//! decoder relies on each layer.
//!
//! Any model that computes pixel-to-pixel similarities between query and support features
//! (cross-attention as in DCAMA, 4-D correlations as in HSNet/DMTNet) can implement
//! [`MatchingModel`] and be explained without gradients.

use burn::prelude::*;
use glassbox_core::{FewShotInput, FewShotSegmenter};

/// The affinities of one matching layer.
#[derive(Debug, Clone)]
pub struct AffinityLayer {
    /// Name of the layer (e.g. `"stage2"`).
    pub name: String,
    /// Raw (pre-softmax) scores per attention head `[N, H, P_q, K·P_s]`: query token `q`
    /// (row-major over `query_hw`) against support token `j`, shots concatenated shot-major
    /// (`j = k·P_s + p`). A model without heads uses `H = 1`. The explainer reads the head
    /// mean.
    pub scores: Tensor<4>,
    /// Query token grid `[h, w]`.
    pub query_hw: [usize; 2],
    /// Support token grid `[h, w]` (per shot).
    pub support_hw: [usize; 2],
}

/// Output of a matching forward pass.
#[derive(Debug, Clone)]
pub struct MatchingOutput {
    /// Query mask logits `[N, 2, H, W]` (background, foreground).
    pub logits: Tensor<4>,
    /// The affinities of every matching layer, shallowest first.
    pub layers: Vec<AffinityLayer>,
}

/// A few-shot segmenter whose prediction is built from dense query-to-support affinities.
pub trait MatchingModel: FewShotSegmenter {
    /// Whatever the model keeps from a forward pass to re-run its decoder (cached features,
    /// per-layer matching outputs).
    type State;

    /// One forward pass returning the logits, the per-layer affinities and the state.
    fn forward_matching(&self, input: &FewShotInput) -> (MatchingOutput, Self::State);

    /// Importance of each matching layer for the prediction over `region` (`[N, H, W]`, 1 =
    /// explained query pixel, at the logits' resolution), by feature ablation: zero one
    /// layer's matching output, re-run the decoder only, and measure the change of the mean
    /// foreground logit over the region. Rows `[N, L]` sum to 1. `None` when the model cannot
    /// ablate (the explainer then weights layers uniformly).
    fn layer_weights(&self, state: &Self::State, region: &Tensor<3>) -> Option<Tensor<2>>;
}
