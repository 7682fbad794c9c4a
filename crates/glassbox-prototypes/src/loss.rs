//! The papers' objectives: ProtoPNet's cross-entropy + cluster − separation + L1, and
//! ST-ProtoPNet's per-branch cosine losses with orthogonality and the trivial branch's
//! discrimination or the support branch's closeness term.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use glassbox_core::{Error, Result};

use crate::model::{BranchOutput, PrototypeBranch, l2_normalise};

/// Loss coefficients (the reference code's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LossCoefficients {
    /// ProtoPNet cluster cost weight (added).
    pub cluster: f64,
    /// ProtoPNet separation cost weight (subtracted).
    pub separation: f64,
    /// L1 on the last layer's wrong-class connections.
    pub l1: f64,
    /// ST-ProtoPNet cluster weight on max cosine to own prototypes (negative: maximised).
    pub st_cluster: f64,
    /// ST-ProtoPNet separation weight of the trivial branch.
    pub st_separation_trivial: f64,
    /// ST-ProtoPNet separation weight of the support branch.
    pub st_separation_support: f64,
    /// Orthogonality of each class's prototypes.
    pub orthogonality: f64,
    /// Trivial branch: push different classes' prototypes apart.
    pub discrimination: f64,
    /// Support branch: pull different classes' prototypes together.
    pub closeness: f64,
}

impl Default for LossCoefficients {
    fn default() -> Self {
        Self {
            cluster: 0.8,
            separation: 0.08,
            l1: 1e-4,
            st_cluster: -0.8,
            st_separation_trivial: 0.08,
            st_separation_support: 0.48,
            orthogonality: 1e-3,
            discrimination: 1.0,
            closeness: 1.0,
        }
    }
}

impl LossCoefficients {
    /// Every weight must be finite and have the sign its loss term is written for: the
    /// terms' directions (added, subtracted, maximised) are fixed in the loss, so a flipped
    /// sign would train the opposite of the paper's objective rather than a variant of it.
    /// Zero switches a term off.
    pub fn validate(&self) -> Result<()> {
        let non_negative = [
            ("cluster", self.cluster),
            ("separation", self.separation),
            ("l1", self.l1),
            ("st_separation_trivial", self.st_separation_trivial),
            ("st_separation_support", self.st_separation_support),
            ("orthogonality", self.orthogonality),
            ("discrimination", self.discrimination),
            ("closeness", self.closeness),
        ];
        for (name, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::config(format!(
                    "loss coefficient {name} must be finite and >= 0, got {v}"
                )));
            }
        }
        if !(self.st_cluster.is_finite() && self.st_cluster <= 0.0) {
            return Err(Error::config(format!(
                "loss coefficient st_cluster must be finite and <= 0 (its term is maximised), got {}",
                self.st_cluster
            )));
        }
        Ok(())
    }
}

/// `[N, m]` mask: 1 where prototype j belongs to image i's class.
pub fn own_class_mask(labels: &Tensor<1, Int>, classes: usize, per_class: usize) -> Tensor<2> {
    let one_hot = labels.clone().one_hot::<2>(classes).float(); // [N, K]
    // Repeat each class column per_class times: [N, K, 1] -> [N, K, per] -> [N, m].
    let [n, k] = one_hot.dims();
    one_hot
        .unsqueeze_dim::<3>(2)
        .repeat_dim(2, per_class)
        .reshape([n, k * per_class])
}

/// `Σ |w(k, j)|` over connections from prototypes to classes other than their own.
pub fn wrong_class_l1(branch: &PrototypeBranch, per_class: usize) -> Tensor<1> {
    let w = branch.last_layer.weight.val(); // [m, K]
    let [m, k] = w.dims();
    let own: Vec<f32> = (0..m)
        .flat_map(|j| (0..k).map(move |c| if j / per_class == c { 0.0 } else { 1.0 }))
        .collect();
    let mask = Tensor::<2>::from_data(TensorData::new(own, [m, k]), &w.device());
    (w.abs() * mask).sum()
}

/// The terms of one branch's loss, for logging.
#[derive(Debug, Clone)]
pub struct LossTerms {
    /// The total to minimise.
    pub total: Tensor<1>,
    /// Cross-entropy.
    pub cross_entropy: Tensor<1>,
    /// Cluster term (distance or cosine, before its coefficient).
    pub cluster: Tensor<1>,
    /// Separation term (before its coefficient).
    pub separation: Tensor<1>,
}

