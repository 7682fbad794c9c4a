//! SLIC superpixels (Achanta et al., "SLIC Superpixels Compared to State-of-the-Art Superpixel
//! Methods", TPAMI 2012): k-means over (position, colour) with seeds on a regular grid and each
//! centre searching only a window of twice the grid step around it.
//!
//! Follows `skimage.segmentation.slic` with its defaults (no smoothing, unit spacing, 10
//! iterations, connectivity enforced with components below half the mean segment size joined
//! to a neighbour): the image is rescaled to [0, 1] and divided by `compactness`, a pixel's
//! distance to a centre is `|Δpos|² / step² + |Δcolour|²`, and the labels are renumbered in
//! raster order of the connected components. One difference: scikit-image converts 3-channel
//! images to CIELAB first; here every image's channels are used as given (grey images, the
//! ones this crate segments, are identical).

use glassbox_core::{Error, Result};
use serde::{Deserialize, Serialize};

use super::{Segmentation, check_image};

/// SLIC; the defaults are scikit-image's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Slic {
    /// Approximate number of superpixels (seeds on a regular grid).
    pub segments: usize,
    /// Weight of position against colour: larger gives more square superpixels.
    pub compactness: f64,
    /// k-means iterations.
    pub iterations: usize,
    /// Connected components smaller than this fraction of the mean superpixel size are joined
    /// to a neighbour.
    pub min_size_factor: f64,
    /// Components are split once they reach this multiple of the mean superpixel size.
    pub max_size_factor: f64,
}

impl Default for Slic {
    fn default() -> Self {
        Self {
            segments: 100,
            compactness: 10.0,
            iterations: 10,
            min_size_factor: 0.5,
            max_size_factor: 3.0,
        }
    }
}

impl Slic {
    crate::common::setters! {
        /// Set the approximate number of superpixels.
        with_segments(segments: usize) => segments = segments;
        /// Set the compactness.
        with_compactness(compactness: f64) => compactness = compactness;
    }

    /// Segment `image`, channel-major `[C, H, W]` (`dims`).
    pub fn segment(&self, image: &[f64], dims: [usize; 3]) -> Result<Segmentation> {
        let [c, h, w] = dims;
        check_image(image, dims)?;
        if self.segments == 0
            || !(self.compactness.is_finite() && self.compactness > 0.0)
            || !(self.min_size_factor.is_finite() && self.max_size_factor.is_finite())
            || self.min_size_factor < 0.0
            || self.max_size_factor <= 0.0
        {
            return Err(Error::config(format!(
                "SLIC needs segments >= 1, compactness > 0 and finite size factors, got {self:?}"
            )));
        }
        // Rescale to [0, 1] (all channels together), then weight colour by 1 / compactness.
        let (lo, hi) = image
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        let span = if hi > lo { hi - lo } else { 1.0 };
        let ratio = 1.0 / self.compactness;
        // Pixel-major colours: colour[p * c + ch].
        let mut colour = vec![0.0f64; h * w * c];
        for ch in 0..c {
            for p in 0..h * w {
                colour[p * c + ch] = (image[ch * h * w + p] - lo) / span * ratio;
            }
        }

        let (starts, steps) = regular_grid([h, w], self.segments);
        // Centres: (y, x, colour…); seeds take no colour, as in scikit-image.
        let mut centres: Vec<Vec<f64>> = Vec::new();
        for y in (starts[0]..h).step_by(steps[0]) {
            for x in (starts[1]..w).step_by(steps[1]) {
                let mut centre = vec![y as f64, x as f64];
                centre.extend(std::iter::repeat_n(0.0, c));
                centres.push(centre);
            }
        }
        let n = centres.len();
        // scikit-image passes the step as a single-precision float, and sizes the search
        // windows from a grid recomputed for the number of seeds actually placed.
        let step = steps[0].max(steps[1]) as f32 as f64;
        let (_, window_steps) = regular_grid([h, w], n);
        let spatial_weight = 1.0 / (step * step);
        let mut nearest = vec![0usize; h * w];
        let mut distance = vec![f64::MAX; h * w];
        let mut alive = vec![true; n];
        for _ in 0..self.iterations {
            distance.iter_mut().for_each(|d| *d = f64::MAX);
            for (k, centre) in centres.iter().enumerate() {
                if !alive[k] {
                    continue;
                }
                let (cy, cx) = (centre[0], centre[1]);
                // Truncating casts, as the reference's C casts.
                let window = |c: f64, step: usize, len: usize| {
                    let lo = (c - 2.0 * step as f64).max(0.0) as usize;
                    let hi = (c + 2.0 * step as f64 + 1.0).min(len as f64) as usize;
                    lo..hi
                };
                for y in window(cy, window_steps[0], h) {
                    let dy = (cy - y as f64) * (cy - y as f64);
                    for x in window(cx, window_steps[1], w) {
                        let dx = (cx - x as f64) * (cx - x as f64);
                        let p = y * w + x;
                        let mut d = (dy + dx) * spatial_weight;
                        for ch in 0..c {
                            let t = colour[p * c + ch] - centre[2 + ch];
                            d += t * t;
                        }
                        if distance[p] > d {
                            nearest[p] = k;
                            distance[p] = d;
                        }
                    }
                }
            }
            // New centres: the mean position and colour of their pixels. A centre that lost
            // every pixel drops out (the reference's 0/0 makes it unreachable).
            let mut sums = vec![vec![0.0f64; 2 + c]; n];
            let mut counts = vec![0usize; n];
            for p in 0..h * w {
                let k = nearest[p];
                counts[k] += 1;
                sums[k][0] += (p / w) as f64;
                sums[k][1] += (p % w) as f64;
                for ch in 0..c {
                    sums[k][2 + ch] += colour[p * c + ch];
                }
            }
            for k in 0..n {
                if counts[k] == 0 {
                    alive[k] = false;
                    continue;
                }
                for (v, s) in centres[k].iter_mut().zip(&sums[k]) {
                    *v = s / counts[k] as f64;
                }
            }
        }
        let mean_size = (h * w) as f64 / n as f64;
        let labels = enforce_connectivity(
            &nearest,
            [h, w],
            (self.min_size_factor * mean_size) as usize,
            ((self.max_size_factor * mean_size) as usize).max(1),
        );
        let count = labels.iter().max().map_or(0, |m| m + 1);
        Ok(Segmentation {
            labels,
            count,
            height: h,
            width: w,
        })
    }
}

