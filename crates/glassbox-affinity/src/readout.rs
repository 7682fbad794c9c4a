//! The explainer's read-out of one matching layer, on the host: `rows · Â` for a few row
//! vectors over the query tokens, where `Â = softmax_j(mean_h S_h)` (or `mean_h S_h` without
//! the softmax) is never materialised.
//!
//! Each row of `Â` is built, used and dropped in one pass over the layer's scores
//! `[N, H, P_q, K·P_s]`, which are read once; on the device the head mean, the softmax and its
//! normalisation would each write and read back a tensor of that size. On CPU this pass is the
//! read-out's whole cost, and it decides whether an explanation costs about one forward pass.
//! The exponential is [`exp`], a polynomial that the compiler vectorises (a libm call per
//! element would not be).

use glassbox_core::HostView;

use crate::matching::AffinityLayer;

/// `out[i, r, j] = Σ_q rows[i, r, q] · Â_i[q, j]`, `[N, R, K·P_s]` host values, for the `R` row
/// vectors `rows` `[N, R, P_q]` of each query `i`: `Â_i` is the softmax over support tokens of
/// the layer's head-mean scores, or the head-mean scores themselves with `use_softmax` false.
/// The layer is consumed: its scores move to the host without a copy when it owns them alone.
pub fn project_rows(layer: AffinityLayer, rows: &[f32], r: usize, use_softmax: bool) -> Vec<f32> {
    let [n, heads, pq, kps] = layer.scores.dims();
    debug_assert_eq!(rows.len(), n * r * pq, "rows must be [N, R, P_q]");
    // Lent, not collected: the scores are the largest tensor of the forward pass.
    let scores = HostView::from_owned(layer.scores);
    let s = scores.values();
    let mut out = vec![0.0f32; n * r * kps];
    let mut row = vec![0.0f32; kps];
    let inv_heads = 1.0 / heads as f32;
    for i in 0..n {
        for q in 0..pq {
            // The sum over heads; the 1/H of the mean is folded into the exponent below.
            let at = |h: usize| ((i * heads + h) * pq + q) * kps;
            row.copy_from_slice(&s[at(0)..at(0) + kps]);
            for h in 1..heads {
                for (m, v) in row.iter_mut().zip(&s[at(h)..at(h) + kps]) {
                    *m += v;
                }
            }
            let scale = if use_softmax {
                let max = max(&row);
                for m in row.iter_mut() {
                    *m = exp((*m - max) * inv_heads);
                }
                1.0 / sum(&row)
            } else {
                inv_heads
            };
            for v in 0..r {
                let w = rows[(i * r + v) * pq + q] * scale;
                if w == 0.0 {
                    continue;
                }
                let o = (i * r + v) * kps;
                for (o, x) in out[o..o + kps].iter_mut().zip(&row) {
                    *o += w * x;
                }
            }
        }
    }
    out
}

/// `e^x` for `x ≤ 0` to within 3e-7 relative (inputs below −87 give `e^−87`, negligible against
/// the row maximum's 1 in a softmax): `2^k · p(r)` with `k` the nearest integer to `x / ln 2`,
/// `r = x − k ln 2` in two parts (Cody–Waite) and `p` the degree-7 Taylor polynomial of `e^r`
/// on `|r| ≤ ln 2 / 2`. Branch-free, so loops over it vectorise.
pub fn exp(x: f32) -> f32 {
    // Adding 1.5·2^23 rounds to an integer in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let k = t - ROUND;
    let r = x - k * LN2_HI - k * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r / 5040.0))))));
    // 2^k from the integer in `t`'s low bits, as an exponent field.
    let two_k = ((t.to_bits() as i32 - ROUND.to_bits() as i32 + 127) << 23) as u32;
    p * f32::from_bits(two_k)
}

/// Maximum in eight interleaved lanes (vectorisable); `v` holds no NaN.
fn max(v: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let chunks = v.chunks_exact(8);
    let rest = chunks
        .remainder()
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    for c in chunks {
        for (m, x) in lanes.iter_mut().zip(c) {
            *m = if *x > *m { *x } else { *m };
        }
    }
    lanes.iter().copied().fold(rest, f32::max)
}

/// Sum in eight interleaved partial sums (vectorisable, and more accurate than one chain).
fn sum(v: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = v.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, x) in lanes.iter_mut().zip(c) {
            *a += x;
        }
    }
    lanes.iter().sum::<f32>() + rest
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::prelude::*;
    use burn::tensor::Distribution;
    use burn::tensor::activation::softmax;
    use glassbox_core::HostTensor;

    /// `rows · softmax_j(mean_h S)` (or the head mean alone) the plain way, on the device.
    fn dense(scores: &Tensor<4>, rows: &[f32], r: usize, use_softmax: bool) -> Vec<f32> {
        let [n, _, pq, kps] = scores.dims();
        let mean = scores.clone().mean_dim(1).reshape([n, pq, kps]);
        let a = if use_softmax { softmax(mean, 2) } else { mean };
        let rows = Tensor::<1>::from_floats(rows, &a.device()).reshape([n, r, pq]);
        HostTensor::from_tensor(&rows.matmul(a)).values
    }

    /// Against the dense computation for 1–4 heads (two queries, 29 support tokens: not a
    /// multiple of the eight lanes), mild and very sharp scores, with and without the softmax.
    #[test]
    fn matches_the_dense_read_out() {
        let device = Device::flex();
        for heads in 1..=4 {
            for scale in [3.0, 300.0] {
                for use_softmax in [true, false] {
                    device.seed(heads as u64);
                    let scores = Tensor::<4>::random(
                        [2, heads, 16, 29],
                        Distribution::Uniform(-scale, scale),
                        &device,
                    );
                    let rows = HostTensor::from_tensor(&Tensor::<3>::random(
                        [2, 3, 16],
                        Distribution::Uniform(0.0, 1.0),
                        &device,
                    ))
                    .values;
                    let want = dense(&scores, &rows, 3, use_softmax);
                    let layer = AffinityLayer {
                        name: "l".into(),
                        scores,
                        query_hw: [4, 4],
                        support_hw: [1, 29],
                    };
                    let got = project_rows(layer, &rows, 3, use_softmax);
                    let top = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                    for (g, w) in got.iter().zip(&want) {
                        assert!(
                            (g - w).abs() <= 1e-5 * top,
                            "{heads} heads, scale {scale}, softmax {use_softmax}: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn exp_is_within_3e_7_of_libm_where_a_softmax_uses_it() {
        let mut worst = 0.0f32;
        for i in 0..=200_000 {
            let x = -87.0 + 87.0 * i as f32 / 200_000.0;
            worst = worst.max(((exp(x) - x.exp()) / x.exp()).abs());
        }
        assert!(worst < 3e-7, "max relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert!(
            exp(-1000.0) > 0.0 && exp(-1000.0) < 2e-38,
            "clamped, not NaN"
        );
    }
}
