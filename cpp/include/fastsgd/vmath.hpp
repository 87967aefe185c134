// exp, log and log1p on native double vectors (simd.hpp's vdn), for the losses of
// a block of rows (loss_blocks.hpp): one call does kDL rows. Each is within about
// one unit in the last place of std::exp / std::log / std::log1p on the domain
// the losses use (tests/test_kernel_paths.py compares them through the kernels).
//
//   exp(x)   = 2^k · e^r,  x = k·ln2 + r, |r| ≤ ln2/2, e^r by its Taylor polynomial of
//              degree 13 (truncation error below 2^-60); k added to the exponent bits.
//              x < −708.3964 (a result below the smallest normal double, 2.2e−308)
//              gives 0; x > 709.78 gives +inf.
//   log(x)   = e·ln2 + log(m), x = 2^e·m with m in [√2/2, √2); log(m) as fdlibm's
//              __ieee754_log does (f = m − 1, s = f/(2 + f), a polynomial in s²).
//              For normal x > 0, +inf and NaN.
//   log1p(t) = log(u) + (t − (u − 1))/u with u = 1 + t rounded: the second term is
//              the rounding error of u (Goldberg's correction). For t ≥ 0.
#pragma once

#include <cstdint>

#include "fastsgd/simd.hpp"

namespace fastsgd {
inline namespace FASTSGD_ISA {

#if defined(FASTSGD_NATIVE_VECTORS)

FASTSGD_ALWAYS_INLINE vdn vselect(vin mask, vdn a, vdn b) {
  return reinterpret_cast<vdn>((mask & reinterpret_cast<vin>(a)) | (~mask & reinterpret_cast<vin>(b)));
}

// e^x, lane by lane. Nonpos: the caller promises x ≤ 0 or NaN (no overflow test).
template <bool Nonpos = false>
FASTSGD_ALWAYS_INLINE vdn vexp(vdn x) {
  const double log2e = 0x1.71547652b82fep0;
  const double ln2_hi = 0x1.62e42fee00000p-1;   // ln 2 to 32 bits: k·ln2_hi is exact
  const double ln2_lo = 0x1.a39ef35793c76p-33;  // ln 2 − ln2_hi
  const double shifter = 0x1.8p52;              // adding it rounds to an integer in the low bits
  const vdn kd_s = x * log2e + shifter;
  const vun k = reinterpret_cast<vun>(kd_s);  // low bits: round(x·log2 e) (+ 2^51)
  const vdn kd = kd_s - shifter;
  vdn r = x - kd * ln2_hi;
  r = r - kd * ln2_lo;
  // e^r = Σ r^i / i!, i ≤ 13, by Horner's rule
  vdn p = nbroadcast(1.0 / 6227020800.0);
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // 2^k · p: k added to the exponent field (p is in [0.7, 1.42], so no field overflows
  // while the result is a normal number)
  const vdn y = reinterpret_cast<vdn>(reinterpret_cast<vun>(p) + (k << 52));
  const vdn zero = nzero<vdn>();
  const vdn inf = nbroadcast(__builtin_inf());
  (void)inf;
  vdn out = vselect(reinterpret_cast<vin>(x < -708.3964), zero, y);
  if constexpr (!Nonpos) out = vselect(reinterpret_cast<vin>(x > 709.78), inf, out);
  return vselect(reinterpret_cast<vin>(x != x), x, out);  // NaN stays NaN
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

// log(1 + t) for t ≥ 0 (and NaN), lane by lane.
FASTSGD_ALWAYS_INLINE vdn vlog1p(vdn t) {
  const vdn u = 1.0 + t;
  return vlog(u) + (t - (u - 1.0)) / u;
}

#endif

}  // namespace FASTSGD_ISA
}  // namespace fastsgd
