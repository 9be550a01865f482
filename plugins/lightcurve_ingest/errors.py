"""Errors the pipeline raises on purpose, each naming what was wrong."""

from __future__ import annotations


class InvalidInputError(ValueError):
    """Bad input (a param, a target name, a reply field), named by ``field``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class ServiceReplyError(RuntimeError):
    """A remote service answered with something the pipeline cannot use."""
