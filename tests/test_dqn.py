"""DQN: policies named as in Stable Baselines 2, the replay buffers, and the learning loop."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import tensorflow as tf

from stable_baselines_io.common.buffers import PrioritizedReplayBuffer, ReplayBuffer
from stable_baselines_io.dqn import DQN, LnMlpPolicy, MlpPolicy
from stable_baselines_io.exceptions import NoEnvironmentError, UnsupportedFeatureError, UnsupportedSpaceError

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "sb2"
SB2_DQN_FILE = FIXTURES / "dqn__CartPole-v1__deep-q-learning.zip"

# Small and quick: training starts almost at once and happens on every step.
FAST = dict(learning_starts=32, buffer_size=1000, batch_size=16, target_network_update_freq=50,
            policy_kwargs={"layers": [16, 16]})


def stream_names(prefix: str, n_hidden: int, layer_norm: bool) -> list[str]:
    names = []
    for index in range(n_hidden):
        suffix = "" if index == 0 else f"_{index}"
        names += [f"{prefix}/fully_connected{suffix}/weights:0", f"{prefix}/fully_connected{suffix}/biases:0"]
        if layer_norm:
            names += [f"{prefix}/LayerNorm{suffix}/beta:0", f"{prefix}/LayerNorm{suffix}/gamma:0"]
    return names + [f"{prefix}/fully_connected_{n_hidden}/weights:0", f"{prefix}/fully_connected_{n_hidden}/biases:0"]


def expected_names(dueling: bool, layer_norm: bool, n_hidden: int = 2) -> list[str]:
    names = ["deepq/eps:0"]
    for scope in ("deepq/model", "deepq/target_q_func/model"):
        names += stream_names(f"{scope}/action_value", n_hidden, layer_norm)
        if dueling:
            names += stream_names(f"{scope}/state_value", n_hidden, layer_norm)
    return names


def numpy_q_values(params: dict[str, np.ndarray], observations: np.ndarray, scope: str = "deepq/model",
                   layer_norm: bool = False) -> np.ndarray:
    """Stable Baselines 2's DQN forward pass written out in NumPy (relu, optional dueling)."""

    def stream(prefix: str) -> np.ndarray | None:
        if f"{prefix}/fully_connected/weights:0" not in params:
            return None
        features, index = observations.astype(np.float64), 0
        while f"{prefix}/fully_connected_{index + 1}/weights:0" in params:
            suffix = "" if index == 0 else f"_{index}"
            features = features @ params[f"{prefix}/fully_connected{suffix}/weights:0"]
            features = features + params[f"{prefix}/fully_connected{suffix}/biases:0"]
            if layer_norm:
                mean = features.mean(axis=1, keepdims=True)
                variance = features.var(axis=1, keepdims=True)
                features = (features - mean) / np.sqrt(variance + 1e-12)
                features = features * params[f"{prefix}/LayerNorm{suffix}/gamma:0"]
                features = features + params[f"{prefix}/LayerNorm{suffix}/beta:0"]
            features = np.maximum(features, 0.0)
            index += 1
        head = f"{prefix}/fully_connected_{index}"
        return features @ params[f"{head}/weights:0"] + params[f"{head}/biases:0"]

    action_scores = stream(f"{scope}/action_value")
    state_score = stream(f"{scope}/state_value")
    if state_score is None:
        return action_scores
    return state_score + action_scores - action_scores.mean(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def trained() -> DQN:
    return DQN("MlpPolicy", "CartPole-v1", seed=0, **FAST).learn(300)


# --- policies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "policy, policy_kwargs, dueling, layer_norm",
    [
        ("MlpPolicy", {}, True, False),
        ("MlpPolicy", {"dueling": False}, False, False),
        ("LnMlpPolicy", {}, True, True),
        ("MlpPolicy", {"dueling": False, "layer_norm": True}, False, True),
    ],
)
def test_variable_names_and_order_match_stable_baselines(policy, policy_kwargs, dueling, layer_norm):
    model = DQN(policy, "CartPole-v1", policy_kwargs=policy_kwargs, seed=0)
    variables = model.get_parameter_list()
    assert [variable.name for variable in variables] == expected_names(dueling, layer_norm)
    shapes = {variable.name: tuple(variable.shape) for variable in variables}
    assert shapes["deepq/eps:0"] == ()
    assert shapes["deepq/model/action_value/fully_connected/weights:0"] == (4, 64)
    assert shapes["deepq/model/action_value/fully_connected_1/weights:0"] == (64, 64)
    assert shapes["deepq/model/action_value/fully_connected_2/weights:0"] == (64, 2)
    assert shapes["deepq/target_q_func/model/action_value/fully_connected_2/biases:0"] == (2,)
    if dueling:
        assert shapes["deepq/model/state_value/fully_connected_2/weights:0"] == (64, 1)
    if layer_norm:
        assert shapes["deepq/model/action_value/LayerNorm_1/gamma:0"] == (64,)
    assert all(variable.dtype == tf.float32 for variable in variables)


