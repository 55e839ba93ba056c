"""Every exception the library raises.

Each class subclasses the builtin a caller would catch, and the one Stable Baselines raised in the
same situation, so ``except ValueError`` / ``except RuntimeError`` clauses written for Stable
Baselines keep working.
"""

from __future__ import annotations

import os


class StableBaselinesIOError(Exception):
    """Base class of every error raised by stable-baselines-io."""


class AgentFileError(StableBaselinesIOError):
    """A problem with one agent file, or one member inside it.

    :param message: what went wrong
    :param path: the file (or a description of the file object) concerned
    :param member: the archive member or data key concerned, when there is one
    """

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None, member: str | None = None):
        where = []
        if path is not None:
            where.append(f"file {str(path)!r}")
        if member is not None:
            where.append(f"member {member!r}")
        text = f"{message} ({', '.join(where)})" if where else message
        super().__init__(text)
        # set after the builtin's __init__: ImportError's resets its own ``path`` attribute
        self.path = None if path is None else str(path)
        self.member = member


class AgentFileNotFoundError(AgentFileError, ValueError, FileNotFoundError):
    """The file does not exist (Stable Baselines raised ``ValueError`` here)."""


class SavePathIsADirectoryError(AgentFileError, IsADirectoryError):
    """A save was asked to write onto a directory."""


class SaveTargetChangedError(AgentFileError, PermissionError):
    """The temporary file of a save was replaced (e.g. by a symlink) before it was renamed over the
    target: the save refuses to go on."""


class StorageBackendMissingError(AgentFileError, ImportError):
    """A URL needs fsspec, or the fsspec backend of its protocol (``s3fs`` for ``s3://``...), and it is
    not installed; the message says which ``pip install`` fixes it."""


class StorageCredentialsError(AgentFileError, PermissionError):
    """The object store found no credentials, or refused the ones given (botocore's
    ``NoCredentialsError``, an ``AccessDenied`` / ``InvalidAccessKeyId`` answer...)."""


class CorruptAgentFileError(AgentFileError, ValueError):
    """The file is not a readable agent file: empty, truncated, not a zip nor a pickle, a missing
    member, invalid JSON, a CRC error, an implausible declared size (zip bomb)..."""


class NormalizationStatisticsError(AgentFileError, ValueError):
    """Normalization statistics (a ``vec_normalize`` member, a statistics file, Stable Baselines 2's
    ``obs_rms.pkl`` / ``ret_rms.pkl`` / pickled ``VecNormalize``) are missing, of the wrong type or
    shape, negative variances, NaN, or do not match the observation space."""


class DeserializationError(AgentFileError, RuntimeError):
    """A stored object could not be rebuilt (Stable Baselines raised ``RuntimeError`` here)."""


class UnsafeObjectError(DeserializationError):
    """Rebuilding a stored object would run code from the file, and the caller did not opt in."""


class UnknownPolicyClassError(UnsafeObjectError):
    """The ``policy`` data key names a class that is not this library's (a user's or the
    rl-baselines-zoo's, e.g. ``utils.CustomDQNPolicy``); safe mode did not import it.

    ``load`` catches it to rebuild an equivalent library policy from the stored arrays (see
    :mod:`stable_baselines_io.architecture`).

    :param message: what went wrong
    :param stored_class: the class the file names, ``"module.qualname"``
    :param path: the file
    :param member: the archive member
    """

    def __init__(self, message: str, stored_class: str, path: str | os.PathLike[str] | None = None,
                 member: str | None = None):
        self.stored_class = stored_class
        super().__init__(message, path=path, member=member)


class UnsupportedFormatVersionError(AgentFileError, ValueError):
    """The file was written by a newer format version than this library reads."""


class SerializationError(StableBaselinesIOError, TypeError):
    """A value cannot be written to an agent file."""


class ParameterMismatchError(StableBaselinesIOError, ValueError, RuntimeError):
    """Parameters given to ``load_parameters`` do not match the model's variables (missing names,
    shapes, dtypes that cannot be cast without loss). Stable Baselines 2 and 3 raised
    ``RuntimeError`` here."""


class UnknownParameterError(ParameterMismatchError, KeyError):
    """``load_parameters`` received names the model has no variable for (Stable Baselines 2 raised
    ``KeyError`` here)."""

    # KeyError quotes its message; keep the plain text of every other error.
    __str__ = Exception.__str__


class SpaceMismatchError(StableBaselinesIOError, ValueError):
    """An environment's observation or action space differs from the model's."""


class PolicyKwargsMismatchError(StableBaselinesIOError, ValueError):
    """``policy_kwargs`` given to ``load`` differ from the ones stored in the file."""


class AlgorithmMismatchError(StableBaselinesIOError, ValueError):
    """The file holds an agent of another algorithm than the class used to load it."""


class NoEnvironmentError(StableBaselinesIOError, ValueError):
    """An operation needs an environment and the model has none."""


class UnknownPolicyError(StableBaselinesIOError, ValueError):
    """A policy class (or alias) that this library cannot build."""


class PolicyInferenceError(UnknownPolicyClassError, UnknownPolicyError):
    """The file's policy class is not this library's and no library policy has exactly its parameter
    names and shapes, or several have them: the message lists what ``load`` needs (``policy=``,
    ``policy_kwargs=``). An :class:`UnsafeObjectError` too, as before the architecture was inferred."""


