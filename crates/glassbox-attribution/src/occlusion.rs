//! Occlusion (Zeiler & Fergus, 2014), with Captum's conventions: a window slides over the
//! spatial dimensions (all channels at once) with a stride; each window position is replaced
//! by the baseline, and `f_c(x) − f_c(x_occluded)` is credited to every element under the
//! window, averaged over the windows that cover it. Elements no window covers get 0.

use burn::prelude::*;
use glassbox_core::{Attribution, Classifier, Error, Result, Target};

use crate::common::{
    batched_target_scores, check_batch_size, repeat_targets, resolve_targets_and_scores,
    validate_inputs,
};

/// Sliding-window occlusion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Occlusion {
    /// Window `[height, width]`.
    pub window: [usize; 2],
    /// Stride `[height, width]`.
    pub stride: [usize; 2],
    /// Value written into the occluded window.
    pub baseline: f32,
    /// Occluded copies per forward pass; `None` evaluates all window positions at once.
    pub batch_size: Option<usize>,
}

impl Default for Occlusion {
    fn default() -> Self {
        Self {
            window: [4, 4],
            stride: [2, 2],
            baseline: 0.0,
            batch_size: Some(64),
        }
    }
}

impl Occlusion {
    /// A window of `window` moved by `stride`, occluding with 0.
    pub fn new(window: [usize; 2], stride: [usize; 2]) -> Self {
        Self {
            window,
            stride,
            ..Self::default()
        }
    }

    /// Attribute `model`'s `target` output on `inputs` `[N, C, H, W]`.
    pub fn attribute<M: Classifier + ?Sized>(
        &self,
        model: &M,
        inputs: Tensor<4>,
        target: &Target,
    ) -> Result<Attribution> {
        validate_inputs(&inputs)?;
        check_batch_size(self.batch_size)?;
        let [n, c, h, w] = inputs.dims();
        let [wh, ww] = self.window;
        let [sh, sw] = self.stride;
        if wh == 0 || ww == 0 || sh == 0 || sw == 0 || wh > h || ww > w {
            return Err(Error::config(format!(
                "occlusion window {:?} / stride {:?} must be >= 1 and fit the {h}x{w} input",
                self.window, self.stride
            )));
        }
        if !self.baseline.is_finite() {
            return Err(Error::config("occlusion baseline must be finite"));
        }
        let (targets, full) = resolve_targets_and_scores(model, &inputs, target)?;
        let device = inputs.device();
        let positions: Vec<(usize, usize)> = (0..=(h - wh) / sh)
            .flat_map(|i| (0..=(w - ww) / sw).map(move |j| (i * sh, j * sw)))
            .collect();

        // Positions are processed in chunks so that the masks and occluded copies of one
        // chunk bound the memory: chunk · N rows per forward pass.
        let per_pass = self.batch_size.unwrap_or(usize::MAX);
        let chunk = (per_pass / n).max(1).min(positions.len());
        let mut total = Tensor::<2>::zeros([n, h * w], &device);
        let mut counts = vec![0f32; h * w];
        for group in positions.chunks(chunk) {
            let p = group.len();
            let mut mask = vec![0f32; p * h * w];
            for (k, &(y0, x0)) in group.iter().enumerate() {
                for y in y0..y0 + wh {
                    for x in x0..x0 + ww {
                        mask[k * h * w + y * w + x] = 1.0;
                        counts[y * w + x] += 1.0;
                    }
                }
            }
            let m = Tensor::<2>::from_data(TensorData::new(mask, [p, h * w]), &device);
            let m5 = m.clone().reshape([1, p, 1, h, w]);
            let x5 = inputs.clone().unsqueeze_dim::<5>(1);
            let occluded = x5.clone() * (m5.clone().neg() + 1.0) + m5 * self.baseline;
            let occluded = occluded.reshape([n * p, c, h, w]);
            let scores = batched_target_scores(
                model,
                occluded,
                &repeat_targets(&targets, p),
                self.batch_size,
            )
            .reshape([n, p]);
            let drop = full.clone().reshape([n, 1]) - scores;
            total = total + drop.matmul(m);
        }
        let inv: Vec<f32> = counts
            .iter()
            .map(|&k| if k > 0.0 { 1.0 / k } else { 0.0 })
            .collect();
        let inv = Tensor::<2>::from_data(TensorData::new(inv, [1, h * w]), &device);
        let rel = (total * inv).reshape([n, 1, h, w]).expand([n, c, h, w]);
        Ok(Attribution::new(rel, targets, "occlusion")?
            .with_parameter("window", self.window.to_vec())
            .with_parameter("stride", self.stride.to_vec())
            .with_parameter("baseline", self.baseline))
    }
}

crate::common::classifier_explainer!(Occlusion);
