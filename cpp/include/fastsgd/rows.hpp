// One row of a data source as the per-row steps read it: n values at the columns
// col(0), ..., col(n − 1) (every column of a dense row; the stored ones of a
// sparse row). The steps written on these (sequential.hpp, csr_rows.hpp) cost
// O(n) a row: O(d) dense, O(nnz) sparse.
#pragma once

#include "fastsgd/data.hpp"

namespace fastsgd {
inline namespace FASTSGD_ISA {

// Asks for the cache lines of the bytes [x, x + bytes) into L2 (prefetcht1), the line of
// the last byte included (a row's start is not aligned to a line). Shuffled rows are
// asked for into L2 rather than L1: into L1, the misses on their way are bounded by
// L1's few miss buffers; into L2, more of them are in flight (epoch.hpp, sequential.hpp).
FASTSGD_ALWAYS_INLINE void prefetch_l2(const void* p, index_t bytes) {
#if defined(__GNUC__) || defined(__clang__)
  const char* x = static_cast<const char*>(p);
  for (index_t off = 0; off < bytes; off += 64) __builtin_prefetch(x + off, 0, 2);
  if (bytes > 0) __builtin_prefetch(x + bytes - 1, 0, 2);
#else
  (void)p, (void)bytes;
#endif
}

template <class T>
struct DenseRowRef {
  const T* val;
  index_t n;
  index_t col(index_t j) const { return j; }
};

template <class T, class I>
struct SparseRowRef {
  const T* val;
  const I* idx;
  index_t n;
  index_t col(index_t j) const { return static_cast<index_t>(idx[j]); }
};

template <class T>
FASTSGD_ALWAYS_INLINE DenseRowRef<T> row_ref(const DenseRows<T>& src, index_t i) {
  return {src.row(i), src.d};
}

template <class T, class I>
FASTSGD_ALWAYS_INLINE SparseRowRef<T, I> row_ref(const CsrRows<T, I>& src, index_t i) {
  const I b = src.indptr[i];
  return {src.data + b, src.indices + b, static_cast<index_t>(src.indptr[i + 1] - b)};
}

}  // namespace FASTSGD_ISA
}  // namespace fastsgd
