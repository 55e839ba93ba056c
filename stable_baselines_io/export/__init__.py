"""Export a model's policy to run without this library: TF SavedModel, TFLite, ONNX.

>>> from stable_baselines_io import PPO
>>> model = PPO("MlpPolicy", "CartPole-v1", seed=0)
>>> model.export("cartpole_policy", format="saved_model")  # doctest: +SKIP

One module per format; :mod:`~stable_baselines_io.export.functions` builds the TensorFlow
functions they all start from. See ``docs/deployment.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from stable_baselines_io.exceptions import UnsupportedExportError

#: The formats :func:`export_model` writes.
EXPORT_FORMATS = ("saved_model", "tflite", "onnx")


def export_model(model: Any, path: str | os.PathLike[str], format: str = "saved_model",
                 deterministic: bool = True, observation_transforms: Sequence[Callable[[Any], Any]] = ()) -> Path:
    """Export a model's policy for deployment.

    :param model: a set-up model whose policy is an actor-critic ``MlpPolicy`` (PPO, A2C), a
        recurrent ``LstmPolicy`` (saved_model only: its functions take and return the states) or a
        DQN Q-network
    :param path: the SavedModel directory, or the ``.tflite`` / ``.onnx`` file, to write
    :param format: one of :data:`EXPORT_FORMATS`
    :param deterministic: ``action`` returns the greedy action; False (saved_model, actor-critic
        only) makes it sample
    :param observation_transforms: TensorFlow functions applied in order to the raw observation
        batch inside the exported graph, before the policy's preprocessing (e.g. normalisation
        with fixed statistics, image scaling)
    :return: the path written
    """
    if format not in EXPORT_FORMATS:
        raise UnsupportedExportError(f"unknown export format {format!r}: expected one of {list(EXPORT_FORMATS)}")
    from stable_baselines_io.export.functions import ExportedPolicy

    exported = ExportedPolicy(model, deterministic=deterministic, observation_transforms=observation_transforms)
    if exported.recurrent and format != "saved_model":
        raise UnsupportedExportError(
            f"{type(model).__name__}'s recurrent policy {type(model.policy_net).__name__} exports to 'saved_model' "
            f"only (its functions take and return the LSTM states), not to {format!r}"
        )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if format == "saved_model":
        from stable_baselines_io.export.saved_model import save_saved_model

        return save_saved_model(exported, path)
    if format == "tflite":
        from stable_baselines_io.export.tflite import save_tflite

        return save_tflite(exported, path)
    from stable_baselines_io.export.onnx import save_onnx

    return save_onnx(exported, path)


__all__ = ["EXPORT_FORMATS", "export_model"]
