//! The explainer's read-out of one matching layer, on the host: `rows · Â` for a few row
//! vectors over the query tokens, where `Â = softmax_j(mean_h S_h)` (or `mean_h S_h` without
//! the softmax) is never materialised.
//!
//! Each row of `Â` is built, used and dropped in one pass over the layer's tensors: the
//! attention weights `[N, H, P_q, K·P_s]` are read once, where the device would write and read
//! back a head-mean, a softmax and a normalisation of the same size. On CPU that pass is the
//! read-out's whole cost, and it decides whether an explanation costs about one forward pass.

use glassbox_core::HostTensor;

use crate::matching::AffinityLayer;

/// Smallest row mass `Σ_j Π_h a_hj^{1/H}` for which a row of the geometric mean of the
/// attention weights is used; below it the row is recomputed exactly from the scores. The mass
/// is at most 1 (AM–GM) and 1 when all heads agree; an entry lost to underflow is below about
/// `1e-11`, negligible against this mass.
pub const MIN_GEOMETRIC_ROW_MASS: f32 = 1e-3;

/// `out[i, r, j] = Σ_q rows[i, r, q] · Â_i[q, j]`, `[N, R, K·P_s]` host values, for the `R` row
/// vectors `rows` `[N, R, P_q]` of each query `i`.
///
/// `softmax_j(mean_h S_h) ∝ exp(mean_h S_h) ∝ Π_h softmax_j(S_h)^{1/H}` within a row (each
/// head's normaliser is constant along it), so when the model hands over its attention
/// weights and `H` is a power of two, a row of `Â` is their geometric mean over heads — a tree
/// of `sqrt(a·b)` — divided by its sum: no exponential. Without attention weights, with other
/// `H`, or for a row whose geometric mean has less mass than [`MIN_GEOMETRIC_ROW_MASS`], the
/// row is the softmax of the head-mean scores. With `use_softmax` false `Â` is the head-mean
/// scores.
pub fn project_rows(layer: AffinityLayer, rows: &[f32], r: usize, use_softmax: bool) -> Vec<f32> {
    project_rows_counting(layer, rows, r, use_softmax).0
}

/// [`project_rows`], and how many rows of `Â` took the exact path.
fn project_rows_counting(
    layer: AffinityLayer,
    rows: &[f32],
    r: usize,
    use_softmax: bool,
) -> (Vec<f32>, usize) {
    let [n, heads, pq, kps] = layer.scores.dims();
    debug_assert_eq!(rows.len(), n * r * pq, "rows must be [N, R, P_q]");
    let mut out = vec![0.0f32; n * r * kps];
    let mut exact: Vec<(usize, usize)> = Vec::new();
    let geometric = use_softmax && heads.is_power_of_two();
    match layer.attention {
        Some(attention) if geometric => {
            let a = HostTensor::from_owned(attention).values;
            let mut tree = vec![0.0f32; heads.div_ceil(2) * kps];
            let mut head_rows: Vec<&[f32]> = Vec::with_capacity(heads);
            for i in 0..n {
                for q in 0..pq {
                    head_rows.clear();
                    head_rows.extend((0..heads).map(|h| {
                        let at = ((i * heads + h) * pq + q) * kps;
                        &a[at..at + kps]
                    }));
                    let g = geometric_mean(&head_rows, &mut tree);
                    let mass = sum(g);
                    if mass < MIN_GEOMETRIC_ROW_MASS {
                        exact.push((i, q));
                        continue;
                    }
                    accumulate(&mut out, rows, (i, q), r, pq, g, 1.0 / mass);
                }
            }
        }
        _ => exact = (0..n).flat_map(|i| (0..pq).map(move |q| (i, q))).collect(),
    }
    let exact_rows = exact.len();
    if exact.is_empty() {
        return (out, 0);
    }
    let s = HostTensor::from_owned(layer.scores).values;
    let mut row = vec![0.0f32; kps];
    for (i, q) in exact {
        row.fill(0.0);
        for h in 0..heads {
            let at = ((i * heads + h) * pq + q) * kps;
            for (m, v) in row.iter_mut().zip(&s[at..at + kps]) {
                *m += v;
            }
        }
        row.iter_mut().for_each(|m| *m /= heads as f32);
        let scale = if use_softmax {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            row.iter_mut().for_each(|m| *m = (*m - max).exp());
            1.0 / row.iter().sum::<f32>()
        } else {
            1.0
        };
        accumulate(&mut out, rows, (i, q), r, pq, &row, scale);
    }
    (out, exact_rows)
}

/// The geometric mean of the rows `heads` (a power of two of them) by a tree of `sqrt(a·b)`:
/// the first level reads the rows, each further one halves the partial results in `tree`
/// (`[heads / 2, kps]` scratch; row `p` becomes `sqrt(row 2p · row 2p+1)`). Returns the slice
/// of `tree` (or the single row) that holds it.
fn geometric_mean<'a>(heads: &[&'a [f32]], tree: &'a mut [f32]) -> &'a [f32] {
    if heads.len() == 1 {
        return heads[0];
    }
    let kps = heads[0].len();
    for (p, pair) in heads.chunks(2).enumerate() {
        sqrt_product(&mut tree[p * kps..(p + 1) * kps], pair[0], pair[1]);
    }
    let mut width = heads.len() / 2;
    while width > 1 {
        width /= 2;
        for p in 0..width {
            // Row p is written after rows 2p and 2p + 1 are read; rows below p are done.
            let (lo, hi) = tree.split_at_mut((2 * p + 1) * kps);
            let b = &hi[..kps];
            if p == 0 {
                lo[..kps]
                    .iter_mut()
                    .zip(b)
                    .for_each(|(x, y)| *x = (*x * y).sqrt());
            } else {
                let (dst, a) = lo.split_at_mut(2 * p * kps);
                sqrt_product(&mut dst[p * kps..(p + 1) * kps], a, b);
            }
        }
    }
    &tree[..kps]
}

