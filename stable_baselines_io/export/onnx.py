"""The ONNX format, converted by ``tf2onnx`` (the optional ``export`` extra).

The graph has one input, ``observations`` (first dimension ``batch``), and one output per output of the observation
functions of :class:`ExportedPolicy`: ``actions``, then ``probabilities`` or ``mean`` /
``std`` / ``log_std``, and ``values`` (actor-critic), or ``actions`` and ``q_values`` (DQN).
The export metadata JSON is stored in the model's ``metadata_props`` under ``stable_baselines_io``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import tensorflow as tf

from stable_baselines_io.exceptions import ExportDependencyError, UnsupportedExportError
from stable_baselines_io.export.functions import OBSERVATIONS, ExportedPolicy

#: The ONNX operator set the graph is converted to (onnxruntime 1.14+ runs it).
ONNX_OPSET = 17
#: The ``metadata_props`` key of the export metadata.
METADATA_PROPERTY = "stable_baselines_io"


def save_onnx(exported: ExportedPolicy, path: str | os.PathLike[str]) -> Path:
    """Write a ``.onnx`` model.

    :param exported: the functions to export; must be deterministic
    :param path: the file to write
    :return: the file
    """
    if not exported.deterministic:
        raise UnsupportedExportError(
            "onnx cannot express the policy's stochastic sampling: tf2onnx does not convert TensorFlow's "
            "random ops; export with deterministic=True (or use the saved_model format)"
        )
    tf2onnx = _import_tf2onnx()
    functions = exported.observation_functions()

    def all_outputs(observations: tf.Tensor) -> dict[str, tf.Tensor]:
        outputs: dict[str, tf.Tensor] = {}
        for function in functions.values():
            outputs.update(function(observations))
        return outputs

    combined = tf.function(all_outputs, input_signature=[exported.observation_spec], autograph=False)
    concrete = combined.get_concrete_function()
    # The converted graph's outputs follow the flattened order of the structured outputs
    # (dict keys sorted); they are renamed below so callers can ask for them by name.
    output_names = sorted(concrete.structured_outputs)
    model_proto, _ = tf2onnx.convert.from_function(combined, input_signature=[exported.observation_spec],
                                                   opset=ONNX_OPSET)
    _name_inputs_and_outputs(model_proto, output_names)
    entry = model_proto.metadata_props.add()
    entry.key, entry.value = METADATA_PROPERTY, exported.metadata_json
    destination = Path(path)
    destination.write_bytes(model_proto.SerializeToString())
    return destination


def _import_tf2onnx() -> Any:
    try:
        import tf2onnx
    except ImportError as error:
        raise ExportDependencyError(
            f"the onnx format needs tf2onnx, which is not installed ({error}): "
            'pip install "stable-baselines-io[export]"'
        ) from error
    return tf2onnx


def _name_inputs_and_outputs(model_proto: Any, names: list[str]) -> None:
    graph = model_proto.graph
    if len(graph.output) != len(names):
        raise UnsupportedExportError(
            f"tf2onnx produced {len(graph.output)} outputs, expected {len(names)} ({names})"
        )
    renames = {output.name: name for output, name in zip(graph.output, names)}
    renames.update({graph_input.name: OBSERVATIONS for graph_input in graph.input})
    for node in graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
    for value in [*graph.input, *graph.output]:
        value.name = renames.get(value.name, value.name)
        dimensions = value.type.tensor_type.shape.dim
        if dimensions and not dimensions[0].HasField("dim_value"):
            dimensions[0].dim_param = "batch"
