"""The `lakemesh` command: run the mesh, maintain storage, look things up in the catalog, read products.

An error, the platform's or a wrong option's, is printed as one `error: ...`
line (exit code 2); `--debug` shows the traceback. Each command group lives in a module of its own and
imports its heavy libraries inside its commands, so `lakemesh --help` starts fast.
"""

import logging
import os
import sys
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer's own click: its errors, unformatted

from lakemesh.cli.catalog import catalog_app
from lakemesh.cli.lakehouse import lakehouse_app
from lakemesh.cli.models import models_app
from lakemesh.cli.run import run_app
from lakemesh.cli.storage import storage_app
from lakemesh.errors import LakemeshError

__all__ = ["app", "main"]

app = typer.Typer(
    help="Lakemesh: contract-guarded Delta Lake data products.", no_args_is_help=True, pretty_exceptions_enable=False
)
app.add_typer(run_app)  # unnamed groups add their commands at the top level: generate, prepare, run
app.add_typer(storage_app)  # read, maintain
app.add_typer(lakehouse_app)  # reset
app.add_typer(catalog_app, name="catalog")
app.add_typer(models_app, name="models")

_debug = {"on": False}


@app.callback()
def _options(debug: Annotated[bool, typer.Option("--debug", help="show tracebacks of errors")] = False) -> None:
    _debug["on"] = debug


def main() -> None:
    """The console script. Exit codes: 0 done; 1 done, but something it ran failed (a product of a run, a
    reconciliation) or a question was declined; 2 an error, printed as one `error: ...` (a platform error, a wrong
    option or argument); 130 interrupted."""
    try:
        returned = app(standalone_mode=False)
        code = returned if isinstance(returned, int) else 0  # an `Exit(code)` raised by a command
        if code == 130:  # typer turns Ctrl-C inside a command into `Exit(130)`
            Console(stderr=True).print("[red]interrupted[/]")
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
        if isinstance(done.code, str):
            print(done.code, file=sys.stderr)
    except NoArgsIsHelpError:  # `lakemesh catalog`: its help was printed, as `--help` prints it
        code = 0
    except UsageError as error:
        hint = f" (see `{error.ctx.command_path} --help`)" if error.ctx else ""
        code = _error(f"{error.format_message()}{hint}")
    except typer.TyperException as error:
        code = _error(error.format_message())
    except typer.Abort:  # a question left without an answer (Ctrl-C or the end of the input)
        Console(stderr=True).print("aborted: no answer; nothing was done")
        code = 1
    except KeyboardInterrupt:  # outside a command: while the CLI starts
        Console(stderr=True).print("[red]interrupted[/]")
        code = 130
    except LakemeshError as error:
        if _debug["on"]:
            raise
        code = _error(str(error))
    _leave(code)


def _error(message: str) -> int:
    Console(stderr=True).print(Text.assemble(("error: ", "red"), message), highlight=False, soft_wrap=True)
    return 2


def _leave(code: int) -> NoReturn:
    """Exit without tearing down the imported modules (about a second after a run): all is committed.

    Delta commits, catalog transactions and the run log are complete when a command returns; what is left
    is flushed here, and the dbt worker stopped, before the process ends.
    """
    if worker := sys.modules.get("lakemesh.producers.dbt_worker"):
        worker.dbt_worker().close()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
