"""A file being read is opened twice, once to tell its format and once to parse it.
What is costly to make from it (an inner archive's bytes, a workbook's sheet as text)
is kept for the last few files, by a key that names its content.

>>> kept = LastUsed[str, int](2)
>>> made = []
>>> def make(n):
...     made.append(n)
...     return n * n
>>> [kept.get(k, lambda k=k: make(k)) for k in (3, 3, 4, 5, 3)]
[9, 9, 16, 25, 9]
>>> made  # 3 was dropped when 5 came (two are kept), and made again
[3, 4, 5, 3]
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LastUsed(Generic[K, V]):
    """The values of the last ``size`` keys asked for, the least recently used dropped."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K, make: Callable[[], V]) -> V:
        """The value kept for ``key``, else ``make()`` (kept from now on)."""
        if key in self._kept:
            self._kept.move_to_end(key)
            return self._kept[key]
        value = self._kept[key] = make()
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)
        return value