def test_variable_names_follow_the_number_of_layers():
    model = DQN("MlpPolicy", "CartPole-v1", policy_kwargs={"layers": [8, 8, 8]}, seed=0)
    assert [v.name for v in model.get_parameter_list()] == expected_names(True, False, n_hidden=3)


def test_initialisation_like_tensorflow_1():
    q_net = LnMlpPolicy(gymnasium.spaces.Box(-1, 1, (30,)), gymnasium.spaces.Discrete(34),
                        rng=np.random.default_rng(0))
    params = {variable.name: variable.numpy() for variable in q_net.get_parameter_list()}
    weights = params["deepq/model/action_value/fully_connected/weights:0"]
    limit = np.sqrt(6.0 / (30 + 64))
    assert np.abs(weights).max() <= limit and np.abs(weights).max() > 0.9 * limit
    assert not params["deepq/model/action_value/fully_connected/biases:0"].any()
    assert not params["deepq/model/state_value/LayerNorm/beta:0"].any()
    assert (params["deepq/model/state_value/LayerNorm_1/gamma:0"] == 1).all()


@pytest.mark.parametrize("policy_kwargs", [{}, {"dueling": False}, {"layer_norm": True, "layers": [5, 7]}])
def test_forward_pass_equals_stable_baselines_formula(policy_kwargs):
    rng = np.random.default_rng(1)
    q_net = MlpPolicy(gymnasium.spaces.Box(-1, 1, (3,)), gymnasium.spaces.Discrete(4), rng=rng, **policy_kwargs)
    for variable in q_net.get_parameter_list():  # non-trivial LayerNorm and biases too
        variable.assign(rng.normal(size=variable.shape).astype(np.float32))
    params = {variable.name: variable.numpy() for variable in q_net.get_parameter_list()}
    observations = rng.normal(size=(6, 3)).astype(np.float32)
    expected = numpy_q_values(params, observations, layer_norm=policy_kwargs.get("layer_norm", False))
    np.testing.assert_allclose(q_net(observations).numpy(), expected, rtol=1e-4, atol=1e-4)


def test_act_fun_accepts_a_name_or_a_function():
    space, actions = gymnasium.spaces.Box(-1, 1, (3,)), gymnasium.spaces.Discrete(2)
    by_name = MlpPolicy(space, actions, act_fun="tanh", rng=np.random.default_rng(0))
    by_function = MlpPolicy(space, actions, act_fun=tf.nn.tanh, rng=np.random.default_rng(0))
    observations = np.ones((2, 3), dtype=np.float32)
    np.testing.assert_array_equal(by_name(observations).numpy(), by_function(observations).numpy())


def test_unknown_policy_kwarg_is_a_clear_value_error():
    with pytest.raises(ValueError, match=r"Unknown keywords for policy: \['net_arch'\] \(MlpPolicy policy_kwargs "
                       r"accepted: \['act_fun', 'dueling'"):
        DQN("MlpPolicy", "CartPole-v1", policy_kwargs={"net_arch": [64]})
    with pytest.raises(TypeError, match="always uses layer_norm=True"):
        DQN("LnMlpPolicy", "CartPole-v1", policy_kwargs={"layer_norm": False})
    with pytest.raises(ValueError, match=r"layers\[1\] must be a positive layer size"):
        DQN("MlpPolicy", "CartPole-v1", policy_kwargs={"layers": [64, 0]})


def test_continuous_actions_are_refused():
    with pytest.raises(UnsupportedSpaceError, match="DQN supports only Discrete action spaces.*Box"):
        DQN("MlpPolicy", "Pendulum-v1")


