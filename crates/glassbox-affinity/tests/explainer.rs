//! The Affinity Explainer against a naive re-implementation of the reference algorithm (one
//! bilinear upsampling per support token, with burn's own `interpolate`), closed-form cases
//! and bad input.

use burn::prelude::*;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use glassbox_affinity::upsample::{
    resize_adjoint, resize_adjoint_host, resize_bilinear, resize_bilinear_channels_last,
    resize_bilinear_host, resize_rows, resize_sources, resize_taps, upsampling_mass,
};
use glassbox_affinity::{
    AffinityExplainer, AffinityExplainerConfig, AffinityLayer, Aggregation, MatchingModel,
    MatchingOutput, MatchingSegmenterConfig, Region, Variant,
};
use glassbox_core::rng::SplitMix64;
use glassbox_core::{FewShotInput, FewShotSegmenter};

/// A "model" that returns fixed affinities and logits.
struct Fixed {
    logits: Tensor<4>,
    layers: Vec<AffinityLayer>,
}

impl FewShotSegmenter for Fixed {
    fn segment(&self, _: Tensor<4>, _: Tensor<5>, _: Tensor<4>) -> Tensor<4> {
        self.logits.clone()
    }
}

impl MatchingModel for Fixed {
    type State = ();
    fn forward_matching(&self, _: &FewShotInput) -> (MatchingOutput, ()) {
        (
            MatchingOutput {
                logits: self.logits.clone(),
                layers: self.layers.clone(),
            },
            (),
        )
    }
    fn layer_weights(&self, _: &(), _: &Tensor<3>) -> Option<Tensor<2>> {
        None
    }
}

fn random(shape: &[usize], seed: u64, scale: f32) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..shape.iter().product::<usize>())
        .map(|_| scale * (rng.unit() * 2.0 - 1.0))
        .collect()
}

fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape.to_vec()), device)
}

fn host<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    glassbox_core::HostTensor::from_tensor(t).values
}

fn burn_resize(x: Vec<f32>, [h, w]: [usize; 2], out: [usize; 2], device: &Device) -> Vec<f32> {
    let t = tensor(x, [1, 1, h, w], device);
    host(&interpolate(
        t,
        InterpolateOptions::new(InterpolateMode::Bilinear)
            .with_align_corners(false)
            .with_output_size(out),
    ))
}

fn input(k: usize, side: usize, device: &Device) -> FewShotInput {
    let mut masks = vec![0.0; k * side * side];
    for s in 0..k {
        for y in side / 4..side / 2 {
            for x in side / 4..3 * side / 4 {
                masks[s * side * side + y * side + x] = 1.0;
            }
        }
    }
    FewShotInput {
        query: tensor(
            random(&[1, 1, side, side], 1, 1.0),
            [1, 1, side, side],
            device,
        ),
        support_images: tensor(
            random(&[1, k, 1, side, side], 2, 1.0),
            [1, k, 1, side, side],
            device,
        ),
        support_masks: tensor(masks, [1, k, side, side], device),
    }
}

/// The reference algorithm, literally: per support token, upsample its query map, normalise,
/// average over the region; then upsample the support grid, normalise, average layers, min–max.
fn naive(
    layers: &[(Vec<f32>, [usize; 2])],
    k: usize,
    region: &[f32],
    e: usize,
    softmax: bool,
    device: &Device,
) -> Vec<f32> {
    let area: f32 = region.iter().sum();
    let mut total = vec![0.0f32; k * e * e];
    for (scores, [g, _]) in layers {
        let p = g * g;
        let kp = k * p;
        // softmax over support tokens
        let mut a = scores.clone();
        for q in (0..p).filter(|_| softmax) {
            let row = &mut a[q * kp..(q + 1) * kp];
            let m = row.iter().cloned().fold(f32::MIN, f32::max);
            let s: f32 = row.iter().map(|v| (v - m).exp()).sum();
            row.iter_mut().for_each(|v| *v = (*v - m).exp() / s);
        }
        let mut c = vec![0.0f32; kp];
        for (j, cj) in c.iter_mut().enumerate() {
            let col: Vec<f32> = (0..p).map(|q| a[q * kp + j]).collect();
            let up = burn_resize(col, [*g, *g], [e, e], device);
            let s: f32 = up.iter().sum::<f32>() + 1e-6;
            *cj = up.iter().zip(region).map(|(u, r)| u / s * r).sum::<f32>() / area;
        }
        let mut big = Vec::new();
        for shot in 0..k {
            big.extend(burn_resize(
                c[shot * p..(shot + 1) * p].to_vec(),
                [*g, *g],
                [e, e],
                device,
            ));
        }
        let s: f32 = big.iter().sum::<f32>() + 1e-6;
        for (t, b) in total.iter_mut().zip(&big) {
            *t += b / s / layers.len() as f32;
        }
    }
    let lo = total.iter().cloned().fold(f32::MAX, f32::min);
    let hi = total.iter().cloned().fold(f32::MIN, f32::max);
    total.iter().map(|v| (v - lo) / (hi - lo)).collect()
}

