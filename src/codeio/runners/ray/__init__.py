"""The Ray runner (extra ``codeio[ray]``): stage batches on a Ray cluster; ``import ray`` stays inside."""

from __future__ import annotations

from codeio.runners.ray.limiter import LLMLimiter
from codeio.runners.ray.runner import RayRunner

__all__ = ["LLMLimiter", "RayRunner"]
