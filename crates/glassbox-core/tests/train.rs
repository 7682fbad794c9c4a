//! The fit loop and checkpoints on a closed-form problem: least squares.

use burn::module::{Module, Param};
use burn::optim::SgdConfig;
use burn::prelude::*;
use glassbox_core::Error;
use glassbox_core::checkpoint::{load_checkpoint_config, load_checkpoint_weights, save_checkpoint};
use glassbox_core::train::{FitConfig, LrSchedule, StepOutput, fit};

#[derive(Module, Debug)]
struct Line {
    w: Param<Tensor<1>>,
}

fn line(dev: &Device) -> Line {
    Line {
        w: Param::from_tensor(Tensor::zeros([2], dev)),
    }
}

/// y = 3x - 1 on four points; SGD on the mean squared error must find w = (3, -1).
fn batches(dev: &Device) -> Vec<(Tensor<2>, Tensor<1>)> {
    let x = Tensor::<2>::from_floats([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0], [-1.0, 1.0]], dev);
    let y = Tensor::<1>::from_floats([-1.0, 2.0, 5.0, -4.0], dev);
    vec![(x, y)]
}

fn mse(m: &Line, (x, y): (Tensor<2>, Tensor<1>)) -> StepOutput {
    let pred = x
        .matmul(m.w.val().unsqueeze_dim::<2>(1))
        .squeeze_dim::<1>(1);
    StepOutput {
        loss: (pred - y).powi_scalar(2).mean(),
        correct: None,
        count: 4,
    }
}

#[test]
fn fit_solves_least_squares() {
    let dev = Device::flex().autodiff();
    let data = batches(&dev);
    let mut opt = SgdConfig::new().init();
    let cfg = FitConfig {
        epochs: 300,
        learning_rate: 0.1,
        schedule: LrSchedule::Constant,
        progress: false,
    };
    let (model, history) = fit(
        line(&dev),
        &mut opt,
        &cfg,
        |_| data.clone().into_iter(),
        mse,
        None,
    )
    .unwrap();
    let w = model.w.val().into_data().try_into_vec_as::<f32>().unwrap();
    assert!(
        (w[0] - 3.0).abs() < 1e-3 && (w[1] + 1.0).abs() < 1e-3,
        "{w:?}"
    );
    assert_eq!(history.len(), 300);
    assert!(history[299].train_loss < 1e-6 && history[0].train_loss > 1.0);
}

#[test]
fn fit_reports_divergence_as_an_error() {
    let dev = Device::flex().autodiff();
    let data = batches(&dev);
    let mut opt = SgdConfig::new().init();
    // A learning rate far above 2/λ_max makes gradient descent diverge to inf/NaN.
    let cfg = FitConfig {
        epochs: 500,
        learning_rate: 50.0,
        schedule: LrSchedule::Constant,
        progress: false,
    };
    let err = fit(
        line(&dev),
        &mut opt,
        &cfg,
        |_| data.clone().into_iter(),
        mse,
        None,
    )
    .unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err}");
}

#[test]
fn fit_rejects_bad_configs() {
    let dev = Device::flex().autodiff();
    let mut opt = SgdConfig::new().init();
    for cfg in [
        FitConfig {
            epochs: 0,
            ..FitConfig::default()
        },
        FitConfig {
            learning_rate: f64::NAN,
            ..FitConfig::default()
        },
    ] {
        let r = fit(
            line(&dev),
            &mut opt,
            &cfg,
            |_| batches(&dev).into_iter(),
            mse,
            None,
        );
        assert!(matches!(r, Err(Error::Config(_))));
    }
}

#[test]
fn cosine_schedule_endpoints() {
    assert_eq!(LrSchedule::Cosine.rate(1.0, 0, 10), 1.0);
    assert!((LrSchedule::Cosine.rate(1.0, 5, 10) - 0.5).abs() < 1e-12);
    assert!(LrSchedule::Cosine.rate(1.0, 10, 10).abs() < 1e-12);
}

#[test]
fn checkpoint_round_trip_and_protection() {
    let dev = Device::flex();
    let dir = std::env::temp_dir().join(format!("glassbox-ckpt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let model = Line {
        w: Param::from_tensor(Tensor::from_floats([1.5, -2.25], &dev)),
    };
    save_checkpoint(&model, &serde_json::json!({"name": "line"}), &dir, false).unwrap();
    let cfg: serde_json::Value = load_checkpoint_config(&dir).unwrap();
    assert_eq!(cfg["name"], "line");
    let loaded = load_checkpoint_weights(line(&dev), &dir).unwrap();
    assert_eq!(loaded.w.val().to_data(), model.w.val().to_data());

    // A second save must not replace the first.
    let err = save_checkpoint(&line(&dev), &1, &dir, false).unwrap_err();
    assert!(matches!(err, Error::AlreadyExists(_)));
    let again = load_checkpoint_weights(line(&dev), &dir).unwrap();
    assert_eq!(again.w.val().to_data(), model.w.val().to_data());

    // A corrupt weights file is a typed error.
    std::fs::write(dir.join("model.bpk"), b"definitely not burnpack").unwrap();
    let err = load_checkpoint_weights(line(&dev), &dir).unwrap_err();
    assert!(matches!(err, Error::Checkpoint { .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
