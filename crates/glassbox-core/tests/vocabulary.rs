//! Targets, explanation records, validation helpers and backend names.

use burn::prelude::*;
use glassbox_core::check::{check_dims, check_finite};
use glassbox_core::{
    Attribution, BackendKind, Classifier, Error, Explanation, HostTensor, HostView,
    PrototypeEvidence, Target,
};

fn logits(dev: &Device) -> Tensor<2> {
    Tensor::from_floats([[0.1, 2.0, -1.0], [3.0, 0.0, 0.5]], dev)
}

#[test]
fn target_resolution() {
    let dev = Device::flex();
    let l = logits(&dev);
    assert_eq!(Target::Predicted.resolve(&l).unwrap(), vec![1, 0]);
    assert_eq!(Target::Class(2).resolve(&l).unwrap(), vec![2, 2]);
    assert_eq!(
        Target::PerSample(vec![2, 1]).resolve(&l).unwrap(),
        vec![2, 1]
    );
    assert!(matches!(
        Target::Class(3).resolve(&l),
        Err(Error::OutOfRange {
            index: 3,
            bound: 3,
            ..
        })
    ));
    assert!(matches!(
        Target::PerSample(vec![0]).resolve(&l),
        Err(Error::Shape { .. })
    ));
    let (_, oh) = Target::PerSample(vec![2, 1]).one_hot(&l).unwrap();
    let selected = (l * oh)
        .sum_dim(1)
        .into_data()
        .try_into_vec_as::<f32>()
        .unwrap();
    assert_eq!(selected, vec![-1.0, 0.0]);
}

#[test]
fn closures_are_classifiers() {
    let dev = Device::flex();
    let model = |x: Tensor<4>| x.flatten::<2>(1, 3);
    let out = model.logits(Tensor::<4>::ones([2, 1, 2, 2], &dev));
    assert_eq!(out.dims(), [2, 4]);
}

#[test]
fn attribution_json_round_trip() {
    let dev = Device::flex();
    let rel = Tensor::<4>::from_floats([[[[0.5, -1.0], [2.0, 0.25]]]], &dev);
    let a = Attribution::new(rel, vec![7], "saliency").unwrap();
    let json = a.to_json().unwrap();
    assert!(json.contains("\"method\":\"saliency\""));
    let back = Attribution::from_json(&json, &dev).unwrap();
    assert_eq!(back.targets, vec![7]);
    assert_eq!(back.relevance.to_data(), a.relevance.to_data());
    // Pixel map sums channels.
    assert_eq!(a.pixel_map().dims(), [1, 2, 2]);
}

#[test]
fn attribution_rejects_inconsistent_data() {
    let dev = Device::flex();
    let rel = Tensor::<4>::zeros([2, 1, 2, 2], &dev);
    assert!(matches!(
        Attribution::new(rel, vec![0], "x"),
        Err(Error::Shape { .. })
    ));
    // A record whose values do not fill its shape.
    let bad = r#"{"relevance":{"shape":[1,1,2,2],"values":[1.0]},"targets":[0],"method":"m"}"#;
    assert!(matches!(
        Attribution::from_json(bad, &dev),
        Err(Error::Shape { .. })
    ));
    // Wrong rank.
    let bad = r#"{"relevance":{"shape":[4],"values":[1,2,3,4]},"targets":[0],"method":"m"}"#;
    assert!(matches!(
        Attribution::from_json(bad, &dev),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        Attribution::from_json("{not json", &dev),
        Err(Error::Json { .. })
    ));
}

#[test]
fn save_json_never_overwrites_silently() {
    let dev = Device::flex();
    let dir = std::env::temp_dir().join(format!("glassbox-core-json-{}", std::process::id()));
    let path = dir.join("a.json");
    let _ = std::fs::remove_dir_all(&dir);
    let a = Attribution::new(Tensor::<4>::ones([1, 1, 1, 1], &dev), vec![0], "m").unwrap();
    a.save_json(&path, false).unwrap();
    let before = std::fs::read(&path).unwrap();
    let b = Attribution::new(Tensor::<4>::zeros([1, 1, 1, 1], &dev), vec![0], "other").unwrap();
    assert!(matches!(
        b.save_json(&path, false),
        Err(Error::AlreadyExists(_))
    ));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "refused write must leave the file alone"
    );
    b.save_json(&path, true).unwrap();
    assert_eq!(Attribution::load_json(&path, &dev).unwrap().method, "other");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn prototype_contributions_are_similarity_times_weight() {
    let dev = Device::flex();
    let ev = PrototypeEvidence {
        similarities: Tensor::from_floats([[2.0, 3.0]], &dev),
        similarity_maps: Tensor::zeros([1, 2, 1, 1], &dev),
        prototype_classes: vec![0, 1],
        class_weights: Tensor::from_floats([[1.0, -0.5], [0.0, 2.0]], &dev),
    };
    let c = ev
        .contributions()
        .into_data()
        .try_into_vec_as::<f32>()
        .unwrap();
    assert_eq!(c, vec![2.0, -1.0, 0.0, 6.0]);
    let back = PrototypeEvidence::from_json(&ev.to_json().unwrap(), &dev).unwrap();
    assert_eq!(back.prototype_classes, vec![0, 1]);
}

