"""Stable Baselines 2 files of TRPO, PPO1, ACER and ACKTR, and of policy classes this library does not
have: which class loads them, how their parameters are mapped, and that the loaded agent acts as a
NumPy forward pass over the stored arrays does (real rl-baselines-zoo files and files written in
Stable Baselines 2's layouts)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
from sb2_files import (
    actor_critic_action_output,
    dense_shapes,
    dqn_q_values,
    random_arrays,
    write_sb2_pickle,
)

from stable_baselines_io import A2C, DQN, PPO, interop
from stable_baselines_io.cli import main as cli_main
from stable_baselines_io.common.evaluation import evaluate_policy
from stable_baselines_io.common.policies import MlpPolicy
from stable_baselines_io.conversion import convert_file
from stable_baselines_io.exceptions import (
    AlgorithmMismatchError,
    InferredPolicyWarning,
    ParameterMismatchError,
    PolicyInferenceError,
    UnsafeObjectError,
)
from stable_baselines_io.format.files import read_agent_file

ZOO = "zoo"
CARTPOLE_OBSERVATIONS = gymnasium.spaces.Box(-5.0, 5.0, (4,), np.float32)
SB2_MLP = "stable_baselines.common.policies.MlpPolicy"
#: The zoo DQN's 25 arrays: the exploration rate, then the online and the target network.
ZOO_DQN_NAMES = ["deepq/eps:0"] + [
    f"deepq/{network}/{stream}/{layer}"
    for network in ("model", "target_q_func/model")
    for stream in ("action_value", "state_value")
    for layer in ("fully_connected/weights:0", "fully_connected/biases:0", "LayerNorm/beta:0", "LayerNorm/gamma:0",
                  "fully_connected_1/weights:0", "fully_connected_1/biases:0")
]
#: Stable Baselines 2's actor-critic MlpPolicy (64, 64) parameter order, as the legacy lists hold it.
MLP_ORDER = ["pi_fc0/w", "pi_fc0/b", "vf_fc0/w", "vf_fc0/b", "pi_fc1/w", "pi_fc1/b", "vf_fc1/w", "vf_fc1/b",
             "vf/w", "vf/b", "pi/w", "pi/b", "q/w", "q/b"]


def _zoo_file(sb2_fixture_dir: Path, name: str) -> Path:
    return sb2_fixture_dir / ZOO / name


def _references(sb2_fixture_dir: Path) -> dict[str, float]:
    entries = json.loads((sb2_fixture_dir / ZOO / "references.json").read_text())
    return {entry["file"]: entry["mean_reward"] for entry in entries}


def _load(cls: type, path: Path, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy format's warning
        return cls.load(path, **kwargs)


def _stored_list(path: Path) -> list[np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        params = read_agent_file(path, load_data=False).params
    assert isinstance(params, list)
    return params


def _mlp_params(values: list[np.ndarray]) -> dict[str, np.ndarray]:
    return {f"model/{name}:0": value for name, value in zip(MLP_ORDER, values)}


def _observations(seed: int, size: int = 256, dimension: int = 4, scale: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=(size, dimension)) * scale).astype(np.float32)


# --- TRPO: the acting policy, then the old policy ---------------------------------------------------


def test_zoo_trpo_file_loads_with_ppo_and_acts_as_its_acting_policy(sb2_fixture_dir: Path) -> None:
    path = _zoo_file(sb2_fixture_dir, "trpo/CartPole-v1.pkl")
    stored = _stored_list(path)
    assert len(stored) == 28
    model = _load(PPO, path)
    loaded = model.get_parameters()
    assert [name for name in loaded] == [f"model/{name}:0" for name in MLP_ORDER]
    for (name, value), expected in zip(loaded.items(), stored[:14]):
        np.testing.assert_array_equal(value, expected, err_msg=name)
    assert (model.gamma, model.lam) == (0.99, 1)
    observations = _observations(0, scale=0.5)
    reference = actor_critic_action_output(_mlp_params(stored[:14]), observations).argmax(axis=1)
    np.testing.assert_array_equal(model.predict(observations, deterministic=True)[0], reference)
    assert not np.array_equal(stored[0], stored[14])  # the old policy is another network: it is not the one used


def test_zoo_trpo_file_loads_with_load_parameters(sb2_fixture_dir: Path) -> None:
    path = _zoo_file(sb2_fixture_dir, "trpo/CartPole-v1.pkl")
    model = PPO("MlpPolicy", "CartPole-v1", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model.load_parameters(path)
    np.testing.assert_array_equal(model.get_parameters()["model/pi/w:0"], _stored_list(path)[10])


@pytest.mark.slow
@pytest.mark.parametrize("cls, name, env_id", [(PPO, "trpo/CartPole-v1.pkl", "CartPole-v1"),
                                                (DQN, "dqn/Acrobot-v1.pkl", "Acrobot-v1")])
def test_zoo_files_reproduce_their_reference_reward(sb2_fixture_dir: Path, cls: type, name: str, env_id: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InferredPolicyWarning)
        model = _load(cls, _zoo_file(sb2_fixture_dir, name))
    returns, _ = evaluate_policy(model, env_id, n_eval_episodes=20, deterministic=True, return_episode_rewards=True,
                                 seed=0)
    assert float(np.mean(returns)) == _references(sb2_fixture_dir)[f"{ZOO}/{name}"]


def _trpo_box_arrays(seed: int) -> dict[str, np.ndarray]:
    shapes = {**dense_shapes("model/pi_fc0", 3, 32), **dense_shapes("model/vf_fc0", 3, 32),
              **dense_shapes("model/vf", 32, 1), **dense_shapes("model/pi", 32, 1), "model/pi/logstd:0": (1, 1),
              **dense_shapes("model/q", 32, 1)}
    return random_arrays(shapes, seed)


@pytest.mark.parametrize("layout", ["list", "names"])
def test_trpo_file_with_box_actions_acts_as_its_acting_policy(tmp_path: Path, layout: str) -> None:
    acting = _trpo_box_arrays(seed=1)
    old = _trpo_box_arrays(seed=2)
    params: Any = [*acting.values(), *old.values()] if layout == "list" else \
        {**acting, **{f"oldpi/{name}": value for name, value in old.items()}}
    action_space = gymnasium.spaces.Box(-2.0, 2.0, (1,), np.float32)
    path = write_sb2_pickle(tmp_path / "trpo.pkl", "TRPO", SB2_MLP, gymnasium.spaces.Box(-8, 8, (3,), np.float32),
                            action_space, params, policy_kwargs={"net_arch": [{"pi": [32], "vf": [32]}]})
    model = _load(PPO, path)
    assert list(model.get_parameters()) == list(acting)
    observations = _observations(3, dimension=3)
    mean = actor_critic_action_output(acting, observations)
    actions = model.predict(observations, deterministic=True)[0]
    np.testing.assert_allclose(actions, np.clip(mean, -2.0, 2.0), atol=1e-5)
    assert np.any(np.abs(mean) > 2.0) and np.any(np.abs(mean) < 2.0)  # both sides of the bounds were checked


def test_ppo1_file_with_only_its_acting_policy_loads(tmp_path: Path) -> None:
    acting = _trpo_box_arrays(seed=4)
    path = write_sb2_pickle(tmp_path / "ppo1.pkl", "PPO1", SB2_MLP, gymnasium.spaces.Box(-8, 8, (3,), np.float32),
                            gymnasium.spaces.Box(-2.0, 2.0, (1,), np.float32), list(acting.values()),
                            policy_kwargs={"net_arch": [{"pi": [32], "vf": [32]}]})
    model = _load(PPO, path)
    np.testing.assert_array_equal(model.get_parameters()["model/pi/logstd:0"], acting["model/pi/logstd:0"])


def test_a_list_twice_as_long_is_split_only_for_algorithms_that_store_an_old_policy(tmp_path: Path) -> None:
    arrays = list(random_arrays({**dense_shapes("model/pi_fc0", 4, 8), **dense_shapes("model/vf_fc0", 4, 8),
                                 **dense_shapes("model/vf", 8, 1), **dense_shapes("model/pi", 8, 2),
                                 **dense_shapes("model/q", 8, 2)}, seed=5).values())
    path = write_sb2_pickle(tmp_path / "ppo2.pkl", "PPO2", SB2_MLP, CARTPOLE_OBSERVATIONS,
                            gymnasium.spaces.Discrete(2), arrays + arrays, policy_kwargs={"net_arch": [{"pi": [8],
                                                                                                      "vf": [8]}]})
    with pytest.raises(ParameterMismatchError, match=r"20 parameters as a list, the policy has 10: Stable Baselines "
                                                     r"2's TRPO and PPO1 files list .*'oldpi/\.\.\.'.*data of Stable "
                                                     r"Baselines 2's PPO2, whose files hold 10.*not split by guess"):
        _load(PPO, path)
    model = PPO("MlpPolicy", "CartPole-v1", policy_kwargs={"net_arch": [{"pi": [8], "vf": [8]}]}, seed=0)
    with pytest.raises(ParameterMismatchError, match=r"no data to tell its algorithm.*not split by guess"), \
            pytest.warns(DeprecationWarning, match="from a list is deprecated"):
        model.load_parameters(arrays + arrays)


def test_an_old_policy_that_does_not_repeat_the_acting_one_is_an_error(tmp_path: Path) -> None:
    acting = _trpo_box_arrays(seed=6)
    old = dict(acting)
    old["model/pi/w:0"] = np.zeros((32, 2), np.float32)
    spaces = (gymnasium.spaces.Box(-8, 8, (3,), np.float32), gymnasium.spaces.Box(-2.0, 2.0, (1,), np.float32))
    named = {**acting, **{f"oldpi/{name}": value for name, value in old.items()}, "oldpi/model/extra:0": np.ones(1)}
    path = write_sb2_pickle(tmp_path / "named.pkl", "TRPO", SB2_MLP, *spaces, named,
                            policy_kwargs={"net_arch": [{"pi": [32], "vf": [32]}]})
    with pytest.raises(ParameterMismatchError, match=r"must repeat the acting policy's names and shapes.*"
                                                     r"'oldpi/model/pi/w:0' has shape \(32, 2\), 'model/pi/w:0' "
                                                     r"\(32, 1\).*'oldpi/model/extra:0' copies no acting parameter"):
        _load(PPO, path)
    listed = write_sb2_pickle(tmp_path / "listed.pkl", "TRPO", SB2_MLP, *spaces, [*acting.values(), *old.values()],
                              policy_kwargs={"net_arch": [{"pi": [32], "vf": [32]}]})
    with pytest.raises(ParameterMismatchError, match=r"the copy's arrays at \[6\] differ in shape"):
        _load(PPO, listed)


# --- ACER and ACKTR: the actor-critic policy, played by A2C ---------------------------------------


def test_zoo_acer_file_loads_with_a2c_and_acts_as_its_arrays(sb2_fixture_dir: Path) -> None:
    path = _zoo_file(sb2_fixture_dir, "acer/MountainCar-v0.pkl")
    stored = _stored_list(path)
    model = _load(A2C, path)
    assert (model.n_steps, model.lr_schedule, model.n_envs) == (20, "linear", 16)
    for value, expected in zip(model.get_parameters().values(), stored):
        np.testing.assert_array_equal(value, expected)
    # observations already normalized by the file's VecNormalize statistics (clipped to +-10)
    observations = _observations(7, size=512, dimension=2, scale=2.0)
    reference = actor_critic_action_output(_mlp_params(stored), observations).argmax(axis=1)
    np.testing.assert_array_equal(model.predict(observations, deterministic=True)[0], reference)
    assert {0, 2} <= set(reference.tolist())  # both pushes occur (the agent never idles): the comparison says something


@pytest.mark.parametrize("name, wrong_class, right_class", [
    ("acer/MountainCar-v0.pkl", PPO, "A2C"),
    ("trpo/CartPole-v1.pkl", A2C, "PPO"),
    ("a2c/CartPole-v1.pkl", PPO, "A2C"),
])
def test_each_stable_baselines_2_algorithm_names_the_class_that_loads_it(sb2_fixture_dir: Path, name: str,
                                                                          wrong_class: type, right_class: str) -> None:
    algorithm = name.split("/")[0].upper()
    with pytest.raises(AlgorithmMismatchError, match=rf"Stable Baselines 2's {algorithm}.*{right_class}\.load"):
        _load(wrong_class, _zoo_file(sb2_fixture_dir, name))


def test_acktr_file_loads_with_a2c_and_acts_as_its_arrays(tmp_path: Path) -> None:
    shapes = {**dense_shapes("model/shared_fc0", 4, 16), **dense_shapes("model/pi_fc0", 16, 8),
              **dense_shapes("model/vf_fc0", 16, 8), **dense_shapes("model/vf", 8, 1),
              **dense_shapes("model/pi", 8, 3), **dense_shapes("model/q", 8, 3)}
    arrays = random_arrays(shapes, seed=8)
    path = write_sb2_pickle(tmp_path / "acktr.pkl", "ACKTR", SB2_MLP, CARTPOLE_OBSERVATIONS,
                            gymnasium.spaces.Discrete(3), list(arrays.values()),
                            policy_kwargs={"net_arch": [16, {"pi": [8], "vf": [8]}]})
    model = _load(A2C, path)
    assert (model.n_steps, model.vf_coef, model.lr_schedule) == (20, 0.25, "linear")
    observations = _observations(9)
    np.testing.assert_array_equal(model.predict(observations, deterministic=True)[0],
                                  actor_critic_action_output(arrays, observations).argmax(axis=1))
    with pytest.raises(AlgorithmMismatchError, match=r"Stable Baselines 2's ACKTR.*A2C\.load"):
        _load(PPO, path)


def test_unsupported_stable_baselines_2_algorithms_are_named(tmp_path: Path) -> None:
    path = write_sb2_pickle(tmp_path / "ddpg.pkl", "DDPG", "stable_baselines.ddpg.policies.MlpPolicy",
                            CARTPOLE_OBSERVATIONS, gymnasium.spaces.Box(-1, 1, (1,), np.float32), [np.ones(2)])
    for cls in (PPO, A2C, DQN):
        with pytest.raises(AlgorithmMismatchError, match=r"Stable Baselines 2's DDPG.*does not load.*no DDPG"):
            _load(cls, path, policy=MlpPolicy)


# --- policy classes this library does not have: rebuilt from the arrays ---------------------------


def test_zoo_dqn_with_its_own_policy_class_is_rebuilt_from_its_arrays(sb2_fixture_dir: Path) -> None:
    path = _zoo_file(sb2_fixture_dir, "dqn/Acrobot-v1.pkl")
    with pytest.warns(InferredPolicyWarning, match=r"utils\.CustomDQNPolicy is not this library's.*"
                                                   r"dqn\.policies\.MlpPolicy with policy_kwargs=\{'layers': \[64\], "
                                                   r"'dueling': True, 'layer_norm': True, 'act_fun': 'relu'\} "
                                                   r"\(act_fun='relu': Stable Baselines 2's default"):
        model = _load(DQN, path)
    stored = dict(zip(ZOO_DQN_NAMES, _stored_list(path)))
    assert list(model.get_parameters()) == ZOO_DQN_NAMES
    observations = _observations(10, size=512, dimension=6, scale=2.0)
    np.testing.assert_array_equal(model.predict(observations, deterministic=True)[0],
                                  dqn_q_values(stored, observations).argmax(axis=1))
    assert model.policy_kwargs == {"layers": [64], "dueling": True, "layer_norm": True, "act_fun": "relu"}


def test_convert_rebuilds_the_zoo_dqn_policy_from_its_arrays_and_the_file_plays_with_a_plain_load(
        sb2_fixture_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _zoo_file(sb2_fixture_dir, "dqn/Acrobot-v1.pkl")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.warns(InferredPolicyWarning, match=r"utils\.CustomDQNPolicy is not this library's.*"
                                                       r"load the file with DQN\.load\(path, policy=\.\.\."):
            convert_file(path, tmp_path / "acrobot.zip")
    assert cli_main(["inspect", str(tmp_path / "acrobot.zip")]) == 0
    report = capsys.readouterr().out
    assert "policy: dqn.MlpPolicy -> stable_baselines_io.dqn.policies.MlpPolicy" in report
    assert ("architecture (from policy_kwargs, matching the arrays): "
            "{'layers': [64], 'dueling': True, 'layer_norm': True, 'act_fun': 'relu'}") in report
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = DQN.load(tmp_path / "acrobot.zip")
    returns, _ = evaluate_policy(model, "Acrobot-v1", n_eval_episodes=20, deterministic=True, seed=0,
                                 return_episode_rewards=True)
    assert np.mean(returns) == _references(sb2_fixture_dir)["zoo/dqn/Acrobot-v1.pkl"]


def test_convert_refuses_an_unknown_policy_class_of_an_algorithm_no_class_plays(tmp_path: Path) -> None:
    path = write_sb2_pickle(tmp_path / "ddpg.pkl", "DDPG", "my_project.MyPolicy", CARTPOLE_OBSERVATIONS,
                            gymnasium.spaces.Box(-1, 1, (1,), np.float32), [np.ones(2, np.float32)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(PolicyInferenceError, match=r"my_project\.MyPolicy is not this library's.*not of a Stable "
                                                       r"Baselines 2 algorithm this library plays"):
            convert_file(path, tmp_path / "ddpg.zip")


def test_the_remedy_of_the_migration_guide_still_works(sb2_fixture_dir: Path) -> None:
    from stable_baselines_io.dqn.policies import MlpPolicy as DQNPolicy

    path = _zoo_file(sb2_fixture_dir, "dqn/Acrobot-v1.pkl")
    with warnings.catch_warnings():
        warnings.simplefilter("error", InferredPolicyWarning)
        model = _load(DQN, path, policy=DQNPolicy, policy_kwargs={"layers": [64], "layer_norm": True})
    assert model.policy is DQNPolicy and model.policy_kwargs == {"layers": [64], "layer_norm": True}


def _shared_layer_arrays(seed: int) -> dict[str, np.ndarray]:
    shapes = {**dense_shapes("model/shared_fc0", 4, 32), **dense_shapes("model/pi_fc0", 32, 16),
              **dense_shapes("model/vf_fc0", 32, 8), **dense_shapes("model/vf_fc1", 8, 8),
              **dense_shapes("model/vf", 8, 1), **dense_shapes("model/pi", 16, 2), **dense_shapes("model/q", 8, 2)}
    return random_arrays(shapes, seed)


@pytest.mark.parametrize("layout", ["list", "names"])
def test_users_actor_critic_policy_with_shared_layers_is_rebuilt(tmp_path: Path, layout: str) -> None:
    arrays = _shared_layer_arrays(seed=11)
    path = write_sb2_pickle(tmp_path / "custom.pkl", "PPO2", "utils.utils.CustomMlpPolicy", CARTPOLE_OBSERVATIONS,
                            gymnasium.spaces.Discrete(2), list(arrays.values()) if layout == "list" else arrays)
    with pytest.warns(InferredPolicyWarning, match=r"utils\.utils\.CustomMlpPolicy.*common\.policies\.MlpPolicy with "
                                                   r"policy_kwargs=\{'net_arch': \[32, \{'pi': \[16\], 'vf': \[8, 8\]"
                                                   r"\}\], 'act_fun': 'tanh'\}"):
        model = _load(PPO, path)
    observations = _observations(12)
    np.testing.assert_array_equal(model.predict(observations, deterministic=True)[0],
                                  actor_critic_action_output(arrays, observations).argmax(axis=1))
    with pytest.warns(InferredPolicyWarning, match=r"'act_fun': 'relu'\}, which is used instead"):
        relu = _load(PPO, path, policy_kwargs={"act_fun": "relu"})
    assert relu.policy_kwargs["act_fun"] == "relu"
    np.testing.assert_array_equal(
        relu.predict(observations, deterministic=True)[0],
        actor_critic_action_output(arrays, observations, activation=lambda x: np.maximum(x, 0)).argmax(axis=1))


def test_rebuilt_policy_is_saved_as_the_library_policy(tmp_path: Path) -> None:
    arrays = _shared_layer_arrays(seed=13)
    path = write_sb2_pickle(tmp_path / "custom.pkl", "PPO2", "utils.utils.CustomMlpPolicy", CARTPOLE_OBSERVATIONS,
                            gymnasium.spaces.Discrete(2), arrays)
    with pytest.warns(InferredPolicyWarning):
        model = _load(PPO, path)
    model.save(tmp_path / "ours")
    with warnings.catch_warnings():
        warnings.simplefilter("error", InferredPolicyWarning)
        again = PPO.load(tmp_path / "ours")
    assert again.policy is MlpPolicy and again.policy_kwargs == model.policy_kwargs


@pytest.mark.parametrize("dueling", [True, False])
def test_users_dqn_policy_with_layer_norm_is_rebuilt(tmp_path: Path, dueling: bool) -> None:
    shapes: dict[str, tuple[int, ...]] = {"deepq/eps:0": ()}
    for network in ("deepq/model", "deepq/target_q_func/model"):
        for stream, outputs in [("action_value", 3), ("state_value", 1)][: 2 if dueling else 1]:
            inputs = 4
            for index, size in enumerate([24, 12]):
                suffix = f"_{index}" if index else ""
                shapes[f"{network}/{stream}/fully_connected{suffix}/weights:0"] = (inputs, size)
                shapes[f"{network}/{stream}/fully_connected{suffix}/biases:0"] = (size,)
                shapes[f"{network}/{stream}/LayerNorm{suffix}/beta:0"] = (size,)
                shapes[f"{network}/{stream}/LayerNorm{suffix}/gamma:0"] = (size,)
                inputs = size
            shapes[f"{network}/{stream}/fully_connected_2/weights:0"] = (inputs, outputs)
            shapes[f"{network}/{stream}/fully_connected_2/biases:0"] = (outputs,)
    arrays = random_arrays(shapes, seed=14)
    path = write_sb2_pickle(tmp_path / "custom_dqn.pkl", "DQN", "utils.CustomDQNPolicy", CARTPOLE_OBSERVATIONS,
                            gymnasium.spaces.Discrete(3), list(arrays.values()))
    with pytest.warns(InferredPolicyWarning, match=rf"'layers': \[24, 12\], 'dueling': {dueling}, 'layer_norm': True"):
        model = _load(DQN, path)
    observations = _observations(15, size=512, scale=2.0)
    np.testing.assert_array_equal(model.predict(observations, deterministic=True)[0],
                                  dqn_q_values(arrays, observations).argmax(axis=1))


def test_an_ambiguous_list_lists_the_layouts_and_given_kwargs_choose(tmp_path: Path) -> None:
    arrays = list(random_arrays({**dense_shapes("model/pi_fc0", 4, 64), **dense_shapes("model/vf_fc0", 4, 64),
                                 **dense_shapes("model/pi_fc1", 64, 64), **dense_shapes("model/vf_fc1", 64, 64),
                                 **dense_shapes("model/vf", 64, 1), **dense_shapes("model/pi", 64, 2),
                                 **dense_shapes("model/q", 64, 2)}, seed=16).values())
    path = write_sb2_pickle(tmp_path / "ambiguous.pkl", "PPO2", "utils.utils.CustomMlpPolicy", CARTPOLE_OBSERVATIONS,
                            gymnasium.spaces.Discrete(2), arrays)
    with pytest.raises(PolicyInferenceError, match=r"utils\.utils\.CustomMlpPolicy is not this library's.*14 arrays "
                                                   r"fit 3 different .*MlpPolicy layouts.*policy_kwargs=\{'net_arch': "
                                                   r"\[\{'pi': \[64, 64\], 'vf': \[64, 64\]\}\]\}") as error:
        _load(PPO, path)
    assert isinstance(error.value, UnsafeObjectError)  # as before the architecture was inferred
    with pytest.warns(InferredPolicyWarning, match=r"'net_arch': \[\{'pi': \[64, 64\], 'vf': \[64, 64\]\}\]"):
        model = _load(PPO, path, policy_kwargs={"layers": [64, 64]})
    np.testing.assert_array_equal(model.get_parameters()["model/pi_fc1/w:0"], arrays[4])


def test_arrays_no_library_policy_has_give_what_load_needs(tmp_path: Path) -> None:
    arrays = [np.ones((4, 8), np.float32), np.ones(8, np.float32), np.ones((8, 2), np.float32)]
    path = write_sb2_pickle(tmp_path / "odd.pkl", "PPO2", "utils.OddPolicy", CARTPOLE_OBSERVATIONS,
                            gymnasium.spaces.Discrete(2), arrays)
    with pytest.raises(PolicyInferenceError, match=r"utils\.OddPolicy is not this library's.*no .*MlpPolicy layout "
                                                   r"has exactly its parameters \(\[0\] \(4, 8\), \[1\] \(8,\), \[2\] "
                                                   r"\(8, 2\)\).*policy=<a library policy class> and policy_kwargs="):
        _load(PPO, path)
    with pytest.raises(PolicyInferenceError, match=r"with the given policy_kwargs=\{'net_arch': \[7\]\}"):
        _load(PPO, write_sb2_pickle(tmp_path / "custom.pkl", "PPO2", "utils.utils.CustomMlpPolicy",
                                    CARTPOLE_OBSERVATIONS, gymnasium.spaces.Discrete(2),
                                    _shared_layer_arrays(seed=17)), policy_kwargs={"net_arch": [7]})


def test_only_a_class_named_by_reference_is_inferred_never_a_call(tmp_path: Path) -> None:
    path = tmp_path / "call.pkl"
    write_sb2_pickle(path, "PPO2", "builtins.print", CARTPOLE_OBSERVATIONS, gymnasium.spaces.Discrete(2),
                     list(_shared_layer_arrays(seed=18).values()))
    with pytest.warns(InferredPolicyWarning, match=r"builtins\.print is not this library's"):
        model = _load(PPO, path)  # the reference is a name only: print is never called nor imported as a policy
    assert model.policy is MlpPolicy


# --- sb-io inspect ----------------------------------------------------------------------------------


def test_inspect_reports_the_policy_class_the_library_class_and_the_architecture(sb2_fixture_dir: Path,
                                                                                tmp_path: Path) -> None:
    from stable_baselines_io.inspection import inspect_file

    dqn = inspect_file(_zoo_file(sb2_fixture_dir, "dqn/Acrobot-v1.pkl"))
    assert "Stable Baselines 2 algorithm: DQN (loaded by DQN.load)" in dqn
    assert ("policy: utils.CustomDQNPolicy, not this library's (never imported) -> load() rebuilds "
            "stable_baselines_io.dqn.policies.MlpPolicy") in dqn
    assert ("architecture (inferred from the arrays): policy_kwargs={'layers': [64], 'dueling': True, "
            "'layer_norm': True, 'act_fun': 'relu'} (assumed, not recorded: {'act_fun': 'relu'})") in dqn
    trpo = inspect_file(_zoo_file(sb2_fixture_dir, "trpo/CartPole-v1.pkl"))
    assert "Stable Baselines 2 algorithm: TRPO (loaded by PPO.load)" in trpo
    assert "policy: actor_critic.MlpPolicy -> stable_baselines_io.common.policies.MlpPolicy" in trpo
    assert ("architecture (from policy_kwargs, matching the arrays): {'net_arch': [{'pi': [64, 64], 'vf': [64, 64]}], "
            "'act_fun': 'tanh'}") in trpo
    assert "old policy: 14 arrays ('oldpi/...'" in trpo
    unsupported = inspect_file(write_sb2_pickle(
        tmp_path / "ddpg.pkl", "DDPG", "stable_baselines.ddpg.policies.MlpPolicy", CARTPOLE_OBSERVATIONS,
        gymnasium.spaces.Box(-1, 1, (1,), np.float32), [np.ones(2)]))
    assert "Stable Baselines 2 algorithm: DDPG (not supported: this library has no DDPG" in unsupported
    arrays = [np.ones((4, 64), np.float32), np.ones(64, np.float32)] * 2 + [np.ones((64, 64), np.float32),
                                                                            np.ones(64, np.float32)] * 2
    heads = [np.ones((64, 1), np.float32), np.ones(1, np.float32)] + [np.ones((64, 2), np.float32),
                                                                      np.ones(2, np.float32)] * 2
    ambiguous = inspect_file(write_sb2_pickle(tmp_path / "ambiguous.pkl", "PPO2", "utils.utils.CustomMlpPolicy",
                                              CARTPOLE_OBSERVATIONS, gymnasium.spaces.Discrete(2), arrays + heads))
    assert "policy: utils.utils.CustomMlpPolicy, not this library's (never imported) -> cannot tell" in ambiguous
    assert "fit 3 different" in ambiguous


def test_a_converted_trpo_file_holds_its_acting_policy_and_loads_with_ppo(sb2_fixture_dir: Path,
                                                                         tmp_path: Path) -> None:
    import zipfile

    from stable_baselines_io.conversion import convert_file
    from stable_baselines_io.interop import detect_algorithm

    path = _zoo_file(sb2_fixture_dir, "trpo/CartPole-v1.pkl")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        convert_file(path, tmp_path / "trpo")
    with zipfile.ZipFile(tmp_path / "trpo.zip") as archive:
        assert json.loads(archive.read("metadata"))["algorithm"] == "PPO"
        assert json.loads(archive.read("parameter_list")) == [f"model/{name}:0" for name in MLP_ORDER]
    model = PPO.load(tmp_path / "trpo.zip")
    for value, expected in zip(model.get_parameters().values(), _stored_list(path)[:14]):
        np.testing.assert_array_equal(value, expected)
    assert detect_algorithm({}, [], ["timesteps_per_batch", "max_kl", "cg_iters"]) == "ppo"  # sb-io eval's choice
    assert detect_algorithm({}, ["model/pi/w:0"], ["q_coef", "replay_ratio", "rprop_alpha"]) == "a2c"


def test_a_file_object_is_read_again_from_where_it_was_for_the_rebuilt_policy(sb2_fixture_dir: Path) -> None:
    import io

    payload = _zoo_file(sb2_fixture_dir, "dqn/Acrobot-v1.pkl").read_bytes()
    stream = io.BytesIO(b"ignored prefix" + payload)
    stream.seek(len(b"ignored prefix"))
    with pytest.warns(InferredPolicyWarning):
        model = _load(DQN, stream)
    assert list(model.get_parameters()) == ZOO_DQN_NAMES


# --- CNN and recurrent policies of TRPO, PPO1, ACER and ACKTR -------------------------------------


IMAGES = gymnasium.spaces.Box(0, 255, (36, 36, 1), np.uint8)


def _cnn_arrays() -> dict[str, np.ndarray]:
    return random_arrays(interop.actor_critic_parameter_shapes({}, 36 * 36, 3, False, image_shape=(36, 36, 1)), seed=11)


def _lstm_arrays() -> dict[str, np.ndarray]:
    return random_arrays(interop.recurrent_parameter_shapes({"n_lstm": 8}, 4, 3, False), seed=12)


@pytest.mark.parametrize("algorithm, model_class, policy, arrays, copies", [
    ("ACER", A2C, "CnnPolicy", _cnn_arrays, 1),
    ("ACKTR", A2C, "CnnPolicy", _cnn_arrays, 1),
    ("TRPO", PPO, "CnnPolicy", _cnn_arrays, 2),
    ("PPO1", PPO, "CnnPolicy", _cnn_arrays, 2),
    ("ACER", A2C, "MlpLstmPolicy", _lstm_arrays, 1),
    ("ACKTR", A2C, "MlpLstmPolicy", _lstm_arrays, 1),
])
def test_cnn_and_recurrent_files_of_other_algorithms_load_with_the_class_that_plays_them(
        tmp_path: Path, algorithm: str, model_class: type, policy: str, arrays: Any, copies: int) -> None:
    stored = arrays()
    observations = IMAGES if policy == "CnnPolicy" else CARTPOLE_OBSERVATIONS
    path = write_sb2_pickle(tmp_path / "agent.pkl", algorithm, f"stable_baselines.common.policies.{policy}",
                            observations, gymnasium.spaces.Discrete(3), list(stored.values()) * copies,
                            policy_kwargs={"n_lstm": 8} if "Lstm" in policy else None)
    model = _load(model_class, path)
    assert type(model.policy_net).__name__ == policy
    loaded = model.get_parameters()
    assert list(loaded) == list(stored)
    for name, value in stored.items():
        np.testing.assert_array_equal(loaded[name], value)
