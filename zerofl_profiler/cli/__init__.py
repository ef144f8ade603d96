"""The ``zerofl-profile`` command: a thin click layer over the library.

Subcommands live in their own modules and are imported only when used, so ``--help`` stays fast
and a missing optional dependency of one command never breaks another. Every
:class:`~zerofl_profiler.errors.ZeroflError` becomes one line on stderr and its exit code
(2 bad input, 1 runtime failure); click's usage errors become one line and exit code 2.
"""

from __future__ import annotations

import sys
from importlib import import_module

import click

from .. import __version__
from ..errors import ZeroflError

# name -> "module:attribute" (relative to this package). One line per command; no if-chains.
COMMANDS: dict[str, str] = {
    "flops": ".flops:flops",
    "train": ".train:train",
    "devices": ".devices:devices",
    "estimate": ".estimate:estimate",
    "compare": ".compare:compare",
    "calibrate": ".calibrate:calibrate",
    "measure": ".measure:measure",
    "report": ".report:report",
    "plot": ".plot:plot",
    "export": ".export:export",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        mod_name, attr = spec.split(":")
        try:
            mod = import_module(mod_name, __name__)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(__name__ + mod_name):
                return None  # command not built in this checkout
            raise
        return getattr(mod, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zerofl-profile")
def cli() -> None:
    """Profile sparse federated training (ZeroFL/SWAT): FLOPs, bytes, seconds and joules."""


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI and map our errors to one line and an exit code."""
    try:
        rv = cli.main(args=argv, prog_name="zerofl-profile", standalone_mode=False)
    except ZeroflError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:  # pragma: no cover - click >= 8.2
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
        sys.exit(2)
    except click.UsageError as exc:
        msg = exc.format_message().replace("\n", " ")
        click.echo(f"error: {msg} (see '{exc.ctx.command_path if exc.ctx else 'zerofl-profile'} --help')", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    if isinstance(rv, int) and rv != 0:
        sys.exit(rv)
