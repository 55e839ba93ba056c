"""PPO and its actor-critic MlpPolicy: learning, prediction, Stable Baselines 2 variable layout, seeding."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np
import pytest
import tensorflow as tf

from stable_baselines_io.common.policies import MlpPolicy, split_net_arch
from stable_baselines_io.common.preprocessing import flat_dim, preprocess_observations
from stable_baselines_io.common.vec_env import VecEnv
from stable_baselines_io.exceptions import NoEnvironmentError, UnknownPolicyError, UnsupportedSpaceError
from stable_baselines_io.ppo import PPO
from stable_baselines_io.ppo.ppo import compute_gae
from stable_baselines_io.schedules import LinearSchedule

FAST = dict(n_steps=32, nminibatches=2, noptepochs=2)

DISCRETE_NAMES = [
    ("model/pi_fc0/w:0", (4, 64)), ("model/pi_fc0/b:0", (64,)),
    ("model/vf_fc0/w:0", (4, 64)), ("model/vf_fc0/b:0", (64,)),
    ("model/pi_fc1/w:0", (64, 64)), ("model/pi_fc1/b:0", (64,)),
    ("model/vf_fc1/w:0", (64, 64)), ("model/vf_fc1/b:0", (64,)),
    ("model/vf/w:0", (64, 1)), ("model/vf/b:0", (1,)),
    ("model/pi/w:0", (64, 2)), ("model/pi/b:0", (2,)),
    ("model/q/w:0", (64, 2)), ("model/q/b:0", (2,)),
]
BOX_NAMES = [
    ("model/pi_fc0/w:0", (3, 64)), ("model/pi_fc0/b:0", (64,)),
    ("model/vf_fc0/w:0", (3, 64)), ("model/vf_fc0/b:0", (64,)),
    ("model/pi_fc1/w:0", (64, 64)), ("model/pi_fc1/b:0", (64,)),
    ("model/vf_fc1/w:0", (64, 64)), ("model/vf_fc1/b:0", (64,)),
    ("model/vf/w:0", (64, 1)), ("model/vf/b:0", (1,)),
    ("model/pi/w:0", (64, 1)), ("model/pi/b:0", (1,)),
    ("model/pi/logstd:0", (1, 1)),
    ("model/q/w:0", (64, 1)), ("model/q/b:0", (1,)),
]


def _layout(model: PPO) -> list[tuple[str, tuple[int, ...]]]:
    return [(variable.name, tuple(variable.shape)) for variable in model.get_parameter_list()]


@pytest.fixture(scope="module")
def cartpole_model() -> PPO:
    return PPO("MlpPolicy", "CartPole-v1", seed=0, **FAST).learn(64)


@pytest.fixture(scope="module")
def pendulum_model() -> PPO:
    return PPO("MlpPolicy", "Pendulum-v1", seed=0, **FAST).learn(64)


# --- learning ---------------------------------------------------------------------------------


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_learn_smoke_changes_parameters(env_id: str) -> None:
    model = PPO("MlpPolicy", env_id, seed=1, **FAST)
    before = model.get_parameters()
    assert model.learn(total_timesteps=64) is model
    after = model.get_parameters()
    assert model.num_timesteps == 64
    assert not np.array_equal(before["model/pi/w:0"], after["model/pi/w:0"])
    assert not np.array_equal(before["model/vf/w:0"], after["model/vf/w:0"])
    # The q head is not part of the PPO loss: it keeps its initial values, as in Stable Baselines 2.
    np.testing.assert_array_equal(before["model/q/w:0"], after["model/q/w:0"])


def test_string_env_id_with_several_envs() -> None:
    model = PPO("MlpPolicy", "CartPole-v1", n_envs=3, seed=0, **FAST)
    assert model.n_envs == 3 and model.get_env().num_envs == 3
    model.learn(2 * 32 * 3)
    assert model.num_timesteps == 192
    assert len(model.ep_info_buf) > 0
    assert all({"r", "l"} <= set(info) for info in model.ep_info_buf)


def test_discrete_observations_are_one_hot_encoded() -> None:
    model = PPO("MlpPolicy", "FrozenLake-v1", seed=0, **FAST).learn(64)
    assert model.get_parameters()["model/pi_fc0/w:0"].shape == (16, 64)
    action, _ = model.predict(np.int64(3))
    assert action.shape == () and 0 <= action < 4


def test_same_seed_gives_identical_parameters_other_seed_differs() -> None:
    def train(seed: int) -> dict[str, np.ndarray]:
        model = PPO("MlpPolicy", "CartPole-v1", seed=seed, n_envs=2, policy_kwargs=dict(net_arch=[16]), **FAST)
        return model.learn(128).get_parameters()

    first, second, other = train(3), train(3), train(4)
    assert list(first) == list(second)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    assert any(not np.array_equal(first[name], other[name]) for name in first)


def test_learn_twice_continues_the_same_episodes(count_resets: Callable[[Any], list[int]]) -> None:
    model = PPO("MlpPolicy", "CartPole-v1", seed=0, **FAST)
    resets = count_resets(model)
    model.learn(32)
    model.learn(32, reset_num_timesteps=False)
    assert len(resets) == 1
    assert model.num_timesteps == 64
    model.set_env(gymnasium.make("CartPole-v1"))
    resets = count_resets(model)
    model.learn(32)
    assert len(resets) == 1 and model.num_timesteps == 32


def test_truncated_episodes_bootstrap_from_the_terminal_observation() -> None:
    # Five-step episodes that always end by truncation, and a constant value function V = 10.
    env = gymnasium.make("CartPole-v1", max_episode_steps=5)
    model = PPO("MlpPolicy", env, n_steps=5, gamma=0.5, lam=1.0, seed=0, nminibatches=1)
    model.load_parameters({"model/vf/w:0": np.zeros((64, 1), np.float32),
                           "model/vf/b:0": np.full((1,), 10.0, np.float32)}, exact_match=False)
    # One rollout by hand, as learn() starts it.
    model._last_obs = model.env.reset()  # noqa: SLF001
    model._episode_starts = np.ones(1, dtype=bool)  # noqa: SLF001
    rollout = model._collect_rollout(model.env, model.policy_net)  # noqa: SLF001
    # Last step: reward 1 + gamma * V(terminal observation); the next observation starts an episode.
    assert rollout.returns[-1] == pytest.approx(1.0 + 0.5 * 10.0)
    assert rollout.returns[-2] == pytest.approx(1.0 + 0.5 * 6.0)


def test_compute_gae_matches_a_hand_computation() -> None:
    rewards = np.array([[1.0], [2.0], [3.0]], np.float32)
    values = np.array([[0.5], [1.0], [1.5]], np.float32)
    episode_starts = np.array([[True], [False], [True]])  # an episode ends after step 1
    advantages, returns = compute_gae(rewards, values, episode_starts, np.array([2.0], np.float32),
                                      np.array([False]), gamma=0.9, lam=0.8)
    delta_2 = 3.0 + 0.9 * 2.0 - 1.5
    delta_1 = 2.0 - 1.0
    delta_0 = 1.0 + 0.9 * 1.0 - 0.5
    expected = [delta_0 + 0.9 * 0.8 * delta_1, delta_1, delta_2]
    np.testing.assert_allclose(advantages[:, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(returns, advantages + values)


def test_schedules_are_kept_as_given_and_applied() -> None:
    schedule = LinearSchedule(1e-3)
    model = PPO("MlpPolicy", "CartPole-v1", learning_rate=schedule, cliprange=LinearSchedule(0.2),
                cliprange_vf=-1.0, seed=0, **FAST)
    model.learn(4 * 32)
    assert model.learning_rate is schedule
    # The fourth and last update ran at progress_remaining = 1 - 3/4.
    assert model.optimizer.learning_rate.numpy() == pytest.approx(schedule(0.25))


def _record_progress(model: PPO, total_timesteps: int, stop_at: int | None = None,
                     reset_num_timesteps: bool = True) -> list[float]:
    """Run learn() and return the progress_remaining of each update."""
    progress: list[float] = []

    def callback(local_vars: dict, global_vars: dict) -> bool:
        progress.append(local_vars["progress_remaining"])
        return stop_at is None or model.num_timesteps < stop_at

    model.learn(total_timesteps, callback=callback, reset_num_timesteps=reset_num_timesteps)
    return progress


def test_fresh_learn_steps_progress_as_stable_baselines_2() -> None:
    model = PPO("MlpPolicy", "CartPole-v1", seed=0, **FAST)
    # 100 steps are 3 whole updates: 1 - (update - 1) / n_updates, exactly.
    assert _record_progress(model, 100) == [1.0, 1.0 - 1.0 / 3.0, 1.0 - 2.0 / 3.0]
    assert model._total_timesteps == 96 and model._n_updates == 3  # noqa: SLF001


def test_continued_learn_keeps_the_horizon_of_an_interrupted_call() -> None:
    model = PPO("MlpPolicy", "CartPole-v1", seed=0, **FAST)
    assert _record_progress(model, 4 * 32, stop_at=32) == [1.0]
    assert model._total_timesteps == 128  # noqa: SLF001
    # Shorter than what is left: the stored horizon stands.
    assert _record_progress(model, 32, reset_num_timesteps=False) == [0.75]
    # Past the horizon: it moves to num_timesteps + this call's steps.
    expected = [1 - start / 192 for start in (64, 96, 128, 160)]
    assert _record_progress(model, 4 * 32, reset_num_timesteps=False) == expected
    assert model.num_timesteps == 192 and model._total_timesteps == 192 and model._n_updates == 6  # noqa: SLF001
    # reset_num_timesteps=True restarts the counters and the schedules.
    assert _record_progress(model, 2 * 32) == [1.0, 0.5]
    assert model.num_timesteps == 64 and model._total_timesteps == 64 and model._n_updates == 2  # noqa: SLF001


def test_last_observations_of_another_number_of_envs_are_dropped(count_resets: Callable[[Any], list[int]]) -> None:
    model = PPO("MlpPolicy", "CartPole-v1", seed=0, **FAST)
    model._last_obs = np.zeros((2, 4), np.float32)  # noqa: SLF001 - as restored from a 2-env model's file
    model._episode_starts = np.zeros(2, bool)  # noqa: SLF001
    resets = count_resets(model)
    with pytest.warns(UserWarning, match="last observations are of 2 environments, the environment has 1"):
        model.learn(32)
    assert len(resets) == 1 and model._last_obs.shape == (1, 4)  # noqa: SLF001


def test_training_state_is_declared() -> None:
    required = {"num_timesteps", "_space_random_states", "_n_updates", "_total_timesteps", "shuffle_rng", "_last_obs",
                "_episode_starts", "_env_episode_stats", "_ep_info_list"}
    assert required <= set(PPO._state_attrs)  # noqa: SLF001
    assert len(PPO._state_attrs) == len(set(PPO._state_attrs))  # noqa: SLF001


def test_callback_returning_false_stops_and_verbose_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    calls = []

    def callback(local_vars: dict, global_vars: dict) -> bool:
        calls.append(local_vars["update"])
        return False

    model = PPO("MlpPolicy", "CartPole-v1", seed=0, verbose=1, **FAST)
    model.learn(10 * 32, callback=callback, progress_bar=True)
    assert calls == [1] and model.num_timesteps == 32
    output = capsys.readouterr().out
    for key in ("total_timesteps", "ep_reward_mean", "pg_loss", "vf_loss", "entropy_loss"):
        assert key in output


def test_learn_without_environment_raises_but_predicts() -> None:
    trained = PPO("MlpPolicy", "CartPole-v1", seed=0, **FAST)
    model = PPO._from_data(trained._get_save_data(), env=None, overrides={})  # noqa: SLF001 - what load() does
    assert model.get_env() is None
    with pytest.raises(NoEnvironmentError, match="no environment"):
        model.learn(64)
    action, _ = model.predict(np.zeros(4, np.float32))
    assert action.shape == ()
    with pytest.raises(NoEnvironmentError, match="needs an environment"):
        PPO("MlpPolicy", None)


def test_hyperparameters_saved_like_stable_baselines_2() -> None:
    expected = {"gamma", "n_steps", "vf_coef", "ent_coef", "max_grad_norm", "learning_rate", "lam", "nminibatches",
                "noptepochs", "cliprange", "cliprange_vf", "policy", "observation_space", "action_space", "n_envs",
                "seed", "verbose", "policy_kwargs"}
    assert expected <= set(PPO._save_attrs)  # noqa: SLF001


# --- prediction -------------------------------------------------------------------------------


def test_predict_discrete_single_and_batched(cartpole_model: PPO) -> None:
    action, state = cartpole_model.predict(np.zeros(4, np.float32))
    assert state is None
    assert action.shape == () and action.dtype == np.int64
    actions, _ = cartpole_model.predict(np.zeros((5, 4), np.float32))
    assert actions.shape == (5,) and actions.dtype == np.int64
    assert set(actions.tolist()) <= {0, 1}


def test_predict_box_single_batched_and_clipped(pendulum_model: PPO) -> None:
    action, _ = pendulum_model.predict(np.zeros(3, np.float32))
    assert action.shape == (1,) and action.dtype == np.float32
    observations = np.random.default_rng(0).normal(size=(200, 3)).astype(np.float32)
    logstd = pendulum_model.policy_net.logstd
    saved = logstd.numpy()
    logstd.assign(np.full_like(saved, 3.0))  # std 20: samples far outside [-2, 2]
    try:
        actions, _ = pendulum_model.predict(observations)
    finally:
        logstd.assign(saved)
    assert actions.shape == (200, 1) and actions.dtype == np.float32
    assert actions.min() == -2.0 and actions.max() == 2.0


@pytest.mark.parametrize("fixture_name", ["cartpole_model", "pendulum_model"])
def test_deterministic_predict_is_deterministic(fixture_name: str, request: pytest.FixtureRequest) -> None:
    model: PPO = request.getfixturevalue(fixture_name)
    observations = np.random.default_rng(1).normal(size=(16, *model.observation_space.shape)).astype(np.float32)
    first, _ = model.predict(observations, deterministic=True)
    second, _ = model.predict(observations, deterministic=True)
    np.testing.assert_array_equal(first, second)
    if fixture_name == "pendulum_model":
        sampled_a, _ = model.predict(observations)
        sampled_b, _ = model.predict(observations)
        assert not np.array_equal(sampled_a, sampled_b)


# --- the policy ---------------------------------------------------------------------------------


def test_variable_names_shapes_and_order_discrete(cartpole_model: PPO) -> None:
    assert _layout(cartpole_model) == DISCRETE_NAMES
    params = cartpole_model.get_parameters()
    assert all(value.dtype == np.float32 for value in params.values())


def test_variable_names_shapes_and_order_box() -> None:
    model = PPO("MlpPolicy", "Pendulum-v1", seed=0)
    assert _layout(model) == BOX_NAMES
    np.testing.assert_array_equal(model.get_parameters()["model/pi/logstd:0"], np.zeros((1, 1), np.float32))


def test_initialisation_is_orthogonal_with_stable_baselines_2_gains() -> None:
    params = PPO("MlpPolicy", "CartPole-v1", seed=0).get_parameters()
    hidden = params["model/pi_fc1/w:0"]
    np.testing.assert_allclose(hidden.T @ hidden, 2.0 * np.eye(64), atol=1e-4)
    pi = params["model/pi/w:0"]
    np.testing.assert_allclose(pi.T @ pi, 0.01**2 * np.eye(2), atol=1e-7)
    vf = params["model/vf/w:0"]
    assert np.linalg.norm(vf) == pytest.approx(1.0, rel=1e-5)
    assert all(not value.any() for name, value in params.items() if name.endswith("/b:0"))


def test_shared_layers_in_net_arch() -> None:
    model = PPO("MlpPolicy", "CartPole-v1", seed=0,
                policy_kwargs=dict(net_arch=[32, 16, dict(pi=[8], vf=[4, 4])], act_fun="relu"))
    assert _layout(model) == [
        ("model/shared_fc0/w:0", (4, 32)), ("model/shared_fc0/b:0", (32,)),
        ("model/shared_fc1/w:0", (32, 16)), ("model/shared_fc1/b:0", (16,)),
        ("model/pi_fc0/w:0", (16, 8)), ("model/pi_fc0/b:0", (8,)),
        ("model/vf_fc0/w:0", (16, 4)), ("model/vf_fc0/b:0", (4,)),
        ("model/vf_fc1/w:0", (4, 4)), ("model/vf_fc1/b:0", (4,)),
        ("model/vf/w:0", (4, 1)), ("model/vf/b:0", (1,)),
        ("model/pi/w:0", (8, 2)), ("model/pi/b:0", (2,)),
        ("model/q/w:0", (4, 2)), ("model/q/b:0", (2,)),
    ]
    assert model.policy_kwargs["act_fun"] == "relu"


def test_legacy_layers_kwarg_and_activation_function() -> None:
    with pytest.warns(DeprecationWarning, match="layers"):
        model = PPO("MlpPolicy", "CartPole-v1", seed=0, policy_kwargs=dict(layers=[8], act_fun=tf.nn.relu))
    assert [name for name, _ in _layout(model)][:4] == [
        "model/pi_fc0/w:0", "model/pi_fc0/b:0", "model/vf_fc0/w:0", "model/vf_fc0/b:0"]
    assert model.policy_kwargs["act_fun"] is tf.nn.relu


def test_unknown_policy_kwargs_are_all_named() -> None:
    with pytest.raises(ValueError, match=r"Unknown keywords for policy: \['dueling', 'layer_norm'\]"):
        PPO("MlpPolicy", "CartPole-v1", policy_kwargs=dict(net_arch=[8], dueling=True, layer_norm=True))


@pytest.mark.parametrize("kwargs, match", [
    (dict(act_fun="gelu_fast"), "unknown act_fun 'gelu_fast'"),
    (dict(net_arch=[dict(pi=[8]), 16]), "must be the last entry"),
    (dict(net_arch=[dict(pi=[8], critic=[8])]), "unknown keys \\['critic'\\]"),
    (dict(net_arch=[0]), "positive layer size"),
])
def test_invalid_policy_kwargs(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MlpPolicy(gymnasium.spaces.Box(-1, 1, (4,)), gymnasium.spaces.Discrete(2), **kwargs)


def test_unsupported_action_space() -> None:
    with pytest.raises(UnsupportedSpaceError, match=r"MultiBinary and Box action spaces, received Tuple") as error:
        MlpPolicy(gymnasium.spaces.Box(-1, 1, (4,)), gymnasium.spaces.Tuple([gymnasium.spaces.Discrete(2)]))
    assert isinstance(error.value, NotImplementedError)
    with pytest.raises(UnsupportedSpaceError, match="observation space"):
        MlpPolicy(gymnasium.spaces.Tuple([gymnasium.spaces.Discrete(2)]), gymnasium.spaces.Discrete(2))


def test_unknown_policy_name() -> None:
    with pytest.raises(UnknownPolicyError, match="NoSuchPolicy"):
        PPO("NoSuchPolicy", "CartPole-v1")


def test_cnn_policy_on_vector_observations_says_it_needs_images() -> None:
    with pytest.raises(UnsupportedSpaceError, match=r"CNN policies need image observations.*\(4,\)"):
        PPO("CnnPolicy", "CartPole-v1")


def test_split_net_arch() -> None:
    assert split_net_arch([64, dict(vf=[32])]) == ([64], [], [32])
    assert split_net_arch([]) == ([], [], [])


@pytest.mark.parametrize("space, observations, expected", [
    (gymnasium.spaces.Box(-1, 1, (2, 2)), np.arange(8).reshape(2, 2, 2), np.arange(8).reshape(2, 4)),
    (gymnasium.spaces.Discrete(3), np.array([0, 2]), np.array([[1, 0, 0], [0, 0, 1]])),
    (gymnasium.spaces.Discrete(3, start=1), np.array([1]), np.array([[1, 0, 0]])),
    (gymnasium.spaces.MultiBinary(3), np.array([[1, 0, 1]], np.int8), np.array([[1, 0, 1]])),
    (gymnasium.spaces.MultiDiscrete([2, 3]), np.array([[1, 2]]), np.array([[0, 1, 0, 0, 1]])),
])
def test_preprocessing(space: gymnasium.Space, observations: np.ndarray, expected: np.ndarray) -> None:
    features = preprocess_observations(tf.constant(observations, dtype=space.dtype), space)
    assert features.dtype == tf.float32
    assert features.shape[1] == flat_dim(space)
    np.testing.assert_array_equal(features.numpy(), expected.astype(np.float32))


def test_vec_env_of_gymnasium_envs_is_accepted() -> None:
    env = VecEnv([gymnasium.make("CartPole-v1") for _ in range(2)])
    model = PPO("MlpPolicy", env, seed=0, **FAST).learn(64)
    assert model.n_envs == 2 and model.num_timesteps == 64
