"""Errors the pipeline raises on purpose, each naming what was wrong."""

from __future__ import annotations


class InvalidInputError(ValueError):
    """Bad input (a param, a target name, a reply field), named by ``field``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class ServiceReplyError(RuntimeError):
    """A remote service answered with something the pipeline cannot use."""


class RetryCannotHelpError(RuntimeError):
    """A task failure that Airflow's retries cannot fix (the destination is full): the task fails at once."""


class DiskFullError(OSError):
    """A local destination's file system has no space left (ENOSPC or EDQUOT); retrying cannot help until space
    is freed."""

    def __init__(self, root: str, key: str, err: OSError) -> None:
        super().__init__(err.errno, f"disk full: no space left on the destination {root} writing {key} "
                                    f"({err.strerror}); free space there and rerun the DAG")
        self.root, self.key = root, key


# What fails a task at once, without Airflow's retries: bad input, and a destination with no space left (a retry
# would fail the same way, after reading the same files again).
RETRY_CANNOT_HELP = (InvalidInputError, DiskFullError, RetryCannotHelpError)
