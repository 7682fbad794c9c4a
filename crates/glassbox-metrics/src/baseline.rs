//! What a removed feature is replaced with.

use glassbox_core::rng::SplitMix64;
use serde::{Deserialize, Serialize};

/// The value written into perturbed features (Quantus' `perturb_baseline`).
///
/// `Black`, `White` and `Mean` are per-image statistics of the unperturbed image (Quantus'
/// definitions: min, max, mean over all of the image's elements), not 0/1 or a dataset mean.
/// `Uniform` draws one value per image and perturbation, as Quantus' batched path does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PerturbBaseline {
    /// The image's minimum.
    #[default]
    Black,
    /// The image's maximum.
    White,
    /// The image's mean.
    Mean,
    /// Zero (e.g. the dataset mean of normalised inputs, as in RISE's deletion).
    Zero,
    /// A fixed value.
    Value(f32),
    /// One draw from `U(low, high)` per image and perturbation.
    Uniform {
        /// Lower bound.
        low: f32,
        /// Upper bound.
        high: f32,
    },
}

impl PerturbBaseline {
    /// Whether the value is random (then it is drawn per perturbation with [`Self::draw`]).
    pub fn is_random(&self) -> bool {
        matches!(self, Self::Uniform { .. })
    }

    /// The replacement value for `image`; `rng` is used only by `Uniform`.
    pub fn draw(&self, image: &[f32], rng: &mut SplitMix64) -> f32 {
        match *self {
            Self::Black => image.iter().copied().fold(f32::INFINITY, f32::min),
            Self::White => image.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            Self::Mean => {
                (image.iter().map(|&v| v as f64).sum::<f64>() / image.len() as f64) as f32
            }
            Self::Zero => 0.0,
            Self::Value(v) => v,
            Self::Uniform { low, high } => rng.uniform(low as f64, high as f64) as f32,
        }
    }
}
