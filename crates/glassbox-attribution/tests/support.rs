//! Support-image attributions on a segmenter with a closed-form gradient.
//!
//! fg(n, i, j) = query(n, i, j) · Σ_{s,p} support(n, s, p) · mask(n, s, p), bg = 0, so the
//! gradient of Σ_{(i,j) ∈ R} fg with respect to support(n, s, p) is mask(n, s, p) · Q_n with
//! Q_n = Σ_{R} query(n, ·): saliency = |mask · Q|, input×gradient = IG (linear) = support·mask·Q.

use burn::prelude::*;
use glassbox_attribution::{SupportAttributor, SupportMethod};
use glassbox_core::{Error, Explainer, FewShotInput, Target};

fn segmenter(q: Tensor<4>, s: Tensor<5>, m: Tensor<4>) -> Tensor<4> {
    let [n, _, h, w] = q.dims();
    let proto = (s.sum_dim(2).reshape([n, m.dims()[1], h, w]) * m)
        .sum_dims(&[1, 2, 3])
        .reshape([n, 1, 1, 1]);
    let fg = q * proto;
    Tensor::cat(vec![fg.zeros_like(), fg], 1)
}

fn episode(dev: &Device) -> (FewShotInput, Vec<f32>, Vec<f32>, Vec<f32>) {
    let q: Vec<f32> = (0..2 * 4).map(|i| (i as f32 - 3.0) / 4.0).collect(); // [2,1,2,2]
    let s: Vec<f32> = (0..2 * 3 * 4)
        .map(|i| ((i * 5 % 7) as f32) / 7.0 + 0.1)
        .collect(); // [2,3,1,2,2]
    let m: Vec<f32> = (0..2 * 3 * 4)
        .map(|i| if i % 3 == 0 { 0.0 } else { 1.0 })
        .collect(); // [2,3,2,2]
    let input = FewShotInput {
        query: Tensor::from_data(TensorData::new(q.clone(), [2, 1, 2, 2]), dev),
        support_images: Tensor::from_data(TensorData::new(s.clone(), [2, 3, 1, 2, 2]), dev),
        support_masks: Tensor::from_data(TensorData::new(m.clone(), [2, 3, 2, 2]), dev),
    };
    (input, q, s, m)
}

mod common;
use common::values;

/// The score the Blur/Guided IG adaptations explain for episode `n`: the mean foreground
/// probability of `segmenter` over the episode's region (`region_v`, 2×2 per episode).
fn mean_foreground(
    query: Tensor<4>,
    supports: Tensor<5>,
    input: &FewShotInput,
    region_v: &[f32],
    n: usize,
) -> f64 {
    let logits = segmenter(query, supports, input.support_masks.clone());
    let p = values(burn::tensor::activation::softmax(logits, 1).slice(s![.., 1..2]));
    let r = &region_v[n * 4..n * 4 + 4];
    let area: f32 = r.iter().sum();
    let hit: f32 = p[n * 4..n * 4 + 4].iter().zip(r).map(|(a, b)| a * b).sum();
    (hit / area) as f64
}

#[test]
fn support_gradients_have_the_closed_form() {
    let dev = Device::flex();
    let (input, q, s, m) = episode(&dev);
    // Region: first two pixels of every query.
    let region_v = vec![1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0];
    let region = Tensor::<3>::from_data(TensorData::new(region_v.clone(), [2, 2, 2]), &dev);
    let qsum: Vec<f32> = (0..2)
        .map(|n| (0..4).map(|p| q[n * 4 + p] * region_v[n * 4 + p]).sum())
        .collect();
    let grad: Vec<f32> = (0..24).map(|i| m[i] * qsum[i / 12]).collect();
    let ixg: Vec<f32> = (0..24).map(|i| s[i] * grad[i]).collect();
    let close = |a: Vec<f32>, b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);

    let sal = SupportAttributor::new(SupportMethod::Saliency)
        .attribute(&segmenter, &input, Some(region.clone()))
        .unwrap();
    assert_eq!(sal.support.dims(), [2, 3, 2, 2]);
    assert!(close(
        values(sal.support),
        &grad.iter().map(|g| g.abs()).collect::<Vec<_>>()
    ));
    let a = SupportAttributor::new(SupportMethod::InputXGradient)
        .attribute(&segmenter, &input, Some(region.clone()))
        .unwrap();
    assert!(close(values(a.support), &ixg));
    let ig = SupportAttributor::new(SupportMethod::IntegratedGradients { steps: 4 })
        .attribute(&segmenter, &input, Some(region))
        .unwrap();
    assert!(close(values(ig.support), &ixg));
    assert_eq!(ig.method, "support_integrated_gradients");
    // Masked-out support pixels get no relevance.
    let e = SupportAttributor::new(SupportMethod::Saliency)
        .explain(&segmenter, input, &Target::Predicted)
        .unwrap();
    for (i, v) in values(e.support).iter().enumerate() {
        if m[i] == 0.0 {
            assert_eq!(*v, 0.0);
        }
    }
}

