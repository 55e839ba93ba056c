"""Exact resume for PPO: a saved file holds the complete training state.

Training ``N`` steps, saving, loading with ``force_reset=False`` into the same environment and
training ``M`` more steps must give the very same weights as ``N + M`` steps without a break.
TensorFlow's op determinism is on for this module only (see :func:`op_determinism`).
"""

from __future__ import annotations

import io
import json
import os
import signal
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from stable_baselines_io.common.callbacks import CheckpointCallback
from stable_baselines_io.common.tf_util import PREDICT_EAGER_CALLS
from stable_baselines_io.exceptions import ParameterMismatchError
from stable_baselines_io.format.archive import METADATA_MEMBER, TRAINING_ARRAYS_MEMBER, TRAINING_STATE_MEMBER
from stable_baselines_io.ppo import PPO
from stable_baselines_io.ppo.ppo import RANDOM_GENERATOR_STATE
from stable_baselines_io.schedules import LinearSchedule

# Non-default loss coefficients: they are baked into the training step when it is first traced,
# so a loaded model that traced it with the defaults would drift from the uninterrupted run.
HYPERPARAMETERS = dict(n_steps=32, nminibatches=2, noptepochs=2, ent_coef=0.02, vf_coef=0.4, max_grad_norm=0.6,
                       policy_kwargs=dict(net_arch=[32]), seed=0)
N_BATCH = 32
# After 96 CartPole steps with seed 0 the episode in progress is 11 steps old (asserted below).
N = 3 * N_BATCH
M = 2 * N_BATCH


@pytest.fixture(scope="module", autouse=True)
def op_determinism() -> Any:
    """Deterministic TensorFlow ops for this module, then the process-wide setting as it was.

    Op determinism also makes random ops without a seed raise, which other test modules may run.
    """
    was_enabled = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    yield
    if not was_enabled:
        tf_config.disable_op_determinism()


def new_ppo(env: gymnasium.Env, **overrides: Any) -> PPO:
    return PPO("MlpPolicy", env, **{**HYPERPARAMETERS, **overrides})