/// `dst = sqrt(a · b)` element-wise (`a`, `b` at least as long as `dst`).
fn sqrt_product(dst: &mut [f32], a: &[f32], b: &[f32]) {
    let (a, b) = (&a[..dst.len()], &b[..dst.len()]);
    for ((d, x), y) in dst.iter_mut().zip(a).zip(b) {
        *d = (x * y).sqrt();
    }
}

/// Sum in eight interleaved partial sums (vectorisable, and more accurate than one chain).
fn sum(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = v.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// `out[i, r', :] += rows[i, r', q] · scale · a` for every row vector `r'`.
fn accumulate(
    out: &mut [f32],
    rows: &[f32],
    (i, q): (usize, usize),
    r: usize,
    pq: usize,
    a: &[f32],
    scale: f32,
) {
    let kps = a.len();
    for v in 0..r {
        let w = rows[(i * r + v) * pq + q] * scale;
        if w == 0.0 {
            continue;
        }
        let at = (i * r + v) * kps;
        for (o, x) in out[at..at + kps].iter_mut().zip(a) {
            *o += w * x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::prelude::*;
    use burn::tensor::Distribution;
    use burn::tensor::activation::softmax;

    fn layer(heads: usize, scale: f64, attention: bool, device: &Device) -> AffinityLayer {
        let scores = Tensor::<4>::random(
            [2, heads, 16, 32],
            Distribution::Uniform(-scale, scale),
            device,
        );
        AffinityLayer {
            name: "l".into(),
            attention: attention.then(|| softmax(scores.clone(), 3)),
            scores,
            query_hw: [4, 4],
            support_hw: [4, 8],
        }
    }

    /// `rows · softmax_j(mean_h S)` (or the head mean alone) the plain way, on the device.
    fn dense(layer: &AffinityLayer, rows: &[f32], r: usize, use_softmax: bool) -> Vec<f32> {
        let [n, _, pq, kps] = layer.scores.dims();
        let mean = layer.scores.clone().mean_dim(1).reshape([n, pq, kps]);
        let a = if use_softmax { softmax(mean, 2) } else { mean };
        let rows = Tensor::<1>::from_floats(rows, &a.device()).reshape([n, r, pq]);
        HostTensor::from_tensor(&rows.matmul(a)).values
    }

    fn check(heads: usize, scale: f64, attention: bool, use_softmax: bool) -> usize {
        let device = Device::flex();
        device.seed(heads as u64 + 10 * scale as u64);
        let layer = layer(heads, scale, attention, &device);
        let rows = HostTensor::from_tensor(&Tensor::<3>::random(
            [2, 3, 16],
            Distribution::Uniform(0.0, 1.0),
            &device,
        ))
        .values;
        let want = dense(&layer, &rows, 3, use_softmax);
        let (got, exact) = project_rows_counting(layer, &rows, 3, use_softmax);
        let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-4 * scale,
                "heads {heads}, scale {scale}, attention {attention}, softmax {use_softmax}: \
                 entry {i} is {g}, want {w}"
            );
        }
        exact
    }

    /// Mildly different heads take the geometric-mean path for every row; sharp, disagreeing
    /// heads leave rows with too little mass, which are recomputed exactly; layers without
    /// attention weights, with three heads or without the softmax are exact throughout. All
    /// agree with the dense computation.
    #[test]
    fn every_path_matches_the_dense_read_out() {
        assert_eq!(check(4, 3.0, true, true), 0, "mild heads: no exact row");
        assert_eq!(check(1, 3.0, true, true), 0);
        assert_eq!(check(2, 3.0, true, true), 0);
        let sharp = check(4, 300.0, true, true);
        assert!(
            sharp > 0,
            "sharp, disagreeing heads fall back to the exact rows"
        );
        assert_eq!(
            check(3, 3.0, true, true),
            2 * 16,
            "three heads: all rows exact"
        );
        assert_eq!(
            check(4, 3.0, false, true),
            2 * 16,
            "no attention: all rows exact"
        );
        check(4, 3.0, true, false);
    }

    #[test]
    fn geometric_mean_of_four_rows() {
        let rows: [&[f32]; 4] = [&[1.0, 2.0], &[4.0, 8.0], &[16.0, 1.0], &[1.0, 0.5]];
        let mut tree = vec![0.0; 4];
        let g = geometric_mean(&rows, &mut tree).to_vec();
        let want = [
            (1.0f32 * 4.0 * 16.0 * 1.0).powf(0.25),
            (2.0f32 * 8.0 * 1.0 * 0.5).powf(0.25),
        ];
        for (g, w) in g.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
    }
}
