"""Ray itself: importing it with a helpful error, connecting to a cluster, gathering results.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from stable_baselines_io.exceptions import (
    RayActorDiedError,
    RayConnectionError,
    RayDependencyError,
    RayNotInitializedError,
)

#: ``address=`` value that starts a Ray instance on this machine (``ray.init()`` without an address).
LOCAL_ADDRESS = "local"

#: Seconds to wait for new actors to start before saying the cluster lacks resources.
DEFAULT_START_TIMEOUT = 120.0


def import_ray() -> ModuleType:
    """The ``ray`` module.

    :return: the module
    :raises RayDependencyError: Ray is not installed
    """
    try:
        return importlib.import_module("ray")
    except ImportError as error:
        raise RayDependencyError(
            f"this feature needs the ray package, which is not installed ({error}): "
            'pip install "stable-baselines-io[ray]"'
        ) from error


def connect(address: str | None) -> ModuleType:
    """Make sure this process is connected to a Ray cluster.

    >>> ray = connect("local")  # doctest: +SKIP

    :param address: None: use the cluster ``ray.init`` already connected to; ``"local"``: start
        (or reuse) a Ray instance on this machine; anything else (``"auto"``, ``"ray://head:10001"``,
        ``"10.0.0.1:6379"``): connect to that cluster. Ignored when Ray is already initialised.
    :return: the ``ray`` module
    :raises RayNotInitializedError: Ray is not initialised and no address was given
    :raises RayConnectionError: no cluster answers at ``address``, or it is not an address
    """
    ray = import_ray()
    if ray.is_initialized():
        return ray
    if address is None:
        raise RayNotInitializedError(
            "Ray is not initialised: call ray.init() first (a local instance, or ray.init(address=...) for a "
            f"cluster), or pass address={LOCAL_ADDRESS!r} to start one on this machine or address='auto' to join "
            "the cluster this machine belongs to"
        )
    try:
        ray.init(address=None if address == LOCAL_ADDRESS else address)
    except (ConnectionError, ValueError) as error:
        raise RayConnectionError(
            f"could not connect to a Ray cluster at address {address!r} ({error}): start one with "
            f"'ray start --head', pass the address of a running head node, or {LOCAL_ADDRESS!r} to start Ray on this "
            "machine"
        ) from error
    return ray


def remote_class(cls: type, **options: Any) -> Any:
    """``ray.remote(cls)`` with options, made when first needed so that Ray stays optional.

    :param cls: the actor class
    :param options: ``num_cpus`` and other ``ray.remote`` options
    :return: the actor class handle
    """
    return import_ray().remote(**options)(cls) if options else import_ray().remote(cls)


def gather(refs: Sequence[Any], describe_actor: Callable[[int], str], timeout: float | None = None,
           env_indices: Callable[[int], tuple[int, ...]] = lambda _: ()) -> list[Any]:
    """``ray.get`` of one result per actor, naming the actor that died.

    Errors raised by the remote code keep their type (Ray raises them as a subclass of both
    ``RayTaskError`` and the original class).

    :param refs: one object reference per actor, in actor order
    :param describe_actor: what actor ``i`` held, for the error message
    :param timeout: seconds to wait for all results (None: no limit)
    :param env_indices: the environment indices actor ``i`` held
    :return: the results, in order
    :raises RayActorDiedError: an actor died
    :raises TimeoutError: (``GetTimeoutError``) the results did not come in time
    """
    ray = import_ray()
    try:
        return list(ray.get(list(refs), timeout=timeout))
    except ray.exceptions.RayActorError as first_error:
        failure = first_error
    for index, ref in enumerate(refs):
        try:
            ray.get(ref, timeout=timeout)
        except ray.exceptions.RayActorError as error:
            raise RayActorDiedError(
                f"the Ray actor holding {describe_actor(index)} died: its state is lost; resume from the latest "
                f"checkpoint ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'no detail'})",
                env_indices(index),
            ) from error
    raise RayActorDiedError(f"a Ray actor died: {failure}") from failure
