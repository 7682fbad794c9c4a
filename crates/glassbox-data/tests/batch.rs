//! Batching: shapes, normalisation, seeded shuffling, augmentation, bad configs.

use burn::prelude::*;
use glassbox_data::{Augment, BatchConfig, LabeledImages};

fn toy() -> LabeledImages {
    // 10 images of 1×4×4; image i has every pixel = 10·i, label i % 3.
    let pixels = (0..10u8)
        .flat_map(|i| std::iter::repeat_n(i * 10, 16))
        .collect();
    let labels = (0..10u8).map(|i| i % 3).collect();
    LabeledImages::new(
        pixels,
        labels,
        [1, 4, 4],
        vec!["a".into(), "b".into(), "c".into()],
    )
    .unwrap()
}

#[test]
fn batch_shapes_and_last_partial_batch() {
    let dev = Device::flex();
    let data = toy();
    let cfg = BatchConfig::new(4);
    let batches: Vec<_> = cfg.batches(&data, 0, &dev).unwrap().collect();
    assert_eq!(batches.len(), 3);
    assert_eq!(batches[0].images.dims(), [4, 1, 4, 4]);
    assert_eq!(batches[0].labels.dims(), [4]);
    assert_eq!(batches[2].images.dims(), [2, 1, 4, 4]);
    assert_eq!(cfg.batches(&data, 0, &dev).unwrap().len(), 3);
    let dropped = cfg.clone().with_drop_last(true);
    assert_eq!(dropped.batches(&data, 0, &dev).unwrap().count(), 2);
}

#[test]
fn normalisation_is_exact() {
    let dev = Device::flex();
    let data = toy();
    let b = BatchConfig::new(10)
        .with_normalize(0.5, 0.25)
        .batch_of(&data, &[3], &dev)
        .unwrap();
    let v = b.images.into_data().try_into_vec_as::<f32>().unwrap();
    let want = (30.0 / 255.0 - 0.5) / 0.25;
    assert!(v.iter().all(|x| (x - want).abs() < 1e-6), "{v:?}");
    assert_eq!(
        b.labels.into_data().try_into_vec_as::<i64>().unwrap(),
        vec![0]
    );
}

#[test]
fn shuffle_is_seeded_and_a_permutation() {
    let dev = Device::flex();
    let data = toy();
    let cfg = BatchConfig::new(3).with_shuffle(7);
    let order = |epoch| -> Vec<usize> {
        cfg.batches(&data, epoch, &dev)
            .unwrap()
            .flat_map(|b| b.indices)
            .collect()
    };
    let (a, b, c) = (order(1), order(1), order(2));
    assert_eq!(a, b, "same seed and epoch must give the same order");
    assert_ne!(a, c, "a new epoch must reshuffle");
    let mut sorted = a.clone();
    sorted.sort();
    assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    assert_ne!(a, (0..10).collect::<Vec<_>>());
}

#[test]
fn shift_augmentation_moves_content_and_pads_background() {
    let dev = Device::flex();
    // One 1×5×5 image with a single bright pixel in the centre.
    let mut px = vec![0u8; 25];
    px[12] = 255;
    let data = LabeledImages::new(px, vec![0], [1, 5, 5], vec!["x".into()]).unwrap();
    let cfg = BatchConfig::new(1).with_shuffle(1).with_augment(Augment {
        max_shift: 2,
        horizontal_flip: false,
    });
    let mut moved = false;
    for epoch in 0..20 {
        let b = cfg.batches(&data, epoch, &dev).unwrap().next().unwrap();
        let v = b.images.into_data().try_into_vec_as::<f32>().unwrap();
        let total: f32 = v.iter().sum();
        assert!(
            (total - 1.0).abs() < 1e-6,
            "a shift of <= 2 keeps the centre pixel inside"
        );
        moved |= v[12] == 0.0;
    }
    assert!(moved, "20 epochs of random shifts never moved the image");
}

#[test]
fn bad_configs_and_indices_are_typed_errors() {
    let dev = Device::flex();
    let data = toy();
    let err = BatchConfig::new(0)
        .batches(&data, 0, &dev)
        .unwrap_err()
        .to_string();
    assert!(err.contains("batch_size"), "{err}");
    let err = BatchConfig::new(2)
        .with_normalize(0.0, 0.0)
        .batches(&data, 0, &dev)
        .unwrap_err()
        .to_string();
    assert!(err.contains("std"), "{err}");
    let err = BatchConfig::new(2)
        .batch_of(&data, &[10], &dev)
        .unwrap_err()
        .to_string();
    assert!(err.contains("index 10"), "{err}");
    let err = BatchConfig::new(20)
        .with_drop_last(true)
        .batches(&data, 0, &dev)
        .unwrap_err()
        .to_string();
    assert!(err.contains("empty"), "{err}");
    assert!(LabeledImages::new(vec![0; 15], vec![0], [1, 4, 4], vec!["a".into()]).is_err());
    assert!(LabeledImages::new(vec![], vec![], [1, 4, 4], vec!["a".into()]).is_err());
}

#[test]
fn stratified_sample_is_balanced() {
    let data = toy();
    let s = data.stratified(2, 3).unwrap();
    assert_eq!(s.class_counts(), vec![2, 2, 2]);
}
