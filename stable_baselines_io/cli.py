"""The ``sb-io`` command (also ``python -m stable_baselines_io``).

- ``train``: train an algorithm on a gymnasium env, save the agent and its monitor files;
- ``eval``: load an agent and print the mean and std of its episode returns;
- ``inspect``: show what an agent file holds, without TensorFlow and without unpickling;
- ``convert``: re-save a legacy or Stable Baselines 2 file in the current, pickle-free format;
- ``plot``: draw the learning curves of training runs to a picture;
- ``export``: write an agent's policy as a TF SavedModel, TFLite or ONNX file, to run without this library.

TensorFlow is imported only by the commands that build a model (``train``, ``eval``, ``export``),
without its start-up banner (see :mod:`stable_baselines_io.tf_startup`). Help texts are plain text.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from stable_baselines_io.distributed.ray_runtime import LOCAL_ADDRESS
from stable_baselines_io.exceptions import StableBaselinesIOError
from stable_baselines_io.export import EXPORT_FORMATS
from stable_baselines_io.format.url_targets import is_url
from stable_baselines_io.hyperparams import tuned_hyperparameters
from stable_baselines_io.interop import ALGORITHMS, detect_algorithm

#: The exit status of a command that failed with a library error (argparse uses 2 for usage errors too).
ERROR_STATUS = 2

#: The parser's description (plain text: argparse prints it as it is).
DESCRIPTION = "Train, evaluate, inspect, convert, plot and export Stable Baselines agents saved as zip files."


def _algorithm_class(name: str, verbose: bool = False) -> Any:
    from stable_baselines_io.tf_startup import import_tensorflow_quietly

    import_tensorflow_quietly(verbose=verbose)
    if name.lower() == "ppo":
        from stable_baselines_io.ppo import PPO

        return PPO
    if name.lower() == "dqn":
        from stable_baselines_io.dqn import DQN

        return DQN
    if name.lower() == "a2c":
        from stable_baselines_io.a2c import A2C

        return A2C
    raise SystemExit(f"unknown algorithm {name!r}: choose one of {', '.join(ALGORITHMS)}")


def _parse_assignments(pairs: Sequence[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        name, separator, text = pair.partition("=")
        if not separator or not name:
            raise SystemExit(f"expected NAME=VALUE, received {pair!r}")
        try:
            values[name] = json.loads(text)
        except ValueError:
            values[name] = text
    return values


def train(arguments: argparse.Namespace) -> int:
    """Train and save an agent.

    :param arguments: parsed command line
    :return: exit status
    """
    algorithm = _algorithm_class(arguments.algo, verbose=arguments.verbose >= 2)
    hyperparameters = tuned_hyperparameters(arguments.algo, arguments.env) if arguments.tuned else {}
    if arguments.n_envs is not None:
        hyperparameters["n_envs"] = arguments.n_envs
    hyperparameters.update(_parse_assignments(arguments.hyperparameter))
    env, monitor_dir = _training_env(arguments, int(hyperparameters.get("n_envs", 1)))
    from stable_baselines_io.common.atari_wrappers import is_atari_env_id

    policy = arguments.policy or ("CnnPolicy" if is_atari_env_id(arguments.env) else "MlpPolicy")
    model = algorithm(policy, env, seed=arguments.seed, verbose=arguments.verbose, **hyperparameters)
    model.learn(total_timesteps=arguments.timesteps, progress_bar=arguments.progress_bar)
    output_dir = os.path.dirname(os.fspath(arguments.output))
    if output_dir and not is_url(arguments.output):
        os.makedirs(output_dir, exist_ok=True)
    model.save(arguments.output, storage_options=arguments.storage_options)
    model.get_env().close()
    monitored = f"; episodes logged in {monitor_dir}/" if monitor_dir else ""
    print(f"trained {type(model).__name__} on {arguments.env} for {model.num_timesteps} steps; saved to "
          f"{arguments.output}{monitored}")
    return 0


def _training_env(arguments: argparse.Namespace, n_envs: int) -> tuple[Any, str | None]:
    """The environment ``train`` asks for: an env id, or a VecEnv (monitored, Atari-wrapped, in Ray
    actors, normalized).

    :param arguments: parsed command line
    :param n_envs: number of environments
    :return: the environment and the monitor folder (None without monitoring)
    """
    import gymnasium

    from stable_baselines_io.common.atari_wrappers import is_atari_env_id, make_atari_vec_env
    from stable_baselines_io.common.monitor import monitored_env_factories
    from stable_baselines_io.common.vec_env import VecEnv, make_vec_env

    monitor_dir = (arguments.monitor_dir or _run_dir(arguments.output)) if arguments.monitor else None
    if monitor_dir is not None and is_url(monitor_dir):  # monitor files are local: a folder named like the object
        monitor_dir = os.path.basename(monitor_dir.rstrip("/"))
    env: Any
    if is_atari_env_id(arguments.env):
        if arguments.ray_address is not None:
            raise ValueError("--ray-address runs gymnasium env ids in Ray actors; Atari ids train in this process")
        env = make_atari_vec_env(arguments.env, n_envs, monitor_dir)
    elif monitor_dir is None and arguments.ray_address is None:
        env = arguments.env
    else:
        env_fns: Sequence[Callable[[], gymnasium.Env]] = (
            monitored_env_factories(arguments.env, n_envs, monitor_dir) if monitor_dir is not None
            else [functools.partial(gymnasium.make, arguments.env)] * n_envs
        )
        if arguments.ray_address is None:
            env = VecEnv([env_fn() for env_fn in env_fns])
        else:
            from stable_baselines_io.distributed.ray_vec_env import RayVecEnv

            env = RayVecEnv(env_fns, envs_per_actor=arguments.envs_per_actor, address=arguments.ray_address)
    if arguments.normalize:
        from stable_baselines_io.common.vec_normalize import VecNormalize

        env = VecNormalize(make_vec_env(env, n_envs))
    return env, monitor_dir


def _agent_algorithm(path: str, algo: str | None, safe_mode: bool, verbose: bool = False,
                     max_bytes: int | None = None, storage_options: dict[str, Any] | None = None
                     ) -> tuple[str, dict[str, Any]]:
    """The algorithm of an agent file, and the file's metadata.

    Stable Baselines 2's A2C and PPO2 files differ only by their data keys, so the data is decoded,
    which imports the policy classes and TensorFlow: quietly, as the caller builds a model next.

    :param path: the agent file
    :param algo: the algorithm given on the command line, or None to detect it
    :param safe_mode: never run code from the file
    :param verbose: keep TensorFlow's start-up output
    :param max_bytes: the most bytes reading the file may decompress and allocate
    :param storage_options: options for the fsspec backend of a URL
    :return: ``(algorithm name, metadata)``
    """
    from stable_baselines_io.format.files import read_agent_file
    from stable_baselines_io.tf_startup import import_tensorflow_quietly

    import_tensorflow_quietly(verbose=verbose)

    header = read_agent_file(path, safe_mode=safe_mode, max_bytes=max_bytes, storage_options=storage_options)
    names = list(header.params) if isinstance(header.params, dict) else []
    detected = algo or detect_algorithm(header.metadata, names, list(header.data or {}))
    if detected is None:
        raise SystemExit(f"cannot tell the algorithm of {path}: pass --algo {{{','.join(ALGORITHMS)}}}")
    return detected, dict(header.metadata)


def _load_model(path: str, algo: str, arguments: argparse.Namespace, verbose: bool = False) -> Any:
    """Load an agent with the command line's ``--unsafe`` and ``--max-bytes``.

    :param path: the agent file
    :param algo: its algorithm
    :param arguments: parsed command line
    :param verbose: keep TensorFlow's start-up output
    :return: the model
    """
    from stable_baselines_io.format.read_errors import reported_as_corrupt

    model_class = _algorithm_class(algo, verbose=verbose)
    # a value of the wrong type in the file must not end the command with a traceback
    with reported_as_corrupt(path, None, "cannot build a model from the file"):
        return model_class.load(path, safe_mode=not arguments.unsafe, max_bytes=arguments.max_bytes,
                                storage_options=arguments.storage_options)


def _run_dir(output: str) -> str:
    """The folder of a run's monitor files: the agent's path without ``.zip``."""
    return output[:-len(".zip")] if output.endswith(".zip") else output


def evaluate(arguments: argparse.Namespace) -> int:
    """Load an agent and print its mean and standard deviation of episode returns.

    :param arguments: parsed command line
    :return: exit status
    """
    from stable_baselines_io.common.evaluation import evaluate_policy

    algo, metadata = _agent_algorithm(arguments.file, arguments.algo, safe_mode=not arguments.unsafe,
                                      verbose=arguments.verbose, max_bytes=arguments.max_bytes,
                                      storage_options=arguments.storage_options)
    env_id = arguments.env or metadata.get("env_id")
    if not env_id:
        raise SystemExit(f"{arguments.file} does not name its environment: pass --env ENV_ID")
    model = _load_model(arguments.file, algo, arguments, verbose=arguments.verbose)
    from stable_baselines_io.common.atari_wrappers import is_atari_env_id, make_atari_vec_env

    if is_atari_env_id(env_id) and arguments.ray_workers:
        raise ValueError("--ray-workers evaluates gymnasium env ids; Atari ids are evaluated in this process")
    # whole games with their real scores: no life loss ends an episode, rewards are not clipped
    env = make_atari_vec_env(env_id, episode_life=False, clip_rewards=False) if is_atari_env_id(env_id) else env_id
    mean_return, std_return = evaluate_policy(model, env, n_eval_episodes=arguments.episodes,
                                              deterministic=not arguments.stochastic, seed=arguments.seed,
                                              ray_workers=arguments.ray_workers,
                                              ray_address=arguments.ray_address or LOCAL_ADDRESS)
    workers = f" on {arguments.ray_workers} Ray workers" if arguments.ray_workers else ""
    print(f"{env_id}: mean reward {mean_return:.2f} +/- {std_return:.2f} over {arguments.episodes} episodes{workers}")
    return 0


def inspect(arguments: argparse.Namespace) -> int:
    """Print what an agent file holds.

    :param arguments: parsed command line
    :return: exit status
    """
    from stable_baselines_io.inspection import inspect_file

    print(inspect_file(arguments.file, max_bytes=arguments.max_bytes, storage_options=arguments.storage_options))
    return 0


def convert(arguments: argparse.Namespace) -> int:
    """Re-save a legacy or Stable Baselines 2 file in the current, pickle-free format.

    :param arguments: parsed command line
    :return: exit status
    """
    from stable_baselines_io.conversion import convert_file

    custom_objects = _parse_assignments(arguments.custom_object)
    convert_file(arguments.source, arguments.destination, custom_objects=custom_objects,
                 max_bytes=arguments.max_bytes, vecnormalize=arguments.vecnormalize,
                 storage_options=arguments.storage_options)
    print(f"converted {arguments.source} -> {arguments.destination} (zip, no pickle)")
    return 0


def plot(arguments: argparse.Namespace) -> int:
    """Draw the learning curves of runs (folders of monitor files) to a picture.

    :param arguments: parsed command line
    :return: exit status
    """
    try:
        from stable_baselines_io.results_plotter import plot_results, save_figure
    except ImportError as error:
        raise SystemExit(f"sb-io plot needs matplotlib: pip install 'stable-baselines-io[plot]' ({error})") from error

    output = arguments.output or os.path.normpath(arguments.run_dirs[0]) + ".png"
    figure = plot_results(arguments.run_dirs, num_timesteps=arguments.timesteps, xaxis=arguments.xaxis,
                          task_name=arguments.title, smooth=arguments.smooth)
    save_figure(figure, output)
    print(f"plotted {len(arguments.run_dirs)} run(s) to {output}")
    return 0


def export(arguments: argparse.Namespace) -> int:
    """Load an agent and export its policy.

    :param arguments: parsed command line
    :return: exit status
    """
    algo, _ = _agent_algorithm(arguments.agent, arguments.algo, safe_mode=not arguments.unsafe,
                               max_bytes=arguments.max_bytes, storage_options=arguments.storage_options)
    model = _load_model(arguments.agent, algo, arguments)
    written = model.export(arguments.output, format=arguments.format, deterministic=not arguments.stochastic)
    print(f"exported {type(model).__name__} to {written} ({arguments.format})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser.

    :return: the parser
    """
    parser = argparse.ArgumentParser(prog="sb-io", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)

    train_parser = commands.add_parser("train", help="train an agent and save it")
    train_parser.add_argument("--algo", choices=ALGORITHMS, default="ppo")
    train_parser.add_argument("--env", default="CartPole-v1",
                              help="gymnasium env id; Atari ids (PongNoFrameskip-v4) are wrapped as Stable Baselines 2 "
                                   "trained on them (make_atari, wrap_deepmind, 4 frames stacked)")
    train_parser.add_argument("--policy", default=None,
                              help="policy name (default: CnnPolicy for Atari, else MlpPolicy)")
    train_parser.add_argument("--timesteps", type=int, default=50_000)
    train_parser.add_argument("--output", required=True,
                              help="file or fsspec URL (s3://bucket/agent) to save to (.zip is appended)")
    train_parser.add_argument("--seed", type=int, default=None)
    train_parser.add_argument("--n-envs", type=int, default=None, help="environment copies (default: tuned, or 1)")
    train_parser.add_argument("--no-tuned", dest="tuned", action="store_false",
                              help="ignore the tuned hyperparameters known for this algorithm and env")
    train_parser.add_argument("--verbose", type=int, default=0,
                              help="0: quiet, 1: a table of training statistics, 2: also TensorFlow's own logs")
    train_parser.add_argument("--monitor-dir", default=None,
                              help="folder of the monitor files, one per environment (default: the output path "
                                   "without .zip, e.g. agents/ppo-cartpole/)")
    train_parser.add_argument("--no-monitor", dest="monitor", action="store_false",
                              help="do not write monitor files")
    train_parser.add_argument("--normalize", action="store_true",
                              help="train in a VecNormalize (observations and rewards); its statistics are saved "
                                   "in the agent file")
    train_parser.add_argument("--no-progress-bar", dest="progress_bar", action="store_false")
    train_parser.add_argument("--ray-address", default=None, metavar="ADDRESS",
                              help="step the environments in Ray actors: 'local' starts Ray on this machine, 'auto' "
                                   "joins this machine's cluster, or a cluster address (ray://host:10001)")
    train_parser.add_argument("--envs-per-actor", type=int, default=1, help="with --ray-address: environments per "
                                                                            "Ray actor")
    train_parser.add_argument("--hyperparameter", "-p", action="append", default=[], metavar="NAME=VALUE",
                              help="constructor argument, value parsed as JSON (repeatable)")
    _add_storage_options(train_parser)
    train_parser.set_defaults(handler=train)

    eval_parser = commands.add_parser("eval", help="evaluate a saved agent")
    eval_parser.add_argument("file")
    eval_parser.add_argument("--episodes", type=int, default=10)
    eval_parser.add_argument("--env", default=None, help="gymnasium env id (default: the one stored)")
    eval_parser.add_argument("--algo", choices=ALGORITHMS, default=None)
    eval_parser.add_argument("--seed", type=int, default=0, help="episode i is reset with seed + i")
    eval_parser.add_argument("--stochastic", action="store_true", help="sample actions instead of greedy ones")
    eval_parser.add_argument("--ray-workers", type=int, default=None, metavar="N",
                             help="play the episodes on N Ray workers (same returns as the local evaluation)")
    eval_parser.add_argument("--ray-address", default=None, metavar="ADDRESS",
                             help="with --ray-workers: 'local' (default), 'auto' or a cluster address")
    eval_parser.add_argument("--unsafe", action="store_true", help="allow unpickling (trusted files only)")
    eval_parser.add_argument("--verbose", action="store_true", help="also show TensorFlow's own logs")
    _add_max_bytes(eval_parser)
    eval_parser.set_defaults(handler=evaluate)

    inspect_parser = commands.add_parser("inspect", help="show what an agent file holds (no TensorFlow, no pickle)")
    inspect_parser.add_argument("file")
    _add_max_bytes(inspect_parser)
    inspect_parser.set_defaults(handler=inspect)

    convert_parser = commands.add_parser("convert", help="re-save a legacy / Stable Baselines 2 file without pickle")
    convert_parser.add_argument("source")
    convert_parser.add_argument("destination")
    convert_parser.add_argument("--custom-object", "-c", action="append", default=[], metavar="KEY=VALUE",
                                help="replace a stored key that safe mode cannot rebuild; value parsed as JSON")
    convert_parser.add_argument("--vecnormalize", metavar="DIR",
                                help="fold Stable Baselines 2's VecNormalize statistics (a folder with obs_rms.pkl / "
                                     "ret_rms.pkl or vecnormalize.pkl, or one file) into the converted agent")
    _add_max_bytes(convert_parser)
    convert_parser.set_defaults(handler=convert)

    plot_parser = commands.add_parser("plot", help="draw learning curves (episode reward against timesteps) to a "
                                                   "picture")
    plot_parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                             help="folder of monitor files written by sb-io train (several runs are overlaid)")
    plot_parser.add_argument("--output", "-o", default=None,
                             help="picture to write, .png, .svg or .pdf (default: the first RUN_DIR + .png)")
    plot_parser.add_argument("--smooth", type=int, default=20, metavar="N",
                             help="average the reward over the last N episodes (1: no smoothing; default 20, "
                                  "Stable Baselines 2 averaged 100)")
    plot_parser.add_argument("--xaxis", choices=("timesteps", "episodes", "walltime_hrs"), default="timesteps")
    plot_parser.add_argument("--timesteps", type=int, default=None, help="plot only the first TIMESTEPS steps")
    plot_parser.add_argument("--title", default=None, help="figure title (default: the env id)")
    plot_parser.set_defaults(handler=plot)

    export_parser = commands.add_parser("export", help="export an agent's policy to run without this library")
    export_parser.add_argument("agent", help="the agent file")
    export_parser.add_argument("output", help="the SavedModel directory, or the .tflite / .onnx file, to write")
    export_parser.add_argument("--format", choices=EXPORT_FORMATS, default="saved_model",
                               help="onnx needs the 'export' extra (default: saved_model)")
    export_parser.add_argument("--algo", choices=ALGORITHMS, default=None)
    export_parser.add_argument("--stochastic", action="store_true",
                               help="the action signature samples instead of acting greedily (saved_model only)")
    export_parser.add_argument("--unsafe", action="store_true", help="allow unpickling (trusted files only)")
    _add_max_bytes(export_parser)
    export_parser.set_defaults(handler=export)
    return parser


