"""Checkers for the coding exercises of the linear chapter (``book/linear.md``)."""

from __future__ import annotations

__all__: list[str] = []