def assert_arrays_equal(actual: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert list(actual) == list(expected)
    different = [name for name in expected if not np.array_equal(actual[name], expected[name])]
    assert not different, f"different arrays: {different}"


def state_arrays(model: PPO) -> dict[str, np.ndarray]:
    return {name: variable.numpy() for name, variable in model.get_state_variables().items()}


def assert_same_training(resumed: PPO, uninterrupted: PPO, horizon: int = N + M) -> None:
    assert_arrays_equal(resumed.get_parameters(), uninterrupted.get_parameters())
    assert_arrays_equal(state_arrays(resumed), state_arrays(uninterrupted))
    assert resumed.shuffle_rng.bit_generator.state == uninterrupted.shuffle_rng.bit_generator.state
    assert resumed.num_timesteps == uninterrupted.num_timesteps == N + M
    assert resumed._n_updates == uninterrupted._n_updates == (N + M) // N_BATCH  # noqa: SLF001
    assert resumed._total_timesteps == uninterrupted._total_timesteps == horizon  # noqa: SLF001
    np.testing.assert_array_equal(resumed._last_obs, uninterrupted._last_obs)  # noqa: SLF001
    # The episode that spans the save is reported with its whole length.
    assert list(resumed.ep_info_buf) == list(uninterrupted.ep_info_buf)


def save_mid_episode(model: PPO, path: Path) -> None:
    assert model.num_timesteps == N
    assert not model._episode_starts.any() and model.get_env()._episode_lengths[0] > 0  # noqa: SLF001
    model.save(path)


# --- bit-exact continuation -------------------------------------------------------------------


def test_constant_schedules_resume_bit_exactly(tmp_path: Path, count_resets: Callable[[Any], list[int]]) -> None:
    uninterrupted = new_ppo(gymnasium.make("CartPole-v1")).learn(N + M)

    env = gymnasium.make("CartPole-v1")
    first_part = new_ppo(env).learn(N)
    save_mid_episode(first_part, tmp_path / "agent.zip")
    resumed = PPO.load(tmp_path / "agent.zip", env=env, force_reset=False)
    resets = count_resets(resumed)
    resumed.learn(M, reset_num_timesteps=False)

    assert resets == []
    assert_same_training(resumed, uninterrupted)


@pytest.mark.parametrize("env_id", ["stable_baselines_io.envs:IdentityMultiDiscrete-v0",
                                    "stable_baselines_io.envs:IdentityMultiBinary-v0"],
                         ids=["multi-discrete", "multi-binary"])
def test_multi_discrete_and_multi_binary_actions_resume_bit_exactly(tmp_path: Path, env_id: str) -> None:
    uninterrupted = new_ppo(gymnasium.make(env_id)).learn(N + M)

    env = gymnasium.make(env_id)
    first_part = new_ppo(env).learn(N)
    save_mid_episode(first_part, tmp_path / "agent.zip")
    resumed = PPO.load(tmp_path / "agent.zip", env=env, force_reset=False)
    resumed.learn(M, reset_num_timesteps=False)

    assert_same_training(resumed, uninterrupted)


@pytest.mark.parametrize("horizon", [N + M, N + M + 2 * N_BATCH], ids=["resumed-to-the-end", "resumed-part-way"])
def test_linear_schedules_resume_an_interrupted_run_bit_exactly(tmp_path: Path, horizon: int) -> None:
    # "resumed-part-way": learn(M) after the break does not reach the horizon of the interrupted
    # call, so only the stored horizon gives the schedule values of the uninterrupted run.
    schedules = dict(learning_rate=LinearSchedule(1e-3), cliprange=LinearSchedule(0.2))
    uninterrupted = new_ppo(gymnasium.make("CartPole-v1"), **schedules)
    uninterrupted.learn(horizon, callback=lambda local_vars, _: local_vars["self"].num_timesteps < N + M)

    env = gymnasium.make("CartPole-v1")
    interrupted = new_ppo(env, **schedules)
    interrupted.learn(horizon, callback=lambda local_vars, _: local_vars["self"].num_timesteps < N)
    save_mid_episode(interrupted, tmp_path / "agent.zip")
    resumed = PPO.load(tmp_path / "agent.zip", env=env, force_reset=False)
    resumed.learn(M, reset_num_timesteps=False)

    assert_same_training(resumed, uninterrupted, horizon)
    last_progress_remaining = 1 - (N + M - N_BATCH) / horizon
    assert resumed.optimizer.learning_rate.numpy() == np.float32(LinearSchedule(1e-3)(last_progress_remaining))


def training_arrays_of(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive, archive.open(TRAINING_ARRAYS_MEMBER) as member:
        arrays = np.load(io.BytesIO(member.read()))
        return {name: arrays[name] for name in arrays.files}


def test_load_save_load_learn_resumes_bit_exactly(tmp_path: Path) -> None:
    uninterrupted = new_ppo(gymnasium.make("CartPole-v1")).learn(N + M)
    env = gymnasium.make("CartPole-v1")
    save_mid_episode(new_ppo(env).learn(N), tmp_path / "agent.zip")

    loaded = PPO.load(tmp_path / "agent.zip", env=env, force_reset=False)
    assert loaded._optimizer is None  # noqa: SLF001 (acting needs only the weights)
    loaded.save(tmp_path / "again.zip")
    assert loaded._optimizer is None  # noqa: SLF001 (the stored optimizer state is written back as read)
    assert_arrays_equal(training_arrays_of(tmp_path / "again.zip"), training_arrays_of(tmp_path / "agent.zip"))
    resumed = PPO.load(tmp_path / "again.zip", env=env, force_reset=False)
    resumed.learn(M, reset_num_timesteps=False)

    assert_same_training(resumed, uninterrupted)


def test_load_predict_learn_resumes_bit_exactly(tmp_path: Path) -> None:
    uninterrupted = new_ppo(gymnasium.make("CartPole-v1")).learn(N + M)
    env = gymnasium.make("CartPole-v1")
    first_part = new_ppo(env).learn(N)
    save_mid_episode(first_part, tmp_path / "agent.zip")

    resumed = PPO.load(tmp_path / "agent.zip", env=env, force_reset=False)
    observations = np.random.default_rng(0).normal(size=(PREDICT_EAGER_CALLS + 2, 4)).astype(np.float32)
    # eager calls first, then the traced function: the same actions as the model that was saved
    actions = [resumed.predict(observation, deterministic=True)[0] for observation in observations]
    for observation in observations:  # past the eager calls: traced, as training acts
        first_part.predict(observation, deterministic=True)
    expected = [first_part.predict(observation, deterministic=True)[0] for observation in observations]
    np.testing.assert_array_equal(actions, expected)
    resumed.learn(M, reset_num_timesteps=False)

    assert_same_training(resumed, uninterrupted)


def test_a_run_resumed_from_its_latest_checkpoint_ends_bit_identical(tmp_path: Path) -> None:
    horizon = N + M + 2 * N_BATCH
    schedules = dict(learning_rate=LinearSchedule(1e-3), cliprange=LinearSchedule(0.2))
    uninterrupted = new_ppo(gymnasium.make("CartPole-v1"), **schedules)
    uninterrupted.learn(horizon, callback=lambda local_vars, _: local_vars["self"].num_timesteps < N + M)

    env = gymnasium.make("CartPole-v1")
    checkpoints = CheckpointCallback(N_BATCH, tmp_path, keep_last=2)
    # The process "dies" right after the checkpoint at step N, in the middle of learn(horizon).
    new_ppo(env, **schedules).learn(
        horizon, callback=[checkpoints, lambda local_vars, _: local_vars["self"].num_timesteps < N])
    assert [path.name for path in checkpoints.checkpoints()] == [f"rl_model_{steps}_steps.zip"
                                                                 for steps in (N - N_BATCH, N)]
    resumed = PPO.load(checkpoints.checkpoints()[-1], env=env, force_reset=False)
    resumed.learn(M, reset_num_timesteps=False, callback=checkpoints)

    assert_same_training(resumed, uninterrupted, horizon)
    assert checkpoints.checkpoints()[-1].name == f"rl_model_{N + M}_steps.zip"


# --- what the file holds ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[PPO, Path]:
    """A model trained to the middle of an episode, and the file it was saved to."""
    model = new_ppo(gymnasium.make("CartPole-v1")).learn(N)
    path = tmp_path_factory.mktemp("trained") / "agent.zip"
    save_mid_episode(model, path)
    return model, path


def test_state_variables_are_the_optimizer_state_and_the_generator_under_stable_names(
    trained_file: tuple[PPO, Path],
) -> None:
    model, _ = trained_file
    names = list(model.get_state_variables())
    trained = [variable.name[:-len(":0")] for variable in model.policy_net.actor_critic_parameters()]
    assert names == ["Adam/iterations:0", "Adam/learning_rate:0", *[f"{name}/Adam:0" for name in trained],
                     *[f"{name}/Adam_1:0" for name in trained], RANDOM_GENERATOR_STATE]
    assert list(new_ppo(gymnasium.make("CartPole-v1")).get_state_variables()) == names


def test_training_state_member_is_plain_json_of_the_declared_attributes(trained_file: tuple[PPO, Path]) -> None:
    _, path = trained_file
    with zipfile.ZipFile(path) as archive:
        text = archive.read(TRAINING_STATE_MEMBER).decode()
    assert ":serialized:" not in text  # nothing pickled
    state = json.loads(text)
    assert list(state) == list(PPO._state_attrs)  # noqa: SLF001
    assert isinstance(state["_ep_info_list"], list) and state["_ep_info_list"][0].keys() == {"r", "l"}


LOAD_AND_DUMP = """
import json, sys
from pathlib import Path
import gymnasium, numpy as np
from stable_baselines_io.ppo import PPO

out = Path(sys.argv[2])
model = PPO.load(sys.argv[1], env=gymnasium.make("CartPole-v1"), force_reset=False)
variables = model.get_state_variables()
for index, variable in enumerate(variables.values()):
    np.save(out / f"state_{index}.npy", variable.numpy())
np.save(out / "last_obs.npy", model._last_obs)
np.save(out / "episode_starts.npy", model._episode_starts)
stats = model._env_episode_stats
(out / "state.json").write_text(json.dumps({
    "names": list(variables),
    "num_timesteps": model.num_timesteps,
    "n_updates": model._n_updates,
    "total_timesteps": model._total_timesteps,
    "shuffle_rng": model.shuffle_rng.bit_generator.state,
    "spaces": model._space_random_states,
    "ep_info": list(model.ep_info_buf),
    "episode_returns": stats["returns"].tolist(),
    "episode_lengths": stats["lengths"].tolist(),
}))
"""


def test_a_new_process_restores_the_saved_training_state(
    trained_file: tuple[PPO, Path], tmp_path: Path, run_python: Callable[..., Any]
) -> None:
    model, path = trained_file
    run_python(LOAD_AND_DUMP, str(path), str(tmp_path))
    loaded = json.loads((tmp_path / "state.json").read_text())

    expected = state_arrays(model)
    assert loaded["names"] == list(expected)
    assert_arrays_equal({name: np.load(tmp_path / f"state_{index}.npy") for index, name in enumerate(loaded["names"])},
                        expected)
    assert expected["Adam/iterations:0"] == (N // N_BATCH) * 2 * 2  # updates * epochs * minibatches
    assert loaded["num_timesteps"] == N and loaded["n_updates"] == N // N_BATCH and loaded["total_timesteps"] == N
    assert loaded["shuffle_rng"] == model.shuffle_rng.bit_generator.state
    assert loaded["spaces"] == model._space_random_states  # noqa: SLF001
    assert loaded["ep_info"] == list(model.ep_info_buf)
    env = model.get_env()
    assert loaded["episode_returns"] == env._episode_returns.tolist()  # noqa: SLF001
    assert loaded["episode_lengths"] == env._episode_lengths.tolist()  # noqa: SLF001
    for name in ("last_obs", "episode_starts"):
        saved = getattr(model, f"_{name}")
        restored = np.load(tmp_path / f"{name}.npy")
        assert restored.dtype == saved.dtype
        np.testing.assert_array_equal(restored, saved)


# --- force_reset and files without a training state -------------------------------------------


def test_force_reset_resets_the_environment_at_the_next_learn(
    trained_file: tuple[PPO, Path], count_resets: Callable[[Any], list[int]]
) -> None:
    model, path = trained_file
    loaded = PPO.load(path, env=gymnasium.make("CartPole-v1"))
    assert loaded._last_obs is None and loaded._episode_starts is None  # noqa: SLF001
    # The rest of the training state is restored all the same.
    assert_arrays_equal(state_arrays(loaded), state_arrays(model))
    resets = count_resets(loaded)
    loaded.learn(N_BATCH, reset_num_timesteps=False)
    assert resets == [1]
    assert loaded.num_timesteps == N + N_BATCH


def without_training_state(source: Path, target: Path, format_version: int | None) -> None:
    """Copy an agent file without its training state members, optionally relabelled as ``format_version``."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for info in original.infolist():
            if info.filename in (TRAINING_STATE_MEMBER, TRAINING_ARRAYS_MEMBER):
                continue
            content = original.read(info)
            if info.filename == METADATA_MEMBER and format_version is not None:
                content = json.dumps({**json.loads(content), "format_version": format_version}).encode()
            copy.writestr(info, content)


@pytest.mark.parametrize("format_version", [1, None], ids=["version-1", "members-deleted"])
def test_a_file_without_training_state_loads_with_fresh_state(
    trained_file: tuple[PPO, Path], tmp_path: Path, format_version: int | None
) -> None:
    model, path = trained_file
    without_training_state(path, tmp_path / "agent.zip", format_version)
    loaded = PPO.load(tmp_path / "agent.zip", env=gymnasium.make("CartPole-v1"), force_reset=False)

    assert_arrays_equal(loaded.get_parameters(), model.get_parameters())
    assert_arrays_equal(state_arrays(loaded), state_arrays(new_ppo(gymnasium.make("CartPole-v1"))))
    assert loaded.optimizer.iterations.numpy() == 0
    assert loaded.num_timesteps == 0 and loaded._n_updates == 0 and loaded._last_obs is None  # noqa: SLF001
    assert len(loaded.ep_info_buf) == 0
    loaded.learn(N_BATCH, reset_num_timesteps=False)
    assert loaded.num_timesteps == N_BATCH


# --- parameters stay network weights only -------------------------------------------------------


def test_parameters_are_only_the_network_weights(trained_file: tuple[PPO, Path]) -> None:
    model, path = trained_file
    parameters = model.get_parameters()
    assert list(parameters) == [variable.name for variable in model.get_parameter_list()]
    assert all(name.startswith("model/") and "/Adam" not in name for name in parameters)
    assert not set(parameters) & set(model.get_state_variables())

    fresh = new_ppo(gymnasium.make("CartPole-v1"))
    fresh_state = state_arrays(fresh)
    fresh.load_parameters(path)
    assert_arrays_equal(fresh.get_parameters(), parameters)
    assert_arrays_equal(state_arrays(fresh), fresh_state)  # the optimizer state is not a parameter

    with pytest.raises(ParameterMismatchError, match=r"unknown parameter names \['Adam/iterations:0'\]"):
        fresh.load_parameters({**parameters, "Adam/iterations:0": np.int64(3)})



class StateInObservationEnv(gymnasium.Env):
    """A deterministic env whose whole state is its observation (position, time), so a process that
    was killed can rebuild the env in the state its last checkpoint observed."""

    observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)
    EPISODE_STEPS = 20

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.state = np.zeros(2, dtype=np.float32)
        return self.state.copy(), {}

    def restore(self, observation: np.ndarray) -> None:
        self.state = np.array(observation, dtype=np.float32)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        position = self.state[0] + np.float32(0.1) * (np.float32(action) - np.float32(0.5))
        self.state = np.array([position, self.state[1] + np.float32(1.0 / self.EPISODE_STEPS)], dtype=np.float32)
        terminated = bool(self.state[1] >= np.float32(1.0) - np.float32(1e-6))
        return self.state.copy(), float(-abs(position)), terminated, False, {}


KILLED_RUN = """
import os, signal, sys, json
import tensorflow as tf
tf.config.experimental.enable_op_determinism()
sys.path.insert(0, sys.argv[3])
from test_exact_resume_ppo import N, N_BATCH, StateInObservationEnv, killed_run_model
from stable_baselines_io.common.callbacks import CheckpointCallback
checkpoints = CheckpointCallback(N_BATCH, sys.argv[1], storage_options=json.loads(sys.argv[2]))
def die(local_vars, _):
    if local_vars["self"].num_timesteps >= N:
        os.kill(os.getpid(), signal.SIGKILL)
killed_run_model().learn(10 * N, callback=[checkpoints, die])
"""


def killed_run_model() -> PPO:
    return new_ppo(StateInObservationEnv(), learning_rate=LinearSchedule(1e-3), cliprange=LinearSchedule(0.2))


def test_a_run_killed_and_resumed_from_its_latest_s3_checkpoint_ends_bit_identical() -> None:
    import subprocess
    import sys

    from s3_server import BUCKET, running_s3_server

    uninterrupted = killed_run_model()
    uninterrupted.learn(10 * N, callback=lambda local_vars, _: local_vars["self"].num_timesteps < N + M)
    tests = Path(__file__).resolve().parent
    with running_s3_server() as server:
        prefix = f"s3://{BUCKET}/killed-run"
        options = server.storage_options()
        child_options = {key: value for key, value in options.items() if key != "skip_instance_cache"}
        killed = subprocess.run([sys.executable, "-c", KILLED_RUN, prefix, json.dumps(child_options), str(tests)],
                                env={**os.environ, "PYTHONPATH": str(tests.parent)}, capture_output=True, text=True)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        checkpoints = CheckpointCallback(N_BATCH, prefix, storage_options=options)
        assert checkpoints.checkpoints()[-1] == f"{prefix}/rl_model_{N}_steps.zip"

        env = StateInObservationEnv()
        env.reset()
        stored = PPO.load(checkpoints.checkpoints()[-1], force_reset=False, storage_options=options)
        env.restore(stored._last_obs[0])  # noqa: SLF001 (the env as the killed process left it)
        resumed = PPO.load(checkpoints.checkpoints()[-1], env=env, force_reset=False, storage_options=options)
        resumed.learn(M, reset_num_timesteps=False, callback=lambda local_vars, _: True)

    assert_arrays_equal(resumed.get_parameters(), uninterrupted.get_parameters())
    assert_arrays_equal(state_arrays(resumed), state_arrays(uninterrupted))
    assert resumed.shuffle_rng.bit_generator.state == uninterrupted.shuffle_rng.bit_generator.state
    assert resumed.num_timesteps == uninterrupted.num_timesteps == N + M
    np.testing.assert_array_equal(resumed._last_obs, uninterrupted._last_obs)  # noqa: SLF001


def test_a_run_resumed_from_its_latest_s3_checkpoint_ends_bit_identical() -> None:
    from s3_server import BUCKET, running_s3_server

    horizon = N + M + 2 * N_BATCH
    schedules = dict(learning_rate=LinearSchedule(1e-3), cliprange=LinearSchedule(0.2))
    uninterrupted = new_ppo(gymnasium.make("CartPole-v1"), **schedules)
    uninterrupted.learn(horizon, callback=lambda local_vars, _: local_vars["self"].num_timesteps < N + M)

    with running_s3_server() as server:
        env = gymnasium.make("CartPole-v1")
        checkpoints = CheckpointCallback(N_BATCH, f"s3://{BUCKET}/run", keep_last=2,
                                         storage_options=server.storage_options())
        # The process "dies" right after the checkpoint at step N; only what is on S3 is kept.
        new_ppo(env, **schedules).learn(
            horizon, callback=[checkpoints, lambda local_vars, _: local_vars["self"].num_timesteps < N])
        assert checkpoints.checkpoints() == [f"s3://{BUCKET}/run/rl_model_{steps}_steps.zip"
                                             for steps in (N - N_BATCH, N)]
        resumed = PPO.load(checkpoints.checkpoints()[-1], env=env, force_reset=False,
                           storage_options=server.storage_options())
        resumed.learn(M, reset_num_timesteps=False, callback=checkpoints)
        assert checkpoints.checkpoints()[-1] == f"s3://{BUCKET}/run/rl_model_{N + M}_steps.zip"

    assert_same_training(resumed, uninterrupted, horizon)
