"""``action_probability`` in Stable Baselines 2's shapes, and Stable Baselines 2's save/load round
trip: parameters, ``predict`` and ``action_probability`` identical after save and load through a
path string, a ``Path`` and a file object, in the zip and the legacy cloudpickle formats."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
import tensorflow as tf

from stable_baselines_io import A2C, DQN, PPO, ActorCriticRLModel, BaseRLModel
from stable_baselines_io.common.action_probability import first_of_batch, probability_of_actions

N_OBSERVATIONS = 5
pytestmark = [pytest.mark.filterwarnings("ignore:.*legacy cloudpickle file:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:the legacy cloudpickle format holds only:UserWarning")]

MULTI_DISCRETE_ENV = "stable_baselines_io.envs:IdentityMultiDiscrete-v0"  # MultiDiscrete([3, 4])
MULTI_BINARY_ENV = "stable_baselines_io.envs:IdentityMultiBinary-v0"  # MultiBinary(4)

MODELS: dict[str, Callable[[], BaseRLModel]] = {
    "ppo-discrete": lambda: PPO("MlpPolicy", "CartPole-v1", n_steps=32, seed=0, policy_kwargs={"net_arch": [16]}),
    "ppo-box": lambda: PPO("MlpPolicy", "Pendulum-v1", n_steps=32, seed=0, policy_kwargs={"net_arch": [16]}),
    "a2c-discrete": lambda: A2C("MlpPolicy", "CartPole-v1", n_steps=8, seed=0, policy_kwargs={"net_arch": [16]}),
    "ppo-multi-discrete": lambda: PPO("MlpPolicy", MULTI_DISCRETE_ENV, n_steps=32, seed=0,
                                      policy_kwargs={"net_arch": [16]}),
    "a2c-multi-discrete": lambda: A2C("MlpPolicy", MULTI_DISCRETE_ENV, n_steps=8, seed=0,
                                      policy_kwargs={"net_arch": [16]}),
    "ppo-multi-binary": lambda: PPO("MlpPolicy", MULTI_BINARY_ENV, n_steps=32, seed=0,
                                    policy_kwargs={"net_arch": [16]}),
    "a2c-multi-binary": lambda: A2C("MlpPolicy", MULTI_BINARY_ENV, n_steps=8, seed=0,
                                    policy_kwargs={"net_arch": [16]}),
    "dqn": lambda: DQN("MlpPolicy", "CartPole-v1", learning_starts=16, seed=0, policy_kwargs={"layers": [16]}),
}


@pytest.fixture(scope="module", params=list(MODELS))
def trained(request: pytest.FixtureRequest) -> BaseRLModel:
    return MODELS[request.param]().learn(total_timesteps=64)


def _observations(model: BaseRLModel) -> np.ndarray:
    """Observations within [-2, 2] of the (Box) observation space: CartPole's unbounded velocities
    sampled from the space would be ~1e38 and make every probability NaN."""
    space = model.observation_space
    if not isinstance(space, gymnasium.spaces.Box):
        space.seed(1)
        return np.stack([space.sample() for _ in range(N_OBSERVATIONS)])
    low, high = np.maximum(space.low, -2.0), np.minimum(space.high, 2.0)
    return np.random.default_rng(1).uniform(low, high, size=(N_OBSERVATIONS, *space.shape)).astype(space.dtype)


def _actions(model: BaseRLModel) -> np.ndarray:
    space = model.action_space
    space.seed(2)
    return np.stack([space.sample() for _ in range(N_OBSERVATIONS)])


def test_shapes_follow_stable_baselines_2(trained: BaseRLModel) -> None:
    observations, actions = _observations(trained), _actions(trained)
    batched = trained.action_probability(observations)
    single = trained.action_probability(observations[0])
    if isinstance(trained.action_space, gymnasium.spaces.Discrete):
        assert batched.shape == (N_OBSERVATIONS, 2) and single.shape == (2,)
        np.testing.assert_allclose(batched.sum(axis=1), 1.0, rtol=1e-6)
    elif isinstance(trained.action_space, gymnasium.spaces.MultiDiscrete):
        # One array of probabilities per dimension, as Stable Baselines 2's proba_step.
        assert [part.shape for part in batched] == [(N_OBSERVATIONS, 3), (N_OBSERVATIONS, 4)]
        assert [part.shape for part in single] == [(3,), (4,)]
        for part in batched:
            np.testing.assert_allclose(part.sum(axis=1), 1.0, rtol=1e-6)
    elif isinstance(trained.action_space, gymnasium.spaces.MultiBinary):
        assert batched.shape == (N_OBSERVATIONS, 4) and single.shape == (4,)
        assert ((batched > 0) & (batched < 1)).all()
    else:
        mean, std = batched
        assert mean.shape == std.shape == (N_OBSERVATIONS, 1)
        assert [part.shape for part in single] == [(1,), (1,)]
    probabilities = trained.action_probability(observations, actions=actions)
    log_probabilities = trained.action_probability(observations, actions=actions, logp=True)
    assert probabilities.shape == log_probabilities.shape == (N_OBSERVATIONS, 1)
    np.testing.assert_allclose(np.log(probabilities), log_probabilities, rtol=1e-5, atol=1e-6)
    one = trained.action_probability(observations[0], actions=actions[0])
    assert one.shape == (1,)
    np.testing.assert_allclose(one, probabilities[0], rtol=1e-6)
    # The log-probability is the one the training loss uses.
    if isinstance(trained, ActorCriticRLModel):
        batch = tf.constant(observations, dtype=trained.policy_net.observation_spec.dtype)
        distribution, _ = trained.policy_net.forward(batch)
        given = actions.reshape(-1, 1) if isinstance(trained.action_space, gymnasium.spaces.Box) else actions
        np.testing.assert_allclose(log_probabilities[:, 0], -distribution.neglogp(given).numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="batch sizes differ: 5 observations, 2 actions"):
        trained.action_probability(observations, actions=actions[:2])


def test_dqn_distribution_is_the_softmax_of_the_q_values() -> None:
    trained = MODELS["dqn"]()
    observations = _observations(trained)
    q_values = trained.q_net(tf.constant(observations, dtype=tf.float32)).numpy()
    expected = np.exp(q_values) / np.exp(q_values).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(trained.action_probability(observations), expected, rtol=1e-5)
    with pytest.raises(ValueError, match=r"actions outside the action space Discrete\(2\): \[2\]"):
        trained.action_probability(observations[0], actions=2)


def _through_path(model: BaseRLModel, tmp_path: Path, cloudpickle: bool) -> BaseRLModel:
    model.save(str(tmp_path / "agent"), cloudpickle=cloudpickle)
    return type(model).load(str(tmp_path / "agent"))


def _through_pathlib(model: BaseRLModel, tmp_path: Path, cloudpickle: bool) -> BaseRLModel:
    model.save(tmp_path / "agent.zip", cloudpickle=cloudpickle)
    return type(model).load(tmp_path / "agent.zip")


def _through_file_object(model: BaseRLModel, tmp_path: Path, cloudpickle: bool) -> BaseRLModel:
    buffer = io.BytesIO()
    model.save(buffer, cloudpickle=cloudpickle)
    buffer.seek(0)
    return type(model).load(buffer)


@pytest.mark.parametrize("cloudpickle", [False, True], ids=["zip", "cloudpickle"])
@pytest.mark.parametrize("through", [_through_path, _through_pathlib, _through_file_object],
                         ids=["str", "Path", "file-object"])
def test_round_trip_keeps_parameters_predictions_and_probabilities(
    trained: BaseRLModel, tmp_path: Path, cloudpickle: bool, through: Callable[..., BaseRLModel], same: Any,
) -> None:
    observations, actions = _observations(trained), _actions(trained)

    def answers(model: BaseRLModel) -> dict[str, Any]:
        return {
            "parameters": model.get_parameters(),
            "predict": model.predict(observations, deterministic=True)[0],
            "predict_one": model.predict(observations[0], deterministic=True)[0],
            "proba": model.action_probability(observations),
            "proba_of_actions": model.action_probability(observations, actions=actions),
            "logp_of_actions": model.action_probability(observations, actions=actions, logp=True),
        }

    before = answers(trained)
    assert not np.isnan(before["logp_of_actions"]).any()
    loaded = through(trained, tmp_path, cloudpickle)
    same(answers(loaded), before)


def test_probability_of_actions_multi_discrete() -> None:
    space = gymnasium.spaces.MultiDiscrete([3, 2])
    proba = [np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]]), np.array([[0.4, 0.6], [0.5, 0.5]])]
    result = probability_of_actions(space, proba, np.array([[2, 1], [0, 0]]))
    np.testing.assert_allclose(result, [[0.5 * 0.6], [1.0 * 0.5]])
    np.testing.assert_allclose(probability_of_actions(space, proba, [[2, 1], [0, 0]], logp=True),
                               np.log([[0.3], [0.5]]))
    assert [part.shape for part in first_of_batch(proba)] == [(3,), (2,)]
    with pytest.raises(ValueError, match=r"actions outside the action space MultiDiscrete\(\[3 2\]\)"):
        probability_of_actions(space, proba, [[3, 0], [0, 0]])


def test_probability_of_actions_multi_binary() -> None:
    space = gymnasium.spaces.MultiBinary(3)
    proba = np.array([[0.9, 0.5, 0.2]])
    np.testing.assert_allclose(probability_of_actions(space, proba, [1, 0, 0]), [[0.9 * 0.5 * 0.8]])
    with pytest.raises(ValueError, match="MultiBinary actions must be 0 or 1"):
        probability_of_actions(space, proba, [2, 0, 0])


def test_probability_of_actions_box_is_the_gaussian_density() -> None:
    space = gymnasium.spaces.Box(-1, 1, (2,))
    mean, std = np.array([[0.0, 1.0]]), np.array([[1.0, 0.5]])
    action = np.array([0.5, 0.0])
    expected = np.prod(np.exp(-((action - mean[0]) ** 2) / (2 * std[0] ** 2)) / (std[0] * np.sqrt(2 * np.pi)))
    np.testing.assert_allclose(probability_of_actions(space, [mean, std], action), [[expected]])
    np.testing.assert_allclose(probability_of_actions(space, [mean, std], action, logp=True), [[np.log(expected)]])


def test_unsupported_space_and_mask_errors() -> None:
    with pytest.raises(ValueError, match="not defined for Tuple action spaces; supported: Discrete, MultiDiscrete"):
        probability_of_actions(gymnasium.spaces.Tuple([gymnasium.spaces.Discrete(2)]), np.zeros((1, 2)), [0])
    model = MODELS["ppo-discrete"]()
    observation = np.zeros(4, dtype=np.float32)
    action, _ = model.predict(observation, deterministic=True, episode_start=np.array([True]))
    assert action.shape == ()
    with pytest.raises(ValueError, match="not both"):
        model.predict(observation, mask=[True], episode_start=[True])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("file_name", ["ppo2__Pendulum-v0.pkl", "ppo2__CartPole-v1__TrailerReverse.zip",
                                       "dqn__CartPole-v1__deep-q-learning.zip"])
def test_stable_baselines_2_agents_give_their_distribution(sb2_fixture_dir: Path, file_name: str) -> None:
    algorithm = DQN if file_name.startswith("dqn") else PPO
    model = algorithm.load(sb2_fixture_dir / file_name)
    observations = _observations(model)
    proba = model.action_probability(observations)
    greedy, _ = model.predict(observations, deterministic=True)
    if isinstance(model.action_space, gymnasium.spaces.Box):
        mean, std = proba
        # The Gaussian's std is exp(logstd) of the file; its mean is the deterministic action (before clipping).
        np.testing.assert_allclose(std, np.exp(model.get_parameters()["model/pi/logstd:0"]).repeat(N_OBSERVATIONS, 0))
        np.testing.assert_allclose(np.clip(mean, -2.0, 2.0), greedy, rtol=1e-6)
    else:
        np.testing.assert_array_equal(np.argmax(proba, axis=1), greedy)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
