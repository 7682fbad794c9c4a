//! ProtoPNet and ST-ProtoPNet: distances against a brute-force reference, the last layer's
//! initialisation, push exactness (every prototype equals a real training patch of its class),
//! a short training run that learns, and typed errors on bad configurations.

use burn::module::Module;
use burn::prelude::*;
use glassbox_backbones::{ModelConfig, SmallCnnConfig};
use glassbox_core::{Classifier, FeatureClassifier, HostTensor};
use glassbox_data::{BatchConfig, FashionMnist, Split};
use glassbox_prototypes::*;

/// burn's random generator is per device and global: tests that seed it and draw from it
/// (initialisation) run one at a time so that a seed fixes their draws.
static DEVICE_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    DEVICE_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

fn config(variant: Variant) -> PrototypeNetConfig {
    let backbone = ModelConfig::SmallCnn(SmallCnnConfig::new().with_widths([8, 16, 16]));
    PrototypeNetConfig {
        prototypes_per_class: 2,
        prototype_dim: 8,
        ..PrototypeNetConfig::new(backbone, variant, 10)
    }
}

fn images(n: usize) -> (Tensor<4>, Vec<usize>) {
    let data = FashionMnist::embedded(Split::Test).unwrap();
    let batch = BatchConfig::new(n)
        .with_normalize(0.286, 0.353)
        .batch_of(&data, &(0..n).collect::<Vec<_>>(), &Device::default())
        .unwrap();
    let labels = data.labels()[..n].iter().map(|&l| l as usize).collect();
    (batch.images, labels)
}

#[test]
fn l2_distances_and_last_layer_match_the_definitions() {
    let _serial = serial();
    let dev = Device::default();
    dev.seed(3);
    let model = config(Variant::Protopnet).try_init(&dev).unwrap();
    let (x, _) = images(2);
    let out = &model.branches_forward(x.clone())[0];
    // Brute force: squared distance of every latent patch to every prototype.
    let z = HostTensor::from_tensor(&out.latent);
    let p = HostTensor::from_tensor(&model.branches[0].prototypes.val());
    let maps = HostTensor::from_tensor(&out.maps);
    let [_, d, h, w] = out.latent.dims();
    let m = p.shape[0];
    for i in 0..2 {
        for j in 0..m {
            for pos in 0..h * w {
                let dist: f32 = (0..d)
                    .map(|c| (z.values[(i * d + c) * h * w + pos] - p.values[j * d + c]).powi(2))
                    .sum();
                let got = maps.values[(i * m + j) * h * w + pos];
                assert!((dist - got).abs() < 1e-4 * (1.0 + dist), "{dist} vs {got}");
            }
        }
    }
    // Similarity is the log map of the minimum distance; logits are similarity · W.
    let best = HostTensor::from_tensor(&out.best);
    let sim = HostTensor::from_tensor(&out.similarity);
    for (b, s) in best.values.iter().zip(&sim.values) {
        assert!((((b + 1.0) / (b + 1e-4)).ln() - s).abs() < 1e-4);
    }
    let wt = HostTensor::from_tensor(&model.branches[0].last_layer.weight.val());
    for j in 0..m {
        for c in 0..10 {
            let expected = if j / 2 == c { 1.0 } else { -0.5 };
            assert_eq!(wt.values[j * 10 + c], expected);
        }
    }
    assert_eq!(model.prototype_classes()[5], 2);
}