#[test]
fn bad_episodes_are_typed_errors() {
    let dev = Device::flex();
    let (input, _, _, _) = episode(&dev);
    let attr = SupportAttributor::new(SupportMethod::Saliency);
    let empty = FewShotInput {
        support_images: Tensor::zeros([2, 0, 1, 2, 2], &dev),
        support_masks: Tensor::zeros([2, 0, 2, 2], &dev),
        ..input.clone()
    };
    assert!(matches!(
        attr.attribute(&segmenter, &empty, None),
        Err(Error::Empty(_))
    ));
    let bad_mask = FewShotInput {
        support_masks: Tensor::zeros([2, 3, 3, 2], &dev),
        ..input.clone()
    };
    assert!(matches!(
        attr.attribute(&segmenter, &bad_mask, None),
        Err(Error::Shape { .. })
    ));
    let nan = FewShotInput {
        query: input.query.clone() / 0.0,
        ..input.clone()
    };
    assert!(matches!(
        attr.attribute(&segmenter, &nan, None),
        Err(Error::NonFinite { .. })
    ));
    let bad_region = Tensor::<3>::zeros([2, 3, 3], &dev);
    assert!(matches!(
        attr.attribute(&segmenter, &input, Some(bad_region)),
        Err(Error::Shape { .. })
    ));
    let one_channel = |q: Tensor<4>, _s: Tensor<5>, _m: Tensor<4>| q; // [N,1,H,W]: not 2 channels
    assert!(matches!(
        attr.attribute(&one_channel, &input, None),
        Err(Error::Shape { .. })
    ));
}

/// The query's foreground is on exactly when shot 0's corner pixel (image and mask) survives,
/// so RISE must rank that corner above every pixel of shot 1, which the model ignores.
#[test]
fn support_rise_finds_the_only_pixel_the_model_reads() {
    let dev = Device::flex();
    let (k, h, w) = (2, 8, 8);
    let corner = |q: Tensor<4>, s: Tensor<5>, m: Tensor<4>| {
        let n = q.dims()[0];
        let v = s
            .slice(s![.., 0..1, 0..1, 0..1, 0..1])
            .reshape([n, 1, 1, 1])
            * m.slice(s![.., 0..1, 0..1, 0..1]).reshape([n, 1, 1, 1]);
        let fg = (q.zeros_like() + v) * 12.0 - 6.0;
        Tensor::cat(vec![fg.zeros_like(), fg], 1)
    };
    let input = FewShotInput {
        query: Tensor::ones([1, 1, h, w], &dev),
        support_images: Tensor::ones([1, k, 1, h, w], &dev),
        support_masks: Tensor::ones([1, k, h, w], &dev),
    };
    let method = SupportMethod::Rise {
        masks: 400,
        cells: 4,
        p: 0.5,
        seed: 3,
        batch_size: 64,
    };
    let a = SupportAttributor::new(method)
        .attribute(&corner, &input, Some(Tensor::ones([1, h, w], &dev)))
        .unwrap();
    let v = values(a.support);
    let shot1_max = v[h * w..].iter().cloned().fold(f32::MIN, f32::max);
    assert!(
        v[0] > 1.3 * shot1_max,
        "corner {} vs shot 1 max {shot1_max}",
        v[0]
    );
    assert_eq!(a.method, "support_rise");
    let bad = SupportMethod::Rise {
        masks: 0,
        cells: 4,
        p: 0.5,
        seed: 3,
        batch_size: 64,
    };
    assert!(
        SupportAttributor::new(bad)
            .attribute(&corner, &input, None)
            .is_err()
    );
}

