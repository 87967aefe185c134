// Non-owning views of the caller's memory: pointer, shape and a row stride.
#pragma once

#include <cstdint>

namespace fastsgd {

using index_t = std::int64_t;  // every index and size: rows can exceed 2^31

// Which loss a kernel computes. The numbers are part of the binding ABI.
enum class Loss : int { mse = 0, softmax = 1, logistic = 2 };

// A linear model's data over n rows: X is (n, d) with unit column stride and
// row stride `ldx` (in elements, may be negative). Row i of the problem is
// X[rows[i]] when `rows` is set (a gathered mini-batch), else X[i].
// Targets: `Y` (n, k) with row stride `ldy` for mse; integer `labels` (n,)
// for softmax (class index) and logistic (0 or 1).
// Parameters are held in double, transposed: Wt is (k, d) row-major.
template <class T>
struct Problem {
  const T* X = nullptr;
  index_t ldx = 0;
  index_t d = 0;
  index_t k = 1;
  const index_t* rows = nullptr;
  const T* Y = nullptr;
  index_t ldy = 0;
  const std::int64_t* labels = nullptr;
  const double* Wt = nullptr;
  const float* Wf = nullptr;  // Wt rounded to float32 (k, d), set by the driver for float data
  const double* b = nullptr;  // (k,) or nullptr
};

}  // namespace fastsgd
