//! XRAI (Kapishnikov, Bolukbasi, Viégas & Terry, "XRAI: Better Attributions Through Regions",
//! ICCV 2019): attribution by regions instead of pixels.
//!
//! 1. A base attribution: Integrated Gradients averaged over several baselines (by default a
//!    black and a white one, the input's own minimum and maximum), merged over channels by
//!    the maximum.
//! 2. Candidate regions: Felzenszwalb segmentations of the image at six scales (50 … 1200,
//!    σ 0.8, minimum size 150, on the image rescaled to [−1, 1] and resized to 224 × 224),
//!    every segment dilated by a disk of radius 5. The segments overlap across scales.
//! 3. Greedy ranking: starting from an empty selection, repeatedly add the candidate whose
//!    *new* pixels have the highest mean base attribution (candidates adding fewer than
//!    `min_pixel_diff` new pixels are dropped), until `area_threshold` of the image is covered
//!    or no candidate is left. Every pixel gets the gain of the region that added it; pixels no
//!    region reached get their own mean attribution. Regions are ranked by gain, 1 = best.
//!
//! Defaults and algorithm follow the reference implementation (PAIR's `saliency` 0.2.1,
//! `XRAI` with `algorithm="full"`), checked against it in `tests/pair_xrai.rs`. One deliberate
//! difference: the resize to 224 × 224 before segmenting is bilinear, where the reference uses
//! scikit-image's cubic spline; set `resize: None` to segment at the input's own size, where the
//! whole pipeline matches the reference.

use burn::prelude::*;
use glassbox_core::{Attribution, Classifier, Error, HostTensor, Result, Target};
use serde::{Deserialize, Serialize};

use crate::common::{check_batch_size, resolve_targets, validate_inputs};
use crate::integrated_gradients::{Baseline, IntegratedGradients};
use crate::quadrature::IntegrationRule;
use crate::segmentation::{Felzenszwalb, PixelGraph};

/// How XRAI builds its candidate regions; the defaults are the reference's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XraiSegmentation {
    /// Felzenszwalb scales, one segmentation each.
    pub scales: Vec<f64>,
    /// Gaussian smoothing of every segmentation.
    pub sigma: f64,
    /// Smallest segment (pixels of the possibly resized image).
    pub min_size: usize,
    /// Side of the square the image is resized to before segmenting (`None`: as is). The
    /// segment parameters were tuned for 224 × 224.
    pub resize: Option<usize>,
    /// The range the image's values are rescaled to before segmenting.
    pub value_range: [f64; 2],
    /// Radius of the disk every segment is dilated with (0 = none).
    pub dilation_radius: usize,
}

impl Default for XraiSegmentation {
    fn default() -> Self {
        Self {
            scales: vec![50.0, 100.0, 150.0, 250.0, 500.0, 1200.0],
            sigma: 0.8,
            min_size: 150,
            resize: Some(224),
            value_range: [-1.0, 1.0],
            dilation_radius: 5,
        }
    }
}

