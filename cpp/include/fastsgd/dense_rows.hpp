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
#include <cstdint>
#include <type_traits>

#include "fastsgd/data.hpp"
#include "fastsgd/loss_blocks.hpp"
#include "fastsgd/losses.hpp"
#include "fastsgd/simd.hpp"

namespace fastsgd {
inline namespace FASTSGD_ISA {

// Doubles of scratch a chunk of rows needs (dense_loss_rows) for k outputs of d
// features: the block's scores and derivatives (16·k), and a float32 gradient buffer
// (k rows of d rounded up to 16 floats) 64-byte aligned.
constexpr index_t fused_scratch(index_t k, index_t d) {
  return 16 * k + 8 + (k * ((d + 15) / 16 * 16) + 16) / 2;
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
    row_dots<R, D>(x, p.W + c * d, d, z + c * R);
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
      row_axpy<R, D>(G + c * d, dz + c * R, x, d);
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
  // read twice (scores, then gradient), the second time from L1.
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


#if defined(FASTSGD_NATIVE_VECTORS)
// --- the fused kernel on native vectors (d > 4) ------------------------------------------------
//
// Per block of R = 8 rows, each row read from memory once:
//   z   = scale·(W x_r) + b for every class: the dot products of the block's rows run
//         interleaved (R·C independent accumulators in registers, so no multiply-add
//         waits for the previous one), a class at a time for k = 1, kCB classes at a
//         time otherwise (each load of x feeds kCB classes);
//   dz  = the block's losses and derivatives (loss_blocks.hpp, vectorised over rows);
//   G  += Σ_r dz_r x_r, the rank-R update, from the rows still in L1.
// The rows of a block come from R sequential streams (see fused_rows).
//
// float32 data is multiplied by W rounded to float32 (Params::Wf); each lane of a
// float32 partial sum holds at most 16 products before it is added into double, and
// the rank-R update sums its R ≤ 8 products in float32. float64 data is all double.

template <class T>
struct Lanes;
template <>
struct Lanes<float> {
  using V = vfn;
  static constexpr index_t L = kFL;
  static constexpr index_t steps = 16;  // products per float32 lane before they go to double
};
template <>
struct Lanes<double> {
  using V = vdn;
  static constexpr index_t L = kDL;
  static constexpr index_t steps = index_t{1} << 40;  // never: the sums are double already
};
FASTSGD_ALWAYS_INLINE vdn widen(vfn a) { return ncvt_lo(a) + ncvt_hi(a); }
FASTSGD_ALWAYS_INLINE vdn widen(vdn a) { return a; }

// Rows and classes per register block of the scores for k > 1: RB·CB accumulators,
// RB + CB loads for RB·CB multiply-adds.
// The gradient's rank update (block_update) takes tiles of the same shape: RB·CB
// derivatives in registers, RB + CB loads for RB·CB multiply-adds.
#if FASTSGD_VEC_BYTES == 64
constexpr int kRB = 8, kCB = 2;  // 32 registers
#else
constexpr int kRB = 4, kCB = 2;  // 16 registers
#endif

template <class V>
struct LaneIndex;
template <>
struct LaneIndex<vfn> {
  typedef int type __attribute__((vector_size(FASTSGD_VEC_BYTES)));
};
template <>
struct LaneIndex<vdn> {
  using type = vin;
};
template <>
struct LaneIndex<vifn> {
  using type = vifn;
};
template <class V>
constexpr int lanes_of = static_cast<int>(sizeof(V) / sizeof(V{}[0]));

// One level of the row sums: lanes are summed in pairs of runs of H, a's sums and
// b's sums interleaved in runs of H (after log2(lanes) levels, lane r holds the sum
// of vector r, added in nhsum's order).
template <int H, class V>
FASTSGD_ALWAYS_INLINE V fold(V a, V b) {
  using I = typename LaneIndex<V>::type;
  constexpr int N = lanes_of<V>;
  I ma, mb;
  for (int l = 0; l < N; ++l) {
    const int g = l / (2 * H) * (2 * H), o = l % (2 * H);
    const int base = o < H ? g + o : N + g + o - H;
    ma[l] = base;
    mb[l] = base + H;
  }
  return __builtin_shuffle(a, b, ma) + __builtin_shuffle(a, b, mb);
}
// out[r] = nhsum(t[r]) for N vectors.
template <int N>
FASTSGD_ALWAYS_INLINE void row_sums(const vdn* t, double* out) {
  if constexpr (N % kDL == 0) {
    for (int g = 0; g < N; g += kDL) {
      vdn u[kDL];
      for (int r = 0; r < kDL; ++r) u[r] = t[g + r];
      for (int r = 0; r < kDL; r += 2) u[r / 2] = fold<1>(u[r], u[r + 1]);
      if constexpr (kDL >= 4)
        for (int r = 0; r < kDL / 2; r += 2) u[r / 2] = fold<2>(u[r], u[r + 1]);
      if constexpr (kDL >= 8)
        for (int r = 0; r < kDL / 4; r += 2) u[r / 2] = fold<4>(u[r], u[r + 1]);
      nstore(out + g, u[0]);
    }
  } else {
    for (int r = 0; r < N; ++r) out[r] = nhsum(t[r]);
  }
}

// float32 lane sums without leaving float32 (one shuffle pair and an add per level):
// (a, b) → [a0+a1, a2+a3, b0+b1, b2+b3] in each group of four lanes (a 128-bit lane).
FASTSGD_ALWAYS_INLINE vfn pair_fold(vfn a, vfn b) {
  using I = LaneIndex<vfn>::type;
  I ma, mb;
  for (int l = 0; l < kFL; ++l) {
    const int g = l / 4 * 4, o = l % 4;
    ma[l] = o < 2 ? g + 2 * o : kFL + g + 2 * (o - 2);
    mb[l] = ma[l] + 1;
  }
  return __builtin_shuffle(a, b, ma) + __builtin_shuffle(a, b, mb);
}
// Lane i of s[q] = the sum of the lanes of t[q·kFL + i], for N float32 vectors
// (N a multiple of kFL): two in-group levels, then the groups (fold).
template <int N>
FASTSGD_ALWAYS_INLINE void lane_sums(const vfn* t, vfn* s) {
  static_assert(N % kFL == 0 && kFL >= 4, "whole vectors of sums");
  for (int q = 0; q < N / kFL; ++q) {
    vfn u[kFL / 2];
    for (int i = 0; i < kFL / 2; ++i) u[i] = pair_fold(t[q * kFL + 2 * i], t[q * kFL + 2 * i + 1]);
    // u[i] holds, in each group of four lanes, the group's sums of t[4i .. 4i+3]
    for (int i = 0; i < kFL / 4; ++i) u[i] = pair_fold(u[2 * i], u[2 * i + 1]);
    if constexpr (kFL >= 8)
      for (int i = 0; i < kFL / 8; ++i) u[i] = fold<4>(u[2 * i], u[2 * i + 1]);
    if constexpr (kFL >= 16) u[0] = fold<8>(u[0], u[1]);
    s[q] = u[0];
  }
}

// out[c·os + r] = x_r · w_c for RB rows and CB weight vectors of length d.
//
// float32 rows: each lane sums at most Lanes::steps products, then the lanes of the
// RB·CB sums are added in float32 (lane_sums: a few additions more per sum) and the
// result goes into double; float64 rows are summed in double throughout.
template <int RB, int CB, class T>
FASTSGD_ALWAYS_INLINE void dots(const T* const (&x)[RB], const T* const (&w)[CB], index_t d,
                                double* out, index_t os) {
  using V = typename Lanes<T>::V;
  constexpr index_t L = Lanes<T>::L;
  constexpr int N = RB * CB;
  constexpr bool kFloatSums = sizeof(T) == 4 && N % kFL == 0;
  vdn tot[kFloatSums ? 2 * N / kFL : CB * RB];
  index_t j = 0;
  bool first = true;
  do {
    const index_t end = imin(d, j + Lanes<T>::steps * L);
    V acc[CB][RB];
    for (int c = 0; c < CB; ++c)
      for (int r = 0; r < RB; ++r) acc[c][r] = nzero<V>();
#pragma GCC unroll 2
    for (; j + L <= end; j += L) {
      V wv[CB];
      for (int c = 0; c < CB; ++c) wv[c] = nload<V>(w[c] + j);
      for (int r = 0; r < RB; ++r) {
        const V xv = nload<V>(x[r] + j);
        for (int c = 0; c < CB; ++c) acc[c][r] += xv * wv[c];
      }
    }
    if (j < end) {  // the last, partial vector of the rows
      const index_t m = end - j;
      V wv[CB];
      for (int c = 0; c < CB; ++c) wv[c] = nload_partial(w[c] + j, m);
      for (int r = 0; r < RB; ++r) {
        const V xv = nload_partial(x[r] + j, m);
        for (int c = 0; c < CB; ++c) acc[c][r] += xv * wv[c];
      }
      j = end;
    }
    if constexpr (kFloatSums) {
      vfn s[N / kFL];
      lane_sums<N>(&acc[0][0], s);  // lane c·RB + r: the sum of acc[c][r]
      for (int q = 0; q < N / kFL; ++q) {
        tot[2 * q] = first ? ncvt_lo(s[q]) : tot[2 * q] + ncvt_lo(s[q]);
        tot[2 * q + 1] = first ? ncvt_hi(s[q]) : tot[2 * q + 1] + ncvt_hi(s[q]);
      }
    } else {
      for (int c = 0; c < CB; ++c)
        for (int r = 0; r < RB; ++r)
          tot[c * RB + r] = first ? widen(acc[c][r]) : tot[c * RB + r] + widen(acc[c][r]);
    }
    first = false;
  } while (j < d);
  if constexpr (kFloatSums) {
    alignas(64) double sums[N];
    for (int q = 0; q < 2 * N / kFL; ++q) nstore(sums + q * kDL, tot[q]);
    for (int c = 0; c < CB; ++c)
      for (int r = 0; r < RB; ++r) out[c * os + r] = sums[c * RB + r];
  } else {
    for (int c = 0; c < CB; ++c) row_sums<RB>(tot + c * RB, out + c * os);
  }
}

FASTSGD_ALWAYS_INLINE void add_to(double* g, vdn t) { nstore(g, nload<vdn>(g) + t); }
FASTSGD_ALWAYS_INLINE void add_to(double* g, vfn t) {
  nstore(g, nload<vdn>(g) + ncvt_lo(t));
  nstore(g + kDL, nload<vdn>(g + kDL) + ncvt_hi(t));
}
// g[0..m) += the first m lanes of t (m < the lanes)
FASTSGD_ALWAYS_INLINE void add_partial(double* g, vdn t, index_t m) {
  nstore_partial(g, nload_partial(g, m) + t, m);
}
FASTSGD_ALWAYS_INLINE void add_partial(double* g, vfn t, index_t m) {
  if (m >= kDL) {
    nstore(g, nload<vdn>(g) + ncvt_lo(t));
    if (m > kDL) add_partial(g + kDL, ncvt_hi(t), m - kDL);
  } else {
    add_partial(g, ncvt_lo(t), m);
  }
}

// z[c·R + r] = scale·(W x_r)[c] + b[c] for the R rows x[0..R) of a block. W: the
// weights in T (Wf for float32). K: k when it is known at compile time (1), else 0.
template <int R, int K, class T>
FASTSGD_ALWAYS_INLINE void block_scores(const T* const (&x)[R], const Params& p, const T* W,
                                        double* z) {
  const index_t k = K > 0 ? K : p.k, d = p.d;
  if (K == 1) {
    const T* const w[1] = {W};
    dots<R, 1>(x, w, d, z, R);
  } else {
    constexpr int RB = R < kRB ? R : kRB;
    // classes [c, c + CB) of every row (always inlined: GCC would call a lambda)
    auto tile = [&](index_t c, auto cb) __attribute__((always_inline)) {
      constexpr int CB = decltype(cb)::value;
      const T* w[CB];
      for (int q = 0; q < CB; ++q) w[q] = W + (c + q) * d;
      for (int r = 0; r < R; r += RB) {
        const T* xb[RB];
        for (int q = 0; q < RB; ++q) xb[q] = x[r + q];
        dots<RB, CB>(xb, w, d, z + c * R + r, R);
      }
    };
    index_t c = 0;
    for (; c + kCB <= k; c += kCB) tile(c, std::integral_constant<int, kCB>{});
    for (; c < k; ++c) tile(c, std::integral_constant<int, 1>{});
  }
  for (index_t c = 0; c < k; ++c) {  // z = scale·z + b
    const double bc = p.b != nullptr ? p.b[c] : 0.0;
    if constexpr (R % kDL == 0) {
      const vdn sv = nbroadcast(p.scale), bv = nbroadcast(bc);
      for (int r = 0; r < R; r += kDL) nstore(z + c * R + r, sv * nload<vdn>(z + c * R + r) + bv);
    } else {
      for (int r = 0; r < R; ++r) z[c * R + r] = p.scale * z[c * R + r] + bc;
    }
  }
}

// --- the block's gradient: G += Σ_r dz_r x_rᵀ ----------------------------------------------
//
// A tile of CB classes × RB rows at a time: its RB·CB derivatives broadcast in registers,
// each vector of a row's features loaded once for the CB classes, two chains of
// multiply-adds per class (the first and the second half of the rows) so that a
// multiply-add seldom waits for the one before. float32 data adds into a float32 copy
// of the gradient (GradTarget: a lane sums the products of at most kFlushBlocks blocks
// of rows before they go into the double sums), float64 data into the double sums.

// g[c][0..d) += Σ_r dz[c][r] · x_r[0..d). Padded: each g[c] has room for a whole last
// vector (the lanes past d are read and written, and stay 0).
template <int RB, int CB, bool Padded, class T>
FASTSGD_ALWAYS_INLINE void rank_update(T* const (&g)[CB], const T (&dz)[CB][RB],
                                       const T* const (&x)[RB], index_t d) {
  using V = typename Lanes<T>::V;
  constexpr index_t L = Lanes<T>::L;
  constexpr int H = RB > 1 ? RB / 2 : RB;  // rows [0, H) on chain a, [H, RB) on chain b
  V cv[CB][RB];
  for (int c = 0; c < CB; ++c)
    for (int r = 0; r < RB; ++r) cv[c][r] = nbroadcast(dz[c][r]);
  index_t j = 0;
#pragma GCC unroll 2
  for (; j + L <= d; j += L) {
    V a[CB], b[CB];
    for (int c = 0; c < CB; ++c) a[c] = nload<V>(g[c] + j);
    for (int r = 0; r < RB; ++r) {
      const V xv = nload<V>(x[r] + j);
      for (int c = 0; c < CB; ++c) {
        if (r < H)
          a[c] += cv[c][r] * xv;
        else if (r == H)
          b[c] = cv[c][r] * xv;
        else
          b[c] += cv[c][r] * xv;
      }
    }
    for (int c = 0; c < CB; ++c) nstore(g[c] + j, H < RB ? a[c] + b[c] : a[c]);
  }
  if (j < d) {  // the last, partial vector of the rows
    const index_t m = d - j;
    V a[CB];
    for (int c = 0; c < CB; ++c) {
      if constexpr (Padded)
        a[c] = nload<V>(g[c] + j);
      else
        a[c] = nload_partial(g[c] + j, m);
    }
    for (int r = 0; r < RB; ++r) {
      const V xv = nload_partial(x[r] + j, m);
      for (int c = 0; c < CB; ++c) a[c] += cv[c][r] * xv;
    }
    for (int c = 0; c < CB; ++c) {
      if constexpr (Padded)
        nstore(g[c] + j, a[c]);
      else
        nstore_partial(g[c] + j, a[c], m);
    }
  }
}

// Where a chunk's weight gradient is summed: float64 data straight into the double
// sums (G, row stride d); float32 data into a float32 buffer (rows of ld ≥ d floats,
// zero past d) that flush() adds into the double sums.
template <class T>
struct GradTarget {
  T* G;
  index_t ld;
  T* row(index_t c) const { return G + c * ld; }
};

// Blocks of rows a float32 gradient buffer takes before it is flushed.
constexpr index_t kFlushBlocks = 8;

// G[c][0..d) += buf[c][0..d), then buf = 0 (k rows of ld floats).
inline void flush_grad(float* buf, index_t ld, double* G, index_t k, index_t d) {
  for (index_t c = 0; c < k; ++c) {
    float* s = buf + c * ld;
    double* t = G + c * d;
    index_t j = 0;
    for (; j + kFL <= d; j += kFL) add_to(t + j, nload<vfn>(s + j));
    if (j < d) add_partial(t + j, nload<vfn>(s + j), d - j);
    for (j = 0; j < ld; j += kFL) nstore(s + j, nzero<vfn>());
  }
}

// The block's gradient: gb[c] += Σ_r dz[c·R + r], G[c] += Σ_r dz[c·R + r] x_r.
template <int R, int K, class T>
FASTSGD_ALWAYS_INLINE void block_update(const T* const (&x)[R], const Params& p,
                                        const double* dz, double* out, const GradTarget<T>& gt) {
  const index_t k = K > 0 ? K : p.k, d = p.d;
  double* gb = out + kOutGb;
  for (index_t c = 0; c < k; ++c) gb[c] += row_total<R>(dz + c * R);
  constexpr bool Padded = sizeof(T) == 4;
  constexpr int RB = K == 1 ? R : (R < kRB ? R : kRB);
  auto tile = [&](index_t c, auto cb) __attribute__((always_inline)) {
    constexpr int CB = decltype(cb)::value;
    T* g[CB];
    for (int q = 0; q < CB; ++q) g[q] = gt.row(c + q);
    for (int r0 = 0; r0 < R; r0 += RB) {
      T dzt[CB][RB];
      for (int q = 0; q < CB; ++q)
        for (int r = 0; r < RB; ++r) dzt[q][r] = static_cast<T>(dz[(c + q) * R + r0 + r]);
      const T* xb[RB];
      for (int r = 0; r < RB; ++r) xb[r] = x[r0 + r];
      rank_update<RB, CB, Padded>(g, dzt, xb, d);
    }
  };
  index_t c = 0;
  if constexpr (K != 1)
    for (; c + kCB <= k; c += kCB) tile(c, std::integral_constant<int, kCB>{});
  for (; c < k; ++c) tile(c, std::integral_constant<int, 1>{});
}

// One block on its own: scores, losses, gradient.
template <int R, int K, bool Grad, class T, class Loss>
FASTSGD_ALWAYS_INLINE void fused_block(const T* const (&x)[R], const index_t (&ids)[R],
                                       const Targets<T>& tg, const Params& p, const T* W,
                                       const Loss& L, double limit, double* out, double* z,
                                       double* dz, BlockSums& acc, const GradTarget<T>& gt) {
  block_scores<R, K>(x, p, W, z);
  block_loss<R>(L, tg, ids, K > 0 ? K : p.k, z, dz, limit, acc);
  if constexpr (Grad) block_update<R, K>(x, p, dz, out, gt);
}

// Software prefetch of R sequential streams into L2, kStreamAhead bytes ahead of where
// each is read, for rows of kStreamAheadMin to kStreamAheadMax bytes (a stream's
// prefetches stop at its end). Measured on one thread of a Zen 4 (the kernel's time
// as a share of a plain read's, with / without): 1M x 100 float32 70-74 % / 61-64 %,
// float64 73-75 % / 60-61 %; 2M x 50 float64 71-73 % / 58-63 %. Narrower rows are
// bound by the per-row work (5M x 20 float32 took 1.4-1.7x the time with it), wider
// ones (d = 1000) were slower with it: the hardware prefetcher is ahead there.
constexpr index_t kStreamAhead = 4096;
constexpr index_t kStreamAheadMin = 256, kStreamAheadMax = 1024;
template <int R>
struct StreamsAhead {
  bool on = false;
  const char* next[R];  // the next line of each stream to prefetch
  const char* end[R];   // each stream's end
  template <class T>
  void start(const DenseRows<T>& src, index_t first, index_t per) {
    const index_t bytes = src.ld * static_cast<index_t>(sizeof(T));
    on = bytes >= kStreamAheadMin && bytes <= kStreamAheadMax && per * bytes > 2 * kStreamAhead;
    if (!on) return;
    for (int q = 0; q < R; ++q) {
      next[q] = reinterpret_cast<const char*>(src.row(first + q * per));
      end[q] = next[q] + per * bytes;
    }
  }
  // Prefetch each stream's lines up to kStreamAhead bytes past x[q].
  template <class T>
  FASTSGD_ALWAYS_INLINE void touch(const T* const (&x)[R]) {
    for (int q = 0; q < R; ++q) {
      const char* want = reinterpret_cast<const char*>(x[q]) + kStreamAhead;
      if (want > end[q]) want = end[q];
      for (; next[q] < want; next[q] += 64) __builtin_prefetch(next[q], 0, 2);
    }
  }
};

// Rows [r0, r1) of the set; scratch holds fused_scratch(k, d) doubles.
//
// Block b takes row b of each of R equal streams (the rows of [r0, r1) split in R
// runs), so that each step of the interleaved dot products reads R sequential
// streams, which the hardware prefetcher follows (rows of one block next to each
// other are R short runs, which it does not: measured on Zen 3, d = 100 float32, the
// pattern alone reads 13 GB/s that way and 22 GB/s this way, about a four-stream
// read's speed).
template <int K, bool Grad, class T, class Loss>
inline void fused_rows(const DenseRows<T>& src, const RowSet& rows, index_t r0, index_t r1,
                       const Targets<T>& tg, const Params& p, const T* W, const Loss& L,
                       double limit, double* out, double* scratch) {
  constexpr int R = 8;
  const index_t k = K > 0 ? K : p.k, d = p.d;
  double* z = scratch;
  double* dz = scratch + R * k;
  double* G = out + kOutGb + k;
  GradTarget<T> gt{nullptr, d};
  constexpr bool kBuffer = Grad && sizeof(T) == 4;
  if constexpr (kBuffer) {  // 64-byte aligned, rows of whole vectors of 16 floats, zeroed
    const auto at = reinterpret_cast<std::uintptr_t>(scratch + 16 * k + 8);
    gt.G = reinterpret_cast<T*>((at + 63) / 64 * 64);
    gt.ld = (d + 15) / 16 * 16;
    for (index_t j = 0; j < k * gt.ld; ++j) gt.G[j] = 0.0f;
  } else if constexpr (Grad) {
    gt.G = reinterpret_cast<T*>(G);
  }
  auto flush = [&]() {
    if constexpr (kBuffer) flush_grad(gt.G, gt.ld, G, k, d);
  };
  BlockSums acc;
  const index_t per = (r1 - r0) / R;  // rows of each stream
  StreamsAhead<R> ahead;
  if (rows.ids == nullptr) ahead.start(src, rows.first + r0, per);
  const T* x[R];
  index_t ids[R];
  for (index_t b0 = 0; b0 < per; b0 += kFlushBlocks) {
    const index_t b1 = imin(per, b0 + kFlushBlocks);
    if (rows.ids == nullptr) {  // a range: each stream's next row is the one after
      for (index_t b = b0; b < b1; ++b) {
        for (int q = 0; q < R; ++q) {
          ids[q] = rows.first + r0 + q * per + b;
          x[q] = src.row(ids[q]);
        }
        if (ahead.on) ahead.touch(x);
        fused_block<R, K, Grad>(x, ids, tg, p, W, L, limit, out, z, dz, acc, gt);
      }
    } else {
      for (index_t b = b0; b < b1; ++b) {
        for (int q = 0; q < R; ++q) {
          ids[q] = rows.ids[r0 + q * per + b];
          x[q] = src.row(ids[q]);
        }
        fused_block<R, K, Grad>(x, ids, tg, p, W, L, limit, out, z, dz, acc, gt);
      }
    }
    flush();
  }
  for (index_t i = r0 + R * per; i < r1; ++i) {
    const index_t id1[1] = {rows.id(i)};
    const T* x1[1] = {src.row(id1[0])};
    fused_block<1, K, Grad>(x1, id1, tg, p, W, L, limit, out, z, dz, acc, gt);
  }
  flush();
  acc.add_to(out);
}

// --- rows of d ∈ {1, 2, 4}: several rows per vector -----------------------------------------
//
// A vector of N lanes holds N/D whole rows (D features each, as in memory), so a
// row's score is the sum of D adjacent lanes of x·w (group_sum), the weights tiled
// across the lanes. The rows are read as four interleaved streams (the quarters of
// the rows), as in fused_rows.
// Each group of D adjacent lanes holds the group's sum ((v0 + v1) + (v2 + v3)).
template <int D, class V>
FASTSGD_ALWAYS_INLINE V group_sum_n(V v) {
  using I = typename LaneIndex<V>::type;
  if constexpr (D >= 2) {
    I m;
    for (int l = 0; l < lanes_of<V>; ++l) m[l] = l ^ 1;
    v += __builtin_shuffle(v, m);
  }
  if constexpr (D >= 4) {
    I m;
    for (int l = 0; l < lanes_of<V>; ++l) m[l] = l ^ 2;
    v += __builtin_shuffle(v, m);
  }
  return v;
}
// Lane l holds y[q·N/D + l/D]: one value per row of x-vector q, repeated D times.
template <int D, class V>
FASTSGD_ALWAYS_INLINE V spread_n(V y, int q) {
  using I = typename LaneIndex<V>::type;
  constexpr int N = lanes_of<V>;
  I m;
  for (int l = 0; l < N; ++l) m[l] = q * (N / D) + l / D;
  return __builtin_shuffle(y, m);
}
// The inverse for D vectors of replicated row values: lane r holds row r's value.
template <int D>
FASTSGD_ALWAYS_INLINE vdn compact_n(const vdn* z) {
  vin m;
  for (int l = 0; l < kDL; ++l) m[l] = 2 * l;  // every other lane of (a, b)
  if constexpr (D == 1) {
    return z[0];
  } else if constexpr (D == 2) {
    return __builtin_shuffle(z[0], z[1], m);
  } else {
    return __builtin_shuffle(__builtin_shuffle(z[0], z[1], m), __builtin_shuffle(z[2], z[3], m), m);
  }
}

// Whether rows of D features tile the lanes of T's vectors (and, for float32, each
// half of them, which is added into double).
template <int D, class T>
constexpr bool kTiles = D <= 4 && Lanes<T>::L % D == 0 && (sizeof(T) == 8 || (Lanes<T>::L / 2) % D == 0);

// The squared loss, k = 1, on m contiguous rows (row stride D) with contiguous
// targets Y and no weights or clipping: residuals r = x·w + b − y in T, D rows'
// worth of lanes at once. Adds the rows it took to out and returns how many (a
// multiple of 4·N; the caller takes the rest). float32 lanes hold at most 16 terms
// before they are added into double.
template <int D, bool Grad, class T>
inline index_t squared_tiled_n(const T* X, const T* Y, index_t m, const Params& p, double lscale,
                               double* out) {
  using V = typename Lanes<T>::V;
  constexpr int N = static_cast<int>(Lanes<T>::L);
  constexpr int S = 4;
  constexpr index_t F = sizeof(T) == 4 ? imax(1, 16 / (S * D)) : index_t{1} << 40;
  V wt;
  for (int l = 0; l < N; ++l) wt[l] = static_cast<T>(p.scale * p.W[l % D]);
  const V bv = nbroadcast(static_cast<T>(p.b != nullptr ? p.b[0] : 0.0));
  const index_t per = m / (S * N) * N;  // rows of each stream
  vdn loss = nzero<vdn>(), g = nzero<vdn>(), es = nzero<vdn>();
  index_t i = 0;
  while (i < per) {
    const index_t stop = imin(per, i + F * N);
    V lf = nzero<V>(), gf = nzero<V>(), ef = nzero<V>();
    for (; i < stop; i += N)
      for (int q = 0; q < S; ++q) {
        const index_t row = q * per + i;
        const V y = nload<V>(Y + row);
        for (int c = 0; c < D; ++c) {
          const V x = nload<V>(X + row * D + c * N);
          const V e = group_sum_n<D>(x * wt) + (bv - spread_n<D>(y, c));  // x·w + b − y
          lf += e * e;
          if constexpr (Grad) {
            gf += e * x;  // lane l collects r · x[l % D]
            ef += e;
          }
        }
      }
    loss += widen(lf);
    if constexpr (Grad) {
      g += widen(gf);
      es += widen(ef);
    }
  }
  // every row's residual sits in D lanes: divide those sums by D (exact, D is a power of 2)
  constexpr double inv_d = 1.0 / D;
  const double l = lscale * (nhsum(loss) * inv_d);  // Σ scale·r²
  out[kOutLoss] += l;
  out[kOutWeighted] += l;
  if constexpr (Grad) {
    const double gs = 2.0 * lscale;  // dℓ/dz = 2·scale·r
    out[kOutGb] += gs * (nhsum(es) * inv_d);
    for (int j = 0; j < D; ++j) {
      double t = 0.0;
      for (int l2 = j; l2 < kDL; l2 += D) t += g[l2];
      out[kOutGb + 1 + j] += gs * t;
    }
  }
  return S * per;
}

// Any loss with a vector form (loss_blocks.hpp), k = 1, on m consecutive rows from
// source row `first` (Contig: row stride D; otherwise any), with real targets (Y,
// ldy = 1) or labels: kDL rows per step in double lanes (scores, targets, weights,
// losses, derivatives), D x-vectors of kDL lanes each. Returns the rows it took (a
// multiple of 4·kDL).
template <int D, bool Grad, bool Contig, class T, class Loss>
inline index_t tiled_rows(const DenseRows<T>& src, const Targets<T>& tg, index_t first, index_t m,
                          const Params& p, const Loss& L, double limit, double* out) {
  constexpr int N = kDL;
  constexpr int S = 4;
  typedef T vt __attribute__((vector_size(N * sizeof(T))));  // N values of T
  vdn wt;
  for (int l = 0; l < N; ++l) wt[l] = p.scale * p.W[l % D];
  const vdn bv = nbroadcast(p.b != nullptr ? p.b[0] : 0.0);
  const vin pos = vin{} + static_cast<long long>(tg.positive);
  const vdn ypos = nbroadcast(Loss::label_pos), yneg = nbroadcast(Loss::label_neg);
  const vdn wpos = nbroadcast(tg.pos_weight), wneg = nbroadcast(tg.neg_weight);
  const bool unit = unit_weights(tg);
  const index_t per = m / (S * N) * N;
  const T* X = src.row(first);
  vdn lsum = nzero<vdn>(), wsum = nzero<vdn>(), g = nzero<vdn>(), es = nzero<vdn>();
  for (index_t i = 0; i < per; i += N) {
    // one vector of rows of each stream, side by side (their exp and log overlap)
    vdn x[S][D], z[S], y[S], w[S], value[S], deriv[S];
    for (int q = 0; q < S; ++q) {
      const index_t row = q * per + i;  // of the m rows
      vdn zr[D];
      for (int c = 0; c < D; ++c) {
        if constexpr (Contig) {
          x[q][c] = __builtin_convertvector(nload<vt>(X + row * D + c * N), vdn);
        } else {  // the same lanes from rows ld apart
          alignas(64) T t[N];
          for (int r = 0; r < N / D; ++r)
            for (int j = 0; j < D; ++j) t[r * D + j] = X[(row + c * (N / D) + r) * src.ld + j];
          x[q][c] = __builtin_convertvector(nload<vt>(t), vdn);
        }
        zr[c] = group_sum_n<D>(x[q][c] * wt);
      }
      z[q] = compact_n<D>(zr) + bv;
      w[q] = nbroadcast(1.0);
      if (tg.Y != nullptr) {
        y[q] = __builtin_convertvector(nload<vt>(tg.Y + first + row), vdn);
      } else {
        const vin is_pos = nload<vin>(tg.labels + first + row) == pos;
        y[q] = vselect(is_pos, ypos, yneg);
        if (!unit) w[q] = vselect(is_pos, wpos, wneg);
      }
      if (!unit && tg.sample_weight != nullptr)
        w[q] *= nload<vdn>(tg.sample_weight + first + row);
    }
    value_deriv_for<T, S>(L, z, y, value, deriv);
    for (int q = 0; q < S; ++q) {
      const vdn dz = w[q] * vclip(deriv[q], limit);
      lsum += value[q];
      wsum += w[q] * value[q];
      if constexpr (Grad) {
        es += dz;
        for (int c = 0; c < D; ++c) g += spread_n<D>(dz, c) * x[q][c];  // lane l: dz · x[l % D]
      }
    }
  }
  out[kOutLoss] += nhsum(lsum);
  out[kOutWeighted] += nhsum(wsum);
  if constexpr (Grad) {
    out[kOutGb] += nhsum(es);
    for (int j = 0; j < D; ++j) {
      double t = 0.0;
      for (int l2 = j; l2 < N; l2 += D) t += g[l2];
      out[kOutGb + 1 + j] += t;
    }
  }
  return S * per;
}

// Lane 4g + o of pair_pick<H>(a, b): a[4g + 2o + H] for o < 2, b[4g + 2(o − 2) + H]
// otherwise: the even (H = 0) or odd (H = 1) lanes of a and b within each group of four
// lanes (a 128-bit lane; one shufps on x86, where an across-lanes even/odd split takes
// three instructions).
template <int H, class V>
FASTSGD_ALWAYS_INLINE V pair_pick(V a, V b) {
  using I = typename LaneIndex<V>::type;
  constexpr int N = lanes_of<V>;
  I m;
  for (int l = 0; l < N; ++l) {
    const int g = l / 4, o = l % 4;
    m[l] = (o < 2 ? 4 * g + 2 * o : N + 4 * g + 2 * (o - 2)) + H;
  }
  return __builtin_shuffle(a, b, m);
}

// The row (of the kFL rows of a step) that lane l holds after split_features<D>, and
// after pair_pick<0> of two vectors of one 64-bit value a row (the labels: D = 2's order).
template <int D>
constexpr int split_row(int l) {
  const int g = l / 4, o = l % 4;
  if constexpr (D == 1) return l;
  if constexpr (D == 2) return o < 2 ? 2 * g + o : kFL / 2 + 2 * g + (o - 2);
  return o * (kFL / 4) + g;  // D == 4
}
// The lane split_row<2> puts row r in.
constexpr int split_lane2(int r) {
  const int h = r < kFL / 2 ? r : r - kFL / 2;
  return 4 * (h / 2) + h % 2 + (r < kFL / 2 ? 0 : 2);
}

// The D features of kFL rows (D vectors as the rows lie in memory: feature c of row r
// at lane r·D + c) taken apart into D vectors: lane l of x[c] = feature c of row
// split_row<D>(l) (the rows in an order that costs one in-lane shuffle an output).
template <int D>
FASTSGD_ALWAYS_INLINE void split_features(const vfn* a, vfn* x) {
  if constexpr (D == 1) {
    x[0] = a[0];
  } else if constexpr (D == 2) {
    x[0] = pair_pick<0>(a[0], a[1]);
    x[1] = pair_pick<1>(a[0], a[1]);
  } else {  // D == 4: features (0, 2) and (1, 3) of each pair of vectors, then apart
    const vfn e01 = pair_pick<0>(a[0], a[1]), o01 = pair_pick<1>(a[0], a[1]);
    const vfn e23 = pair_pick<0>(a[2], a[3]), o23 = pair_pick<1>(a[2], a[3]);
    x[0] = pair_pick<0>(e01, e23);
    x[2] = pair_pick<1>(e01, e23);
    x[1] = pair_pick<0>(o01, o23);
    x[3] = pair_pick<1>(o01, o23);
  }
}

// The logistic loss on float32 rows of D ∈ {1, 2, 4} features (Contig: row stride D;
// otherwise any, the same lanes gathered from rows ld apart, so every layout gives the
// same bits), k = 1, labels or real targets (ldy = 1), no weights and no clipping:
// scores, losses and derivatives in float32 lanes, kFL rows a vector (each row's
// features taken apart, split_features), so that no lane leaves float32 until the sums:
// each lane of a float32 sum takes at most 16 terms before it is added into double, as
// in fused_rows.
// The scores are x·w + b with w = scale·W rounded to float32. Two streams (the halves
// of the rows) side by side. Returns the rows it took (a multiple of 2·kFL).
template <int D, bool Grad, bool Contig>
inline index_t logistic_tiled_f32(const DenseRows<float>& src, const Targets<float>& tg,
                                  index_t first, index_t m, const Params& p, double* out) {
  constexpr int N = kFL;
  constexpr int S = 2;
  constexpr index_t F = 16 / S;  // steps between flushes: each step adds S terms a lane
  const Logistic L{LossSpec{}};
  vfn wv[D];
  for (int c = 0; c < D; ++c) wv[c] = nbroadcast(static_cast<float>(p.scale * p.W[c]));
  const vfn bv = nbroadcast(static_cast<float>(p.b != nullptr ? p.b[0] : 0.0));
  const vin pos = vin{} + static_cast<long long>(tg.positive);
  const vfn ypos = nbroadcast(static_cast<float>(Logistic::label_pos));
  const vfn yneg = nbroadcast(static_cast<float>(Logistic::label_neg));
  using I = LaneIndex<vfn>::type;
  I from_labels, from_y;  // lane l: the row split_row<D>(l), from D = 2's order or in order
  for (int l = 0; l < N; ++l) {
    from_labels[l] = split_lane2(split_row<D>(l));
    from_y[l] = split_row<D>(l);
  }
  const index_t per = m / (S * N) * N;  // rows of each stream
  const float* Xs = src.row(first);
  vdn loss = nzero<vdn>(), es = nzero<vdn>(), g[D];
  for (int c = 0; c < D; ++c) g[c] = nzero<vdn>();
  index_t i = 0;
  while (i < per) {
    const index_t stop = imin(per, i + F * N);
    vfn lf = nzero<vfn>(), ef = nzero<vfn>(), gf[D];
    for (int c = 0; c < D; ++c) gf[c] = nzero<vfn>();
    for (; i < stop; i += N) {
      vfn x[S][D], z[S], y[S], value[S], deriv[S];
      for (int q = 0; q < S; ++q) {
        const index_t row = q * per + i;
        vfn a[D];
        if constexpr (Contig) {
          for (int c = 0; c < D; ++c) a[c] = nload<vfn>(Xs + row * D + c * N);
        } else {
          alignas(64) float t[D * N];
          for (int r = 0; r < N; ++r)
            for (int j = 0; j < D; ++j) t[r * D + j] = Xs[(row + r) * src.ld + j];
          for (int c = 0; c < D; ++c) a[c] = nload<vfn>(t + c * N);
        }
        split_features<D>(a, x[q]);
        vfn s = x[q][0] * wv[0];
        for (int c = 1; c < D; ++c) s += x[q][c] * wv[c];
        z[q] = s + bv;
        // the targets in the rows' order of x
        if (tg.Y != nullptr) {
          y[q] = nload<vfn>(tg.Y + first + row);
          if constexpr (D != 1) y[q] = __builtin_shuffle(y[q], from_y);
        } else {  // one mask lane a label: the low halves of the 64-bit comparisons
          const std::int64_t* lab = tg.labels + first + row;
          const vin m0 = nload<vin>(lab) == pos, m1 = nload<vin>(lab + kDL) == pos;
          vifn is_pos = pair_pick<0>(reinterpret_cast<vifn>(m0), reinterpret_cast<vifn>(m1));
          if constexpr (D != 2) is_pos = __builtin_shuffle(is_pos, from_labels);
          y[q] = vselect(is_pos, ypos, yneg);
        }
      }
      value_deriv<S>(L, z, y, value, deriv);
      for (int q = 0; q < S; ++q) {
        lf += value[q];
        if constexpr (Grad) {
          ef += deriv[q];
          for (int c = 0; c < D; ++c) gf[c] += deriv[q] * x[q][c];
        }
      }
    }
    loss += widen(lf);
    if constexpr (Grad) {
      es += widen(ef);
      for (int c = 0; c < D; ++c) g[c] += widen(gf[c]);
    }
  }
  const double l = nhsum(loss);
  out[kOutLoss] += l;
  out[kOutWeighted] += l;
  if constexpr (Grad) {
    out[kOutGb] += nhsum(es);
    for (int c = 0; c < D; ++c) out[kOutGb + 1 + c] += nhsum(g[c]);
  }
  return S * per;
}
#endif

template <int D, bool Grad, class T>
inline void dense_loss_d(const DenseRows<T>& src, const RowSet& rows, index_t r0, index_t r1,
                         const Targets<T>& tg, const Params& p, const LossSpec& spec, double limit,
                         double* out, double* scratch) {
#if defined(FASTSGD_NATIVE_VECTORS)
  if constexpr (D == 1 || D == 2 || D == 4) {
    const bool tiled = p.k == 1 && rows.ids == nullptr;
    if (tiled && src.ld == D && spec.id == LossId::squared && tg.Y != nullptr && tg.ldy == 1 &&
        tg.sample_weight == nullptr && std::isinf(limit)) {
      // the squared loss without weights or clipping: residuals in T's lanes
      const T* X = src.row(rows.first + r0);
      const T* Y = tg.Y + (rows.first + r0);
      index_t done;
      if constexpr (kTiles<D, T>)
        done = squared_tiled_n<D, Grad>(X, Y, r1 - r0, p, spec.param[0], out);
      else if constexpr (sizeof(T) == 4)
        done = squared_tiled_f32<D, Grad>(X, Y, r1 - r0, p, spec.param[0], out);
      else
        done = squared_tiled<D, Grad>(X, Y, r1 - r0, p, spec.param[0], out);
      r0 += done;
    } else if (sizeof(T) == 4 && tiled && spec.id == LossId::logistic &&
               (tg.Y != nullptr ? tg.ldy == 1 : tg.labels != nullptr) && unit_weights(tg) &&
               std::isinf(limit)) {
      if constexpr (sizeof(T) == 4) {
        if (src.ld == D)
          r0 += logistic_tiled_f32<D, Grad, true>(src, tg, rows.first + r0, r1 - r0, p, out);
        else
          r0 += logistic_tiled_f32<D, Grad, false>(src, tg, rows.first + r0, r1 - r0, p, out);
      }
    } else if constexpr (kDL % D == 0) {
      if (tiled && (tg.Y != nullptr ? tg.ldy == 1 : tg.labels != nullptr)) {
        visit_loss(spec, [&](const auto& L) {
          using L_t = std::decay_t<decltype(L)>;
          if constexpr (kVectorLoss<L_t> && !L_t::joint) {
            if (src.ld == D)
              r0 += tiled_rows<D, Grad, true>(src, tg, rows.first + r0, r1 - r0, p, L, limit, out);
            else
              r0 += tiled_rows<D, Grad, false>(src, tg, rows.first + r0, r1 - r0, p, L, limit, out);
          }
        });
      }
    }
  }
  if constexpr (D == 0) {
    const T* W = nullptr;
    if constexpr (sizeof(T) == 4)
      W = p.Wf;
    else
      W = p.W;
    if (W != nullptr) {
      visit_loss(spec, [&](const auto& L) {
        if (p.k == 1)
          fused_rows<1, Grad>(src, rows, r0, r1, tg, p, W, L, limit, out, scratch);
        else
          fused_rows<0, Grad>(src, rows, r0, r1, tg, p, W, L, limit, out, scratch);
      });
      return;
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
// holds fused_scratch(k, d) doubles.
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
// limit of any one-pass kernel (the benchmarks' baseline). The block is read as
// four interleaved streams (its quarters), two vectors of each per step, which
// keeps as many cache misses in flight as a core can (see fused_rows); float32
// lanes are added in float32 for 64 steps at a time, then into double.
template <class T>
inline double stream_sum(const T* x, index_t n) {
#if defined(FASTSGD_NATIVE_VECTORS)
  using V = typename Lanes<T>::V;
  constexpr index_t L = Lanes<T>::L;
  constexpr int S = 4;
  const index_t per = n / (S * 2 * L) * (2 * L);  // elements of each stream
  vdn tot = nzero<vdn>();
  index_t i = 0;
  while (i < per) {
    const index_t end = imin(per, i + 64 * 2 * L);
    V a[2 * S];
    for (int q = 0; q < 2 * S; ++q) a[q] = nzero<V>();
    for (; i < end; i += 2 * L)
      for (int q = 0; q < S; ++q) {
        a[2 * q] += nload<V>(x + q * per + i);
        a[2 * q + 1] += nload<V>(x + q * per + i + L);
      }
    for (int q = 0; q < 2 * S; ++q) tot += widen(a[q]);
  }
  double s = nhsum(tot);
  for (index_t j = S * per; j < n; ++j) s += static_cast<double>(x[j]);
  return s;
#else
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
#endif
}

}  // namespace FASTSGD_ISA
}  // namespace fastsgd
