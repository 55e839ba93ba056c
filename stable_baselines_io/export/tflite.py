"""The TensorFlow Lite format: the ``action`` signature, with TFLite built-in operators only."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import tensorflow as tf

from stable_baselines_io.exceptions import UnsupportedExportError
from stable_baselines_io.export.functions import ExportedPolicy
from stable_baselines_io.export.saved_model import save_saved_model


def save_tflite(exported: ExportedPolicy, path: str | os.PathLike[str]) -> Path:
    """Write a ``.tflite`` flatbuffer whose one signature, ``action``, maps observations to actions.

    The batch dimension is dynamic: call ``interpreter.resize_tensor_input`` (or use the
    signature runner, which resizes) for batches of more than one observation.

    :param exported: the functions to export; must be deterministic
    :param path: the file to write
    :return: the file
    """
    if not exported.deterministic:
        raise UnsupportedExportError(
            "tflite cannot express stochastic sampling: TFLite built-in operators have no random sampling op; "
            "export with deterministic=True (or use the saved_model format)"
        )
    with tempfile.TemporaryDirectory(prefix="sb-io-tflite-") as staging:
        save_saved_model(exported, staging)
        converter = tf.lite.TFLiteConverter.from_saved_model(staging, signature_keys=["action"])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        flatbuffer = converter.convert()
    destination = Path(path)
    destination.write_bytes(flatbuffer)
    return destination
