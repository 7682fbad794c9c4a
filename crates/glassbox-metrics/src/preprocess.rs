//! Normalisation and absolute value applied to attributions before scoring.
//!
//! Quantus divides by the largest |a| over *everything passed to the call*, so a sample's
//! score depends on its batch-mates (spec §1.2). glassbox normalises each sample by its own
//! maximum unless `quantus_compat` asks for the batch-global maximum. As in Quantus,
//! normalisation comes first and the absolute value second; an all-zero array is left as is.

use crate::MetricBatch;

/// Attributions of every sample, as `f64`, after optional normalisation and `abs`.
///
/// `batch_global = true` reproduces Quantus (one maximum over the whole batch).
pub fn prepare_attributions(
    batch: &MetricBatch,
    normalise: bool,
    abs: bool,
    batch_global: bool,
) -> Vec<Vec<f64>> {
    let n = batch.len();
    let per = batch.attributions().values.len() / n;
    let mut out: Vec<Vec<f64>> = batch
        .attributions()
        .values
        .chunks(per)
        .map(|c| c.iter().map(|&v| v as f64).collect())
        .collect();
    normalise_and_abs(&mut out, normalise, abs, batch_global);
    out
}

/// Normalise rows (each by its own maximum |a|, or all by the batch's with `batch_global`),
/// then take absolute values, in place.
pub fn normalise_and_abs(rows: &mut [Vec<f64>], normalise: bool, abs: bool, batch_global: bool) {
    if normalise {
        if batch_global {
            let m = rows.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
            if m > 0.0 {
                rows.iter_mut().flatten().for_each(|v| *v /= m);
            }
        } else {
            rows.iter_mut().for_each(|r| normalise_by_max(r));
        }
    }
    if abs {
        rows.iter_mut().flatten().for_each(|v| *v = v.abs());
    }
}

/// Divide by the largest absolute value; leaves an all-zero slice unchanged.
pub fn normalise_by_max(a: &mut [f64]) {
    let m = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if m > 0.0 {
        a.iter_mut().for_each(|v| *v /= m);
    }
}
