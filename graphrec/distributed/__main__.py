"""``python -m graphrec.distributed`` (also under ``torchrun ... -m graphrec.distributed``)."""

import sys

from graphrec.distributed.launch import main

if __name__ == "__main__":
    sys.exit(main())
