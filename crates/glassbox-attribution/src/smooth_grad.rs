//! SmoothGrad (Smilkov et al., 2017), SmoothGrad² and VarGrad (Adebayo et al., 2018):
//! statistics of the input gradient over Gaussian-perturbed copies of the input.

use burn::prelude::*;
use burn::tensor::Distribution;
use glassbox_core::{Attribution, Classifier, Error, Result, Target};
use serde::{Deserialize, Serialize};

use crate::common::{
    batched_target_gradients, check_batch_size, repeat_rows, repeat_targets, resolve_targets,
    validate_inputs,
};

/// Which statistic of the noisy gradients to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NoiseStatistic {
    /// Mean gradient (SmoothGrad).
    #[default]
    SmoothGrad,
    /// Mean squared gradient (SmoothGrad²).
    SmoothGradSquared,
    /// Variance of the gradient (VarGrad), `E[g²] − E[g]²`.
    VarGrad,
}

/// SmoothGrad-family attribution.
#[derive(Debug, Clone)]
pub struct SmoothGrad {
    /// Noisy copies per input (default 50).
    pub samples: usize,
    /// Standard deviation of the Gaussian noise, in input units (as Captum's `stdevs`).
    pub stdev: f32,
    /// Statistic to return.
    pub statistic: NoiseStatistic,
    /// Seed of the device RNG for the noise; `None` leaves the RNG as it is.
    pub seed: Option<u64>,
    /// Rows per forward/backward pass (default 64); `None` evaluates all `N × samples` at once.
    pub batch_size: Option<usize>,
}

impl Default for SmoothGrad {
    fn default() -> Self {
        Self {
            samples: 50,
            stdev: 0.15,
            statistic: NoiseStatistic::SmoothGrad,
            seed: Some(0),
            // Bounds memory for large inputs; on SmallCnn/flex 32, 64 or all 400 rows per
            // pass timed the same within noise.
            batch_size: Some(64),
        }
    }
}

impl SmoothGrad {
    /// Attribute `model`'s `target` output on `inputs` `[N, C, H, W]`.
    pub fn attribute<M: Classifier + ?Sized>(
        &self,
        model: &M,
        inputs: Tensor<4>,
        target: &Target,
    ) -> Result<Attribution> {
        validate_inputs(&inputs)?;
        check_batch_size(self.batch_size)?;
        if self.samples == 0 {
            return Err(Error::config("SmoothGrad needs at least one sample"));
        }
        if !(self.stdev.is_finite() && self.stdev >= 0.0) {
            return Err(Error::config(format!(
                "SmoothGrad stdev must be finite and >= 0, got {}",
                self.stdev
            )));
        }
        let targets = resolve_targets(model, &inputs, target)?;
        let [n, c, h, w] = inputs.dims();
        let s = self.samples;
        let device = inputs.device();
        if let Some(seed) = self.seed {
            device.seed(seed);
        }
        let noisy = repeat_rows(inputs, s)
            + Tensor::random(
                [n * s, c, h, w],
                Distribution::Normal(0.0, self.stdev as f64),
                &device,
            );
        let (g, _) =
            batched_target_gradients(model, noisy, &repeat_targets(&targets, s), self.batch_size);
        let g = g.reshape([n, s, c, h, w]);
        let mean = |t: Tensor<5>| t.mean_dim(1).squeeze_dim::<4>(1);
        let rel = match self.statistic {
            NoiseStatistic::SmoothGrad => mean(g),
            NoiseStatistic::SmoothGradSquared => mean(g.square()),
            NoiseStatistic::VarGrad => mean(g.clone().square()) - mean(g).square(),
        };
        let name = match self.statistic {
            NoiseStatistic::SmoothGrad => "smoothgrad",
            NoiseStatistic::SmoothGradSquared => "smoothgrad_sq",
            NoiseStatistic::VarGrad => "vargrad",
        };
        Ok(Attribution::new(rel, targets, name)?
            .with_parameter("samples", self.samples)
            .with_parameter("stdev", self.stdev)
            .with_parameter("seed", self.seed))
    }
}

crate::common::classifier_explainer!(SmoothGrad);
