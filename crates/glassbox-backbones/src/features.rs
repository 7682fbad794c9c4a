//! The multi-level feature API every glassbox backbone shares.
//!
//! Few-shot segmentation matches features at several depths, prototype layers read the last
//! one, Grad-CAM picks one by name: so a backbone describes its levels once and returns them
//! all from one forward pass.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Description of one feature level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureLevel {
    /// Name of the level (e.g. `"block3"`, `"layer4"`).
    pub name: String,
    /// Downsampling factor relative to the input.
    pub stride: usize,
    /// Number of channels.
    pub channels: usize,
}

/// A backbone that yields feature maps at several depths.
pub trait MultiLevelBackbone {
    /// The levels [`MultiLevelBackbone::forward_levels`] returns, shallowest first.
    fn feature_levels(&self) -> Vec<FeatureLevel>;

    /// Feature maps `[N, C_l, H/stride_l, W/stride_l]` for every level, shallowest first,
    /// from a single forward pass.
    fn forward_levels(&self, images: Tensor<4>) -> Vec<Tensor<4>>;
}
