//! Interpretable surrogate models: the weighted linear fits LIME explains a model with.
//!
//! [`lasso`] minimises scikit-learn's `Lasso` objective with sample weights,
//!
//! `1 / (2 Σ_i w_i) · Σ_i w_i (y_i − b − x_i·β)² + α ‖β‖₁`,
//!
//! with an unpenalised intercept `b`, by cyclic coordinate descent on the weighted-centred data
//! (as scikit-learn does), run to a much tighter tolerance than scikit-learn's default so the
//! result is the optimum itself. Captum's `Lime` trains exactly this model by default
//! (`SkLearnLasso(alpha=0.01)`). `alpha = 0` gives weighted least squares.

use glassbox_core::{Error, Result};

/// A fitted linear surrogate `y ≈ intercept + Σ_j coef_j x_j`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearFit {
    /// One coefficient per feature.
    pub coef: Vec<f64>,
    /// The intercept.
    pub intercept: f64,
}

/// Weighted Lasso of `y` (`n`) on `x` (`n × p`, row-major) with sample weights `weight`
/// (`n`, non-negative, not all zero) and penalty `alpha ≥ 0`.
pub fn lasso(x: &[f64], y: &[f64], weight: &[f64], p: usize, alpha: f64) -> Result<LinearFit> {
    let n = y.len();
    if n == 0 || p == 0 || x.len() != n * p || weight.len() != n {
        return Err(Error::shape(
            "Lasso data",
            format!("x of {n} × {p}, y and weights of {n} (none empty)"),
            &[x.len(), y.len(), weight.len()],
        ));
    }
    let bad = x
        .iter()
        .chain(y)
        .chain(weight)
        .filter(|v| !v.is_finite())
        .count();
    if bad > 0 {
        return Err(Error::NonFinite {
            what: "Lasso data".into(),
            count: bad,
        });
    }
    let total: f64 = weight.iter().sum();
    if weight.iter().any(|w| *w < 0.0) || total <= 0.0 || !(alpha.is_finite() && alpha >= 0.0) {
        return Err(Error::config(format!(
            "Lasso needs non-negative weights with a positive sum and alpha >= 0, got weight \
             sum {total} and alpha {alpha}"
        )));
    }
    // Weighted centring: the intercept is then ȳ − x̄·β.
    let x_mean: Vec<f64> = (0..p)
        .map(|j| (0..n).map(|i| weight[i] * x[i * p + j]).sum::<f64>() / total)
        .collect();
    let y_mean = (0..n).map(|i| weight[i] * y[i]).sum::<f64>() / total;
    let xc: Vec<f64> = (0..n * p).map(|k| x[k] - x_mean[k % p]).collect();
    let mut residual: Vec<f64> = y.iter().map(|v| v - y_mean).collect();
    let norms: Vec<f64> = (0..p)
        .map(|j| (0..n).map(|i| weight[i] * xc[i * p + j].powi(2)).sum())
        .collect();
    let threshold = alpha * total;
    let mut coef = vec![0.0f64; p];
    for _ in 0..100_000 {
        let mut largest_step = 0.0f64;
        let mut largest_coef = 0.0f64;
        for j in 0..p {
            if norms[j] <= 0.0 {
                continue;
            }
            let old = coef[j];
            let rho: f64 = (0..n)
                .map(|i| weight[i] * xc[i * p + j] * residual[i])
                .sum::<f64>()
                + norms[j] * old;
            let new = rho.signum() * (rho.abs() - threshold).max(0.0) / norms[j];
            if new != old {
                let delta = new - old;
                for i in 0..n {
                    residual[i] -= delta * xc[i * p + j];
                }
                coef[j] = new;
                largest_step = largest_step.max(delta.abs());
            }
            largest_coef = largest_coef.max(new.abs());
        }
        if largest_step <= 1e-13 * largest_coef.max(1e-300) {
            break;
        }
    }
    let intercept = y_mean - x_mean.iter().zip(&coef).map(|(m, c)| m * c).sum::<f64>();
    Ok(LinearFit { coef, intercept })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpenalised_fit_recovers_an_exact_linear_relation() {
        // y = 1.5 + 2 x0 − x1 on a full-rank design, uneven weights.
        let x = [0., 0., 1., 0., 0., 1., 1., 1., 1., 0., 0., 1.];
        let y: Vec<f64> = x.chunks(2).map(|r| 1.5 + 2.0 * r[0] - r[1]).collect();
        let w = [1.0, 2.0, 0.5, 1.0, 3.0, 1.0];
        let fit = lasso(&x, &y, &w, 2, 0.0).unwrap();
        assert!((fit.coef[0] - 2.0).abs() < 1e-9 && (fit.coef[1] + 1.0).abs() < 1e-9);
        assert!((fit.intercept - 1.5).abs() < 1e-9);
        // A large penalty zeroes every coefficient; the intercept is the weighted mean.
        let fit = lasso(&x, &y, &w, 2, 100.0).unwrap();
        assert_eq!(fit.coef, vec![0.0, 0.0]);
        let mean = y.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() / w.iter().sum::<f64>();
        assert!((fit.intercept - mean).abs() < 1e-12);
    }

    #[test]
    fn bad_data_is_an_error() {
        assert!(lasso(&[1.0], &[1.0, 2.0], &[1.0, 1.0], 1, 0.1).is_err());
        assert!(lasso(&[1.0, 0.0], &[1.0, 2.0], &[0.0, 0.0], 1, 0.1).is_err());
        assert!(lasso(&[1.0, f64::NAN], &[1.0, 2.0], &[1.0, 1.0], 1, 0.1).is_err());
        assert!(lasso(&[1.0, 0.0], &[1.0, 2.0], &[1.0, 1.0], 1, -1.0).is_err());
    }
}
