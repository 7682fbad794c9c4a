//! Small statistics every metric shares: correlations, AUC rules, SSIM, NaN-aware reductions.

/// Pearson correlation; NaN when either side is constant (as SciPy, which also warns).
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return f64::NAN;
    }
    let ma = a[..n].iter().sum::<f64>() / n as f64;
    let mb = b[..n].iter().sum::<f64>() / n as f64;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (da, db) = (a[i] - ma, b[i] - mb);
        sab += da * db;
        saa += da * da;
        sbb += db * db;
    }
    if saa == 0.0 || sbb == 0.0 {
        return f64::NAN;
    }
    (sab / (saa.sqrt() * sbb.sqrt())).clamp(-1.0, 1.0)
}

/// Ranks starting at 1, ties sharing their average rank (SciPy's `rankdata(method="average")`).
pub fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = r;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman rank correlation (Pearson of average ranks).
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&average_ranks(a), &average_ranks(b))
}

/// Trapezoid rule with unit spacing (NumPy's `trapz(y, dx=1)`, Quantus' `calculate_auc`):
/// a curve of n points covers n − 1 unit intervals.
pub fn trapz(y: &[f64]) -> f64 {
    y.windows(2).map(|w| (w[0] + w[1]) / 2.0).sum()
}

/// Trapezoid rule on x ∈ [0, 1] (RISE's `auc`): `(Σy − y₀/2 − yₙ/2) / (n − 1)`.
pub fn normalised_auc(y: &[f64]) -> f64 {
    if y.len() < 2 {
        return y.first().copied().unwrap_or(f64::NAN);
    }
    trapz(y) / (y.len() - 1) as f64
}

/// Area under the ROC curve of `scores` against binary `labels` (ties count one half, which
/// is what scikit-learn's `roc_curve` + `auc` compute). NaN if one class is absent.
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> f64 {
    let pos = labels.iter().filter(|&&l| l).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return f64::NAN;
    }
    // Mann–Whitney U from average ranks.
    let ranks = average_ranks(scores);
    let rank_sum: f64 = labels
        .iter()
        .zip(&ranks)
        .filter(|(l, _)| **l)
        .map(|(_, r)| r)
        .sum();
    let u = rank_sum - (pos * (pos + 1)) as f64 / 2.0;
    u / (pos * neg) as f64
}

/// Mean of the finite values; NaN if there are none.
pub fn nan_mean(v: &[f64]) -> f64 {
    let (s, n) = v
        .iter()
        .filter(|x| !x.is_nan())
        .fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { f64::NAN } else { s / n as f64 }
}

/// Largest non-NaN value; NaN if there is none.
pub fn nan_max(v: &[f64]) -> f64 {
    v.iter()
        .filter(|x| !x.is_nan())
        .fold(f64::NAN, |m, &x| if m.is_nan() || x > m { x } else { m })
}

/// Euclidean norm.
pub fn l2(v: impl IntoIterator<Item = f64>) -> f64 {
    v.into_iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Structural similarity of two flat vectors as `skimage.metrics.structural_similarity` computes
/// it for 1-D inputs with its defaults (7-wide uniform window, reflect boundary, sample
/// covariance, K1 = 0.01, K2 = 0.03, mean over the window-cropped interior), with
/// `data_range = max(a ∪ b) − min(a ∪ b)` as Quantus passes it.
pub fn ssim(a: &[f64], b: &[f64]) -> f64 {
    const WIN: usize = 7;
    let n = a.len();
    if n < WIN || b.len() != n {
        return f64::NAN;
    }
    let (lo, hi) = a
        .iter()
        .chain(b)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    let range = hi - lo;
    let filt = |v: &dyn Fn(usize) -> f64| -> Vec<f64> {
        // scipy.ndimage.uniform_filter, mode "reflect" (d c b a | a b c d | d c b a).
        let at = |i: isize| -> f64 {
            let n = n as isize;
            let mut j = i;
            while j < 0 || j >= n {
                j = if j < 0 { -j - 1 } else { 2 * n - j - 1 };
            }
            v(j as usize)
        };
        (0..n as isize)
            .map(|i| (i - 3..=i + 3).map(at).sum::<f64>() / WIN as f64)
            .collect()
    };
    let ux = filt(&|i| a[i]);
    let uy = filt(&|i| b[i]);
    let uxx = filt(&|i| a[i] * a[i]);
    let uyy = filt(&|i| b[i] * b[i]);
    let uxy = filt(&|i| a[i] * b[i]);
    let cov_norm = WIN as f64 / (WIN as f64 - 1.0);
    let c1 = (0.01 * range).powi(2);
    let c2 = (0.03 * range).powi(2);
    let pad = (WIN - 1) / 2;
    let s: Vec<f64> = (pad..n - pad)
        .map(|i| {
            let vx = cov_norm * (uxx[i] - ux[i] * ux[i]);
            let vy = cov_norm * (uyy[i] - uy[i] * uy[i]);
            let vxy = cov_norm * (uxy[i] - ux[i] * uy[i]);
            ((2.0 * ux[i] * uy[i] + c1) * (2.0 * vxy + c2))
                / ((ux[i] * ux[i] + uy[i] * uy[i] + c1) * (vx + vy + c2))
        })
        .collect();
    s.iter().sum::<f64>() / s.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_and_spearman_known_values() {
        let a = [1.0, 2.0, 3.0, 4.0];
        assert!((pearson(&a, &[2.0, 4.0, 6.0, 8.0]) - 1.0).abs() < 1e-12);
        assert!((pearson(&a, &[4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert!(pearson(&a, &[1.0; 4]).is_nan());
        // Monotone but non-linear: Spearman 1, Pearson < 1.
        let b = [1.0, 8.0, 27.0, 64.0];
        assert!((spearman(&a, &b) - 1.0).abs() < 1e-12);
        assert!(pearson(&a, &b) < 0.99);
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
    }

    #[test]
    fn auc_rules() {
        assert_eq!(trapz(&[1.0, 1.0, 1.0]), 2.0);
        assert_eq!(normalised_auc(&[1.0, 1.0, 1.0]), 1.0);
        assert_eq!(normalised_auc(&[1.0, 0.0]), 0.5);
        assert_eq!(
            roc_auc(&[false, false, true, true], &[0.1, 0.2, 0.3, 0.4]),
            1.0
        );
        assert_eq!(
            roc_auc(&[true, true, false, false], &[0.1, 0.2, 0.3, 0.4]),
            0.0
        );
        assert_eq!(roc_auc(&[true, false], &[0.5, 0.5]), 0.5);
        assert!(roc_auc(&[true, true], &[0.5, 0.4]).is_nan());
    }

    #[test]
    fn ssim_identity_and_bounds() {
        let a: Vec<f64> = (0..20).map(|i| (i as f64 * 0.7).sin()).collect();
        assert!((ssim(&a, &a) - 1.0).abs() < 1e-12);
        let b: Vec<f64> = (0..20).map(|i| (i as f64 * 1.3).cos()).collect();
        let s = ssim(&a, &b);
        assert!(s < 0.9 && (s - ssim(&b, &a)).abs() < 1e-12);
        // The data range comes from both inputs, so a common scale cancels.
        let a3: Vec<f64> = a.iter().map(|v| 3.0 * v).collect();
        let b3: Vec<f64> = b.iter().map(|v| 3.0 * v).collect();
        assert!((ssim(&a3, &b3) - s).abs() < 1e-12);
    }
}
