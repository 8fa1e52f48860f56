"""The plan cache's in-process index: the active entries' signatures and
templates, refreshed from the table by the transactions that changed them
(see htdag.plan_cache_changes), and TF-IDF similarity between templates.

Similarity is TF-IDF over word 1-2-grams and character 3-5-grams of the
canonical templates, hashed (scikit-learn's HashingVectorizer) so that entries
can be added and removed one at a time; the IDF comes from the indexed
templates' document frequencies. Only entries with the goal's signature are
scored: the guards of the cache refuse every other entry whatever its
similarity. numpy and scikit-learn are imported on first use."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .cache_store import Change

if TYPE_CHECKING:
    import numpy as np

N_FEATURES = 2**18


def _features(template: str) -> list[str]:
    words = template.split()
    grams = [f"w {w}" for w in words] + [f"w {a} {b}" for a, b in itertools.pairwise(words)]
    for word in words:
        padded = f" {word} "
        for n in (3, 4, 5):
            grams.extend(f"c {padded[i:i + n]}" for i in range(max(len(padded) - n + 1, 1)))
    return grams


class CacheIndex:
    """Entry id -> (signature, template) of the active entries, grouped by
    signature, with the document frequencies of their features."""

    def __init__(self) -> None:
        self.boundary = 0  # refresh from the transactions from here on
        self._entries: dict[int, tuple[str, str]] = {}
        self._by_signature: dict[str, list[int]] = {}
        self._df: np.ndarray[Any, Any] | None = None
        self._vectorizer: Any = None

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._entries

    def _vectorize(self, templates: list[str]) -> Any:
        if self._vectorizer is None:
            import numpy as np
            from sklearn.feature_extraction.text import HashingVectorizer

            self._vectorizer = HashingVectorizer(
                analyzer=_features, n_features=N_FEATURES, alternate_sign=False, norm=None)
            self._df = np.zeros(N_FEATURES, dtype=np.int32)
        return self._vectorizer.transform(templates)

    def apply(self, changes: Iterable[Change]) -> None:
        """Adds the active entries among ``changes``, removes the others."""
        added: list[tuple[int, str, str]] = []
        for change in changes:
            if change.state == "active":
                if change.entry_id not in self._entries:
                    added.append((change.entry_id, change.signature, change.template))
            else:
                self.remove(change.entry_id)
        self.add_many(added)

    def add_many(self, entries: list[tuple[int, str, str]]) -> None:
        fresh = [e for e in dict((e[0], e) for e in entries).values()
                 if e[0] not in self._entries]
        if not fresh:
            return
        counts = self._vectorize([template for _, _, template in fresh])
        counts.data[:] = 1
        assert self._df is not None
        self._df += counts.sum(axis=0).A1.astype(self._df.dtype)
        for entry_id, signature, template in fresh:
            self._entries[entry_id] = (signature, template)
            self._by_signature.setdefault(signature, []).append(entry_id)

    def remove(self, entry_id: int) -> None:
        found = self._entries.pop(entry_id, None)
        if found is None:
            return
        signature, template = found
        bucket = self._by_signature.get(signature, [])
        if entry_id in bucket:
            bucket.remove(entry_id)
        if not bucket:
            self._by_signature.pop(signature, None)
        counts = self._vectorize([template])
        assert self._df is not None
        self._df[counts.indices] -= 1

    def similar(self, signature: str, template: str, threshold: float, limit: int
                ) -> list[tuple[int, float]]:
        """Entries with ``signature`` whose template's TF-IDF cosine with
        ``template`` is at least ``threshold``: (entry id, score), best first."""
        ids = self._by_signature.get(signature)
        if not ids:
            return []
        ids = ids[-200:]  # the newest, should a signature ever gather very many
        templates = sorted({self._entries[i][1] for i in ids})  # often one for many
        rows = self._vectorize([template, *templates]).tocsr()
        assert self._df is not None
        n = len(self._entries)
        idf = {int(f): math.log((1 + n) / (1 + int(self._df[f]))) + 1.0
               for f in set(rows.indices.tolist())}
        vectors = []
        for r in range(rows.shape[0]):
            start, end = rows.indptr[r], rows.indptr[r + 1]
            vec = {int(f): float(v) * idf[int(f)]
                   for f, v in zip(rows.indices[start:end], rows.data[start:end], strict=True)}
            norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
            vectors.append({f: v / norm for f, v in vec.items()})
        query = vectors[0]
        by_template = {t: sum(v * vec.get(f, 0.0) for f, v in query.items())
                       for t, vec in zip(templates, vectors[1:], strict=True)}
        scored = [(i, min(by_template[self._entries[i][1]], 1.0)) for i in ids
                  if by_template[self._entries[i][1]] >= threshold]
        scored.sort(key=lambda pair: (-pair[1], -pair[0]))
        return scored[:limit]