/// Batching the IG path points (one pass for all, or one pass each) changes nothing.
#[test]
fn integrated_gradients_do_not_depend_on_the_path_batch() {
    let dev = Device::flex();
    let (input, _, _, _) = episode(&dev);
    let nonlinear = |q: Tensor<4>, s: Tensor<5>, m: Tensor<4>| {
        let logits = segmenter(q, s, m);
        logits.tanh() * 2.0
    };
    let ig = |batch| {
        let a = SupportAttributor::new(SupportMethod::IntegratedGradients { steps: 7 })
            .with_path_batch(batch)
            .attribute(&nonlinear, &input, None)
            .unwrap();
        values(a.support)
    };
    let (one, all) = (ig(1), ig(16));
    for (a, b) in one.iter().zip(&all) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    assert!(one.iter().any(|v| v.abs() > 1e-4));
}

#[test]
fn support_blur_ig_matches_finite_differences() {
    use glassbox_attribution::blur_ig::gaussian_blur;
    let dev = Device::flex();
    let (input, _, _, m) = episode(&dev);
    let region_v = vec![1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0];
    let region = Tensor::<3>::from_data(TensorData::new(region_v.clone(), [2, 2, 2]), &dev);
    let (steps, max_sigma, grad_step) = (5, 1.5, 0.01);
    let method = SupportMethod::BlurIntegratedGradients {
        steps,
        max_sigma,
        grad_step,
    };
    let got = values(
        SupportAttributor::new(method)
            .with_path_batch(2)
            .attribute(&segmenter, &input, Some(region.clone()))
            .unwrap()
            .support,
    );
    // Reference: the same sum, with ∇F by central differences of the explained score (mean
    // foreground probability over the region), evaluated on host-side copies.
    let score = |q: &Tensor<4>, s: &Tensor<5>, n: usize| {
        mean_foreground(q.clone(), s.clone(), &input, &region_v, n)
    };
    let sigmas: Vec<f64> = (0..=steps)
        .map(|i| i as f64 * max_sigma / steps as f64)
        .collect();
    let supports = input.support_images.clone().reshape([6, 1, 2, 2]);
    let mut want = vec![0.0f64; 24];
    for k in 0..steps {
        let q = gaussian_blur(input.query.clone(), sigmas[k]);
        let at = values(gaussian_blur(supports.clone(), sigmas[k]));
        let ahead = values(gaussian_blur(supports.clone(), sigmas[k] + grad_step));
        for i in 0..24 {
            let n = i / 12;
            let bump = |d: f32| {
                let mut v = at.clone();
                v[i] += d;
                Tensor::<5>::from_data(TensorData::new(v, [2, 3, 1, 2, 2]), &dev)
            };
            let eps = 1e-2;
            let g = (score(&q, &bump(eps), n) - score(&q, &bump(-eps), n)) / (2.0 * eps as f64);
            let slope = (ahead[i] - at[i]) as f64 / grad_step;
            want[i] -= (sigmas[k + 1] - sigmas[k]) * slope * g;
        }
    }
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (*g as f64 - w.abs()).abs() < 2e-3 * (1.0 + w.abs()),
            "pixel {i}: {g} vs {}",
            w.abs()
        );
        if m[i] == 0.0 {
            assert_eq!(*g, 0.0, "masked-out support pixel {i}");
        }
    }
    assert!(got.iter().any(|v| *v > 1e-4), "{got:?}");
    // Zero steps is a typed error.
    let bad = SupportAttributor::new(SupportMethod::BlurIntegratedGradients {
        steps: 0,
        max_sigma,
        grad_step,
    })
    .attribute(&segmenter, &input, Some(region));
    assert!(matches!(bad, Err(Error::Config(_))));
}

