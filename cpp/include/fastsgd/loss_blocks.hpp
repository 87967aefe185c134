// The loss of a block of rows, vectorised across the rows: the fused kernels
// (dense_rows.hpp) score R rows at once and hand their k·R scores here, laid out
// z[c·R + r]. The result is what loss_rows (losses.hpp) computes row by row:
//   dz[c·R + r] = weight · clip(dℓ/dz, ±limit),  sums += (Σ ℓ, Σ weight·ℓ),
// the row sums added in a fixed order (lanes, then the lanes' sum), so the bits
// depend on the block, not on the thread count.
//
// The squared, logistic and softmax losses (the ones whose per-row cost shows
// next to a row of 100 features) have a vector form here, with exp and log from
// vmath.hpp; each is the formula of its type in losses.hpp, written on vectors of
// kDL rows, and is checked against float64 NumPy (tests/test_classify_kernels.py,
// tests/test_kernels.py). For float32 rows the logistic loss and softmax's
// exponentials are taken in float32 lanes (float32 exp, and log1p by a series; about
// 1e-7 relative);
// their sums over rows stay in double. Any other loss, and blocks whose R is not a
// multiple of the vector's lanes, use loss_rows.
#pragma once

#include <type_traits>

#include "fastsgd/losses.hpp"
#include "fastsgd/vmath.hpp"

