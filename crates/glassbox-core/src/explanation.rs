//! Explanation types: plain data with tensors inside, serialisable to JSON.
//!
//! Every explanation implements [`Explanation`], which converts it to and from a host-side
//! record. That one mechanism gives all of them JSON export, safe saving (never overwriting a
//! file silently) and loading onto any device.

use std::collections::BTreeMap;
use std::path::Path;

use burn::prelude::*;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::host::HostTensor;
use crate::{Error, Result};

/// Common behaviour of explanation values: conversion to a serialisable record and back.
pub trait Explanation: Sized {
    /// The host-side, serde-serialisable form.
    type Record: Serialize + DeserializeOwned;

    /// Copy into a host-side record (reads tensors back from the device).
    fn to_record(&self) -> Self::Record;

    /// Rebuild from a record, uploading tensors to `device`; validates shapes.
    fn from_record(record: Self::Record, device: &Device) -> Result<Self>;

    /// Serialise to a JSON string.
    fn to_json(&self) -> Result<String> {
        serde_json::to_string(&self.to_record()).map_err(|source| Error::Json {
            what: std::any::type_name::<Self>().to_string(),
            source,
        })
    }

    /// Parse from a JSON string onto `device`.
    fn from_json(json: &str, device: &Device) -> Result<Self> {
        let record = serde_json::from_str(json).map_err(|source| Error::Json {
            what: std::any::type_name::<Self>().to_string(),
            source,
        })?;
        Self::from_record(record, device)
    }

    /// Write as JSON to `path`. Refuses to replace an existing file unless `overwrite`.
    fn save_json(&self, path: impl AsRef<Path>, overwrite: bool) -> Result<()> {
        crate::io::write_new(path.as_ref(), self.to_json()?.as_bytes(), overwrite)
    }

    /// Read a JSON file written by [`Explanation::save_json`] onto `device`.
    fn load_json(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_json(&text, device)
    }
}

/// Relevance aligned with an input: one value per input element (or per pixel), the output
/// of every post-hoc attribution method and of saliency-style by-design explanations.
#[derive(Debug, Clone)]
pub struct Attribution {
    /// Relevance `[N, C, H, W]` (or `[N, 1, H, W]` for methods that explain pixels, not
    /// channels). Positive values support the target, negative values oppose it.
    pub relevance: Tensor<4>,
    /// The class each sample's relevance explains.
    pub targets: Vec<usize>,
    /// The method that produced it (e.g. `"integrated_gradients"`).
    pub method: String,
    /// The method's parameters (steps, baseline, window, ...), so a result says how it was made.
    pub parameters: BTreeMap<String, serde_json::Value>,
}

/// Serialisable form of [`Attribution`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributionRecord {
    /// See [`Attribution::relevance`].
    pub relevance: HostTensor,
    /// See [`Attribution::targets`].
    pub targets: Vec<usize>,
    /// See [`Attribution::method`].
    pub method: String,
    /// See [`Attribution::parameters`].
    #[serde(default)]
    pub parameters: BTreeMap<String, serde_json::Value>,
}

impl Attribution {
    /// Build an attribution, checking that there is one target per sample.
    pub fn new(
        relevance: Tensor<4>,
        targets: Vec<usize>,
        method: impl Into<String>,
    ) -> Result<Self> {
        let dims = relevance.dims();
        if dims[0] != targets.len() {
            return Err(Error::shape(
                "attribution targets",
                format!("one target per sample ({})", dims[0]),
                &[targets.len()],
            ));
        }
        Ok(Self {
            relevance,
            targets,
            method: method.into(),
            parameters: BTreeMap::new(),
        })
    }

    /// Record a parameter of the method that produced this attribution.
    pub fn with_parameter(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        self.parameters.insert(name.to_string(), value.into());
        self
    }

