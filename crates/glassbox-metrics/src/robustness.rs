//! Robustness: do similar inputs get similar explanations? Max- and Avg-Sensitivity, the Local
//! Lipschitz Estimate, and Relative Input / Output Stability.
//!
//! All of them draw noisy copies of every image, recompute the explanation on each (through
//! the context's [`crate::ExplainFn`], as many copies per call as the engine's budget allows),
//! and reduce a per-copy ratio. The noise is a [`Perturbation`]; each metric's `evaluate` uses
//! its seeded default, and `evaluate_with` takes any other (e.g. noise recorded elsewhere).

use glassbox_core::rng::SplitMix64;
use glassbox_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::engine::{Perturbation, argmax};
use crate::macros::metric_info;
use crate::metric::positive;
use crate::preprocess::{normalise_by_max, prepare_attributions};
use crate::stats::{l2, nan_max, nan_mean};
use crate::{Context, Metric, MetricBatch, MetricResult};

/// Additive noise on every element, drawn per (image, copy) from a seed, so results do not
/// depend on how copies are batched.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Noise {
    /// `U(low, high)` per element.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// `N(mean, std²)` per element.
    Gaussian {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
}

/// `samples` noisy copies of each image.
pub struct NoisyCopies {
    /// The noise.
    pub noise: Noise,
    /// Copies per image.
    pub samples: usize,
    /// Seed.
    pub seed: u64,
}

impl Perturbation for NoisyCopies {
    fn copies(&self, _: usize) -> usize {
        self.samples
    }
    fn fill(&self, sample: usize, copy: usize, original: &[f32], out: &mut [f32]) {
        let mut rng = SplitMix64::derive(self.seed, (sample * self.samples + copy) as u64);
        for (o, &x) in out.iter_mut().zip(original) {
            let n = match self.noise {
                Noise::Uniform { low, high } => rng.uniform(low, high),
                Noise::Gaussian { mean, std } => mean + std * rng.normal(),
            };
            *o = (x as f64 + n) as f32;
        }
    }
}

/// One noisy copy as the objectives see it.
struct Copy<'a> {
    x: &'a [f32],
    xs: &'a [f32],
    a: &'a [f64],
    a_s: &'a [f64],
    logits: &'a [f32],
    logits_s: &'a [f32],
}

/// Shared options of the robustness metrics.
struct Options {
    normalise: bool,
    abs: bool,
    quantus_compat: bool,
    nan_on_change: bool,
    /// The objective reads the perturbed copies' logits (Relative Output Stability).
    needs_logits: bool,
}

/// Per image, the objective of each noisy copy (NaN where the prediction changed and
/// `nan_on_change`).
fn per_copy(
    metric: &str,
    ctx: &Context,
    batch: &MetricBatch,
    noise: &dyn Perturbation,
    opt: &Options,
    objective: impl Fn(&Copy) -> f64,
) -> Result<Vec<Vec<f64>>> {
    let model = ctx.require_model(metric)?;
    let b = batch.len();
    let a = prepare_attributions(batch, opt.normalise, opt.abs, opt.quantus_compat);
    let base = ctx.engine.predict(model, &ctx.device, batch.inputs())?;
    let d = batch.input_len();
    let mut scores: Vec<Vec<f64>> = vec![Vec::new(); b];
    ctx.engine
        .for_each_chunk(batch.inputs(), noise, |chunk, samples| {
            let targets: Vec<usize> = samples.iter().map(|&i| batch.targets()[i]).collect();
            let expl = ctx.explain(metric, model, &chunk, &targets)?;
            let per = expl.values.len() / samples.len();
            // The copies' logits cost a forward pass: only when something reads them.
            let logits = if opt.needs_logits || opt.nan_on_change {
                Some(ctx.engine.predict(model, &ctx.device, &chunk)?)
            } else {
                None
            };
            for (j, &i) in samples.iter().enumerate() {
                if per != a[i].len() {
                    return Err(Error::shape(
                        "recomputed explanation",
                        format!("{} values per image, as the given attributions", a[i].len()),
                        &expl.shape,
                    ));
                }
                let mut a_s: Vec<f64> = expl.values[j * per..(j + 1) * per]
                    .iter()
                    .map(|&v| v as f64)
                    .collect();
                if opt.normalise {
                    normalise_by_max(&mut a_s);
                }
                if opt.abs {
                    a_s.iter_mut().for_each(|v| *v = v.abs());
                }
                let copy = Copy {
                    x: batch.input(i),
                    xs: &chunk.values[j * d..(j + 1) * d],
                    a: &a[i],
                    a_s: &a_s,
                    logits: base.logits(i, 0),
                    logits_s: logits.as_ref().map_or(&[][..], |l| l.logits(j, 0)),
                };
                let changed = logits.is_some() && argmax(copy.logits) != argmax(copy.logits_s);
                scores[i].push(if opt.nan_on_change && changed {
                    f64::NAN
                } else {
                    objective(&copy)
                });
            }
            Ok(())
        })?;
    Ok(scores)
}

