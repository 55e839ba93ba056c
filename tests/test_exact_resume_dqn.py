"""Exact resume for DQN: a saved file (with its replay buffer) holds the complete training state.

A run stopped by its callback at step ``N``, saved, loaded with ``force_reset=False`` into the
same environment with its replay buffer, and trained ``M`` more steps must give the very same
weights as ``N + M`` steps without a break. TensorFlow's op determinism is on for this module only.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from stable_baselines_io.common.buffers import PrioritizedReplayBuffer, ReplayBuffer
from stable_baselines_io.common.callbacks import CheckpointCallback
from stable_baselines_io.common.tf_util import PREDICT_EAGER_CALLS
from stable_baselines_io.dqn import DQN
from stable_baselines_io.exceptions import CorruptAgentFileError, ReplayBufferMismatchError
from stable_baselines_io.format.archive import (
    PARAMETERS_MEMBER,
    REPLAY_BUFFER_MEMBER,
    TRAINING_ARRAYS_MEMBER,
    TRAINING_STATE_MEMBER,
)
from stable_baselines_io.ppo import PPO
from stable_baselines_io.schedules import LinearSchedule

# The buffer (100) wraps around before N; epsilon decays over 0.8 * (N + M) = 200 steps, so N is
# in the middle of the exploration schedule (asserted below), and so is the learning rate.
HYPERPARAMETERS = dict(learning_starts=20, buffer_size=100, batch_size=16, train_freq=2, target_network_update_freq=25,
                       exploration_fraction=0.8, learning_rate=LinearSchedule(1e-3),
                       policy_kwargs=dict(layers=[16]), seed=0)
# With a horizon-independent schedule: epsilon reaches its final value after the first step
# (0.002 * (N + M) < 1) and the learning rate is constant.
CONSTANT_SCHEDULES = dict(exploration_fraction=0.002, learning_rate=1e-3)
N = 150
M = 100


@pytest.fixture(scope="module", autouse=True)
def op_determinism() -> Any:
    """Deterministic TensorFlow ops for this module, then the process-wide setting as it was."""
    was_enabled = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    yield
    if not was_enabled:
        tf_config.disable_op_determinism()


def new_dqn(env: gymnasium.Env | str = "CartPole-v1", **overrides: Any) -> DQN:
    return DQN("MlpPolicy", env, **{**HYPERPARAMETERS, **overrides})


def stop_at(steps: int) -> Callable[[dict[str, Any], dict[str, Any]], bool]:
    return lambda local_vars, _: local_vars["self"].num_timesteps < steps


def state_arrays(model: DQN) -> dict[str, np.ndarray]:
    return {name: variable.numpy() for name, variable in model.get_state_variables().items()}


def assert_arrays_equal(actual: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert list(actual) == list(expected)
    different = [name for name in expected if not np.array_equal(actual[name], expected[name])]
    assert not different, f"different arrays: {different}"


def assert_same_buffers(actual: ReplayBuffer, expected: ReplayBuffer) -> None:
    assert type(actual) is type(expected)
    assert actual.metadata() == expected.metadata()
    assert_arrays_equal(actual.to_arrays(), expected.to_arrays())


def assert_same_training(resumed: DQN, uninterrupted: DQN) -> None:
    assert_arrays_equal(resumed.get_parameters(), uninterrupted.get_parameters())
    assert_arrays_equal(state_arrays(resumed), state_arrays(uninterrupted))
    assert resumed.rng.bit_generator.state == uninterrupted.rng.bit_generator.state
    assert resumed.num_timesteps == uninterrupted.num_timesteps == N + M
    assert resumed._total_timesteps == uninterrupted._total_timesteps == N + M  # noqa: SLF001
    assert resumed.num_episodes == uninterrupted.num_episodes
    assert list(resumed.episode_returns) == list(uninterrupted.episode_returns)
    np.testing.assert_array_equal(resumed._last_obs, uninterrupted._last_obs)  # noqa: SLF001
    assert_same_buffers(resumed.replay_buffer, uninterrupted.replay_buffer)


def assert_mid_episode_and_mid_exploration(model: DQN) -> None:
    assert model.num_timesteps == N
    assert model.get_env()._episode_lengths[0] > 0  # noqa: SLF001
    assert model.exploration_final_eps < model.epsilon.numpy() < model.exploration_initial_eps
    assert model.replay_buffer.size == model.buffer_size and model.replay_buffer.pos != 0  # wrapped around
    assert 0 < model.optimizer.iterations.numpy()


# --- bit-exact continuation -------------------------------------------------------------------


@pytest.fixture(scope="module")
def uninterrupted() -> DQN:
    return new_dqn().learn(N + M)


@pytest.mark.parametrize("replay_buffer_in", ["own-file", "agent-file"])
def test_a_stopped_run_resumes_bit_exactly(
    uninterrupted: DQN, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replay_buffer_in: str
) -> None:
    env = gymnasium.make("CartPole-v1")
    interrupted = new_dqn(env).learn(N + M, callback=stop_at(N))
    assert_mid_episode_and_mid_exploration(interrupted)
    if replay_buffer_in == "own-file":
        interrupted.save(tmp_path / "agent.zip")
        interrupted.save_replay_buffer(tmp_path / "replay_buffer.zip")
        resumed = DQN.load(tmp_path / "agent.zip", env=env, force_reset=False)
        assert resumed.replay_buffer is None
        resumed.load_replay_buffer(tmp_path / "replay_buffer.zip")
    else:
        interrupted.save(tmp_path / "agent.zip", include_replay_buffer=True)
        resumed = DQN.load(tmp_path / "agent.zip", env=env, force_reset=False)
    assert_same_buffers(resumed.replay_buffer, interrupted.replay_buffer)
    resets: list[int] = []
    vec_env = resumed.get_env()
    original_reset = vec_env.reset
    monkeypatch.setattr(vec_env, "reset", lambda: resets.append(1) or original_reset())

    resumed.learn(M, reset_num_timesteps=False)

    assert resets == []
    assert_same_training(resumed, uninterrupted)


def test_load_save_load_learn_resumes_bit_exactly(uninterrupted: DQN, tmp_path: Path) -> None:
    env = gymnasium.make("CartPole-v1")
    new_dqn(env).learn(N + M, callback=stop_at(N)).save(tmp_path / "agent.zip", include_replay_buffer=True)

    loaded = DQN.load(tmp_path / "agent.zip", env=env, force_reset=False)
    assert loaded._optimizer is None  # noqa: SLF001 (acting needs only the weights)
    loaded.save(tmp_path / "again.zip", include_replay_buffer=True)
    assert loaded._optimizer is None  # noqa: SLF001
    resumed = DQN.load(tmp_path / "again.zip", env=env, force_reset=False)
    resumed.learn(M, reset_num_timesteps=False)

    assert_same_training(resumed, uninterrupted)


def test_load_predict_learn_resumes_bit_exactly(uninterrupted: DQN, tmp_path: Path) -> None:
    env = gymnasium.make("CartPole-v1")
    interrupted = new_dqn(env).learn(N + M, callback=stop_at(N))
    interrupted.save(tmp_path / "agent.zip", include_replay_buffer=True)

    resumed = DQN.load(tmp_path / "agent.zip", env=env, force_reset=False)
    observations = np.random.default_rng(0).normal(size=(PREDICT_EAGER_CALLS + 2, 4)).astype(np.float32)
    actions = [resumed.predict(observation, deterministic=True)[0] for observation in observations]
    for observation in observations:  # past the eager calls: traced, as training acts
        interrupted.predict(observation, deterministic=True)
    expected = [interrupted.predict(observation, deterministic=True)[0] for observation in observations]
    np.testing.assert_array_equal(actions, expected)
    resumed.learn(M, reset_num_timesteps=False)

    assert_same_training(resumed, uninterrupted)


def test_a_run_resumed_from_its_latest_checkpoint_ends_bit_identical(uninterrupted: DQN, tmp_path: Path) -> None:
    env = gymnasium.make("CartPole-v1")
    checkpoints = CheckpointCallback(N // 3, tmp_path, save_replay_buffer=True, keep_last=1)
    # The process "dies" right after the checkpoint at step N, in the middle of learn(N + M).
    new_dqn(env).learn(N + M, callback=[checkpoints, stop_at(N)])
    [latest] = checkpoints.checkpoints()
    assert latest.name == f"rl_model_{N}_steps.zip"

    resumed = DQN.load(latest, env=env, force_reset=False)
    assert resumed._total_timesteps == N + M  # noqa: SLF001 - the horizon of the interrupted learn call
    resumed.learn(M, reset_num_timesteps=False, callback=CheckpointCallback(N // 3, tmp_path, keep_last=1))

    assert_same_training(resumed, uninterrupted)


def test_with_horizon_independent_schedules_learn_n_then_m_equals_learn_n_plus_m(tmp_path: Path) -> None:
    uninterrupted = new_dqn(**CONSTANT_SCHEDULES).learn(N + M)

    env = gymnasium.make("CartPole-v1")
    first_part = new_dqn(env, **CONSTANT_SCHEDULES).learn(N)
    assert first_part.epsilon.numpy() == np.float32(first_part.exploration_final_eps)  # exploration is over
    assert first_part.get_env()._episode_lengths[0] > 0  # noqa: SLF001
    first_part.save(tmp_path / "agent", include_replay_buffer=True)
    resumed = DQN.load(tmp_path / "agent", env=env, force_reset=False)
    resumed.learn(M, reset_num_timesteps=False)

    assert_same_training(resumed, uninterrupted)


def test_reset_num_timesteps_restarts_the_schedules() -> None:
    model = new_dqn().learn(N, callback=stop_at(20))
    assert model._total_timesteps == N  # noqa: SLF001
    model.learn(30)
    assert model.num_timesteps == 30 and model._total_timesteps == 30  # noqa: SLF001
    assert model.epsilon.numpy() == np.float32(LinearSchedule(1.0, 0.02, 0.8)(1 - 29 / 30))
    model.learn(30, reset_num_timesteps=False)
    assert model.num_timesteps == 60 and model._total_timesteps == 60  # noqa: SLF001


# --- what the file holds ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[DQN, Path]:
    """A model stopped mid-episode and mid-exploration, saved with its replay buffer."""
    model = new_dqn().learn(N + M, callback=stop_at(N))
    assert_mid_episode_and_mid_exploration(model)
    path = tmp_path_factory.mktemp("trained") / "agent.zip"
    model.save(path, include_replay_buffer=True)
    return model, path


def test_state_variables_are_the_optimizer_state_under_stable_names(trained_file: tuple[DQN, Path]) -> None:
    model, _ = trained_file
    trained = [variable.name[:-len(":0")] for variable in model.q_net.get_parameter_list()]
    names = ["Adam/iterations:0", "Adam/learning_rate:0", *[f"{name}/Adam:0" for name in trained],
             *[f"{name}/Adam_1:0" for name in trained]]
    assert list(model.get_state_variables()) == names
    assert not set(names) & set(model.get_parameters())
    assert {"deepq/eps:0", *[variable.name for variable in model.q_net_target.get_parameter_list()]} <= set(
        model.get_parameters())


def test_training_state_member_is_plain_json_of_the_declared_attributes(trained_file: tuple[DQN, Path]) -> None:
    model, path = trained_file
    with zipfile.ZipFile(path) as archive:
        text = archive.read(TRAINING_STATE_MEMBER).decode()
        members = archive.namelist()
    assert ":serialized:" not in text  # nothing pickled
    state = json.loads(text)
    assert list(state) == list(DQN._state_attrs)  # noqa: SLF001
    assert state["_replay_buffer_metadata"] == model.replay_buffer.metadata()
    assert state["num_episodes"] == model.num_episodes > 0
    assert TRAINING_ARRAYS_MEMBER in members and REPLAY_BUFFER_MEMBER in members


LOAD_AND_DUMP = """
import json, sys
from pathlib import Path
import gymnasium, numpy as np
from stable_baselines_io.dqn import DQN

