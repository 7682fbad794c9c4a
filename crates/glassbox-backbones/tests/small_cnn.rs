//! SmallCnn shapes, the feature split used by Grad-CAM, input validation, and the conv
//! block's split by input channels.

use burn::module::Module;
use burn::prelude::*;
use glassbox_backbones::{MultiLevelBackbone, SmallCnnConfig};
use glassbox_core::{Classifier, Error, FeatureClassifier, HostTensor};

#[test]
fn shapes_of_logits_and_levels() {
    let dev = Device::flex();
    let model = SmallCnnConfig::new().with_widths([4, 8, 16]).init(&dev);
    let x = Tensor::<4>::random([3, 1, 28, 28], burn::tensor::Distribution::Default, &dev);
    assert_eq!(model.forward(x.clone()).dims(), [3, 10]);
    let levels = model.forward_levels(x.clone());
    let described = model.feature_levels();
    assert_eq!(levels.len(), described.len());
    for (t, l) in levels.iter().zip(&described) {
        assert_eq!(
            t.dims(),
            [3, l.channels, 28 / l.stride, 28 / l.stride],
            "{}",
            l.name
        );
    }
    assert_eq!(model.features(x).dims(), [3, 16, 7, 7]);
}

#[test]
fn feature_split_reproduces_the_forward_pass() {
    let dev = Device::flex();
    // valid(): dropout off, batch norm in inference mode, so both paths are deterministic.
    let model = SmallCnnConfig::new()
        .with_widths([4, 8, 16])
        .init(&dev)
        .valid();
    let x = Tensor::<4>::random([2, 1, 28, 28], burn::tensor::Distribution::Default, &dev);
    let direct = model.logits(x.clone());
    let split = model.classify_features(model.features(x));
    let diff = (direct - split).abs().max().into_scalar::<f32>();
    assert!(diff < 1e-6, "max difference {diff}");
    assert_eq!(model.feature_layer(), "stage3");
}

#[test]
fn bad_inputs_and_configs_are_typed_errors() {
    let dev = Device::flex();
    let model = SmallCnnConfig::new().with_widths([4, 8, 16]).init(&dev);
    let rgb = Tensor::<4>::zeros([1, 3, 28, 28], &dev);
    let err = model.try_forward(rgb).unwrap_err();
    assert!(
        matches!(err, Error::Shape { .. }) && err.to_string().contains("[N, 1, H, W]"),
        "{err}"
    );
    let tiny = Tensor::<4>::zeros([1, 1, 2, 2], &dev);
    assert!(matches!(model.try_forward(tiny), Err(Error::Shape { .. })));
    let nan = Tensor::<4>::zeros([1, 1, 28, 28], &dev) / 0.0;
    assert!(matches!(
        model.try_forward(nan),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        SmallCnnConfig::new().with_num_classes(1).try_init(&dev),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        SmallCnnConfig::new().with_dropout(1.0).try_init(&dev),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        SmallCnnConfig::new().with_widths([4, 0, 8]).try_init(&dev),
        Err(Error::Config(_))
    ));
}

#[test]
fn conv_block_channel_parts_sum_to_the_full_convolution() {
    use burn::tensor::Distribution;
    use glassbox_backbones::ConvBnReluConfig;
    let device = Device::flex();
    device.seed(3);
    // Odd and even kernels: `Same` padding is symmetric for 3 and asymmetric for 2 and 4.
    for kernel in [1, 2, 3, 4] {
        let block = ConvBnReluConfig::new(5, 4)
            .with_kernel_size(kernel)
            .init(&device)
            .valid();
        let x = Tensor::<4>::random([2, 5, 7, 6], Distribution::Normal(0.0, 1.0), &device);
        let full = block.forward(x.clone());
        let parts = block.conv_channels(x.clone().slice(s![.., 0..2]), 0..2)
            + block.conv_channels(x.slice(s![.., 2..5]), 2..5);
        let split = block.activate(parts);
        assert_eq!(split.dims(), full.dims(), "kernel {kernel}");
        let diff = (split - full).abs().max().into_scalar::<f32>();
        assert!(diff < 1e-5, "kernel {kernel}: {diff}");
    }
}

#[test]
fn conv_without_each_channel_equals_convolving_the_zeroed_input() {
    use burn::tensor::Distribution;
    use glassbox_backbones::ConvBnReluConfig;
    let device = Device::flex();
    device.seed(4);
    // Batch 1 and 2 (the two output layouts), odd and even kernels.
    for (n, kernel) in [(1, 3), (2, 3), (2, 2), (1, 4)] {
        let block = ConvBnReluConfig::new(6, 4)
            .with_kernel_size(kernel)
            .init(&device)
            .valid();
        let x = Tensor::<4>::random([n, 3, 5, 7], Distribution::Normal(0.0, 1.0), &device);
        let all = block.conv_channels_without_each(x.clone(), 2..5);
        assert_eq!(all.dims(), [3 * n, 4, 5, 7]);
        for a in 0..3 {
            let mut zeroed = x.clone();
            zeroed = zeroed.slice_assign(s![.., a..a + 1], Tensor::zeros([n, 1, 5, 7], &device));
            let expect = block.conv_channels(zeroed, 2..5);
            let got = all.clone().slice(s![a * n..(a + 1) * n]);
            let diff = (got - expect).abs().max().into_scalar::<f32>();
            assert!(diff < 1e-5, "n {n}, kernel {kernel}, channel {a}: {diff}");
        }
    }
}

