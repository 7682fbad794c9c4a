//! Localisation: does relevance fall on the ground-truth object? Each metric compares the
//! attribution map (summed over channels to `H × W`) with the batch's masks; an empty mask
//! gives NaN (undefined), which the aggregate skips.

use glassbox_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::features::descending;
use crate::macros::metric_info;
use crate::preprocess::prepare_attributions;
use crate::stats::roc_auc;
use crate::{Context, Metric, MetricBatch, MetricResult};

/// Attribution maps `[H·W]` per image after normalise/abs, and boolean masks.
fn maps(
    batch: &MetricBatch,
    metric: &str,
    normalise: bool,
    abs: bool,
    compat: bool,
) -> Result<Vec<(Vec<f64>, Vec<bool>)>> {
    batch.require_masks(metric)?;
    let [_, _, h, w] = batch.dims();
    let hw = h * w;
    Ok(prepare_attributions(batch, normalise, abs, compat)
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let channels = a.len() / hw;
            let map = (0..hw)
                .map(|p| (0..channels).map(|c| a[c * hw + p]).sum())
                .collect();
            (map, batch.mask(i).unwrap_or_default())
        })
        .collect())
}

macro_rules! localisation_config {
    ($(#[$doc:meta])* $ty:ident { $($(#[$fdoc:meta])* $field:ident : $fty:ty = $default:expr),* $(,)? }, abs = $abs:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct $ty {
            $($(#[$fdoc])* pub $field: $fty,)*
            /// Normalise attributions first (Quantus: true).
            pub normalise: bool,
            /// Take |a| after normalising.
            pub abs: bool,
            /// Reproduce Quantus 0.6.0 (batch-global normalisation, empty-mask quirks).
            pub quantus_compat: bool,
        }

        impl Default for $ty {
            fn default() -> Self {
                Self { $($field: $default,)* normalise: true, abs: $abs, quantus_compat: false }
            }
        }

        impl $ty {
            /// Score every (map, mask) pair with `score`.
            fn score_maps(
                &self,
                batch: &MetricBatch,
                score: impl Fn(&[f64], &[bool]) -> f64,
            ) -> Result<MetricResult> {
                let scores = maps(batch, self.name(), self.normalise, self.abs, self.quantus_compat)?
                    .iter()
                    .map(|(a, s)| score(a, s))
                    .collect();
                Ok(MetricResult::from_scores(self, scores))
            }
        }
    };
}

localisation_config!(
    /// Pointing Game (Zhang et al. 2018), Quantus' `PointingGame`: 1 if a maximum of the map
    /// lies inside the mask (any of tied maxima counts), else 0. `weighted` scores a hit
    /// `1 − |mask| / (H·W)`. An empty mask is NaN; Quantus 0.6.0 counts it as a hit
    /// (`quantus_compat`). No 15-pixel tolerance (as Quantus). Higher is better.
    PointingGame { /// Weight hits by how small the mask is.
    weighted: bool = false },
    abs = false
);

impl Metric for PointingGame {
    metric_info!("pointing_game", Localisation, Some(true));

    fn evaluate(&self, _ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        self.score_maps(batch, |a, s| {
            let inside = s.iter().filter(|&&v| v).count();
            if inside == 0 {
                return if self.quantus_compat { 1.0 } else { f64::NAN };
            }
            let max = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let hit = a.iter().zip(s).any(|(v, m)| *m && *v == max);
            match (hit, self.weighted) {
                (false, _) => 0.0,
                (true, false) => 1.0,
                (true, true) => 1.0 - inside as f64 / a.len() as f64,
            }
        })
    }
}

localisation_config!(
    /// Attribution Localisation (Kohlbrenner et al. 2020), Quantus' `AttributionLocalisation`:
    /// `Σ(a·s) / (Σa + 1e-9)` on |a| (default) or the positive part; NaN for an empty mask or a
    /// ratio above 1. `weighted` multiplies by `|mask| / (H·W)`. Higher is better.
    AttributionLocalisation {
        /// Weight by the mask's share of the image.
        weighted: bool = false,
        /// Clip negative attributions to 0 first.
        positive_attributions: bool = false,
    },
    abs = true
);

impl Metric for AttributionLocalisation {
    metric_info!("attribution_localisation", Localisation, Some(true));

    fn evaluate(&self, _ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        self.score_maps(batch, |a, s| {
            let clip = |v: f64| {
                if self.positive_attributions {
                    v.max(0.0)
                } else {
                    v
                }
            };
            let inside_n = s.iter().filter(|&&v| v).count();
            if inside_n == 0 {
                return f64::NAN;
            }
            let inside: f64 = a
                .iter()
                .zip(s)
                .filter(|(_, m)| **m)
                .map(|(v, _)| clip(*v))
                .sum();
            let total: f64 = a.iter().map(|v| clip(*v)).sum();
            let ratio = inside / (total + 1e-9);
            if ratio > 1.0 {
                return f64::NAN;
            }
            if self.weighted {
                ratio * inside_n as f64 / a.len() as f64
            } else {
                ratio
            }
        })
    }
}

localisation_config!(
    /// Top-K Intersection (Theiner et al. 2021), Quantus' `TopKIntersection`: the share of the
    /// `k` most relevant pixels inside the mask (`k` must be below H·W; Quantus' default 1000
    /// suits 224² images — set it for small ones). `concept_influence` rescales by
    /// `H·W / |mask|`. Higher is better.
    TopKIntersection {
        /// Number of top pixels.
        k: usize = 1000,
        /// Rescale by the mask's share.
        concept_influence: bool = false,
    },
    abs = false
);

impl Metric for TopKIntersection {
    metric_info!("top_k_intersection", Localisation, Some(true));

    fn evaluate(&self, _ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        let [_, _, h, w] = batch.dims();
        if self.k == 0 || self.k >= h * w {
            return Err(Error::Config(format!(
                "top_k_intersection: k ({}) must be in 1..{} (the number of pixels)",
                self.k,
                h * w
            )));
        }
        self.score_maps(batch, |a, s| {
            let inside = s.iter().filter(|&&v| v).count();
            if inside == 0 {
                return f64::NAN;
            }
            let top = descending(a);
            let hits = top[..self.k].iter().filter(|&&p| s[p]).count();
            let v = hits as f64 / self.k as f64;
            if self.concept_influence {
                v * a.len() as f64 / inside as f64
            } else {
                v
            }
        })
    }
}

localisation_config!(
    /// Relevance Rank Accuracy (Arras et al. 2022), Quantus' `RelevanceRankAccuracy`: with K the
    /// mask's size, the share of the K most relevant pixels inside the mask. Higher is better.
    RelevanceRankAccuracy {},
    abs = false
);

impl Metric for RelevanceRankAccuracy {
    metric_info!("relevance_rank_accuracy", Localisation, Some(true));

    fn evaluate(&self, _ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        self.score_maps(batch, |a, s| {
            let k = s.iter().filter(|&&v| v).count();
            if k == 0 {
                return f64::NAN;
            }
            let top = descending(a);
            top[..k].iter().filter(|&&p| s[p]).count() as f64 / k as f64
        })
    }
}

localisation_config!(
    /// Relevance Mass Accuracy (Arras et al. 2022), Quantus' `RelevanceMassAccuracy`:
    /// `Σ(a·s) / Σa` with signed relevance by default (as Quantus; the paper speaks of positive
    /// relevance — set `abs`), so it can leave [0, 1]. NaN for an empty mask or Σa = 0.
    /// Higher is better.
    RelevanceMassAccuracy {},
    abs = false
);

impl Metric for RelevanceMassAccuracy {
    metric_info!("relevance_mass_accuracy", Localisation, Some(true));

    fn evaluate(&self, _ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        self.score_maps(batch, |a, s| {
            if !s.iter().any(|&v| v) {
                return f64::NAN;
            }
            let inside: f64 = a.iter().zip(s).filter(|(_, m)| **m).map(|(v, _)| v).sum();
            let total: f64 = a.iter().sum();
            if total == 0.0 {
                f64::NAN
            } else {
                inside / total
            }
        })
    }
}

localisation_config!(
    /// AUC (Fawcett 2006), Quantus' `AUC`: the area under the ROC curve of the map as a
    /// per-pixel score for the mask. NaN if the mask is empty or covers everything.
    /// Higher is better.
    Auc {},
    abs = false
);

impl Metric for Auc {
    metric_info!("auc", Localisation, Some(true));

    fn evaluate(&self, _ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        self.score_maps(batch, |a, s| roc_auc(s, a))
    }
}
