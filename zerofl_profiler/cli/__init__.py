"""The ``zerofl-profile`` command: a thin click layer over the library.

Subcommands live in their own modules and are imported only when used, so ``--help`` stays fast
and a missing optional dependency of one command never breaks another. Every
:class:`~zerofl_profiler.errors.ZeroflError` becomes one line on stderr and its exit code
(2 bad input, 1 runtime failure); click's usage errors become one line and exit code 2; an
``OSError`` that escaped (a directory that cannot be made, a full disk) is one line and exit code 1.
"""

from __future__ import annotations

import re
import sys
from importlib import import_module

import click

from .. import __version__
from ..errors import ZeroflError, describe_os_error

# name -> "module:attribute" (relative to this package). One line per command; no if-chains.
COMMANDS: dict[str, str] = {
    "flops": ".flops:flops",
    "train": ".train:train",
    "devices": ".devices:devices",
    "estimate": ".estimate:estimate",
    "compare": ".compare:compare",
    "calibrate": ".calibrate:calibrate",
    "fidelity": ".fidelity:fidelity",
    "measure": ".measure:measure",
    "report": ".report:report",
    "plot": ".plot:plot",
    "export": ".export:export",
}


#: Examples shown at the end of each command's --help (click keeps lines after "\b" as written).
EXAMPLES: dict[str, tuple[str, ...]] = {
    "flops": ("zerofl-profile flops --model resnet18 --input-shape 3,32,32 --batch-size 32 --sparsity 0.9",
              "zerofl-profile flops --model cnn --sparsity 0.95 --json > layers.json"),
    "train": ("zerofl-profile train --out runs/s90 --sparsity 0.9",
              "zerofl-profile train --out runs/s90 --resume"),
    "devices": ("zerofl-profile devices", "zerofl-profile devices show jetson-nano@5W"),
    "estimate": ("zerofl-profile estimate runs/s90 --device jetson-nano --network lte",
                 "zerofl-profile estimate runs/s90 --device-mix jetson-nano=0.5,snapdragon-865-cpu=0.5 --json"),
    "compare": ("zerofl-profile compare --model resnet18 --sparsity 0,0.9 --device t4 --device jetson-nano",
                "zerofl-profile compare --model cnn --input-shape 1,8,8 --device-file examples/my-board.toml"),
    "calibrate": ("zerofl-profile calibrate --out host.toml",),
    "measure": ("zerofl-profile measure --list",
                "zerofl-profile measure -- python examples/train_step.py"),
    "report": ("zerofl-profile report runs/s90 --device jetson-nano",
               "zerofl-profile report runs/s90 --device jetson-nano --format html --out report.html"),
    "plot": ("zerofl-profile plot runs/s90 --device jetson-nano --out figures --format pdf,png",),
    "fidelity": ("zerofl-profile fidelity", "zerofl-profile fidelity --json > fidelity.json"),
    "export": ("zerofl-profile export runs/s90 --format csv --out s90.csv --device jetson-nano",
               "zerofl-profile export runs/s90 --format parquet --out s90.parquet"),
}


def _examples_epilog(name: str) -> str | None:
    lines = EXAMPLES.get(name)
    if not lines:
        return None
    return "\b\nExamples:\n" + "\n".join(f"  {ln}" for ln in lines)


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
        cmd: click.Command = getattr(mod, attr)
        if cmd.epilog is None:
            cmd.epilog = _examples_epilog(cmd_name)
        return cmd


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zerofl-profile")
def cli() -> None:
    """Profile sparse federated training (ZeroFL/SWAT): FLOPs, bytes, seconds and joules."""


#: What would break "one line": C0/C1 controls, line and paragraph separators, lone surrogates.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def one_line(message: str) -> str:
    """An error message as one printable line: control characters from user input shown escaped."""
    text = str(message).strip().replace("\r\n", " ").replace("\n", " ")  # our own multi-line messages
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), text)


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {one_line(message)}", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI and map our errors to one line and an exit code."""
    try:
        rv = cli.main(args=argv, prog_name="zerofl-profile", standalone_mode=False)
    except ZeroflError as exc:
        _fail(str(exc), exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:  # pragma: no cover - click >= 8.2
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
        sys.exit(2)
    except click.UsageError as exc:
        _fail(f"{exc.format_message()} (see '{exc.ctx.command_path if exc.ctx else 'zerofl-profile'} --help')", 2)
    except click.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except OSError as exc:  # a file operation nobody wrapped: still one line, what failed, where, why
        _fail(describe_os_error(exc), 1)
    if isinstance(rv, int) and rv != 0:
        sys.exit(rv)
