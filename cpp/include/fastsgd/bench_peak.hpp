// The machine's multiply-add peak, for the benchmarks (the ceiling of a kernel
// limited by arithmetic, as the streaming read is that of one limited by memory).
//
// Each thread runs `iterations` rounds of 12 independent chains of float32
// multiply-adds on the widest vectors the CPU has (AVX-512: 16 lanes, AVX2 + FMA:
// 8 lanes, else SSE2 multiplies and adds, 4 lanes); 12 chains hide the latency
// of each (4 cycles) behind the two multiply-add units of a core. Compiled into
// the bindings, with the instruction set chosen per function, so it does not
// depend on the kernels' table.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "fastsgd/parallel.hpp"
#include "fastsgd/rows.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define FASTSGD_PEAK_X86 1
#endif

namespace fastsgd {
namespace peak_detail {

#define FASTSGD_PEAK_CHAINS(V, SET1, FMA, ADD, LANES)                                \
  V a0 = SET1(1.0f), a1 = SET1(1.1f), a2 = SET1(1.2f), a3 = SET1(1.3f);              \
  V a4 = SET1(1.4f), a5 = SET1(1.5f), a6 = SET1(1.6f), a7 = SET1(1.7f);              \
  V a8 = SET1(1.8f), a9 = SET1(1.9f), a10 = SET1(2.0f), a11 = SET1(2.1f);            \
  const V m = SET1(0.999999f), c = SET1(1e-7f);                                      \
  for (std::int64_t i = 0; i < iterations; ++i) {                                    \
    a0 = FMA(a0, m, c), a1 = FMA(a1, m, c), a2 = FMA(a2, m, c), a3 = FMA(a3, m, c);  \
    a4 = FMA(a4, m, c), a5 = FMA(a5, m, c), a6 = FMA(a6, m, c), a7 = FMA(a7, m, c);  \
    a8 = FMA(a8, m, c), a9 = FMA(a9, m, c), a10 = FMA(a10, m, c);                    \
    a11 = FMA(a11, m, c);                                                            \
  }                                                                                  \
  const V s = ADD(ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7))), \
                  ADD(ADD(a8, a9), ADD(a10, a11)));                                  \
  float out[LANES];                                                                  \
  std::memcpy(out, &s, sizeof out);                                                  \
  return out[0];

#if defined(FASTSGD_PEAK_X86)
__attribute__((target("avx512f"))) inline float chains_avx512(std::int64_t iterations) {
  FASTSGD_PEAK_CHAINS(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, 16)
}
__attribute__((target("avx2,fma"))) inline float chains_avx2(std::int64_t iterations) {
  FASTSGD_PEAK_CHAINS(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, 8)
}
inline __m128 mul_add_sse(__m128 a, __m128 b, __m128 c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
inline float chains_sse(std::int64_t iterations) {
  FASTSGD_PEAK_CHAINS(__m128, _mm_set1_ps, mul_add_sse, _mm_add_ps, 4)
}
#endif
#undef FASTSGD_PEAK_CHAINS

}  // namespace peak_detail

// Runs the chains on `threads` threads (0: fastsgd's count); returns the float32
// multiply-adds done (lanes × chains × iterations × threads); the caller times it.
// *lanes is set to the vector width used.
inline double fma_peak_work(std::int64_t iterations, int threads, int* lanes) {
  *lanes = 1;
#if defined(FASTSGD_PEAK_X86)
  float (*fn)(std::int64_t) = &peak_detail::chains_sse;
  *lanes = 4;
  if (__builtin_cpu_supports("avx512f")) {
    fn = &peak_detail::chains_avx512;
    *lanes = 16;
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    fn = &peak_detail::chains_avx2;
    *lanes = 8;
  }
  const int t = threads > 0 ? threads : num_threads();
  volatile float sink = 0.0f;
  parallel_chunks(t, t, [&](index_t, int) { sink = sink + fn(iterations); });
  return 12.0 * static_cast<double>(*lanes) * static_cast<double>(iterations) * t;
#else
  (void)iterations, (void)threads;
  return 0.0;  // not measured on this architecture
#endif
}