    /// Relevance summed over channels: one `[N, H, W]` map per sample, ready for a heatmap.
    pub fn pixel_map(&self) -> Tensor<3> {
        self.relevance.clone().sum_dim(1).squeeze_dim::<3>(1)
    }
}

impl Explanation for Attribution {
    type Record = AttributionRecord;

    fn to_record(&self) -> AttributionRecord {
        AttributionRecord {
            relevance: HostTensor::from_tensor(&self.relevance),
            targets: self.targets.clone(),
            method: self.method.clone(),
            parameters: self.parameters.clone(),
        }
    }

    fn from_record(record: AttributionRecord, device: &Device) -> Result<Self> {
        let mut a = Attribution::new(
            record.relevance.to_tensor(device)?,
            record.targets,
            record.method,
        )?;
        a.parameters = record.parameters;
        Ok(a)
    }
}

/// Relevance of each support shot's pixels for a few-shot segmentation of a query.
#[derive(Debug, Clone)]
pub struct SupportAttribution {
    /// Relevance `[N, S, H, W]`: for query `n`, how much each pixel of support shot `s`
    /// contributed to the explained query region.
    pub support: Tensor<4>,
    /// The method that produced it.
    pub method: String,
}

/// Serialisable form of [`SupportAttribution`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupportAttributionRecord {
    /// See [`SupportAttribution::support`].
    pub support: HostTensor,
    /// See [`SupportAttribution::method`].
    pub method: String,
}

impl Explanation for SupportAttribution {
    type Record = SupportAttributionRecord;

    fn to_record(&self) -> SupportAttributionRecord {
        SupportAttributionRecord {
            support: HostTensor::from_tensor(&self.support),
            method: self.method.clone(),
        }
    }

    fn from_record(record: SupportAttributionRecord, device: &Device) -> Result<Self> {
        Ok(Self {
            support: record.support.to_tensor(device)?,
            method: record.method,
        })
    }
}

/// "This looks like that": which learned prototypes a prediction rests on.
#[derive(Debug, Clone)]
pub struct PrototypeEvidence {
    /// Max-pooled similarity of each sample to each prototype, `[N, P]`.
    pub similarities: Tensor<2>,
    /// Where in the feature map each prototype matched, `[N, P, H', W']`.
    pub similarity_maps: Tensor<4>,
    /// Class each prototype belongs to (`len == P`).
    pub prototype_classes: Vec<usize>,
    /// Last-layer weights `[P, K]`: contribution of a unit of similarity to each class logit.
    pub class_weights: Tensor<2>,
}

/// Serialisable form of [`PrototypeEvidence`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrototypeEvidenceRecord {
    /// See [`PrototypeEvidence::similarities`].
    pub similarities: HostTensor,
    /// See [`PrototypeEvidence::similarity_maps`].
    pub similarity_maps: HostTensor,
    /// See [`PrototypeEvidence::prototype_classes`].
    pub prototype_classes: Vec<usize>,
    /// See [`PrototypeEvidence::class_weights`].
    pub class_weights: HostTensor,
}

impl PrototypeEvidence {
    /// The evidence for class `classes[i]` as an attribution map `[N, 1, height, width]`: each
    /// prototype's similarity map weighted by its last-layer weight to that class, summed, and
    /// bilinearly upsampled to the input size. This is how the by-design explanation is scored
    /// with the same metrics as post-hoc attributions.
    pub fn class_map(&self, classes: &[usize], height: usize, width: usize) -> Result<Tensor<4>> {
        let [n, p, _, _] = self.similarity_maps.dims();
        let [wp, k] = self.class_weights.dims();
        if classes.len() != n || wp != p {
            return Err(Error::shape(
                "prototype class map",
                format!("{n} classes and [{p}, K] weights"),
                &[classes.len(), wp],
            ));
        }
        if let Some(&bad) = classes.iter().find(|&&c| c >= k) {
            return Err(Error::OutOfRange {
                what: "class".into(),
                index: bad,
                bound: k,
            });
        }
        let device = self.similarity_maps.device();
        let idx: Vec<i64> = classes.iter().map(|&c| c as i64).collect();
        let select = Tensor::<1, Int>::from_data(TensorData::new(idx, [n]), &device)
            .one_hot::<2>(k)
            .float(); // [N, K]
        let w = select.matmul(self.class_weights.clone().transpose()); // [N, P]
        let map = (self.similarity_maps.clone() * w.reshape([n, p, 1, 1])).sum_dim(1);
        Ok(burn::tensor::module::interpolate(
            map,
            burn::tensor::ops::InterpolateOptions::new(
                burn::tensor::ops::InterpolateMode::Bilinear,
            )
            .with_output_size([height, width]),
        ))
    }

