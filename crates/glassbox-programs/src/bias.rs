//! The fixed relative-position bias that breaks ties between matching keys.

/// `bias(j - i)` for sequences of length `n` (the reference's `FixedRelPosBias`): self is least
/// preferred (−2), the nearest key to the right scores 0 and falls linearly to −1 at distance
/// `n − 1`, the nearest key to the left scores 0 and falls to `−(n−2)/(n−1)`. Only the
/// distance-1 neighbours tie (both 0); argmax then takes the left one (lower index).
pub fn relative_bias(i: usize, j: usize, n: usize) -> f32 {
    let d = j as i64 - i as i64;
    let n = n as f32;
    if d == 0 {
        -2.0
    } else if d > 0 {
        -((d - 1) as f32) / (n - 2.0)
    } else {
        (d + 1) as f32 / (n - 1.0)
    }
}

/// The `n × n` bias matrix, row = query position, column = key position.
pub fn bias_matrix(n: usize) -> Vec<f32> {
    (0..n)
        .flat_map(|i| (0..n).map(move |j| relative_bias(i, j, n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_for_eight_positions_matches_the_reference() {
        let m = bias_matrix(8);
        let row0 = [-2.0, 0.0, -0.167, -0.333, -0.5, -0.667, -0.833, -1.0];
        let row3 = [-0.286, -0.143, 0.0, -2.0, 0.0, -0.167, -0.333, -0.5];
        for j in 0..8 {
            assert!((m[j] - row0[j]).abs() < 1e-3, "row 0, col {j}: {}", m[j]);
            assert!(
                (m[3 * 8 + j] - row3[j]).abs() < 1e-3,
                "row 3, col {j}: {}",
                m[24 + j]
            );
        }
    }

    #[test]
    fn only_the_two_neighbours_tie() {
        for n in [4, 8, 10, 16] {
            for i in 0..n {
                let mut seen: Vec<(f32, usize)> =
                    (0..n).map(|j| (relative_bias(i, j, n), j)).collect();
                seen.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
                for w in seen.windows(2) {
                    if w[0].0 == w[1].0 {
                        let (a, b) = (w[0].1.min(w[1].1), w[0].1.max(w[1].1));
                        assert_eq!((a + 1, b - 1), (i, i), "n={n} i={i}: {a} and {b} tie");
                    } else {
                        assert!(w[1].0 - w[0].0 > 1e-3);
                    }
                }
            }
        }
    }
}
