//! IROF: Iterative Removal Of Features (Rieger & Hansen 2020), Quantus' `IROF`.

use glassbox_core::{Error, HostTensor, Result};
use serde::{Deserialize, Serialize};

use super::{base_scores, prepare};
use crate::features::{descending, grid_patches};
use crate::macros::metric_info;
use crate::perturb::{FeatureRemoval, GroupSet, Source, baseline_values, cumulative_spans};
use crate::stats::trapz;
use crate::{Context, Metric, MetricBatch, MetricResult, PerturbBaseline, Readout};

/// How IROF splits an image into segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segmentation {
    /// Square `size × size` cells (padded grid, as Region Perturbation).
    Grid {
        /// Cell side in pixels.
        size: usize,
    },
    /// Given labels `[B, H, W]` (any integer-valued floats; e.g. SLIC superpixels computed with
    /// scikit-image, which is what Quantus uses).
    Labels(HostTensor),
}

/// IROF: segments in decreasing mean relevance are replaced cumulatively by the baseline; the
/// curve is `f(x_k) / f(x)` (softmax) for k = 1..#segments, and the score Quantus' area over
/// it, `#segments − trapz(curve, dx = 1)`. Higher is better.
///
/// Deliberate differences from Quantus 0.6.0: no built-in SLIC (pass [`Segmentation::Labels`]
/// to use scikit-image's; the default is a 4-pixel grid); `Mean` is each image's own mean
/// (Quantus takes the mean of the whole, already perturbed batch); multi-channel images work
/// (Quantus 0.6.0 crashes on them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Irof {
    /// The segments.
    pub segmentation: Segmentation,
    /// Replacement value (Quantus: the mean).
    pub perturb_baseline: PerturbBaseline,
    /// Logit or softmax (Quantus: softmax).
    pub readout: Readout,
    /// Normalise attributions first.
    pub normalise: bool,
    /// Take |a|.
    pub abs: bool,
    /// Reproduce Quantus 0.6.0 (batch-global normalisation, per-element features).
    pub quantus_compat: bool,
}

impl Default for Irof {
    fn default() -> Self {
        Self {
            segmentation: Segmentation::Grid { size: 4 },
            perturb_baseline: PerturbBaseline::Mean,
            readout: Readout::Softmax,
            normalise: true,
            abs: false,
            quantus_compat: false,
        }
    }
}

impl Irof {
    /// Segment labels per image, remapped to `0..n` in increasing label order.
    fn labels(&self, batch: &MetricBatch) -> Result<Vec<Vec<usize>>> {
        let [b, _, h, w] = batch.dims();
        match &self.segmentation {
            Segmentation::Grid { size } => {
                if *size == 0 {
                    return Err(Error::Config("IROF grid size must be >= 1".into()));
                }
                let mut lab = vec![0usize; h * w];
                for (s, p) in grid_patches(h, w, *size).iter().enumerate() {
                    for px in p.pixels(w) {
                        lab[px] = s;
                    }
                }
                Ok(vec![lab; b])
            }
            Segmentation::Labels(t) => {
                if t.values.len() != b * h * w {
                    return Err(Error::shape(
                        "IROF segment labels",
                        format!("[{b}, {h}, {w}]"),
                        &t.shape,
                    ));
                }
                Ok(t.values
                    .chunks(h * w)
                    .map(|l| {
                        // Increasing label order, as `range(len(np.unique(segments)))`.
                        let mut sorted: Vec<f32> = l.to_vec();
                        sorted.sort_by(f32::total_cmp);
                        sorted.dedup();
                        l.iter()
                            .map(|v| sorted.binary_search_by(|s| s.total_cmp(v)).unwrap_or(0))
                            .collect()
                    })
                    .collect())
            }
        }
    }
}

impl Metric for Irof {
    metric_info!("irof", Faithfulness, Some(true));

    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        let model = ctx.require_model(self.name())?;
        let [b, c, h, w] = batch.dims();
        let hw = h * w;
        let labels = self.labels(batch)?;
        let p = prepare(batch, self.normalise, self.abs, self.quantus_compat);
        let mut groups = Vec::with_capacity(b);
        let mut orders = Vec::with_capacity(b);
        for (lab, values) in labels.iter().zip(&p.values) {
            let n_seg = lab.iter().max().map_or(0, |m| m + 1);
            let mut g: Vec<Vec<usize>> = vec![Vec::new(); n_seg];
            for (px, &s) in lab.iter().enumerate() {
                g[s].extend((0..c).map(|ch| ch * hw + px));
            }
            // Mean relevance of a segment over all its elements (channels included).
            let mut elem = vec![0.0; c * hw];
            for (f, &v) in values.iter().enumerate() {
                for e in p.layout.elements(f) {
                    elem[e] = v;
                }
            }
            let means: Vec<f64> = g
                .iter()
                .map(|els| els.iter().map(|&e| elem[e]).sum::<f64>() / els.len().max(1) as f64)
                .collect();
            orders.push(descending(&means));
            groups.push(g);
        }
        let spans: Vec<_> = groups
            .iter()
            .map(|g| cumulative_spans(g.len(), 1, 1, g.len()))
            .collect();
        let base = base_scores(ctx, model, batch, self.readout)?;
        let removal = FeatureRemoval {
            source: Source::Values(baseline_values(
                batch,
                self.perturb_baseline,
                |i| groups[i].len(),
                0,
            )),
            groups: GroupSet::PerSample(groups),
            orders,
            spans,
        };
        let out = ctx
            .engine
            .run(model, &ctx.device, batch.inputs(), &removal)?;
        let curves: Vec<Vec<f64>> = (0..b)
            .map(|i| {
                out.curve(i, batch.targets()[i], self.readout)
                    .iter()
                    .map(|v| v / base[i])
                    .collect()
            })
            .collect();
        let scores = curves.iter().map(|c| c.len() as f64 - trapz(c)).collect();
        Ok(MetricResult::from_scores(self, scores).with_curves(curves))
    }
}
