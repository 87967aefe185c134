// Whole-array scans used by the bindings: the first non-finite row of a
// matrix (input checks) and a plain streaming read (the benchmarks' limit).
#pragma once

#include <cstdint>
#include <vector>

#include "fastsgd/isa_table.hpp"
#include "fastsgd/parallel.hpp"

namespace fastsgd {

// The first row of the (rows, cols) matrix at X (row stride ld) that holds a
// NaN or an infinity, or -1. One read of X in parallel chunks; x − x is 0 for
// finite x and NaN otherwise, so a chunk is finite iff its sum of x − x is 0.
template <class T>
index_t first_nonfinite_row(const T* X, index_t rows, index_t cols, index_t ld, int threads = 0) {
  if (rows <= 0 || cols <= 0) return -1;
  const index_t per_chunk = chunk_rows(cols);
  const index_t nchunks = (rows + per_chunk - 1) / per_chunk;
  std::vector<unsigned char> bad(static_cast<std::size_t>(nchunks), 0);
  parallel_chunks(nchunks, resolve_threads(threads, rows * cols), [&](index_t c, int) {
    const index_t r1 = (c + 1) * per_chunk < rows ? (c + 1) * per_chunk : rows;
    T acc = 0;
    if (ld == cols) {  // contiguous rows: one flat run
      const T* x = X + c * per_chunk * ld;
      const index_t m = (r1 - c * per_chunk) * cols;
#if defined(FASTSGD_HAVE_OPENMP)
#pragma omp simd reduction(+ : acc)
#endif
      for (index_t j = 0; j < m; ++j) acc += x[j] - x[j];
    } else {
      for (index_t i = c * per_chunk; i < r1; ++i) {
        const T* x = X + i * ld;
#if defined(FASTSGD_HAVE_OPENMP)
#pragma omp simd reduction(+ : acc)
#endif
        for (index_t j = 0; j < cols; ++j) acc += x[j] - x[j];
      }
    }
    bad[static_cast<std::size_t>(c)] = acc != acc;  // NaN
  });
  for (index_t c = 0; c < nchunks; ++c) {
    if (!bad[static_cast<std::size_t>(c)]) continue;
    const index_t r1 = (c + 1) * per_chunk < rows ? (c + 1) * per_chunk : rows;
    for (index_t i = c * per_chunk; i < r1; ++i)
      for (index_t j = 0; j < cols; ++j) {
        const T v = X[i * ld + j];
        if (v - v != 0 || v != v) return i;
      }
  }
  return -1;
}

// Σ of a contiguous array, read once in fixed-size chunks (threads in parallel):
// the memory-bandwidth limit of a one-pass kernel, for the benchmarks.
template <class T>
double stream_read(const T* x, index_t n, int threads = 0) {
  const IsaTable& kt = active_table();
  double (*fn)(const T*, index_t) = nullptr;
  if constexpr (sizeof(T) == 4)
    fn = kt.sum_f32;
  else
    fn = kt.sum_f64;
  const index_t chunk = index_t{1} << 18;
  const index_t nchunks = (n + chunk - 1) / chunk;
  if (nchunks <= 1) return n > 0 ? fn(x, n) : 0.0;
  std::vector<double> part(static_cast<std::size_t>(nchunks));
  parallel_chunks(nchunks, resolve_threads(threads, n), [&](index_t c, int) {
    const index_t r0 = c * chunk;
    part[static_cast<std::size_t>(c)] = fn(x + r0, (r0 + chunk < n ? r0 + chunk : n) - r0);
  });
  double s = 0.0;
  for (double v : part) s += v;
  return s;
}

}  // namespace fastsgd
