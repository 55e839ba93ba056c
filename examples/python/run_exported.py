"""Run an exported policy without stable-baselines-io: SavedModel, TFLite or ONNX.

Needs only NumPy plus the runtime of the format: ``tensorflow`` (SavedModel, TFLite) or
``onnxruntime`` (ONNX). Prints the deterministic action of each observation, as JSON::

    python run_exported.py cartpole_policy/ '[[0.01, 0.0, 0.02, 0.0]]'       # SavedModel directory
    python run_exported.py cartpole.tflite observations.npy
    python run_exported.py cartpole.onnx observations.npy

With ``--manifest FILE`` it runs many artifacts in one process instead (the test suite does):
``FILE`` is a JSON list of ``{"artifact", "observations", "output"}`` (``.npy`` inputs, ``.npz``
outputs holding ``batched`` (one call on the whole batch) and ``single`` (one call per
observation)); an artifact whose runtime is not installed gets ``{"missing": "module"}`` in
``FILE.results.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ActionFunction = Callable[[np.ndarray], np.ndarray]


def saved_model_actions(path: str) -> ActionFunction:
    import tensorflow as tf

    action = tf.saved_model.load(path).signatures["action"]
    return lambda observations: action(observations=tf.constant(observations))["actions"].numpy()


def tflite_actions(path: str) -> ActionFunction:
    import tensorflow as tf

    runner = tf.lite.Interpreter(model_path=path).get_signature_runner("action")
    return lambda observations: runner(observations=observations)["actions"]


def onnx_actions(path: str) -> ActionFunction:
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return lambda observations: session.run(["actions"], {"observations": observations})[0]


def load_actions(path: str) -> ActionFunction:
    """The action function of an artifact, chosen by its kind: a directory, ``.tflite`` or ``.onnx``."""
    if Path(path).is_dir():
        return saved_model_actions(path)
    if path.endswith(".tflite"):
        return tflite_actions(path)
    if path.endswith(".onnx"):
        return onnx_actions(path)
    raise SystemExit(f"{path}: expected a SavedModel directory, a .tflite or an .onnx file")


def run_manifest(manifest_path: str) -> None:
    results = {}
    for entry in json.loads(Path(manifest_path).read_text()):
        try:
            act = load_actions(entry["artifact"])
        except ModuleNotFoundError as error:
            results[entry["artifact"]] = {"missing": error.name}
            continue
        observations = np.load(entry["observations"])
        single = np.stack([act(observations[index:index + 1])[0] for index in range(len(observations))])
        np.savez(entry["output"], batched=act(observations), single=single)
        results[entry["artifact"]] = {"ok": True}
    results["imported_stable_baselines_io"] = "stable_baselines_io" in sys.modules
    Path(manifest_path + ".results.json").write_text(json.dumps(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("artifact", nargs="?")
    parser.add_argument("observations", nargs="?", help="a .npy file or a JSON list of observations")
    parser.add_argument("--dtype", default="float32", help="the observations' dtype (the metadata's observation space)")
    parser.add_argument("--manifest")
    arguments = parser.parse_args()
    if arguments.manifest:
        run_manifest(arguments.manifest)
        return
    if not arguments.artifact or arguments.observations is None:
        parser.error("expected ARTIFACT OBSERVATIONS, or --manifest FILE")
    if arguments.observations.endswith(".npy"):
        observations = np.load(arguments.observations)
    else:
        observations = np.asarray(json.loads(arguments.observations), dtype=arguments.dtype)
    print(json.dumps(load_actions(arguments.artifact)(observations).tolist()))


if __name__ == "__main__":
    main()
