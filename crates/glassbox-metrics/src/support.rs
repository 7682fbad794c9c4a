//! Causal metrics for few-shot segmentation explanations over the **support set** (Affinity
//! Explainer paper, De Marinis et al. 2025, after the RISE insertion/deletion protocol).
//!
//! Support pixels are ranked jointly over all shots `(K, H, W)` by attribution (stable sort,
//! ties in index order). A perturbed support pixel has **all image channels and its mask**
//! replaced by the substrate (image → 0, i.e. the normalisation mean; mask → not foreground).
//! *Deletion* starts from the original support set and removes pixels in rank order;
//! *insertion* starts from an all-substrate support set and inserts them. For `steps = S` and
//! `fraction = p`, `T = ⌊K·H·W·p⌋` pixels are moved in `S` equal steps (`b_i = ⌊T·i/S⌋`), the
//! model re-segments the query at every state, and the curve of scores gives a normalised
//! trapezoid AUC. Every state of every episode goes through the [`PerturbationEngine`] in
//! batches.
//!
//! Scores ([`SupportMeasure`]): per-episode foreground **IoU** with the query ground truth, or
//! **confidence** = mean softmax probability, over the originally predicted foreground `R`, of
//! the class that has the highest such mean on the original episode.
//!
//! | paper column | definition here |
//! |---|---|
//! | IAUC (mIoU) ↑ | [`SupportCurve::iauc`]: insertion, 75 steps, IoU, state 0 skipped |
//! | DAUC (mIoU) ↓ | [`SupportCurve::dauc`]: deletion, 75 steps, IoU, state 0 skipped |
//! | IAUC@1% (Conf) ↑ | [`SupportCurve::iauc_at`]`(0.01)`: insertion of the top 1 %, 5 steps, confidence |
//! | mIoUL@p ↓ | [`MiouLoss`]: IoU of the full support − IoU with only the top `p` inserted |
//!
//! Episodes where a score is undefined (empty predicted region for confidence, empty union
//! for IoU) get NaN and are left out of the aggregate, as the reference drops them.

use burn::prelude::*;
use burn::tensor::activation::softmax;
use glassbox_core::{Error, FewShotInput, FewShotSegmenter, HostTensor, Result};
use serde::{Deserialize, Serialize};

use crate::engine::{Perturbation, PerturbationEngine};
use crate::features::descending;
use crate::stats::{nan_mean, normalised_auc};

/// What is read from each segmentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupportMeasure {
    /// Foreground IoU of the predicted query mask with the ground truth (per episode).
    Iou,
    /// Mean softmax probability of the originally dominant class over the originally
    /// predicted foreground.
    Confidence,
}

/// Which way pixels move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From an empty (substrate) support set, insert the most relevant pixels first.
    Insertion,
    /// From the original support set, delete the most relevant pixels first.
    Deletion,
}

/// Few-shot episodes with their query ground truth and a support attribution to score.
#[derive(Debug, Clone)]
pub struct SupportBatch {
    /// The episodes.
    pub input: FewShotInput,
    /// Query ground-truth masks `[N, H, W]` (1 = foreground); needed by [`SupportMeasure::Iou`].
    pub query_masks: Tensor<3>,
    /// Support attributions `[N, K, H, W]`.
    pub attribution: Tensor<4>,
}

impl SupportBatch {
    /// Check shapes and finiteness.
    pub fn validate(&self) -> Result<()> {
        self.input.validate()?;
        let [n, k, _, h, w] = self.input.support_images.dims();
        if self.query_masks.dims() != [n, h, w] {
            return Err(Error::shape(
                "query ground-truth masks",
                format!("[{n}, {h}, {w}]"),
                &self.query_masks.dims(),
            ));
        }
        if self.attribution.dims() != [n, k, h, w] {
            return Err(Error::shape(
                "support attribution",
                format!("[{n}, {k}, {h}, {w}] (one map per support image)"),
                &self.attribution.dims(),
            ));
        }
        glassbox_core::check::check_finite(&self.attribution, "support attribution")
    }
}