#[test]
fn push_makes_every_prototype_a_training_patch_of_its_class() {
    let _serial = serial();
    let dev = Device::default();
    let data = FashionMnist::embedded(Split::Test).unwrap();
    let subset = data.select(&(0..300).collect::<Vec<_>>()).unwrap();
    for variant in [Variant::Protopnet, Variant::StProtopnet] {
        dev.seed(4);
        let model = config(variant).try_init(&dev).unwrap();
        let batching = BatchConfig::new(64).with_normalize(0.286, 0.353);
        let (pushed, records) = push(model, &subset, &batching, &dev).unwrap();
        assert_eq!(records.len(), 20 * pushed.branches.len());
        for r in &records {
            assert_eq!(
                subset.labels()[r.image] as usize,
                r.class,
                "pushed onto its own class"
            );
            // Recompute that image's latent patch and compare with the prototype.
            let x = batching.batch_of(&subset, &[r.image], &dev).unwrap().images;
            let f = pushed.backbone.features(x);
            let z = HostTensor::from_tensor(&pushed.branches[r.branch].latent(f));
            let [_, d, h, w] = [z.shape[0], z.shape[1], z.shape[2], z.shape[3]];
            let mut patch: Vec<f32> = (0..d)
                .map(|c| z.values[(c * h + r.row) * w + r.col])
                .collect();
            if pushed.branches[r.branch].cosine {
                let norm = patch.iter().map(|v| v * v).sum::<f32>().sqrt();
                patch.iter_mut().for_each(|v| *v /= norm);
            }
            let p = HostTensor::from_tensor(&pushed.branches[r.branch].prototypes.val());
            let proto = &p.values[r.prototype * d..(r.prototype + 1) * d];
            for (a, b) in patch.iter().zip(proto) {
                assert!(
                    (a - b).abs() < 1e-5,
                    "{variant:?} prototype {}: {a} vs {b}",
                    r.prototype
                );
            }
        }
    }
}

#[test]
fn short_training_learns_and_evidence_is_consistent() {
    let _serial = serial();
    let dev = Device::default();
    let data = FashionMnist::embedded(Split::Train).unwrap();
    let train = data.select(&(0..600).collect::<Vec<_>>()).unwrap();
    let test = FashionMnist::embedded(Split::Test)
        .unwrap()
        .select(&(0..300).collect::<Vec<_>>())
        .unwrap();
    for variant in [Variant::Protopnet, Variant::StProtopnet] {
        let mut cfg = PrototypeTrainConfig::new(config(variant));
        cfg.warm_epochs = 1;
        cfg.joint_epochs = 2;
        cfg.last_layer_epochs = 1;
        cfg.progress = false;
        let (model, report) = train_prototype_net(&cfg, &train, Some(&test), &dev).unwrap();
        let acc = report.accuracy_final.unwrap();
        // Chance is 0.10; a tiny backbone trained from scratch for 3 short epochs.
        assert!(acc > 0.2, "{variant:?} learned nothing: {acc}");
        assert!(report.accuracy_before_push.is_some() && report.accuracy_after_push.is_some());
        // Evidence: contributions summed over prototypes are the logits.
        let (x, _) = images(3);
        let ev = explain(&model, x.clone());
        let logits = HostTensor::from_tensor(&model.logits(x));
        let contrib = HostTensor::from_tensor(&ev.contributions().sum_dim(1).squeeze_dim::<2>(1));
        for (a, b) in logits.values.iter().zip(&contrib.values) {
            assert!((a - b).abs() < 1e-3 * (1.0 + a.abs()), "{a} vs {b}");
        }
        assert_eq!(ev.prototype_classes.len(), 20 * model.branches.len());
    }
}

#[test]
fn bad_configurations_are_typed_errors() {
    let _serial = serial();
    let dev = Device::default();
    let mut c = config(Variant::Protopnet);
    c.prototypes_per_class = 0;
    assert!(c.try_init(&dev).is_err());
    let mut c = config(Variant::Protopnet);
    c.num_classes = 1;
    assert!(c.try_init(&dev).is_err());
    // Push onto data lacking a class.
    let data = FashionMnist::embedded(Split::Test).unwrap();
    let zeros: Vec<usize> = (0..data.len())
        .filter(|&i| data.labels()[i] == 0)
        .take(20)
        .collect();
    let only_zero = data.select(&zeros).unwrap();
    let model = config(Variant::Protopnet).try_init(&dev).unwrap();
    let err = push(model, &only_zero, &BatchConfig::new(16), &dev).unwrap_err();
    assert!(err.to_string().contains("class 1"), "{err}");
    // Training data with the wrong number of channels or classes.
    let cfg = PrototypeTrainConfig::new(PrototypeNetConfig {
        num_classes: 3,
        ..config(Variant::Protopnet)
    });
    assert!(train_prototype_net(&cfg, &only_zero, None, &dev).is_err());
    let _ = Module::num_params(&config(Variant::StProtopnet).try_init(&dev).unwrap());
}

