//! Property tests: every method returns one relevance value per input element, for any batch
//! and image size, on a real SmallCnn.

use burn::module::Module;
use burn::prelude::*;
use glassbox_attribution::{
    GradCam, InputXGradient, IntegratedGradients, Occlusion, Saliency, SmoothGrad,
};
use glassbox_backbones::SmallCnnConfig;
use glassbox_core::Target;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn relevance_matches_input_shape(n in 1usize..4, h4 in 1usize..4, w4 in 1usize..4, seed in 0u64..1000) {
        let dev = Device::flex();
        dev.seed(seed);
        let model = SmallCnnConfig::new().with_widths([2, 4, 4]).init(&dev).valid();
        let dims = [n, 1, 4 * h4, 4 * w4];
        let x = Tensor::<4>::random(dims, burn::tensor::Distribution::Default, &dev);
        let t = Target::Predicted;
        prop_assert_eq!(Saliency::default().attribute(&model, x.clone(), &t).unwrap().relevance.dims(), dims);
        prop_assert_eq!(InputXGradient.attribute(&model, x.clone(), &t).unwrap().relevance.dims(), dims);
        let ig = IntegratedGradients::default().with_steps(3).with_batch_size(5);
        prop_assert_eq!(ig.attribute(&model, x.clone(), &t).unwrap().relevance.dims(), dims);
        let sg = SmoothGrad { samples: 2, ..SmoothGrad::default() };
        prop_assert_eq!(sg.attribute(&model, x.clone(), &t).unwrap().relevance.dims(), dims);
        let occ = Occlusion::new([2, 2], [2, 2]);
        prop_assert_eq!(occ.attribute(&model, x.clone(), &t).unwrap().relevance.dims(), dims);
        let cam = GradCam::default().attribute(&model, x, &t).unwrap();
        prop_assert_eq!(cam.relevance.dims(), [n, 1, 4 * h4, 4 * w4]);
        prop_assert_eq!(cam.targets.len(), n);
    }
}
