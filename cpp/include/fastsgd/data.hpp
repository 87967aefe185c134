// What the kernels read: rows of X (a data source), the targets and weights of
// those rows, and the linear model's parameters. All are non-owning views of
// the caller's memory.
#pragma once

#include <cstdint>

#include "fastsgd/base.hpp"

namespace fastsgd {

// Dense rows: X is (n, d) with unit column stride and row stride `ld` (in
// elements; any value, rows may be padded or every other row of a bigger array).
template <class T>
struct DenseRows {
  using value_type = T;
  static constexpr bool sparse = false;
  const T* X = nullptr;
  index_t ld = 0;
  index_t n = 0;
  index_t d = 0;
  const T* row(index_t i) const { return X + i * ld; }
};

// Compressed sparse rows: row i holds the values data[indptr[i] .. indptr[i+1])
// at the columns indices[...] (scipy.sparse's CSR layout). I is int32 or int64,
// for both indices and indptr. Column indices are unique within a row and in
// [0, d); the Python layer checks this once.
template <class T, class I>
struct CsrRows {
  using value_type = T;
  using index_type = I;
  static constexpr bool sparse = true;
  const T* data = nullptr;
  const I* indices = nullptr;
  const I* indptr = nullptr;
  index_t n = 0;
  index_t d = 0;
  index_t nnz(index_t i) const { return static_cast<index_t>(indptr[i + 1] - indptr[i]); }
};

// A set of rows of a source: row r of the set is source row ids[r], or
// first + r when ids is null (a contiguous range).
struct RowSet {
  const index_t* ids = nullptr;
  index_t first = 0;
  index_t size = 0;
  index_t id(index_t r) const { return ids != nullptr ? ids[r] : first + r; }
};

// Targets and weights, indexed by source row. Exactly one of Y and labels is set
// (or neither: zero real targets).
//   real targets: Y (n, k), row stride ldy; the target of output c is Y[i, c].
//   labels (int64, n): a joint loss (softmax) reads the class index; a loss of
//   each output reads a binary target: for k = 1, label == positive; for k > 1
//   (one-vs-rest), label == c. The binary target is the loss's label_pos or
//   label_neg value (+1/-1 for margin losses, 1/0 for the logistic loss).
// Weights multiply each row's loss and derivative:
//   sample_weight[i] (n, or null for 1) times, with labels, a class weight:
//   k = 1: pos_weight or neg_weight; one-vs-rest: class_weight[c] for the
//   positive output, neg_weight for the others; joint: class_weight[label].
template <class T>
struct Targets {
  const T* Y = nullptr;
  index_t ldy = 0;
  const std::int64_t* labels = nullptr;
  std::int64_t positive = 1;
  const double* sample_weight = nullptr;
  const double* class_weight = nullptr;  // per class, or null for 1
  double pos_weight = 1.0;
  double neg_weight = 1.0;
  // labels == positive as one byte a row (0 or 1), where the caller made it (k = 1):
  // read instead of the labels for a binary output (is_positive, losses.hpp). On
  // shuffled rows each row's target is a cache line of its own; n bytes stay in cache
  // where 8n do not.
  const std::uint8_t* positive_mask = nullptr;
};

// The linear model's parameters as a kernel reads them: scores z = scale·(W x) + b.
// W is (k, d) row-major, float64; Wf, when set, is W rounded to float32 (the
// float32 kernels multiply float32 rows by float32 weights, summing in double).
struct Params {
  const double* W = nullptr;
  const float* Wf = nullptr;
  double scale = 1.0;
  const double* b = nullptr;  // (k,) or null
  index_t k = 1;
  index_t d = 0;
};

// Layout of the sums a loss kernel adds to: [Σ ℓ, Σ weight·ℓ, Σ dz (k), Σ dz xᵀ (k·d)].
constexpr index_t kOutLoss = 0;
constexpr index_t kOutWeighted = 1;
constexpr index_t kOutGb = 2;
constexpr index_t out_size(index_t k, index_t d, bool grad) { return grad ? 2 + k + k * d : 2; }

}  // namespace fastsgd
