"""Save / load of whole models: PPO, A2C, DQN and a user's own algorithm, through every kind of target."""

from __future__ import annotations

import io
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any, ClassVar

import gymnasium
import numpy as np
import pytest
import tensorflow as tf

from stable_baselines_io import A2C, DQN, PPO, BaseRLModel
from stable_baselines_io.exceptions import (
    AlgorithmMismatchError,
    NoEnvironmentError,
    ParameterMismatchError,
    PolicyKwargsMismatchError,
    SpaceMismatchError,
)
from stable_baselines_io.schedules import LinearSchedule


class HillClimbing(BaseRLModel):
    """A user's own algorithm, outside the package: a linear policy improved by random search.

    It declares its data attributes and variables; it has no save/load code of its own.
    """

    _save_attrs: ClassVar[tuple[str, ...]] = (*BaseRLModel._save_attrs, "noise_scale", "best_return")

    def __init__(self, policy: Any, env: Any, noise_scale: float = 0.1, seed: int | None = None,
                 _init_setup_model: bool = True, **kwargs: Any):
        super().__init__(policy, env, seed=seed, **kwargs)
        self.noise_scale = noise_scale
        self.best_return = -np.inf
        if _init_setup_model:
            self.setup_model()

    def setup_model(self) -> None:
        n_inputs = int(np.prod(self.observation_space.shape))
        self.weights = tf.Variable(tf.zeros((n_inputs, self.action_space.n)), name="linear/w")
        self.rng = np.random.default_rng(self.seed)

    def get_parameter_list(self) -> list[tf.Variable]:
        return [self.weights]

    def _predict_actions(self, observations: np.ndarray, deterministic: bool) -> np.ndarray:
        return np.argmax(observations.reshape(len(observations), -1) @ self.weights.numpy(), axis=1)

    def learn(self, total_timesteps: int, callback: Any = None, log_interval: int = 100,
              reset_num_timesteps: bool = True, progress_bar: bool = False) -> HillClimbing:
        env = self._require_env()
        while self.num_timesteps < total_timesteps:
            candidate = self.weights.numpy() + self.noise_scale * self.rng.standard_normal(self.weights.shape)
            observation, episode_return, done = env.reset(), 0.0, False
            while not done:
                action = np.argmax(observation @ candidate, axis=1)
                observation, reward, terminated, truncated, _ = env.step(action)
                episode_return += float(reward[0])
                done = bool(terminated[0] or truncated[0])
                self.num_timesteps += 1
            if episode_return > self.best_return:
                self.best_return = episode_return
                self.weights.assign(candidate.astype(np.float32))
        return self


MULTI_DISCRETE_ENV = "stable_baselines_io.envs:IdentityMultiDiscrete-v0"
MULTI_BINARY_ENV = "stable_baselines_io.envs:IdentityMultiBinary-v0"
MULTI_SPACE_ENVS = {"ppo_multi_discrete": MULTI_DISCRETE_ENV, "a2c_multi_discrete": MULTI_DISCRETE_ENV,
                    "ppo_multi_binary": MULTI_BINARY_ENV, "a2c_multi_binary": MULTI_BINARY_ENV}


def make_model(kind: str) -> BaseRLModel:
    if kind == "ppo":
        return PPO("MlpPolicy", "CartPole-v1", n_steps=32, nminibatches=2, noptepochs=1, seed=1,
                   learning_rate=LinearSchedule(1e-3)).learn(64)
    if kind == "ppo_box":
        return PPO("MlpPolicy", "Pendulum-v1", n_steps=32, nminibatches=2, noptepochs=1, seed=1).learn(64)
    if kind == "a2c_box":
        return A2C("MlpPolicy", "Pendulum-v1", n_steps=8, seed=1, lr_schedule="linear").learn(64)
    if kind in MULTI_SPACE_ENVS:
        algorithm_name = kind.split("_")[0]
        algorithm = {"ppo": PPO, "a2c": A2C}[algorithm_name]
        return algorithm("MlpPolicy", MULTI_SPACE_ENVS[kind], n_steps=16, seed=1,
                         policy_kwargs={"net_arch": [16]}).learn(64)
    if kind == "dqn":
        return DQN("MlpPolicy", "CartPole-v1", learning_starts=20, buffer_size=500, seed=1,
                   policy_kwargs={"layers": [32], "dueling": False}).learn(60)
    return HillClimbing(policy=object, env="CartPole-v1", seed=1).learn(50)


MODEL_KINDS = ["ppo", "ppo_box", "a2c_box", "dqn", "hill_climbing", *MULTI_SPACE_ENVS]
ENV_OF = {"ppo": "CartPole-v1", "ppo_box": "Pendulum-v1", "a2c_box": "Pendulum-v1", "dqn": "CartPole-v1",
          "hill_climbing": "CartPole-v1", **MULTI_SPACE_ENVS}


