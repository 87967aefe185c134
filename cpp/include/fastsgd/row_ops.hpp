// One row at a time: the dot product x·v and the updates v += c·x of a small step
// (a batch of a few rows, scikit-learn's per-row SGD), in vectors of the instruction
// set's native width (2 doubles on SSE2, 4 on AVX2, 8 on AVX-512), so that a short row
// stays in registers. Sums in double; float32 rows are converted as they are read.
#pragma once

#include "fastsgd/base.hpp"
#include "fastsgd/simd.hpp"

#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif

namespace fastsgd {
inline namespace FASTSGD_ISA {

#if defined(__GNUC__) || defined(__clang__)
#if defined(__AVX512F__)
constexpr index_t kRowW = 8;
typedef double vrow __attribute__((vector_size(64)));
#elif defined(__AVX__)
constexpr index_t kRowW = 4;
typedef double vrow __attribute__((vector_size(32)));
#else
constexpr index_t kRowW = 2;
typedef double vrow __attribute__((vector_size(16)));
#endif

FASTSGD_ALWAYS_INLINE vrow row_zero() { return vrow{} * 0.0; }
FASTSGD_ALWAYS_INLINE vrow row_load(const double* p) {
  vrow v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
FASTSGD_ALWAYS_INLINE vrow row_load(const float* p) {
#if defined(__AVX512F__)
  return reinterpret_cast<vrow>(_mm512_cvtps_pd(_mm256_loadu_ps(p)));
#elif defined(__AVX__)
  return reinterpret_cast<vrow>(_mm256_cvtps_pd(_mm_loadu_ps(p)));
#else
  return vrow{static_cast<double>(p[0]), static_cast<double>(p[1])};
#endif
}
FASTSGD_ALWAYS_INLINE void row_store(double* p, vrow v) { std::memcpy(p, &v, sizeof v); }
FASTSGD_ALWAYS_INLINE double row_hsum(vrow v) {
  double s = 0.0;
  for (index_t l = 0; l < kRowW; ++l) s += v[l];
  return s;
}

// x·v over d values.
template <class T>
FASTSGD_ALWAYS_INLINE double row_dot(const T* x, const double* v, index_t d) {
  vrow a0 = row_zero(), a1 = row_zero();
  index_t j = 0;
  for (; j + 2 * kRowW <= d; j += 2 * kRowW) {
    a0 += row_load(x + j) * row_load(v + j);
    a1 += row_load(x + j + kRowW) * row_load(v + j + kRowW);
  }
  if (j + kRowW <= d) {
    a0 += row_load(x + j) * row_load(v + j);
    j += kRowW;
  }
  double s = row_hsum(a0 + a1);
  for (; j < d; ++j) s += static_cast<double>(x[j]) * v[j];
  return s;
}

// v += c·x over d values.
template <class T>
FASTSGD_ALWAYS_INLINE void row_axpy(double* v, double c, const T* x, index_t d) {
  const vrow cv = row_zero() + c;
  index_t j = 0;
  for (; j + kRowW <= d; j += kRowW) row_store(v + j, row_load(v + j) + cv * row_load(x + j));
  for (; j < d; ++j) v[j] += c * static_cast<double>(x[j]);
}

// v += c·x and av += ca·x in one pass over x.
template <class T>
FASTSGD_ALWAYS_INLINE void row_axpy2(double* v, double c, double* av, double ca, const T* x,
                                     index_t d) {
  const vrow cv = row_zero() + c, cav = row_zero() + ca;
  index_t j = 0;
  for (; j + kRowW <= d; j += kRowW) {
    const vrow xv = row_load(x + j);
    row_store(v + j, row_load(v + j) + cv * xv);
    row_store(av + j, row_load(av + j) + cav * xv);
  }
  for (; j < d; ++j) {
    const double xj = static_cast<double>(x[j]);
    v[j] += c * xj;
    av[j] += ca * xj;
  }
}
#else
template <class T>
inline double row_dot(const T* x, const double* v, index_t d) {
  double s = 0.0;
  for (index_t j = 0; j < d; ++j) s += static_cast<double>(x[j]) * v[j];
  return s;
}
template <class T>
inline void row_axpy(double* v, double c, const T* x, index_t d) {
  for (index_t j = 0; j < d; ++j) v[j] += c * static_cast<double>(x[j]);
}
template <class T>
inline void row_axpy2(double* v, double c, double* av, double ca, const T* x, index_t d) {
  for (index_t j = 0; j < d; ++j) {
    const double xj = static_cast<double>(x[j]);
    v[j] += c * xj;
    av[j] += ca * xj;
  }
}
#endif

}  // namespace FASTSGD_ISA
}  // namespace fastsgd
