"""The format layer: agent files as bytes on disk. Never imports TensorFlow or the model classes.

- :mod:`.json_codec`: ``data_to_json`` / ``json_to_data`` (the ``data`` member)
- :mod:`.params_codec`: ``params_to_bytes`` / ``bytes_to_params`` (the ``parameters`` member)
- :mod:`.archive`: the zip archive; :mod:`.legacy`: the cloudpickle format
- :mod:`.files`: ``save_to_file`` / ``load_from_file``, the entry points
- :mod:`.safe_pickle`: the allow-list unpickler behind safe mode
- :mod:`.registry`: classes written by name instead of pickled
"""

from stable_baselines_io.format.files import load_from_file, read_agent_file, save_to_file
from stable_baselines_io.format.json_codec import data_to_json, json_to_data
from stable_baselines_io.format.params_codec import bytes_to_params, params_to_bytes
from stable_baselines_io.format.registry import register_serializable

__all__ = [
    "save_to_file",
    "load_from_file",
    "read_agent_file",
    "data_to_json",
    "json_to_data",
    "params_to_bytes",
    "bytes_to_params",
    "register_serializable",
]
