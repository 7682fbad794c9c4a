//! Which output an explanation is about.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The output (class) an explanation explains, in the spirit of Captum's `target` argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// The model's own top-scoring class for each sample.
    Predicted,
    /// The same class for every sample.
    Class(usize),
    /// One class per sample, in batch order.
    PerSample(Vec<usize>),
}

impl Target {
    /// Resolve to one class index per sample, validating against the logits `[N, K]`.
    ///
    /// `Predicted` reads the argmax back from the device.
    pub fn resolve(&self, logits: &Tensor<2>) -> Result<Vec<usize>> {
        let [n, k] = logits.dims();
        let classes = match self {
            Target::Predicted => {
                let idx = logits.clone().argmax(1).into_data();
                idx.try_into_vec_as::<i64>()
                    .map_err(|e| Error::format("argmax result", format!("{e:?}")))?
                    .into_iter()
                    .map(|i| i as usize)
                    .collect()
            }
            Target::Class(c) => vec![*c; n],
            Target::PerSample(v) => {
                if v.len() != n {
                    return Err(Error::shape(
                        "per-sample targets",
                        format!("one target per sample ({n})"),
                        &[v.len()],
                    ));
                }
                v.clone()
            }
        };
        if let Some(&bad) = classes.iter().find(|&&c| c >= k) {
            return Err(Error::OutOfRange {
                what: "target class".into(),
                index: bad,
                bound: k,
            });
        }
        Ok(classes)
    }

    /// A one-hot `[N, K]` selector for the resolved targets, on the logits' device.
    pub fn one_hot(&self, logits: &Tensor<2>) -> Result<(Vec<usize>, Tensor<2>)> {
        let classes = self.resolve(logits)?;
        let [_, k] = logits.dims();
        let device = logits.device();
        let idx: Vec<i64> = classes.iter().map(|&c| c as i64).collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [classes.len()]), &device);
        let one_hot = idx.one_hot::<2>(k).float();
        Ok((classes, one_hot))
    }
}
