//! Bilinear resizing as matrices, so the explainer can upsample, and take the adjoint of an
//! upsampling, with matrix products.
//!
//! PyTorch's bilinear `interpolate(align_corners=False)` (what the reference explainer uses)
//! is separable and linear: `U(x) = U_y · x · U_xᵀ` with one 1-D interpolation matrix per axis.

use burn::prelude::*;

/// The `[to, from]` matrix of 1-D linear interpolation with half-pixel centres and edge
/// clamping (PyTorch `align_corners=False`, no antialiasing).
pub fn interpolation_matrix(from: usize, to: usize) -> Vec<f32> {
    let mut m = vec![0.0f32; to * from];
    let scale = from as f64 / to as f64;
    for i in 0..to {
        let c = ((i as f64 + 0.5) * scale - 0.5).max(0.0);
        let i0 = (c.floor() as usize).min(from - 1);
        let i1 = (i0 + 1).min(from - 1);
        let f = (c - i0 as f64) as f32;
        m[i * from + i0] += 1.0 - f;
        m[i * from + i1] += f;
    }
    m
}

/// For each of the `to` output coordinates of a 1-D interpolation from `from`, its source
/// coordinates with non-zero weight and those weights (at most two).
fn taps(from: usize, to: usize) -> Vec<Vec<(usize, f32)>> {
    let m = interpolation_matrix(from, to);
    (0..to)
        .map(|i| {
            (0..from)
                .filter(|&j| m[i * from + j] != 0.0)
                .map(|j| (j, m[i * from + j]))
                .collect()
        })
        .collect()
}

/// [`resize_bilinear`] on host values: `x` holds `B` images `[h, w]` (row-major); returns `B`
/// images `[H, W]`. Each output pixel reads at most four sources, so this costs a few
/// operations per output pixel: for small maps that are wanted on the host anyway.
pub fn resize_bilinear_host(x: &[f32], [h, w]: [usize; 2], [h_out, w_out]: [usize; 2]) -> Vec<f32> {
    if [h, w] == [h_out, w_out] {
        return x.to_vec();
    }
    let (rows, cols) = (taps(h, h_out), taps(w, w_out));
    let mut out = Vec::with_capacity(x.len() / (h * w) * h_out * w_out);
    for src in x.chunks(h * w) {
        for row in &rows {
            for col in &cols {
                let mut v = 0.0f32;
                for &(y, wy) in row {
                    for &(x, wx) in col {
                        v += wy * wx * src[y * w + x];
                    }
                }
                out.push(v);
            }
        }
    }
    out
}

/// The source pixels (flat indices into `[h, w]`, sorted, each once) that a bilinear resize
/// `[h, w] → [H, W]` ([`resize_bilinear`]) reads with non-zero weight for the output pixels
/// `pixels` (flat indices into `[H, W]`).
pub fn resize_sources([h, w]: [usize; 2], to: [usize; 2], pixels: &[usize]) -> Vec<usize> {
    resize_taps([h, w], to, pixels).sources
}

/// How a bilinear resize `[h, w] → [H, W]` ([`resize_bilinear`]) makes some of its output
/// pixels: each is a weighted sum of at most four source pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct ResizeTaps {
    /// The source pixels read (flat indices into `[h, w]`, sorted, each once).
    pub sources: Vec<usize>,
    /// Four positions into `sources` per output pixel (a pixel with fewer sources repeats
    /// one with weight zero).
    pub index: Vec<usize>,
    /// The four weights per output pixel, matching `index`.
    pub weights: Vec<f32>,
}

/// [`ResizeTaps`] of the output pixels `pixels` (flat indices into `[H, W]`) of a bilinear
/// resize `[h, w] → [H, W]`.
pub fn resize_taps([h, w]: [usize; 2], [h_out, w_out]: [usize; 2], pixels: &[usize]) -> ResizeTaps {
    let (rows, cols) = (taps(h, h_out), taps(w, w_out));
    let mut position = vec![usize::MAX; h * w];
    for &p in pixels {
        for &(y, _) in &rows[p / w_out] {
            for &(x, _) in &cols[p % w_out] {
                position[y * w + x] = 0;
            }
        }
    }
    let sources: Vec<usize> = (0..h * w).filter(|&q| position[q] == 0).collect();
    for (i, &q) in sources.iter().enumerate() {
        position[q] = i;
    }
    let mut index = Vec::with_capacity(4 * pixels.len());
    let mut weights = Vec::with_capacity(4 * pixels.len());
    for &p in pixels {
        let start = index.len();
        for &(y, wy) in &rows[p / w_out] {
            for &(x, wx) in &cols[p % w_out] {
                index.push(position[y * w + x]);
                weights.push(wy * wx);
            }
        }
        let first = index[start];
        index.resize(start + 4, first);
        weights.resize(start + 4, 0.0);
    }
    ResizeTaps {
        sources,
        index,
        weights,
    }
}

/// The resized rows: `x` `[B, S, C]` holds, per item, the channels-last values at the
/// `S = taps.sources.len()` source pixels of `taps`; returns `[B, P, C]`, the bilinear
/// resize at its `P` output pixels. One gather of four rows per output pixel and a weighted
/// sum: for a caller that needs a few output pixels of a resize, and has its input only at
/// their sources.
pub fn resize_rows(x: Tensor<3>, taps: &ResizeTaps) -> Tensor<3> {
    let [b, s, c] = x.dims();
    let p = taps.weights.len() / 4;
    let device = x.device();
    let index: Vec<i64> = (0..b)
        .flat_map(|i| taps.index.iter().map(move |&j| (i * s + j) as i64))
        .collect();
    let index = Tensor::<1, Int>::from_ints(index.as_slice(), &device);
    let weights = Tensor::<1>::from_floats(taps.weights.as_slice(), &device)
        .reshape([1, 4 * p, 1])
        .expand([b, 4 * p, 1])
        .reshape([b * 4 * p, 1]);
    (x.reshape([b * s, c]).select(0, index) * weights)
        .reshape([b * p, 4, c])
        .sum_dim(1)
        .reshape([b, p, c])
}

