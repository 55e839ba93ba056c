"""One measurement per process, called by ``run_all.py``: prints ``RESULT <json>`` as its last line.

Peak memory is read from the kernel, not from an allocator hook, so that it counts everything a
contender allocates (NumPy, Rust, PyTorch, TensorFlow) the same way: writing ``5`` to
``/proc/self/clear_refs`` resets the peak resident set size (``VmHWM``) to the current one, the
operation runs, and ``VmHWM`` minus the resident size before it is the peak *extra* memory.

Tasks (``python benchmarks/measure.py TASK --help``):

- ``format-time``: save and load times of every format contender at one size, interleaved;
- ``format-memory``: peak extra memory of one contender's save and load, in a fresh process;
- ``small-agent``: save, load and first predict of a CartPole agent (ours or Stable-Baselines3);
- ``parameters``: ``get_parameters`` / ``load_parameters`` of 200 64x64 variables vs raw TensorFlow;
- ``sb3-learning``: Stable-Baselines3 PPO or DQN on CartPole-v1 with the rl-zoo hyperparameters.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402

#: Arrays per model in the format benchmark (100 M parameters in 20 arrays of 5 M).
N_ARRAYS = 20
FORMAT_CONTENDERS = ("ours", "ours_file_object", "safetensors", "safetensors_fsync", "numpy")
CARTPOLE = "CartPole-v1"
#: Agents loaded one after the other in the evaluation-sweep measurement.
SWEEP_AGENTS = 100


# --- memory ----------------------------------------------------------------------------------------


def _status() -> dict[str, int]:
    values = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(value.split()[0]) * 1024
    return values


def peak_extra_memory(operation: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``operation`` and measure how far the resident set grew above its size before it.

    :param operation: what to measure
    :return: the operation's result and the peak extra resident bytes
    """
    gc.collect()
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
        clear_refs.write("5")  # peak RSS := current RSS
    before = _status()["VmRSS"]
    result = operation()
    return result, max(0, _status()["VmHWM"] - before)


def best_of(operation: Callable[[], Any], repeats: int) -> dict[str, float]:
    """Wall times of ``repeats`` runs.

    :return: ``min_s`` and ``median_s``
    """
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        operation()
        times.append(time.perf_counter() - start)
    return {"min_s": min(times), "median_s": float(np.median(times))}


# --- format: ours vs safetensors vs numpy ----------------------------------------------------------


def make_params(n_parameters: int) -> OrderedDict[str, np.ndarray]:
    """``n_parameters`` float32 parameters (random, incompressible) in :data:`N_ARRAYS` arrays."""
    rng = np.random.default_rng(0)
    size = n_parameters // N_ARRAYS
    return OrderedDict((f"model/layer{index}/w:0", rng.standard_normal(size, dtype=np.float32))
                       for index in range(N_ARRAYS))


def format_contender(name: str, folder: Path) -> tuple[Path, Callable[[dict], None], Callable[[], dict]]:
    """``(path, save(params), load() -> params)`` of one contender, each fully materialising arrays."""
    if name in ("ours", "ours_file_object"):
        from stable_baselines_io.format.files import load_from_file, save_to_file

        path = folder / "agent.zip"
        if name == "ours":
            def save(params: dict) -> None:  # the public path API: atomic write, fsync
                save_to_file(path, data={"gamma": 0.99}, params=params)
        else:
            def save(params: dict) -> None:  # the format alone: into an open file, no fsync, no rename
                with open(path, "wb") as file:
                    save_to_file(file, data={"gamma": 0.99}, params=params)
        return path, save, lambda: load_from_file(path)[1]
    if name in ("safetensors", "safetensors_fsync"):
        import safetensors.numpy

        path = folder / "model.safetensors"

        def save(params: dict) -> None:
            safetensors.numpy.save_file(params, path)
            if name == "safetensors_fsync":  # as durable as our path API: the file's and the folder's fsync
                for target, flags in ((path, os.O_RDONLY), (folder, os.O_RDONLY | os.O_DIRECTORY)):
                    descriptor = os.open(target, flags)
                    try:
                        os.fsync(descriptor)
                    finally:
                        os.close(descriptor)

        return path, save, lambda: safetensors.numpy.load_file(path)
    if name == "numpy":
        path = folder / "model.npz"

        def load() -> dict:
            with np.load(path) as archive:
                return {key: archive[key] for key in archive.files}

        return path, lambda params: np.savez(path, **params), load
    raise ValueError(f"unknown contender {name!r}")


