// Fused loss + gradient of a linear model in one pass over the rows of X,
// and batched dot products. These are the hot loops; they are compiled once
// per instruction set (see kernels_table.hpp) and must stay free of OpenMP,
// allocation and standard-library templates.
//
// For rows i in [r0, r1) of a Problem, with z_i = Wt x_i + b (k scores):
//   mse:      loss_i = Σ_c (z_ic − y_ic)²          dloss/dz_ic = z_ic − y_ic
//   softmax:  loss_i = −log softmax(z_i)[y_i]      dloss/dz_ic = p_ic − [c = y_i]
//   logistic: loss_i = log(1 + e^z) − t·z  (k = 1) dloss/dz_i  = σ(z_i) − t_i
// A chunk adds Σ loss_i, Σ dz_i and Σ dz_i x_iᵀ to `out` = [loss, gb(k), G(k·d)].
// The caller scales the sums (2/(n·k) for mse, 1/n for the others).
#pragma once

#include <cmath>

#include "fastsgd/simd.hpp"
#include "fastsgd/view.hpp"

namespace fastsgd {
inline namespace FASTSGD_ISA {

inline index_t imin(index_t a, index_t b) { return a < b ? a : b; }
inline double dmax(double a, double b) { return a < b ? b : a; }

template <class T>
inline const T* row_ptr(const Problem<T>& p, index_t i) {
  return p.X + (p.rows != nullptr ? p.rows[i] : i) * p.ldx;
}
template <class T>
inline index_t target_index(const Problem<T>& p, index_t i) {
  return p.rows != nullptr ? p.rows[i] : i;
}

// s[r] = x_r · w for R rows, accumulated in double. D > 0 fixes d at compile time.
template <int R, int D, class T>
inline void row_dots(const T* const* x, const double* w, index_t d, double* s) {
  if constexpr (D > 0) {
    for (int r = 0; r < R; ++r) {
      double t = 0.0;
      for (int j = 0; j < D; ++j) t += static_cast<double>(x[r][j]) * w[j];
      s[r] = t;
    }
  } else {
    vd8 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = vzero();
    index_t j = 0;
    for (; j + 8 <= d; j += 8) {
      const vd8 wv = vload(w + j);
      for (int r = 0; r < R; ++r) acc[r] += vload(x[r] + j) * wv;
    }
    for (int r = 0; r < R; ++r) {
      double t = hsum(acc[r]);
      for (index_t jj = j; jj < d; ++jj) t += static_cast<double>(x[r][jj]) * w[jj];
      s[r] = t;
    }
  }
}

#if defined(FASTSGD_NATIVE_VECTORS)
// x · w for one float32 row, read front to back (one sequential stream, which
// the hardware prefetcher follows): four chains of 16-lane float32 products,
// each holding at most 4 terms before it is added into double.
inline double row_dot1_f32(const float* x, const float* wf, index_t d) {
  vd8 acc = vzero();
  index_t j = 0;
  while (j + 64 <= d) {
    vf16 a0 = fzero(), a1 = fzero(), a2 = fzero(), a3 = fzero();
    const index_t stop = j + 256 <= d ? j + 256 : d - (d - j) % 64;
    for (; j < stop; j += 64) {
      a0 += fload(x + j) * fload(wf + j);
      a1 += fload(x + j + 16) * fload(wf + j + 16);
      a2 += fload(x + j + 32) * fload(wf + j + 32);
      a3 += fload(x + j + 48) * fload(wf + j + 48);
    }
    const vf16 a = (a0 + a1) + (a2 + a3);
    acc += cvt_lo(a) + cvt_hi(a);
  }
  vf16 a0 = fzero(), a1 = fzero();
  for (; j + 32 <= d; j += 32) {
    a0 += fload(x + j) * fload(wf + j);
    a1 += fload(x + j + 16) * fload(wf + j + 16);
  }
  if (j + 16 <= d) {
    a0 += fload(x + j) * fload(wf + j);
    j += 16;
  }
  if (j < d) a1 += fload_partial(x + j, d - j) * fload_partial(wf + j, d - j);
  const vf16 a = a0 + a1;
  acc += cvt_lo(a) + cvt_hi(a);
  return hsum(acc);
}

// g += Σ_r c[r] · x_r for float32 rows: the R-term sum in float32, added to g in double.
template <int R>
inline void row_axpy_f32(double* g, const double* c, const float* const* x, index_t d) {
  vf16 cv[R];
  for (int r = 0; r < R; ++r) cv[r] = fbroadcast(static_cast<float>(c[r]));
  index_t j = 0;
  for (; j + 16 <= d; j += 16) {
    vf16 t = cv[0] * fload(x[0] + j);
    for (int r = 1; r < R; ++r) t += cv[r] * fload(x[r] + j);
    vstore(g + j, vload(g + j) + cvt_lo(t));
    vstore(g + j + 8, vload(g + j + 8) + cvt_hi(t));
  }
  for (; j < d; ++j) {
    double t = g[j];
    for (int r = 0; r < R; ++r) t += c[r] * static_cast<double>(x[r][j]);
    g[j] = t;
  }
}
#endif

// g += Σ_r c[r] · x_r   (the gradient's rank-R update, in double)
template <int R, int D, class T>
inline void row_axpy(double* g, const double* c, const T* const* x, index_t d) {
  if constexpr (D > 0) {
    for (int j = 0; j < D; ++j) {
      double t = g[j];
      for (int r = 0; r < R; ++r) t += c[r] * static_cast<double>(x[r][j]);
      g[j] = t;
    }
  } else {
    vd8 cv[R];
    for (int r = 0; r < R; ++r) cv[r] = vbroadcast(c[r]);
    index_t j = 0;
    for (; j + 8 <= d; j += 8) {
      vd8 acc = vload(g + j);
      for (int r = 0; r < R; ++r) acc += cv[r] * vload(x[r] + j);
      vstore(g + j, acc);
    }
    for (; j < d; ++j) {
      double t = g[j];
      for (int r = 0; r < R; ++r) t += c[r] * static_cast<double>(x[r][j]);
      g[j] = t;
    }
  }
}

// Per-row losses. z (k scores, stride zs) → residuals dz (same stride); returns the row loss.
struct MseOp {
  template <class T>
  static double apply(const Problem<T>& p, index_t i, const double* z, index_t zs, double* dz) {
    const T* y = p.Y != nullptr ? p.Y + target_index(p, i) * p.ldy : nullptr;  // no Y: y = 0
    double loss = 0.0;
    for (index_t c = 0; c < p.k; ++c) {
      const double r = z[c * zs] - (y != nullptr ? static_cast<double>(y[c]) : 0.0);  // x·w + b − y
      dz[c * zs] = r;
      loss += r * r;
    }
    return loss;
  }
};

struct SoftmaxOp {
  template <class T>
  static double apply(const Problem<T>& p, index_t i, const double* z, index_t zs, double* dz) {
    const std::int64_t label = p.labels[target_index(p, i)];
    double m = z[0];
    for (index_t c = 1; c < p.k; ++c) m = dmax(m, z[c * zs]);
    double sum = 0.0;
    for (index_t c = 0; c < p.k; ++c) {
      const double e = std::exp(z[c * zs] - m);  // stable: the largest exponent is 0
      dz[c * zs] = e;
      sum += e;
    }
    const double inv = 1.0 / sum;
    for (index_t c = 0; c < p.k; ++c) dz[c * zs] *= inv;  // p_c = softmax(z)_c
    dz[label * zs] -= 1.0;                                // p − onehot(y)
    return std::log(sum) - (z[label * zs] - m);           // −log p_y
  }
};

struct LogisticOp {
  template <class T>
  static double apply(const Problem<T>& p, index_t i, const double* z, index_t, double* dz) {
    const double t = static_cast<double>(p.labels[target_index(p, i)]);
    const double s = z[0];
    // log(1 + e^s) − t·s, written so that neither exp overflows
    const double softplus = (s > 0 ? s : 0.0) + std::log1p(std::exp(-std::fabs(s)));
    const double e = std::exp(-std::fabs(s));
    const double sigma = s >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    dz[0] = sigma - t;
    return softplus - t * s;
  }
};

// R rows at once: scores, residuals, then the rank-R gradient update.
// scratch holds 2·R·k doubles (R ≤ 8).
template <int R, int D, bool Grad, class Op, class T>
inline void row_block(const Problem<T>& p, index_t i, double* out, double* scratch) {
  const index_t d = D > 0 ? D : p.d;
  const index_t k = p.k;
  const T* x[R];
  for (int r = 0; r < R; ++r) x[r] = row_ptr(p, i + r);
  double* z = scratch;  // z[c·R + r]
  double* dz = scratch + R * k;
  for (index_t c = 0; c < k; ++c) {
#if defined(FASTSGD_NATIVE_VECTORS)
    if constexpr (D == 0 && sizeof(T) == 4) {
      for (int r = 0; r < R; ++r) z[c * R + r] = row_dot1_f32(x[r], p.Wf + c * d, d);
    } else {
      row_dots<R, D>(x, p.Wt + c * d, d, z + c * R);
    }
#else
    row_dots<R, D>(x, p.Wt + c * d, d, z + c * R);
#endif
    const double bc = p.b != nullptr ? p.b[c] : 0.0;
    for (int r = 0; r < R; ++r) z[c * R + r] += bc;
  }
  double loss = 0.0;
  for (int r = 0; r < R; ++r) loss += Op::apply(p, i + r, z + r, R, dz + r);
  out[0] += loss;
  if constexpr (Grad) {
    double* gb = out + 1;
    double* G = out + 1 + k;
    for (index_t c = 0; c < k; ++c) {
      double sb = 0.0;
      for (int r = 0; r < R; ++r) sb += dz[c * R + r];
      gb[c] += sb;
#if defined(FASTSGD_NATIVE_VECTORS)
      if constexpr (D == 0 && sizeof(T) == 4) {
        row_axpy_f32<R>(G + c * d, dz + c * R, x, d);
      } else {
        row_axpy<R, D>(G + c * d, dz + c * R, x, d);
      }
#else
      row_axpy<R, D>(G + c * d, dz + c * R, x, d);
#endif
    }
  }
}

template <int R, int D, bool Grad, class Op, class T>
inline void rows_blocked(const Problem<T>& p, index_t r0, index_t r1, double* out,
                         double* scratch) {
  index_t i = r0;
  for (; i + R <= r1; i += R) row_block<R, D, Grad, Op>(p, i, out, scratch);
  for (; i < r1; ++i) row_block<1, D, Grad, Op>(p, i, out, scratch);
}

template <int D, bool Grad, class Op, class T>
inline void rows_generic(const Problem<T>& p, index_t r0, index_t r1, double* out,
                         double* scratch) {
  // Blocks of R rows share each load and store of the gradient; the block is
  // read twice (scores, then gradient), the second time from L1, so R rows
  // must fit in it. Wide float32 rows on AVX-512 (32 vector registers): 8 rows
  // of up to 2 KiB. Otherwise 4.
#if defined(__AVX512F__)
  if constexpr (D == 0 && sizeof(T) == 4) {
    if (p.d <= 512) return rows_blocked<8, D, Grad, Op>(p, r0, r1, out, scratch);
  }
#endif
  rows_blocked<4, D, Grad, Op>(p, r0, r1, out, scratch);
}

#if defined(FASTSGD_NATIVE_VECTORS)
// Sum each group of D adjacent lanes, leaving the sum in every lane of the group.
template <int D>
inline vd8 group_sum(vd8 v) {
  typedef long long vi8 __attribute__((vector_size(64)));
  if constexpr (D >= 2) v += __builtin_shuffle(v, vi8{1, 0, 3, 2, 5, 4, 7, 6});
  if constexpr (D >= 4) v += __builtin_shuffle(v, vi8{2, 3, 0, 1, 6, 7, 4, 5});
  return v;
}
// Lane l of part q holds y[q·8/D + l/D]: the targets of the 8/D rows whose
// features sit in x-vector q, each repeated D times (one permute).
template <int D>
inline vd8 spread(vd8 y, int q) {
  typedef long long vi8 __attribute__((vector_size(64)));
  vi8 mask;
  for (int l = 0; l < 8; ++l) mask[l] = q * (8 / D) + l / D;
  return __builtin_shuffle(y, mask);
}

// Mean squared error for k = 1 and d in {1, 2, 4} on contiguous rows:
// vectorised across rows, 8/D rows per vector, the weights tiled across lanes.
// Each iteration takes 8 rows: D vectors of X and one vector of y.
template <int D, bool Grad, class T>
inline void mse_tiled(const Problem<T>& p, index_t r0, index_t r1, double* out, double* scratch) {
  const T* X = p.X + r0 * D;
  const T* Y = p.Y + r0;
  const index_t m = r1 - r0;
  vd8 wt;
  for (int l = 0; l < 8; ++l) wt[l] = p.Wt[l % D];
  const vd8 bv = vbroadcast(p.b != nullptr ? p.b[0] : 0.0);
  vd8 loss[D], g[D], es[D];
  for (int q = 0; q < D; ++q) loss[q] = g[q] = es[q] = vzero();
  index_t i = 0;
  for (; i + 8 <= m; i += 8) {
    const vd8 y = vload(Y + i);
    for (int q = 0; q < D; ++q) {
      const vd8 x = vload(X + i * D + 8 * q);
      const vd8 e = group_sum<D>(x * wt) + bv - spread<D>(y, q);  // r = x·w + b − y
      loss[q] += e * e;
      if constexpr (Grad) {
        g[q] += e * x;  // lane l collects r · x[l % D]
        es[q] += e;
      }
    }
  }
  for (int q = 1; q < D; ++q) {
    loss[0] += loss[q];
    g[0] += g[q];
    es[0] += es[q];
  }
  // Every row's residual sits in D lanes: divide those sums by D (exact, D is a power of 2).
  constexpr double inv_d = 1.0 / D;
  out[0] += hsum(loss[0]) * inv_d;
  if constexpr (Grad) {
    out[1] += hsum(es[0]) * inv_d;
    for (int j = 0; j < D; ++j) {
      double t = 0.0;
      for (int l = j; l < 8; l += D) t += g[0][l];
      out[2 + j] += t;
    }
  }
  rows_generic<D, Grad, MseOp>(p, r0 + i, r1, out, scratch);
}

// The same for float32 data, 16 lanes: products and sums of at most 4·D terms
// per lane in float32, flushed into double every 64 rows (so sums over rows
// stay in double). Each iteration takes 16 rows: D vectors of X, one of y.
template <int D>
inline vf16 group_sum16(vf16 v) {
  typedef int vi16 __attribute__((vector_size(64)));
  if constexpr (D >= 2)
    v += __builtin_shuffle(v, vi16{1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14});
  if constexpr (D >= 4)
    v += __builtin_shuffle(v, vi16{2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13});
  return v;
}
template <int D>
inline vf16 spread16(vf16 y, int q) {
  typedef int vi16 __attribute__((vector_size(64)));
  vi16 mask;
  for (int l = 0; l < 16; ++l) mask[l] = q * (16 / D) + l / D;
  return __builtin_shuffle(y, mask);
}

template <int D, bool Grad>
inline void mse_tiled_f32(const Problem<float>& p, index_t r0, index_t r1, double* out,
                          double* scratch) {
  const float* X = p.X + r0 * D;
  const float* Y = p.Y + r0;
  const index_t m = r1 - r0;
  vf16 wt;
  for (int l = 0; l < 16; ++l) wt[l] = static_cast<float>(p.Wt[l % D]);
  const vf16 bv = fbroadcast(static_cast<float>(p.b != nullptr ? p.b[0] : 0.0));
  vd8 loss = vzero(), g = vzero(), es = vzero();
  index_t i = 0;
  while (i + 16 <= m) {
    vf16 lf = fzero(), gf = fzero(), ef = fzero();
    const index_t stop = i + 64 <= m ? i + 64 : m - (m - i) % 16;
    for (; i < stop; i += 16) {
      const vf16 y = fload(Y + i);
      for (int q = 0; q < D; ++q) {
        const vf16 x = fload(X + i * D + 16 * q);
        const vf16 e = group_sum16<D>(x * wt) + (bv - spread16<D>(y, q));  // x·w + b − y
        lf += e * e;
        if constexpr (Grad) {
          gf += e * x;  // lane l collects r · x[l % D]
          ef += e;
        }
      }
    }
    loss += cvt_lo(lf) + cvt_hi(lf);  // lane l of both halves holds feature l % D
    if constexpr (Grad) {
      g += cvt_lo(gf) + cvt_hi(gf);
      es += cvt_lo(ef) + cvt_hi(ef);
    }
  }
  constexpr double inv_d = 1.0 / D;  // every row's residual sits in D lanes
  out[0] += hsum(loss) * inv_d;
  if constexpr (Grad) {
    out[1] += hsum(es) * inv_d;
    for (int j = 0; j < D; ++j) {
      double t = 0.0;
      for (int l = j; l < 8; l += D) t += g[l];
      out[2 + j] += t;
    }
  }
  rows_generic<D, Grad, MseOp>(p, r0 + i, r1, out, scratch);
}
#endif

template <int D, bool Grad, class T>
inline void grad_rows_d(const Problem<T>& p, Loss loss, index_t r0, index_t r1, double* out,
                        double* scratch) {
  switch (loss) {
    case Loss::mse:
#if defined(FASTSGD_NATIVE_VECTORS)
      if constexpr (D == 1 || D == 2 || D == 4) {
        if (p.k == 1 && p.rows == nullptr && p.ldx == D && p.Y != nullptr && p.ldy == 1) {
          if constexpr (sizeof(T) == 4)
            mse_tiled_f32<D, Grad>(p, r0, r1, out, scratch);
          else
            mse_tiled<D, Grad>(p, r0, r1, out, scratch);
          return;
        }
      }
#endif
      rows_generic<D, Grad, MseOp>(p, r0, r1, out, scratch);
      return;
    case Loss::softmax:
      rows_generic<D, Grad, SoftmaxOp>(p, r0, r1, out, scratch);
      return;
    case Loss::logistic:
      rows_generic<D, Grad, LogisticOp>(p, r0, r1, out, scratch);
      return;
  }
}

template <bool Grad, class T>
inline void grad_rows_g(const Problem<T>& p, Loss loss, index_t r0, index_t r1, double* out,
                        double* scratch) {
  switch (p.d) {
    case 1:
      return grad_rows_d<1, Grad>(p, loss, r0, r1, out, scratch);
    case 2:
      return grad_rows_d<2, Grad>(p, loss, r0, r1, out, scratch);
    case 3:
      return grad_rows_d<3, Grad>(p, loss, r0, r1, out, scratch);
    case 4:
      return grad_rows_d<4, Grad>(p, loss, r0, r1, out, scratch);
    default:
      return grad_rows_d<0, Grad>(p, loss, r0, r1, out, scratch);
  }
}

// Entry point: add rows [r0, r1)'s loss (and gradient sums when `grad`) to out.
template <class T>
inline void grad_rows(const Problem<T>& p, Loss loss, index_t r0, index_t r1, bool grad,
                      double* out, double* scratch) {
  if (grad)
    grad_rows_g<true>(p, loss, r0, r1, out, scratch);
  else
    grad_rows_g<false>(p, loss, r0, r1, out, scratch);
}

}  // namespace FASTSGD_ISA
}  // namespace fastsgd
