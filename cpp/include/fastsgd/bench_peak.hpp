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

#include "fastsgd/parallel.hpp"

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

}  // namespace fastsgd
