"""``codeio view``: browse a run's store in a local, read-only web app."""

from __future__ import annotations

from codeio.view.index import ViewIndex
from codeio.view.server import ViewApp, make_server

__all__ = ["ViewApp", "ViewIndex", "make_server"]