#[test]
fn support_guided_ig_on_the_straight_line_is_left_riemann_ig() {
    // With max_dist = 0 Guided IG may not leave the straight line from 0 to the episode, so it
    // is left-Riemann IG over query and supports together: Σ_k (1/S) · x ⊙ ∇F(k/S · x).
    let dev = Device::flex();
    let (input, _, s, _) = episode(&dev);
    let region_v = vec![1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0];
    let region = Tensor::<3>::from_data(TensorData::new(region_v.clone(), [2, 2, 2]), &dev);
    let steps = 4;
    let got = values(
        SupportAttributor::new(SupportMethod::GuidedIntegratedGradients {
            steps,
            fraction: 0.5,
            max_dist: 0.0,
        })
        .attribute(&segmenter, &input, Some(region.clone()))
        .unwrap()
        .support,
    );
    let score = |a: f32, supports: Vec<f32>, n: usize| {
        let sup = Tensor::<5>::from_data(TensorData::new(supports, [2, 3, 1, 2, 2]), &dev);
        mean_foreground(input.query.clone() * a, sup, &input, &region_v, n)
    };
    let mut want = vec![0.0f64; 24];
    for k in 0..steps {
        let a = k as f32 / steps as f32;
        let at: Vec<f32> = s.iter().map(|v| v * a).collect();
        for i in 0..24 {
            let eps = 1e-2f32;
            let mut up = at.clone();
            up[i] += eps;
            let mut down = at.clone();
            down[i] -= eps;
            let g = (score(a, up, i / 12) - score(a, down, i / 12)) / (2.0 * eps as f64);
            want[i] += s[i] as f64 / steps as f64 * g;
        }
    }
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (*g as f64 - w.abs()).abs() < 2e-3 * (1.0 + w.abs()),
            "pixel {i}: {g} vs {}",
            w.abs()
        );
    }
    assert!(got.iter().any(|v| *v > 1e-4), "{got:?}");
    // With a free path the attribution differs but stays finite and non-negative.
    let free = values(
        SupportAttributor::new(SupportMethod::GuidedIntegratedGradients {
            steps: 8,
            fraction: 0.5,
            max_dist: 1.0,
        })
        .attribute(&segmenter, &input, Some(region))
        .unwrap()
        .support,
    );
    assert!(free.iter().all(|v| v.is_finite() && *v >= 0.0));
}

#[test]
fn support_xrai_keeps_the_integrated_gradients_total_and_ranks_the_bright_half_first() {
    // One 1-shot episode of 24×24: the support is 0.1 on the left half and 0.9 on the right,
    // its mask is full, the query is all ones, so IG (exact for this linear model) is
    // support · Q with Q = 576 the region's query sum: a flat low half and a flat high half.
    let dev = Device::flex();
    let (h, w) = (24, 24);
    let s: Vec<f32> = (0..h * w)
        .map(|p| if p % w < w / 2 { 0.1 } else { 0.9 })
        .collect();
    let input = FewShotInput {
        query: Tensor::ones([1, 1, h, w], &dev),
        support_images: Tensor::from_data(TensorData::new(s.clone(), [1, 1, 1, h, w]), &dev),
        support_masks: Tensor::ones([1, 1, h, w], &dev),
    };
    let region = Tensor::<3>::ones([1, h, w], &dev);
    let got = SupportAttributor::new(SupportMethod::Xrai { steps: 10 })
        .attribute(&segmenter, &input, Some(region))
        .unwrap();
    assert_eq!(got.support.dims(), [1, 1, h, w]);
    let map = values(got.support);
    // Every pixel carries the mean IG of the region that added it, so totals agree.
    let q = (h * w) as f32;
    let ig_total: f32 = s.iter().map(|v| v * q).sum();
    let total: f32 = map.iter().sum();
    assert!(
        (total - ig_total).abs() < 1e-3 * ig_total,
        "{total} vs {ig_total}"
    );
    // The bright half is one region, ranked first; the far left keeps the dim half's value.
    for y in 0..h {
        assert!(map[y * w + w - 2] > map[y * w + 1], "row {y}");
        assert!((map[y * w + 1] - 0.1 * q).abs() < 1e-2 * q, "row {y}");
    }
}

