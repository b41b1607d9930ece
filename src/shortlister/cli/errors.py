"""How `shortlister` fails: one line for what a user can cause, a traceback file otherwise."""

from __future__ import annotations

import os
import sys

import click

from shortlister.core.errors import ShortlisterError


class Commands(click.Group):
    """Every failure a user can cause ends in one line and exit status 1.

    Click's usage errors keep status 2. Anything unexpected prints a one-line summary and
    the file its full traceback was written to (`--debug` shows it instead).
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise
        except ShortlisterError as exc:
            raise click.ClickException(one_line(str(exc))) from None
        except BrokenPipeError:
            # `shortlister rank ... | head`: the reader left; nothing more to say.
            sys.stderr.close()
            sys.exit(1)
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            raise click.ClickException(
                one_line(f"cannot access{where}: {exc.strerror or exc}; check the path")
            ) from None
        except Exception as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            raise click.ClickException(_internal_error(exc)) from None


def one_line(message: str) -> str:
    return " ".join(message.split())


def _internal_error(exc: Exception) -> str:
    import tempfile
    import traceback

    summary = one_line(f"internal error: {type(exc).__name__}: {exc}")[:300]
    try:
        fd, path = tempfile.mkstemp(prefix="shortlister-traceback-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as handle:
            handle.write("".join(traceback.format_exception(exc)))
    except OSError:
        return f"{summary}; rerun with --debug for the traceback"
    return f"{summary}; the full traceback is in {path} (or rerun with --debug); please report it"
