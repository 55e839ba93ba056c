"""The format layer never imports TensorFlow: ``inspect`` / ``convert`` and file tools start fast."""

from __future__ import annotations

import json

# Records every attempt to import TensorFlow or Keras (without blocking it, so a regression shows
# up as a clear assertion rather than as a failed round trip).
IMPORT_RECORDER = """
import sys

attempts = []

class RecordHeavyImports:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
            attempts.append(name)
        return None

sys.meta_path.insert(0, RecordHeavyImports())
"""

ROUND_TRIP = IMPORT_RECORDER + """
import io, json, pathlib, tempfile, warnings
from collections import OrderedDict

import numpy as np
import gymnasium as gym

import stable_baselines_io
import stable_baselines_io.format
from stable_baselines_io.format import load_from_file, read_agent_file, save_to_file
from stable_baselines_io.schedules import ConstantSchedule, LinearSchedule, PiecewiseSchedule

data = {
    "gamma": 0.99,
    "learning_rate": LinearSchedule(3e-4, 0.0),
    "cliprange": ConstantSchedule(0.2),
    "exploration": PiecewiseSchedule(((0.0, 1.0), (0.1, 0.02))),
    "observation_space": gym.spaces.Box(-1.0, 1.0, (4,), np.float32),
    "action_space": gym.spaces.Discrete(2),
    "goal_space": gym.spaces.Dict({"goal": gym.spaces.MultiDiscrete([3, 3])}),
    "random_state": np.random.RandomState(0),
    "mean": np.arange(4, dtype=np.float32),
    "shape": (4,),
}
params = OrderedDict([("model/pi/w:0", np.ones((4, 2), dtype=np.float32)), ("model/pi/b:0", np.zeros(2))])
checked = []
with tempfile.TemporaryDirectory() as folder:
    for cloudpickle in (False, True):
        path = pathlib.Path(folder) / ("agent.pkl" if cloudpickle else "agent")
        save_to_file(path, data=data, params=params, cloudpickle=cloudpickle)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            loaded_data, loaded_params = load_from_file(path if cloudpickle else str(path))
        assert loaded_data["learning_rate"] == data["learning_rate"]
        assert loaded_data["observation_space"] == data["observation_space"]
        assert loaded_data["goal_space"] == data["goal_space"]
        assert list(loaded_params) == list(params)
        np.testing.assert_array_equal(loaded_params["model/pi/w:0"], params["model/pi/w:0"])
        checked.append("cloudpickle" if cloudpickle else "zip")
    buffer = io.BytesIO()
    save_to_file(buffer, data=data, params=params)
    buffer.seek(0)
    assert read_agent_file(buffer).metadata["format_version"] >= 1
    checked.append("bytesio")

heavy = sorted(name for name in sys.modules if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
print(json.dumps({"checked": checked, "attempts": attempts, "heavy_modules": heavy}))
"""


def run_and_report(run_python, code: str) -> dict:
    result = run_python(code)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_and_round_trip_without_tensorflow(run_python):
    report = run_and_report(run_python, ROUND_TRIP)
    assert report["checked"] == ["zip", "cloudpickle", "bytesio"]
    assert report["attempts"] == []
    assert report["heavy_modules"] == []


def test_import_alone_does_not_import_tensorflow(run_python):
    report = run_and_report(run_python, IMPORT_RECORDER + """
import json
import stable_baselines_io
import stable_baselines_io.format
import stable_baselines_io.schedules
import stable_baselines_io.exceptions
print(json.dumps({"attempts": attempts, "tensorflow": "tensorflow" in sys.modules}))
""")
    assert report == {"attempts": [], "tensorflow": False}


def test_sb2_file_read_with_deferred_imports_does_not_import_tensorflow(run_python, sb2_fixture_dir):
    """Tools read Stable Baselines 2 files, whose policy class maps to a TF class, without TensorFlow."""
    report = run_and_report(run_python, IMPORT_RECORDER + f"""
import json
from stable_baselines_io.format import load_from_file, registry
with registry.deferred_imports():
    data, params = load_from_file({str(sb2_fixture_dir / "ppo2__CartPole-v1__TrailerReverse.zip")!r})
print(json.dumps({{"attempts": attempts, "policy": registry.registered_name(data["policy"]),
                   "params": len(params)}}))
""")
    assert report == {"attempts": [], "policy": "actor_critic.MlpPolicy", "params": 14}
