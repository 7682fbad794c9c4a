//! A host-side copy of a tensor: the serialisable form of every tensor inside an explanation.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A dense `f32` array on the host with its shape, in row-major order.
///
/// This is how tensors appear in JSON: `{"shape": [1, 1, 2, 2], "values": [0.1, ...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostTensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Values in row-major order; `values.len()` equals the product of `shape`.
    pub values: Vec<f32>,
}

impl HostTensor {
    /// Build from a shape and values, checking that they agree.
    pub fn new(shape: Vec<usize>, values: Vec<f32>) -> Result<Self> {
        let n: usize = shape.iter().product();
        if n != values.len() {
            return Err(Error::shape(
                "host tensor values",
                format!("{n} values for shape {shape:?}"),
                &[values.len()],
            ));
        }
        Ok(Self { shape, values })
    }

    /// Copy a tensor back from its device (as `f32`, whatever its float dtype).
    pub fn from_tensor<const D: usize>(tensor: &Tensor<D>) -> Self {
        // The clone shares the buffer, so `from_owned` copies it.
        Self::from_owned(tensor.clone())
    }

    /// Move a tensor back from its device (as `f32`, whatever its float dtype). On a CPU
    /// backend a tensor that is the only owner of its buffer hands that buffer over instead
    /// of copying it: use this for large tensors that are not needed afterwards.
    pub fn from_owned<const D: usize>(tensor: Tensor<D>) -> Self {
        let shape = tensor.dims().to_vec();
        let values = tensor
            .into_data()
            .try_into_vec_as::<f32>()
            .expect("a converted f32 TensorData always yields f32 values");
        Self { shape, values }
    }

    /// Upload to `device` as a rank-`D` tensor; errors if the stored rank is not `D` or the
    /// values do not fill the shape.
    pub fn to_tensor<const D: usize>(&self, device: &Device) -> Result<Tensor<D>> {
        if self.shape.len() != D {
            return Err(Error::shape(
                "host tensor rank",
                format!("rank {D}"),
                &self.shape,
            ));
        }
        let n: usize = self.shape.iter().product();
        if n != self.values.len() {
            return Err(Error::shape(
                "host tensor values",
                format!("{n} values for shape {:?}", self.shape),
                &[self.values.len()],
            ));
        }
        let data = TensorData::new(self.values.clone(), self.shape.clone());
        Ok(Tensor::from_data(data, device))
    }
}
