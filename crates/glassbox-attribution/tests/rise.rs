//! RISE: mask statistics and Monte Carlo behaviour on models with known answers.

use burn::prelude::*;
use glassbox_attribution::Rise;
use glassbox_attribution::rise::rise_masks;
use glassbox_core::rng::SplitMix64;
use glassbox_core::{Error, Target};

#[test]
fn masks_are_soft_binary_with_mean_p() {
    let mut rng = SplitMix64::new(1);
    let m = rise_masks(500, 4, 0.3, 12, 12, &mut rng);
    assert_eq!(m.len(), 500 * 144);
    assert!(m.iter().all(|v| (0.0..=1.0).contains(v)));
    let mean = m.iter().sum::<f32>() / m.len() as f32;
    assert!((mean - 0.3).abs() < 0.02, "mean {mean}");
    // Masks differ from one another (random offsets and grids).
    assert_ne!(&m[..144], &m[144..288]);
}

#[test]
fn constant_model_gives_its_probability_everywhere() {
    let dev = Device::flex();
    // Logits ignore the input: p(class 1) = e / (1 + e).
    let model = |x: Tensor<4>| {
        let n = x.dims()[0];
        Tensor::<2>::from_floats([[0.0, 1.0]], &x.device()).repeat_dim(0, n)
    };
    let x = Tensor::<4>::ones([1, 1, 8, 8], &dev);
    let rise = Rise {
        masks: 2000,
        cells: 4,
        ..Rise::default()
    };
    let a = rise.attribute(&model, x, &Target::Class(1)).unwrap();
    let p1 = 1f32.exp() / (1.0 + 1f32.exp());
    let v = a.relevance.into_data().try_into_vec_as::<f32>().unwrap();
    for s in &v {
        assert!((s - p1).abs() < 0.08 * p1, "{s} vs {p1}");
    }
}

#[test]
fn evidence_on_the_left_is_found_on_the_left() {
    let dev = Device::flex();
    // Class 1's logit grows with how much of the left half survives the mask.
    let model = |x: Tensor<4>| {
        let [n, _, h, w] = x.dims();
        let _ = h;
        // Centred so the softmax works in its responsive range rather than saturating.
        let left = (x
            .slice(s![.., .., .., 0..w / 2])
            .mean_dims(&[1, 2, 3])
            .reshape([n, 1])
            - 0.5)
            * 6.0;
        Tensor::cat(vec![Tensor::zeros([n, 1], &left.device()), left], 1)
    };
    let x = Tensor::<4>::ones([2, 1, 8, 8], &dev);
    let a = Rise {
        masks: 1000,
        cells: 4,
        ..Rise::default()
    }
    .attribute(&model, x, &Target::Class(1))
    .unwrap();
    assert_eq!(a.relevance.dims(), [2, 1, 8, 8]);
    let left = a
        .relevance
        .clone()
        .slice(s![.., .., .., 0..4])
        .mean()
        .into_scalar::<f32>();
    let right = a
        .relevance
        .slice(s![.., .., .., 4..8])
        .mean()
        .into_scalar::<f32>();
    assert!(left > right + 0.05, "left {left} right {right}");
}

#[test]
fn bad_configs_are_rejected() {
    let dev = Device::flex();
    let model = |x: Tensor<4>| x.flatten::<2>(1, 3);
    let x = Tensor::<4>::ones([1, 1, 2, 2], &dev);
    for r in [
        Rise {
            masks: 0,
            ..Rise::default()
        },
        Rise {
            p: 0.0,
            ..Rise::default()
        },
        Rise {
            cells: 0,
            ..Rise::default()
        },
    ] {
        assert!(matches!(
            r.attribute(&model, x.clone(), &Target::Class(0)),
            Err(Error::Config(_))
        ));
    }
}
