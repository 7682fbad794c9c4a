//! The embedded Fashion-MNIST subset and loading from a directory.

use glassbox_data::idx::encode_idx;
use glassbox_data::{FashionMnist, Split};

#[test]
fn embedded_subset_is_stratified() {
    let train = FashionMnist::embedded(Split::Train).unwrap();
    let test = FashionMnist::embedded(Split::Test).unwrap();
    assert_eq!(train.len(), 10_000);
    assert_eq!(test.len(), 2_000);
    assert_eq!(train.class_counts(), vec![1000; 10]);
    assert_eq!(test.class_counts(), vec![200; 10]);
    assert_eq!(train.image_shape(), [1, 28, 28]);
    // Real images, not blanks: mean pixel intensity near the dataset's 0.286 * 255.
    let mean = (0..train.len())
        .map(|i| train.image(i).iter().map(|&v| v as f64).sum::<f64>())
        .sum::<f64>()
        / (train.len() * 784) as f64;
    assert!((mean / 255.0 - 0.286).abs() < 0.02, "mean pixel {mean}");
}

#[test]
fn loads_a_directory_and_checks_its_shapes() {
    let dir = std::env::temp_dir().join(format!("glassbox-fmnist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let images = encode_idx(&[3, 28, 28], &vec![128u8; 3 * 784]);
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), &images).unwrap();
    std::fs::write(
        dir.join("t10k-labels-idx1-ubyte"),
        encode_idx(&[3], &[0, 9, 4]),
    )
    .unwrap();
    let set = FashionMnist::from_dir(&dir, Split::Test).unwrap();
    assert_eq!(set.len(), 3);
    assert_eq!(set.labels(), &[0, 9, 4]);

    // Label out of range -> typed error naming the label.
    std::fs::write(
        dir.join("t10k-labels-idx1-ubyte"),
        encode_idx(&[3], &[0, 10, 4]),
    )
    .unwrap();
    let err = FashionMnist::from_dir(&dir, Split::Test)
        .unwrap_err()
        .to_string();
    assert!(err.contains("label index 10"), "{err}");

    // Label count disagreeing with image count.
    std::fs::write(
        dir.join("t10k-labels-idx1-ubyte"),
        encode_idx(&[2], &[0, 1]),
    )
    .unwrap();
    let err = FashionMnist::from_dir(&dir, Split::Test)
        .unwrap_err()
        .to_string();
    assert!(err.contains("labels"), "{err}");

    // Wrong image size.
    std::fs::write(
        dir.join("t10k-images-idx3-ubyte"),
        encode_idx(&[2, 32, 32], &vec![0u8; 2048]),
    )
    .unwrap();
    let err = FashionMnist::from_dir(&dir, Split::Test)
        .unwrap_err()
        .to_string();
    assert!(err.contains("[N, 28, 28]"), "{err}");

    // Missing training files.
    let err = FashionMnist::from_dir(&dir, Split::Train)
        .unwrap_err()
        .to_string();
    assert!(err.contains("train-images-idx3-ubyte"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn full_set_from_debian_package_when_installed() {
    let dir = std::path::Path::new(glassbox_data::fashion_mnist::DEBIAN_DIR);
    if !dir.exists() {
        eprintln!("skipping: {} not installed", dir.display());
        return;
    }
    let test = FashionMnist::from_dir(dir, Split::Test).unwrap();
    assert_eq!(test.len(), 10_000);
    assert_eq!(test.class_counts(), vec![1000; 10]);
}
