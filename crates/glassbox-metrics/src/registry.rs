//! Metrics by name, for command lines and config files.

use glassbox_core::{Error, Result};

use crate::Metric;
use crate::axiomatic::*;
use crate::complexity::*;
use crate::faithfulness::*;
use crate::localisation::*;
use crate::randomisation::*;
use crate::robustness::*;

macro_rules! registry {
    ($($name:literal => $ty:ty),* $(,)?) => {
        /// Every metric name [`metric_by_name`] knows, in category order.
        pub const METRIC_NAMES: &[&str] = &[$($name),*];

        /// A metric with its defaults, overridden by the fields of `config` (a JSON object
        /// with any subset of the metric's fields; `null` for none). Unknown names and bad
        /// fields are typed errors.
        pub fn metric_from_config(name: &str, config: serde_json::Value) -> Result<Box<dyn Metric>> {
            let config = if config.is_null() { serde_json::json!({}) } else { config };
            match name {
                $($name => {
                    let m: $ty = serde_json::from_value(config).map_err(|e| {
                        Error::Config(format!("bad configuration for metric {}: {e}", $name))
                    })?;
                    Ok(Box::new(m))
                })*
                _ => Err(Error::Config(format!(
                    "unknown metric {name:?}; known metrics: {}",
                    METRIC_NAMES.join(", ")
                ))),
            }
        }
    };
}

registry! {
    "pixel_flipping" => PixelFlipping,
    "deletion" => Deletion,
    "insertion" => Insertion,
    "region_perturbation" => RegionPerturbation,
    "selectivity" => Selectivity,
    "faithfulness_correlation" => FaithfulnessCorrelation,
    "faithfulness_estimate" => FaithfulnessEstimate,
    "monotonicity" => Monotonicity,
    "monotonicity_correlation" => MonotonicityCorrelation,
    "sensitivity_n" => SensitivityN,
    "irof" => Irof,
    "infidelity" => Infidelity,
    "road" => Road,
    "max_sensitivity" => MaxSensitivity,
    "avg_sensitivity" => AvgSensitivity,
    "local_lipschitz_estimate" => LocalLipschitzEstimate,
    "relative_input_stability" => RelativeInputStability,
    "relative_output_stability" => RelativeOutputStability,
    "pointing_game" => PointingGame,
    "attribution_localisation" => AttributionLocalisation,
    "top_k_intersection" => TopKIntersection,
    "relevance_rank_accuracy" => RelevanceRankAccuracy,
    "relevance_mass_accuracy" => RelevanceMassAccuracy,
    "auc" => Auc,
    "sparseness" => Sparseness,
    "complexity" => Complexity,
    "effective_complexity" => EffectiveComplexity,
    "mprt" => Mprt,
    "random_logit" => RandomLogit,
    "completeness" => Completeness,
    "non_sensitivity" => NonSensitivity,
    "input_invariance" => InputInvariance,
}

/// A metric with its defaults.
pub fn metric_by_name(name: &str) -> Result<Box<dyn Metric>> {
    metric_from_config(name, serde_json::Value::Null)
}
