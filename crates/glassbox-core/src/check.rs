//! Input validation shared by models, explainers and metrics.
//!
//! Everything user-facing validates its inputs with these helpers so that bad input becomes a
//! typed [`Error`](crate::Error) naming what is wrong, never a panic deep inside a kernel.

use burn::prelude::*;

use crate::{Error, Result};

/// Check that `tensor` has the given dimensions; `None` entries accept any size.
///
/// `expected` is also used verbatim in the error message, e.g. `"[N, 1, 28, 28]"`.
pub fn check_dims<const D: usize, K>(
    tensor: &Tensor<D, K>,
    what: &str,
    want: [Option<usize>; D],
    expected: &str,
) -> Result<()>
where
    K: burn::tensor::kind::Basic,
{
    let dims = tensor.dims();
    let ok = dims
        .iter()
        .zip(want.iter())
        .all(|(d, w)| w.is_none_or(|w| *d == w));
    if !ok {
        return Err(Error::shape(what, expected, &dims));
    }
    if dims.contains(&0) {
        return Err(Error::Empty(format!("{what} (shape {dims:?})")));
    }
    Ok(())
}

/// Check that every value of `tensor` is finite (no NaN, no ±inf).
///
/// This reads one scalar back from the device, so call it once per user input, not in loops.
pub fn check_finite<const D: usize>(tensor: &Tensor<D>, what: &str) -> Result<()> {
    let bad = tensor
        .clone()
        .is_finite()
        .bool_not()
        .int()
        .sum()
        .into_scalar::<i64>();
    if bad > 0 {
        return Err(Error::NonFinite {
            what: what.to_string(),
            count: bad as usize,
        });
    }
    Ok(())
}

/// Check that a slice of host values is finite.
pub fn check_finite_slice(values: &[f32], what: &str) -> Result<()> {
    let count = values.iter().filter(|v| !v.is_finite()).count();
    if count > 0 {
        return Err(Error::NonFinite {
            what: what.to_string(),
            count,
        });
    }
    Ok(())
}