def task_format_time(args: argparse.Namespace) -> dict[str, Any]:
    params = make_params(args.size)
    with tempfile.TemporaryDirectory(dir=args.tmp) as folder_name:
        folder = Path(folder_name)
        contenders = {name: format_contender(name, folder) for name in args.contenders}
        times: dict[str, dict[str, list[float]]] = {name: {"save": [], "load": []} for name in contenders}
        for repeat in range(args.repeats + 1):  # the first round warms caches and is not counted
            order = list(contenders)[repeat % len(contenders):] + list(contenders)[:repeat % len(contenders)]
            for name in order:
                path, save, load = contenders[name]
                path.unlink(missing_ok=True)  # every contender writes a new file (no old blocks to free)
                start = time.perf_counter()
                save(params)
                saved = time.perf_counter() - start
                start = time.perf_counter()
                loaded = load()
                load_time = time.perf_counter() - start
                if repeat == 0:
                    assert all(np.array_equal(loaded[key], value) for key, value in params.items()), name
                else:
                    times[name]["save"].append(saved)
                    times[name]["load"].append(load_time)
                del loaded
        file_sizes = {name: contenders[name][0].stat().st_size for name in contenders}
    return {
        "size": args.size,
        "parameter_bytes": int(sum(value.nbytes for value in params.values())),
        "contenders": {
            name: {
                "save_s": min(times[name]["save"]), "save_median_s": float(np.median(times[name]["save"])),
                "load_s": min(times[name]["load"]), "load_median_s": float(np.median(times[name]["load"])),
                "file_bytes": file_sizes[name],
            }
            for name in contenders
        },
    }


def task_format_memory(args: argparse.Namespace) -> dict[str, Any]:
    params = make_params(args.size)
    with tempfile.TemporaryDirectory(dir=args.tmp) as folder_name:
        path, save, load = format_contender(args.contender, Path(folder_name))
        # Warm the imports with a tiny model: a full-size warm-up would leave freed heap memory
        # resident that the measured save then reuses unseen (run_all.py also sets
        # MALLOC_MMAP_THRESHOLD_ so that large blocks always go back to the system when freed).
        save({"warm": np.zeros(8, dtype=np.float32)})
        load()
        path.unlink()
        _, save_peak = peak_extra_memory(functools.partial(save, params))
        del params
        loaded, load_peak = peak_extra_memory(load)
        del loaded
    return {"contender": args.contender, "size": args.size, "save_peak_extra_bytes": save_peak,
            "load_peak_extra_bytes": load_peak}


# --- small agents: ours vs Stable-Baselines3 -------------------------------------------------------


def _set_threads(threads: int, framework: str) -> None:
    if framework == "ours":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    else:
        import torch

        torch.set_num_threads(threads)


def _algorithm(framework: str, algorithm: str) -> type:
    if framework == "ours":
        from stable_baselines_io.dqn import DQN
        from stable_baselines_io.ppo import PPO
    else:
        from stable_baselines3 import DQN, PPO
    return {"ppo": PPO, "dqn": DQN}[algorithm]


