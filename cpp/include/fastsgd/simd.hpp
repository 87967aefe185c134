// A small vector type for the hot loops: 8 doubles. With GCC and Clang it is a
// native vector (one zmm on AVX-512, two ymm on AVX2, four xmm on SSE2);
// elsewhere a plain array the compiler may vectorise.
#pragma once

#include <cstring>

#include "fastsgd/base.hpp"

#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif

namespace fastsgd {
inline namespace FASTSGD_ISA {

#if defined(__GNUC__) || defined(__clang__)
#define FASTSGD_NATIVE_VECTORS 1
typedef double vd8 __attribute__((vector_size(64)));
typedef float vf8 __attribute__((vector_size(32)));

inline vd8 vzero() { return vd8{0, 0, 0, 0, 0, 0, 0, 0}; }
inline vd8 vbroadcast(double x) { return vd8{x, x, x, x, x, x, x, x}; }
inline vd8 vload(const double* p) {
  vd8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline vd8 vload(const float* p) {
#if defined(__AVX512F__)
  return reinterpret_cast<vd8>(_mm512_cvtps_pd(_mm256_loadu_ps(p)));  // one vcvtps2pd
#elif defined(__AVX__)
  const __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(p));
  const __m256d hi = _mm256_cvtps_pd(_mm_loadu_ps(p + 4));
  vd8 v;
  std::memcpy(&v, &lo, sizeof lo);
  std::memcpy(reinterpret_cast<char*>(&v) + sizeof lo, &hi, sizeof hi);
  return v;
#else
  vf8 v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, vd8);
#endif
}
inline void vstore(double* p, vd8 v) { std::memcpy(p, &v, sizeof v); }

// 16 floats, for float32 data: products and short partial sums in float32,
// every longer sum in double (see loss.hpp).
typedef float vf16 __attribute__((vector_size(64)));
inline vf16 fzero() { return vf16{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}; }
inline vf16 fbroadcast(float x) { return fzero() + x; }
inline vf16 fload(const float* p) {
  vf16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
// The first m < 16 floats at p, the other lanes 0 (a masked load: no read past p + m).
inline vf16 fload_partial(const float* p, index_t m) {
#if defined(__AVX512F__)
  const __mmask16 mask = static_cast<__mmask16>((1u << m) - 1u);
  return reinterpret_cast<vf16>(_mm512_maskz_loadu_ps(mask, p));
#else
  float t[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  std::memcpy(t, p, static_cast<std::size_t>(m) * sizeof(float));
  return fload(t);
#endif
}
// The low and high 8 lanes as doubles.
inline vd8 cvt_lo(vf16 v) {
#if defined(__AVX512F__)
  return reinterpret_cast<vd8>(
      _mm512_cvtps_pd(_mm512_castps512_ps256(reinterpret_cast<__m512>(v))));
#else
  float t[16];
  std::memcpy(t, &v, sizeof v);
  return vload(t);
#endif
}
inline vd8 cvt_hi(vf16 v) {
#if defined(__AVX512F__)
  return reinterpret_cast<vd8>(
      _mm512_cvtps_pd(_mm512_extractf32x8_ps(reinterpret_cast<__m512>(v), 1)));
#else
  float t[16];
  std::memcpy(t, &v, sizeof v);
  return vload(t + 8);
#endif
}
// Sum of the lanes in a fixed order (results do not depend on the caller).
inline double hsum(vd8 v) {
  return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
}
#else
struct vd8 {
  double v[8];
  double& operator[](int i) { return v[i]; }
  double operator[](int i) const { return v[i]; }
};
inline vd8 vzero() { return vd8{{0, 0, 0, 0, 0, 0, 0, 0}}; }
inline vd8 vbroadcast(double x) { return vd8{{x, x, x, x, x, x, x, x}}; }
inline vd8 operator+(vd8 a, vd8 b) {
  for (int i = 0; i < 8; ++i) a.v[i] += b.v[i];
  return a;
}
inline vd8 operator-(vd8 a, vd8 b) {
  for (int i = 0; i < 8; ++i) a.v[i] -= b.v[i];
  return a;
}
inline vd8 operator*(vd8 a, vd8 b) {
  for (int i = 0; i < 8; ++i) a.v[i] *= b.v[i];
  return a;
}
inline vd8& operator+=(vd8& a, vd8 b) { return a = a + b; }
template <class T>
inline vd8 vload(const T* p) {
  vd8 r;
  for (int i = 0; i < 8; ++i) r.v[i] = static_cast<double>(p[i]);
  return r;
}
inline void vstore(double* p, vd8 v) { std::memcpy(p, v.v, sizeof v.v); }
inline double hsum(vd8 v) {
  return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
}
#endif

}  // namespace FASTSGD_ISA
}  // namespace fastsgd