#[test]
fn conv_at_pixels_equals_the_full_convolution_there() {
    use burn::tensor::Distribution;
    use glassbox_backbones::ConvBnReluConfig;
    let device = Device::flex();
    device.seed(4);
    let (h, w) = (7, 6);
    // Corners and edges (where the zero padding enters), interior pixels, a repeat, and an
    // unsorted order.
    let pixels = [0, w - 1, h * w - 1, (h - 1) * w, 8, 20, 20, 13, 2];
    for kernel in [1, 2, 3, 4] {
        let block = ConvBnReluConfig::new(5, 4)
            .with_kernel_size(kernel)
            .init(&device)
            .valid();
        let x = Tensor::<4>::random([2, 3, h, w], Distribution::Normal(0.0, 1.0), &device);
        let full = HostTensor::from_tensor(&block.conv_channels(x.clone(), 1..4));
        let at = block.conv_channels_at(x.clone(), 1..4, &pixels);
        assert_eq!(at.dims(), [2, pixels.len(), 4], "kernel {kernel}");
        // Only the input pixels it names matter: zero every other one and nothing changes.
        let read = block.input_pixels([h, w], &pixels);
        assert!(
            read.len() < h * w,
            "kernel {kernel}: the test pixels read everything"
        );
        let keep: Vec<f32> = (0..h * w)
            .map(|q| if read.contains(&q) { 1.0 } else { 0.0 })
            .collect();
        let keep = Tensor::<1>::from_floats(keep.as_slice(), &device).reshape([1, 1, h, w]);
        let sparse = block.conv_channels_at(x.clone() * keep, 1..4, &pixels);
        let diff = (sparse - at.clone()).abs().max().into_scalar::<f32>();
        assert!(diff == 0.0, "kernel {kernel}: {diff}");
        // The same from rows at the read pixels alone, in reverse order.
        let mut row_of = vec![None; h * w];
        for (r, &q) in read.iter().rev().enumerate() {
            row_of[q] = Some(r);
        }
        let order: Vec<i64> = read.iter().rev().map(|&q| q as i64).collect();
        let rows = x
            .permute([0, 2, 3, 1])
            .reshape([2, h * w, 3])
            .select(1, Tensor::<1, Int>::from_ints(order.as_slice(), &device));
        let from_rows = block.conv_rows_at(rows, &row_of, [h, w], 1..4, &pixels);
        let diff = (from_rows - at.clone()).abs().max().into_scalar::<f32>();
        assert!(diff == 0.0, "kernel {kernel}: rows {diff}");
        let at = HostTensor::from_tensor(&at);
        for b in 0..2 {
            for (j, &p) in pixels.iter().enumerate() {
                for c in 0..4 {
                    let want = full.values[(b * 4 + c) * h * w + p];
                    let got = at.values[(b * pixels.len() + j) * 4 + c];
                    assert!(
                        (want - got).abs() < 1e-5,
                        "kernel {kernel} item {b} pixel {p} channel {c}: {got} vs {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn batch_norm_scale_shift_is_the_inference_activation() {
    use burn::tensor::Distribution;
    use glassbox_backbones::ConvBnReluConfig;
    let device = Device::flex();
    device.seed(5);
    // A few training-mode passes move the running statistics away from (0, 1).
    let train = device.clone().autodiff();
    let block = ConvBnReluConfig::new(3, 4).init(&train);
    for _ in 0..3 {
        let x = Tensor::<4>::random([4, 3, 5, 5], Distribution::Normal(2.0, 3.0), &train);
        let _ = block.forward(x);
    }
    let block = block.valid();
    let conv = Tensor::<4>::random([2, 4, 3, 3], Distribution::Normal(1.0, 2.0), &device);
    let want = block.activate(conv.clone());
    let (scale, shift) = block.bn_scale_shift();
    let (mean, scale_host) = (
        HostTensor::from_tensor(&shift).values,
        HostTensor::from_tensor(&scale).values,
    );
    assert!(
        mean.iter().any(|v| v.abs() > 0.1) && scale_host.iter().any(|v| (v - 1.0).abs() > 0.1),
        "running statistics did not move: shift {mean:?} scale {scale_host:?}"
    );
    let got = burn::tensor::activation::relu(
        conv * scale.reshape([1, 4, 1, 1]) + shift.reshape([1, 4, 1, 1]),
    );
    let diff = (got - want).abs().max().into_scalar::<f32>();
    assert!(diff < 1e-5, "{diff}");
}
