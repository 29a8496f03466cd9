"""The cross terms of a whole batch of queries against the fingerprint map as ONE sparse product.

The distances need, per (query, fingerprint) pair, the sum over shared APs of min(q, r) (L1 metrics) or
q * r (Euclidean). min() is not a product, so the map is split per AP into its distinct values ("levels"):
feature (AP j, level v) holds the fingerprints whose value at j is exactly v. A query hearing j with
value q gets, on each level v of j, the coefficient min(q, v) (or q * v). Then

    sum_j min(q_j, r_j) = sum over the levels of the query's APs of coef(j, v) * [r_j == v]

which is the product Q_levels (m x E) @ M_levels (E x n): every map entry is read once per query that
hears its AP, as with the one-query gather, but the whole batch runs in scipy's compiled CSR product.
Exact: each term is min(q, v) or q * v of the same float32 values; only the order of the sums differs."""

from __future__ import annotations

import numpy as np
from scipy import sparse


def concat_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The index ranges starts[i] .. starts[i] + lengths[i], laid end to end (a vectorised gather)."""
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return offsets + np.arange(int(lengths.sum()), dtype=np.int64)


class LevelIndex:
    """Fingerprints per (AP, distinct value) of a represented map (n x n_aps, 'not heard' = 0)."""

    def __init__(self, csc: sparse.csc_matrix) -> None:
        n, n_aps = csc.shape
        columns = np.repeat(np.arange(n_aps), np.diff(csc.indptr))
        order = np.lexsort((csc.data, columns))
        columns, values, rows = columns[order], csc.data[order], csc.indices[order]
        starts = np.ones(values.size, dtype=bool)
        starts[1:] = (columns[1:] != columns[:-1]) | (values[1:] != values[:-1])
        level_of_entry = np.cumsum(starts) - 1
        self.values = values[starts].astype(np.float32)  # (E,) the level's value
        self.ap_ptr = np.searchsorted(columns[starts], np.arange(n_aps + 1)).astype(np.int64)
        self.matrix = sparse.csr_matrix(
            (np.ones(values.size), (level_of_entry, rows)), shape=(self.values.size, n)
        )

    def nbytes(self) -> int:
        m = self.matrix
        return int(self.values.nbytes + self.ap_ptr.nbytes + m.data.nbytes + m.indices.nbytes + m.indptr.nbytes)

    def cross_terms(self, Q: np.ndarray, product: bool, heard_sums: str | None = None):
        """(m, n) CSR: per query and fingerprint sharing an AP, sum of min(q, r) (or q * r if `product`).
        Fingerprints sharing no AP with a query are absent from its row (their cross term is 0).

        `heard_sums` "sum" or "squares": also the fingerprint's sum (of squares) over the query's APs,
        as a second CSR with the same rows and columns in the same order: (cross, sums)."""
        qi, qj = np.nonzero(Q)
        qv = Q[qi, qj].astype(np.float32)
        starts, lengths = self.ap_ptr[qj], self.ap_ptr[qj + 1] - self.ap_ptr[qj]
        levels = concat_ranges(starts, lengths)
        q_rep = np.repeat(qv, lengths)
        coef = q_rep * self.values[levels] if product else np.minimum(q_rep, self.values[levels])
        indptr = np.concatenate([[0], np.cumsum(np.bincount(np.repeat(qi, lengths), minlength=Q.shape[0]))])
        shape = (Q.shape[0], self.values.size)
        query_levels = sparse.csr_matrix((coef.astype(np.float64), levels, indptr), shape=shape)
        if heard_sums is None:
            return (query_levels @ self.matrix).tocsr()  # rows unsorted: ties are broken by row id later
        values = self.values[levels].astype(np.float64)
        sums_levels = sparse.csr_matrix((values**2 if heard_sums == "squares" else values, levels, indptr),
                                        shape=shape)
        # One product for both: the same pattern (every coefficient > 0), split and sorted alike.
        both = (sparse.vstack([query_levels, sums_levels], format="csr") @ self.matrix).tocsr()
        both.sort_indices()
        m = Q.shape[0]
        return both[:m], both[m:]
