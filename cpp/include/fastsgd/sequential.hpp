// Plain SGD one row at a time with every floating-point operation in
// scikit-learn's order (linear_model/_sgd_fast.pyx and utils/_weight_vector.pyx):
// the score summed feature by feature, the step's factors formed as it forms
// them, the norms of its objective accumulated as it does. Compiled in a file of
// its own without fused multiply-adds (cpp/src/sequential.cpp, -ffp-contract=off,
// no FMA instructions), as scikit-learn's x86-64 wheels are, so on float64 data
// the trajectory equals scikit-learn's bit for bit: even where SGD amplifies a
// rounding difference from one step to the next (large rates), the drop-in
// (fastsgd.linear_model) ends where scikit-learn does.
//
// The same model state, penalties, averaging and schedules as step.hpp; only the
// order of operations is fixed. Used with batches of one row and plain SGD.
#pragma once

#include <cmath>

#include "fastsgd/epoch.hpp"
#include "fastsgd/rows.hpp"

namespace fastsgd {
inline namespace FASTSGD_ISA {

// scikit-learn's WeightVector.reset_wscale: the average takes in the lazy part
// (its BLAS axpy: a fused multiply-add), is scaled by 1/b, and W by its scale.
inline void sequential_fold(Model& M) {
  const std::size_t n = M.V.size();
  if (M.averaging()) {
    const double a = M.avg_a, inv_b = 1.0 / M.avg_b;
    for (std::size_t j = 0; j < n; ++j) M.AV[j] = std::fma(a, M.V[j], M.AV[j]);
    for (std::size_t j = 0; j < n; ++j) M.AV[j] *= inv_b;
    M.avg_a = 0.0;
    M.avg_b = 1.0;
  }
  for (std::size_t j = 0; j < n; ++j) M.V[j] *= M.scale;
  M.scale = 1.0;
}

// w.dot(x) as the per-row steps sum it, over a row's n values x with weight w(j) for value
// j: feature by feature, in scikit-learn's order, for float64 rows; four partial sums for
// float32 rows (scikit-learn trains a float32 model on them, which the float64 model here
// follows closely but not bit for bit in any order, and one chain of n dependent adds,
// the next row's score waiting on this row's update, was most of a step).
template <class T, class W>
FASTSGD_ALWAYS_INLINE double sequential_score(const T* __restrict x, index_t n, W&& w) {
  if constexpr (sizeof(T) == 8) {
    double inner = 0.0;
    for (index_t j = 0; j < n; ++j) inner += w(j) * static_cast<double>(x[j]);
    return inner;
  } else {
    double p4[4] = {0.0, 0.0, 0.0, 0.0};
    index_t j = 0;
    for (; j + 4 <= n; j += 4)
      for (int q = 0; q < 4; ++q) p4[q] += w(j + q) * static_cast<double>(x[j + q]);
    for (; j < n; ++j) p4[0] += w(j) * static_cast<double>(x[j]);
    return (p4[0] + p4[1]) + (p4[2] + p4[3]);
  }
}

// w.add_average's factors after its loop over the row, in scikit-learn's order: num the
// steps averaged so far (this one included), wscale W's scale, b the new intercept; the
// average is (AV + avg_a·V) / avg_b, ab the intercept's.
FASTSGD_ALWAYS_INLINE void average_factors(double num, double wscale, double b, double& avg_a,
                                           double& avg_b, double& ab) {
  const double mu = 1.0 / num;
  if (num > 1.0) avg_b /= (1.0 - mu);
  avg_a += mu * avg_b * wscale;
  ab += ((b - ab) / num);
}

template <class L, class Src>
struct SequentialStep {
  using T = typename Src::value_type;
  static constexpr bool has_pieces = false;
  static constexpr bool sums_objective = true;
  static constexpr bool reads_labels = false;
  static bool threaded(index_t) { return false; }
  const Src& src;
  const Targets<T>& tg;
  Model& M;
  const EpochSpec& spec;
  const L& loss;
  double objective = 0.0;  // scikit-learn's objective_sum, added to in its order

  LossSums operator()(const RowSet& rows, index_t m, double eta) {
    (void)m;  // always 1
    const index_t id = rows.id(0);
    const auto x = row_ref(src, id);  // x.n values at columns x.col(j)
    double* V = M.V.data();
    const PenaltySpec& pen = spec.step.penalty;
    const double alpha = pen.alpha, l1_ratio = pen.l1_ratio;

    double inner = sequential_score(x.val, x.n, [&](index_t j) { return V[x.col(j)]; });
    inner *= M.scale;
    const double p = inner + (M.intercept ? M.b[0] : 0.0);

    const double y = target_of<L>(tg, id, 0, 1);
    const bool want_loss = spec.sum_loss || spec.track_objective;
    const double cur_loss = want_loss ? loss.value(p, y) : 0.0;
    const double sw = tg.sample_weight != nullptr ? tg.sample_weight[id] : 1.0;
    const double cw = class_weight_of(tg, id, 0, 1);
    if (spec.track_objective) {
      objective += cur_loss;
      if (alpha > 0.0 || pen.l2 > 0.0 || pen.l1 > 0.0) {
        const double norm = std::sqrt(M.sq_norm);
        objective += alpha * ((1.0 - l1_ratio) * 0.5 * std::pow(norm, 2.0) + l1_ratio * M.l1_norm);
      }
    }
    double update = -eta * clip(loss.deriv(p, y), spec.clip);
    update *= cw * sw;

    if (pen.l2 > 0.0) {  // w.scale(max(0, 1 − (1 − l1_ratio)·eta·alpha))
      const double c0 = 1.0 - ((1.0 - l1_ratio) * eta * alpha);
      const double c = c0 > 0.0 ? c0 : 0.0;
      M.scale *= c;
      M.sq_norm *= (c * c);
      M.l1_norm *= std::fabs(c);
      if (M.scale < 1e-9) sequential_fold(M);
    }
    const double wscale = M.scale;
    if (update != 0.0) {  // w.add(x, update), its norms summed over the features
      const double k = update / wscale;
      if (spec.track_objective) {
        double l2acc = 0.0, l1acc = 0.0;
        for (index_t j = 0; j < x.n; ++j) {
          const index_t c = x.col(j);
          V[c] += static_cast<double>(x.val[j]) * k;
          l2acc += V[c] * V[c];
          l1acc += std::fabs(V[c]);
        }
        M.sq_norm = l2acc * (wscale * wscale);
        M.l1_norm = l1acc * wscale;
      } else {
        for (index_t j = 0; j < x.n; ++j) V[x.col(j)] += static_cast<double>(x.val[j]) * k;
      }
    }
    if (M.intercept && update != 0.0) M.b[0] += update * spec.step.intercept_decay;
    if (M.averaging() && M.t >= M.average_start) {  // w.add_average(x, update, num)
      const double a = M.avg_a;
      const double k = -update / wscale;
      double* AV = M.AV.data();
      for (index_t j = 0; j < x.n; ++j) AV[x.col(j)] += (a * static_cast<double>(x.val[j]) * k);
      average_factors(M.t - M.average_start + 1.0, wscale, M.b[0], M.avg_a, M.avg_b, M.ab[0]);
    }
    if (pen.l1 > 0.0) {
      model_ensure_state(M, 0, true);
      M.u += (l1_ratio * eta * alpha);
      for (index_t j = 0; j < x.n; ++j) l1_truncate(M, x.col(j), x.col(j) + 1);
    }
    M.t += 1.0;
    LossSums sums;
    sums.loss = cur_loss;
    sums.weighted = (sw * cw) * cur_loss;
    return sums;
  }
};

// SequentialStep's epoch over dense rows without L1 (with averaging), in one loop: the
// same operations in the same order, with the model's scalars in registers and no
// batch machinery between rows (scikit-learn's defaults; the step and the epoch
// loop around it took some 390 instructions a row). Rows are visited in
// spec.order, or 0, 1, ... without one; the rows kSequentialAhead on are asked for
// before their turn, and their targets gathered kTargetChunk at a time. The learning
// rates are computed 64 steps ahead (RateRing; invscaling's roots 64 at a time, exact,
// without a std::pow a step), off the step's critical path, the next row's score
// waiting on this row's update. kSums: the rows' losses (and with track_objective
// scikit-learn's objective) are summed.
// How many steps before its turn a row is asked for: fewer than the batched epoch's
// kAheadRows (128). A step here takes tens of nanoseconds and a row is a few cache lines;
// 128 rows ahead, their lines and their targets' (hundreds of lines) crowded L1 (the
// targets were asked for with their rows then). On 1M shuffled rows of 20 features, one
// thread, 16 rows ahead took 0.81-0.97 of the time of 128 for float64 rows (hinge,
// squared) and 0.92-1.0 for float32 rows.
constexpr index_t kSequentialAhead = 16;
// Rows kSequentialFar steps on are asked for into L2 only (prefetcht1), so that more of
// them are on their way than L1's misses in flight allow. On 1M shuffled rows of 20
// float64 features, one thread, Zen 4: a per-row loop of this kind in C++ took 0.57-0.62
// of the time with this second stage 48-96 rows ahead (32 rows ahead into L1 alone took
// 1.27 of it); the drop-in's fits (max_iter=5) took 0.71 (hinge), 0.84 (squared error)
// and 0.97 (log loss, its exponentials the longer part of a step), the same coefficients.
constexpr index_t kSequentialFar = 64;

// Row `id` of a dense X, its first near_span bytes into L1 and the rest of span into L2
// (a function, not a lambda: GCC drops a lambda whose body is only prefetches, as a call
// without effects).
template <class T>
FASTSGD_ALWAYS_INLINE void prefetch_dense_row(const T* X, index_t ld, index_t id, index_t span,
                                              index_t near_span) {
#if defined(__GNUC__) || defined(__clang__)
  const char* x = reinterpret_cast<const char*>(X + id * ld);
  index_t off = 0;
  for (; off < near_span; off += 64) __builtin_prefetch(x + off, 0, 3);
  for (; off < span; off += 64) __builtin_prefetch(x + off, 0, 1);
  if (span > 0) __builtin_prefetch(x + span - 1, 0, 3);
#else
  (void)X, (void)ld, (void)id, (void)span, (void)near_span;
#endif
}

// Row `id`'s real target and sample weight into L2, a chunk of targets (kTargetChunk)
// before their gather: on shuffled rows each is a cache line of its own, eight bytes a
// row, where a binary problem's label byte (positive_mask) mostly stays in cache. One
// thread, 1M x 20 float64, the drop-in with max_iter=5, the same coefficients, builds
// alternating: squared error 0.91-0.95 of the time, epsilon-insensitive 0.91-0.94, hinge
// 1.01 (with the label bytes asked for too, 1.05).
template <class T>
FASTSGD_ALWAYS_INLINE void prefetch_target_l2(const Targets<T>& tg, index_t id) {
#if defined(__GNUC__) || defined(__clang__)
  if (tg.Y != nullptr) __builtin_prefetch(tg.Y + id * tg.ldy, 0, 2);
  if (tg.sample_weight != nullptr) __builtin_prefetch(tg.sample_weight + id, 0, 2);
#else
  (void)tg, (void)id;
#endif
}

// The targets and weights of shuffled rows are gathered kTargetChunk rows at a time, ahead
// of their steps: each is a cache line of its own, and asked for with the row (a prefetch
// a step, among the row's) it was still on its way at the step's turn more often than
// not. The chunk's independent loads overlap. On 1M shuffled rows of 20 float64 features
// (squared error, one thread) the chunks took 0.88-0.94 of the time of the prefetches.
constexpr index_t kTargetChunk = 256;

template <class L, class T, bool kSums>
EpochStats sequential_dense_epoch(const DenseRows<T>& src, const Targets<T>& tg, Model& M,
                                  const EpochSpec& spec, index_t active, const L& loss,
                                  TrainWorkspace& ws) {
  // Everything the loop reads, in locals: the compiler keeps them in registers (through
  // the references, every store to V could have changed them).
  const index_t* const order = spec.order;
  const T* const X = src.X;
  const index_t ld = src.ld, d = src.d;
  double* __restrict V = M.V.data();
  const PenaltySpec& pen = spec.step.penalty;
  const double alpha = pen.alpha, l1_ratio = pen.l1_ratio;
  const bool l2 = pen.l2 > 0.0, penalized = alpha > 0.0 || pen.l2 > 0.0 || pen.l1 > 0.0;
  const bool intercept = M.intercept, track = spec.track_objective;
  const double decay = spec.step.intercept_decay, limit = spec.clip;
  const Targets<T> targets = tg;  // the targets and weights, in a local as the rest
  const bool real_targets = tg.Y != nullptr || tg.sample_weight != nullptr;  // (8 bytes a row)
  const bool polls = spec.should_stop != nullptr && spec.poll_every > 0;
  index_t until_poll = spec.poll_every;
  // the model's scalars, back in M at the end
  double b = intercept ? M.b[0] : 0.0, t = M.t;
  double scale = M.scale, sq_norm = M.sq_norm, l1_norm = M.l1_norm;
  double objective = 0.0;
  // the average (w.add_average) from step average_start on: AV, its factors, the intercept's
  const bool averaging = M.averaging();
  const double average_start = M.average_start;
  double* __restrict AV = averaging ? M.AV.data() : nullptr;
  double avg_a = M.avg_a, avg_b = M.avg_b, ab = averaging ? M.ab[0] : 0.0;
  RateRing rate_of(spec.schedule, t, active);
  // a row's cache lines: kSequentialFar rows before its turn up to 1 KiB into L2, then
  // kSequentialAhead rows before up to 512 bytes into L1 and up to 1 KiB into L2, each
  // time with the line of the last byte (rows are not aligned to lines)
  const index_t row_bytes = d * static_cast<index_t>(sizeof(T));
  const index_t span = imin(row_bytes, 1024), near_span = imin(span, 512);
  EpochStats stats;
  stats.rows = active;
  if (order != nullptr) {
    for (index_t s = 0; s < imin(kSequentialAhead, active); ++s)
      prefetch_dense_row(X, ld, order[s], span, near_span);
    for (index_t s = kSequentialAhead; s < imin(kSequentialFar, active); ++s)
      prefetch_l2(X + order[s] * ld, span);
  }
  // a second thread reading the rows ahead (toucher.hpp)
  const bool helper_eligible =
      order != nullptr && use_row_toucher(ws.kernel.threads, active, row_bytes, 1);
  EpochRowHelper helper(src, tg, false, helper_eligible, ws.helper, active, 0, spec, order);
  // row id's target and weight: its class weight times its sample weight
  auto row_target = [&](index_t id, double& y, double& w) {
    y = target_of<L>(targets, id, 0, 1);
    w = class_weight_of(targets, id, 0, 1);
    w *= targets.sample_weight != nullptr ? targets.sample_weight[id] : 1.0;
  };
  double chunk_y[kTargetChunk], chunk_w[kTargetChunk];  // with an order: its next rows'
  bool have_next = false;  // next_inner holds the next row's score
  double next_inner = 0.0;
  index_t s = 0;
  for (; s < active; ++s) {
    const double eta = rate_of(s);
    if (order != nullptr && s + kSequentialAhead < active) {
      prefetch_dense_row(X, ld, order[s + kSequentialAhead], span, near_span);
      if (s + kSequentialFar < active)
        prefetch_l2(X + order[s + kSequentialFar] * ld, span);
      if (real_targets && s + kTargetChunk < active)
        prefetch_target_l2(targets, order[s + kTargetChunk]);
    }
    if (order != nullptr && s % kTargetChunk == 0) {
      for (index_t c = 0; c < imin(kTargetChunk, active - s); ++c)
        row_target(order[s + c], chunk_y[c], chunk_w[c]);
      helper.report(s);
    }
    const index_t id = order != nullptr ? order[s] : s;
    const T* __restrict x = X + id * ld;

    // w.dot(x) (or as the previous step's update summed it)
    double inner =
        have_next ? next_inner : sequential_score(x, d, [&](index_t j) { return V[j]; });
    have_next = false;
    inner *= scale;
    const double p = inner + b;
    double y, w;
    if (order != nullptr) {
      y = chunk_y[s % kTargetChunk];
      w = chunk_w[s % kTargetChunk];
    } else {
      row_target(id, y, w);
    }
    if constexpr (kSums) {
      const double cur_loss = loss.value(p, y);
      if (track) {
        objective += cur_loss;
        if (penalized) {
          const double norm = std::sqrt(sq_norm);
          objective += alpha * ((1.0 - l1_ratio) * 0.5 * std::pow(norm, 2.0) + l1_ratio * l1_norm);
        }
      }
      stats.loss_sum += cur_loss;
      stats.weighted_loss_sum += w * cur_loss;
    }
    double update = -eta * clip(loss.deriv(p, y), limit);
    update *= w;
    if (l2) {
      const double c0 = 1.0 - ((1.0 - l1_ratio) * eta * alpha);
      const double c = c0 > 0.0 ? c0 : 0.0;
      scale *= c;
      sq_norm *= (c * c);
      l1_norm *= std::fabs(c);
      if (scale < 1e-9) {  // sequential_fold
        if (averaging) {
          M.scale = scale;
          M.avg_a = avg_a;
          M.avg_b = avg_b;
          sequential_fold(M);
          avg_a = M.avg_a;
          avg_b = M.avg_b;
        } else {
          for (index_t j = 0; j < d; ++j) V[j] *= scale;
        }
        scale = 1.0;
      }
    }
    // update / wscale; the average's -update / wscale is its negation (the same double)
    const double k = update != 0.0 ? update / scale : 0.0;
    if (update != 0.0) {
      const double wscale = scale;
      // w.add(x, update): each new weight, with scikit-learn's norms summed over them when
      // its objective is tracked; and, with a next row, that row's score from the same
      // weights (the same products summed in the same order as at the next step's start):
      // the next step's chain starts from the weights in registers, not from their stores
      const bool norms = kSums && track;
      double l2acc = 0.0, l1acc = 0.0;
      auto add = [&](index_t j) {
        const double v = V[j] + static_cast<double>(x[j]) * k;
        V[j] = v;
        return v;
      };
      auto add_norms = [&](index_t j) {
        const double v = add(j);
        l2acc += v * v;
        l1acc += std::fabs(v);
        return v;
      };
      if (s + 1 < active) {
        const T* xn = X + (order != nullptr ? order[s + 1] : s + 1) * ld;
        next_inner = norms ? sequential_score(xn, d, add_norms) : sequential_score(xn, d, add);
        have_next = true;
      } else if (norms) {
        for (index_t j = 0; j < d; ++j) add_norms(j);
      } else {
        for (index_t j = 0; j < d; ++j) add(j);
      }
      if (norms) {
        sq_norm = l2acc * (wscale * wscale);
        l1_norm = l1acc * wscale;
      }
      if (intercept) b += update * decay;
    }
    if (averaging && t >= average_start) {  // w.add_average(x, update, num)
      // a zero update adds zeros to AV (scikit-learn's loop runs then too)
      if (update != 0.0)
        for (index_t j = 0; j < d; ++j) AV[j] += (avg_a * static_cast<double>(x[j]) * -k);
      average_factors(t - average_start + 1.0, scale, b, avg_a, avg_b, ab);
    }
    t += 1.0;
    if (polls && --until_poll == 0) {
      until_poll = spec.poll_every;
      if (s + 1 < active && spec.should_stop(spec.poll_context)) {
        ++s;
        stats.stopped = true;
        break;
      }
    }
  }
  if (intercept) M.b[0] = b;
  M.t = t;
  M.scale = scale;
  M.sq_norm = sq_norm;
  M.l1_norm = l1_norm;
  if (averaging) {
    M.avg_a = avg_a;
    M.avg_b = avg_b;
    M.ab[0] = ab;
  }
  stats.steps = s;
  stats.objective_sum = objective;
  helper.finish(s, stats);
  return stats;
}

// One epoch of per-row plain SGD in scikit-learn's order of operations (other
// batch sizes and rules: the usual epoch, compiled here without fused
// multiply-adds).
template <class Src>
EpochStats train_epoch_sequential(const Src& src, const Targets<typename Src::value_type>& tg,
                                  Model& M, const EpochSpec& spec, TrainWorkspace& ws) {
  const bool one_row = spec.batch_size == 1 && M.k == 1 && update_is_lazy(spec.step.update);
  if (!one_row) return train_epoch(src, tg, M, spec, ws);
  const index_t active = active_rows(spec, src.n);
  // dense rows, no skipped rows, no L1: the loop of sequential_dense_epoch
  const bool dense_loop = spec.skip == nullptr && spec.step.penalty.l1 <= 0.0;
  return visit_loss(spec.loss, [&](const auto& loss) {
    using Loss = std::decay_t<decltype(loss)>;
    if constexpr (Loss::joint) {
      return train_epoch(src, tg, M, spec, ws);
    } else {
      if constexpr (!Src::sparse) {
        if (dense_loop) {
          if (spec.sum_loss || spec.track_objective)
            return sequential_dense_epoch<Loss, typename Src::value_type, true>(src, tg, M, spec,
                                                                             active, loss, ws);
          return sequential_dense_epoch<Loss, typename Src::value_type, false>(src, tg, M, spec,
                                                                            active, loss, ws);
        }
      }
      SequentialStep<Loss, Src> step{src, tg, M, spec, loss};
      return epoch_loop(src, tg, M, spec, ws, active, index_t{1}, step);
    }
  });
}

}  // namespace FASTSGD_ISA
}  // namespace fastsgd
