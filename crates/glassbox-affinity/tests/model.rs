//! The matching segmenter: shapes, batched feature-ablation weights against one-at-a-time
//! ablation, support Grad-CAM properties, and training errors.

use burn::prelude::*;
use glassbox_affinity::{FssTrainConfig, MatchingModel, MatchingSegmenterConfig};
use glassbox_core::{FewShotInput, FewShotSegmenter, HostTensor};
use glassbox_data::fashion_mnist::{MEAN, STD};
use glassbox_data::fss::{EpisodeSampler, FoldRole, SceneConfig, episode_batch};
use glassbox_data::{FashionMnist, Split};

/// Runs `f` holding the lock on the device RNG. The RNG is shared by every test thread, so a
/// test that seeds it and initialises a model does both under this lock (and so does any other
/// initialisation here): no other test's draws can interleave and change the weights.
fn with_rng<T>(f: impl FnOnce() -> T) -> T {
    static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = RNG.lock().unwrap_or_else(|e| e.into_inner());
    f()
}

/// The default segmenter built from the device RNG seeded with `seed`.
fn seeded_model(seed: u64, device: &Device) -> glassbox_affinity::MatchingSegmenter {
    with_rng(|| {
        device.seed(seed);
        MatchingSegmenterConfig::default().init(device).valid()
    })
}

fn episodes(shots: usize, n: usize, device: &Device) -> (FewShotInput, Tensor<3>) {
    let test = FashionMnist::embedded(Split::Test).unwrap();
    let sampler =
        EpisodeSampler::new(&test, SceneConfig::default(), 1, FoldRole::Test, shots, 3).unwrap();
    let b = episode_batch(&sampler.episodes(0, n), [MEAN, STD], device).unwrap();
    (b.input, b.query_masks)
}

#[test]
fn forward_shapes_and_affinity_layout() {
    let device = Device::flex();
    let model = seeded_model(0, &device);
    let (input, _) = episodes(3, 2, &device);
    let (out, state) = model.forward_matching(&input);
    assert_eq!(out.logits.dims(), [2, 2, 64, 64]);
    assert_eq!(out.layers.len(), 2);
    for layer in &out.layers {
        let [h, w] = layer.query_hw;
        assert_eq!(layer.scores.dims(), [2, 4, h * w, 3 * h * w]);
    }
    assert_eq!(state.coarse.len(), 2);
    // The segment() path is the same computation.
    let direct = model.segment(
        input.query.clone(),
        input.support_images.clone(),
        input.support_masks.clone(),
    );
    let diff = (direct - out.logits).abs().max().into_scalar::<f32>();
    assert!(diff < 1e-5, "{diff}");
}

#[test]
fn batched_ablation_weights_equal_one_at_a_time_ablation() {
    let device = Device::flex();
    // A fixed model: with an unlucky random one both ablations barely move the output, and
    // float rounding in the tiny drops dominates their normalised ratio.
    let model = seeded_model(2, &device);
    let (input, truth) = episodes(2, 2, &device);
    let (_, state) = model.forward_matching(&input);
    let weights = HostTensor::from_tensor(&model.layer_weights(&state, &truth).unwrap()).values;
    let mean_fg = |coarse: &[Tensor<4>]| -> Vec<f32> {
        let logits = model.decode(coarse, &state.skips, state.out_hw);
        let fg = logits.slice(s![.., 1..2]).reshape([2, 64 * 64]);
        let r = truth.clone().reshape([2, 64 * 64]);
        HostTensor::from_tensor(&((fg * r.clone()).sum_dim(1) / r.sum_dim(1))).values
    };
    let y0 = mean_fg(&state.coarse);
    let drops: Vec<Vec<f32>> = (0..state.coarse.len())
        .map(|l| {
            let mut c = state.coarse.clone();
            c[l] = c[l].zeros_like();
            mean_fg(&c)
                .iter()
                .zip(&y0)
                .map(|(a, b)| (a - b).abs())
                .collect()
        })
        .collect();
    for i in 0..2 {
        let total: f32 = drops.iter().map(|d| d[i]).sum();
        for (l, d) in drops.iter().enumerate() {
            let expect = d[i] / total;
            let got = weights[i * 2 + l];
            assert!(
                (got - expect).abs() < 1e-4,
                "episode {i} layer {l}: {got} vs {expect}"
            );
        }
    }
}

#[test]
fn support_grad_cam_is_a_non_negative_map_and_vanishes_for_an_empty_region() {
    let device = Device::flex();
    let model = seeded_model(1, &device);
    let (input, truth) = episodes(2, 1, &device);
    let cam = model.support_grad_cam(&input, Some(truth)).unwrap();
    assert_eq!(cam.support.dims(), [1, 2, 64, 64]);
    let v = HostTensor::from_tensor(&cam.support).values;
    assert!(v.iter().all(|x| *x >= 0.0 && x.is_finite()));
    let zero = model
        .support_grad_cam(&input, Some(Tensor::zeros([1, 64, 64], &device)))
        .unwrap();
    assert!(
        HostTensor::from_tensor(&zero.support)
            .values
            .iter()
            .all(|x| *x == 0.0)
    );
    assert!(
        model
            .support_grad_cam(&input, Some(Tensor::zeros([1, 32, 32], &device)))
            .is_err()
    );
}

#[test]
fn invalid_configs_are_errors() {
    let bad_heads = MatchingSegmenterConfig {
        heads: 5,
        ..MatchingSegmenterConfig::default()
    };
    assert!(with_rng(|| bad_heads.try_init(&Device::flex())).is_err());
    let bad_level = MatchingSegmenterConfig {
        match_levels: vec![1, 7],
        ..MatchingSegmenterConfig::default()
    };
    assert!(with_rng(|| bad_level.try_init(&Device::flex())).is_err());
    let bad_fold = FssTrainConfig {
        fold: 9,
        ..FssTrainConfig::default()
    };
    assert!(bad_fold.validate().is_err());
}
