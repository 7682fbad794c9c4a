//! Integration rules for Integrated Gradients: where along the path to evaluate the gradient,
//! and with which weights. Mirrors Captum's `approximation_methods`.

use glassbox_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// How the path integral of Integrated Gradients is approximated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationRule {
    /// Left Riemann sum: α = k/n, k = 0..n-1, weights 1/n.
    RiemannLeft,
    /// Right Riemann sum: α = k/n, k = 1..n.
    RiemannRight,
    /// Midpoint rule: α = (k + ½)/n.
    RiemannMiddle,
    /// Trapezoid rule on n points from 0 to 1 (ends weighted ½, step 1/(n−1), weights sum
    /// to 1). Captum's `riemann_trapezoid` uses the same points with step 1/n, so its weights
    /// sum to (n−1)/n and its attributions are ours times (n−1)/n.
    RiemannTrapezoid,
    /// Gauss–Legendre quadrature on n nodes (Captum's default): exact for polynomials of
    /// degree < 2n.
    #[default]
    GaussLegendre,
    /// n equally spaced points from 0 to 1, both ends included, each weighted 1/n (PAIR
    /// `saliency`'s Integrated Gradients, and so XRAI's): `np.linspace(0, 1, n)`. The ends
    /// count as much as interior points, so the error is O(1/n) like a Riemann sum.
    Linspace,
}

impl IntegrationRule {
    /// The `n` step positions α ∈ [0, 1] and their weights (summing to 1).
    pub fn steps(self, n: usize) -> Result<(Vec<f64>, Vec<f64>)> {
        if n == 0 || (self == IntegrationRule::RiemannTrapezoid && n < 2) {
            return Err(Error::config(format!(
                "{self:?} needs at least {} step(s), got {n}",
                if self == IntegrationRule::RiemannTrapezoid {
                    2
                } else {
                    1
                }
            )));
        }
        let nf = n as f64;
        Ok(match self {
            IntegrationRule::RiemannLeft => {
                ((0..n).map(|k| k as f64 / nf).collect(), vec![1.0 / nf; n])
            }
            IntegrationRule::RiemannRight => {
                ((1..=n).map(|k| k as f64 / nf).collect(), vec![1.0 / nf; n])
            }
            IntegrationRule::RiemannMiddle => (
                (0..n).map(|k| (k as f64 + 0.5) / nf).collect(),
                vec![1.0 / nf; n],
            ),
            IntegrationRule::RiemannTrapezoid => {
                let h = 1.0 / (nf - 1.0);
                let alphas = (0..n).map(|k| k as f64 * h).collect();
                let mut w = vec![h; n];
                w[0] = h / 2.0;
                w[n - 1] = h / 2.0;
                (alphas, w)
            }
            IntegrationRule::Linspace => {
                let step = if n > 1 { 1.0 / (nf - 1.0) } else { 0.0 };
                ((0..n).map(|k| k as f64 * step).collect(), vec![1.0 / nf; n])
            }
            IntegrationRule::GaussLegendre => {
                let (nodes, weights) = gauss_legendre(n);
                (
                    nodes.iter().map(|x| (x + 1.0) / 2.0).collect(),
                    weights.iter().map(|w| w / 2.0).collect(),
                )
            }
        })
    }
}

/// Gauss–Legendre nodes and weights on [-1, 1], ascending, by Newton's method on the
/// Legendre polynomial P_n (Golub–Welsch would do too; Newton converges in a few steps from
/// the Chebyshev-like initial guess).
pub fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut nodes = vec![0.0; n];
    let mut weights = vec![0.0; n];
    for i in 0..n.div_ceil(2) {
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut dp = 0.0;
        for _ in 0..100 {
            // Three-term recurrence for P_n(x) and its derivative.
            let (mut p0, mut p1) = (1.0, x);
            for k in 2..=n {
                let p2 = ((2 * k - 1) as f64 * x * p1 - (k - 1) as f64 * p0) / k as f64;
                p0 = p1;
                p1 = p2;
            }
            // p1 = P_n(x), p0 = P_{n-1}(x).
            dp = n as f64 * (x * p1 - p0) / (x * x - 1.0);
            let dx = p1 / dp;
            x -= dx;
            if dx.abs() < 1e-15 {
                break;
            }
        }
        let w = 2.0 / ((1.0 - x * x) * dp * dp);
        nodes[i] = -x;
        nodes[n - 1 - i] = x;
        weights[i] = w;
        weights[n - 1 - i] = w;
    }
    (nodes, weights)
}
