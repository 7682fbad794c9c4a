//! The Affinity Explainer's cost against the plain forward pass, timed *interleaved*: each
//! round calls the forward pass and every explainer configuration once, in a fresh random
//! order, and the medians over rounds are compared. On a shared or frequency-scaling machine this is steadier
//! than criterion's benchmark groups, which time one function after another (the criterion
//! bench `cargo bench -p glassbox-benches --bench affinity` also covers IG-50).
//!
//! Same model and episode as the criterion bench: an untrained SmallCnn `MatchingSegmenter`
//! (seed 0) and FSS-Fashion test episode 0 (fold 0, sampler seed 7), 1-shot and 5-shot.
//! Every timed call reads its result back to the host.
//!
//! `cargo run --release -p glassbox --example affinity_timing [rounds] [model_dir]` (default
//! 200 rounds). With `model_dir` (a `glassbox fss train` output) the trained model is timed
//! instead, on episode 0 of its own fold and scene settings: its predicted region is an object,
//! not the untrained model's blob, and the ablation's cost depends on the region's size.

use burn::prelude::*;
use glassbox::affinity::{
    AffinityExplainer, AffinityExplainerConfig, Aggregation, FssTrainConfig,
    MatchingSegmenterConfig, Region, Variant,
};
use glassbox::core::checkpoint::{load_checkpoint_config, load_checkpoint_weights};
use glassbox::core::{FewShotSegmenter, HostTensor};
use glassbox::data::fashion_mnist::{MEAN, STD};
use glassbox::data::fss::{EpisodeSampler, FoldRole, SceneConfig, episode_batch};
use glassbox::data::{FashionMnist, Split};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> glassbox::core::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|r| r.parse().expect("rounds must be a number"))
        .unwrap_or(200)
        .max(1);
    let dev = Device::flex();
    dev.seed(0);
    let (model, scene, fold) = match std::env::args().nth(2) {
        Some(dir) => {
            let config: FssTrainConfig = load_checkpoint_config(&dir)?;
            config.validate()?;
            let model = load_checkpoint_weights(config.model.try_init(&dev)?, &dir)?;
            (model, config.scene, config.fold)
        }
        None => (
            MatchingSegmenterConfig::default().init(&dev),
            SceneConfig::default(),
            0,
        ),
    };
    let model = model.valid();
    let test = FashionMnist::embedded(Split::Test)?;
    let configs = [
        ("unmasked", AffinityExplainerConfig::new(Variant::Unmasked)),
        ("masked", AffinityExplainerConfig::new(Variant::Masked)),
        (
            "masked_mean_weights",
            AffinityExplainerConfig::new(Variant::Masked).with_aggregation(Aggregation::Mean),
        ),
    ];
    for shots in [1usize, 5] {
        let sampler = EpisodeSampler::new(&test, scene.clone(), fold, FoldRole::Test, shots, 7)?;
        let input = episode_batch(&sampler.episodes(0, 1), [MEAN, STD], &dev)?.input;
        let explainers: Vec<_> = configs
            .iter()
            .map(|(name, c)| (*name, AffinityExplainer::new(c.clone())))
            .collect();
        let region = explainers[0]
            .1
            .explain(&model, &input, &Region::Predicted)?
            .region;
        let share = HostTensor::from_tensor(&region.mean()).values[0];
        // Call 0 is the forward pass, call i > 0 explainer i − 1. Each round shuffles them,
        // so no function always runs first (after the allocator has just freed the previous
        // round's buffers) or always follows the same one (in a fixed rotation the Masked
        // explainer always ran right after the Unmasked one).
        let calls = explainers.len() + 1;
        let mut times = vec![Vec::with_capacity(rounds); calls];
        let mut order: Vec<usize> = (0..calls).collect();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..=rounds {
            // A fresh random order each round (Fisher–Yates, xorshift).
            for i in (1..calls).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                order.swap(i, (state % (i as u64 + 1)) as usize);
            }
            for &call in &order {
                let start = Instant::now();
                if call == 0 {
                    HostTensor::from_tensor(&model.segment(
                        input.query.clone(),
                        input.support_images.clone(),
                        input.support_masks.clone(),
                    ));
                } else {
                    let out = explainers[call - 1]
                        .1
                        .explain(&model, &input, &Region::Predicted)?;
                    HostTensor::from_tensor(&out.attribution.support);
                }
                // Round 0 warms up.
                if round > 0 {
                    times[call].push(start.elapsed().as_secs_f64());
                }
            }
        }
        let mut times = times.into_iter();
        let forward = times.next().expect("the forward pass's times");
        let explain: Vec<Vec<f64>> = times.collect();
        let f = median(forward);
        println!(
            "{shots}-shot, {rounds} rounds (predicted region {:.1} % of the query): forward {:.3} ms",
            share * 100.0,
            f * 1e3
        );
        for ((name, _), times) in explainers.iter().zip(explain) {
            let e = median(times);
            println!(
                "  explain {name:<20} {:.3} ms  explain / forward {:.3}",
                e * 1e3,
                e / f
            );
        }
    }
    Ok(())
}
