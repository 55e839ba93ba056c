"""VecNormalize: Stable Baselines 2's formulas, its statistics files (read safely), and the
statistics inside the agent file (load + predict, exact resume, checkpoints, convert, inspect)."""

from __future__ import annotations

import io
import json
import pickle
import sys
import types
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
import tensorflow as tf
from limits import LimitedWorker
from tensorflow.python.framework import config as tf_config

from stable_baselines_io import A2C, PPO
from stable_baselines_io.cli import main as cli_main
from stable_baselines_io.common.callbacks import CheckpointCallback, EvalCallback
from stable_baselines_io.common.evaluation import evaluate_policy
from stable_baselines_io.common.running_mean_std import RunningMeanStd
from stable_baselines_io.common.vec_env import VecEnv
from stable_baselines_io.common.vec_normalize import VecNormalize
from stable_baselines_io.conversion import convert_file
from stable_baselines_io.exceptions import NormalizationStatisticsError, RefusedObjectError, SpaceMismatchError
from stable_baselines_io.format.normalization import (
    VEC_NORMALIZE_MEMBER,
    StoredStatistics,
    arrays_to_statistics,
    load_statistics,
    read_running_mean_std,
    read_sb2_statistics,
    statistics_to_arrays,
)

ZOO_PPO2 = "zoo/ppo2/MountainCar-v0.pkl"
ZOO_PPO2_STATISTICS = "zoo/ppo2/MountainCar-v0"
#: references.json / SOURCES.md: 20 episodes, reset with seeds 0..19, deterministic actions.
ZOO_PPO2_REFERENCE_REWARD = -142.15
#: The zoo's VecNormalize agents: the class that loads each, its folder of statistics, its reference reward.
ZOO_NORMALIZED_AGENTS = [
    pytest.param(PPO, "zoo/ppo2/MountainCar-v0", ZOO_PPO2_REFERENCE_REWARD, id="ppo2"),
    pytest.param(A2C, "zoo/acer/MountainCar-v0", -126.55, id="acer"),
]
HYPERPARAMETERS = dict(n_steps=32, nminibatches=2, noptepochs=2, policy_kwargs=dict(net_arch=[16]), seed=0)


def mean_reward(model: Any, env_id: str = "MountainCar-v0") -> float:
    returns, _ = evaluate_policy(model, env_id, n_eval_episodes=20, deterministic=True, return_episode_rewards=True,
                                 seed=0)
    return float(np.mean(returns))


