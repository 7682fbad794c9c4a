//! Features, orderings and patches: what perturbation metrics remove, and in which order.

use crate::MetricBatch;

/// How attributions map onto input elements.
///
/// * attributions with as many channels as the input: every element is a feature;
/// * one-channel attributions of a multi-channel input: by default every *pixel* is a feature
///   and perturbing it changes all its channels, as the papers do (Bach et al., Samek et al.);
///   with `quantus_compat` the attribution is broadcast and every channel element is its own
///   feature, as Quantus 0.6.0 does (spec §1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureLayout {
    /// Number of features per image.
    pub count: usize,
    /// Input elements per feature (C in pixel mode, else 1).
    group: usize,
    /// Pixels per image (H·W).
    hw: usize,
    /// Attribution values per image.
    attribution_len: usize,
}

impl FeatureLayout {
    /// The layout for `batch`.
    pub fn new(batch: &MetricBatch, quantus_compat: bool) -> Self {
        let [_, c, h, w] = batch.dims();
        let hw = h * w;
        let ac = batch.attribution_channels();
        let pixel_mode = ac == 1 && c > 1 && !quantus_compat;
        Self {
            count: if pixel_mode { hw } else { c * hw },
            group: if pixel_mode { c } else { 1 },
            hw,
            attribution_len: ac * hw,
        }
    }

    /// Input element indices of feature `f`.
    pub fn elements(&self, f: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.group).map(move |c| f + c * self.hw)
    }

    /// Attribution value of every feature (broadcast where needed).
    pub fn values(&self, attribution: &[f64]) -> Vec<f64> {
        (0..self.count)
            .map(|f| attribution[f % self.attribution_len])
            .collect()
    }

    /// Number of perturbation steps of `k` features each (the last may be shorter).
    pub fn steps(&self, k: usize) -> usize {
        self.count.div_ceil(k)
    }
}

/// Feature indices by decreasing value (most relevant first). Ties keep index order, so the
/// result is deterministic (NumPy's `argsort` is not stable).
pub fn descending(values: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&i, &j| values[j].total_cmp(&values[i]));
    idx
}

/// Feature indices by increasing value (least relevant first), ties in index order.
pub fn ascending(values: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    idx
}

/// A rectangular patch of pixels (all channels), rows `r0..r1`, columns `c0..c1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patch {
    /// First row.
    pub r0: usize,
    /// One past the last row.
    pub r1: usize,
    /// First column.
    pub c0: usize,
    /// One past the last column.
    pub c1: usize,
}

impl Patch {
    /// Pixel indices (`row·W + col`) inside the patch.
    pub fn pixels(&self, w: usize) -> impl Iterator<Item = usize> + '_ {
        (self.r0..self.r1).flat_map(move |r| (self.c0..self.c1).map(move |c| r * w + c))
    }
}

/// Non-overlapping `size × size` patches in raster order over an image padded to a multiple of
/// `size` (padding split floor/ceil on both sides, as Quantus' `get_padding_size`), clipped to
/// the image. Equivalent to Quantus' pad-perturb-crop, without the copies.
pub fn grid_patches(h: usize, w: usize, size: usize) -> Vec<Patch> {
    // Total padding to the next multiple, the smaller half before (floor/ceil split).
    let total = |d: usize| (size - d % size) % size;
    let (ph, pw) = (total(h) / 2, total(w) / 2);
    let rows = (h + total(h)) / size;
    let cols = (w + total(w)) / size;
    let mut out = Vec::with_capacity(rows * cols);
    for br in 0..rows {
        for bc in 0..cols {
            let r0 = (br * size).saturating_sub(ph);
            let r1 = ((br + 1) * size - ph).min(h);
            let c0 = (bc * size).saturating_sub(pw);
            let c1 = ((bc + 1) * size - pw).min(w);
            out.push(Patch { r0, r1, c0, c1 });
        }
    }
    out
}

/// Sum of a `[Ca, H, W]` attribution over a patch (all attribution channels).
pub fn patch_sum(attribution: &[f64], hw: usize, w: usize, patch: &Patch) -> f64 {
    let channels = attribution.len() / hw;
    (0..channels)
        .map(|c| {
            patch
                .pixels(w)
                .map(|p| attribution[c * hw + p])
                .sum::<f64>()
        })
        .sum()
}