@pytest.fixture(scope="module", params=MODEL_KINDS)
def trained(request: pytest.FixtureRequest) -> tuple[str, BaseRLModel]:
    return request.param, make_model(request.param)


def _observations(model: BaseRLModel) -> np.ndarray:
    space = model.observation_space
    space.seed(3)
    return np.stack([space.sample() for _ in range(16)])


def _assert_same_agent(original: BaseRLModel, loaded: BaseRLModel) -> None:
    assert type(loaded) is type(original)
    expected, received = original.get_parameters(), loaded.get_parameters()
    assert list(received) == list(expected)
    for name in expected:
        np.testing.assert_array_equal(received[name], expected[name], err_msg=name)
        assert received[name].dtype == expected[name].dtype
    observations = _observations(original)
    np.testing.assert_array_equal(loaded.predict(observations, deterministic=True)[0],
                                  original.predict(observations, deterministic=True)[0])
    for name in type(original)._save_attrs:
        if name not in {"observation_space", "action_space", "policy"}:
            assert repr(getattr(loaded, name)) == repr(getattr(original, name)), name


@pytest.mark.parametrize("target", ["str", "path", "bytesio"])
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "cloudpickle"])
def test_round_trip_gives_same_parameters_and_actions(trained: tuple[str, BaseRLModel], tmp_path: Path,
                                                       target: str, legacy: bool) -> None:
    kind, model = trained
    algorithm = type(model)
    destination: Any = io.BytesIO() if target == "bytesio" else tmp_path / "agent"
    if target == "str":
        destination = str(destination)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.save(destination, cloudpickle=legacy)
    assert any("training state is not saved" in str(warning.message) for warning in caught) == legacy
    if target == "bytesio":
        destination.seek(0)
    else:
        assert (tmp_path / "agent.zip").is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = algorithm.load(destination, env=ENV_OF[kind], safe_mode=not legacy or kind != "hill_climbing")
    _assert_same_agent(model, loaded)
    if target == "bytesio":
        assert not destination.closed


def test_learning_continues_after_load(trained: tuple[str, BaseRLModel], tmp_path: Path) -> None:
    kind, model = trained
    model.save(tmp_path / "agent")
    loaded = type(model).load(tmp_path / "agent.zip", env=ENV_OF[kind])
    before = loaded.get_parameters()
    steps_before = loaded.num_timesteps
    loaded.learn(200 if kind != "hill_climbing" else 400, reset_num_timesteps=False)
    assert loaded.num_timesteps > steps_before
    after = loaded.get_parameters()
    assert any(not np.array_equal(before[name], after[name]) for name in before)


def test_load_without_env_can_predict_and_says_how_to_train(tmp_path: Path) -> None:
    model = make_model("ppo")
    model.save(tmp_path / "agent")
    loaded = PPO.load(tmp_path / "agent")
    assert loaded.get_env() is None
    action, state = loaded.predict(np.zeros(4, dtype=np.float32), deterministic=True)
    assert action.shape == () and state is None
    with pytest.raises(NoEnvironmentError, match=r"set_env\(env\)"):
        loaded.learn(10)
    loaded.set_env(gymnasium.make("CartPole-v1"))
    loaded.learn(32)


def test_kwargs_override_stored_attributes(tmp_path: Path) -> None:
    model = make_model("ppo")
    model.save(tmp_path / "agent")
    loaded = PPO.load(tmp_path / "agent", ent_coef=0.5, n_steps=16)
    assert loaded.ent_coef == 0.5 and loaded.n_steps == 16


def test_policy_kwargs_that_differ_from_the_stored_ones_are_refused(tmp_path: Path) -> None:
    model = make_model("ppo")
    model.save(tmp_path / "agent")
    with pytest.raises(PolicyKwargsMismatchError, match="policy kwargs") as error:
        PPO.load(tmp_path / "agent", policy_kwargs={"net_arch": [8]})
    assert isinstance(error.value, ValueError)
    PPO.load(tmp_path / "agent", policy_kwargs={})


@pytest.mark.parametrize("saved_kind, loader", [("dqn", PPO), ("ppo", DQN), ("a2c_box", PPO), ("ppo", A2C)])
def test_loading_another_algorithms_file_is_a_clear_error(tmp_path: Path, saved_kind: str, loader: type) -> None:
    make_model(saved_kind).save(tmp_path / "agent")
    with pytest.raises(AlgorithmMismatchError, match="another algorithm"):
        loader.load(tmp_path / "agent")