class UnknownPolicyKwargsError(StableBaselinesIOError, ValueError, TypeError):
    """``policy_kwargs`` names an argument the policy does not take (Stable Baselines 2 raised
    ``ValueError("Unknown keywords for policy: ...")``; Python raises ``TypeError`` for an unknown
    keyword argument, so both are caught)."""


class UnsupportedSpaceError(StableBaselinesIOError, ValueError, NotImplementedError):
    """A policy cannot handle this observation or action space (Stable Baselines raised
    ``NotImplementedError`` here)."""


class EnvApiMismatchError(StableBaselinesIOError, TypeError, ValueError):
    """A gymnasium env where the VecEnv API is expected, or the reverse (e.g. a VecEnv given to
    ``Monitor``, or gymnasium's ``(observation, info)`` reset result given to ``predict``)."""


class UnsupportedFeatureError(StableBaselinesIOError, NotImplementedError):
    """A Stable Baselines option this library does not implement (e.g. DQN ``param_noise=True``)."""


class RewardThresholdError(StableBaselinesIOError, AssertionError):
    """``evaluate_policy(..., reward_threshold=...)``: the mean reward is not above the threshold
    (Stable Baselines asserted this, so ``except AssertionError`` keeps working)."""


class MonitorResultsError(StableBaselinesIOError, ValueError):
    """A folder has no monitor file, or a file that is not one (``load_results``)."""


class ReplayBufferMismatchError(StableBaselinesIOError, ValueError):
    """A stored replay buffer does not fit the model's (class, size, shapes or dtypes differ)."""


class LoadBudgetExceededError(CorruptAgentFileError, MemoryError):
    """Loading the file would use more memory or work than its load budget allows.

    The message names the limit, the numbers and how to raise it (``max_bytes=``). Subclasses
    ``MemoryError`` too, so code that guards against out-of-memory loads keeps catching it.
    """


class InvalidStoredValueError(DeserializationError, ValueError):
    """A stored value fails validation before anything is built from it: a dtype that is not plain
    numeric or bool, data whose length does not match its shape and dtype, a random-generator state
    out of range, space bounds of disagreeing shapes, a value of the wrong type or range for the
    model (``n_envs``, ``policy_kwargs``...)."""


class RefusedObjectError(UnsafeObjectError):
    """Safe mode refuses an object a pickle asks for (a function, an unknown class, a call it does
    not allow). Readers re-raise it as :class:`UnsafeObjectError` naming the data key.

    :param description: what the pickle asked for, e.g. ``"a pickled function 'f' (module m)"``
    :param path: the file
    :param member: the archive member or data key
    :param reference: the qualified name, when the pickle refers to a class or function by name
    """

    def __init__(self, description: str, path: str | os.PathLike[str] | None = None, member: str | None = None,
                 reference: str | None = None):
        self.description = description
        #: ``"module.qualname"`` when the refused object is a reference to a class or function.
        self.reference = reference
        super().__init__(f"the pickle holds {description}, which safe mode does not rebuild because unpickling it "
                         "could run code from the file", path=path, member=member)


class UnsupportedExportError(StableBaselinesIOError, ValueError):
    """An export format cannot express what was asked: an unknown format, a policy or space with no
    exporter, or stochastic sampling in a format that runs only built-in deterministic ops."""


class ExportDependencyError(StableBaselinesIOError, ImportError):
    """An export format needs an optional package that is not installed (``pip install
    "stable-baselines-io[export]"``)."""


class InferredPolicyWarning(UserWarning):
    """``load`` replaced a policy class that is not this library's by a library policy whose
    parameter names and shapes match the stored arrays exactly; the message says what was inferred."""


class AtariUnavailableError(StableBaselinesIOError, ImportError):
    """Atari environments need ``ale-py``, which is not installed (``pip install
    "stable-baselines-io[atari]"``)."""


class AtariEnvError(StableBaselinesIOError, ValueError):
    """An environment does not fit an Atari wrapper: no NOOP / FIRE action where Stable Baselines 2
    expected one, frames that are not RGB, or an id that skips frames itself."""


class RecurrentStateError(StableBaselinesIOError, ValueError):
    """A recurrent policy's state or mask does not fit: wrong shape for the observations given, or
    a stored state that does not match the model's environments."""


class RecurrentBatchError(StableBaselinesIOError, ValueError, AssertionError):
    """Recurrent training cannot split the rollout into whole environment sequences (Stable
    Baselines 2 asserted ``n_envs % nminibatches == 0`` for PPO2)."""


class RayDependencyError(StableBaselinesIOError, ImportError):
    """A Ray feature was used without the ``ray`` package (``pip install "stable-baselines-io[ray]"``)."""


class RayNotInitializedError(StableBaselinesIOError, RuntimeError):
    """A Ray feature was used before ``ray.init()`` and without an ``address`` to connect to."""


class RayConnectionError(StableBaselinesIOError, ConnectionError, ValueError):
    """Ray could not connect to the cluster at the address given (none running, unreachable, or
    not an address). A ``ConnectionError`` and a ``ValueError``, as Ray raised for those cases."""


class RayActorDiedError(StableBaselinesIOError, RuntimeError):
    """A Ray actor holding environments (or an evaluation worker) died: its state is lost.

    :param message: what was lost
    :param env_indices: the indices of the environments the actor held (empty for a worker)
    """

    def __init__(self, message: str, env_indices: tuple[int, ...] = ()):
        self.env_indices = env_indices
        super().__init__(message)