fn diff_norm(a: &[f64], b: &[f64]) -> f64 {
    l2(a.iter().zip(b).map(|(x, y)| x - y))
}

/// Plain max (NaN propagates, as `np.max`) or NaN-skipping max.
fn reduce_max(v: &[f64], propagate_nan: bool) -> f64 {
    if propagate_nan && v.iter().any(|x| x.is_nan()) {
        f64::NAN
    } else {
        nan_max(v)
    }
}

macro_rules! sensitivity {
    ($ty:ident, $name:literal, $doc:literal, $reduce:expr) => {
        #[doc = $doc]
        ///
        /// Each of `nr_samples` copies adds `U(−lower_bound, lower_bound)` noise (or
        /// `U(lower_bound, upper_bound)` if an upper bound is set) to every element; the
        /// explanation is recomputed and `‖a − a_s‖₂ / ‖a‖₂` taken (flattened). With
        /// `return_nan_when_prediction_changes`, copies whose arg-max class changed are NaN and
        /// skipped (Quantus then uses the plain max/mean, so one NaN makes the score NaN; that
        /// is what `quantus_compat` does). Lower is better.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct $ty {
            /// Noisy copies per image.
            pub nr_samples: usize,
            /// Noise radius (or lower bound when `upper_bound` is set).
            pub lower_bound: f64,
            /// Optional upper bound of the noise.
            pub upper_bound: Option<f64>,
            /// Mark copies whose predicted class changed as NaN.
            pub return_nan_when_prediction_changes: bool,
            /// Normalise attributions (Quantus: false).
            pub normalise: bool,
            /// Take |a|.
            pub abs: bool,
            /// Reproduce Quantus 0.6.0.
            pub quantus_compat: bool,
            /// Seed of the noise.
            pub seed: u64,
        }

        impl Default for $ty {
            fn default() -> Self {
                Self {
                    nr_samples: 200,
                    lower_bound: 0.2,
                    upper_bound: None,
                    return_nan_when_prediction_changes: false,
                    normalise: false,
                    abs: false,
                    quantus_compat: false,
                    seed: 0,
                }
            }
        }

        impl $ty {
            /// The default noise of this config.
            pub fn noise(&self) -> NoisyCopies {
                let noise = match self.upper_bound {
                    Some(hi) => Noise::Uniform {
                        low: self.lower_bound,
                        high: hi,
                    },
                    None => Noise::Uniform {
                        low: -self.lower_bound,
                        high: self.lower_bound,
                    },
                };
                NoisyCopies {
                    noise,
                    samples: self.nr_samples,
                    seed: self.seed,
                }
            }

            /// Score with a caller-given perturbation instead of the seeded noise.
            pub fn evaluate_with(
                &self,
                ctx: &Context,
                batch: &MetricBatch,
                noise: &dyn Perturbation,
            ) -> Result<MetricResult> {
                positive(self.name(), "nr_samples", self.nr_samples)?;
                let opt = Options {
                    normalise: self.normalise,
                    abs: self.abs,
                    quantus_compat: self.quantus_compat,
                    nan_on_change: self.return_nan_when_prediction_changes,
                    needs_logits: false,
                };
                let copies = per_copy(self.name(), ctx, batch, noise, &opt, |c| {
                    diff_norm(c.a, c.a_s) / l2(c.a.iter().copied())
                })?;
                let propagate = self.quantus_compat && self.return_nan_when_prediction_changes;
                let reduce: fn(&[f64], bool) -> f64 = $reduce;
                let scores = copies.iter().map(|v| reduce(v, propagate)).collect();
                Ok(MetricResult::from_scores(self, scores))
            }
        }

        impl Metric for $ty {
            metric_info!($name, Robustness, Some(false));

            fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
                self.evaluate_with(ctx, batch, &self.noise())
            }
        }
    };
}

