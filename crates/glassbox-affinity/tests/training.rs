//! Episodic training: a frozen backbone stays exactly as initialised, pre-training changes it,
//! and the loss is finite. (Own test binary: it seeds the device RNG.)

use burn::prelude::*;
use glassbox_affinity::{FssTrainConfig, train_segmenter};
use glassbox_backbones::MultiLevelBackbone;
use glassbox_core::HostTensor;
use glassbox_data::{FashionMnist, Split};

#[test]
fn frozen_backbone_is_untouched_and_pretraining_moves_it() {
    let device = Device::flex();
    let images = FashionMnist::embedded(Split::Test).unwrap();
    let config = FssTrainConfig {
        steps: 2,
        batch_size: 2,
        freeze_backbone: true,
        ..FssTrainConfig::default()
    };
    let probe = Tensor::<4>::ones([1, 1, 64, 64], &device);
    let levels = |m: &glassbox_affinity::MatchingSegmenter| {
        HostTensor::from_tensor(&m.backbone.forward_levels(probe.clone()).pop().unwrap()).values
    };
    glassbox_core::seed(&device.clone().inner().autodiff(), config.seed);
    let initial = config
        .model
        .init(&device.clone().inner().autodiff())
        .valid();
    let (frozen, report) = train_segmenter(&config, &images, &device).unwrap();
    assert!(report.loss_history.iter().all(|l| l.is_finite()));
    assert_eq!(levels(&initial), levels(&frozen));

    let pretrained = FssTrainConfig {
        pretrain_epochs: 1,
        ..config.clone()
    };
    let (moved, _) = train_segmenter(&pretrained, &images, &device).unwrap();
    assert_ne!(levels(&initial), levels(&moved));
}