def test_set_env_checks_spaces_and_accepts_another_number_of_envs() -> None:
    model = make_model("ppo")
    with pytest.raises(SpaceMismatchError, match=r"observation space: model Box.*env Box") as error:
        model.set_env("Pendulum-v1")
    assert "action space" in str(error.value)
    model.set_env(gymnasium.vector.SyncVectorEnv([lambda: gymnasium.make("CartPole-v1")] * 3))
    assert model.n_envs == 3
    model.learn(96)


# --- get_parameters / load_parameters ------------------------------------------------------------


@pytest.fixture()
def ppo_model() -> PPO:
    return PPO("MlpPolicy", "CartPole-v1", n_steps=16, seed=0)


def _snapshot(model: BaseRLModel) -> OrderedDict[str, np.ndarray]:
    return model.get_parameters()


def _assert_unchanged(model: BaseRLModel, snapshot: OrderedDict[str, np.ndarray]) -> None:
    for name, value in model.get_parameters().items():
        np.testing.assert_array_equal(value, snapshot[name])


def test_get_parameters_returns_copies_in_variable_order(ppo_model: PPO) -> None:
    params = ppo_model.get_parameters()
    assert list(params) == [variable.name for variable in ppo_model.get_parameter_list()]
    params["model/pi/w:0"][...] = 123.0
    assert not np.any(ppo_model.get_parameters()["model/pi/w:0"] == 123.0)


def test_load_parameters_from_dict_path_and_file_object(ppo_model: PPO, tmp_path: Path) -> None:
    other = PPO("MlpPolicy", "CartPole-v1", n_steps=16, seed=7)
    other.save(tmp_path / "other")
    for source in (other.get_parameters(), tmp_path / "other", str(tmp_path / "other.zip"),
                   io.BytesIO((tmp_path / "other.zip").read_bytes())):
        ppo_model.load_parameters(PPO("MlpPolicy", "CartPole-v1", n_steps=16, seed=3).get_parameters())
        ppo_model.load_parameters(source)
        _assert_unchanged(ppo_model, other.get_parameters())


def test_load_parameters_partial_when_not_exact(ppo_model: PPO) -> None:
    snapshot = _snapshot(ppo_model)
    ppo_model.load_parameters({"model/vf/b:0": np.full((1,), 5.0, dtype=np.float32)}, exact_match=False)
    assert ppo_model.get_parameters()["model/vf/b:0"][0] == 5.0
    np.testing.assert_array_equal(ppo_model.get_parameters()["model/pi/w:0"], snapshot["model/pi/w:0"])


def test_load_parameters_unknown_name(ppo_model: PPO) -> None:
    snapshot = _snapshot(ppo_model)
    params = {**snapshot, "model/unknown:0": np.zeros(1, dtype=np.float32)}
    params["model/pi/b:0"] = params["model/pi/b:0"] + 1
    with pytest.raises(ParameterMismatchError, match=r"unknown parameter names \['model/unknown:0'\]"):
        ppo_model.load_parameters(params)
    _assert_unchanged(ppo_model, snapshot)


def test_load_parameters_missing_names(ppo_model: PPO) -> None:
    snapshot = _snapshot(ppo_model)
    params = OrderedDict((name, value + 1) for name, value in snapshot.items() if not name.startswith("model/q/"))
    with pytest.raises(ParameterMismatchError, match=r"missing parameter names \['model/q/w:0', 'model/q/b:0'\]"):
        ppo_model.load_parameters(params)
    _assert_unchanged(ppo_model, snapshot)


def test_load_parameters_wrong_shape_and_dtype_reported_together(ppo_model: PPO) -> None:
    snapshot = _snapshot(ppo_model)
    params = OrderedDict((name, value + 1) for name, value in snapshot.items())
    params["model/pi/w:0"] = np.zeros((3, 3), dtype=np.float32)
    params["model/vf/w:0"] = snapshot["model/vf/w:0"].astype(np.complex128)
    with pytest.raises(ParameterMismatchError) as error:
        ppo_model.load_parameters(params)
    message = str(error.value)
    assert "'model/pi/w:0': expected shape (64, 2), received (3, 3)" in message
    assert "'model/vf/w:0': expected dtype float32, received complex128, which cannot be cast" in message
    _assert_unchanged(ppo_model, snapshot)


def test_load_parameters_from_list_is_deprecated_and_mapped_by_order(ppo_model: PPO) -> None:
    values = [value + 1 for value in _snapshot(ppo_model).values()]
    with pytest.warns(DeprecationWarning, match="list is deprecated"):
        ppo_model.load_parameters(values)
    for received, expected in zip(ppo_model.get_parameters().values(), values):
        np.testing.assert_array_equal(received, expected)
    snapshot = _snapshot(ppo_model)
    with pytest.warns(DeprecationWarning), pytest.raises(ParameterMismatchError, match="received 2 parameters"):
        ppo_model.load_parameters(values[:2])
    _assert_unchanged(ppo_model, snapshot)