def test_param_noise_agents_act_but_cannot_learn():
    model = DQN("MlpPolicy", "CartPole-v1", param_noise=True, policy_kwargs={"layers": [8]})
    assert model.predict(np.zeros(4, dtype=np.float32), deterministic=True)[0] in (0, 1)
    with pytest.raises(UnsupportedFeatureError, match=r"param_noise=True\) cannot learn: parameter-space noise"):
        model.learn(10)
    with pytest.raises(NotImplementedError):
        model.learn(10)


@pytest.mark.skipif(not SB2_DQN_FILE.exists(), reason="Stable Baselines 2 fixtures not available")
def test_stable_baselines_2_parameters_map_name_for_name_and_act_as_stored():
    with zipfile.ZipFile(SB2_DQN_FILE) as archive, archive.open("parameters") as member:
        stored = dict(np.load(io.BytesIO(member.read())))
    model = DQN("MlpPolicy", "CartPole-v1", seed=0)
    model.load_parameters(stored)
    assert set(model.get_parameters()) == set(stored)

    env = gymnasium.make("CartPole-v1")
    returns = []
    for seed in range(20):
        observation, _ = env.reset(seed=seed)
        episode_return, done = 0.0, False
        while not done:
            action, _ = model.predict(observation, deterministic=True)
            assert action == np.argmax(numpy_q_values(stored, observation[None]))
            observation, reward, terminated, truncated, _ = env.step(int(action))
            episode_return, done = episode_return + reward, terminated or truncated
        returns.append(episode_return)
    assert np.mean(returns) == pytest.approx(125.45)  # the reference in fixtures/sb2/SOURCES.md


# --- replay buffers ---------------------------------------------------------------------------


def fill(buffer: ReplayBuffer, count: int, start: int = 0) -> None:
    for step in range(start, start + count):
        buffer.add(np.full(2, step), step % 3, float(step), np.full(2, step + 1), step % 2 == 0)


def test_replay_buffer_wraps_around():
    buffer = ReplayBuffer(5, observation_shape=(2,))
    fill(buffer, 3)
    assert (len(buffer), buffer.pos) == (3, 3)
    assert not buffer.can_sample(4)
    fill(buffer, 4, start=3)
    assert (len(buffer), buffer.pos) == (5, 2)
    # Steps 5 and 6 overwrote the oldest slots 0 and 1.
    np.testing.assert_array_equal(buffer.rewards, [5, 6, 2, 3, 4])
    np.testing.assert_array_equal(buffer.observations[:, 0], [5, 6, 2, 3, 4])
    np.testing.assert_array_equal(buffer.next_observations[:, 0], [6, 7, 3, 4, 5])
    np.testing.assert_array_equal(buffer.dones, [0, 1, 1, 0, 1])


def test_replay_buffer_extend_with_more_than_room_keeps_the_newest():
    buffer = ReplayBuffer(4, observation_shape=())
    steps = np.arange(10)
    buffer.extend(steps, steps, steps, steps + 1, np.zeros(10, dtype=bool))
    assert (len(buffer), buffer.pos) == (4, 2)
    np.testing.assert_array_equal(buffer.rewards, [8, 9, 6, 7])


def test_replay_buffer_samples_stored_transitions_reproducibly():
    buffer = ReplayBuffer(50, observation_shape=(2,))
    fill(buffer, 20)
    batch = buffer.sample((3, 8), np.random.default_rng(7))
    assert batch.observations.shape == (3, 8, 2) and batch.actions.shape == (3, 8)
    assert batch.indices.max() < 20
    # Each sampled row is one consistent transition.
    np.testing.assert_array_equal(batch.observations[..., 0], batch.rewards)
    np.testing.assert_array_equal(batch.next_observations[..., 0], batch.rewards + 1)
    assert (batch.weights == 1).all()
    again = buffer.sample((3, 8), np.random.default_rng(7))
    np.testing.assert_array_equal(batch.indices, again.indices)
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(3, observation_shape=(2,)).sample(1, np.random.default_rng())