impl XraiSegmentation {
    /// The candidate regions of `image` (channel-major `[C, H, W]`): one boolean mask over
    /// `H × W` per segment and scale, scale-major, labels ascending within a scale.
    pub fn masks(&self, image: &[f64], dims: [usize; 3]) -> Result<Vec<Vec<bool>>> {
        let [c, h, w] = dims;
        crate::segmentation::check_image(image, dims)?;
        if self.scales.is_empty() || self.resize == Some(0) {
            return Err(Error::config(
                "XRAI segmentation needs at least one scale and a non-zero resize",
            ));
        }
        let (lo, hi) = image
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        let [r0, r1] = self.value_range;
        // A constant image has no edges to cut; map it to the range's start (the reference
        // divides by zero here).
        let span = if hi > lo { hi - lo } else { 1.0 };
        let normalised: Vec<f64> = image
            .iter()
            .map(|v| (v - lo) / span * (r1 - r0) + r0)
            .collect();
        let (work, [wh, ww]) = match self.resize {
            Some(side) => (
                normalised
                    .chunks(h * w)
                    .flat_map(|plane| resize_bilinear(plane, [h, w], [side, side]))
                    .collect(),
                [side, side],
            ),
            None => (normalised, [h, w]),
        };
        let disk = disk_offsets(self.dilation_radius);
        // One smoothed, sorted pixel graph serves every scale.
        let graph = PixelGraph::new(&work, [c, wh, ww], self.sigma)?;
        let mut masks = Vec::new();
        for &scale in &self.scales {
            let seg = Felzenszwalb {
                scale,
                sigma: self.sigma,
                min_size: self.min_size,
            }
            .segment_graph(&graph)?;
            let labels = if [wh, ww] == [h, w] {
                seg.labels
            } else {
                resize_nearest(&seg.labels, [wh, ww], [h, w])
            };
            // Labels lost by the nearest resize still give a (empty) mask, as in the
            // reference; the ranking drops it.
            let lo = labels.iter().copied().min().unwrap_or(0);
            let hi = labels.iter().copied().max().unwrap_or(0);
            for l in lo..=hi {
                let mask: Vec<bool> = labels.iter().map(|&x| x == l).collect();
                masks.push(dilate(&mask, [h, w], &disk));
            }
        }
        Ok(masks)
    }
}

/// XRAI's output for one image.
#[derive(Debug, Clone, PartialEq)]
pub struct XraiRegions {
    /// Per pixel (`H × W`), the gain (mean base attribution of its new pixels) of the region
    /// that added it.
    pub saliency: Vec<f64>,
    /// Per pixel, the rank of its region, 1 = most important.
    pub ranks: Vec<usize>,
    /// Number of ranked regions (the last may be the pixels no candidate reached).
    pub regions: usize,
}

/// XRAI's greedy ranking of candidate regions `masks` by the base attribution `attribution`
/// (`H × W`, one value per pixel): see the module docs.
pub fn rank_regions(
    attribution: &[f64],
    masks: &[Vec<bool>],
    area_threshold: f64,
    min_pixel_diff: usize,
) -> Result<XraiRegions> {
    let p = attribution.len();
    if let Some(m) = masks.iter().find(|m| m.len() != p) {
        return Err(Error::shape(
            "XRAI region mask",
            format!("{p} pixels (one per attribution value)"),
            &[m.len()],
        ));
    }
    if min_pixel_diff == 0 || !(0.0..=1.0).contains(&area_threshold) {
        return Err(Error::config(format!(
            "XRAI needs min_pixel_diff >= 1 and area_threshold in [0, 1], got {min_pixel_diff} \
             and {area_threshold}"
        )));
    }
    let mut saliency = vec![f64::NEG_INFINITY; p];
    let mut covered = vec![false; p];
    let mut area = 0usize;
    // Pixel lists: each round scans only the candidates' own pixels.
    let pixels: Vec<Vec<usize>> = masks
        .iter()
        .map(|m| (0..p).filter(|&i| m[i]).collect())
        .collect();
    let mut remaining: Vec<usize> = (0..masks.len()).collect();
    let mut trace: Vec<(Vec<usize>, f64)> = Vec::new();
    while area as f64 / p as f64 <= area_threshold {
        let mut best: Option<(usize, f64)> = None;
        remaining.retain(|&m| {
            let (mut count, mut sum) = (0usize, 0.0f64);
            for &i in &pixels[m] {
                if !covered[i] {
                    count += 1;
                    sum += attribution[i];
                }
            }
            if count < min_pixel_diff {
                return false;
            }
            let gain = sum / count as f64;
            if best.is_none_or(|(_, g)| gain > g) {
                best = Some((m, gain));
            }
            true
        });
        let Some((m, gain)) = best else { break };
        let added: Vec<usize> = pixels[m].iter().copied().filter(|&i| !covered[i]).collect();
        for &i in &added {
            covered[i] = true;
            saliency[i] = gain;
        }
        area += added.len();
        trace.push((added, gain));
        remaining.retain(|&r| r != m);
    }
    let rest: Vec<usize> = (0..p).filter(|&i| !covered[i]).collect();
    if !rest.is_empty() {
        let mean = rest.iter().map(|&i| attribution[i]).sum::<f64>() / rest.len() as f64;
        rest.iter().for_each(|&i| saliency[i] = mean);
    }
    // Stable: equal gains keep the order they were added in.
    trace.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut ranks = vec![0usize; p];
    for (r, (pixels, _)) in trace.iter().enumerate() {
        pixels.iter().for_each(|&i| ranks[i] = r + 1);
    }
    let mut regions = trace.len();
    if !rest.is_empty() {
        regions += 1;
        rest.iter().for_each(|&i| ranks[i] = regions);
    }
    Ok(XraiRegions {
        saliency,
        ranks,
        regions,
    })
}

