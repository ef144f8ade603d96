"""Our own error types, so the CLI can turn any of them into one line and an exit code."""

from __future__ import annotations

from collections.abc import Iterable


class ZeroflError(Exception):
    """Base class: a failure the user should read as one line (exit code 1)."""

    exit_code: int = 1


class BadInputError(ZeroflError, ValueError):
    """The user gave something we cannot use (exit code 2)."""

    exit_code = 2


class UnknownDeviceError(BadInputError, KeyError):
    """A device name that is not in the catalogue."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown device"


class TraceFormatError(BadInputError):
    """A trace file that is malformed or of another schema version."""


class ConfigError(BadInputError):
    """An invalid run configuration (unknown key, out-of-range value, ...)."""


class MissingExtraError(ZeroflError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class HardwareError(ZeroflError):
    """A measurement backend failed at run time (counter unreadable, vendor library error)."""


class OutputError(ZeroflError, OSError):
    """Writing a file failed (disk full, read-only filesystem, not a directory): one line, exit 1."""

    @classmethod
    def from_os(cls, exc: OSError, path: object, what: str = "cannot write") -> "OutputError":
        """Name what failed, which path and the OS reason, in one line."""
        reason = exc.strerror or exc.__class__.__name__
        return cls(f"{what} {path}: {reason}")

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "output error"


def describe_os_error(exc: OSError) -> str:
    """One line for an OS error: the operation's path(s) and the OS reason, never a traceback."""
    import errno

    if isinstance(exc, OutputError):
        return str(exc)
    reason = exc.strerror or str(exc) or exc.__class__.__name__
    code = errno.errorcode.get(exc.errno or -1)
    where = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
    return f"file system error at {where or '(unknown path)'}: {reason}" + (f" ({code})" if code else "")


class TrainingError(ZeroflError):
    """Training diverged (NaN loss) or a client failed under --on-client-error stop."""


def did_you_mean(name: object, known: "Iterable[str]") -> str:
    """' (did you mean X?)' for the closest known names, so a typo is fixed from the message alone."""
    import difflib

    close = difflib.get_close_matches(str(name), list(known), n=2, cutoff=0.75)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


def unknown_name(kind: str, name: object, known: "Iterable[str]") -> str:
    """The one line for an unknown name: what it is, the closest matches, then every known name."""
    names = list(known)
    return f"unknown {kind} {name!r}{did_you_mean(name, names)}; known: {', '.join(names)}"


class StoppedError(ZeroflError):
    """A run stopped by a signal (SIGINT, SIGTERM): one line saying how to continue, exit 128 + signal."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def check_fraction(name: str, value: float, *, allow_one: bool = False) -> float:
    """Validate a sparsity/density-like fraction; sparsity 1.0 would keep no weight at all."""
    import math

    try:
        v = float(value)
    except (TypeError, ValueError):
        raise BadInputError(f"{name} must be a number, got {value!r}") from None
    hi_ok = v <= 1.0 if allow_one else v < 1.0
    if math.isnan(v) or v < 0.0 or not hi_ok:
        rng = "[0, 1]" if allow_one else "[0, 1)"
        raise BadInputError(f"{name} must be in {rng}, got {value!r}")
    return v