def task_small_agent(args: argparse.Namespace) -> dict[str, Any]:
    """``--cold``: a fresh process that only imports, then loads ``--path`` and predicts once.
    Otherwise: build and save an agent to ``--path``, then time saves and load + first predict."""
    start = time.perf_counter()
    algorithm = _algorithm(args.framework, args.algorithm)
    import_s = time.perf_counter() - start
    _set_threads(args.threads, args.framework)
    observation = np.zeros(4, dtype=np.float32)
    path = Path(args.path)
    if args.cold:
        start = time.perf_counter()
        model = algorithm.load(path)
        loaded = time.perf_counter()
        model.predict(observation, deterministic=True)
        predicted = time.perf_counter()
        return {"import_s": import_s, "load_s": loaded - start, "first_predict_s": predicted - loaded,
                "load_and_first_predict_s": predicted - start}
    model = algorithm("MlpPolicy", CARTPOLE, seed=0)
    model.save(path)
    n_parameters = int(sum(np.prod(value.shape) for value in _parameter_arrays(args.framework, model)))
    model = algorithm.load(path)
    model.predict(observation, deterministic=True)

    def load_and_predict() -> None:
        algorithm.load(path).predict(observation, deterministic=True)

    def load_only() -> None:
        algorithm.load(path)

    def save_into_open_file() -> None:  # no fsync, no rename: what Stable-Baselines3's save(path) does
        with open(path, "wb") as file:
            model.save(file)

    # The evaluation-sweep pattern: --sweep-agents different files, each loaded and asked for one action.
    sweep_paths = [path.with_name(f"{path.stem}_sweep{index}.zip") for index in range(args.sweep_agents)]
    for sweep_path in sweep_paths:
        sweep_path.write_bytes(path.read_bytes())

    def sweep() -> None:
        for sweep_path in sweep_paths:
            algorithm.load(sweep_path).predict(observation, deterministic=True)

    results = {
        "sweep": best_of(sweep, max(1, args.repeats // 5)),
        "save_file_object": best_of(save_into_open_file, args.repeats),
    }
    if args.framework == "ours":
        # The fsync cost apart: the same atomic save to a path with os.fsync made a no-op.
        from unittest import mock

        with mock.patch("os.fsync"):
            results["save_without_fsync"] = best_of(lambda: model.save(path), args.repeats)
    for sweep_path in sweep_paths:
        sweep_path.unlink()
    model.save(path)
    return {
        **results,
        "import_s": import_s,
        "parameters": n_parameters,
        "file_bytes": path.stat().st_size,
        "save": best_of(lambda: model.save(path), args.repeats),
        "load": best_of(load_only, args.repeats),
        "load_and_first_predict": best_of(load_and_predict, args.repeats),
        "predict": best_of(lambda: model.predict(observation, deterministic=True), 200),
    }


def _parameter_arrays(framework: str, model: Any) -> list[Any]:
    if framework == "ours":
        return list(model.get_parameters().values())
    return [value for value in model.policy.state_dict().values()]


# --- get_parameters / load_parameters vs raw TensorFlow --------------------------------------------


def task_parameters(args: argparse.Namespace) -> dict[str, Any]:
    import tensorflow as tf

    from stable_baselines_io.common.save_load import SaveLoadMixin

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    shape = tuple(args.shape)
    rng = np.random.default_rng(0)

    class Model(SaveLoadMixin):
        def __init__(self) -> None:
            self.variables = [tf.Variable(rng.standard_normal(shape, dtype=np.float32), name=f"layer{index}/w")
                              for index in range(args.n_variables)]

        def get_parameter_list(self) -> list[tf.Variable]:
            return self.variables

    model = Model()
    variables = model.variables
    values = OrderedDict((variable.name, rng.standard_normal(shape, dtype=np.float32)) for variable in variables)
    arrays = list(values.values())
    tensors = [tf.convert_to_tensor(array) for array in arrays]
    specs = [tf.TensorSpec(shape, tf.float32)] * len(variables)
    results: dict[str, Any] = {"n_variables": args.n_variables, "shape": list(shape),
                               "bytes": int(sum(array.nbytes for array in arrays))}

    def timed(label: str, operation: Callable[[], Any]) -> None:
        operation()
        results[label] = best_of(operation, args.repeats)

    # the library
    timed("get_parameters", model.get_parameters)
    timed("load_parameters", lambda: model.load_parameters(values))
    # the library before issue 6: per variable, through Variable.numpy() / Variable.assign()
    timed("get_parameters_before", lambda: OrderedDict((v.name, np.array(v.numpy())) for v in variables))

    def assign_before() -> None:
        for variable, array in zip(variables, arrays):
            variable.assign(array)

    timed("load_parameters_before", assign_before)

    # raw TensorFlow: one traced function doing every assignment / read (traced outside the timing)
    def assign_all(new_values: list[tf.Tensor]) -> None:
        for variable, value in zip(variables, new_values):
            variable.assign(value)

    start = time.perf_counter()
    assign_graph = tf.function(assign_all).get_concrete_function(specs)
    results["tf_function_assign_trace_s"] = time.perf_counter() - start
    timed("tf_function_assign_tensors", lambda: assign_graph(tensors))
    timed("tf_function_assign_numpy", lambda: assign_graph(arrays))
    read_graph = tf.function(lambda: [variable.read_value() for variable in variables]).get_concrete_function()
    timed("tf_function_read", lambda: [tensor.numpy() for tensor in read_graph()])
    # one flat buffer per call: a single conversion, split inside the graph
    sizes = [int(np.prod(shape))] * len(variables)

    def assign_flat(flat: tf.Tensor) -> None:
        for variable, part in zip(variables, tf.split(flat, sizes)):
            variable.assign(tf.reshape(part, shape))

    flat_graph = tf.function(assign_flat).get_concrete_function(tf.TensorSpec((sum(sizes),), tf.float32))
    timed("tf_function_assign_flat", lambda: flat_graph(np.concatenate([array.reshape(-1) for array in arrays])))
    model.load_parameters(values)
    assert all(np.array_equal(variable.numpy(), values[variable.name]) for variable in variables)
    return results


# --- Stable-Baselines3 learning (the peer of bench_learning.py) --------


def task_sb3_learning(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from stable_baselines3 import DQN, PPO
    from stable_baselines3.common.env_util import make_vec_env

    from stable_baselines_io.common.evaluation import evaluate_policy

    torch.set_num_threads(args.threads)
    if args.algorithm == "ppo":
        # rl-zoo PPO CartPole-v1 (as bench_learning.py --algo ppo): batch = n_steps * n_envs / nminibatches
        env = make_vec_env(CARTPOLE, n_envs=8, seed=args.seed)
        model = PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                    ent_coef=0.0, learning_rate=lambda progress: 1e-3 * progress,
                    clip_range=lambda progress: 0.2 * progress, seed=args.seed, device="cpu")
    else:
        # rl-zoo DQN CartPole-v1 (as bench_learning.py --algo dqn)
        env = make_vec_env(CARTPOLE, n_envs=1, seed=args.seed)
        model = DQN("MlpPolicy", env, learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
                    learning_starts=1000, gamma=0.99, target_update_interval=10, train_freq=256,
                    gradient_steps=128, exploration_fraction=0.16, exploration_final_eps=0.04,
                    policy_kwargs={"net_arch": [256, 256]}, seed=args.seed, device="cpu")
    start = time.perf_counter()
    model.learn(total_timesteps=args.timesteps)
    wall_time = time.perf_counter() - start
    returns, _ = evaluate_policy(model, CARTPOLE, n_eval_episodes=20, deterministic=True, return_episode_rewards=True,
                                 seed=0)
    return {"timesteps": int(model.num_timesteps), "wall_time_s": wall_time,
            "env_steps_per_s": model.num_timesteps / wall_time, "mean_reward": float(np.mean(returns)),
            "std_reward": float(np.std(returns)), "eval_episodes": 20}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    tasks = parser.add_subparsers(dest="task", required=True)
    task = tasks.add_parser("format-time")
    task.add_argument("--size", type=int, required=True)
    task.add_argument("--repeats", type=int, default=3)
    task.add_argument("--contenders", nargs="+", default=list(FORMAT_CONTENDERS))
    task.add_argument("--tmp", default=None, help="folder for the files (default: the system's)")
    task = tasks.add_parser("format-memory")
    task.add_argument("--size", type=int, required=True)
    task.add_argument("--contender", required=True, choices=FORMAT_CONTENDERS)
    task.add_argument("--tmp", default=None)
    task = tasks.add_parser("small-agent")
    task.add_argument("--framework", choices=("ours", "sb3"), required=True)
    task.add_argument("--algorithm", choices=("ppo", "dqn"), required=True)
    task.add_argument("--path", required=True)
    task.add_argument("--cold", action="store_true")
    task.add_argument("--repeats", type=int, default=10)
    task.add_argument("--threads", type=int, default=1)
    task.add_argument("--sweep-agents", type=int, default=SWEEP_AGENTS)
    task = tasks.add_parser("parameters")
    task.add_argument("--n-variables", type=int, default=200)
    task.add_argument("--shape", type=int, nargs="+", default=[64, 64], help="shape of each variable")
    task.add_argument("--repeats", type=int, default=30)
    task.add_argument("--threads", type=int, default=1)
    task = tasks.add_parser("sb3-learning")
    task.add_argument("--algorithm", choices=("ppo", "dqn"), required=True)
    task.add_argument("--timesteps", type=int, required=True)
    task.add_argument("--seed", type=int, default=0)
    task.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    handler = {"format-time": task_format_time, "format-memory": task_format_memory,
               "small-agent": task_small_agent, "parameters": task_parameters,
               "sb3-learning": task_sb3_learning}[args.task]
    result = handler(args)
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
