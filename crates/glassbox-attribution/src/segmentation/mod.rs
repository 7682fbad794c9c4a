//! Superpixels on the host, as the region-based explainers use them: Felzenszwalb's graph
//! segmentation (XRAI's candidate regions) and SLIC (LIME's interpretable features). Both
//! reproduce scikit-image's implementations, against which `tests/pair_xrai.rs` and
//! `tests/lime.rs` check them.

use glassbox_core::{Error, Result};

mod felzenszwalb;
mod slic;

pub use felzenszwalb::{Felzenszwalb, PixelGraph};
pub use slic::Slic;

/// A label per pixel, `0..count`, row-major over `height × width`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segmentation {
    /// The label of each pixel.
    pub labels: Vec<usize>,
    /// Number of segments.
    pub count: usize,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
}

impl Segmentation {
    /// One boolean mask per label, in label order.
    pub fn masks(&self) -> Vec<Vec<bool>> {
        let mut masks = vec![vec![false; self.labels.len()]; self.count];
        for (i, &l) in self.labels.iter().enumerate() {
            masks[l][i] = true;
        }
        masks
    }
}

/// Check an image to segment: `[C, H, W]` values (`dims`, no empty axis), all finite.
pub(crate) fn check_image(image: &[f64], dims: [usize; 3]) -> Result<()> {
    let [c, h, w] = dims;
    if c * h * w == 0 || image.len() != c * h * w {
        return Err(Error::shape(
            "image to segment",
            format!("{} values for {dims:?} (no empty axis)", c * h * w),
            &[image.len()],
        ));
    }
    let count = image.iter().filter(|v| !v.is_finite()).count();
    if count > 0 {
        return Err(Error::NonFinite {
            what: "image to segment".into(),
            count,
        });
    }
    Ok(())
}

/// `scipy.ndimage.gaussian_filter` of one `h × w` plane with the default `mode="reflect"`
/// (`d c b a | a b c d | d c b a`) and `truncate = 4`, in double precision.
pub fn gaussian_filter_reflect(plane: &[f64], h: usize, w: usize, sigma: f64) -> Vec<f64> {
    if sigma <= 0.0 {
        return plane.to_vec();
    }
    let kernel = crate::common::scipy_gaussian_kernel(sigma);
    let radius = (kernel.len() / 2) as i64;
    let reflect = |i: i64, n: usize| -> usize {
        let n = n as i64;
        let period = 2 * n;
        let m = i.rem_euclid(period);
        (if m < n { m } else { period - 1 - m }) as usize
    };
    let filter = |get: &dyn Fn(usize) -> f64, n: usize, i: usize| -> f64 {
        kernel
            .iter()
            .enumerate()
            .map(|(j, k)| k * get(reflect(i as i64 + j as i64 - radius, n)))
            .sum()
    };
    // Axis 0 (rows) first, then axis 1, as scipy filters axis by axis.
    let mut along_h = vec![0.0; h * w];
    for x in 0..w {
        for y in 0..h {
            along_h[y * w + x] = filter(&|yy| plane[yy * w + x], h, y);
        }
    }
    let mut out = vec![0.0; h * w];
    for y in 0..h {
        for x in 0..w {
            out[y * w + x] = filter(&|xx| along_h[y * w + xx], w, x);
        }
    }
    out
}