/// The explainer on `heads` random score maps per layer (uniform in `±scale`)
/// against [`naive`] on the head means.
fn check_against_naive(heads: usize, scale: f32) {
    check_against_naive_at(heads, scale, None, true);
}

/// [`check_against_naive`] with the explanation computed at `explanation_size` (then resized
/// bilinearly to the image, as the reference does for its working resolution).
fn check_against_naive_at(
    heads: usize,
    scale: f32,
    explanation_size: Option<usize>,
    use_softmax: bool,
) {
    let device = Device::flex();
    let (k, side) = (2, 16);
    let grids = [8usize, 4];
    let mut layers = Vec::new();
    let mut raw = Vec::new();
    for (i, &g) in grids.iter().enumerate() {
        let (p, kp) = (g * g, k * g * g);
        let v = random(&[heads, p, kp], 10 + i as u64, scale);
        let mean: Vec<f32> = (0..p * kp)
            .map(|j| (0..heads).map(|h| v[h * p * kp + j]).sum::<f32>() / heads as f32)
            .collect();
        let scores = tensor(v, [1, heads, p, kp], &device);
        layers.push(AffinityLayer {
            name: format!("l{i}"),
            scores,
            query_hw: [g, g],
            support_hw: [g, g],
        });
        raw.push((mean, [g, g]));
    }
    // Foreground logits positive on an off-centre blob.
    let mut logits = vec![0.0f32; 2 * side * side];
    let mut region = vec![0.0f32; side * side];
    for y in 3..9 {
        for x in 5..14 {
            logits[side * side + y * side + x] = 1.0;
            region[y * side + x] = 1.0;
        }
    }
    let model = Fixed {
        logits: tensor(logits, [1, 2, side, side], &device),
        layers,
    };
    let explainer = AffinityExplainer::new(
        AffinityExplainerConfig::new(Variant::Unmasked)
            .with_aggregation(Aggregation::Mean)
            .with_explanation_size(explanation_size)
            .with_softmax(use_softmax),
    );
    let out = explainer
        .explain(&model, &input(k, side, &device), &Region::Predicted)
        .unwrap();
    let ours = host(&out.attribution.support);
    let reference = match explanation_size {
        None => naive(&raw, k, &region, side, use_softmax, &device),
        Some(e) => {
            // Nearest-neighbour region at `e`, the naive map there, each shot resized back.
            let small: Vec<f32> = (0..e * e)
                .map(|q| region[(q / e) * side / e * side + (q % e) * side / e])
                .collect();
            let map = naive(&raw, k, &small, e, use_softmax, &device);
            map.chunks(e * e)
                .flat_map(|shot| burn_resize(shot.to_vec(), [e, e], [side, side], &device))
                .collect()
        }
    };
    let worst = ours
        .iter()
        .zip(&reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(
        worst < 1e-4,
        "{heads} heads, scale {scale}: max |ours − naive| = {worst}"
    );
    assert_eq!(host(&out.region), region);
}

#[test]
fn matches_naive_reference_algorithm() {
    check_against_naive(1, 3.0);
}

/// 1–4 heads, and heads so sharp (scores in ±200) that most of each row's softmax mass is on
/// a few tokens: always the softmax of the head-mean scores.
#[test]
fn multi_head_affinities_match_the_naive_head_mean() {
    for heads in 1..=4 {
        check_against_naive(heads, 3.0);
    }
    check_against_naive(4, 200.0);
}

/// A working resolution below the image size: the map is computed at `E × E` and resized.
#[test]
fn explanation_size_below_the_image_matches_the_naive_algorithm_there() {
    check_against_naive_at(4, 3.0, Some(8), true);
}

/// Without the softmax (the paper's ablation), `Â` is the head mean of the raw scores.
#[test]
fn without_softmax_the_head_mean_scores_are_used() {
    check_against_naive_at(4, 3.0, None, false);
    check_against_naive_at(1, 3.0, None, false);
}

#[test]
fn bilinear_matrices_match_burn_interpolate_and_their_adjoint() {
    let device = Device::flex();
    for (from, to) in [(4usize, 16usize), (5, 13), (8, 8), (3, 64)] {
        let x = random(&[from * from], from as u64, 1.0);
        let ours = host(&resize_bilinear(
            tensor(x.clone(), [1, from, from], &device),
            [to, to],
        ));
        let on_host = resize_bilinear_host(&x, [from, from], [to, to]);
        // Channels last: three channels, the second one `x`.
        let stacked: Vec<f32> = x.iter().flat_map(|&v| [v * 2.0, v, -v]).collect();
        let last = host(&resize_bilinear_channels_last(
            tensor(stacked, [1, from, from, 3], &device),
            [to, to],
        ));
        for (i, o) in ours.iter().enumerate() {
            let [a, b, c] = [last[3 * i], last[3 * i + 1], last[3 * i + 2]];
            assert!(
                (b - o).abs() < 1e-5 && (a - 2.0 * o).abs() < 1e-5 && (c + o).abs() < 1e-5,
                "{from}->{to} channels last at {i}: {a} {b} {c} vs {o}"
            );
        }
        let theirs = burn_resize(x, [from, from], [to, to], &device);
        for ((a, b), c) in ours.iter().zip(&theirs).zip(&on_host) {
            assert!((a - b).abs() < 1e-5, "{from}->{to}: {a} vs {b}");
            assert!((c - b).abs() < 1e-5, "{from}->{to}: host {c} vs {b}");
        }
        // ⟨U a, y⟩ = ⟨a, Uᵀ y⟩
        let a = random(&[from * from], 99, 1.0);
        let y = random(&[to * to], 98, 1.0);
        let ua = host(&resize_bilinear(
            tensor(a.clone(), [1, from, from], &device),
            [to, to],
        ));
        let uty = host(&resize_adjoint(
            tensor(y.clone(), [1, to, to], &device),
            [from, from],
        ));
        let on_host = resize_adjoint_host(&y, [to, to], [from, from]);
        for (a, b) in on_host.iter().zip(&uty) {
            assert!((a - b).abs() < 1e-4, "{from}->{to}: host {a} vs device {b}");
        }
        let lhs: f32 = ua.iter().zip(&y).map(|(p, q)| p * q).sum();
        let rhs: f32 = a.iter().zip(&uty).map(|(p, q)| p * q).sum();
        assert!(
            (lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
        // Uᵀ1 on the host equals the adjoint of an all-ones image, and conserves its mass.
        let mass = host(&upsampling_mass([from, from], [to, to], &device));
        let adjoint_of_ones = host(&resize_adjoint(
            tensor(vec![1.0; to * to], [1, to, to], &device),
            [from, from],
        ));
        for (a, b) in mass.iter().zip(&adjoint_of_ones) {
            assert!((a - b).abs() < 1e-4, "{from}->{to}: {a} vs {b}");
        }
        let total: f32 = mass.iter().sum();
        assert!((total - (to * to) as f32).abs() < 1e-2, "{total}");
        // The sources a few output pixels read: zeroing every other input pixel leaves those
        // outputs as they are.
        let pixels = [0, to - 1, to * to / 2 + 1, to * to - 1];
        let read = resize_sources([from, from], [to, to], &pixels);
        let masked: Vec<f32> = (0..from * from)
            .map(|q| if read.contains(&q) { a[q] } else { 0.0 })
            .collect();
        let sparse = host(&resize_bilinear(
            tensor(masked, [1, from, from], &device),
            [to, to],
        ));
        for p in pixels {
            assert_eq!(sparse[p], ua[p], "{from}->{to}: pixel {p}");
        }
        // The same outputs from rows at the sources alone (two items, two channels: `a`
        // and `−2a` in item 0, `2a` and `a` in item 1).
        let taps = resize_taps([from, from], [to, to], &pixels);
        assert_eq!(taps.sources, read);
        let rows: Vec<f32> = [(1.0, -2.0), (2.0, 1.0)]
            .iter()
            .flat_map(|&(s, t)| {
                let a = &a;
                read.iter().flat_map(move |&q| [s * a[q], t * a[q]])
            })
            .collect();
        let got = host(&resize_rows(
            tensor(rows, [2, read.len(), 2], &device),
            &taps,
        ));
        assert_eq!(got.len(), 2 * pixels.len() * 2);
        for (j, &p) in pixels.iter().enumerate() {
            for (item, (s, t)) in [(1.0, -2.0), (2.0, 1.0)].into_iter().enumerate() {
                let at = (item * pixels.len() + j) * 2;
                assert!(
                    (got[at] - s * ua[p]).abs() < 1e-5 && (got[at + 1] - t * ua[p]).abs() < 1e-5,
                    "{from}->{to}: rows at pixel {p}, item {item}: {} {} vs {}",
                    got[at],
                    got[at + 1],
                    ua[p]
                );
            }
        }
        if to > from {
            assert!(
                read.len() < from * from,
                "{from}->{to}: every source is read"
            );
        }
    }
}

/// Query token q matches support token q of shot 0 only: the explanation of a region must
/// light up the same place in shot 0 and nothing in shot 1.
#[test]
fn diagonal_affinity_points_at_the_matching_support_pixels() {
    let device = Device::flex();
    let (k, g, side) = (2, 4, 16);
    let p = g * g;
    let mut scores = vec![0.0f32; p * k * p];
    for q in 0..p {
        scores[q * k * p + q] = 20.0;
    }
    let mut region = vec![0.0f32; side * side];
    for y in 0..4 {
        for x in 0..4 {
            region[y * side + x] = 1.0;
        }
    }
    let model = Fixed {
        logits: Tensor::zeros([1, 2, side, side], &device),
        layers: vec![AffinityLayer {
            name: "l".into(),
            scores: tensor(scores, [1, 1, p, k * p], &device),
            query_hw: [g, g],
            support_hw: [g, g],
        }],
    };
    let explainer = AffinityExplainer::new(AffinityExplainerConfig::new(Variant::Unmasked));
    let out = explainer
        .explain(
            &model,
            &input(k, side, &device),
            &Region::Mask(Box::new(tensor(region, [1, side, side], &device))),
        )
        .unwrap();
    let map = host(&out.attribution.support);
    assert!(
        (map[0] - 1.0).abs() < 1e-6,
        "the top-left pixel of shot 0 is the maximum"
    );
    let shot1_max = map[side * side..].iter().cloned().fold(0.0, f32::max);
    let far = map[side * side - 1];
    assert!(
        shot1_max < 0.05 && far < 0.05,
        "shot 1 max {shot1_max}, far corner {far}"
    );
}

#[test]
fn masked_variant_vanishes_far_from_the_support_mask_and_signed_is_lowest_there() {
    let device = Device::flex();
    let model = MatchingSegmenterConfig::default().init(&device);
    let inp = input(2, 64, &device);
    let mut region = vec![0.0f32; 64 * 64];
    region[..20 * 64].iter_mut().for_each(|v| *v = 1.0);
    let region = Region::Mask(Box::new(tensor(region, [1, 64, 64], &device)));
    for variant in [Variant::Masked, Variant::Signed] {
        let out = AffinityExplainer::new(AffinityExplainerConfig::new(variant))
            .explain(&model, &inp, &region)
            .unwrap();
        let map = host(&out.attribution.support);
        // Mask rows 16..32, cols 16..48; pixel (60, 60) is far outside.
        // Support masks cover rows 16..32, cols 16..48; rows 40.. are far outside.
        let far = map[..64 * 64][40 * 64..]
            .iter()
            .cloned()
            .fold(0.0, f32::max);
        let inside = map[20 * 64 + 20..20 * 64 + 44]
            .iter()
            .cloned()
            .fold(1.0, f32::min);
        if variant == Variant::Masked {
            assert!(far < 1e-3, "{variant:?}: far {far}");
        }
        // Signed: background evidence is negative, so it ranks below all of the mask.
        assert!(
            inside >= far,
            "{variant:?}: inside min {inside} far max {far}"
        );
        assert!(map.iter().all(|v| (0.0..=1.0 + 1e-6).contains(v)));
        let w = host(&out.layer_weights);
        assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-4 && w.iter().all(|&v| v >= 0.0));
    }
}

#[test]
fn bad_inputs_are_typed_errors() {
    let device = Device::flex();
    let model = MatchingSegmenterConfig::default().init(&device);
    let explainer = AffinityExplainer::default();
    let mut inp = input(2, 64, &device);
    let wrong_region = Region::Mask(Box::new(Tensor::ones([1, 32, 32], &device)));
    assert!(explainer.explain(&model, &inp, &wrong_region).is_err());
    inp.support_masks = Tensor::ones([1, 3, 64, 64], &device);
    let err = explainer
        .explain(&model, &inp, &Region::Predicted)
        .unwrap_err();
    assert!(err.to_string().contains("support masks"), "{err}");
    let mut empty = input(2, 64, &device);
    empty.support_masks = empty.support_masks.slice_assign(
        s![0..1, 1..2, .., ..],
        Tensor::zeros([1, 1, 64, 64], &device),
    );
    let err = explainer
        .explain(&model, &empty, &Region::Predicted)
        .unwrap_err();
    assert!(err.to_string().contains("shot 1 in episode 0"), "{err}");
    let mut nan = input(1, 64, &device);
    nan.query = nan.query.mul_scalar(f32::NAN);
    assert!(explainer.explain(&model, &nan, &Region::Predicted).is_err());
    let bad = AffinityExplainer::new(AffinityExplainerConfig {
        blur_kernel: Some(4),
        ..AffinityExplainerConfig::default()
    });
    assert!(
        bad.explain(&model, &input(1, 64, &device), &Region::All)
            .is_err()
    );
}

/// A query with no predicted foreground is explained over the whole query (the reference would
/// divide by an empty region's zero area), exactly as `Region::All`.
#[test]
fn an_empty_predicted_region_falls_back_to_the_whole_query() {
    let device = Device::flex();
    let (k, g, side) = (2, 4, 16);
    let p = g * g;
    let scores = random(&[2, p, k * p], 5, 3.0);
    let scores = tensor(scores, [1, 2, p, k * p], &device);
    let mut logits = vec![0.0f32; 2 * side * side];
    logits[..side * side].fill(1.0); // background wins everywhere
    let model = Fixed {
        logits: tensor(logits, [1, 2, side, side], &device),
        layers: vec![AffinityLayer {
            name: "l".into(),
            scores,
            query_hw: [g, g],
            support_hw: [g, g],
        }],
    };
    let explainer = AffinityExplainer::new(AffinityExplainerConfig::new(Variant::Unmasked));
    let inp = input(k, side, &device);
    let empty = explainer.explain(&model, &inp, &Region::Predicted).unwrap();
    let all = explainer.explain(&model, &inp, &Region::All).unwrap();
    assert!(host(&empty.region).iter().all(|&v| v == 1.0));
    assert_eq!(
        host(&empty.attribution.support),
        host(&all.attribution.support)
    );
    let map = host(&all.attribution.support);
    assert!(map.iter().any(|&v| v < 0.99), "a non-trivial map");
}