/// The baselines XRAI's Integrated Gradients averages over.
#[derive(Debug, Clone)]
pub enum XraiBaselines {
    /// Two constant images at each input's own minimum and maximum (the reference's default).
    MinMax,
    /// The given baselines.
    Given(Vec<Baseline>),
}

/// XRAI. Defaults: 100 IG steps (`np.linspace` rule) over the min/max baselines, the
/// reference's segmentation, area threshold 1.0, `min_pixel_diff` 50, 64 rows per pass.
#[derive(Debug, Clone)]
pub struct Xrai {
    /// Integrated-Gradients path points per baseline.
    pub steps: usize,
    /// Integrated-Gradients quadrature.
    pub rule: IntegrationRule,
    /// Integrated-Gradients baselines.
    pub baselines: XraiBaselines,
    /// Candidate regions.
    pub segmentation: XraiSegmentation,
    /// Fraction of the image to rank regions for; the rest is one last region.
    pub area_threshold: f64,
    /// Candidates adding fewer new pixels are dropped.
    pub min_pixel_diff: usize,
    /// Rows per forward/backward pass of Integrated Gradients.
    pub batch_size: Option<usize>,
}

impl Default for Xrai {
    fn default() -> Self {
        Self {
            steps: 100,
            rule: IntegrationRule::Linspace,
            baselines: XraiBaselines::MinMax,
            segmentation: XraiSegmentation::default(),
            area_threshold: 1.0,
            min_pixel_diff: 50,
            batch_size: Some(64),
        }
    }
}

impl Xrai {
    crate::common::setters! {
        /// Set the Integrated-Gradients steps.
        with_steps(steps: usize) => steps = steps;
        /// Set the Integrated-Gradients quadrature.
        with_rule(rule: IntegrationRule) => rule = rule;
        /// Set the Integrated-Gradients baselines.
        with_baselines(baselines: XraiBaselines) => baselines = baselines;
        /// Set how candidate regions are built.
        with_segmentation(segmentation: XraiSegmentation) => segmentation = segmentation;
        /// Set the area threshold.
        with_area_threshold(area_threshold: f64) => area_threshold = area_threshold;
        /// Set the smallest number of new pixels a candidate must add.
        with_min_pixel_diff(min_pixel_diff: usize) => min_pixel_diff = min_pixel_diff;
        /// Set the internal batch size (rows per pass).
        with_batch_size(batch_size: usize) => batch_size = Some(batch_size);
    }

    fn check(&self) -> Result<()> {
        if self.steps == 0 {
            return Err(Error::config("XRAI needs steps >= 1"));
        }
        if let XraiBaselines::Given(b) = &self.baselines
            && b.is_empty()
        {
            return Err(Error::Empty("XRAI baselines".into()));
        }
        check_batch_size(self.batch_size)
    }

    /// Attribute `model`'s `target` output on `inputs` `[N, C, H, W]`: the region saliency
    /// `[N, 1, H, W]`.
    pub fn attribute<M: Classifier + ?Sized>(
        &self,
        model: &M,
        inputs: Tensor<4>,
        target: &Target,
    ) -> Result<Attribution> {
        Ok(self.attribute_with_regions(model, inputs, target)?.0)
    }