def load_quietly(path: Path, algorithm: Any = PPO, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy format's warning
        return algorithm.load(path, **kwargs)


def cartpoles(n_envs: int = 2, seed: int = 0) -> VecEnv:
    venv = VecEnv([gymnasium.make("CartPole-v1") for _ in range(n_envs)])
    venv.seed(seed)
    return venv


# --- Stable Baselines 2's formulas, against a NumPy re-implementation ------------------------------


class ReferenceNormalizer:
    """Stable Baselines 2.10's VecNormalize written out step by step, with plain sums for the statistics."""

    def __init__(self, shape: tuple[int, ...], n_envs: int, gamma: float = 0.99) -> None:
        self.observations: list[np.ndarray] = []
        self.returns_seen: list[np.ndarray] = []
        self.ret = np.zeros(n_envs)
        self.gamma = gamma
        self.shape = shape

    @staticmethod
    def moments(batches: list[np.ndarray], shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, float]:
        """The running statistics as Chan's merge of (mean 0, var 1, count 1e-4) with every batch."""
        mean, var, count = np.zeros(shape), np.ones(shape), 1e-4
        for batch in batches:
            batch_mean, batch_var, n = batch.mean(axis=0), batch.var(axis=0), batch.shape[0]
            delta = batch_mean - mean
            total = count + n
            var = (var * count + batch_var * n + delta**2 * count * n / total) / total
            mean = mean + delta * n / total
            count = total
        return mean, var, count

    def reset(self, observations: np.ndarray) -> np.ndarray:
        self.ret = np.zeros(len(self.ret))
        self.returns_seen.append(self.ret.copy())
        return self.normalize(observations)

    def step(self, observations: np.ndarray, rewards: np.ndarray, dones: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.observations.append(observations)
        normalized = self.normalize(observations)
        self.ret = self.ret * self.gamma + rewards
        self.returns_seen.append(self.ret.copy())
        _, return_var, _ = self.moments(self.returns_seen, ())
        normalized_rewards = np.clip(rewards / np.sqrt(return_var + 1e-8), -10, 10)
        self.ret[dones] = 0
        return normalized, normalized_rewards

    def normalize(self, observations: np.ndarray) -> np.ndarray:
        mean, var, _ = self.moments(self.observations, self.shape)
        return np.clip((observations - mean) / np.sqrt(var + 1e-8), -10, 10)


def test_running_mean_std_merges_batches_as_the_whole_stream() -> None:
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=(size, 3)) for size in (1, 7, 64, 5)]
    rms = RunningMeanStd(shape=(3,))
    for batch in batches:
        rms.update(batch)
    expected_mean, expected_var, expected_count = ReferenceNormalizer.moments(batches, (3,))
    np.testing.assert_allclose(rms.mean, expected_mean, rtol=1e-12)
    np.testing.assert_allclose(rms.var, expected_var, rtol=1e-12)
    assert rms.count == pytest.approx(expected_count)
    whole = np.concatenate(batches)
    np.testing.assert_allclose(rms.mean, whole.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(rms.var, whole.var(axis=0), rtol=1e-4)


def test_steps_and_resets_follow_stable_baselines_2() -> None:
    env = VecNormalize(cartpoles())
    reference = ReferenceNormalizer((4,), 2)
    np.testing.assert_allclose(env.reset(), reference.reset(env.get_original_obs()), rtol=1e-12)
    rng = np.random.default_rng(1)
    for _ in range(120):
        observations, rewards, terminated, truncated, infos = env.step(rng.integers(0, 2, size=2))
        expected_obs, expected_rewards = reference.step(env.get_original_obs(), env.get_original_reward(),
                                                        terminated | truncated)
        np.testing.assert_allclose(observations, expected_obs, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(rewards, expected_rewards, rtol=1e-9)
        for info in infos:
            if "terminal_observation" in info:  # normalized like the observations (the loops bootstrap from it)
                assert np.all(np.abs(info["terminal_observation"]) <= 10)
    assert env.obs_rms.count == pytest.approx(1e-4 + 240)
    assert np.any(terminated | truncated) or env.num_envs == 2


def test_settings_training_flag_and_clipping() -> None:
    env = VecNormalize(cartpoles(), norm_reward=False, clip_obs=0.5)
    env.reset()
    observations, rewards, *_ = env.step(np.array([0, 1]))
    assert np.all(np.abs(observations) <= 0.5) and np.array_equal(rewards, env.get_original_reward())
    env.training = False
    frozen = (env.obs_rms.mean.copy(), env.ret_rms.var.copy(), env.obs_rms.count)
    for _ in range(5):
        env.step(np.array([1, 0]))
    env.reset()
    assert np.array_equal(env.obs_rms.mean, frozen[0]) and env.obs_rms.count == frozen[2]
    raw = VecNormalize(cartpoles(), norm_obs=False)
    assert np.array_equal(raw.reset(), raw.get_original_obs())


def test_wrapping_an_environment_of_another_shape_is_refused() -> None:
    stats = VecNormalize(None, observation_shape=(2,))
    with pytest.raises(SpaceMismatchError, match=r"shape \(4,\).*statistics shape \(2,\)"):
        stats.set_venv(cartpoles())
    with pytest.raises(ValueError, match="wraps no environment"):
        stats.reset()


# --- files: ours, Stable Baselines 2's ------------------------------------------------------------


def test_save_load_round_trip_is_pickle_free(tmp_path: Path) -> None:
    env = VecNormalize(cartpoles(), clip_reward=5.0, gamma=0.9)
    env.reset()
    for _ in range(10):
        env.step(np.array([0, 1]))
    env.save(tmp_path / "stats.npz")
    with zipfile.ZipFile(tmp_path / "stats.npz") as archive:
        assert all(name.endswith(".npy") for name in archive.namelist())
    loaded = VecNormalize.load(tmp_path / "stats.npz", cartpoles())
    for left, right in zip(statistics_to_arrays(loaded.get_statistics()).values(),
                           statistics_to_arrays(env.get_statistics()).values()):
        assert np.array_equal(left, right)
    assert (loaded.clip_reward, loaded.gamma, loaded.training) == (5.0, 0.9, True)
    with pytest.raises(NormalizationStatisticsError, match=r"do not match the observation space's shape \(2,\)"):
        VecNormalize.load(tmp_path / "stats.npz", VecEnv([gymnasium.make("MountainCar-v0")]))


def test_the_zoo_statistics_files_are_read_in_safe_mode(sb2_fixture_dir: Path) -> None:
    mean, var, count = read_running_mean_std(sb2_fixture_dir / ZOO_PPO2_STATISTICS / "obs_rms.pkl")
    assert mean.shape == var.shape == (2,) and mean.dtype == np.float64 and count > 1e6
    stats = read_sb2_statistics(sb2_fixture_dir / ZOO_PPO2_STATISTICS, observation_shape=(2,))
    assert np.array_equal(stats.obs_mean, mean) and stats.ret_mean.shape == ()
    with pytest.raises(NormalizationStatisticsError, match=r"shape \(2,\) do not match .* shape \(4,\)"):
        read_sb2_statistics(sb2_fixture_dir / ZOO_PPO2_STATISTICS, observation_shape=(4,))
    with pytest.raises(NormalizationStatisticsError, match="expected vecnormalize.pkl or obs_rms.pkl"):
        read_sb2_statistics(sb2_fixture_dir / "zoo" / "a2c")


@pytest.fixture
def sb2_classes(monkeypatch: pytest.MonkeyPatch) -> dict[str, type]:
    """Stand-ins for Stable Baselines 2's classes, under its module names, to write its pickles."""
    classes = {}
    for module_name, name in (("stable_baselines.common.running_mean_std", "RunningMeanStd"),
                              ("stable_baselines.common.vec_env.vec_normalize", "VecNormalize"),
                              ("evil", "Payload")):
        parts = module_name.split(".")
        for depth in range(1, len(parts) + 1):
            monkeypatch.setitem(sys.modules, ".".join(parts[:depth]), types.ModuleType(".".join(parts[:depth])))
        cls = type(name, (), {"__module__": module_name})
        setattr(sys.modules[module_name], name, cls)
        classes[name] = cls
    return classes


def sb2_running_mean_std(classes: dict[str, type], mean: Any, var: Any, count: Any) -> Any:
    rms = classes["RunningMeanStd"]()
    rms.__dict__.update(mean=mean, var=var, count=count)
    return rms


def sb2_vec_normalize(classes: dict[str, type], **changes: Any) -> Any:
    vec_normalize = classes["VecNormalize"]()
    vec_normalize.__dict__.update({
        "obs_rms": sb2_running_mean_std(classes, np.array([0.5, 0.0]), np.array([2.0, 0.25]), 1000.0),
        "ret_rms": sb2_running_mean_std(classes, np.array(1.0), np.array(4.0), 999.0),
        "clip_obs": 5.0, "clip_reward": 10.0, "gamma": 0.95, "epsilon": 1e-8, "training": False, "norm_obs": True,
        "norm_reward": False, "old_obs": np.zeros((1, 2)), "old_rews": np.zeros(1), "num_envs": 1, **changes})
    return vec_normalize


def test_a_pickled_stable_baselines_2_vec_normalize_is_read_field_by_field(
    sb2_classes: dict[str, type], tmp_path: Path,
) -> None:
    for protocol in (0, 2, 4):
        path = tmp_path / f"vecnormalize-{protocol}.pkl"
        path.write_bytes(pickle.dumps(sb2_vec_normalize(sb2_classes), protocol=protocol))
        wrapper = VecNormalize.load(path, VecEnv([gymnasium.make("MountainCar-v0")]))
        assert (wrapper.clip_obs, wrapper.gamma, wrapper.training, wrapper.norm_reward) == (5.0, 0.95, False, False)
        np.testing.assert_array_equal(wrapper.obs_rms.var, [2.0, 0.25])
        np.testing.assert_array_equal(wrapper.normalize_obs(np.array([0.5, 0.5])), [0.0, 0.5 / np.sqrt(0.25 + 1e-8)])
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "vecnormalize.pkl").write_bytes(pickle.dumps(sb2_vec_normalize(sb2_classes)))
    assert read_sb2_statistics(folder).gamma == 0.95


BAD_STATISTICS = {
    "nan-mean": ("rms", dict(mean=np.array([np.nan, 0.0])), r"obs_rms.mean: expected finite values"),
    "negative-variance": ("rms", dict(var=np.array([-1.0, 1.0])), r"expected variances >= 0, received \[-1.0\]"),
    "string-count": ("rms", dict(count="many"), r"count: expected a finite number > 0, received 'many'"),
    "int-array": ("rms", dict(mean=np.array([1, 2])), r"expected an array of floats, received array of dtype int"),
    "shape-disagreement": ("rms", dict(var=np.ones(3)), r"mean of shape \(2,\) but var of shape \(3,\)"),
    "string-gamma": ("vn", dict(gamma="0.99"), r"gamma: expected a float, received a str"),
    "negative-clip": ("vn", dict(clip_obs=-1.0), r"clip_obs: expected a finite number >= 0"),
    "not-statistics": ("vn", dict(obs_rms=[1, 2]), r"obs_rms: expected a pickled RunningMeanStd, received a list"),
    "foreign-class": ("evil", {}, r"expected a pickled stable_baselines.common.vec_env.vec_normalize.VecNormalize"),
}


def write_bad_statistics(classes: dict[str, type], folder: Path) -> dict[str, Path]:
    paths = {}
    for name, (kind, changes, _) in BAD_STATISTICS.items():
        if kind == "evil":
            value: Any = classes["Payload"]()
            value.__dict__.update(x=1)
        elif kind == "vn":
            value = sb2_vec_normalize(classes, **changes)
        else:
            fields = {"mean": np.zeros(2), "var": np.ones(2), "count": 10.0, **changes}
            value = sb2_vec_normalize(classes, obs_rms=sb2_running_mean_std(classes, **fields))
        paths[name] = folder / f"{name}.pkl"
        paths[name].write_bytes(pickle.dumps(value, protocol=2))
    paths["not-a-pickle"] = folder / "not-a-pickle.pkl"
    paths["not-a-pickle"].write_bytes(b"\x00garbage")
    return paths


def test_bad_statistics_files_raise_clear_errors(sb2_classes: dict[str, type], tmp_path: Path) -> None:
    paths = write_bad_statistics(sb2_classes, tmp_path)
    for name, (_, _, message) in BAD_STATISTICS.items():
        with pytest.raises(NormalizationStatisticsError, match=message) as raised:
            load_statistics(paths[name])
        assert raised.value.path == str(paths[name]), name
    with pytest.raises(NormalizationStatisticsError, match="not a readable statistics file"):
        load_statistics(paths["not-a-pickle"])


def test_a_refused_object_in_the_statistics_names_the_file_and_member(sb2_classes: dict[str, type],
                                                                      tmp_path: Path) -> None:
    path = tmp_path / "obs_rms.pkl"
    path.write_bytes(pickle.dumps(sb2_running_mean_std(sb2_classes, np.zeros(2), sb2_classes["Payload"], 10.0),
                                  protocol=2))
    with pytest.raises(RefusedObjectError, match="evil.Payload") as raised:
        load_statistics(path)
    assert (raised.value.path, raised.value.member, raised.value.reference) == (str(path), "obs_rms.pkl",
                                                                                "evil.Payload")


@pytest.fixture(scope="module")
def statistics_worker(sb2_fixture_dir: Path) -> Iterator[LimitedWorker]:
    # the first load imports the readers: done before the limits apply
    worker = LimitedWorker(["load_statistics"],
                           warmup=[("load_statistics", str(sb2_fixture_dir / ZOO_PPO2_STATISTICS / "obs_rms.pkl"))])
    yield worker
    worker.close()


def test_bad_statistics_files_fail_cleanly_under_limits(
    sb2_classes: dict[str, type], tmp_path: Path, statistics_worker: LimitedWorker,
) -> None:
    for name, path in write_bad_statistics(sb2_classes, tmp_path).items():
        outcome = statistics_worker.run("load_statistics", path)
        assert not outcome.problems(), f"{name}: {outcome.problems()}"
        assert outcome.status == "raised" and "NormalizationStatisticsError" in outcome.exception_classes, \
            f"{name}: {outcome.exception}: {outcome.message}"
        assert path.name in outcome.message


def test_member_arrays_are_validated_all_at_once() -> None:
    arrays = statistics_to_arrays(StoredStatistics(np.zeros(2), np.ones(2), 1.0))
    arrays["obs_rms/var"] = np.array([np.nan, 1.0])
    arrays["training"] = np.array(0.5)
    with pytest.raises(NormalizationStatisticsError, match=r"'training': expected a 0-d bool") as raised:
        arrays_to_statistics(arrays, "agent.zip")
    assert raised.value.member == VEC_NORMALIZE_MEMBER and "agent.zip" in str(raised.value)
    del arrays["training"]
    arrays["extra"] = np.zeros(1)
    with pytest.raises(NormalizationStatisticsError,
                       match=r"missing arrays \['training'\]; unknown arrays \['extra'\]"):
        arrays_to_statistics(arrays, "agent.zip")


# --- the zoo's VecNormalize agent ----------------------------------------------------------------


@pytest.mark.parametrize("algorithm, agent, reference", ZOO_NORMALIZED_AGENTS)
def test_the_zoo_agent_with_its_statistics_reproduces_its_reference_reward(sb2_fixture_dir: Path, algorithm: Any,
                                                                           agent: str, reference: float) -> None:
    model = load_quietly(sb2_fixture_dir / f"{agent}.pkl", algorithm)
    assert model.get_vec_normalize() is None
    model.set_vec_normalize(VecNormalize.load(sb2_fixture_dir / agent, None))
    assert mean_reward(model) == reference


@pytest.mark.parametrize("algorithm, agent, reference", ZOO_NORMALIZED_AGENTS)
def test_the_converted_single_file_plays_with_a_plain_load(sb2_fixture_dir: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str], algorithm: Any,
                                                           agent: str, reference: float) -> None:
    status = cli_main(["convert", str(sb2_fixture_dir / f"{agent}.pkl"), str(tmp_path / "agent.zip"),
                       "--vecnormalize", str(sb2_fixture_dir / agent)])
    assert status == 0
    model = algorithm.load(tmp_path / "agent.zip")
    assert model.get_vec_normalize() is not None and model.get_env() is None
    assert mean_reward(model) == reference
    capsys.readouterr()
    assert cli_main(["eval", str(tmp_path / "agent.zip"), "--env", "MountainCar-v0", "--episodes", "20"]) == 0
    assert f"mean reward {reference:.2f}" in capsys.readouterr().out