@pytest.mark.parametrize("buffer_class", [ReplayBuffer, PrioritizedReplayBuffer])
def test_replay_buffer_state_round_trip(buffer_class):
    buffer = buffer_class(8, observation_shape=(2,))
    fill(buffer, 11)
    if buffer_class is PrioritizedReplayBuffer:
        buffer.update_priorities([1, 2], [5.0, 0.5])
    state = buffer.get_state()
    assert all(isinstance(value, (np.ndarray, int, float)) for value in state.values())
    restored = buffer_class(8, observation_shape=(2,))
    restored.set_state(state)
    for name, value in buffer.get_state().items():
        np.testing.assert_array_equal(restored.get_state()[name], value)
    np.testing.assert_array_equal(restored.sample(6, np.random.default_rng(1)).indices,
                                  buffer.sample(6, np.random.default_rng(1)).indices)


def test_replay_buffer_state_errors_are_all_reported():
    buffer = ReplayBuffer(8, observation_shape=(2,))
    fill(buffer, 3)
    state = buffer.get_state()
    state["buffer_size"], state["rewards"] = 9, np.zeros(2)
    with pytest.raises(ValueError, match=r"buffer_size: expected 8, received 9.*'rewards': expected shape \(3,\)"):
        ReplayBuffer(8, observation_shape=(2,)).set_state(state)
    with pytest.raises(ValueError, match=r"missing the keys \['dones'\]"):
        ReplayBuffer(8, observation_shape=(2,)).set_state({k: v for k, v in state.items() if k != "dones"})


def test_prioritized_replay_samples_in_proportion_to_priority():
    buffer = PrioritizedReplayBuffer(6, observation_shape=(), alpha=1.0)
    fill_values = np.arange(5)
    buffer.extend(fill_values, fill_values, fill_values, fill_values, np.zeros(5))
    np.testing.assert_array_equal(buffer.priorities, np.ones(5))  # new transitions: max priority
    buffer.update_priorities(np.arange(5), [1.0, 2.0, 3.0, 4.0, 0.0001])
    batch = buffer.sample(40000, np.random.default_rng(0), beta=1.0)
    frequencies = np.bincount(batch.indices, minlength=6) / 40000
    np.testing.assert_allclose(frequencies, [0.1, 0.2, 0.3, 0.4, 0.0, 0.0], atol=0.01)
    # Importance weights (N * P(i)) ** -beta, normalised by the largest one (the rarest transition).
    total = 10.0001
    expected = (5 * np.array([1.0, 2.0, 3.0, 4.0]) / total) ** -1.0 / (5 * 0.0001 / total) ** -1.0
    for index in range(4):
        np.testing.assert_allclose(batch.weights[batch.indices == index], expected[index], rtol=1e-5)
    # A new transition gets the largest priority seen so far.
    buffer.add(5, 0, 0.0, 6, False)
    assert buffer.priorities[5] == pytest.approx(4.0)