    /// [`Self::attribute`], also returning each input's regions and ranks.
    pub fn attribute_with_regions<M: Classifier + ?Sized>(
        &self,
        model: &M,
        inputs: Tensor<4>,
        target: &Target,
    ) -> Result<(Attribution, Vec<XraiRegions>)> {
        self.check()?;
        validate_inputs(&inputs)?;
        let targets = resolve_targets(model, &inputs, target)?;
        let baselines = match &self.baselines {
            XraiBaselines::Given(b) => b.clone(),
            XraiBaselines::MinMax => {
                let [n, c, h, w] = inputs.dims();
                let low = inputs.clone().reshape([n, c * h * w]).min_dim(1);
                let high = inputs.clone().reshape([n, c * h * w]).max_dim(1);
                [low, high]
                    .into_iter()
                    .map(|v| {
                        Baseline::Tensor(Box::new(v.reshape([n, 1, 1, 1]).expand([n, c, h, w])))
                    })
                    .collect()
            }
        };
        let per_sample = Target::PerSample(targets.clone());
        let mut total: Option<Tensor<4>> = None;
        for baseline in &baselines {
            let ig = IntegratedGradients {
                steps: self.steps,
                rule: self.rule,
                baseline: baseline.clone(),
                batch_size: self.batch_size,
            };
            let a = ig.attribute(model, inputs.clone(), &per_sample)?.relevance;
            total = Some(match total {
                Some(t) => t + a,
                None => a,
            });
        }
        let base = total.expect("at least one baseline") / baselines.len() as f32;
        let (saliency, regions) = self.regions(inputs, base)?;
        let attribution = Attribution::new(saliency, targets, "xrai")?
            .with_parameter("steps", self.steps)
            .with_parameter("baselines", baselines.len())
            .with_parameter("area_threshold", self.area_threshold)
            .with_parameter("min_pixel_diff", self.min_pixel_diff);
        Ok((attribution, regions))
    }

    /// XRAI's regions for `images` `[N, C, H, W]` from a given base attribution `[N, C', H, W]`
    /// (merged over its channels by the maximum): the saliency `[N, 1, H, W]` and the regions
    /// of each image. Lets any attribution, not only Integrated Gradients, be region-ranked.
    pub fn regions(
        &self,
        images: Tensor<4>,
        base: Tensor<4>,
    ) -> Result<(Tensor<4>, Vec<XraiRegions>)> {
        let [n, c, h, w] = images.dims();
        let [bn, bc, bh, bw] = base.dims();
        if [bn, bh, bw] != [n, h, w] || bc == 0 {
            return Err(Error::shape(
                "XRAI base attribution",
                format!("[{n}, C', {h}, {w}]"),
                &base.dims(),
            ));
        }
        glassbox_core::check::check_finite(&base, "XRAI base attribution")?;
        let device = images.device();
        let pixels = HostTensor::from_tensor(&images).values;
        let merged = HostTensor::from_tensor(&base.max_dim(1)).values;
        let mut saliency = Vec::with_capacity(n * h * w);
        let mut all = Vec::with_capacity(n);
        for i in 0..n {
            let image: Vec<f64> = pixels[i * c * h * w..(i + 1) * c * h * w]
                .iter()
                .map(|v| *v as f64)
                .collect();
            let attr: Vec<f64> = merged[i * h * w..(i + 1) * h * w]
                .iter()
                .map(|v| *v as f64)
                .collect();
            let masks = self.segmentation.masks(&image, [c, h, w])?;
            let r = rank_regions(&attr, &masks, self.area_threshold, self.min_pixel_diff)?;
            saliency.extend(r.saliency.iter().map(|v| *v as f32));
            all.push(r);
        }
        Ok((
            Tensor::from_data(TensorData::new(saliency, [n, 1, h, w]), &device),
            all,
        ))
    }
}

crate::common::classifier_explainer!(Xrai);

/// Offsets `(dy, dx)` of a disk of radius `r` (`dy² + dx² ≤ r²`, scikit-image's `disk`).
fn disk_offsets(r: usize) -> Vec<(i64, i64)> {
    let r = r as i64;
    (-r..=r)
        .flat_map(|dy| (-r..=r).map(move |dx| (dy, dx)))
        .filter(|(dy, dx)| dy * dy + dx * dx <= r * r)
        .collect()
}

