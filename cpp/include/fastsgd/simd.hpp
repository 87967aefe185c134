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
inline vf16 fbroadcast(float x) {
  return vf16{x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
}
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

// --- native vectors: one register of this instruction set ----------------------------------
// vfn holds kFL floats, vdn kDL doubles, vin kDL 64-bit integers (the bits of a vdn).
// The hot loops keep one accumulator per row in a register, so they are written
// for the register's width: 8 rows need 8 accumulators, which 16 ymm registers
// (AVX2) hold with room for the operands, while 8 vd8 (16 ymm) would not.
#if defined(__AVX512F__)
#define FASTSGD_VEC_BYTES 64
#elif defined(__AVX__)
#define FASTSGD_VEC_BYTES 32
#else
#define FASTSGD_VEC_BYTES 16
#endif
typedef float vfn __attribute__((vector_size(FASTSGD_VEC_BYTES)));
typedef double vdn __attribute__((vector_size(FASTSGD_VEC_BYTES)));
typedef long long vin __attribute__((vector_size(FASTSGD_VEC_BYTES)));
typedef unsigned long long vun __attribute__((vector_size(FASTSGD_VEC_BYTES)));
constexpr int kFL = FASTSGD_VEC_BYTES / 4;
constexpr int kDL = FASTSGD_VEC_BYTES / 8;

template <class V, class T>
FASTSGD_ALWAYS_INLINE V nload(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class V, class T>
FASTSGD_ALWAYS_INLINE void nstore(T* p, V v) {
  std::memcpy(p, &v, sizeof v);
}
// x in every lane (one broadcast instruction)
FASTSGD_ALWAYS_INLINE vfn nbroadcast(float x) {
#if defined(__AVX512F__)
  return reinterpret_cast<vfn>(_mm512_set1_ps(x));
#elif defined(__AVX__)
  return reinterpret_cast<vfn>(_mm256_set1_ps(x));
#else
  return vfn{x, x, x, x};
#endif
}
FASTSGD_ALWAYS_INLINE vdn nbroadcast(double x) {
#if defined(__AVX512F__)
  return reinterpret_cast<vdn>(_mm512_set1_pd(x));
#elif defined(__AVX__)
  return reinterpret_cast<vdn>(_mm256_set1_pd(x));
#else
  return vdn{x, x};
#endif
}
template <class V>
FASTSGD_ALWAYS_INLINE V nzero() {
  return V{};
}
// Lane l is l (as a double): for masks of the first m lanes.
FASTSGD_ALWAYS_INLINE vdn niota_d() {
  vdn v;
  for (int l = 0; l < kDL; ++l) v[l] = l;
  return v;
}
FASTSGD_ALWAYS_INLINE vfn niota_f() {
  vfn v;
  for (int l = 0; l < kFL; ++l) v[l] = static_cast<float>(l);
  return v;
}

// The first m lanes at p (0 <= m < the lanes), the others 0; nothing past p + m is
// read (a masked load: the row may end at the end of a page).
FASTSGD_ALWAYS_INLINE vfn nload_partial(const float* p, index_t m) {
#if defined(__AVX512F__)
  return reinterpret_cast<vfn>(
      _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << m) - 1u), p));
#elif defined(__AVX__)
  const vin mask32 = reinterpret_cast<vin>(niota_f() < static_cast<float>(m));
  return reinterpret_cast<vfn>(_mm256_maskload_ps(p, reinterpret_cast<__m256i>(mask32)));
#else
  float t[kFL] = {};
  std::memcpy(t, p, static_cast<std::size_t>(m) * sizeof(float));
  return nload<vfn>(t);
#endif
}
FASTSGD_ALWAYS_INLINE vdn nload_partial(const double* p, index_t m) {
#if defined(__AVX512F__)
  return reinterpret_cast<vdn>(_mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << m) - 1u), p));
#elif defined(__AVX__)
  const vin mask = reinterpret_cast<vin>(niota_d() < static_cast<double>(m));
  return reinterpret_cast<vdn>(_mm256_maskload_pd(p, reinterpret_cast<__m256i>(mask)));
#else
  double t[kDL] = {};
  std::memcpy(t, p, static_cast<std::size_t>(m) * sizeof(double));
  return nload<vdn>(t);
#endif
}
// Stores the first m lanes of v at p (0 <= m < the lanes).
FASTSGD_ALWAYS_INLINE void nstore_partial(double* p, vdn v, index_t m) {
#if defined(__AVX512F__)
  _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << m) - 1u), reinterpret_cast<__m512d>(v));
#elif defined(__AVX__)
  const vin mask = reinterpret_cast<vin>(niota_d() < static_cast<double>(m));
  _mm256_maskstore_pd(p, reinterpret_cast<__m256i>(mask), reinterpret_cast<__m256d>(v));
#else
  double t[kDL];
  std::memcpy(t, &v, sizeof v);
  std::memcpy(p, t, static_cast<std::size_t>(m) * sizeof(double));
#endif
}

// The low and the high half of a vfn as doubles.
FASTSGD_ALWAYS_INLINE vdn ncvt_lo(vfn v) {
#if defined(__AVX512F__)
  return reinterpret_cast<vdn>(_mm512_cvtps_pd(_mm512_castps512_ps256(reinterpret_cast<__m512>(v))));
#elif defined(__AVX__)
  return reinterpret_cast<vdn>(_mm256_cvtps_pd(_mm256_castps256_ps128(reinterpret_cast<__m256>(v))));
#else
  return vdn{v[0], v[1]};
#endif
}
FASTSGD_ALWAYS_INLINE vdn ncvt_hi(vfn v) {
#if defined(__AVX512F__)
  return reinterpret_cast<vdn>(
      _mm512_cvtps_pd(_mm512_extractf32x8_ps(reinterpret_cast<__m512>(v), 1)));
#elif defined(__AVX__)
  return reinterpret_cast<vdn>(_mm256_cvtps_pd(_mm256_extractf128_ps(reinterpret_cast<__m256>(v), 1)));
#else
  return vdn{v[2], v[3]};
#endif
}

// a and b rounded to float32, a in the low half and b in the high half (the inverse
// of ncvt_lo and ncvt_hi).
FASTSGD_ALWAYS_INLINE vfn ncvt_narrow(vdn a, vdn b) {
#if defined(__AVX512F__)
  return reinterpret_cast<vfn>(_mm512_insertf32x8(
      _mm512_castps256_ps512(_mm512_cvtpd_ps(reinterpret_cast<__m512d>(a))),
      _mm512_cvtpd_ps(reinterpret_cast<__m512d>(b)), 1));
#elif defined(__AVX__)
  return reinterpret_cast<vfn>(_mm256_insertf128_ps(
      _mm256_castps128_ps256(_mm256_cvtpd_ps(reinterpret_cast<__m256d>(a))),
      _mm256_cvtpd_ps(reinterpret_cast<__m256d>(b)), 1));
#else
  return vfn{static_cast<float>(a[0]), static_cast<float>(a[1]), static_cast<float>(b[0]),
             static_cast<float>(b[1])};
#endif
}

// Sum of the lanes in a fixed order: adjacent pairs, then adjacent pairs of those...
FASTSGD_ALWAYS_INLINE double nhsum(vdn v) {
#if FASTSGD_VEC_BYTES == 64
  return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
#elif FASTSGD_VEC_BYTES == 32
  return (v[0] + v[1]) + (v[2] + v[3]);
#else
  return v[0] + v[1];
#endif
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
