//! Mask smoothing for the Masked and Signed Affinity Explainer: binary dilation and a
//! separable Gaussian blur with reflect padding (torchvision `GaussianBlur` semantics).

/// Normalised 1-D Gaussian kernel of odd `size` and standard deviation `sigma`
/// (`exp(−x²/2σ²)` at `x = −size/2 .. size/2`, summing to 1).
pub fn gaussian_kernel(size: usize, sigma: f32) -> Vec<f32> {
    let half = (size / 2) as i64;
    let k: Vec<f32> = (-half..=half)
        .map(|x| (-(x * x) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = k.iter().sum();
    k.into_iter().map(|v| v / total).collect()
}

/// Reflect an index into `0..n` without repeating the edge (PyTorch `reflect` padding).
fn reflect(i: i64, n: usize) -> usize {
    let n = n as i64;
    if n == 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let m = i.rem_euclid(period);
    (if m < n { m } else { period - m }) as usize
}

/// Blur an `h × w` image with a separable Gaussian (`size` odd), reflect-padded.
pub fn gaussian_blur(image: &[f32], [h, w]: [usize; 2], size: usize, sigma: f32) -> Vec<f32> {
    let k = gaussian_kernel(size, sigma);
    let half = (size / 2) as i64;
    // The reflected source index of every tap at every position, once per axis: the passes
    // below are then plain multiply–adds (the reflection's integer division per tap cost
    // ten times the arithmetic).
    let taps = |n: usize| -> Vec<usize> {
        (0..n as i64)
            .flat_map(|i| (0..size as i64).map(move |t| reflect(i + t - half, n)))
            .collect()
    };
    let (across, down) = (taps(w), taps(h));
    let mut rows = vec![0.0; h * w];
    for (src, dst) in image.chunks(w).zip(rows.chunks_mut(w)) {
        for (x, out) in dst.iter_mut().enumerate() {
            let at = &across[x * size..(x + 1) * size];
            *out = k.iter().zip(at).map(|(kv, &j)| kv * src[j]).sum();
        }
    }
    let mut out = vec![0.0; h * w];
    for (y, dst) in out.chunks_mut(w).enumerate() {
        for (kv, &j) in k.iter().zip(&down[y * size..(y + 1) * size]) {
            for (o, r) in dst.iter_mut().zip(&rows[j * w..(j + 1) * w]) {
                *o += kv * r;
            }
        }
    }
    out
}

/// `radius` rounds of binary dilation with a `kernel × kernel` square (zero padding).
pub fn dilate(mask: &[f32], [h, w]: [usize; 2], radius: usize, kernel: usize) -> Vec<f32> {
    let half = (kernel / 2) as i64;
    let mut cur: Vec<f32> = mask
        .iter()
        .map(|&v| if v > 0.0 { 1.0 } else { 0.0 })
        .collect();
    for _ in 0..radius {
        let mut next = vec![0.0; h * w];
        for y in 0..h as i64 {
            for x in 0..w as i64 {
                let hit = (-half..=half).any(|dy| {
                    (-half..=half).any(|dx| {
                        let (yy, xx) = (y + dy, x + dx);
                        yy >= 0
                            && xx >= 0
                            && yy < h as i64
                            && xx < w as i64
                            && cur[(yy * w as i64 + xx) as usize] > 0.0
                    })
                });
                next[(y * w as i64 + x) as usize] = if hit { 1.0 } else { 0.0 };
            }
        }
        cur = next;
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_sums_to_one_and_is_symmetric() {
        let k = gaussian_kernel(5, 1.0);
        assert!((k.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((k[0] - k[4]).abs() < 1e-7 && k[2] > k[1]);
        // exp(-1/2) relative weight one step from the centre
        assert!((k[1] / k[2] - (-0.5f32).exp()).abs() < 1e-6);
    }

    #[test]
    fn reflect_matches_pytorch() {
        // PyTorch reflect of [a b c d] by 2: c b | a b c d | c b
        let idx: Vec<usize> = (-2..6).map(|i| reflect(i, 4)).collect();
        assert_eq!(idx, vec![2, 1, 0, 1, 2, 3, 2, 1]);
    }

    #[test]
    fn blur_preserves_constants_and_mass_centre() {
        let flat = gaussian_blur(&[0.7; 36], [6, 6], 5, 2.0);
        assert!(flat.iter().all(|v| (v - 0.7).abs() < 1e-6));
        let mut spike = vec![0.0; 81];
        spike[40] = 1.0;
        let b = gaussian_blur(&spike, [9, 9], 3, 1.0);
        let k = gaussian_kernel(3, 1.0);
        assert!((b[40] - k[1] * k[1]).abs() < 1e-6 && (b[39] - k[0] * k[1]).abs() < 1e-6);
    }

    #[test]
    fn dilation_grows_a_pixel_to_a_square() {
        let mut m = vec![0.0; 49];
        m[24] = 1.0;
        let d = dilate(&m, [7, 7], 2, 3);
        assert_eq!(d.iter().filter(|&&v| v > 0.0).count(), 25);
    }
}