out = Path(sys.argv[2])
model = DQN.load(sys.argv[1], env=gymnasium.make("CartPole-v1"), force_reset=False)
arrays = {f"state/{name}": variable.numpy() for name, variable in model.get_state_variables().items()}
arrays.update({f"buffer/{name}": array for name, array in model.replay_buffer.to_arrays().items()})
arrays["last_obs"] = model._last_obs
np.savez(out / "arrays.npz", **arrays)
stats = model._env_episode_stats
(out / "state.json").write_text(json.dumps({
    "num_timesteps": model.num_timesteps,
    "total_timesteps": model._total_timesteps,
    "num_episodes": model.num_episodes,
    "episode_returns": list(model.episode_returns),
    "rng": model.rng.bit_generator.state,
    "spaces": model._space_random_states,
    "eps": float(model.epsilon.numpy()),
    "buffer": model.replay_buffer.metadata(),
    "env_returns": stats["returns"].tolist(),
    "env_lengths": stats["lengths"].tolist(),
}))
"""


def test_a_new_process_restores_the_saved_training_state(
    trained_file: tuple[DQN, Path], tmp_path: Path, run_python: Callable[..., Any]
) -> None:
    model, path = trained_file
    run_python(LOAD_AND_DUMP, str(path), str(tmp_path))
    loaded = json.loads((tmp_path / "state.json").read_text())
    with np.load(tmp_path / "arrays.npz") as stored:
        arrays = dict(stored)

    expected = {f"state/{name}": array for name, array in state_arrays(model).items()}
    expected.update({f"buffer/{name}": array for name, array in model.replay_buffer.to_arrays().items()})
    expected["last_obs"] = model._last_obs  # noqa: SLF001
    assert_arrays_equal(arrays, expected)
    assert arrays["last_obs"].dtype == np.float32
    assert arrays["state/Adam/iterations:0"] == model.optimizer.iterations.numpy() > 0
    assert loaded["num_timesteps"] == N and loaded["total_timesteps"] == N + M
    assert loaded["num_episodes"] == model.num_episodes
    assert loaded["episode_returns"] == list(model.episode_returns)
    assert loaded["rng"] == model.rng.bit_generator.state
    assert loaded["spaces"] == model._space_random_states  # noqa: SLF001
    assert loaded["eps"] == float(model.epsilon.numpy())
    assert loaded["buffer"] == model.replay_buffer.metadata()
    env = model.get_env()
    assert loaded["env_returns"] == env._episode_returns.tolist()  # noqa: SLF001
    assert loaded["env_lengths"] == env._episode_lengths.tolist()  # noqa: SLF001


def test_force_reset_resets_the_environment_and_keeps_the_rest(
    trained_file: tuple[DQN, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, path = trained_file
    loaded = DQN.load(path, env=gymnasium.make("CartPole-v1"))
    assert loaded._last_obs is None  # noqa: SLF001
    assert_arrays_equal(state_arrays(loaded), state_arrays(model))
    assert loaded.rng.bit_generator.state == model.rng.bit_generator.state
    assert_same_buffers(loaded.replay_buffer, model.replay_buffer)
    resets: list[int] = []
    vec_env = loaded.get_env()
    original_reset = vec_env.reset
    monkeypatch.setattr(vec_env, "reset", lambda: resets.append(1) or original_reset())
    loaded.learn(10, reset_num_timesteps=False)
    assert resets == [1]
    assert loaded.num_timesteps == N + 10


def test_an_agent_file_without_replay_buffer_loads_without_one(trained_file: tuple[DQN, Path], tmp_path: Path) -> None:
    model, _ = trained_file
    model.save(tmp_path / "agent.zip")
    with zipfile.ZipFile(tmp_path / "agent.zip") as archive:
        assert REPLAY_BUFFER_MEMBER not in archive.namelist()
    loaded = DQN.load(tmp_path / "agent.zip")
    assert loaded.replay_buffer is None
    with pytest.raises(ValueError, match="no replay buffer yet"):
        loaded.save(tmp_path / "again.zip", include_replay_buffer=True)


def test_include_replay_buffer_is_refused_by_on_policy_models(tmp_path: Path) -> None:
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=16, nminibatches=1, seed=0)
    with pytest.raises(ValueError, match="PPO has no replay buffer"):
        model.save(tmp_path / "ppo.zip", include_replay_buffer=True)
    assert not (tmp_path / "ppo.zip").exists()


# --- the replay buffer file ---------------------------------------------------------------------


@pytest.fixture(scope="module", params=[False, True], ids=["uniform", "prioritized"])
def buffer_model(request: pytest.FixtureRequest) -> DQN:
    return new_dqn(prioritized_replay=request.param, learning_starts=200).learn(130)


def test_replay_buffer_file_round_trip(buffer_model: DQN, tmp_path: Path) -> None:
    buffer_model.save_replay_buffer(tmp_path / "buffer")  # ".zip" is appended
    fresh = new_dqn(prioritized_replay=buffer_model.prioritized_replay)
    fresh.load_replay_buffer(tmp_path / "buffer")
    assert_same_buffers(fresh.replay_buffer, buffer_model.replay_buffer)
    assert fresh.replay_buffer.pos == buffer_model.replay_buffer.pos == 30
    for name in ("observations", "actions", "rewards", "next_observations", "dones"):
        np.testing.assert_array_equal(getattr(fresh.replay_buffer, name), getattr(buffer_model.replay_buffer, name))
    rng_state = np.random.default_rng(5).bit_generator.state
    samples = []
    for buffer in (fresh.replay_buffer, buffer_model.replay_buffer):
        rng = np.random.default_rng()
        rng.bit_generator.state = rng_state
        samples.append(buffer.sample(20, rng).indices)
    np.testing.assert_array_equal(*samples)
    if buffer_model.prioritized_replay:
        np.testing.assert_array_equal(fresh.replay_buffer.priorities, buffer_model.replay_buffer.priorities)
        assert fresh.replay_buffer.max_priority == buffer_model.replay_buffer.max_priority


def test_replay_buffer_file_object_round_trip(buffer_model: DQN) -> None:
    stream = io.BytesIO()
    buffer_model.save_replay_buffer(stream)
    stream.seek(0)
    fresh = new_dqn(prioritized_replay=buffer_model.prioritized_replay)
    fresh.load_replay_buffer(stream)
    assert_same_buffers(fresh.replay_buffer, buffer_model.replay_buffer)


def test_replay_buffer_that_does_not_fit_is_refused_naming_every_mismatch(tmp_path: Path) -> None:
    model = new_dqn(learning_starts=200).learn(30)
    path = tmp_path / "buffer.zip"
    model.save_replay_buffer(path)

    smaller = new_dqn(buffer_size=50)
    with pytest.raises(ReplayBufferMismatchError, match=r"buffer_size: expected 50, received 100"):
        smaller.load_replay_buffer(path)
    assert smaller.replay_buffer is None

    other_space = new_dqn("Acrobot-v1")
    with pytest.raises(ReplayBufferMismatchError,
                       match=r"observation_shape: expected \[6\], received \[4\]; 'observations': expected shape "
                             r"\(30, 6\), received \(30, 4\); 'next_observations'"):
        other_space.load_replay_buffer(path)

    with pytest.raises(ReplayBufferMismatchError, match=r"class: expected 'PrioritizedReplayBuffer', received "
                                                        r"'ReplayBuffer'.*missing arrays \['priorities'\]"):
        new_dqn(prioritized_replay=True).load_replay_buffer(path)
    with pytest.raises(ValueError, match="buffer.zip"):  # a ValueError, naming the file
        smaller.load_replay_buffer(path)


def test_replay_buffer_file_with_a_pickled_array_is_refused(tmp_path: Path) -> None:
    model = new_dqn(learning_starts=200).learn(30)
    model.save_replay_buffer(tmp_path / "buffer.zip")
    crafted = io.BytesIO()
    arrays = dict(model.replay_buffer.to_arrays())
    arrays["observations"] = np.array([object()] * 30, dtype=object)
    np.savez(crafted, **arrays)
    with zipfile.ZipFile(tmp_path / "buffer.zip") as original, zipfile.ZipFile(tmp_path / "crafted.zip", "w") as copy:
        for info in original.infolist():
            copy.writestr(info, crafted.getvalue() if info.filename == PARAMETERS_MEMBER else original.read(info))

    with pytest.raises(CorruptAgentFileError, match="pickled Python objects"):
        new_dqn().load_replay_buffer(tmp_path / "crafted.zip")


def test_an_agent_file_is_not_a_replay_buffer_file(trained_file: tuple[DQN, Path]) -> None:
    _, path = trained_file
    with pytest.raises(CorruptAgentFileError, match="not a replay buffer file"):
        new_dqn().load_replay_buffer(path)


def test_save_replay_buffer_before_learning_saves_an_empty_buffer(tmp_path: Path) -> None:
    model = new_dqn()
    model.save_replay_buffer(tmp_path / "buffer.zip")
    assert model.replay_buffer is not None and model.replay_buffer.size == 0
    other = new_dqn()
    other.load_replay_buffer(tmp_path / "buffer.zip")
    assert other.replay_buffer is not None and other.replay_buffer.size == 0
    assert other.replay_buffer.metadata() == model.replay_buffer.metadata()


def test_save_replay_buffer_of_a_trained_model_loaded_without_one_is_a_clear_error(
        trained_file: tuple[DQN, Path], tmp_path: Path) -> None:
    model, _ = trained_file
    model.save(tmp_path / "agent.zip")
    with pytest.raises(ValueError, match="no replay buffer yet"):
        DQN.load(tmp_path / "agent.zip").save_replay_buffer(tmp_path / "buffer.zip")


def test_buffer_from_arrays_checks_dtypes_and_pos() -> None:
    buffer = PrioritizedReplayBuffer(4, observation_shape=(2,))
    buffer.extend(np.ones((3, 2)), np.zeros(3), np.ones(3), np.ones((3, 2)), np.zeros(3))
    metadata, arrays = buffer.metadata(), dict(buffer.to_arrays())
    arrays["rewards"] = arrays["rewards"].astype(np.float64)
    with pytest.raises(ReplayBufferMismatchError,
                       match=r"pos must equal size.*'rewards': expected dtype float32, received float64"):
        PrioritizedReplayBuffer(4, observation_shape=(2,)).from_arrays({**metadata, "pos": 0}, arrays)
    with pytest.raises(ReplayBufferMismatchError, match=r"alpha: expected 0.5, received 0.6"):
        PrioritizedReplayBuffer(4, observation_shape=(2,), alpha=0.5).from_arrays(metadata, buffer.to_arrays())
