"""Type aliases shared by the format and model layers (no TensorFlow here)."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from typing import IO, Any

import numpy as np

#: An ordered mapping from parameter (TensorFlow variable) name to its value.
ParamDict = OrderedDict[str, np.ndarray]
#: The algorithm's data dictionary: attribute name -> value.
DataDict = dict[str, Any]
#: A file system path.
PathType = str | os.PathLike[str]
#: Where an agent file can be written to or read from: a path, an fsspec URL (``s3://bucket/agent.zip``,
#: a ``str``) or an open binary file object.
FileTarget = str | os.PathLike[str] | IO[bytes]
#: Options for an fsspec backend (``storage_options``), e.g. ``{"client_kwargs": {"endpoint_url": ...}}``.
StorageOptions = dict[str, Any]
#: Parameters as loaded: a name mapping, or (oldest legacy files) a list in parameter order.
LoadedParams = ParamDict | list[np.ndarray] | None
#: What ``env`` arguments accept: a gymnasium ``Env``, an env id, a gymnasium ``SyncVectorEnv``
#: or a :class:`~stable_baselines_io.common.vec_env.VecEnv`.
EnvSpec = Any
#: A ``learn`` callback in Stable Baselines 2's function form: ``callback(locals(), globals())``;
#: returning ``False`` stops training.
Callback = Callable[[dict[str, Any], dict[str, Any]], "bool | None"]
#: An activation function of the policies (a TensorFlow tensor in, a tensor out).
Activation = Callable[[Any], Any]