/// [`interpolation_matrix`] as a tensor `[to, from]` on `device`.
pub fn interpolation_tensor(from: usize, to: usize, device: &Device) -> Tensor<2> {
    Tensor::<1>::from_floats(interpolation_matrix(from, to).as_slice(), device).reshape([to, from])
}

/// Bilinear resize of `x` `[B, h, w]` to `[B, H, W]` by `U_y x U_xᵀ`.
pub fn resize_bilinear(x: Tensor<3>, [h_out, w_out]: [usize; 2]) -> Tensor<3> {
    let [b, h, w] = x.dims();
    if [h, w] == [h_out, w_out] {
        return x;
    }
    let device = x.device();
    let uy = interpolation_tensor(h, h_out, &device)
        .unsqueeze_dim::<3>(0)
        .repeat_dim(0, b);
    let uxt = interpolation_tensor(w, w_out, &device)
        .transpose()
        .unsqueeze_dim::<3>(0)
        .repeat_dim(0, b);
    uy.matmul(x).matmul(uxt)
}

/// [`resize_bilinear`] of channels-last maps `[B, h, w, C]` to `[B, H, W, C]`, with the
/// channels kept last: one product with `U_y` over the rows of every `[w·C]` row block, one
/// with `U_x` over the columns of every `[C]` pixel.
pub fn resize_bilinear_channels_last(x: Tensor<4>, [h_out, w_out]: [usize; 2]) -> Tensor<4> {
    let [b, h, w, c] = x.dims();
    if [h, w] == [h_out, w_out] {
        return x;
    }
    let device = x.device();
    let uy = interpolation_tensor(h, h_out, &device)
        .unsqueeze_dim::<3>(0)
        .expand([b, h_out, h]);
    let rows = uy.matmul(x.reshape([b, h, w * c]));
    let ux = interpolation_tensor(w, w_out, &device)
        .unsqueeze_dim::<3>(0)
        .expand([b * h_out, w_out, w]);
    ux.matmul(rows.reshape([b * h_out, w, c]))
        .reshape([b, h_out, w_out, c])
}

/// The adjoint of upsampling `[h, w] → [H, W]` applied to `x` `[B, H, W]`: `U_yᵀ x U_x`,
/// `[B, h, w]`. `⟨U(a), x⟩ = ⟨a, Uᵀ(x)⟩` for every `a`.
pub fn resize_adjoint(x: Tensor<3>, [h, w]: [usize; 2]) -> Tensor<3> {
    let [b, h_big, w_big] = x.dims();
    let device = x.device();
    let uyt = interpolation_tensor(h, h_big, &device)
        .transpose()
        .unsqueeze_dim::<3>(0)
        .repeat_dim(0, b);
    let ux = interpolation_tensor(w, w_big, &device)
        .unsqueeze_dim::<3>(0)
        .repeat_dim(0, b);
    uyt.matmul(x).matmul(ux)
}

/// [`resize_adjoint`] on host values: `x` holds `B` images `[H, W]` (row-major, `B·H·W`
/// values); returns `B` images `[h, w]`. Each output coordinate of a bilinear upsampling reads
/// at most two source coordinates per axis, so this is a scatter of each pixel over at most
/// four sources: for callers that need the result on the host anyway (pixel selection) or
/// whose `x` is a small mask, cheaper than two batched matrix products on the device.
pub fn resize_adjoint_host(x: &[f32], [h_big, w_big]: [usize; 2], [h, w]: [usize; 2]) -> Vec<f32> {
    let (rows, cols) = (taps(h, h_big), taps(w, w_big));
    let images = x.len() / (h_big * w_big);
    let mut out = vec![0.0f32; images * h * w];
    for (image, src) in x.chunks(h_big * w_big).enumerate() {
        let dst = &mut out[image * h * w..(image + 1) * h * w];
        for (y, row) in src.chunks(w_big).enumerate() {
            for (x, &v) in row.iter().enumerate() {
                if v == 0.0 {
                    continue;
                }
                for &(i, wy) in &rows[y] {
                    for &(j, wx) in &cols[x] {
                        dst[i * w + j] += wy * wx * v;
                    }
                }
            }
        }
    }
    out
}

/// `Uᵀ 1`: how much of an upsampling `[h, w] → [H, W]` each source pixel feeds, `[h, w]`
/// (the adjoint of the upsampling applied to an all-ones image, computed on the host as the
/// outer product of the interpolation matrices' column sums).
pub fn upsampling_mass(
    [h, w]: [usize; 2],
    [h_big, w_big]: [usize; 2],
    device: &Device,
) -> Tensor<2> {
    let mass = upsampling_mass_values([h, w], [h_big, w_big]);
    Tensor::<1>::from_floats(mass.as_slice(), device).reshape([h, w])
}

/// [`upsampling_mass`] as host values (row-major `[h, w]`).
pub fn upsampling_mass_values([h, w]: [usize; 2], [h_big, w_big]: [usize; 2]) -> Vec<f32> {
    let column_sums = |from: usize, to: usize| {
        let m = interpolation_matrix(from, to);
        (0..from)
            .map(|j| (0..to).map(|i| m[i * from + j]).sum::<f32>())
            .collect::<Vec<f32>>()
    };
    let (ys, xs) = (column_sums(h, h_big), column_sums(w, w_big));
    ys.iter()
        .flat_map(|y| xs.iter().map(move |x| y * x))
        .collect()
}
