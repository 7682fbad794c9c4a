//! LIME (Ribeiro, Singh & Guestrin, "Why Should I Trust You?", KDD 2016) over superpixels.
//!
//! The input is cut into interpretable features (SLIC superpixels by default, or a label map
//! the caller gives). Random on/off states of the features are drawn (each feature kept with
//! probability `keep_probability`); an "off" feature takes the baseline's values. The model
//! scores every perturbed copy, each copy is weighted by its similarity to the input, and a
//! weighted Lasso of the scores on the on/off states is the explanation: each pixel gets its
//! feature's coefficient.
//!
//! Defaults follow Captum's `Lime`: 50 samples, Bernoulli(0.5) states, similarity
//! `exp(−d² / (2·w²))` with `d = 1 − cos(x, x')` over the flattened input and `w = 1`, and
//! `sklearn.linear_model.Lasso(alpha=0.01)` with sample weights as the surrogate (our
//! [`crate::surrogate::lasso`], checked against scikit-learn). Captum needs a feature mask from
//! the user; ours defaults to SLIC with scikit-image's defaults (100 segments, compactness 10).
//! The attribution is one map per input, `[N, 1, H, W]`. The states come from a seeded
//! SplitMix64, so a run is reproducible (but not Captum's torch draws).

use burn::prelude::*;
use glassbox_core::rng::SplitMix64;
use glassbox_core::{Attribution, Classifier, Error, HostTensor, Result, Target};

use crate::common::{batched_target_scores, check_batch_size, resolve_targets, validate_inputs};
use crate::integrated_gradients::Baseline;
use crate::segmentation::Slic;
use crate::surrogate::lasso;

/// LIME; see the module docs for the defaults.
#[derive(Debug, Clone)]
pub struct Lime {
    /// Perturbed copies per input.
    pub samples: usize,
    /// Probability that a feature stays on in a copy.
    pub keep_probability: f64,
    /// Width of the exponential similarity kernel.
    pub kernel_width: f64,
    /// Lasso penalty of the surrogate (0 = weighted least squares).
    pub alpha: f64,
    /// Superpixels used as features when no `features` are given.
    pub superpixels: Slic,
    /// A label map over `H × W` shared by every input (Captum's `feature_mask`); overrides
    /// `superpixels`.
    pub features: Option<Vec<usize>>,
    /// What an "off" feature is replaced with.
    pub baseline: Baseline,
    /// Seed of the on/off states.
    pub seed: u64,
    /// Perturbed copies per forward pass; `None` scores all at once.
    pub batch_size: Option<usize>,
}

impl Default for Lime {
    fn default() -> Self {
        Self {
            samples: 50,
            keep_probability: 0.5,
            kernel_width: 1.0,
            alpha: 0.01,
            superpixels: Slic::default(),
            features: None,
            baseline: Baseline::Zeros,
            seed: 0,
            batch_size: Some(64),
        }
    }
}

impl Lime {
    crate::common::setters! {
        /// Set the number of perturbed copies per input.
        with_samples(samples: usize) => samples = samples;
        /// Set the Lasso penalty.
        with_alpha(alpha: f64) => alpha = alpha;
        /// Set the superpixels used as features.
        with_superpixels(superpixels: Slic) => superpixels = superpixels;
        /// Use a fixed label map over `H × W` as the features of every input.
        with_features(labels: Vec<usize>) => features = Some(labels);
        /// Set the baseline an "off" feature takes.
        with_baseline(baseline: Baseline) => baseline = baseline;
        /// Set the seed of the on/off states.
        with_seed(seed: u64) => seed = seed;
        /// Set the internal batch size (copies per pass).
        with_batch_size(batch_size: usize) => batch_size = Some(batch_size);
    }

    fn check(&self) -> Result<()> {
        if self.samples == 0 {
            return Err(Error::config("LIME needs samples >= 1"));
        }
        if !(self.keep_probability > 0.0 && self.keep_probability < 1.0) {
            return Err(Error::config(format!(
                "LIME keep_probability must be in (0, 1), got {}",
                self.keep_probability
            )));
        }
        if !(self.kernel_width.is_finite() && self.kernel_width > 0.0) {
            return Err(Error::config(format!(
                "LIME kernel_width must be finite and > 0, got {}",
                self.kernel_width
            )));
        }
        check_batch_size(self.batch_size)
    }