@pytest.mark.parametrize("algorithm, agent, reference", ZOO_NORMALIZED_AGENTS)
def test_inspect_reports_policy_normalization_and_architecture_of_a_converted_zoo_agent(
        sb2_fixture_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], algorithm: Any, agent: str,
        reference: float) -> None:
    convert_file(sb2_fixture_dir / f"{agent}.pkl", tmp_path / "agent.zip", vecnormalize=sb2_fixture_dir / agent)
    assert cli_main(["inspect", str(tmp_path / "agent.zip")]) == 0
    report = capsys.readouterr().out
    assert f"algorithm: {algorithm.__name__.lower()}" in report
    assert "policy: actor_critic.MlpPolicy -> stable_baselines_io.common.policies.MlpPolicy" in report
    assert ("architecture (from policy_kwargs, matching the arrays): "
            "{'net_arch': [{'pi': [64, 64], 'vf': [64, 64]}], 'act_fun': 'tanh'}") in report
    assert "normalization: VecNormalize statistics of observations of shape (2,)" in report


def test_statistics_of_another_observation_shape_are_refused_by_convert(sb2_fixture_dir: Path,
                                                                         tmp_path: Path) -> None:
    with pytest.raises(NormalizationStatisticsError, match=r"shape \(2,\) do not match .* shape \(4,\)"):
        convert_file(sb2_fixture_dir / "zoo/a2c/CartPole-v1.pkl", tmp_path / "bad.zip",
                     vecnormalize=sb2_fixture_dir / ZOO_PPO2_STATISTICS)


