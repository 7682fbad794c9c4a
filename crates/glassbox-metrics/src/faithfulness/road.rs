//! ROAD: Remove And Debias (Rong, Leemann et al. 2022), with noisy linear imputation.

use glassbox_core::rng::SplitMix64;
use glassbox_core::{Error, Result};
use serde::{Deserialize, Serialize};

use super::prepare;
use crate::engine::Perturbation;
use crate::features::{ascending, descending};
use crate::stats::nan_mean;
use crate::{Context, Metric, MetricBatch, MetricResult};

/// Which features ROAD removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RoadOrder {
    /// The p % most relevant (Quantus, ROAD's MoRF). Lower accuracy is better.
    #[default]
    Morf,
    /// The p % least relevant (ROAD's LeRF). Higher accuracy is better.
    Lerf,
}

/// ROAD, Quantus' `ROAD`: for each percentage p, the top `⌊n·p/100⌋` features are removed and
/// imputed by noisy linear imputation (each removed pixel the weighted mean of its 8 neighbours,
/// weights 1/6 and 1/12, solved jointly per channel, plus `noise · N(0, 1)`); the readout is
/// whether the arg-max class still equals the target. Per-sample score: accuracy averaged over
/// percentages; `details["accuracy_per_percentage"]` is Quantus' result (mean over images).
///
/// Deliberate differences from Quantus 0.6.0: multi-channel images work (removing whole
/// pixels; Quantus crashes), and every image is scored (Quantus reports only its first
/// internal batch; `quantus_compat` reproduces that).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Road {
    /// Percentages of features to remove.
    pub percentages: Vec<u32>,
    /// Standard deviation of the imputation noise.
    pub noise: f64,
    /// Remove the most or the least relevant features.
    pub order: RoadOrder,
    /// Normalise attributions first.
    pub normalise: bool,
    /// Take |a|.
    pub abs: bool,
    /// Reproduce Quantus 0.6.0 (first internal batch only, batch-global normalisation).
    pub quantus_compat: bool,
    /// Quantus' internal batch size (only used with `quantus_compat`).
    pub quantus_batch_size: usize,
    /// Seed of the imputation noise.
    pub seed: u64,
}

impl Default for Road {
    fn default() -> Self {
        Self {
            percentages: (1..100).step_by(2).collect(),
            noise: 0.01,
            order: RoadOrder::Morf,
            normalise: true,
            abs: false,
            quantus_compat: false,
            quantus_batch_size: 64,
            seed: 0,
        }
    }
}

/// Imputed copies: copy j of image i removes the first `counts[j]` features of its order.
struct Imputation<'a> {
    groups: &'a [Vec<usize>],
    orders: Vec<Vec<usize>>,
    counts: Vec<usize>,
    channels: usize,
    h: usize,
    w: usize,
    noise: f64,
    seed: u64,
}

impl Perturbation for Imputation<'_> {
    fn copies(&self, _: usize) -> usize {
        self.counts.len()
    }

    fn fill(&self, sample: usize, copy: usize, original: &[f32], out: &mut [f32]) {
        let hw = self.h * self.w;
        let mut missing = vec![false; self.channels * hw];
        for &f in &self.orders[sample][..self.counts[copy]] {
            for &e in &self.groups[f] {
                missing[e] = true;
            }
        }
        let mut rng = SplitMix64::derive(self.seed, (sample * self.counts.len() + copy) as u64);
        for ch in 0..self.channels {
            let range = ch * hw..(ch + 1) * hw;
            let values = noisy_linear_imputation(
                &original[range.clone()],
                &missing[range.clone()],
                self.h,
                self.w,
            );
            for (p, v) in values {
                out[ch * hw + p] = (v + self.noise * rng.normal()) as f32;
            }
        }
    }
}

/// The 8-neighbourhood with ROAD's weights (1/6 for edge neighbours, 1/12 for diagonals).
const NEIGHBOURS: [(isize, isize, f64); 8] = [
    (1, 1, 1.0 / 12.0),
    (0, 1, 1.0 / 6.0),
    (-1, 1, 1.0 / 12.0),
    (1, -1, 1.0 / 12.0),
    (0, -1, 1.0 / 6.0),
    (-1, -1, 1.0 / 12.0),
    (1, 0, 1.0 / 6.0),
    (-1, 0, 1.0 / 6.0),
];