namespace fastsgd {
inline namespace FASTSGD_ISA {

#if defined(FASTSGD_NATIVE_VECTORS)

// The sums of a chunk's blocks: lanes of the vector forms, and loss_rows's sums.
struct BlockSums {
  vdn loss = nzero<vdn>();
  vdn weighted = nzero<vdn>();
  LossSums rows;
  void add_to(double* out) const {
    out[kOutLoss] += nhsum(loss) + rows.loss;
    out[kOutWeighted] += nhsum(weighted) + rows.weighted;
  }
};

// Σ of R doubles (lanes, then nhsum).
template <int R>
FASTSGD_ALWAYS_INLINE double row_total(const double* v) {
  if constexpr (R % kDL == 0) {
    vdn t = nload<vdn>(v);
    for (int r = kDL; r < R; r += kDL) t += nload<vdn>(v + r);
    return nhsum(t);
  } else {
    double t = v[0];
    for (int r = 1; r < R; ++r) t += v[r];
    return t;
  }
}

// Whether every row's weight is 1 (no sample or class weights).
template <class T>
FASTSGD_ALWAYS_INLINE bool unit_weights(const Targets<T>& tg) {
  return tg.sample_weight == nullptr &&
         (tg.labels == nullptr ||
          (tg.class_weight == nullptr && tg.pos_weight == 1.0 && tg.neg_weight == 1.0));
}

template <class Loss>
constexpr bool kVectorLoss = std::is_same_v<Loss, Squared> || std::is_same_v<Loss, Logistic> ||
                             std::is_same_v<Loss, Softmax>;

FASTSGD_ALWAYS_INLINE vdn vclip(vdn v, double limit) {
  // clip() of losses.hpp: NaN stays NaN
  if (limit == __builtin_inf()) return v;
  const vdn lo = nbroadcast(-limit), hi = nbroadcast(limit);
  return vselect(reinterpret_cast<vin>(v < lo), lo, vselect(reinterpret_cast<vin>(v > hi), hi, v));
}

// Targets y and weights w of output c for the R rows of the block (each-output losses).
template <class Loss, int R, class T>
FASTSGD_ALWAYS_INLINE void block_targets(const Targets<T>& tg, const index_t* ids, index_t c,
                                         index_t k, double* y, double* w) {
  if (tg.Y != nullptr) {
    for (int r = 0; r < R; ++r) y[r] = static_cast<double>(tg.Y[ids[r] * tg.ldy + c]);
  } else {
    for (int r = 0; r < R; ++r) y[r] = target_of<Loss>(tg, ids[r], c, k);
  }
  for (int r = 0; r < R; ++r) {
    const double sw = tg.sample_weight != nullptr ? tg.sample_weight[ids[r]] : 1.0;
    w[r] = tg.labels != nullptr ? sw * class_weight_of(tg, ids[r], c, k) : sw;
  }
}
template <class Loss, int R, class T>
FASTSGD_ALWAYS_INLINE void block_y(const Targets<T>& tg, const index_t* ids, index_t c, index_t k,
                                   double* y) {
  if (tg.Y != nullptr) {
    for (int r = 0; r < R; ++r) y[r] = static_cast<double>(tg.Y[ids[r] * tg.ldy + c]);
  } else {
    for (int r = 0; r < R; ++r) y[r] = target_of<Loss>(tg, ids[r], c, k);
  }
}

// ℓ and dℓ/dz of an each-output loss on M vectors of kDL scores z with targets y
// (M independent computations side by side, so that their latencies overlap).
template <int M>
FASTSGD_ALWAYS_INLINE void value_deriv(const Squared& L, const vdn* z, const vdn* y, vdn* value,
                                       vdn* deriv) {
  for (int i = 0; i < M; ++i) {
    const vdn r = z[i] - y[i];
    value[i] = L.scale * (r * r);
    deriv[i] = (2.0 * L.scale) * r;
  }
}
// log(1 + t) for t = e^−|z| in [0, 1] (or NaN), given u = 1 + t rounded and inv = 1/u.
// Double lanes: log(u) + (t − (u − 1))/u, the second term u's rounding error over u
// (Goldberg's correction); u is in [1, 2], or NaN with z, which then makes the loss NaN
// through y·z.
template <int M>
FASTSGD_ALWAYS_INLINE void log1p_nonneg_m(const vdn* t, const vdn* u, const vdn* inv, vdn* out) {
  log_finite_m<M>(u, out);
  for (int i = 0; i < M; ++i) out[i] += (t[i] - (u[i] - 1.0)) * inv[i];
}
// float32 lanes: 2·atanh(s) with s = t/(2 + t) in [0, 1/3], its series
// 2s + 2s·w·(1/3 + w/5 + … + w⁵/13), w = s² ≤ 1/9 (the first term left out,
// 2s·w⁷/15, is below 1.4e−8 of the sum): no range reduction and no log, a division instead
// (about 20 operations fewer a vector than log(u) and its correction).
template <int M>
FASTSGD_ALWAYS_INLINE void log1p_nonneg_m(const vfn* t, const vfn*, const vfn*, vfn* out) {
  constexpr float c[5] = {1.0f / 11.0f, 1.0f / 9.0f, 1.0f / 7.0f, 1.0f / 5.0f, 1.0f / 3.0f};
  vfn s2[M], w[M], q[M];
  for (int i = 0; i < M; ++i) {
    const vfn s = t[i] / (2.0f + t[i]);
    s2[i] = s + s;
    w[i] = s * s;
    q[i] = nbroadcast(1.0f / 13.0f);
  }
  for (int j = 0; j < 5; ++j)
    for (int i = 0; i < M; ++i) q[i] = q[i] * w[i] + c[j];
  for (int i = 0; i < M; ++i) out[i] = (s2[i] * w[i]) * q[i] + s2[i];
}

template <int M, class V>
FASTSGD_ALWAYS_INLINE void value_deriv(const Logistic&, const V* z, const V* y, V* value,
                                       V* deriv) {
  // t = e^−|z| ≤ 1 never overflows. With e = e^−z, Logistic::deriv's
  // ((1 − y) − y·e)/(1 + e) is that with e = t for z ≥ 0, and, multiplied through
  // by t = 1/e, ((1 − y)·t − y)/(t + 1) for z < 0. Its value, max(z, 0) + log1p(t)
  // − y·z, takes log1p(t) from u = 1 + t and 1/u (log1p_nonneg_m).
  // V: double lanes, or float32 lanes for float32 rows (value_deriv_for).
  using E = std::conditional_t<std::is_same_v<V, vdn>, double, float>;
  const V zero = nzero<V>();
  const E one = 1;
  mask_of<V> pos[M];
  V t[M], u[M], inv[M];
  for (int i = 0; i < M; ++i) {
    pos[i] = reinterpret_cast<mask_of<V>>(z[i] >= zero);
    t[i] = vselect(pos[i], -z[i], z[i]);  // −|z|
  }
  exp_nonpos_m<M>(t, t);
  for (int i = 0; i < M; ++i) {
    u[i] = one + t[i];
    inv[i] = one / u[i];
  }
  for (int i = 0; i < M; ++i) {
    const V one_y = one - y[i];
    deriv[i] = vselect(pos[i], one_y - y[i] * t[i], one_y * t[i] - y[i]) * inv[i];
  }
  log1p_nonneg_m<M>(t, u, inv, value);
  for (int i = 0; i < M; ++i) {
    const V relu = vselect(reinterpret_cast<mask_of<V>>(z[i] > zero), z[i], zero);
    value[i] = (relu + value[i]) - y[i] * z[i];
  }
}

// value_deriv on M vectors of doubles for rows of T: float32 rows take the float32 lanes
// where there is a float32 form (two vectors of doubles to one of floats).
template <class T, int M, class Loss>
FASTSGD_ALWAYS_INLINE void value_deriv_for(const Loss& L, const vdn* z, const vdn* y, vdn* value,
                                           vdn* deriv) {
  if constexpr (sizeof(T) == 4 && std::is_same_v<Loss, Logistic> && M % 2 == 0) {
    constexpr int MF = M / 2;
    vfn zf[MF], yf[MF], vf[MF], df[MF];
    for (int i = 0; i < MF; ++i) {
      zf[i] = ncvt_narrow(z[2 * i], z[2 * i + 1]);
      yf[i] = ncvt_narrow(y[2 * i], y[2 * i + 1]);
    }
    value_deriv<MF>(L, zf, yf, vf, df);
    for (int i = 0; i < MF; ++i) {
      value[2 * i] = ncvt_lo(vf[i]);
      value[2 * i + 1] = ncvt_hi(vf[i]);
      deriv[2 * i] = ncvt_lo(df[i]);
      deriv[2 * i + 1] = ncvt_hi(df[i]);
    }
  } else {
    value_deriv<M>(L, z, y, value, deriv);
  }
}

// The block's losses: the vector form where there is one, else loss_rows.
template <int R, class Loss, class T>
FASTSGD_ALWAYS_INLINE void block_loss(const Loss& L, const Targets<T>& tg, const index_t* ids,
                                      index_t k, const double* z, double* dz, double limit,
                                      BlockSums& sums) {
  if constexpr (!kVectorLoss<Loss> || R % kDL != 0) {
    loss_rows(L, tg, ids, R, k, z, dz, R, 1, limit, sums.rows);
  } else if constexpr (Loss::joint) {
    // Softmax::value_deriv on each row: p = e^{z − max} / Σ e^{z − max},
    // dz = p − onehot(label), ℓ = log Σ e^{z − max} − (z_label − max)
    constexpr int NV = R / kDL;  // vectors of rows
    vdn mv[NV];
    for (int v = 0; v < NV; ++v) {
      vdn m = nload<vdn>(z + v * kDL);
      for (index_t c = 1; c < k; ++c) {
        const vdn zc = nload<vdn>(z + c * R + v * kDL);
        m = vselect(reinterpret_cast<vin>(zc > m), zc, m);
      }
      mv[v] = m;
    }
    // e^{z − max} of every class and vector of rows (z − max ≤ 0), several side by side;
    // vector i is rows (i % NV)·kDL.. of class i / NV
    const index_t total = k * NV;
    auto arg = [&](index_t i) __attribute__((always_inline)) {
      return nload<vdn>(z + i / NV * R + i % NV * kDL) - mv[i % NV];
    };
    auto put = [&](index_t i, vdn e) __attribute__((always_inline)) {
      nstore(dz + i / NV * R + i % NV * kDL, e);
    };
    index_t i = 0;
    if constexpr (sizeof(T) == 4) {
      // float32 data: in float32 lanes (vexpf_m), two vectors of doubles to a vector
      constexpr int MF = 2;
      for (; i + 2 * MF <= total; i += 2 * MF) {
        vfn a[MF];
        for (int q = 0; q < MF; ++q) a[q] = ncvt_narrow(arg(i + 2 * q), arg(i + 2 * q + 1));
        vexpf_m<MF>(a, a);
        for (int q = 0; q < MF; ++q) {
          put(i + 2 * q, ncvt_lo(a[q]));
          put(i + 2 * q + 1, ncvt_hi(a[q]));
        }
      }
      for (; i < total; i += 2) {
        vfn a = ncvt_narrow(arg(i), i + 1 < total ? arg(i + 1) : nzero<vdn>());
        vexpf_m<1>(&a, &a);
        put(i, ncvt_lo(a));
        if (i + 1 < total) put(i + 1, ncvt_hi(a));
      }
    } else {
      constexpr int M = 4;
      for (; i + M <= total; i += M) {
        vdn a[M];
        for (int q = 0; q < M; ++q) a[q] = arg(i + q);
        vexp_m<M, true>(a, a);
        for (int q = 0; q < M; ++q) put(i + q, a[q]);
      }
      for (; i < total; ++i) put(i, vexp<true>(arg(i)));
    }
    for (int v = 0; v < R; v += kDL) {
      const vdn m = mv[v / kDL];
      vdn s = nzero<vdn>();
      for (index_t c = 0; c < k; ++c) s += nload<vdn>(dz + c * R + v);
      const vdn inv = 1.0 / s;
      for (index_t c = 0; c < k; ++c) nstore(dz + c * R + v, nload<vdn>(dz + c * R + v) * inv);
      vdn zl, w;
      for (int l = 0; l < kDL; ++l) {
        const index_t id = ids[v + l];
        const std::int64_t label = tg.labels[id];
        dz[label * R + v + l] -= 1.0;
        zl[l] = z[label * R + v + l];
        const double sw = tg.sample_weight != nullptr ? tg.sample_weight[id] : 1.0;
        w[l] = sw * (tg.class_weight != nullptr ? tg.class_weight[label] : 1.0);
      }
      const vdn loss = vlog(s) - (zl - m);
      for (index_t c = 0; c < k; ++c)
        nstore(dz + c * R + v, w * vclip(nload<vdn>(dz + c * R + v), limit));
      sums.loss += loss;
      sums.weighted += w * loss;
    }
  } else {
    constexpr int M = R / kDL;
    const bool unit = unit_weights(tg);  // w = 1: the same numbers without the products
    alignas(64) double y[R], w[R];
    for (index_t c = 0; c < k; ++c) {
      if (unit)
        block_y<Loss, R>(tg, ids, c, k, y);
      else
        block_targets<Loss, R>(tg, ids, c, k, y, w);
      vdn zv[M], yv[M], value[M], deriv[M];
      for (int i = 0; i < M; ++i) {
        zv[i] = nload<vdn>(z + c * R + i * kDL);
        yv[i] = nload<vdn>(y + i * kDL);
      }
      value_deriv_for<T, M>(L, zv, yv, value, deriv);
      for (int i = 0; i < M; ++i) {
        if (unit) {
          nstore(dz + c * R + i * kDL, vclip(deriv[i], limit));
          sums.loss += value[i];
          sums.weighted += value[i];
        } else {
          const vdn wv = nload<vdn>(w + i * kDL);
          nstore(dz + c * R + i * kDL, wv * vclip(deriv[i], limit));
          sums.loss += value[i];
          sums.weighted += wv * value[i];
        }
      }
    }
  }
}

#endif

}  // namespace FASTSGD_ISA
}  // namespace fastsgd