def test_a_file_without_statistics_reports_none(sb2_fixture_dir: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    PPO("MlpPolicy", "CartPole-v1", n_steps=16).save(tmp_path / "plain.zip")
    assert cli_main(["inspect", str(tmp_path / "plain.zip")]) == 0
    assert "normalization: none stored" in capsys.readouterr().out


# --- statistics in the agent file ------------------------------------------------------------------


def test_statistics_travel_in_the_agent_file(tmp_path: Path) -> None:
    venv = VecNormalize(cartpoles(1))
    model = PPO("MlpPolicy", venv, **HYPERPARAMETERS).learn(64)
    model.save(tmp_path / "agent.zip")
    with zipfile.ZipFile(tmp_path / "agent.zip") as archive:
        assert VEC_NORMALIZE_MEMBER in archive.namelist()
        # a reader of version 2 would skip the statistics and act on raw observations: it must refuse the file
        assert json.loads(archive.read("metadata"))["format_version"] == 3
    observations = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    loaded = PPO.load(tmp_path / "agent.zip")  # no env: predict normalizes raw observations
    stats = loaded.get_vec_normalize()
    assert stats is not None and np.array_equal(stats.obs_rms.mean, venv.obs_rms.mean)
    assert np.array_equal(loaded.predict(observations, deterministic=True)[0],
                          model.predict(venv.normalize_obs(observations), deterministic=True)[0])
    wrapped = PPO.load(tmp_path / "agent.zip", env=gymnasium.make("CartPole-v1"))
    assert isinstance(wrapped.get_env(), VecNormalize) and wrapped.get_env().obs_rms.count == venv.obs_rms.count


def test_a_raw_environment_for_a_normalized_model_warns_once(tmp_path: Path) -> None:
    model = PPO("MlpPolicy", VecNormalize(cartpoles(1)), **HYPERPARAMETERS)
    with pytest.warns(UserWarning, match="trained with VecNormalize, but its environment gives un-normalized"):
        model.set_env(gymnasium.make("CartPole-v1"))
    assert model.get_vec_normalize() is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.learn(32)  # warned already
    model.set_vec_normalize(model.get_vec_normalize())
    assert isinstance(model.get_env(), VecNormalize)


@pytest.fixture
def op_determinism() -> Iterator[None]:
    was_enabled = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    yield
    if not was_enabled:
        tf_config.disable_op_determinism()


def test_exact_resume_includes_the_running_statistics(tmp_path: Path, op_determinism: None) -> None:
    uninterrupted = PPO("MlpPolicy", VecNormalize(cartpoles(1)), **HYPERPARAMETERS).learn(160)
    env = gymnasium.make("CartPole-v1")
    first = PPO("MlpPolicy", VecNormalize(VecEnv([env])), **HYPERPARAMETERS).learn(96)
    first.save(tmp_path / "agent.zip")
    resumed = PPO.load(tmp_path / "agent.zip", env=env, force_reset=False)
    assert isinstance(resumed.get_env(), VecNormalize)
    resumed.learn(64, reset_num_timesteps=False)
    for name, value in uninterrupted.get_parameters().items():
        assert np.array_equal(resumed.get_parameters()[name], value), name
    ours, theirs = resumed.get_vec_normalize(), uninterrupted.get_vec_normalize()
    assert ours is not None and theirs is not None
    for left, right in zip(statistics_to_arrays(ours.get_statistics(True)).values(),
                           statistics_to_arrays(theirs.get_statistics(True)).values()):
        assert np.array_equal(left, right)


def test_a_frozen_training_flag_is_restored(tmp_path: Path) -> None:
    venv = VecNormalize(cartpoles(1), training=False)
    PPO("MlpPolicy", venv, **HYPERPARAMETERS).save(tmp_path / "agent.zip")
    loaded = PPO.load(tmp_path / "agent.zip", env="CartPole-v1")
    assert isinstance(loaded.get_env(), VecNormalize) and loaded.get_env().training is False


def test_checkpoints_carry_the_statistics(tmp_path: Path) -> None:
    checkpoints = CheckpointCallback(32, tmp_path)
    PPO("MlpPolicy", VecNormalize(cartpoles(1)), **HYPERPARAMETERS).learn(64, callback=checkpoints)
    latest = checkpoints.checkpoints()[-1]
    with zipfile.ZipFile(latest) as archive:
        arrays = {name: np.load(io.BytesIO(archive.read(VEC_NORMALIZE_MEMBER)))[name]
                  for name in ("obs_rms/count",)}
    assert float(arrays["obs_rms/count"]) == pytest.approx(1e-4 + 64)


def test_evaluation_normalizes_once_with_the_models_statistics(sb2_fixture_dir: Path) -> None:
    model = load_quietly(sb2_fixture_dir / ZOO_PPO2)
    statistics = VecNormalize.load(sb2_fixture_dir / ZOO_PPO2_STATISTICS, None)
    model.set_vec_normalize(statistics)  # held by the model: predict normalizes
    normalized_env = VecNormalize.from_statistics(statistics.get_statistics(),
                                                  VecEnv([gymnasium.make("MountainCar-v0")]))
    rewards, _ = evaluate_policy(model, normalized_env, n_eval_episodes=2, deterministic=True,
                                 return_episode_rewards=True, seed=0)
    raw_rewards, _ = evaluate_policy(model, VecEnv([gymnasium.make("MountainCar-v0")]), n_eval_episodes=2,
                                     deterministic=True, return_episode_rewards=True, seed=0)
    assert rewards == raw_rewards and all(-200 <= reward < 0 for reward in rewards)
    # a model stepping a VecNormalize env (predict takes normalized observations) on the raw env
    model.set_env(VecNormalize.from_statistics(statistics.get_statistics(),
                                               VecEnv([gymnasium.make("MountainCar-v0")])))
    assert not model._normalizes_observations()  # noqa: SLF001
    assert mean_reward(model) == ZOO_PPO2_REFERENCE_REWARD


def test_train_normalize_saves_the_statistics_in_the_agent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["train", "--env", "CartPole-v1", "--timesteps", "64", "--output", str(tmp_path / "agent"),
                     "--normalize", "--no-monitor", "--no-progress-bar", "--no-tuned", "-p", "n_steps=32"]) == 0
    stats = PPO.load(tmp_path / "agent.zip").get_vec_normalize()
    assert stats is not None and stats.obs_rms.count == pytest.approx(1e-4 + 64)


def test_the_best_model_of_an_evaluation_on_the_raw_env_carries_the_statistics(tmp_path: Path) -> None:
    model = PPO("MlpPolicy", VecNormalize(cartpoles(1)), **HYPERPARAMETERS)
    evaluations = EvalCallback(gymnasium.make("CartPole-v1"), n_eval_episodes=2, eval_freq=16,
                               best_model_save_path=tmp_path, verbose=0)
    model.learn(32, callback=evaluations)
    best = PPO.load(tmp_path / "best_model.zip")
    stats = best.get_vec_normalize()
    assert stats is not None and stats.obs_rms.count > 1
    assert len(evaluations.evaluations_results) == 2


def test_the_acer_zoo_statistics_are_read(sb2_fixture_dir: Path) -> None:
    stats = read_sb2_statistics(sb2_fixture_dir / "zoo/acer/MountainCar-v0", observation_shape=(2,))
    assert stats.obs_var.shape == (2,) and np.all(stats.obs_var > 0) and stats.ret_var.shape == ()