/// Per-episode scores and their aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupportScores {
    /// Metric name.
    pub metric: String,
    /// One score per episode (NaN where undefined).
    pub scores: Vec<f64>,
    /// Mean over the defined scores.
    pub aggregate: f64,
    /// Mean curve over episodes with defined scores (empty for [`MiouLoss`]).
    pub mean_curve: Vec<f64>,
}

/// An insertion or deletion curve over the support set; see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupportCurve {
    /// Insertion or deletion.
    pub direction: Direction,
    /// Number of equal steps.
    pub steps: usize,
    /// Fraction of all support pixels moved over the curve (1 = all).
    pub fraction: f64,
    /// The score read at each state.
    pub measure: SupportMeasure,
    /// Leave out the unperturbed state 0.
    pub skip_empty: bool,
}

impl SupportCurve {
    /// IAUC (mIoU): insertion, 75 steps, IoU, state 0 skipped.
    pub fn iauc() -> Self {
        Self {
            direction: Direction::Insertion,
            steps: 75,
            fraction: 1.0,
            measure: SupportMeasure::Iou,
            skip_empty: true,
        }
    }

    /// DAUC (mIoU): deletion, 75 steps, IoU, state 0 skipped.
    pub fn dauc() -> Self {
        Self {
            direction: Direction::Deletion,
            ..Self::iauc()
        }
    }

    /// IAUC@p (Conf): insertion of the top `fraction` of support pixels in 5 steps, confidence,
    /// state 0 kept (6 points).
    pub fn iauc_at(fraction: f64) -> Self {
        Self {
            direction: Direction::Insertion,
            steps: 5,
            fraction,
            measure: SupportMeasure::Confidence,
            skip_empty: false,
        }
    }

    /// Builder: number of steps.
    pub fn with_steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }

    /// A short name (`iauc_iou`, `dauc_iou`, `iauc@1%_confidence`, ...).
    pub fn name(&self) -> String {
        let dir = match self.direction {
            Direction::Insertion => "iauc",
            Direction::Deletion => "dauc",
        };
        let measure = match self.measure {
            SupportMeasure::Iou => "iou",
            SupportMeasure::Confidence => "confidence",
        };
        if self.fraction < 1.0 {
            format!("{dir}@{}%_{measure}", self.fraction * 100.0)
        } else {
            format!("{dir}_{measure}")
        }
    }

    fn validate(&self) -> Result<()> {
        if self.steps == 0 {
            return Err(Error::config("support curve steps must be >= 1"));
        }
        if !(self.fraction > 0.0 && self.fraction <= 1.0) {
            return Err(Error::config(format!(
                "support curve fraction must be in (0, 1], got {}",
                self.fraction
            )));
        }
        if self.skip_empty && self.steps < 2 && self.direction == Direction::Deletion {
            return Err(Error::config(
                "a deletion curve without state 0 needs at least 2 steps",
            ));
        }
        Ok(())
    }

    /// Score `batch` with `model`: the AUC of each episode's curve.
    pub fn evaluate(
        &self,
        model: &dyn FewShotSegmenter,
        batch: &SupportBatch,
        engine: &PerturbationEngine,
        device: &Device,
    ) -> Result<SupportScores> {
        self.validate()?;
        let curves = run_curves(self, model, batch, engine, device)?;
        let scores: Vec<f64> = curves.iter().map(|c| normalised_auc(c)).collect();
        Ok(SupportScores {
            metric: self.name(),
            aggregate: nan_mean(&scores),
            mean_curve: mean_curve(&curves, &scores),
            scores,
        })
    }
}

/// mIoU Loss @ p: the IoU the model loses when its support set keeps only the top `fraction`
/// of pixels (image and mask), all the rest being substrate: `IoU(full) − IoU(top p)`. Lower is
/// better.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MiouLoss {
    /// Fraction of support pixels kept.
    pub fraction: f64,
}

