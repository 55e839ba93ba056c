"""The TensorFlow SavedModel format: every function of :class:`ExportedPolicy` as a signature.

The directory also holds ``assets/metadata.json`` (the text the ``metadata`` signature returns).
"""

from __future__ import annotations

import os
from pathlib import Path

import tensorflow as tf

from stable_baselines_io.export.functions import ExportedPolicy

#: The metadata file inside the SavedModel directory.
METADATA_ASSET = "metadata.json"


def save_saved_model(exported: ExportedPolicy, path: str | os.PathLike[str]) -> Path:
    """Write a SavedModel directory.

    :param exported: the functions to export
    :param path: the directory to create (its existing SavedModel files are replaced)
    :return: the directory
    """
    directory = Path(path)
    tf.saved_model.save(exported, str(directory), signatures=exported.signatures())
    assets = directory / "assets"
    assets.mkdir(exist_ok=True)
    (assets / METADATA_ASSET).write_text(exported.metadata_json + "\n", encoding="utf-8")
    return directory
