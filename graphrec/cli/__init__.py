"""The ``graphrec`` command line: argparse over :mod:`graphrec.workflow`, :mod:`graphrec.demo`
and :mod:`graphrec.benchmark`.

Exit codes: 0 success, 1 a runtime error (missing file or column, unknown user, ...),
2 a usage error (bad flags, unknown model or dataset name, ``--k 0``). Errors print one
line naming the problem and the fix; ``--debug`` shows the traceback instead.
See ``docs/cli.md``.

Application layer, in three parts: :mod:`graphrec.cli.parser` (the flags),
:mod:`graphrec.cli.commands` (one ``cmd_*`` function per command, each importing what it
needs when it runs) and :func:`main` here (parse, dispatch, errors to exit codes). Only
the standard library is imported up front, so ``graphrec --help``, ``--version`` and
``graphrec datasets`` start without torch or the models.
"""

from __future__ import annotations

import logging
import sys
import traceback
import warnings

from graphrec.cli.commands import COMMANDS, UsageError, one_line
from graphrec.cli.parser import build_parser, param_value

__all__ = ["UsageError", "build_parser", "main"]

_param_value = param_value  # the name the tests and older scripts import


def main(argv: list[str] | None = None) -> int:
    """Run ``graphrec`` with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    if not args.debug:  # torch's notes on its beta sparse CSR tensors are noise on a command line
        warnings.filterwarnings("ignore", message="Sparse (invariant checks|CSR tensor support)")
    try:
        return int(COMMANDS[args.command](args) or 0)
    except KeyboardInterrupt:
        print("graphrec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the one place errors become exit codes
        if args.debug:
            traceback.print_exc()
        code = 2 if isinstance(exc, UsageError) else 1
        kind = "usage error" if code == 2 else "error"
        print(f"graphrec {args.command}: {kind}: {one_line(exc)}", file=sys.stderr)
        return code