#[test]
fn validation_helpers() {
    let dev = Device::flex();
    let x = Tensor::<4>::zeros([2, 3, 4, 4], &dev);
    check_dims(&x, "x", [None, Some(3), None, None], "[N, 3, H, W]").unwrap();
    let err = check_dims(&x, "x", [None, Some(1), None, None], "[N, 1, H, W]").unwrap_err();
    assert!(err.to_string().contains("[N, 1, H, W]") && err.to_string().contains("[2, 3, 4, 4]"));
    let empty = Tensor::<4>::zeros([0, 3, 4, 4], &dev);
    assert!(matches!(
        check_dims(&empty, "x", [None; 4], "any"),
        Err(Error::Empty(_))
    ));
    check_finite(&x, "x").unwrap();
    let nan = Tensor::<2>::from_floats([[1.0, f32::NAN], [f32::INFINITY, 0.0]], &dev);
    assert!(matches!(
        check_finite(&nan, "x"),
        Err(Error::NonFinite { count: 2, .. })
    ));
}

#[test]
fn host_tensor_checks_its_shape() {
    assert!(HostTensor::new(vec![2, 2], vec![0.0; 3]).is_err());
    let h = HostTensor::new(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    let t: Tensor<2> = h.to_tensor(&Device::flex()).unwrap();
    assert_eq!(HostTensor::from_tensor(&t), h);
    // Moving the tensor out gives the same values, also for a strided view and for a
    // tensor whose buffer is still shared.
    let shared = t.clone();
    assert_eq!(HostTensor::from_owned(t.clone()), h);
    assert_eq!(HostTensor::from_owned(shared), h);
    let transposed = HostTensor::from_owned(t.swap_dims(0, 1));
    assert_eq!(transposed.shape, vec![2, 2]);
    assert_eq!(transposed.values, vec![1.0, 3.0, 2.0, 4.0]);
}

#[test]
fn host_view_lends_the_same_values() {
    let dev = Device::flex();
    let h = HostTensor::new(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    let t: Tensor<2> = h.to_tensor(&dev).unwrap();
    // Unshared, shared and strided tensors, and a result of a computation.
    let shared = t.clone();
    for (view, want) in [
        (HostView::from_owned(t.clone()), h.values.clone()),
        (HostView::from_owned(shared), h.values.clone()),
        (
            HostView::from_owned(t.clone().swap_dims(0, 1)),
            vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0],
        ),
        (
            HostView::from_owned(t.clone() * 2.0),
            h.values.iter().map(|v| v * 2.0).collect(),
        ),
    ] {
        assert_eq!(view.values(), want.as_slice());
        assert_eq!(view.values().len(), view.shape().iter().product::<usize>());
    }
    assert_eq!(HostView::from_owned(t.swap_dims(0, 1)).shape(), &[3, 2]);
}

#[test]
fn backend_names_parse() {
    assert_eq!("flex".parse::<BackendKind>().unwrap(), BackendKind::Flex);
    assert_eq!(
        "CUDA:1".parse::<BackendKind>().unwrap(),
        BackendKind::Cuda(1)
    );
    assert_eq!("wgpu".parse::<BackendKind>().unwrap(), BackendKind::Wgpu);
    let err = "tpu".parse::<BackendKind>().unwrap_err().to_string();
    assert!(
        err.contains("unknown device 'tpu'") && err.contains("flex"),
        "{err}"
    );
    assert!("cuda:x".parse::<BackendKind>().is_err());
    assert_eq!(BackendKind::Cuda(2).to_string(), "cuda:2");
}
