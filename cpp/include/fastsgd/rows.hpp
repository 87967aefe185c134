// One row of a data source as the per-row steps read it: n values at the columns
// col(0), ..., col(n − 1) (every column of a dense row; the stored ones of a
// sparse row). The steps written on these (sequential.hpp, csr_rows.hpp) cost
// O(n) a row: O(d) dense, O(nnz) sparse.
#pragma once

#include "fastsgd/data.hpp"

namespace fastsgd {
inline namespace FASTSGD_ISA {

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
