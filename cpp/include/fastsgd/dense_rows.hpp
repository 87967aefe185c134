// Dense rows: the fused loss + gradient of a linear model in one pass over the
// rows, and batched dot products. These are the hot loops of dense data; they
// are compiled once per instruction set (isa_table.hpp) and stay free of
// OpenMP and allocation.
//
// For the rows of a set, with scores z = scale·(W x) + b (k per row) and
// dz = weight · clip(dℓ/dz) from the loss (losses.hpp), a call adds to
//   out = [Σ ℓ, Σ weight·ℓ, Σ dz (k), Σ dz xᵀ (k·d)]
// (the gradient parts only when asked for). The caller divides by the rows.
#pragma once

#include <cmath>

#include "fastsgd/data.hpp"
#include "fastsgd/losses.hpp"
#include "fastsgd/simd.hpp"

namespace fastsgd {
inline namespace FASTSGD_ISA {

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


// R rows at once: scores, the loss and its derivatives, then the rank-R update
// of the gradient. scratch holds 2·R·k doubles (R ≤ 8).
template <int R, int D, bool Grad, class T>
inline void dense_block(const DenseRows<T>& src, const RowSet& rows, index_t i,
                        const Targets<T>& tg, const Params& p, const LossSpec& spec,
                        double limit, double* out, double* scratch) {
  const index_t d = D > 0 ? D : p.d;
  const index_t k = p.k;
  const T* x[R];
  index_t ids[R];
  for (int r = 0; r < R; ++r) {
    ids[r] = rows.id(i + r);
    x[r] = src.row(ids[r]);
  }
  double* z = scratch;  // z[c·R + r]
  double* dz = scratch + R * k;
  for (index_t c = 0; c < k; ++c) {
#if defined(FASTSGD_NATIVE_VECTORS)
    if constexpr (D == 0 && sizeof(T) == 4) {
      if (p.Wf != nullptr) {
        for (int r = 0; r < R; ++r) z[c * R + r] = row_dot1_f32(x[r], p.Wf + c * d, d);
      } else {
        row_dots<R, D>(x, p.W + c * d, d, z + c * R);
      }
    } else {
      row_dots<R, D>(x, p.W + c * d, d, z + c * R);
    }
#else
    row_dots<R, D>(x, p.W + c * d, d, z + c * R);
#endif
    const double bc = p.b != nullptr ? p.b[c] : 0.0;
    for (int r = 0; r < R; ++r) z[c * R + r] = p.scale * z[c * R + r] + bc;
  }
  LossSums sums;
  visit_loss(spec, [&](const auto& L) { loss_rows(L, tg, ids, R, k, z, dz, R, 1, limit, sums); });
  out[kOutLoss] += sums.loss;
  out[kOutWeighted] += sums.weighted;
  if constexpr (Grad) {
    double* gb = out + kOutGb;
    double* G = gb + k;
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

template <int R, int D, bool Grad, class T>
inline void dense_blocked(const DenseRows<T>& src, const RowSet& rows, index_t r0, index_t r1,
                          const Targets<T>& tg, const Params& p, const LossSpec& spec,
                          double limit, double* out, double* scratch) {
  index_t i = r0;
  for (; i + R <= r1; i += R) dense_block<R, D, Grad>(src, rows, i, tg, p, spec, limit, out, scratch);
  for (; i < r1; ++i) dense_block<1, D, Grad>(src, rows, i, tg, p, spec, limit, out, scratch);
}

template <int D, bool Grad, class T>
inline void dense_generic(const DenseRows<T>& src, const RowSet& rows, index_t r0, index_t r1,
                          const Targets<T>& tg, const Params& p, const LossSpec& spec,
                          double limit, double* out, double* scratch) {
  // Blocks of R rows share each load and store of the gradient; the block is
  // read twice (scores, then gradient), the second time from L1, so R rows
  // must fit in it. Wide float32 rows on AVX-512 (32 vector registers): 8 rows
  // of up to 2 KiB. Otherwise 4.
#if defined(__AVX512F__)
  if constexpr (D == 0 && sizeof(T) == 4) {
    if (p.d <= 512)
      return dense_blocked<8, D, Grad>(src, rows, r0, r1, tg, p, spec, limit, out, scratch);
  }
#endif
  dense_blocked<4, D, Grad>(src, rows, r0, r1, tg, p, spec, limit, out, scratch);
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

// The squared loss for k = 1 and d in {1, 2, 4} on m contiguous rows (X has
// row stride D) with contiguous targets Y and no weights: vectorised across
// rows, 8/D rows per vector, the weights tiled across lanes. Each iteration
// takes 8 rows: D vectors of X and one vector of y. Adds the rows it took to
// out = [loss, weighted loss, gb, G] and returns how many (the rest, fewer
// than 8, are left to the caller).
template <int D, bool Grad, class T>
inline index_t squared_tiled(const T* X, const T* Y, index_t m, const Params& p, double lscale,
                             double* out) {
  vd8 wt;
  for (int l = 0; l < 8; ++l) wt[l] = p.scale * p.W[l % D];
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
  const double l = lscale * (hsum(loss[0]) * inv_d);  // Σ scale·r²
  out[0] += l;
  out[1] += l;
  if constexpr (Grad) {
    const double gs = 2.0 * lscale;  // dℓ/dz = 2·scale·r
    out[2] += gs * (hsum(es[0]) * inv_d);
    for (int j = 0; j < D; ++j) {
      double t = 0.0;
      for (int l2 = j; l2 < 8; l2 += D) t += g[0][l2];
      out[3 + j] += gs * t;
    }
  }
  return i;
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
inline index_t squared_tiled_f32(const float* X, const float* Y, index_t m, const Params& p,
                                 double lscale, double* out) {
  vf16 wt;
  for (int l = 0; l < 16; ++l) wt[l] = static_cast<float>(p.scale * p.W[l % D]);
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
  const double l = lscale * (hsum(loss) * inv_d);
  out[0] += l;
  out[1] += l;
  if constexpr (Grad) {
    const double gs = 2.0 * lscale;
    out[2] += gs * (hsum(es) * inv_d);
    for (int j = 0; j < D; ++j) {
      double t = 0.0;
      for (int l2 = j; l2 < 8; l2 += D) t += g[l2];
      out[3 + j] += gs * t;
    }
  }
  return i;
}
#endif


template <int D, bool Grad, class T>
inline void dense_loss_d(const DenseRows<T>& src, const RowSet& rows, index_t r0, index_t r1,
                         const Targets<T>& tg, const Params& p, const LossSpec& spec, double limit,
                         double* out, double* scratch) {
#if defined(FASTSGD_NATIVE_VECTORS)
  if constexpr (D == 1 || D == 2 || D == 4) {
    // the squared loss on contiguous rows and targets, without weights or clipping: tiled
    if (spec.id == LossId::squared && p.k == 1 && rows.ids == nullptr && src.ld == D &&
        tg.Y != nullptr && tg.ldy == 1 && tg.sample_weight == nullptr && std::isinf(limit)) {
      const T* X = src.row(rows.first + r0);
      const T* Y = tg.Y + (rows.first + r0);
      index_t done;
      if constexpr (sizeof(T) == 4)
        done = squared_tiled_f32<D, Grad>(X, Y, r1 - r0, p, spec.param[0], out);
      else
        done = squared_tiled<D, Grad>(X, Y, r1 - r0, p, spec.param[0], out);
      r0 += done;
    }
  }
#endif
  dense_generic<D, Grad>(src, rows, r0, r1, tg, p, spec, limit, out, scratch);
}

template <bool Grad, class T>
inline void dense_loss_g(const DenseRows<T>& src, const RowSet& rows, index_t r0, index_t r1,
                         const Targets<T>& tg, const Params& p, const LossSpec& spec, double limit,
                         double* out, double* scratch) {
  switch (p.d) {
    case 1:
      return dense_loss_d<1, Grad>(src, rows, r0, r1, tg, p, spec, limit, out, scratch);
    case 2:
      return dense_loss_d<2, Grad>(src, rows, r0, r1, tg, p, spec, limit, out, scratch);
    case 3:
      return dense_loss_d<3, Grad>(src, rows, r0, r1, tg, p, spec, limit, out, scratch);
    case 4:
      return dense_loss_d<4, Grad>(src, rows, r0, r1, tg, p, spec, limit, out, scratch);
    default:
      return dense_loss_d<0, Grad>(src, rows, r0, r1, tg, p, spec, limit, out, scratch);
  }
}

// Entry point: add rows [r0, r1) of the set to out (layout above); scratch
// holds 16·k + 8 doubles.
template <class T>
inline void dense_loss_rows(const DenseRows<T>& src, const RowSet& rows, index_t r0, index_t r1,
                            const Targets<T>& tg, const Params& p, const LossSpec& spec,
                            double limit, bool grad, double* out, double* scratch) {
  if (grad)
    dense_loss_g<true>(src, rows, r0, r1, tg, p, spec, limit, out, scratch);
  else
    dense_loss_g<false>(src, rows, r0, r1, tg, p, spec, limit, out, scratch);
}

// --- batched dot products ------------------------------------------------------------------

// out[r, c] = scale·(x_r · W[c]) + b[c] for rows [r0, r1) of the set (double sums,
// rounded once to T).
template <int R, int D, class T>
inline void predict_block(const DenseRows<T>& src, const RowSet& rows, index_t i,
                          const Params& p, T* out, index_t ldo) {
  const index_t d = D > 0 ? D : p.d;
  const T* x[R];
  for (int r = 0; r < R; ++r) x[r] = src.row(rows.id(i + r));
  double s[R];
  for (index_t c = 0; c < p.k; ++c) {
    row_dots<R, D>(x, p.W + c * d, d, s);
    const double bc = p.b != nullptr ? p.b[c] : 0.0;
    for (int r = 0; r < R; ++r) out[(i + r) * ldo + c] = static_cast<T>(p.scale * s[r] + bc);
  }
}

template <int D, class T>
inline void predict_d(const DenseRows<T>& src, const RowSet& rows, index_t r0, index_t r1,
                      const Params& p, T* out, index_t ldo) {
  index_t i = r0;
  for (; i + 4 <= r1; i += 4) predict_block<4, D>(src, rows, i, p, out, ldo);
  for (; i < r1; ++i) predict_block<1, D>(src, rows, i, p, out, ldo);
}

template <class T>
inline void dense_predict_rows(const DenseRows<T>& src, const RowSet& rows, index_t r0, index_t r1,
                               const Params& p, T* out, index_t ldo) {
  switch (p.d) {
    case 1:
      return predict_d<1>(src, rows, r0, r1, p, out, ldo);
    case 2:
      return predict_d<2>(src, rows, r0, r1, p, out, ldo);
    case 3:
      return predict_d<3>(src, rows, r0, r1, p, out, ldo);
    case 4:
      return predict_d<4>(src, rows, r0, r1, p, out, ldo);
    default:
      return predict_d<0>(src, rows, r0, r1, p, out, ldo);
  }
}

// Σ x over a contiguous block: a plain streaming read of memory, the speed
// limit of any one-pass kernel (the benchmarks' baseline).
template <class T>
inline double stream_sum(const T* x, index_t n) {
  vd8 a0 = vzero(), a1 = vzero(), a2 = vzero(), a3 = vzero();
  index_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 += vload(x + i);
    a1 += vload(x + i + 8);
    a2 += vload(x + i + 16);
    a3 += vload(x + i + 24);
  }
  double s = hsum((a0 + a1) + (a2 + a3));
  for (; i < n; ++i) s += static_cast<double>(x[i]);
  return s;
}

}  // namespace FASTSGD_ISA
}  // namespace fastsgd