#[test]
fn support_lime_recovers_each_superpixels_share_on_a_linear_segmenter() {
    // With images and masks multiplied by the same 0/1 state, the closed-form segmenter's
    // score is Q̄ · Σ_f z_f Σ_{p∈f} s_p m_p: linear in the states, so the unpenalised
    // surrogate's coefficient of superpixel f is exactly Q̄ · Σ_{p∈f} s_p m_p (Q̄ the mean
    // query value over the region).
    use glassbox_attribution::Slic;
    let dev = Device::flex();
    let (h, w) = (8, 8);
    let s: Vec<f32> = (0..2 * h * w)
        .map(|i| ((i * 7 % 17) as f32) / 17.0 + 0.2)
        .collect();
    let m: Vec<f32> = (0..2 * h * w)
        .map(|i| if (i % w) < 5 && i % 3 != 0 { 1.0 } else { 0.0 })
        .collect();
    let q: Vec<f32> = (0..h * w).map(|i| 0.5 + (i % 5) as f32 / 10.0).collect();
    let input = FewShotInput {
        query: Tensor::from_data(TensorData::new(q.clone(), [1, 1, h, w]), &dev),
        support_images: Tensor::from_data(TensorData::new(s.clone(), [1, 2, 1, h, w]), &dev),
        support_masks: Tensor::from_data(TensorData::new(m.clone(), [1, 2, h, w]), &dev),
    };
    let region = Tensor::<3>::ones([1, h, w], &dev);
    let q_mean = q.iter().sum::<f32>() / (h * w) as f32;
    let got = SupportAttributor::new(SupportMethod::Lime {
        samples: 40,
        segments: 4,
        compactness: 10.0,
        alpha: 0.0,
        image_weight: 0.2,
        kernel_width: 1.0,
        seed: 3,
        batch_size: 16,
    })
    .attribute(&segmenter, &input, Some(region))
    .unwrap();
    assert_eq!(got.support.dims(), [1, 2, h, w]);
    let map = values(got.support);
    for shot in 0..2 {
        let image: Vec<f64> = s[shot * h * w..(shot + 1) * h * w]
            .iter()
            .map(|v| *v as f64)
            .collect();
        let seg = Slic::default()
            .with_segments(4)
            .segment(&image, [1, h, w])
            .unwrap();
        assert!(seg.count >= 2, "{}", seg.count);
        let mut share = vec![0.0f32; seg.count];
        for p in 0..h * w {
            share[seg.labels[p]] += s[shot * h * w + p] * m[shot * h * w + p] * q_mean;
        }
        for p in 0..h * w {
            let g = map[shot * h * w + p];
            let want = share[seg.labels[p]];
            assert!(
                (g - want).abs() < 1e-3 * (1.0 + want.abs()),
                "shot {shot} pixel {p}: {g} vs {want}"
            );
        }
    }
}

/// fg = relu(P − 1) · query with P = Σ support · mask: against the all-zero episode
/// (P₀ = 0, so the ReLU's input moves from −1 to P − 1) DeepLift's multiplier at the ReLU is
/// relu(P − 1) / P, so the support relevance is support · mask · Q · relu(P − 1) / P, where
/// the plain gradient would have 1[P > 1] in its place.
#[test]
fn support_deep_lift_has_the_closed_form() {
    fn gated(q: Tensor<4>, s: Tensor<5>, m: Tensor<4>) -> Tensor<4> {
        let [n, _, h, w] = q.dims();
        let proto = (s.sum_dim(2).reshape([n, m.dims()[1], h, w]) * m)
            .sum_dims(&[1, 2, 3])
            .reshape([n, 1, 1, 1]);
        let fg = q * glassbox_core::rescale::relu(proto - 1.0);
        Tensor::cat(vec![fg.zeros_like(), fg], 1)
    }
    let dev = Device::flex();
    let (input, q, s, m) = episode(&dev);
    let region_v = vec![1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0];
    let region = Tensor::<3>::from_data(TensorData::new(region_v.clone(), [2, 2, 2]), &dev);
    let want: Vec<f32> = (0..24)
        .map(|i| {
            let n = i / 12;
            let qsum: f32 = (0..4).map(|p| q[n * 4 + p] * region_v[n * 4 + p]).sum();
            let proto: f32 = (n * 12..n * 12 + 12).map(|j| s[j] * m[j]).sum();
            s[i] * m[i] * qsum * (proto - 1.0).max(0.0) / proto
        })
        .collect();
    let got = SupportAttributor::new(SupportMethod::DeepLift { eps: 1e-10 })
        .attribute(&gated, &input, Some(region))
        .unwrap();
    assert_eq!(got.method, "support_deep_lift");
    let got = values(got.support);
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-5, "got {got:?}, want {want:?}");
    }
    let bad = SupportAttributor::new(SupportMethod::DeepLift { eps: -1.0 })
        .attribute(&gated, &input, None)
        .unwrap_err();
    assert!(matches!(bad, Error::Config(_)), "{bad}");
}
