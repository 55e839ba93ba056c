"""What an exported artifact says about itself: spaces, algorithm, versions, signatures (plain JSON).

Spaces are described for readers in any language, not in the agent file's codec form: bounds
are lists of numbers, with non-finite values as the strings ``"inf"``, ``"-inf"`` and ``"nan"``
(strict JSON has no literal for them).

>>> import gymnasium
>>> describe_space(gymnasium.spaces.Discrete(3))
{'type': 'Discrete', 'n': 3, 'start': 0}
"""

from __future__ import annotations

import json
from typing import Any

import gymnasium
import numpy as np

from stable_baselines_io.exceptions import UnsupportedExportError
from stable_baselines_io.version import __version__

#: The version of the metadata layout below; bumped when a key changes meaning.
EXPORT_METADATA_VERSION = 1


def describe_space(space: gymnasium.Space) -> dict[str, Any]:
    """A gymnasium space as plain JSON values.

    :param space: a Box, Discrete, MultiBinary or MultiDiscrete space
    :return: ``type`` plus the fields that define that kind of space
    """
    if isinstance(space, gymnasium.spaces.Box):
        return {"type": "Box", "shape": list(space.shape), "dtype": np.dtype(space.dtype).name,
                "low": _finite_or_text(space.low), "high": _finite_or_text(space.high)}
    if isinstance(space, gymnasium.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gymnasium.spaces.MultiBinary):
        return {"type": "MultiBinary", "shape": list(space.shape)}
    if isinstance(space, gymnasium.spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": np.asarray(space.nvec).tolist(),
                "start": np.asarray(space.start).tolist(), "dtype": np.dtype(space.dtype).name}
    raise UnsupportedExportError(
        f"cannot export a model with a {type(space).__name__} space ({space}): expected Box, Discrete, "
        "MultiBinary or MultiDiscrete"
    )


def _finite_or_text(values: np.ndarray) -> Any:
    as_list = np.asarray(values, dtype=np.float64).tolist()
    return _replace_non_finite(as_list)


def _replace_non_finite(value: Any) -> Any:
    if isinstance(value, list):
        return [_replace_non_finite(item) for item in value]
    if np.isnan(value):
        return "nan"
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def export_metadata(
    algorithm: str,
    observation_space: gymnasium.Space,
    action_space: gymnasium.Space,
    signatures: dict[str, dict[str, Any]],
    deterministic: bool,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The metadata stored in every exported artifact.

    :param algorithm: the model class name, e.g. ``"PPO"``
    :param observation_space: the model's observation space
    :param action_space: the model's action space
    :param signatures: signature name -> ``{"inputs": {...}, "outputs": {...}}`` (name -> dtype and shape)
    :param deterministic: whether ``action`` returns the greedy action (else a sample)
    :param extra: more entries (e.g. the TensorFlow version)
    :return: JSON-able mapping
    """
    return {
        "export_metadata_version": EXPORT_METADATA_VERSION,
        "stable_baselines_io": __version__,
        "algorithm": algorithm,
        "observation_space": describe_space(observation_space),
        "action_space": describe_space(action_space),
        "deterministic": deterministic,
        "signatures": signatures,
        **(extra or {}),
    }


def metadata_to_json(metadata: dict[str, Any]) -> str:
    """Strict JSON text of :func:`export_metadata`'s result (no ``NaN`` / ``Infinity`` literals).

    :param metadata: the mapping
    :return: the text
    """
    return json.dumps(metadata, indent=2, sort_keys=True, allow_nan=False)
