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
    /// backend a tensor that is the only owner of its buffer hands that buffer over, but a
    /// `Vec<f32>` can adopt it only if it was allocated with `f32`'s alignment; flex allocates
    /// wider, so its values are copied once here. To only read a large tensor, use
    /// [`HostView`], which never copies an unshared contiguous buffer.
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

/// A tensor's `f32` values on the host, lent rather than collected into a `Vec`: on a CPU
/// backend a contiguous tensor that is the only owner of its buffer hands it over without any
/// copy, whatever the buffer's alignment (which [`HostTensor::from_owned`] cannot promise).
/// For large tensors that are only read, e.g. attention scores.
#[derive(Debug)]
pub struct HostView {
    shape: Vec<usize>,
    values: ViewValues,
}

#[derive(Debug)]
enum ViewValues {
    /// The backend's buffer, holding `f32`s.
    Data(TensorData),
    /// A copy, for a buffer whose bytes cannot be read as `f32`s in place.
    Copied(Vec<f32>),
}

impl HostView {
    /// Move `tensor` to the host (converted to `f32` if it holds another float type).
    pub fn from_owned<const D: usize>(tensor: Tensor<D>) -> Self {
        let shape = tensor.dims().to_vec();
        let data = tensor.into_data();
        let data = if data.dtype() == burn::tensor::DType::F32 {
            data
        } else {
            data.convert::<f32>()
        };
        let values = if data.as_slice::<f32>().is_ok() {
            ViewValues::Data(data)
        } else {
            ViewValues::Copied(
                data.try_into_vec_as::<f32>()
                    .expect("a converted f32 TensorData always yields f32 values"),
            )
        };
        Self { shape, values }
    }

    /// Dimensions, outermost first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Values in row-major order.
    pub fn values(&self) -> &[f32] {
        match &self.values {
            ViewValues::Data(data) => data
                .as_slice::<f32>()
                .expect("checked when the view was made"),
            ViewValues::Copied(values) => values,
        }
    }
}
