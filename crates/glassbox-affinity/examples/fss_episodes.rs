//! Render a few FSS-Fashion episodes (query with its ground truth, then the support shots with
//! their masks outlined) to a PNG, to see what the benchmark looks like.
//!
//! `cargo run --release -p glassbox-affinity --example fss_episodes -- [out.png] [shots]`

use burn::prelude::*;
use glassbox_affinity::support_sheet;
use glassbox_core::SupportAttribution;
use glassbox_core::render::save_png;
use glassbox_data::fashion_mnist::{MEAN, STD};
use glassbox_data::fss::{EpisodeSampler, FoldRole, SceneConfig, episode_batch};
use glassbox_data::{FashionMnist, Split};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "fss_episodes.png".into());
    let shots = args.get(2).map_or(Ok(3), |s| s.parse())?;
    let device = Device::flex();
    let test = FashionMnist::embedded(Split::Test)?;
    let sampler = EpisodeSampler::new(&test, SceneConfig::default(), 0, FoldRole::Test, shots, 11)?;
    let batch = episode_batch(&sampler.episodes(0, 3), [MEAN, STD], &device)?;
    // Show the ground truth as the "prediction" and the support masks themselves as the maps.
    let gt = batch.query_masks.clone().unsqueeze_dim::<4>(1);
    let logits = Tensor::cat(vec![gt.clone().neg(), gt], 1);
    let shown = SupportAttribution {
        support: batch.input.support_masks.clone(),
        method: "mask".into(),
    };
    let sheet = support_sheet(&batch.input, &logits, &shown)?;
    save_png(&sheet, &out, true)?;
    println!("classes {:?} -> {out}", batch.classes);
    Ok(())
}
