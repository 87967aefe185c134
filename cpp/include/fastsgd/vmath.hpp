// exp and log on native double vectors (simd.hpp's vdn), for the losses of a block
// of rows (loss_blocks.hpp): one call does kDL rows. Each is within about one unit
// in the last place of std::exp / std::log on the domain the losses use (the
// kernels' tests compare them with NumPy's through the kernels).
// vexpf_m is a float32 version (Cephes' expf) for float32 rows.
//
//   exp(x)   = 2^k · e^r,  x = k·ln2 + r, |r| ≤ ln2/2, e^r by its Taylor polynomial of
//              degree 13 (truncation error below 2^-60); k added to the exponent bits.
//              x < −708.3964 (a result below the smallest normal double, 2.2e−308)
//              gives 0; x > 709.78 gives +inf.
//   log(x)   = e·ln2 + log(m), x = 2^e·m with m in [√2/2, √2); log(m) as fdlibm's
//              __ieee754_log does (f = m − 1, s = f/(2 + f), a polynomial in s²).
//              For normal x > 0, +inf and NaN.
#pragma once

#include <cstdint>
#include <type_traits>

#include "fastsgd/simd.hpp"

namespace fastsgd {
inline namespace FASTSGD_ISA {

#if defined(FASTSGD_NATIVE_VECTORS)

// Integer vectors of a vfn's lanes (its bits, and the masks its comparisons give).
typedef unsigned vufn __attribute__((vector_size(FASTSGD_VEC_BYTES)));
typedef int vifn __attribute__((vector_size(FASTSGD_VEC_BYTES)));
// The mask type of vectors V (vdn or vfn): lanes of all ones or all zeros.
template <class V>
using mask_of = std::conditional_t<std::is_same_v<V, vdn>, vin, vifn>;

// a where the mask is set, else b, lane by lane.
FASTSGD_ALWAYS_INLINE vdn vselect(vin mask, vdn a, vdn b) {
  return reinterpret_cast<vdn>((mask & reinterpret_cast<vin>(a)) | (~mask & reinterpret_cast<vin>(b)));
}
FASTSGD_ALWAYS_INLINE vfn vselect(vifn mask, vfn a, vfn b) {
  return reinterpret_cast<vfn>((mask & reinterpret_cast<vifn>(a)) |
                               (~mask & reinterpret_cast<vifn>(b)));
}

// e^x, lane by lane, for M vectors side by side: each step is taken for all M before
// the next, so that M independent chains of multiply-adds overlap. Nonpos: the caller
// promises x ≤ 0 or NaN (no overflow test).
template <int M, bool Nonpos = false>
FASTSGD_ALWAYS_INLINE void vexp_m(const vdn* x, vdn* out) {
  const double log2e = 0x1.71547652b82fep0;
  const double ln2_hi = 0x1.62e42fee00000p-1;   // ln 2 to 32 bits: k·ln2_hi is exact
  const double ln2_lo = 0x1.a39ef35793c76p-33;  // ln 2 − ln2_hi
  const double shifter = 0x1.8p52;              // adding it rounds to an integer in the low bits
  vun k[M];
  vdn r[M], p[M];
  for (int i = 0; i < M; ++i) {
    const vdn kd_s = x[i] * log2e + shifter;
    k[i] = reinterpret_cast<vun>(kd_s);  // low bits: round(x·log2 e) (+ 2^51)
    const vdn kd = kd_s - shifter;
    r[i] = x[i] - kd * ln2_hi;
    r[i] = r[i] - kd * ln2_lo;
  }
  // e^r = Σ r^i / i!, i ≤ 13, by Horner's rule
  constexpr double c[13] = {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                            1.0 / 362880.0,    1.0 / 40320.0,    1.0 / 5040.0,
                            1.0 / 720.0,       1.0 / 120.0,      1.0 / 24.0,
                            1.0 / 6.0,         0.5,              1.0,
                            1.0};
  for (int i = 0; i < M; ++i) p[i] = nbroadcast(1.0 / 6227020800.0);
  for (int j = 0; j < 13; ++j)
    for (int i = 0; i < M; ++i) p[i] = p[i] * r[i] + c[j];
  const vdn zero = nzero<vdn>();
  const vdn inf = nbroadcast(__builtin_inf());
  (void)inf;
  for (int i = 0; i < M; ++i) {
    // 2^k · p: k added to the exponent field (p is in [0.7, 1.42], so no field overflows
    // while the result is a normal number)
    const vdn y = reinterpret_cast<vdn>(reinterpret_cast<vun>(p[i]) + (k[i] << 52));
    vdn o = vselect(reinterpret_cast<vin>(x[i] < -708.3964), zero, y);
    if constexpr (!Nonpos) o = vselect(reinterpret_cast<vin>(x[i] > 709.78), inf, o);
    out[i] = vselect(reinterpret_cast<vin>(x[i] != x[i]), x[i], o);  // NaN stays NaN
  }
}
// e^x, lane by lane (vexp_m of one vector).
template <bool Nonpos = false>
FASTSGD_ALWAYS_INLINE vdn vexp(vdn x) {
  vdn out;
  vexp_m<1, Nonpos>(&x, &out);
  return out;
}

// e^x in float32 lanes for x ≤ 0 (or NaN), M vectors side by side: Cephes' expf
// (x = k·ln2 + r, |r| ≤ ln2/2, e^r by a degree-7 polynomial, within about 2 units in
// the last place of a float32). x < −86.5 gives 0 (e^x is then below 2.7e−38, near the
// smallest normal float32, and 2^k would leave the exponent field); NaN stays NaN.
template <int M>
FASTSGD_ALWAYS_INLINE void vexpf_m(const vfn* x, vfn* out) {
  const float log2e = 1.44269504088896341f;
  const float ln2_hi = 0.693359375f;       // few bits: k·ln2_hi is exact
  const float ln2_lo = -2.12194440e-4f;    // ln 2 − ln2_hi
  const float shifter = 0x1.8p23f;         // adding it rounds to an integer in the low bits
  vufn k[M];
  vfn r[M], p[M];
  for (int i = 0; i < M; ++i) {
    const vfn kd_s = x[i] * log2e + shifter;
    k[i] = reinterpret_cast<vufn>(kd_s);
    const vfn kd = kd_s - shifter;
    r[i] = x[i] - kd * ln2_hi;
    r[i] = r[i] - kd * ln2_lo;
  }
  constexpr float c[5] = {1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f,
                          1.6666665459e-1f, 5.0000001201e-1f};
  for (int i = 0; i < M; ++i) p[i] = nbroadcast(1.9875691500e-4f);
  for (int j = 0; j < 5; ++j)
    for (int i = 0; i < M; ++i) p[i] = p[i] * r[i] + c[j];
  const vfn zero = nzero<vfn>();
  for (int i = 0; i < M; ++i) {
    const vfn y = p[i] * (r[i] * r[i]) + (r[i] + 1.0f);  // e^r
    const vfn e = reinterpret_cast<vfn>(reinterpret_cast<vufn>(y) + (k[i] << 23));
    const vfn o = vselect(reinterpret_cast<vifn>(x[i] < -86.5f), zero, e);
    out[i] = vselect(reinterpret_cast<vifn>(x[i] != x[i]), x[i], o);  // NaN stays NaN
  }
}

// log(x) for normal x > 0 (and +inf, NaN), lane by lane. Finite: the caller promises
// a finite x (no test for +inf and NaN).
template <bool Finite = false>
FASTSGD_ALWAYS_INLINE vdn vlog(vdn x) {
  const double ln2_hi = 6.93147180369123816490e-01;  // fdlibm's split of ln 2
  const double ln2_lo = 1.90821492927058770002e-10;
  const double Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01,
               Lg3 = 2.857142874366239149e-01, Lg4 = 2.222219843214978396e-01,
               Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01,
               Lg7 = 1.479819860511658591e-01;
  const vun bits = reinterpret_cast<vun>(x);
  // m in [1, 2) from the mantissa; halved (and e raised) above √2
  const vun mant = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
  vdn m = reinterpret_cast<vdn>(mant);
  // the biased exponent as a double: its bits under 2^52's exponent, minus 2^52
  const vdn eb = reinterpret_cast<vdn>((bits >> 52) | 0x4330000000000000ULL) - 0x1p52;
  const vin big = reinterpret_cast<vin>(m > 0x1.6a09e667f3bcdp0);
  m = vselect(big, m * 0.5, m);
  const vdn e = eb - 1023.0 + vselect(big, nbroadcast(1.0), nzero<vdn>());
  const vdn f = m - 1.0;
  const vdn s = f / (2.0 + f);
  const vdn z = s * s;
  const vdn w = z * z;
  const vdn t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
  const vdn t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
  const vdn R = t2 + t1;
  const vdn hfsq = 0.5 * f * f;
  const vdn out = e * ln2_hi - ((hfsq - (s * (hfsq + R) + e * ln2_lo)) - f);
  if constexpr (Finite) return out;
  // +inf and NaN give themselves
  return vselect(reinterpret_cast<vin>(x != x || x == __builtin_inf()), x, out);
}

// e^x for x ≤ 0 (or NaN) on M vectors of either lane type (vexp_m or vexpf_m), and
// log(x) for normal, finite x > 0 on M vectors of doubles (vlog).
template <int M>
FASTSGD_ALWAYS_INLINE void exp_nonpos_m(const vdn* x, vdn* out) {
  vexp_m<M, true>(x, out);
}
template <int M>
FASTSGD_ALWAYS_INLINE void exp_nonpos_m(const vfn* x, vfn* out) {
  vexpf_m<M>(x, out);
}
template <int M>
FASTSGD_ALWAYS_INLINE void log_finite_m(const vdn* x, vdn* out) {
  for (int i = 0; i < M; ++i) out[i] = vlog<true>(x[i]);
}

#endif

}  // namespace FASTSGD_ISA
}  // namespace fastsgd
