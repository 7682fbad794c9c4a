//! The few-shot method × metric table end to end on an untrained segmenter (two episodes,
//! short curves): every method runs, scores are finite where defined, names round-trip.

use burn::prelude::*;
use glassbox::affinity::{MatchingSegmenterConfig, Variant};
use glassbox::data::{FashionMnist, Split};
use glassbox::fss::{FSS_METRICS, FssEvaluationConfig, FssMethod, evaluate_fss_methods};

#[test]
fn method_names_round_trip_and_unknown_names_error() {
    for m in FssMethod::defaults() {
        assert_eq!(FssMethod::parse(&m.name()).unwrap(), m);
    }
    assert_eq!(
        FssMethod::parse("affinity").unwrap(),
        FssMethod::Affinity(Variant::Masked)
    );
    assert_eq!(
        FssMethod::parse("ig50").unwrap(),
        FssMethod::IntegratedGradients { steps: 50 }
    );
    assert_eq!(
        FssMethod::parse("blur-ig").unwrap(),
        FssMethod::BlurIntegratedGradients { steps: 25 }
    );
    assert_eq!(
        FssMethod::parse("blurig10").unwrap(),
        FssMethod::BlurIntegratedGradients { steps: 10 }
    );
    assert_eq!(
        FssMethod::parse("guided-ig").unwrap(),
        FssMethod::GuidedIntegratedGradients { steps: 25 }
    );
    assert_eq!(
        FssMethod::parse("xrai").unwrap(),
        FssMethod::Xrai { steps: 25 }
    );
    assert_eq!(
        FssMethod::parse("LIME40").unwrap(),
        FssMethod::Lime { samples: 40 }
    );
    assert!(FssMethod::parse("ig0").is_err());
    assert_eq!(FssMethod::parse("DeepLift").unwrap(), FssMethod::DeepLift);
    assert!(FssMethod::parse("deconvnet").is_err());
}

#[test]
fn evaluation_table_has_a_row_per_method() {
    let device = Device::flex();
    let model = MatchingSegmenterConfig::default().init(&device).valid();
    let test = FashionMnist::embedded(Split::Test).unwrap();
    let methods = [
        FssMethod::Random,
        FssMethod::MaskPrior,
        FssMethod::Saliency,
        FssMethod::GradCam,
        FssMethod::DeepLift,
        FssMethod::BlurIntegratedGradients { steps: 2 },
        FssMethod::GuidedIntegratedGradients { steps: 2 },
        FssMethod::Xrai { steps: 2 },
        FssMethod::Lime { samples: 6 },
        FssMethod::Affinity(Variant::Signed),
    ];
    let config = FssEvaluationConfig {
        episodes: 2,
        batch_size: 2,
        curve_steps: 4,
        ..FssEvaluationConfig::default()
    };
    let table = evaluate_fss_methods(&model, &test, &methods, &config, &device).unwrap();
    assert_eq!(table.rows.len(), methods.len());
    for row in &table.rows {
        assert_eq!(row.scores.len(), FSS_METRICS.len());
        // IoU-based scores are defined on these episodes (the ground truth is never empty).
        for &i in &[0, 1, 2, 4, 5] {
            assert!(
                row.scores[i].is_finite(),
                "{}: {:?}",
                row.method,
                row.scores
            );
        }
        assert!((row.scores[2] - (row.scores[0] - row.scores[1])).abs() < 1e-9);
    }
    assert!(table.to_markdown().contains("affinity_signed"));
    assert!(evaluate_fss_methods(&model, &test, &[], &config, &device).is_err());
}