sensitivity!(
    MaxSensitivity,
    "max_sensitivity",
    "Max-Sensitivity (Yeh et al. 2019), Quantus' `MaxSensitivity`: the largest relative change.",
    reduce_max
);
sensitivity!(
    AvgSensitivity,
    "avg_sensitivity",
    "Avg-Sensitivity (Yeh et al. 2019), Quantus' `AvgSensitivity`: the mean relative change.",
    |v, propagate| {
        if propagate && v.iter().any(|x| x.is_nan()) {
            f64::NAN
        } else {
            nan_mean(v)
        }
    }
);

/// Local Lipschitz Estimate (Alvarez-Melis & Jaakkola 2018), Quantus' `LocalLipschitzEstimate`:
/// the largest `‖a − a_s‖₂ / (‖x − x_s‖₂ + 1e-10)` over `nr_samples` copies with Gaussian noise
/// `N(perturb_mean, perturb_std²)`. Lower is better.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LocalLipschitzEstimate {
    /// Noisy copies per image.
    pub nr_samples: usize,
    /// Noise mean.
    pub perturb_mean: f64,
    /// Noise standard deviation.
    pub perturb_std: f64,
    /// Mark copies whose predicted class changed as NaN.
    pub return_nan_when_prediction_changes: bool,
    /// Normalise attributions (Quantus: true; here per sample unless `quantus_compat`).
    pub normalise: bool,
    /// Take |a|.
    pub abs: bool,
    /// Reproduce Quantus 0.6.0 (batch-global normalisation of the given attributions).
    pub quantus_compat: bool,
    /// Seed of the noise.
    pub seed: u64,
}

impl Default for LocalLipschitzEstimate {
    fn default() -> Self {
        Self {
            nr_samples: 200,
            perturb_mean: 0.0,
            perturb_std: 0.1,
            return_nan_when_prediction_changes: false,
            normalise: true,
            abs: false,
            quantus_compat: false,
            seed: 0,
        }
    }
}

impl LocalLipschitzEstimate {
    /// The default noise of this config.
    pub fn noise(&self) -> NoisyCopies {
        NoisyCopies {
            noise: Noise::Gaussian {
                mean: self.perturb_mean,
                std: self.perturb_std,
            },
            samples: self.nr_samples,
            seed: self.seed,
        }
    }

    /// Score with a caller-given perturbation instead of the seeded noise.
    pub fn evaluate_with(
        &self,
        ctx: &Context,
        batch: &MetricBatch,
        noise: &dyn Perturbation,
    ) -> Result<MetricResult> {
        positive(self.name(), "nr_samples", self.nr_samples)?;
        let opt = Options {
            normalise: self.normalise,
            abs: self.abs,
            quantus_compat: self.quantus_compat,
            nan_on_change: self.return_nan_when_prediction_changes,
            needs_logits: false,
        };
        let copies = per_copy(self.name(), ctx, batch, noise, &opt, |c| {
            let dx = l2(c.x.iter().zip(c.xs).map(|(a, b)| *a as f64 - *b as f64));
            diff_norm(c.a, c.a_s) / (dx + 1e-10)
        })?;
        let scores = copies.iter().map(|v| nan_max(v)).collect();
        Ok(MetricResult::from_scores(self, scores))
    }
}

impl Metric for LocalLipschitzEstimate {
    metric_info!("local_lipschitz_estimate", Robustness, Some(false));

    fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
        self.evaluate_with(ctx, batch, &self.noise())
    }
}

/// ‖(a − a_s) / a‖ with zero entries of a replaced by `eps` (Agarwal et al.'s relative change).
fn relative_explanation_change(a: &[f64], a_s: &[f64], eps: f64) -> f64 {
    l2(a.iter()
        .zip(a_s)
        .map(|(x, y)| (x - y) / if *x == 0.0 { eps } else { *x }))
}