const BIG: f64 = 1e9;

/// ProtoPNet's loss: `CE + c·Clst − s·Sep + l1·L1`.
pub fn protopnet_loss(
    out: &BranchOutput,
    branch: &PrototypeBranch,
    labels: &Tensor<1, Int>,
    classes: usize,
    per_class: usize,
    coef: &LossCoefficients,
    with_l1: bool,
) -> LossTerms {
    let device = out.logits.device();
    let ce = CrossEntropyLossConfig::new()
        .init(&device)
        .forward(out.logits.clone(), labels.clone());
    let own = own_class_mask(labels, classes, per_class);
    let other = own.clone().neg() + 1.0;
    // min over own-class prototypes of the min distance (others masked by a large value).
    let cluster = (out.best.clone() + other.clone() * BIG).min_dim(1).mean();
    let separation = (out.best.clone() + own * BIG).min_dim(1).mean();
    let mut total =
        ce.clone() + cluster.clone() * coef.cluster - separation.clone() * coef.separation;
    if with_l1 {
        total = total + wrong_class_l1(branch, per_class) * coef.l1;
    }
    LossTerms {
        total,
        cross_entropy: ce,
        cluster,
        separation,
    }
}

/// One ST-ProtoPNet branch's loss (`support = false`: the trivial branch).
#[allow(clippy::too_many_arguments)]
pub fn st_branch_loss(
    out: &BranchOutput,
    branch: &PrototypeBranch,
    labels: &Tensor<1, Int>,
    classes: usize,
    per_class: usize,
    coef: &LossCoefficients,
    support: bool,
    with_l1: bool,
) -> LossTerms {
    let device = out.logits.device();
    let ce = CrossEntropyLossConfig::new()
        .init(&device)
        .forward(out.logits.clone(), labels.clone());
    let own = own_class_mask(labels, classes, per_class);
    let other = own.clone().neg() + 1.0;
    // Max cosine to an own-class / other-class prototype (the rest masked by −BIG).
    let cluster = (out.best.clone() - other * BIG).max_dim(1).mean();
    let separation = (out.best.clone() - own * BIG).max_dim(1).mean();
    let sep_coef = if support {
        coef.st_separation_support
    } else {
        coef.st_separation_trivial
    };
    let p = l2_normalise(branch.prototypes.val(), 1); // [m, D]
    let d = p.dims()[1];
    // Orthogonality: Σ_c ‖P_c P_cᵀ − I‖₁.
    let pc = p.clone().reshape([classes, per_class, d]);
    let gram = pc.clone().matmul(pc.swap_dims(1, 2)); // [K, per, per]
    let eye = Tensor::<2>::eye(per_class, &device).unsqueeze_dim::<3>(0);
    let orth = (gram - eye).abs().sum();
    // Pairwise prototype similarities between different classes: [K, per, K, per].
    let all = p
        .clone()
        .matmul(p.transpose())
        .reshape([classes, per_class, classes, per_class]);
    let not_same: Vec<f32> = (0..classes * classes)
        .map(|i| if i / classes == i % classes { 0.0 } else { 1.0 })
        .collect();
    let pairs = (classes * (classes - 1)) as f64;
    let not_same = Tensor::<2>::from_data(TensorData::new(not_same, [classes, classes]), &device);
    let pair_term = if support {
        // Closeness: −mean over class pairs of the min similarity (pull together).
        let min = all
            .neg()
            .max_dim(3)
            .max_dim(1)
            .reshape([classes, classes])
            .neg();
        (min * not_same).sum().neg() / pairs * coef.closeness
    } else {
        // Discrimination: mean over class pairs of the max similarity (push apart).
        let max = all.max_dim(3).max_dim(1).reshape([classes, classes]);
        (max * not_same).sum() / pairs * coef.discrimination
    };
    let mut total = ce.clone()
        + cluster.clone() * coef.st_cluster
        + separation.clone() * sep_coef
        + orth * coef.orthogonality
        + pair_term;
    if with_l1 {
        total = total + wrong_class_l1(branch, per_class) * coef.l1;
    }
    LossTerms {
        total,
        cross_entropy: ce,
        cluster,
        separation,
    }
}