/// Binary dilation of `mask` (`[h, w]`) by the footprint `offsets`; outside is empty.
fn dilate(mask: &[bool], [h, w]: [usize; 2], offsets: &[(i64, i64)]) -> Vec<bool> {
    if offsets.len() <= 1 {
        return mask.to_vec();
    }
    let mut out = vec![false; h * w];
    for (p, _) in mask.iter().enumerate().filter(|(_, m)| **m) {
        let (y, x) = ((p / w) as i64, (p % w) as i64);
        for &(dy, dx) in offsets {
            let (yy, xx) = (y + dy, x + dx);
            if (0..h as i64).contains(&yy) && (0..w as i64).contains(&xx) {
                out[yy as usize * w + xx as usize] = true;
            }
        }
    }
    out
}

/// Bilinear resize of one plane with half-pixel centres (`align_corners = false`), edges
/// clamped.
fn resize_bilinear(plane: &[f64], [h, w]: [usize; 2], [ho, wo]: [usize; 2]) -> Vec<f64> {
    let taps = |o: usize, n_in: usize, n_out: usize| {
        let x = ((o as f64 + 0.5) * n_in as f64 / n_out as f64 - 0.5).max(0.0);
        let i0 = (x.floor() as usize).min(n_in - 1);
        let i1 = (i0 + 1).min(n_in - 1);
        (i0, i1, x - i0 as f64)
    };
    let mut out = Vec::with_capacity(ho * wo);
    for y in 0..ho {
        let (y0, y1, fy) = taps(y, h, ho);
        for x in 0..wo {
            let (x0, x1, fx) = taps(x, w, wo);
            let at = |yy: usize, xx: usize| plane[yy * w + xx];
            let top = at(y0, x0) * (1.0 - fx) + at(y0, x1) * fx;
            let bottom = at(y1, x0) * (1.0 - fx) + at(y1, x1) * fx;
            out.push(top * (1.0 - fy) + bottom * fy);
        }
    }
    out
}

/// Nearest-neighbour resize of a label map, sampling input pixel `round((o + ½)·in/out − ½)`
/// as scikit-image's `resize(order=0)` does.
fn resize_nearest(labels: &[usize], [h, w]: [usize; 2], [ho, wo]: [usize; 2]) -> Vec<usize> {
    let pick = |o: usize, n_in: usize, n_out: usize| {
        let x = (o as f64 + 0.5) * n_in as f64 / n_out as f64 - 0.5;
        (x.round().max(0.0) as usize).min(n_in - 1)
    };
    let mut out = Vec::with_capacity(ho * wo);
    for y in 0..ho {
        let yy = pick(y, h, ho);
        for x in 0..wo {
            out.push(labels[yy * w + pick(x, w, wo)]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_of_radius_two_has_thirteen_pixels() {
        assert_eq!(disk_offsets(2).len(), 13);
        assert_eq!(disk_offsets(0), vec![(0, 0)]);
    }

    #[test]
    fn ranking_prefers_dense_regions_and_fills_the_rest() {
        // 1 × 6 image: region A (pixels 0–1) mean 5, region B (2–3) mean 1; pixels 4–5 unreached.
        let attr = [5.0, 5.0, 1.0, 1.0, -2.0, 0.0];
        let a = vec![true, true, false, false, false, false];
        let b = vec![false, false, true, true, false, false];
        let r = rank_regions(&attr, &[b, a], 1.0, 1).unwrap();
        assert_eq!(r.ranks, vec![1, 1, 2, 2, 3, 3]);
        assert_eq!(r.saliency, vec![5.0, 5.0, 1.0, 1.0, -1.0, -1.0]);
        assert_eq!(r.regions, 3);
        assert!(rank_regions(&attr, &[vec![true; 5]], 1.0, 1).is_err());
        assert!(rank_regions(&attr, &[], 1.0, 0).is_err());
    }
}
