//! Train a matching segmenter on one fold of FSS-Fashion, score it on the held-out classes,
//! and explain four test episodes with the Affinity Explainer (`runs/fss_example_sheet.png`).
//!
//! `cargo run --release -p glassbox-affinity --example train_fss -- [steps] [fold]`

use burn::prelude::*;
use glassbox_affinity::{
    AffinityExplainer, AffinityExplainerConfig, FssTrainConfig, Region, Variant, evaluate,
    support_sheet, train_segmenter,
};
use glassbox_data::fashion_mnist::{MEAN, STD};
use glassbox_data::fss::{EpisodeSampler, FoldRole, episode_batch};
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
    let sampler = EpisodeSampler::new(&test, config.scene.clone(), fold, FoldRole::Test, 2, 99)?;
    let batch = episode_batch(&sampler.episodes(0, 4), [MEAN, STD], &device)?;
    let out = AffinityExplainer::new(AffinityExplainerConfig::new(Variant::Signed)).explain(
        &model,
        &batch.input,
        &Region::Predicted,
    )?;
    let sheet = support_sheet(&batch.input, &out.logits, &out.attribution)?;
    std::fs::create_dir_all("runs")?;
    glassbox_core::render::save_png(&sheet, "runs/fss_example_sheet.png", true)?;
    println!("explanations of 4 test episodes -> runs/fss_example_sheet.png");
    Ok(())
}
