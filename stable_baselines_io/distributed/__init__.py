"""Spreading environment steps and evaluation episodes over a Ray cluster (the ``ray`` extra).

Importing this package does not import Ray: :func:`~stable_baselines_io.distributed.ray_runtime.import_ray`
does, when a Ray feature is first used, and says which ``pip install`` provides it.
"""

from __future__ import annotations

from stable_baselines_io.distributed.ray_evaluation import RayEvaluator, distributed_evaluate_policy
from stable_baselines_io.distributed.ray_vec_env import RayVecEnv, make_ray_vec_env

__all__ = ["RayEvaluator", "RayVecEnv", "distributed_evaluate_policy", "make_ray_vec_env"]
