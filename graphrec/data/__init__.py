"""Data containers, splits and datasets."""

from graphrec.data.ids import IdMap
from graphrec.data.interactions import Interactions

__all__ = ["IdMap", "Interactions"]