#[test]
fn loss_coefficients_and_normalisation_are_validated() {
    let good = PrototypeTrainConfig::new(config(Variant::Protopnet));
    good.validate().unwrap();
    let invalid = |edit: fn(&mut PrototypeTrainConfig), names: &str| {
        let mut c = good.clone();
        edit(&mut c);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains(names), "{err}");
    };
    invalid(|c| c.coefficients.cluster = -0.8, "cluster");
    invalid(|c| c.coefficients.separation = f64::NAN, "separation");
    invalid(|c| c.coefficients.closeness = f64::INFINITY, "closeness");
    // ST-ProtoPNet's cluster term is maximised: its weight is negative by convention.
    invalid(|c| c.coefficients.st_cluster = 0.8, "st_cluster");
    invalid(|c| c.normalize = (0.3, 0.0), "normalize");
    // Zero switches a term off.
    let mut off = good.clone();
    off.coefficients.separation = 0.0;
    off.coefficients.st_cluster = 0.0;
    off.validate().unwrap();
}

#[test]
fn training_is_deterministic_with_a_seed() {
    let _serial = serial();
    let dev = Device::default();
    let data = FashionMnist::embedded(Split::Train).unwrap();
    let train = data.select(&(0..200).collect::<Vec<_>>()).unwrap();
    let run = || {
        let mut cfg = PrototypeTrainConfig::new(config(Variant::StProtopnet));
        cfg.warm_epochs = 0;
        cfg.joint_epochs = 1;
        cfg.last_layer_epochs = 1;
        cfg.progress = false;
        cfg.seed = 9;
        let (model, report) = train_prototype_net(&cfg, &train, None, &dev).unwrap();
        (
            HostTensor::from_tensor(&model.branches[1].prototypes.val()),
            report.push,
        )
    };
    let (a, pa) = run();
    let (b, pb) = run();
    assert_eq!(a, b);
    assert_eq!(pa, pb);
}

#[test]
fn push_cycles_repeat_joint_push_and_last_layer() {
    let _serial = serial();
    let dev = Device::default();
    let data = FashionMnist::embedded(Split::Train).unwrap();
    let train = data.select(&(0..200).collect::<Vec<_>>()).unwrap();
    let test = FashionMnist::embedded(Split::Test)
        .unwrap()
        .select(&(0..100).collect::<Vec<_>>())
        .unwrap();
    let mut cfg = PrototypeTrainConfig::new(config(Variant::Protopnet));
    cfg.warm_epochs = 1;
    cfg.joint_epochs = 1;
    cfg.last_layer_epochs = 1;
    cfg.push_cycles = 2;
    cfg.progress = false;
    let (model, report) = train_prototype_net(&cfg, &train, Some(&test), &dev).unwrap();
    let phases: Vec<&str> = report.history.iter().map(|e| e.phase.as_str()).collect();
    assert_eq!(
        phases,
        ["warm", "joint", "last_layer", "joint", "last_layer"],
        "warm-up once, then two cycles"
    );
    assert_eq!(report.push_rounds.len(), 2);
    for round in &report.push_rounds {
        assert!(round.before.is_some() && round.after.is_some());
        assert!(round.after_last_layer.is_some());
    }
    // The report's single-push fields are the last round's.
    assert_eq!(report.accuracy_after_push, report.push_rounds[1].after);
    // The report carries the last push's records, one per prototype.
    assert_eq!(
        report.push.len(),
        model.branches[0].prototypes.val().dims()[0]
    );
    // Zero cycles is a typed error.
    cfg.push_cycles = 0;
    assert!(train_prototype_net(&cfg, &train, None, &dev).is_err());
}
