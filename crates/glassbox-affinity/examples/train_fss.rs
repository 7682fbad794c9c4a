//! Train a matching segmenter on one fold of FSS-Fashion and score it on the held-out classes.
//!
//! `cargo run --release -p glassbox-affinity --example train_fss -- [steps] [fold]`

use burn::prelude::*;
use glassbox_affinity::{FssTrainConfig, evaluate, train_segmenter};
use glassbox_data::{FashionMnist, Split};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let steps = args.get(1).map_or(Ok(300), |s| s.parse())?;
    let fold = args.get(2).map_or(Ok(0), |s| s.parse())?;
    let device = Device::flex();
    let config = FssTrainConfig {
        steps,
        fold,
        progress: true,
        ..FssTrainConfig::default()
    };
    let train = FashionMnist::embedded(Split::Train)?;
    let test = FashionMnist::embedded(Split::Test)?;
    let (model, report) = train_segmenter(&config, &train, &device)?;
    println!(
        "fold {fold}: {steps} steps in {:.0} s, loss {:?}",
        report.train_seconds, report.loss_history
    );
    for shots in [1, 5] {
        let s = evaluate(
            &model,
            &test,
            &config.scene,
            fold,
            shots,
            200,
            1234,
            16,
            &device,
        )?;
        println!(
            "{shots}-shot: mIoU {:.2}  FB-IoU {:.2}  objectness mIoU {:.2}  per class {:?}",
            100.0 * s.miou,
            100.0 * s.fb_iou,
            100.0 * s.objectness_miou,
            s.per_class
        );
    }
    Ok(())
}