def test_prioritized_replay_alpha_flattens_priorities():
    buffer = PrioritizedReplayBuffer(4, observation_shape=(), alpha=0.5)
    buffer.extend(np.arange(4), np.arange(4), np.arange(4), np.arange(4), np.zeros(4))
    buffer.update_priorities([0, 1, 2, 3], [1.0, 4.0, 9.0, 16.0])
    np.testing.assert_allclose(buffer.priorities, [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="positive"):
        buffer.update_priorities([0], [0.0])
    with pytest.raises(ValueError, match="one priority per index"):
        buffer.update_priorities([0, 1], [1.0])


# --- the model --------------------------------------------------------------------------------


def test_learn_smoke_and_counters(trained):
    assert trained.num_timesteps == 300
    assert len(trained.replay_buffer) == 300
    assert trained.num_episodes == len(trained.episode_returns) > 0
    # Epsilon decayed to its final value over the first 10% of training, and is stored in deepq/eps.
    assert trained.get_parameters()["deepq/eps:0"] == pytest.approx(0.02)


def test_predict_single_and_batch(trained):
    action, state = trained.predict(np.zeros(4, dtype=np.float32))
    assert np.shape(action) == () and trained.action_space.contains(int(action)) and state is None
    actions, _ = trained.predict(np.zeros((7, 4)))
    assert actions.shape == (7,)
    with pytest.raises(ValueError, match="observation shape"):
        trained.predict(np.zeros(3))


def test_deterministic_predict_is_argmax_of_q_values(trained):
    observations = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    actions, _ = trained.predict(observations, deterministic=True)
    np.testing.assert_array_equal(actions, np.argmax(trained.q_net(observations).numpy(), axis=1))
    q_values = numpy_q_values(trained.get_parameters(), observations)
    np.testing.assert_allclose(trained.q_net(observations).numpy(), q_values, rtol=1e-4, atol=1e-5)


def test_stochastic_predict_uses_the_current_epsilon(trained):
    observations = np.zeros((2000, 4), dtype=np.float32)
    greedy, _ = trained.predict(observations, deterministic=True)
    saved_epsilon = trained.epsilon.numpy()
    try:
        trained.epsilon.assign(0.5)
        actions, _ = trained.predict(observations)
        # Half are random, half of those happen to equal the greedy action.
        assert np.mean(actions != greedy) == pytest.approx(0.25, abs=0.05)
        trained.epsilon.assign(0.0)
        np.testing.assert_array_equal(trained.predict(observations)[0], greedy)
    finally:
        trained.epsilon.assign(saved_epsilon)


def test_target_network_is_copied_at_target_network_update_freq():
    def online_and_target(model: DQN) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return ([v.numpy() for v in model.q_net.get_parameter_list()],
                [v.numpy() for v in model.q_net_target.get_parameter_list()])

    model = DQN("MlpPolicy", "CartPole-v1", seed=0, **{**FAST, "target_network_update_freq": 100})
    online, target = online_and_target(model)
    assert all(np.array_equal(a, b) for a, b in zip(online, target))  # equal after setup
    model.learn(99)
    online, target = online_and_target(model)
    assert not any(np.array_equal(a, b) for a, b in zip(online[::2], target[::2]))  # trained, not copied
    model.learn(1, reset_num_timesteps=False)  # step 100: train, then copy
    online, target = online_and_target(model)
    assert all(np.array_equal(a, b) for a, b in zip(online, target))


def test_same_seed_gives_identical_parameters():
    first = DQN("MlpPolicy", "CartPole-v1", seed=3, **FAST).learn(200)
    second = DQN("MlpPolicy", "CartPole-v1", seed=3, **FAST).learn(200)
    other = DQN("MlpPolicy", "CartPole-v1", seed=4, **FAST).learn(200)
    for name, value in first.get_parameters().items():
        np.testing.assert_array_equal(value, second.get_parameters()[name], err_msg=name)
    np.testing.assert_array_equal(first.replay_buffer.actions, second.replay_buffer.actions)
    assert first.rng.bit_generator.state == second.rng.bit_generator.state
    assert not np.array_equal(first.get_parameters()["deepq/model/action_value/fully_connected/weights:0"],
                              other.get_parameters()["deepq/model/action_value/fully_connected/weights:0"])


def test_batched_gradient_steps_equal_one_step_at_a_time():
    batched = DQN("MlpPolicy", "CartPole-v1", seed=5, train_freq=8, gradient_steps=4, **FAST)
    stepwise = DQN("MlpPolicy", "CartPole-v1", seed=5, train_freq=8, gradient_steps=4, **FAST)
    batched.learn(80)
    stepwise.learn(80)
    batch = batched.replay_buffer.sample((4, 16), np.random.default_rng(0))
    arrays = (batch.observations, batch.actions, batch.rewards, batch.next_observations, batch.dones, batch.weights)
    batched._train_fn(*arrays)
    for index in range(4):
        stepwise._train_fn(*(array[index:index + 1] for array in arrays))
    for name, value in batched.get_parameters().items():
        np.testing.assert_array_equal(value, stepwise.get_parameters()[name], err_msg=name)


def test_second_learn_continues_the_running_episodes():
    model = DQN("MlpPolicy", "CartPole-v1", seed=0, **FAST).learn(50)
    last_observation = model._last_obs.copy()
    episodes = model.num_episodes
    model.learn(30, reset_num_timesteps=False)
    assert model.num_timesteps == 80
    assert model.num_episodes >= episodes
    # The first stored transition of the second call starts from where the first call stopped.
    np.testing.assert_array_equal(model.replay_buffer.observations[50], last_observation[0])
    model.set_env("CartPole-v1")
    assert model._last_obs is None  # a new environment starts new episodes


def test_truncated_episodes_bootstrap_from_their_last_observation():
    env = gymnasium.make("CartPole-v1", max_episode_steps=5)
    model = DQN("MlpPolicy", env, seed=0, exploration_initial_eps=0.0, exploration_final_eps=0.0,
                learning_starts=1000, buffer_size=100)
    model.learn(12)
    buffer = model.replay_buffer
    assert not buffer.dones[:12].any()  # the policy balances 5 steps: every episode was truncated
    for step in (4, 9):  # the last step of each episode
        assert not np.array_equal(buffer.next_observations[step], buffer.observations[step + 1])
    for step in (0, 1, 2, 3, 5, 6):
        np.testing.assert_array_equal(buffer.next_observations[step], buffer.observations[step + 1])


def test_terminated_episodes_are_done():
    model = DQN("MlpPolicy", "CartPole-v1", seed=0, learning_starts=1000, buffer_size=500)
    model.learn(200)
    buffer = model.replay_buffer
    assert buffer.dones[:200].sum() == model.num_episodes > 0


def test_callback_returning_false_stops_learning():
    calls = []

    def callback(local_vars, global_vars):
        calls.append(local_vars["self"].num_timesteps)
        return len(calls) < 10

    model = DQN("MlpPolicy", "CartPole-v1", seed=0, **FAST).learn(100, callback=callback)
    assert model.num_timesteps == 10 and calls == list(range(1, 11))


def test_several_environments():
    model = DQN("MlpPolicy", "CartPole-v1", n_envs=3, seed=0, train_freq=4, **FAST).learn(90)
    assert model.n_envs == 3 and model.num_timesteps == 90 and len(model.replay_buffer) == 90
    assert model.optimizer.iterations.numpy() > 0


def test_discrete_observations():
    model = DQN("MlpPolicy", "FrozenLake-v1", seed=0, **FAST).learn(100)
    assert model.get_parameters()["deepq/model/action_value/fully_connected/weights:0"].shape == (16, 16)
    action, _ = model.predict(3, deterministic=True)
    assert 0 <= int(action) < 4


def test_prioritized_replay_learns_and_updates_priorities():
    model = DQN("MlpPolicy", "CartPole-v1", seed=0, prioritized_replay=True, **FAST).learn(150)
    assert isinstance(model.replay_buffer, PrioritizedReplayBuffer)
    priorities = model.replay_buffer.priorities
    assert len(np.unique(priorities)) > 10  # TD errors replaced the initial priority
    assert model.replay_buffer.max_priority >= priorities.max() ** (1 / model.prioritized_replay_alpha) - 1e-9
    assert model.optimizer.iterations.numpy() == 150 - 32


def test_verbose_learning_prints_a_table(capsys):
    DQN("MlpPolicy", "CartPole-v1", seed=0, verbose=1, **FAST).learn(100, log_interval=2)
    output = capsys.readouterr().out
    for key in ("% time spent exploring", "episodes", "mean 100 episode reward", "steps"):
        assert key in output


def test_learn_without_environment_raises(tmp_path, trained):
    with pytest.raises(NoEnvironmentError, match="needs an environment"):
        DQN("MlpPolicy", None)
    trained.save(tmp_path / "agent")
    loaded = DQN.load(tmp_path / "agent")
    np.testing.assert_array_equal(loaded.predict(np.ones((3, 4)), deterministic=True)[0],
                                  trained.predict(np.ones((3, 4)), deterministic=True)[0])
    with pytest.raises(NoEnvironmentError, match="set_env"):
        loaded.learn(10)
    loaded.set_env("CartPole-v1")
    loaded.learn(10)


def test_callback_sees_each_step_complete():
    seen = []

    def callback(local_vars, global_vars):
        model = local_vars["self"]
        seen.append((model.num_timesteps, len(model.replay_buffer), model.optimizer.iterations.numpy()))
        return model.num_timesteps < 40

    model = DQN("MlpPolicy", "CartPole-v1", seed=0, **FAST).learn(100, callback=callback)
    # The step that stops training is stored and trained on, as in a run that goes on.
    assert seen[-1] == (40, 40, 40 - FAST["learning_starts"])
    assert model.num_timesteps == 40 and model.replay_buffer.size == 40


def test_learn_after_changing_the_number_of_environments_resets_them():
    model = DQN("MlpPolicy", "CartPole-v1", seed=0, **FAST).learn(10)
    model._last_obs = np.zeros((2, 4), dtype=np.float32)  # as if saved with two environments
    with pytest.warns(UserWarning, match="resetting it"):
        model.learn(5, reset_num_timesteps=False)
    assert model._last_obs.shape == (1, 4) and model.num_timesteps == 15
