// A small vector type for the hot loops: 8 doubles. With GCC and Clang it is a
// native vector (one zmm on AVX-512, two ymm on AVX2, four xmm on SSE2);
// elsewhere a plain array the compiler may vectorise.
#pragma once

#include <cstring>

#include "fastsgd/view.hpp"

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
  vf8 v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, vd8);
}
inline void vstore(double* p, vd8 v) { std::memcpy(p, &v, sizeof v); }
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
