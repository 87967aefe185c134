// Row-wise softmax (and log-softmax) of a score matrix: the class
// probabilities of a linear classifier.
//
//   softmax(z)_c     = exp(z_c − m) / Σ_j exp(z_j − m)        m = max_j z_j
//   log_softmax(z)_c = (z_c − m) − log Σ_j exp(z_j − m)
//
// Subtracting the row maximum makes the largest exponent 0, so no exp can
// overflow (scores of ±1e4 are fine) and the sum is at least 1. Exponentials
// and sums are in double for float32 scores too. Rows are independent, so the
// result has the same bits for any number of threads.
//
// Not a hot training kernel: it is compiled only into the bindings, with the
// baseline instruction set.
#pragma once

#include <cmath>
#include <vector>

#include "fastsgd/base.hpp"
#include "fastsgd/parallel.hpp"

namespace fastsgd {

// Rows [r0, r1) of Z (row stride ldz) into out (row stride ldo); k >= 1.
// e holds k doubles of scratch.
template <class T>
void softmax_rows(const T* Z, index_t ldz, index_t k, index_t r0, index_t r1, bool log, T* out,
                  index_t ldo, double* e) {
  for (index_t i = r0; i < r1; ++i) {
    const T* z = Z + i * ldz;
    T* o = out + i * ldo;
    double m = static_cast<double>(z[0]);
    for (index_t c = 1; c < k; ++c) {
      const double v = static_cast<double>(z[c]);
      m = v > m ? v : m;
    }
    double sum = 0.0;  // >= 1: the largest term is exp(0)
    if (log) {
      for (index_t c = 0; c < k; ++c) sum += std::exp(static_cast<double>(z[c]) - m);
      const double lse = std::log(sum);  // in [0, log k]
      for (index_t c = 0; c < k; ++c) o[c] = static_cast<T>((static_cast<double>(z[c]) - m) - lse);
    } else {
      for (index_t c = 0; c < k; ++c) {
        e[c] = std::exp(static_cast<double>(z[c]) - m);
        sum += e[c];
      }
      const double inv = 1.0 / sum;
      for (index_t c = 0; c < k; ++c) o[c] = static_cast<T>(e[c] * inv);
    }
  }
}

// out = softmax(Z) (or log_softmax with log = true) for an (n, k) matrix,
// OpenMP over fixed-size row chunks.
template <class T>
void softmax(const T* Z, index_t ldz, index_t n, index_t k, bool log, T* out, index_t ldo,
             int threads = 0) {
  if (n <= 0 || k <= 0) return;
  const index_t rows_per_chunk = chunk_rows(k);
  const index_t nchunks = (n + rows_per_chunk - 1) / rows_per_chunk;
  const int nthreads = nchunks > 1 ? resolve_threads(threads, n * k) : 1;
  std::vector<double> scratch(static_cast<std::size_t>(k * nthreads));  // a row per thread
  parallel_chunks(nchunks, nthreads, [&](index_t c, int tid) {
    const index_t r0 = c * rows_per_chunk;
    const index_t r1 = r0 + rows_per_chunk < n ? r0 + rows_per_chunk : n;
    softmax_rows(Z, ldz, k, r0, r1, log, out, ldo, scratch.data() + tid * k);
  });
}

}  // namespace fastsgd