impl MiouLoss {
    /// mIoUL@`fraction`.
    pub fn new(fraction: f64) -> Self {
        Self { fraction }
    }

    /// Score `batch` with `model`.
    pub fn evaluate(
        &self,
        model: &dyn FewShotSegmenter,
        batch: &SupportBatch,
        engine: &PerturbationEngine,
        device: &Device,
    ) -> Result<SupportScores> {
        let curve = SupportCurve {
            direction: Direction::Insertion,
            steps: 1,
            fraction: self.fraction,
            measure: SupportMeasure::Iou,
            skip_empty: false,
        };
        curve.validate()?;
        // States: 0 = empty support, 1 = top-p inserted; the full support is the original.
        let curves = run_curves(&curve, model, batch, engine, device)?;
        let full = original_scores(model, batch, SupportMeasure::Iou, device)?;
        let scores: Vec<f64> = curves.iter().zip(&full).map(|(c, f)| f - c[1]).collect();
        Ok(SupportScores {
            metric: format!("miou_loss@{}%", self.fraction * 100.0),
            aggregate: nan_mean(&scores),
            mean_curve: Vec::new(),
            scores,
        })
    }
}

fn mean_curve(curves: &[Vec<f64>], scores: &[f64]) -> Vec<f64> {
    let kept: Vec<&Vec<f64>> = curves
        .iter()
        .zip(scores)
        .filter(|(_, s)| s.is_finite())
        .map(|(c, _)| c)
        .collect();
    let Some(first) = kept.first() else {
        return Vec::new();
    };
    (0..first.len())
        .map(|i| kept.iter().map(|c| c[i]).sum::<f64>() / kept.len() as f64)
        .collect()
}

/// Perturbed support sets of one batch: the engine's "image" of episode `i` is its support
/// images and masks stacked as `[K·C + K, H, W]` (images first).
struct SupportStates {
    order: Vec<Vec<usize>>,
    bounds: Vec<usize>,
    first_state: usize,
    insertion: bool,
    k: usize,
    c: usize,
    hw: usize,
}

impl Perturbation for SupportStates {
    fn copies(&self, _: usize) -> usize {
        self.bounds.len() - self.first_state
    }

    fn fill(&self, sample: usize, copy: usize, original: &[f32], out: &mut [f32]) {
        let moved = &self.order[sample][..self.bounds[copy + self.first_state]];
        let (k, c, hw) = (self.k, self.c, self.hw);
        let mask_base = k * c * hw;
        let set = |pixel: usize, from: &[f32], out: &mut [f32], substrate: bool| {
            let (shot, p) = (pixel / hw, pixel % hw);
            for ch in 0..c {
                let i = (shot * c + ch) * hw + p;
                out[i] = if substrate { 0.0 } else { from[i] };
            }
            let m = mask_base + shot * hw + p;
            out[m] = if substrate { 0.0 } else { from[m] };
        };
        if self.insertion {
            out.iter_mut().for_each(|v| *v = 0.0);
            for &pixel in moved {
                set(pixel, original, out, false);
            }
        } else {
            for &pixel in moved {
                set(pixel, original, out, true);
            }
        }
    }
}