// --- the read of rows in a given order (an SGD epoch's gather), for the benchmarks -----------
//
// Σ of the rows order[0..m) of X (row stride ld, d values each), read in that order as the
// fused kernels read a shuffled batch: eight rows at a time, their vectors interleaved
// (eight streams for the hardware prefetcher), each row's cache lines asked for
// kGatherAhead rows before it is read (every line of rows up to 512 bytes, the first 512
// bytes of longer ones) and into L2 kGatherFar rows before (as the per-row loop of
// sequential.hpp). The memory limit of a pass over X's rows in a shuffled order. Each of
// `threads` threads takes a contiguous run of the order.
namespace peak_detail {

constexpr index_t kGatherAhead = 16;
constexpr index_t kGatherFar = 64;  // and into L2 this many rows before (as the per-row loop)

template <class T>
inline void prefetch_row(const T* X, index_t ld, std::int64_t row, index_t span) {
  const char* p = reinterpret_cast<const char*>(X + row * ld);
  for (index_t o = 0; o < span; o += 64) __builtin_prefetch(p + o, 0, 3);
  __builtin_prefetch(p + span - 1, 0, 3);
}

template <class T, int Bytes>
inline double gather_rows(const T* X, index_t d, index_t ld, const std::int64_t* order, index_t m) {
  typedef T V __attribute__((vector_size(Bytes)));
  constexpr index_t L = Bytes / static_cast<index_t>(sizeof(T));
  constexpr int G = 8;
  const index_t row_bytes = d * static_cast<index_t>(sizeof(T));
  const index_t span = row_bytes < 512 ? row_bytes : 512;
  V acc[G];
  for (int r = 0; r < G; ++r) acc[r] = V{};
  double rest = 0.0;
  for (index_t a = 0; a < kGatherAhead && a < m; ++a) prefetch_row(X, ld, order[a], span);
  for (index_t a = kGatherAhead; a < kGatherFar && a < m; ++a)
    prefetch_l2(X + order[a] * ld, span);
  index_t i = 0;
  for (; i + G <= m; i += G) {
    for (index_t a = i + kGatherAhead; a < i + kGatherAhead + G && a < m; ++a)
      prefetch_row(X, ld, order[a], span);
    for (index_t a = i + kGatherFar; a < i + kGatherFar + G && a < m; ++a)
      prefetch_l2(X + order[a] * ld, span);
    const T* x[G];
    for (int r = 0; r < G; ++r) x[r] = X + order[i + r] * ld;
    index_t j = 0;
    for (; j + L <= d; j += L)
      for (int r = 0; r < G; ++r) {
        V v;
        std::memcpy(&v, x[r] + j, sizeof v);
        acc[r] += v;
      }
    for (; j < d; ++j)
      for (int r = 0; r < G; ++r) rest += static_cast<double>(x[r][j]);
  }
  for (; i < m; ++i) {
    const T* x = X + order[i] * ld;
    for (index_t j = 0; j < d; ++j) rest += static_cast<double>(x[j]);
  }
  V s = acc[0];
  for (int r = 1; r < G; ++r) s += acc[r];
  for (index_t l = 0; l < L; ++l) rest += static_cast<double>(s[l]);
  return rest;
}

#if defined(FASTSGD_PEAK_X86)
template <class T>
__attribute__((target("avx2,fma"))) inline double gather_rows_avx2(const T* X, index_t d,
                                                                   index_t ld,
                                                                   const std::int64_t* order,
                                                                   index_t m) {
  return gather_rows<T, 32>(X, d, ld, order, m);
}
#endif

}  // namespace peak_detail

template <class T>
double gather_read(const T* X, index_t d, index_t ld, const std::int64_t* order, index_t m,
                   int threads) {
  double (*fn)(const T*, index_t, index_t, const std::int64_t*, index_t) =
      &peak_detail::gather_rows<T, 16>;
#if defined(FASTSGD_PEAK_X86)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    fn = &peak_detail::gather_rows_avx2<T>;
#endif
  const int t = m >= 1024 ? resolve_threads(threads, m * d) : 1;
  std::vector<double> part(static_cast<std::size_t>(t), 0.0);
  const index_t per = (m + t - 1) / t;
  parallel_chunks(t, t, [&](index_t c, int) {
    const index_t r0 = c * per;
    const index_t r1 = r0 + per < m ? r0 + per : m;
    if (r0 < r1) part[static_cast<std::size_t>(c)] = fn(X, d, ld, order + r0, r1 - r0);
  });
  double s = 0.0;
  for (const double v : part) s += v;
  return s;
}

}  // namespace fastsgd
