//! A prototype network's own evidence scored with glassbox-metrics, like any attribution.

use burn::prelude::*;
use glassbox::backbones::{ModelConfig, SmallCnnConfig};
use glassbox::core::{Classifier, HostTensor};
use glassbox::metrics::{Context, Deletion, MaxSensitivity, Metric, MetricBatch, Sparseness};
use glassbox::prototypes::{PrototypeNetConfig, Variant, explain};
use glassbox::scoring::prototype_explainer;

#[test]
fn prototype_class_maps_are_attributions_for_the_metrics() {
    let dev = Device::flex();
    dev.seed(5);
    let backbone = ModelConfig::SmallCnn(SmallCnnConfig::new().with_widths([8, 16, 16]));
    let cfg = PrototypeNetConfig {
        prototypes_per_class: 2,
        prototype_dim: 8,
        ..PrototypeNetConfig::new(backbone, Variant::Protopnet, 10)
    };
    let model = cfg.try_init(&dev).unwrap();
    let x = Tensor::<4>::random(
        [3, 1, 28, 28],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &dev,
    );
    let targets = vec![0, 4, 9];
    let ev = explain(&model, x.clone());
    let map = ev.class_map(&targets, 28, 28).unwrap();
    assert_eq!(map.dims(), [3, 1, 28, 28]);
    // Before upsampling, the class map averaged over positions is the logit computed from the
    // *mean* similarity; check the weighting instead on one sample by hand.
    let sims = HostTensor::from_tensor(&ev.similarity_maps);
    let w = HostTensor::from_tensor(&ev.class_weights);
    let coarse = ev.class_map(&targets, 7, 7).unwrap();
    let coarse = HostTensor::from_tensor(&coarse);
    let (p, k) = (20, 10);
    for pos in [0, 24, 48] {
        let expected: f32 = (0..p)
            .map(|j| sims.values[(p + j) * 49 + pos] * w.values[j * k + 4])
            .sum();
        assert!((coarse.values[49 + pos] - expected).abs() < 1e-3 * (1.0 + expected.abs()));
    }
    assert!(ev.class_map(&[0, 1], 28, 28).is_err());
    assert!(ev.class_map(&[0, 1, 10], 28, 28).is_err());

    let explainer = prototype_explainer(&model, &dev);
    let a = explainer(
        &model as &dyn Classifier,
        &HostTensor::from_tensor(&x),
        &targets,
    )
    .unwrap();
    let batch = MetricBatch::new(HostTensor::from_tensor(&x), a, targets).unwrap();
    let ctx = Context::new(&model, &dev).with_explainer(&explainer);
    for m in [
        Box::new(Deletion {
            pixels_per_step: Some(98),
            ..Default::default()
        }) as Box<dyn Metric>,
        Box::new(Sparseness::default()),
        Box::new(MaxSensitivity {
            nr_samples: 2,
            ..Default::default()
        }),
    ] {
        let r = m.evaluate(&ctx, &batch).unwrap();
        assert_eq!(r.per_sample.len(), 3, "{}", r.metric);
        assert!(r.per_sample.iter().all(|v| v.is_finite()), "{}", r.metric);
    }
    // Another model (e.g. a randomised copy) cannot be explained by this evidence.
    let other = cfg.try_init(&dev).unwrap();
    assert!(
        explainer(
            &other as &dyn Classifier,
            &HostTensor::from_tensor(&x),
            &[0, 0, 0]
        )
        .is_err()
    );
}
