//! The ONNX export: every layer adds its evaluation-mode computation to a `Graph`
//! (`Module::onnx`, with the emitters of `ops.rs`), and `export` writes the graph as an ONNX model
//! (opset 13) that ONNX Runtime, OpenCV, TensorRT or a phone's runtime can run.
//!
//! The graph mirrors the PyTorch module: batch norm stays a BatchNormalization node (runtimes fold
//! it into the convolution themselves), and every weight is an initializer named as in the
//! safetensors file ("0.3.conv.1.0.weight"), so the two exports can be checked against each other.

mod ops;
mod proto;

use prost::Message;

use self::proto::*;
use super::Module;
use crate::error::{Error, Result};
use crate::shape::show;
use crate::tensor::Tensor;

/// Opset 13 has every operator the export uses in its current form (Clip's bounds as inputs,
/// since opset 11); ONNX Runtime has run it since 1.6.
const OPSET: i64 = 13;
/// The IR version that opset 13 came with (ONNX 1.8).
const IR_VERSION: i64 = 7;
/// The batch axis's name: any number of images per run.
const BATCH: &str = "batch";

/// A value of the graph being built: its name and one image's shape (the symbolic batch axis
/// comes first and is left out).
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    pub name: String,
    pub shape: Vec<usize>,
}

/// The nodes so far, and the tensors they read.
#[derive(Default)]
pub struct Graph {
    nodes: Vec<NodeProto>,
    /// The model's tensors, read (asynchronously, from the GPU too) when the model is written.
    weights: Vec<(String, Tensor)>,
    /// Small constants, such as Clip's bounds for ReLU6.
    constants: Vec<TensorProto>,
}

impl Graph {
    /// The module's tensor `name` under `prefix` as an initializer with its state-dict name.
    fn weight(&mut self, prefix: &str, name: &str, tensor: &Tensor) -> String {
        let full = super::child_name(prefix, name);
        self.weights.push((full.clone(), tensor.clone()));
        full
    }

    /// A scalar constant named `name`, added the first time it is asked for.
    fn scalar(&mut self, name: &str, value: f32) -> String {
        if !self.constants.iter().any(|c| c.name == name) {
            let raw_data = value.to_le_bytes().to_vec();
            self.constants.push(TensorProto { dims: vec![], data_type: FLOAT, name: name.into(), raw_data });
        }
        name.into()
    }

    /// Adds the node `op` for the module at `prefix`; node and output are named "prefix/op".
    fn node(&mut self, prefix: &str, op: &str, inputs: Vec<String>, attribute: Vec<AttributeProto>, shape: Vec<usize>) -> Value {
        let name = format!("{prefix}/{op}");
        let node = NodeProto { input: inputs, output: vec![name.clone()], name: name.clone(), op_type: op.into(), attribute };
        self.nodes.push(node);
        Value { name, shape }
    }
}

/// The error for a layer the export cannot write: `layer` at `prefix`, and why.
pub(crate) fn unsupported(prefix: &str, layer: &str, why: impl std::fmt::Display) -> Error {
    let at = if prefix.is_empty() { String::new() } else { format!(" '{prefix}'") };
    Error::shape("export_onnx", format!("{layer}{at} cannot be exported to ONNX: {why}"))
}

/// What the model file says besides the network: a description and named metadata values.
pub struct ModelInfo {
    /// The model's doc string (Markdown is allowed).
    pub doc: String,
    /// Metadata properties, for example the class names.
    pub metadata: Vec<(String, String)>,
}

/// `module` in evaluation mode as an ONNX model: input "image" [batch, image...] (float32), outputs
/// "logits" [batch, classes] and "probabilities" (their softmax). The module must map one image to
/// one row of class scores.
pub async fn export(module: &dyn Module, image: &[usize], info: ModelInfo) -> Result<Vec<u8>> {
    let mut graph = Graph::default();
    let input = Value { name: "image".into(), shape: image.to_vec() };
    let out = module.onnx("", &mut graph, input.clone())?;
    // The node that gave the output; its output is renamed "logits", the name a user looks for.
    let Some(last) = graph.nodes.iter_mut().find(|n| n.output[0] == out.name) else {
        return Err(Error::shape("export_onnx", "the model has no layers: its output is its input"));
    };
    let [classes] = out.shape[..] else {
        let detail = format!("one image gives {}; the export needs one row of class scores", show(&out.shape));
        return Err(Error::shape("export_onnx", detail));
    };
    last.output[0] = "logits".into();
    graph.nodes.push(NodeProto {
        input: vec!["logits".into()],
        output: vec!["probabilities".into()],
        name: "softmax".into(),
        op_type: "Softmax".into(),
        attribute: vec![ops::int("axis", 1)],
    });

    let mut initializer = graph.constants;
    for (name, tensor) in graph.weights {
        let raw_data = tensor.to_vec().await?.iter().flat_map(|v| v.to_le_bytes()).collect();
        initializer.push(TensorProto { dims: tensor.shape().iter().map(|&d| d as i64).collect(), data_type: FLOAT, name, raw_data });
    }
    let value_info = |name: &str, shape: &[usize], doc: &str| ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto { tensor_type: Some(tensor_type(shape)) }),
        doc_string: doc.into(),
    };
    let model = ModelProto {
        ir_version: IR_VERSION,
        producer_name: "kiln".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: info.doc,
        graph: Some(GraphProto {
            node: graph.nodes,
            name: "kiln".into(),
            initializer,
            input: vec![value_info(&input.name, &input.shape, "the images, preprocessed as the metadata's 'preprocessing' says")],
            output: vec![
                value_info("logits", &[classes], "class scores, in the order of the metadata's vocabulary"),
                value_info("probabilities", &[classes], "softmax of the logits"),
            ],
        }),
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
        metadata_props: info.metadata.into_iter().map(|(key, value)| StringStringEntryProto { key, value }).collect(),
    };
    Ok(model.encode_to_vec())
}

/// A float32 tensor type of `shape` behind the symbolic batch axis.
fn tensor_type(shape: &[usize]) -> TensorTypeProto {
    let batch = Dimension { value: Some(DimensionValue::DimParam(BATCH.into())) };
    let sizes = shape.iter().map(|&d| Dimension { value: Some(DimensionValue::DimValue(d as i64)) });
    TensorTypeProto { elem_type: FLOAT, shape: Some(TensorShapeProto { dim: std::iter::once(batch).chain(sizes).collect() }) }
}