/// The curve of every episode (one score per kept state).
fn run_curves(
    curve: &SupportCurve,
    model: &dyn FewShotSegmenter,
    batch: &SupportBatch,
    engine: &PerturbationEngine,
    device: &Device,
) -> Result<Vec<Vec<f64>>> {
    batch.validate()?;
    let [n, k, c, h, w] = batch.input.support_images.dims();
    let hw = h * w;
    let total = ((k * hw) as f64 * curve.fraction).floor() as usize;
    let bounds: Vec<usize> = (0..=curve.steps).map(|i| total * i / curve.steps).collect();
    let attribution = HostTensor::from_tensor(&batch.attribution);
    let order: Vec<Vec<usize>> = attribution
        .values
        .chunks(k * hw)
        .map(|a| descending(&a.iter().map(|&v| v as f64).collect::<Vec<_>>()))
        .collect();
    let states = SupportStates {
        order,
        bounds,
        first_state: usize::from(curve.skip_empty),
        insertion: curve.direction == Direction::Insertion,
        k,
        c,
        hw,
    };
    // Engine "images": [N, K·C + K, H, W].
    let images = HostTensor::from_tensor(&Tensor::cat(
        vec![
            batch.input.support_images.clone().reshape([n, k * c, h, w]),
            batch.input.support_masks.clone(),
        ],
        1,
    ));
    let reference = Reference::new(model, batch, curve.measure, device)?;
    let query = HostTensor::from_tensor(&batch.input.query);
    let qlen = c * hw;
    let mut curves: Vec<Vec<f64>> = vec![Vec::new(); n];
    engine.for_each_chunk(&images, &states, |chunk, samples| {
        let m = samples.len();
        let t: Tensor<4> = chunk.to_tensor(device)?;
        let supports = t.clone().slice(s![.., 0..k * c]).reshape([m, k, c, h, w]);
        let masks = t.slice(s![.., k * c..]);
        let mut q = Vec::with_capacity(m * qlen);
        for &i in samples {
            q.extend_from_slice(&query.values[i * qlen..(i + 1) * qlen]);
        }
        let q = HostTensor::new(vec![m, c, h, w], q)?.to_tensor::<4>(device)?;
        let logits = model.segment(q, supports, masks);
        glassbox_core::model::check_segmentation(&logits, [m, h, w])?;
        let scores = reference.score(logits, samples)?;
        for (&i, s) in samples.iter().zip(scores) {
            curves[i].push(s);
        }
        Ok(())
    })?;
    Ok(curves)
}

/// What each state's segmentation is compared with.
struct Reference {
    measure: SupportMeasure,
    /// Query ground truth `[N·H·W]` (IoU).
    truth: Vec<f32>,
    /// Originally predicted foreground `[N·H·W]` (confidence).
    region: Vec<f32>,
    /// Class whose mean probability over the region is highest on the original episode.
    class: Vec<usize>,
    hw: usize,
}

impl Reference {
    fn new(
        model: &dyn FewShotSegmenter,
        batch: &SupportBatch,
        measure: SupportMeasure,
        device: &Device,
    ) -> Result<Self> {
        let [n, _, _, h, w] = batch.input.support_images.dims();
        let hw = h * w;
        let truth = HostTensor::from_tensor(&batch.query_masks).values;
        let (mut region, mut class) = (Vec::new(), vec![1; n]);
        if measure == SupportMeasure::Confidence {
            let _ = device;
            let logits = model.segment(
                batch.input.query.clone(),
                batch.input.support_images.clone(),
                batch.input.support_masks.clone(),
            );
            let probs = HostTensor::from_tensor(&softmax(logits, 1)).values;
            for i in 0..n {
                let (bg, fg) = (
                    &probs[i * 2 * hw..(2 * i + 1) * hw],
                    &probs[(2 * i + 1) * hw..(2 * i + 2) * hw],
                );
                let r: Vec<f32> = bg.iter().zip(fg).map(|(b, f)| f32::from(f > b)).collect();
                let area: f32 = r.iter().sum();
                let mean = |p: &[f32]| p.iter().zip(&r).map(|(a, b)| a * b).sum::<f32>() / area;
                class[i] = if mean(bg) > mean(fg) { 0 } else { 1 };
                region.extend(r);
            }
        }
        Ok(Self {
            measure,
            truth,
            region,
            class,
            hw,
        })
    }