/// scikit-image's `regular_grid` for a 2-D image seen as a one-slice volume: the seed offsets
/// and steps along (y, x) for about `n` seeds.
fn regular_grid([h, w]: [usize; 2], n: usize) -> ([usize; 2], [usize; 2]) {
    let shape = [1usize, h, w];
    let space = (h * w) as f64;
    if space <= n as f64 {
        return ([0, 0], [1, 1]);
    }
    // Dimensions sorted ascending (stable), steps computed on the sorted shape.
    let mut order: Vec<usize> = (0..3).collect();
    order.sort_by_key(|&d| shape[d]);
    let sorted: Vec<f64> = order.iter().map(|&d| shape[d] as f64).collect();
    let mut steps = [(space / n as f64).powf(1.0 / 3.0); 3];
    if sorted.iter().zip(&steps).any(|(d, s)| d < s) {
        for dim in 0..3 {
            steps[dim] = sorted[dim];
            let rest: f64 = sorted[dim + 1..].iter().product();
            let left = (3 - dim - 1) as f64;
            for s in steps.iter_mut().skip(dim + 1) {
                *s = (rest / n as f64).powf(1.0 / left);
            }
            if sorted.iter().zip(&steps).all(|(d, s)| d >= s) {
                break;
            }
        }
    }
    let mut start = [0usize; 3];
    let mut step = [1usize; 3];
    for (i, &d) in order.iter().enumerate() {
        start[d] = (steps[i] / 2.0).floor() as usize;
        // numpy rounds half to even.
        step[d] = (steps[i].round_ties_even() as usize).max(1);
    }
    ([start[1], start[2]], [step[1], step[2]])
}

/// Relabel `labels` into 4-connected components in raster order; components smaller than
/// `min_size` take the label of an adjacent component (the last one their search met), and a
/// search stops growing a component at `max_size` pixels, as scikit-image does.
fn enforce_connectivity(
    labels: &[usize],
    [h, w]: [usize; 2],
    min_size: usize,
    max_size: usize,
) -> Vec<usize> {
    const NONE: usize = usize::MAX;
    let mut out = vec![NONE; h * w];
    let mut next = 0usize;
    let mut queue: Vec<usize> = Vec::with_capacity(max_size);
    for start in 0..h * w {
        if out[start] != NONE {
            continue;
        }
        let label = labels[start];
        let mut adjacent = next;
        out[start] = next;
        queue.clear();
        queue.push(start);
        let mut visited = 0;
        'grow: while visited < queue.len() && queue.len() < max_size {
            let p = queue[visited];
            let (y, x) = (p / w, p % w);
            // x+1, x−1, y+1, y−1 (the reference's order; its z neighbours do not exist here).
            let neighbours = [
                (x + 1 < w).then(|| p + 1),
                (x > 0).then(|| p - 1),
                (y + 1 < h).then(|| p + w),
                (y > 0).then(|| p - w),
            ];
            for q in neighbours.into_iter().flatten() {
                if labels[q] == label && out[q] == NONE {
                    out[q] = next;
                    queue.push(q);
                    if queue.len() >= max_size {
                        break 'grow;
                    }
                } else if out[q] != NONE && out[q] != next {
                    adjacent = out[q];
                }
            }
            visited += 1;
        }
        if queue.len() < min_size {
            for &p in &queue {
                out[p] = adjacent;
            }
        } else {
            next += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_grid_matches_scikit_image_examples() {
        // skimage: regular_grid((20, 40), 8) → slice(5, None, 10) on both axes, and
        // regular_grid((20, 40), 32) → slice(2, None, 5).
        assert_eq!(regular_grid([20, 40], 8), ([5, 5], [10, 10]));
        assert_eq!(regular_grid([20, 40], 32), ([2, 2], [5, 5]));
    }

    #[test]
    fn two_flat_halves_split_along_the_edge() {
        let (h, w) = (8, 16);
        let image: Vec<f64> = (0..h * w)
            .map(|p| if p % w < 8 { 0.0 } else { 1.0 })
            .collect();
        let seg = Slic::default()
            .with_segments(2)
            .segment(&image, [1, h, w])
            .unwrap();
        assert_eq!(seg.count, 2);
        for p in 0..h * w {
            assert_eq!(seg.labels[p], usize::from(p % w >= 8), "pixel {p}");
        }
    }

    #[test]
    fn bad_settings_are_errors() {
        let img = [0.0; 4];
        assert!(
            Slic::default()
                .with_segments(0)
                .segment(&img, [1, 2, 2])
                .is_err()
        );
        assert!(
            Slic::default()
                .with_compactness(0.0)
                .segment(&img, [1, 2, 2])
                .is_err()
        );
        assert!(Slic::default().segment(&img, [1, 2, 3]).is_err());
    }
}
