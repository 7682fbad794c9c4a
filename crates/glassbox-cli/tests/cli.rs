//! The `glassbox` binary end to end: a short `train` run writes a checkpoint, a report and a
//! picture; a second run does not overwrite them; bad options fail with clear messages.

use std::path::Path;
use std::process::Command;

fn glassbox(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_glassbox"))
        .args(args)
        .output()
        .expect("run glassbox")
}

/// Fail with the command's stderr unless it succeeded.
fn assert_success(run: &std::process::Output) {
    assert!(
        run.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// A JSON file the command wrote.
fn read_json(path: impl AsRef<Path>) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn train_writes_checkpoint_report_and_picture() {
    let out = std::env::temp_dir().join(format!("glassbox-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let out_s = out.to_str().unwrap();
    let args = [
        "train", "--epochs", "1", "--limit", "200", "--quiet", "--out", out_s,
    ];
    let run = glassbox(&args);
    assert_success(&run);
    assert!(String::from_utf8_lossy(&run.stdout).contains("test accuracy"));

    let report: serde_json::Value = read_json(out.join("report.json"));
    let acc = report["test"]["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    assert_eq!(report["dataset"]["train_images"], 200);
    assert_eq!(report["dataset"]["test_images"], 2000);
    let confusion = report["test"]["confusion_matrix"].as_array().unwrap();
    assert_eq!(confusion.len(), 10);
    let total: u64 = confusion
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 2000);
    assert_eq!(report["epochs"].as_array().unwrap().len(), 1);
    assert!(report["timings_seconds"]["train"].as_f64().unwrap() > 0.0);

    // The picture: 8 columns × 5 rows of 84×84 tiles (4 per class) with captions.
    let png = image::open(out.join("predictions.png")).unwrap().to_rgb8();
    let (w, h) = png.dimensions();
    assert_eq!((w, h), (8 * 88 + 9 * 4, 5 * (88 + 20) + 6 * 4));
    assert!(out.join("model.bpk").exists() && out.join("config.json").exists());

    // Evaluating the checkpoint reproduces the reported accuracy.
    let eval = glassbox(&["evaluate", "--checkpoint", out_s]);
    assert_success(&eval);
    let eval: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert_eq!(eval["accuracy"].as_f64().unwrap(), acc);

    // A second run into the same directory refuses and leaves the files alone.
    let before = std::fs::read(out.join("model.bpk")).unwrap();
    let again = glassbox(&args);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(out.join("model.bpk")).unwrap(), before);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn bad_options_fail_with_clear_messages() {
    let out = std::env::temp_dir().join(format!("glassbox-cli-bad-{}", std::process::id()));
    let out_s = out.to_str().unwrap();
    let run = glassbox(&["train", "--device", "tpu", "--out", out_s]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("unknown device 'tpu'"));

    let run = glassbox(&["train", "--epochs", "0", "--out", out_s]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("epochs must be >= 1"));

    let run = glassbox(&["train", "--data-dir", "/nonexistent/fmnist", "--out", out_s]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("/nonexistent/fmnist"));

    let run = glassbox(&["evaluate", "--checkpoint", "/nonexistent/ckpt"]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("/nonexistent/ckpt"));
    assert!(
        !Path::new(&out).exists(),
        "failed runs must not create the output directory"
    );
}

#[test]
fn explain_writes_npy_png_and_json_for_npy_and_png_inputs() {
    let dir = std::env::temp_dir().join(format!("glassbox-cli-explain-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let ckpt = dir.join("ckpt");
    let ckpt_s = ckpt.to_str().unwrap();
    let run = glassbox(&[
        "train", "--epochs", "1", "--limit", "100", "--quiet", "--out", ckpt_s,
    ]);
    assert_success(&run);

    // A model-ready .npy input of two 28×28 images.
    let values: Vec<f32> = (0..2 * 784)
        .map(|i| ((i % 28) as f32 / 14.0) - 1.0)
        .collect();
    let input = glassbox::core::HostTensor::new(vec![2, 1, 28, 28], values).unwrap();
    let npy = dir.join("x.npy");
    glassbox::core::npy::write_npy(&input, &npy, false).unwrap();
    let out = dir.join("ig");
    let args = [
        "explain",
        "--checkpoint",
        ckpt_s,
        "--input",
        npy.to_str().unwrap(),
        "--method",
        "ig",
        "--steps",
        "8",
        "--target",
        "3",
        "--out",
        out.to_str().unwrap(),
    ];
    let run = glassbox(&args);
    assert_success(&run);
    let attribution = glassbox::core::npy::read_npy(out.join("attribution.npy")).unwrap();
    assert_eq!(
        attribution.shape,
        vec![2, 1, 28, 28],
        "same layout as the input"
    );
    assert!(attribution.values.iter().all(|v| v.is_finite()));
    let json: serde_json::Value = read_json(out.join("attribution.json"));
    assert_eq!(json["method"], "integrated_gradients");
    assert_eq!(json["targets"], serde_json::json!([3, 3]));
    assert_eq!(json["parameters"]["steps"], 8);
    let png = image::open(out.join("attribution.png")).unwrap().to_rgb8();
    assert!(png.width() > 2 * 84 && png.height() > 2 * 84);
    // Refuses to overwrite.
    assert!(!glassbox(&args).status.success());

    // Score the IG attributions, then compare two methods, with explanation metrics.
    let cfg = dir.join("metrics.json");
    std::fs::write(
        &cfg,
        r#"{"pixel_flipping": {"features_in_step": 56}, "max_sensitivity": {"nr_samples": 2}}"#,
    )
    .unwrap();
    let report = dir.join("metrics/report.json");
    let score = |extra: &[&str]| {
        let mut args = vec![
            "evaluate",
            "--checkpoint",
            ckpt_s,
            "--input",
            npy.to_str().unwrap(),
            "--metric",
            "pixel_flipping,sparseness,max_sensitivity",
            "--metric-config",
            cfg.to_str().unwrap(),
            "--out",
            report.to_str().unwrap(),
            "--force",
        ];
        args.extend_from_slice(extra);
        glassbox(&args)
    };
    let a_path = out.join("attribution.npy");
    let run = score(&[
        "--attributions",
        a_path.to_str().unwrap(),
        "--explainer",
        "ig",
    ]);
    assert_success(&run);
    let json: serde_json::Value = read_json(&report);
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["metric"], "pixel_flipping");
    assert_eq!(results[0]["parameters"]["features_in_step"], 56);
    assert_eq!(results[0]["per_sample"].as_array().unwrap().len(), 2);
    // Robustness without an explainer is a clear error.
    let run = score(&["--attributions", a_path.to_str().unwrap()]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("explainer"));
    let run = score(&["--methods", "saliency,gradcam"]);
    assert_success(&run);
    let table = std::fs::read_to_string(report.with_extension("md")).unwrap();
    assert!(
        table.contains("| saliency |") && table.contains("| grad_cam |"),
        "{table}"
    );

    // A PNG input works too (Grad-CAM, predicted class).
    let img = image::GrayImage::from_fn(28, 28, |x, y| image::Luma([((x * y) % 256) as u8]));
    let png_in = dir.join("x.png");
    img.save(&png_in).unwrap();
    // Blur IG through the same entry point (few steps: this checks the plumbing).
    let out_blur = dir.join("blur");
    let run = glassbox(&[
        "explain",
        "--checkpoint",
        ckpt_s,
        "--input",
        png_in.to_str().unwrap(),
        "--method",
        "blur-ig",
        "--steps",
        "6",
        "--out",
        out_blur.to_str().unwrap(),
    ]);
    assert_success(&run);
    let json = std::fs::read_to_string(out_blur.join("attribution.json")).unwrap();
    assert!(json.contains("blur_integrated_gradients"), "{json}");
    let out2 = dir.join("cam");
    let run = glassbox(&[
        "explain",
        "--checkpoint",
        ckpt_s,
        "--input",
        png_in.to_str().unwrap(),
        "--method",
        "gradcam",
        "--out",
        out2.to_str().unwrap(),
    ]);
    assert_success(&run);
    assert_eq!(
        glassbox::core::npy::read_npy(out2.join("attribution.npy"))
            .unwrap()
            .shape,
        vec![1, 1, 28, 28]
    );

    // Bad target and bad input are clear errors.
    let run = glassbox(&[
        "explain",
        "--checkpoint",
        ckpt_s,
        "--input",
        npy.to_str().unwrap(),
        "--target",
        "10",
        "--out",
        dir.join("bad").to_str().unwrap(),
    ]);
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("target class index 10"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::write(dir.join("bad.npy"), b"garbage").unwrap();
    let run = glassbox(&[
        "explain",
        "--checkpoint",
        ckpt_s,
        "--input",
        dir.join("bad.npy").to_str().unwrap(),
        "--out",
        dir.join("bad").to_str().unwrap(),
    ]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("magic"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn predict_reproduces_torchvision_logits_from_safetensors() {
    let fixtures = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../glassbox-backbones/tests/fixtures"
    );
    let fx: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{fixtures}/resnet_tiny.json")).unwrap(),
    )
    .unwrap();
    let floats = |v: &serde_json::Value| -> Vec<f32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    };
    let dir = std::env::temp_dir().join(format!("glassbox-cli-predict-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let input = glassbox::core::HostTensor::new(vec![2, 3, 32, 32], floats(&fx["input"]["values"]))
        .unwrap();
    let x = dir.join("x.npy");
    glassbox::core::npy::write_npy(&input, &x, false).unwrap();
    let out = dir.join("logits.npy");
    let feats = dir.join("features");
    let weights = format!("{fixtures}/resnet50_tiny.safetensors");
    let run = glassbox(&[
        "predict",
        "--arch",
        "resnet50",
        "--weights",
        &weights,
        "--input",
        x.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--num-classes",
        "5",
        "--widths",
        "4,8,16,32",
        "--stem-width",
        "8",
        "--features-out",
        feats.to_str().unwrap(),
    ]);
    assert_success(&run);
    let logits = glassbox::core::npy::read_npy(&out).unwrap();
    assert_eq!(logits.shape, vec![2, 5]);
    for (g, w) in logits.values.iter().zip(floats(&fx["resnet50"]["logits"])) {
        assert!((g - w).abs() < 1e-4 * (1.0 + w.abs()), "{g} vs {w}");
    }
    assert_eq!(
        glassbox::core::npy::read_npy(feats.join("stage4.npy"))
            .unwrap()
            .shape,
        vec![2, 128, 1, 1]
    );

    // Wrong architecture for the weights: a clear error naming tensors.
    let run = glassbox(&[
        "predict",
        "--arch",
        "resnet18",
        "--weights",
        &weights,
        "--input",
        x.to_str().unwrap(),
        "--out",
        dir.join("other.npy").to_str().unwrap(),
        "--num-classes",
        "5",
        "--widths",
        "4,8,16,32",
        "--stem-width",
        "8",
    ]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("layer1.0.conv1.weight"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn prototypes_train_and_explain_write_gallery_sheet_and_json() {
    let dir = std::env::temp_dir().join(format!("glassbox-cli-protos-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let model = dir.join("model");
    let model_s = model.to_str().unwrap();
    let run = glassbox(&[
        "prototypes",
        "train",
        "--variant",
        "st-protopnet",
        "--epochs",
        "1",
        "--warm-epochs",
        "0",
        "--last-layer-epochs",
        "1",
        "--prototypes-per-class",
        "1",
        "--limit",
        "200",
        "--quiet",
        "--out",
        model_s,
    ]);
    assert_success(&run);
    for f in ["model.bpk", "config.json", "report.json", "gallery.png"] {
        assert!(model.join(f).exists(), "{f}");
    }
    let report: serde_json::Value = read_json(model.join("report.json"));
    // Two branches × 10 classes × 1 prototype, each pushed onto an image of its class.
    assert_eq!(report["report"]["push"].as_array().unwrap().len(), 20);
    // The run's config.json is a valid --config (it gets as far as refusing to replace the
    // run's files); an edited one with a flipped loss sign is rejected, naming the term.
    let config = model.join("config.json");
    let retrain = |config: &std::path::Path| {
        let out = glassbox(&[
            "prototypes",
            "train",
            "--config",
            config.to_str().unwrap(),
            "--out",
            model_s,
        ]);
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let stderr = retrain(&config);
    assert!(stderr.contains("already exists"), "{stderr}");
    let mut edited: serde_json::Value = read_json(&config);
    assert_eq!(edited["model"]["variant"], "st-protopnet");
    edited["coefficients"]["separation"] = serde_json::json!(-0.08);
    let bad = dir.join("bad-config.json");
    std::fs::write(&bad, edited.to_string()).unwrap();
    let stderr = retrain(&bad);
    assert!(stderr.contains("separation"), "{stderr}");
    let values: Vec<f32> = (0..784).map(|i| ((i % 28) as f32 / 14.0) - 1.0).collect();
    let input = glassbox::core::HostTensor::new(vec![1, 1, 28, 28], values).unwrap();
    let npy = dir.join("x.npy");
    glassbox::core::npy::write_npy(&input, &npy, false).unwrap();
    let out = dir.join("explain");
    let args = [
        "prototypes",
        "explain",
        "--model",
        model_s,
        "--input",
        npy.to_str().unwrap(),
        "--top",
        "2",
        "--out",
        out.to_str().unwrap(),
    ];
    let run = glassbox(&args);
    assert_success(&run);
    let json: serde_json::Value = read_json(out.join("explanation.json"));
    assert_eq!(json[0]["top"].as_array().unwrap().len(), 2);
    assert!(image::open(out.join("sheet.png")).unwrap().width() > 5 * 84);
    // Refuses to overwrite; a wrong channel count is a clear error.
    assert!(!glassbox(&args).status.success());
    let rgb = glassbox::core::HostTensor::new(vec![1, 3, 28, 28], vec![0.0; 3 * 784]).unwrap();
    let npy3 = dir.join("x3.npy");
    glassbox::core::npy::write_npy(&rgb, &npy3, false).unwrap();
    let run = glassbox(&[
        "prototypes",
        "explain",
        "--model",
        model_s,
        "--input",
        npy3.to_str().unwrap(),
        "--out",
        dir.join("e3").to_str().unwrap(),
    ]);
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("expects"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn program_run_uses_a_saved_program_and_rejects_unknown_tokens() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../glassbox-programs/fixtures/hist"
    );
    // hist: the count of each token (the BOS position is not scored).
    let out = glassbox(&[
        "program", "run", "--model", fixture, "<s>", "3", "1", "3", "3",
    ]);
    assert_success(&out);
    let classes: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(classes[1..], ["3", "1", "3", "3"]);
    let bad = glassbox(&["program", "run", "--model", fixture, "<s>", "9"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("`9`"));
    let task = glassbox(&[
        "program",
        "train",
        "--task",
        "sorting",
        "--out",
        "/tmp/unused",
    ]);
    assert!(!task.status.success());
    assert!(String::from_utf8_lossy(&task.stderr).contains("unknown task `sorting`"));
}

#[test]
fn program_train_takes_a_shape_override() {
    let dir = std::env::temp_dir().join(format!("glassbox-cli-shape-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = glassbox(&[
        "program",
        "train",
        "--task",
        "hist",
        "--epochs",
        "1",
        "--layers",
        "2",
        "--heads-cat",
        "1",
        "--heads-num",
        "1",
        "--cat-mlps",
        "0",
        "--num-mlps",
        "0",
        "--no-source-check",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_success(&out);
    let config: serde_json::Value = read_json(dir.join("config.json"));
    let model = &config["model"];
    assert_eq!(model["n_layers"], 2);
    assert_eq!(model["n_heads_cat"], 1);
    assert_eq!(model["n_heads_num"], 1);
    assert_eq!(model["n_cat_mlps"], 0);
    assert_eq!(model["n_num_mlps"], 0);
    // The program has one categorical and one numerical head per layer, and no MLP.
    let program = std::fs::read_to_string(dir.join("program.py")).unwrap();
    assert!(program.contains("def predicate_1_0("));
    assert!(program.contains("def num_predicate_1_0("));
    assert!(!program.contains("def mlp_0_0("));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fss_train_explain_and_evaluate_write_their_reports() {
    let dir = std::env::temp_dir().join(format!("glassbox-cli-fss-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let model = dir.join("model");
    let model_s = model.to_str().unwrap();
    let train = [
        "fss",
        "train",
        "--fold",
        "1",
        "--steps",
        "3",
        "--batch-size",
        "2",
        "--eval-episodes",
        "2",
        "--quiet",
        "--out",
        model_s,
    ];
    let run = glassbox(&train);
    assert_success(&run);
    assert!(String::from_utf8_lossy(&run.stdout).contains("mIoU"));

    let out = dir.join("explain");
    let explain = [
        "fss",
        "explain",
        "--model",
        model_s,
        "--shots",
        "2",
        "--episodes",
        "1",
        "--out",
        out.to_str().unwrap(),
    ];
    let run = glassbox(&explain);
    assert_success(&run);
    for file in ["sheet.png", "maps.npy"] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let report: serde_json::Value = read_json(out.join("explanation.json"));
    assert_eq!(report["method"], "affinity_masked");
    let weights = report["episodes"][0]["layer_weights"].as_array().unwrap();
    let total: f64 = weights.iter().map(|w| w["weight"].as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-4, "layer weights sum to {total}");
    // Explaining into the same directory again does not overwrite it.
    let again = glassbox(&explain);
    assert!(!again.status.success());

    // The paper's metrics for two methods on two episodes.
    let stem = dir.join("report");
    let run = glassbox(&[
        "fss",
        "evaluate",
        "--model",
        model_s,
        "--methods",
        "affinity,saliency",
        "--episodes",
        "2",
        "--curve-steps",
        "8",
        "--quiet",
        "--out",
        stem.to_str().unwrap(),
    ]);
    assert_success(&run);
    let report: serde_json::Value = read_json(dir.join("report.json"));
    let rows = report["rows"].as_array().unwrap();
    let methods: Vec<&str> = rows.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["affinity_masked", "saliency"]);
    for row in rows {
        let scores = row["scores"].as_array().unwrap();
        assert!(!scores.is_empty());
        assert!(scores.iter().all(|v| v.as_f64().unwrap().is_finite()));
    }
    assert!(dir.join("report.md").is_file());

    // Bad options: a fold out of range, an empty support set.
    let bad_fold = glassbox(&["fss", "train", "--fold", "7", "--out", model_s]);
    assert!(!bad_fold.status.success());
    assert!(String::from_utf8_lossy(&bad_fold.stderr).contains("fold index 7 is out of range"));
    let no_shots = glassbox(&[
        "fss",
        "explain",
        "--model",
        model_s,
        "--shots",
        "0",
        "--out",
        dir.join("none").to_str().unwrap(),
    ]);
    assert!(!no_shots.status.success());
    assert!(String::from_utf8_lossy(&no_shots.stderr).contains("shots = 0"));
    let _ = std::fs::remove_dir_all(&dir);
}