    /// Score each segmentation `[m, 2, H, W]`, copy `j` belonging to episode `samples[j]`.
    fn score(&self, logits: Tensor<4>, samples: &[usize]) -> Result<Vec<f64>> {
        let hw = self.hw;
        match self.measure {
            SupportMeasure::Iou => {
                let pred = HostTensor::from_tensor(&logits.argmax(1).float()).values;
                Ok(samples
                    .iter()
                    .enumerate()
                    .map(|(j, &i)| {
                        let p = &pred[j * hw..(j + 1) * hw];
                        let t = &self.truth[i * hw..(i + 1) * hw];
                        foreground_iou(p, t)
                    })
                    .collect())
            }
            SupportMeasure::Confidence => {
                let probs = HostTensor::from_tensor(&softmax(logits, 1)).values;
                Ok(samples
                    .iter()
                    .enumerate()
                    .map(|(j, &i)| {
                        let p =
                            &probs[(2 * j + self.class[i]) * hw..(2 * j + self.class[i] + 1) * hw];
                        let r = &self.region[i * hw..(i + 1) * hw];
                        let area: f32 = r.iter().sum();
                        if area == 0.0 {
                            return f64::NAN;
                        }
                        (p.iter().zip(r).map(|(a, b)| a * b).sum::<f32>() / area) as f64
                    })
                    .collect())
            }
        }
    }
}

/// Foreground IoU of a predicted label map (1 = foreground) with a ground-truth mask; NaN when
/// both are empty.
pub fn foreground_iou(pred: &[f32], truth: &[f32]) -> f64 {
    let (mut inter, mut union) = (0usize, 0usize);
    for (&p, &t) in pred.iter().zip(truth) {
        let (p, t) = (p > 0.5, t > 0.5);
        inter += usize::from(p && t);
        union += usize::from(p || t);
    }
    if union == 0 {
        f64::NAN
    } else {
        inter as f64 / union as f64
    }
}

