"""The error hierarchy. Each error knows its exit code and how to print itself.

Library code raises these; only the CLI renders them and chooses to exit.
"""
from __future__ import annotations

from enum import Enum
from pathlib import Path

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class FailureKind(str, Enum):
    """Whether another attempt of a failed build could succeed; the executor retries only TRANSIENT."""

    TRANSIENT = "transient"     # I/O, network, locks, timeouts, whatever a Python asset raises
    PERMANENT = "permanent"     # the definition is wrong: SQL that does not bind, a wrong return type


class AssetflowError(Exception):
    """Root of every error assetflow raises on purpose."""

    exit_code = EXIT_RUN_FAILED
    # What assetflow raises during a build is about the definition or its output's shape (a schema
    # change, rows outside the partition, a failed check): the same inputs fail the same way again.
    failure_kind = FailureKind.PERMANENT

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None,
                 hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.hint = hint

    @property
    def location(self) -> str | None:
        if self.path is None:
            return None
        return f"{self.path}:{self.line}" if self.line else self.path

    def render(self) -> str:
        head = f"error: {self.location}: {self.message}" if self.location else f"error: {self.message}"
        return head + (f"\n  hint: {self.hint}" if self.hint else "")


class ProjectError(AssetflowError):
    """The project on disk is wrong: bad TOML, bad SQL, unknown table, cycle, clash."""

    exit_code = EXIT_BAD_INPUT


class UsageError(AssetflowError):
    """The command line is wrong: bad selection, partition key, target, option combination."""

    exit_code = EXIT_BAD_INPUT


class SelectionError(UsageError):
    """A selection expression that does not parse or names nothing known."""


class PartitionKeyError(UsageError):
    """A partition key that does not parse under its asset's definition, or is out of range."""


class LockError(AssetflowError):
    """Another process holds the project's run lock past `--wait`."""

    failure_kind = FailureKind.TRANSIENT


class TargetError(AssetflowError):
    """The target's database cannot be opened."""

    exit_code = EXIT_BAD_INPUT


class Interrupted(Exception):
    """The run was asked to stop (Ctrl-C, or SIGTERM past its grace period); in-flight work rolled back."""