    /// Attribute `model`'s `target` output on `inputs` `[N, C, H, W]`: `[N, 1, H, W]`.
    pub fn attribute<M: Classifier + ?Sized>(
        &self,
        model: &M,
        inputs: Tensor<4>,
        target: &Target,
    ) -> Result<Attribution> {
        self.check()?;
        validate_inputs(&inputs)?;
        let targets = resolve_targets(model, &inputs, target)?;
        let [n, c, h, w] = inputs.dims();
        let device = inputs.device();
        let pixels = HostTensor::from_tensor(&inputs).values;
        let base = HostTensor::from_tensor(&self.baseline.materialise(&inputs)?).values;
        let size = c * h * w;
        let s = self.samples;
        let mut labels = Vec::with_capacity(n);
        let mut states = Vec::with_capacity(n);
        let mut copies = Vec::with_capacity(n * s * size);
        for i in 0..n {
            let image = &pixels[i * size..(i + 1) * size];
            let map = match &self.features {
                Some(given) => {
                    if given.len() != h * w {
                        return Err(Error::shape(
                            "LIME features",
                            format!("[{h}, {w}]"),
                            &[given.len()],
                        ));
                    }
                    given.clone()
                }
                None => {
                    let image: Vec<f64> = image.iter().map(|v| *v as f64).collect();
                    self.superpixels.segment(&image, [c, h, w])?.labels
                }
            };
            let features = map.iter().max().map_or(0, |m| m + 1);
            let mut rng = SplitMix64::derive(self.seed, i as u64);
            let drawn = draw_states(&mut rng, s, features, self.keep_probability);
            for state in &drawn {
                for ch in 0..c {
                    for (p, &l) in map.iter().enumerate() {
                        let k = i * size + ch * h * w + p;
                        copies.push(if state[l] { pixels[k] } else { base[k] });
                    }
                }
            }
            labels.push(map);
            states.push(drawn);
        }
        let copies_t =
            Tensor::<4>::from_data(TensorData::new(copies.clone(), [n * s, c, h, w]), &device);
        let copy_targets: Vec<usize> = targets
            .iter()
            .flat_map(|&t| std::iter::repeat_n(t, s))
            .collect();
        let scores = HostTensor::from_tensor(&batched_target_scores(
            model,
            copies_t,
            &copy_targets,
            self.batch_size,
        ))
        .values;
        let mut relevance = Vec::with_capacity(n * h * w);
        for i in 0..n {
            let x = &pixels[i * size..(i + 1) * size];
            let weights: Vec<f64> = (0..s)
                .map(|j| {
                    let copy = &copies[(i * s + j) * size..(i * s + j + 1) * size];
                    let d = 1.0 - cosine(x, copy);
                    (-d * d / (2.0 * self.kernel_width * self.kernel_width)).exp()
                })
                .collect();
            let y: Vec<f64> = scores[i * s..(i + 1) * s]
                .iter()
                .map(|v| *v as f64)
                .collect();
            let fit = fit_states(&states[i], &y, &weights, self.alpha)?;
            relevance.extend(labels[i].iter().map(|&l| fit.coef[l] as f32));
        }
        Ok(Attribution::new(
            Tensor::from_data(TensorData::new(relevance, [n, 1, h, w]), &device),
            targets,
            "lime",
        )?
        .with_parameter("samples", s)
        .with_parameter("keep_probability", self.keep_probability)
        .with_parameter("kernel_width", self.kernel_width)
        .with_parameter("alpha", self.alpha)
        .with_parameter("seed", self.seed))
    }
}

crate::common::classifier_explainer!(Lime);

/// `samples` on/off states of `features` features, each on with probability `keep`.
pub(crate) fn draw_states(
    rng: &mut SplitMix64,
    samples: usize,
    features: usize,
    keep: f64,
) -> Vec<Vec<bool>> {
    (0..samples)
        .map(|_| (0..features).map(|_| rng.unit_f64() < keep).collect())
        .collect()
}

/// The weighted Lasso of `y` on the 0/1 `states`.
pub(crate) fn fit_states(
    states: &[Vec<bool>],
    y: &[f64],
    weights: &[f64],
    alpha: f64,
) -> Result<crate::surrogate::LinearFit> {
    let p = states.first().map_or(0, Vec::len);
    let x: Vec<f64> = states
        .iter()
        .flat_map(|s| s.iter().map(|&on| if on { 1.0 } else { 0.0 }))
        .collect();
    lasso(&x, y, weights, p, alpha)
}

/// Cosine similarity of two vectors; 0 when exactly one of them is zero (as torch's clamped
/// cosine), 1 when both are.
pub(crate) fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (*x as f64, *y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        return if aa == bb { 1.0 } else { 0.0 };
    }
    ab / (aa.sqrt() * bb.sqrt())
}