/// Noise-free linear imputation of one channel: every missing pixel equals the weighted mean
/// of its in-image neighbours. The system `(Σ_j w_ij) v_i − Σ_{j missing} w_ij v_j =
/// Σ_{j known} w_ij x_j` is symmetric positive definite wherever a missing region touches a
/// known pixel, and is solved by conjugate gradients to 1e-12 (SciPy's `spsolve` is direct;
/// the difference is below f32 resolution). Returns (pixel, value) for the missing pixels.
pub fn noisy_linear_imputation(
    channel: &[f32],
    missing: &[bool],
    h: usize,
    w: usize,
) -> Vec<(usize, f64)> {
    let ids: Vec<usize> = (0..h * w).filter(|&p| missing[p]).collect();
    if ids.is_empty() {
        return Vec::new();
    }
    let mut var = vec![usize::MAX; h * w];
    for (k, &p) in ids.iter().enumerate() {
        var[p] = k;
    }
    let n = ids.len();
    let mut diag = vec![0.0; n];
    let mut rhs = vec![0.0; n];
    let mut off: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    for (k, &p) in ids.iter().enumerate() {
        let (r, c) = ((p / w) as isize, (p % w) as isize);
        for &(dr, dc, wt) in &NEIGHBOURS {
            let (rr, cc) = (r + dr, c + dc);
            if rr < 0 || cc < 0 || rr >= h as isize || cc >= w as isize {
                continue;
            }
            let q = rr as usize * w + cc as usize;
            diag[k] += wt;
            if missing[q] {
                off[k].push((var[q], wt));
            } else {
                rhs[k] += wt * channel[q] as f64;
            }
        }
    }
    let apply = |x: &[f64], y: &mut [f64]| {
        for k in 0..n {
            y[k] = diag[k] * x[k] - off[k].iter().map(|&(j, wt)| wt * x[j]).sum::<f64>();
        }
    };
    // Conjugate gradients from zero.
    let mut x = vec![0.0; n];
    let mut r = rhs.clone();
    let mut d = r.clone();
    let mut rr: f64 = r.iter().map(|v| v * v).sum();
    let target = 1e-24 * rr.max(1e-300);
    let mut ad = vec![0.0; n];
    for _ in 0..(10 * n).max(100) {
        if rr <= target {
            break;
        }
        apply(&d, &mut ad);
        let dad: f64 = d.iter().zip(&ad).map(|(a, b)| a * b).sum();
        if dad <= 0.0 {
            break;
        }
        let alpha = rr / dad;
        for k in 0..n {
            x[k] += alpha * d[k];
            r[k] -= alpha * ad[k];
        }
        let rr_new: f64 = r.iter().map(|v| v * v).sum();
        let beta = rr_new / rr;
        rr = rr_new;
        for k in 0..n {
            d[k] = r[k] + beta * d[k];
        }
    }
    ids.into_iter().zip(x).collect()
}

impl Metric for Road {
    fn name(&self) -> &'static str {
        "road"
    }
    fn category(&self) -> crate::Category {
        crate::Category::Faithfulness
    }
    fn higher_is_better(&self) -> Option<bool> {
        Some(self.order == RoadOrder::Lerf)
    }
    fn parameters(&self) -> serde_json::Value {
        crate::metric::params(self)
    }

    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        let model = ctx.require_model(self.name())?;
        if self.percentages.is_empty() || self.percentages.iter().any(|&p| p > 100) {
            return Err(Error::Config(format!(
                "{}: percentages must be a non-empty list of values in 0..=100",
                self.name()
            )));
        }
        let owned;
        let batch = if self.quantus_compat && batch.len() > self.quantus_batch_size.max(1) {
            owned = batch.slice(0..self.quantus_batch_size.max(1))?;
            &owned
        } else {
            batch
        };
        let [b, c, h, w] = batch.dims();
        let p = prepare(batch, self.normalise, self.abs, self.quantus_compat);
        let orders = p
            .values
            .iter()
            .map(|v| match self.order {
                RoadOrder::Morf => descending(v),
                RoadOrder::Lerf => ascending(v),
            })
            .collect();
        let imputation = Imputation {
            groups: &p.groups,
            orders,
            counts: self
                .percentages
                .iter()
                .map(|&q| p.layout.count * q as usize / 100)
                .collect(),
            channels: c,
            h,
            w,
            noise: self.noise,
            seed: self.seed,
        };
        let out = ctx
            .engine
            .run(model, &ctx.device, batch.inputs(), &imputation)?;
        super::check_targets(batch, out.classes())?;
        let hits: Vec<Vec<f64>> = (0..b)
            .map(|i| {
                (0..self.percentages.len())
                    .map(|j| f64::from(u8::from(out.argmax(i, j) == batch.targets()[i])))
                    .collect()
            })
            .collect();
        let per_percentage: Vec<(u32, f64)> = self
            .percentages
            .iter()
            .enumerate()
            .map(|(j, &q)| (q, nan_mean(&hits.iter().map(|h| h[j]).collect::<Vec<_>>())))
            .collect();
        let scores = hits.iter().map(|h| nan_mean(h)).collect();
        Ok(MetricResult::from_scores(self, scores)
            .with_curves(hits)
            .with_detail("accuracy_per_percentage", per_percentage))
    }
}
