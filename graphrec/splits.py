"""Train/test/validation splits (re-exported from :mod:`graphrec.data.splits`)."""

from graphrec.data.splits import (
    Split,
    leave_last_out,
    random_holdout,
    temporal_split,
    validation_split,
)

__all__ = ["Split", "leave_last_out", "random_holdout", "temporal_split", "validation_split"]
