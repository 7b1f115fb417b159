"""Built answers of the current catalog revision, so a repeated read does no ORM-to-protobuf work.

Every list and page of the catalog is the same for every caller until the revision moves; the
servicer keeps the response it built per (revision, language, filters, page). A newer revision
drops every older answer at once; an older one (a reader that raced an edit) is neither served nor
kept. Free-text queries make the key space open, so at most `max_entries` are kept (least recently
used first out).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

M = TypeVar("M")
DEFAULT_MAX_ENTRIES = 1024


class RevisionAnswers(Generic[M]):
    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self.revision = -1
        self._answers: OrderedDict[Hashable, M] = OrderedDict()

    def _move_to(self, revision: int) -> bool:
        """Whether answers of `revision` may be used (a newer one first drops the older answers)."""
        if revision > self.revision:
            self._answers.clear()
            self.revision = revision
        return revision == self.revision

    def get(self, revision: int, key: Hashable) -> M | None:
        if not self._move_to(revision):
            return None
        answer = self._answers.get(key)
        if answer is not None:
            self._answers.move_to_end(key)
        return answer

    def put(self, revision: int, key: Hashable, answer: M) -> M:
        if self._move_to(revision):
            self._answers[key] = answer
            self._answers.move_to_end(key)
            while len(self._answers) > self.max_entries:
                self._answers.popitem(last=False)
        return answer

    def __len__(self) -> int:
        return len(self._answers)
