//! The one relaxation every discrete choice goes through: Gumbel-softmax while training,
//! one-hot argmax once discretised.

use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::softmax;

/// How a categorical choice is turned into a (soft or hard) one-hot vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampling {
    /// `softmax((logits + G) / tau)` with standard Gumbel noise `G` (training).
    Gumbel {
        /// Temperature; the schedule anneals it from 3.0 to 0.01.
        tau: f64,
    },
    /// `softmax(logits / tau)` without noise (the reference's `--sample_fn softmax`; also
    /// a deterministic mode for comparing gradients with other implementations).
    Softmax {
        /// Temperature.
        tau: f64,
    },
    /// One-hot of the argmax, first index on ties (the discretised program).
    Argmax,
}

impl Sampling {
    /// Whether this is the discrete (program) mode.
    pub fn is_discrete(&self) -> bool {
        matches!(self, Sampling::Argmax)
    }

    /// Sample along the last dimension of `logits`. The noise has the shape of `logits`, so a
    /// parameter tensor without a batch dimension gets one sample shared by the whole batch
    /// (the reference's structural choices) and activations get independent noise per element.
    pub fn sample<const D: usize>(&self, logits: Tensor<D>) -> Tensor<D> {
        match *self {
            Sampling::Gumbel { tau } => {
                let device = logits.device();
                let u =
                    Tensor::<D>::random(logits.shape(), Distribution::Uniform(0.0, 1.0), &device)
                        .clamp(1e-10, 1.0 - 1e-7);
                let gumbel = u.log().neg().log().neg();
                softmax((logits + gumbel) / tau, D - 1)
            }
            Sampling::Softmax { tau } => softmax(logits / tau, D - 1),
            Sampling::Argmax => argmax_one_hot(logits),
        }
    }
}

/// One-hot of the argmax along the last dimension (first index on ties, as torch does).
pub fn argmax_one_hot<const D: usize>(logits: Tensor<D>) -> Tensor<D> {
    let dims = logits.dims();
    let k = dims[D - 1];
    let device = logits.device();
    let idx = logits.argmax(D - 1).expand(dims);
    let mut row = [1usize; D];
    row[D - 1] = k;
    let values = Tensor::<1, Int>::arange(0..k as i64, &device)
        .reshape(row)
        .expand(dims);
    idx.equal(values).float()
}
