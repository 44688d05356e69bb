"""Checkers for the coding exercises of the neural_networks chapter (``book/neural_networks.md``)."""

from __future__ import annotations

__all__: list[str] = []