def _add_max_bytes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-bytes", type=_byte_count, default=None, metavar="N",
                        help="most bytes loading the file may decompress and allocate (default: "
                             "max(64 MiB, 1100 x file size)); suffixes K, M, G, T (powers of 1024)")
    _add_storage_options(parser)


def _add_storage_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage-options", type=_json_object, default=None, metavar="JSON",
                        help="options for the fsspec backend of s3://, gs://... URLs, as a JSON object, e.g. "
                             '\'{"client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"}}\' (credentials and '
                             "endpoint can also come from the backend's environment variables)")


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a JSON object, received {text!r} ({error})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, received {text!r}")
    return value


def _byte_count(text: str) -> int:
    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    number, unit = text.strip().upper().rstrip("IB"), ""
    if number and number[-1] in units:
        number, unit = number[:-1], number[-1]
    try:
        value = int(number) * units[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of bytes such as 500M or 2G, received {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of bytes of at least 0, received {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    :param argv: arguments (default: ``sys.argv[1:]``)
    :return: exit status
    """
    arguments = build_parser().parse_args(argv)
    try:
        return int(arguments.handler(arguments))
    except (StableBaselinesIOError, OSError) as error:  # OSError: e.g. no permission to read or write
        print(f"sb-io {arguments.command}: error: {_one_line(error)}", file=sys.stderr)
        return ERROR_STATUS


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