macro_rules! relative_stability {
    ($ty:ident, $name:literal, $doc:literal, $needs_logits:expr, $denominator:expr) => {
        #[doc = $doc]
        ///
        /// Noise `U(lower_bound, upper_bound)` (Quantus: U(0.02, 0.2)) is added to every
        /// element of `nr_samples` copies; zero entries in element-wise divisions become
        /// `eps_min`, and a zero denominator norm gets `+ eps_min`. Copies whose predicted class
        /// changed are NaN; the score is the max over copies (Quantus' `np.max` lets one NaN
        /// make the score NaN — `quantus_compat`; by default NaN copies are skipped). Lower is
        /// better.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct $ty {
            /// Noisy copies per image.
            pub nr_samples: usize,
            /// Noise lower bound.
            pub lower_bound: f64,
            /// Noise upper bound.
            pub upper_bound: f64,
            /// Stabiliser for zero denominators.
            pub eps_min: f64,
            /// Mark copies whose predicted class changed as NaN (Quantus: true).
            pub return_nan_when_prediction_changes: bool,
            /// Normalise attributions (Quantus: false).
            pub normalise: bool,
            /// Take |a|.
            pub abs: bool,
            /// Reproduce Quantus 0.6.0.
            pub quantus_compat: bool,
            /// Seed of the noise.
            pub seed: u64,
        }

        impl Default for $ty {
            fn default() -> Self {
                Self {
                    nr_samples: 200,
                    lower_bound: 0.02,
                    upper_bound: 0.2,
                    eps_min: 1e-6,
                    return_nan_when_prediction_changes: true,
                    normalise: false,
                    abs: false,
                    quantus_compat: false,
                    seed: 0,
                }
            }
        }

        impl $ty {
            /// The default noise of this config.
            pub fn noise(&self) -> NoisyCopies {
                NoisyCopies {
                    noise: Noise::Uniform {
                        low: self.lower_bound,
                        high: self.upper_bound,
                    },
                    samples: self.nr_samples,
                    seed: self.seed,
                }
            }

            /// Score with a caller-given perturbation instead of the seeded noise.
            pub fn evaluate_with(
                &self,
                ctx: &Context,
                batch: &MetricBatch,
                noise: &dyn Perturbation,
            ) -> Result<MetricResult> {
                positive(self.name(), "nr_samples", self.nr_samples)?;
                let opt = Options {
                    normalise: self.normalise,
                    abs: self.abs,
                    quantus_compat: self.quantus_compat,
                    nan_on_change: self.return_nan_when_prediction_changes,
                    needs_logits: $needs_logits,
                };
                let eps = self.eps_min;
                let denominator: fn(&Copy, f64) -> f64 = $denominator;
                let copies = per_copy(self.name(), ctx, batch, noise, &opt, |c| {
                    let num = relative_explanation_change(c.a, c.a_s, eps);
                    let den = denominator(c, eps);
                    num / if den == 0.0 { eps } else { den }
                })?;
                let scores = copies
                    .iter()
                    .map(|v| reduce_max(v, self.quantus_compat))
                    .collect();
                Ok(MetricResult::from_scores(self, scores))
            }
        }

        impl Metric for $ty {
            metric_info!($name, Robustness, Some(false));

            fn evaluate(&self, ctx: &Context, batch: &MetricBatch) -> Result<MetricResult> {
                self.evaluate_with(ctx, batch, &self.noise())
            }
        }
    };
}

relative_stability!(
    RelativeInputStability,
    "relative_input_stability",
    "Relative Input Stability (Agarwal et al. 2022): `max_s ‖(a − a_s)/a‖ / ‖(x − x_s)/x‖`.",
    false,
    |c, eps| l2(c.x.iter().zip(c.xs).map(|(x, y)| {
        let x = *x as f64;
        (x - *y as f64) / if x == 0.0 { eps } else { x }
    }))
);
relative_stability!(
    RelativeOutputStability,
    "relative_output_stability",
    "Relative Output Stability (Agarwal et al. 2022): `max_s ‖(a − a_s)/a‖ / ‖h(x) − h(x_s)‖` with h the logits.",
    true,
    |c, _| l2(c
        .logits
        .iter()
        .zip(c.logits_s)
        .map(|(a, b)| *a as f64 - *b as f64))
);