    /// Per-prototype contribution to each class logit, `[N, P, K]` = similarity × weight.
    pub fn contributions(&self) -> Tensor<3> {
        let s = self.similarities.clone().unsqueeze_dim::<3>(2);
        let w = self.class_weights.clone().unsqueeze_dim::<3>(0);
        s * w
    }
}

impl Explanation for PrototypeEvidence {
    type Record = PrototypeEvidenceRecord;

    fn to_record(&self) -> PrototypeEvidenceRecord {
        PrototypeEvidenceRecord {
            similarities: HostTensor::from_tensor(&self.similarities),
            similarity_maps: HostTensor::from_tensor(&self.similarity_maps),
            prototype_classes: self.prototype_classes.clone(),
            class_weights: HostTensor::from_tensor(&self.class_weights),
        }
    }

    fn from_record(record: PrototypeEvidenceRecord, device: &Device) -> Result<Self> {
        let similarities: Tensor<2> = record.similarities.to_tensor(device)?;
        let p = similarities.dims()[1];
        if record.prototype_classes.len() != p {
            return Err(Error::shape(
                "prototype classes",
                format!("one class per prototype ({p})"),
                &[record.prototype_classes.len()],
            ));
        }
        Ok(Self {
            similarities,
            similarity_maps: record.similarity_maps.to_tensor(device)?,
            prototype_classes: record.prototype_classes,
            class_weights: record.class_weights.to_tensor(device)?,
        })
    }
}

/// Concept-bottleneck evidence: predicted human concepts and how they drive the output.
#[derive(Debug, Clone)]
pub struct ConceptEvidence {
    /// Concept names, one per column of `scores`.
    pub concept_names: Vec<String>,
    /// Predicted concept probabilities `[N, C]`.
    pub scores: Tensor<2>,
    /// Contribution of each concept to each class logit `[N, C, K]`.
    pub contributions: Tensor<3>,
}

/// Serialisable form of [`ConceptEvidence`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConceptEvidenceRecord {
    /// See [`ConceptEvidence::concept_names`].
    pub concept_names: Vec<String>,
    /// See [`ConceptEvidence::scores`].
    pub scores: HostTensor,
    /// See [`ConceptEvidence::contributions`].
    pub contributions: HostTensor,
}

impl Explanation for ConceptEvidence {
    type Record = ConceptEvidenceRecord;

    fn to_record(&self) -> ConceptEvidenceRecord {
        ConceptEvidenceRecord {
            concept_names: self.concept_names.clone(),
            scores: HostTensor::from_tensor(&self.scores),
            contributions: HostTensor::from_tensor(&self.contributions),
        }
    }

    fn from_record(record: ConceptEvidenceRecord, device: &Device) -> Result<Self> {
        let scores: Tensor<2> = record.scores.to_tensor(device)?;
        if record.concept_names.len() != scores.dims()[1] {
            return Err(Error::shape(
                "concept names",
                format!("one name per concept ({})", scores.dims()[1]),
                &[record.concept_names.len()],
            ));
        }
        Ok(Self {
            concept_names: record.concept_names,
            scores,
            contributions: record.contributions.to_tensor(device)?,
        })
    }
}
