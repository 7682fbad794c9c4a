//! RISE: Randomized Input Sampling for Explanation (Petsiuk, Das & Saenko, BMVC 2018).
//!
//! `S_c(x) = 1/(N·p) Σ_i f_c(x ⊙ M_i) · M_i`, where each mask `M_i` is a random binary
//! `cells × cells` grid (cells kept with probability `p`), bilinearly upsampled to
//! `(cells + 1)` cell sizes and cropped at a random offset so that mask edges fall anywhere.
//! `f_c` is the softmax probability of the target class, as in the paper. Masks are made on
//! the host from a seed and evaluated `batch_size` masked copies per forward pass.

use burn::prelude::*;
use burn::tensor::activation::softmax;
use glassbox_core::rng::SplitMix64;
use glassbox_core::{Attribution, Classifier, Error, Result, Target};

use crate::common::{check_batch_size, check_logits, one_hot, resolve_targets, validate_inputs};

/// RISE with `masks` random masks of a `cells × cells` grid kept with probability `p`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rise {
    /// Number of random masks (the paper uses 4000 for ImageNet; fewer suffice for 28×28).
    pub masks: usize,
    /// Grid resolution before upsampling (the paper's `s`, default 7).
    pub cells: usize,
    /// Probability of keeping a cell (default 0.5).
    pub p: f32,
    /// Seed of the masks.
    pub seed: u64,
    /// Masked copies per forward pass.
    pub batch_size: Option<usize>,
}

impl Default for Rise {
    fn default() -> Self {
        Self {
            masks: 1000,
            cells: 7,
            p: 0.5,
            seed: 0,
            batch_size: Some(256),
        }
    }
}

/// `count` RISE masks of `h × w`, row-major, values in [0, 1].
pub fn rise_masks(
    count: usize,
    cells: usize,
    p: f32,
    h: usize,
    w: usize,
    rng: &mut SplitMix64,
) -> Vec<f32> {
    // Cell size in pixels (ceil), and the upsampled grid of (cells + 1) cells it is cut from.
    let (ch, cw) = (h.div_ceil(cells) as f32, w.div_ceil(cells) as f32);
    let mut out = Vec::with_capacity(count * h * w);
    let side = cells + 1;
    for _ in 0..count {
        let grid: Vec<f32> = (0..side * side)
            .map(|_| if rng.unit() < p { 1.0 } else { 0.0 })
            .collect();
        let (oy, ox) = (rng.unit() * ch, rng.unit() * cw);
        for y in 0..h {
            // Position in grid coordinates; cell centres sit at (k + 0.5) · cell size.
            let gy = ((y as f32 + oy + 0.5) / ch - 0.5).clamp(0.0, (side - 1) as f32);
            let (y0, fy) = (gy.floor() as usize, gy.fract());
            let y1 = (y0 + 1).min(side - 1);
            for x in 0..w {
                let gx = ((x as f32 + ox + 0.5) / cw - 0.5).clamp(0.0, (side - 1) as f32);
                let (x0, fx) = (gx.floor() as usize, gx.fract());
                let x1 = (x0 + 1).min(side - 1);
                let top = grid[y0 * side + x0] * (1.0 - fx) + grid[y0 * side + x1] * fx;
                let bottom = grid[y1 * side + x0] * (1.0 - fx) + grid[y1 * side + x1] * fx;
                out.push(top * (1.0 - fy) + bottom * fy);
            }
        }
    }
    out
}

impl Rise {
    /// Attribute `model`'s `target` output on `inputs`; returns `[N, 1, H, W]`.
    pub fn attribute<M: Classifier + ?Sized>(
        &self,
        model: &M,
        inputs: Tensor<4>,
        target: &Target,
    ) -> Result<Attribution> {
        validate_inputs(&inputs)?;
        check_batch_size(self.batch_size)?;
        if self.masks == 0 || self.cells == 0 || !(self.p > 0.0 && self.p <= 1.0) {
            return Err(Error::config(format!(
                "RISE needs masks >= 1, cells >= 1 and 0 < p <= 1, got {self:?}"
            )));
        }
        let targets = resolve_targets(model, &inputs, target)?;
        let [n, c, h, w] = inputs.dims();
        let device = inputs.device();
        let mut rng = SplitMix64::new(self.seed);
        let per_pass = self.batch_size.unwrap_or(usize::MAX);
        let chunk = (per_pass / n).max(1).min(self.masks);
        let mut total = Tensor::<2>::zeros([n, h * w], &device);
        let mut done = 0;
        while done < self.masks {
            let m = chunk.min(self.masks - done);
            let masks = rise_masks(m, self.cells, self.p, h, w, &mut rng);
            let masks = Tensor::<2>::from_data(TensorData::new(masks, [m, h * w]), &device);
            let masked =
                inputs.clone().unsqueeze_dim::<5>(1) * masks.clone().reshape([1, m, 1, h, w]);
            let logits = model.logits(masked.reshape([n * m, c, h, w]));
            check_logits(&logits, n * m)?;
            let k = logits.dims()[1];
            let rows: Vec<usize> = targets
                .iter()
                .flat_map(|&t| std::iter::repeat_n(t, m))
                .collect();
            let probs = (softmax(logits, 1) * one_hot(&rows, k, &device)).sum_dim(1);
            total = total + probs.reshape([n, m]).matmul(masks);
            done += m;
        }
        let rel = (total / (self.masks as f32 * self.p)).reshape([n, 1, h, w]);
        Ok(Attribution::new(rel, targets, "rise")?
            .with_parameter("masks", self.masks)
            .with_parameter("cells", self.cells)
            .with_parameter("p", self.p)
            .with_parameter("seed", self.seed))
    }
}

crate::common::classifier_explainer!(Rise);
