"""Named datasets and the synthetic generator (re-exported from :mod:`graphrec.data`)."""

from graphrec.data.datasets import Dataset, available, concat_interactions, data_roots, load
from graphrec.data.synthetic import synthetic

__all__ = ["Dataset", "available", "concat_interactions", "data_roots", "load", "synthetic"]