/// The unperturbed score of each episode.
fn original_scores(
    model: &dyn FewShotSegmenter,
    batch: &SupportBatch,
    measure: SupportMeasure,
    device: &Device,
) -> Result<Vec<f64>> {
    let n = batch.input.query.dims()[0];
    let reference = Reference::new(model, batch, measure, device)?;
    let logits = model.segment(
        batch.input.query.clone(),
        batch.input.support_images.clone(),
        batch.input.support_masks.clone(),
    );
    reference.score(logits, &(0..n).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use glassbox_core::rng::SplitMix64;

    /// Foreground where the query pixel exceeds the mask-weighted mean support value: a model
    /// that reads its support set, so removing support pixels changes the prediction.
    fn toy(q: Tensor<4>, s: Tensor<5>, m: Tensor<4>) -> Tensor<4> {
        let [n, k, _, h, w] = s.dims();
        let m5 = m.clone().reshape([n, k, 1, h, w]);
        let num = (s * m5)
            .sum_dim(1)
            .sum_dim(2)
            .sum_dim(3)
            .sum_dim(4)
            .reshape([n, 1, 1, 1]);
        let den = m.sum_dim(1).sum_dim(2).sum_dim(3).reshape([n, 1, 1, 1]) + 1.0;
        let fg = q - num / den;
        Tensor::cat(vec![fg.clone().neg(), fg], 1)
    }

    fn batch(device: &Device, attribution: impl Fn(usize, f32) -> f32) -> SupportBatch {
        let (n, k, h, w) = (3, 2, 6, 6);
        let mut rng = SplitMix64::new(5);
        let mut r = |len: usize| -> Vec<f32> { (0..len).map(|_| rng.unit()).collect() };
        let q = r(n * h * w);
        let s = r(n * k * h * w);
        let m: Vec<f32> = r(n * k * h * w)
            .into_iter()
            .map(|v| f32::from(v > 0.5))
            .collect();
        let a: Vec<f32> = s
            .iter()
            .zip(&m)
            .enumerate()
            .map(|(i, (sv, mv))| attribution(i, sv * mv))
            .collect();
        let truth: Vec<f32> = q.iter().map(|v| f32::from(*v > 0.5)).collect();
        SupportBatch {
            input: FewShotInput {
                query: Tensor::from_data(TensorData::new(q, vec![n, 1, h, w]), device),
                support_images: Tensor::from_data(TensorData::new(s, vec![n, k, 1, h, w]), device),
                support_masks: Tensor::from_data(TensorData::new(m, vec![n, k, h, w]), device),
            },
            query_masks: Tensor::from_data(TensorData::new(truth, vec![n, h, w]), device),
            attribution: Tensor::from_data(TensorData::new(a, vec![n, k, h, w]), device),
        }
    }

    #[test]
    fn end_states_are_the_original_and_the_empty_support() {
        let device = Device::flex();
        let b = batch(&device, |_, v| v);
        let engine = PerturbationEngine::new(7);
        let original = original_scores(&toy, &b, SupportMeasure::Iou, &device).unwrap();
        let ins = SupportCurve::iauc().with_steps(4);
        let curves = run_curves(&ins, &toy, &b, &engine, &device).unwrap();
        let del = SupportCurve {
            skip_empty: false,
            ..SupportCurve::dauc().with_steps(4)
        };
        let dcurves = run_curves(&del, &toy, &b, &engine, &device).unwrap();
        for i in 0..3 {
            assert_eq!(curves[i].len(), 4);
            assert_eq!(dcurves[i].len(), 5);
            // Fully inserted = fully original; deletion state 0 = original.
            assert!((curves[i][3] - original[i]).abs() < 1e-12);
            assert!((dcurves[i][0] - original[i]).abs() < 1e-12);
            // Fully deleted = empty support = the toy thresholds the query at 0.
            let q = HostTensor::from_tensor(&b.input.query).values;
            let t = HostTensor::from_tensor(&b.query_masks).values;
            let pred: Vec<f32> = q[i * 36..(i + 1) * 36]
                .iter()
                .map(|v| f32::from(*v > 0.0))
                .collect();
            let empty = foreground_iou(&pred, &t[i * 36..(i + 1) * 36]);
            assert!((dcurves[i][4] - empty).abs() < 1e-12);
        }
    }

    #[test]
    fn scores_do_not_depend_on_the_engine_batch() {
        let device = Device::flex();
        let b = batch(&device, |_, v| v);
        let m = SupportCurve::iauc_at(0.25);
        let small = m
            .evaluate(&toy, &b, &PerturbationEngine::new(1), &device)
            .unwrap();
        let big = m
            .evaluate(&toy, &b, &PerturbationEngine::new(500), &device)
            .unwrap();
        assert_eq!(small.scores, big.scores);
        assert_eq!(small.mean_curve.len(), 6);
    }

    #[test]
    fn states_move_exactly_the_ranked_pixels() {
        let states = SupportStates {
            order: vec![vec![3, 0, 2, 1]],
            bounds: vec![0, 1, 2, 4],
            first_state: 0,
            insertion: false,
            k: 2,
            c: 1,
            hw: 2,
        };
        // images [shot0: a b, shot1: c d], masks [1 1, 1 1]
        let original = [1.0, 2.0, 3.0, 4.0, 1.0, 1.0, 1.0, 1.0];
        let mut out = original;
        states.fill(0, 1, &original, &mut out);
        assert_eq!(out, [1.0, 2.0, 3.0, 0.0, 1.0, 1.0, 1.0, 0.0]);
        let ins = SupportStates {
            insertion: true,
            ..states
        };
        let mut out = original;
        ins.fill(0, 2, &original, &mut out);
        assert_eq!(out, [1.0, 0.0, 0.0, 4.0, 1.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn miou_loss_is_zero_when_everything_is_kept_and_bad_input_errors() {
        let device = Device::flex();
        let b = batch(&device, |_, v| v);
        let engine = PerturbationEngine::default();
        let full = MiouLoss::new(1.0)
            .evaluate(&toy, &b, &engine, &device)
            .unwrap();
        assert!(full.scores.iter().all(|s| s.abs() < 1e-12));
        let mut bad = b.clone();
        bad.attribution = Tensor::zeros([3, 1, 6, 6], &device);
        assert!(
            SupportCurve::dauc()
                .evaluate(&toy, &bad, &engine, &device)
                .is_err()
        );
        assert!(
            MiouLoss::new(0.0)
                .evaluate(&toy, &b, &engine, &device)
                .is_err()
        );
    }
}
