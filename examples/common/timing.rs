//! Timing helper shared by the timing examples (included with `#[path]`).

use std::time::Instant;

/// Median wall-clock seconds of `repeats` calls of `f`, after one warm-up call.
pub fn median_seconds(repeats: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..repeats.max(1))
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
