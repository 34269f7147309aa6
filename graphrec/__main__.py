"""``python -m graphrec``: the ``graphrec`` command line."""

import sys

from graphrec.cli import main

if __name__ == "__main__":
    sys.exit(main())
