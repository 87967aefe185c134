// One epoch of mini-batch SGD, entirely in C++: take the next batch of the
// epoch's order, compute its fused loss and gradient, take the step, repeat.
// Between epochs the caller (fastsgd's Python driver) records the loss, runs
// per-epoch schedules, callbacks and stopping rules.
//
// The order: positions 0..n−1 mapped through the epoch's seeded permutation
// (permutation.hpp; none when shuffle = 0), skipping the rows marked in
// `skip` (a validation split). Batches are consecutive runs of batch_size
// active rows; the last one may be smaller. A step's learning rate comes from
// the schedule at the model's step counter t (updates.hpp).
#pragma once

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "fastsgd/fused.hpp"
#include "fastsgd/model.hpp"
#include "fastsgd/permutation.hpp"
#include "fastsgd/schedule.hpp"
#include "fastsgd/step.hpp"

namespace fastsgd {

struct EpochSpec {
  LossSpec loss;
  StepSpec step;
  ScheduleSpec schedule;
  index_t batch_size = 0;  // rows per step; 0 (or more than the rows): the full batch
  index_t shuffle = 1;     // 0: in order; 1: shuffled rows; b > 1: shuffled blocks of b rows
  std::uint64_t seed = 0;
  std::uint64_t epoch = 0;
  double clip = std::numeric_limits<double>::infinity();  // |dℓ/dz| limit (scikit-learn: 1e12)
  bool track_objective = false;  // sum scikit-learn's objective (loss + penalty per row)
  const std::uint8_t* skip = nullptr;  // rows to leave out (nonzero), or null
  // Polled every `poll_every` steps; returning true stops the epoch early.
  index_t poll_every = 0;
  bool (*should_stop)(void*) = nullptr;
  void* poll_context = nullptr;
};

struct EpochStats {
  index_t steps = 0;
  index_t rows = 0;                 // rows trained on (not skipped)
  double loss_sum = 0.0;            // Σ ℓ over the rows, each before its step
  double weighted_loss_sum = 0.0;   // Σ weight·ℓ, likewise
  double objective_sum = 0.0;       // Σ (ℓ + penalty) with track_objective
  bool stopped = false;
};

struct TrainWorkspace {
  Workspace kernel;
  std::vector<index_t> ring;   // the rows of the next few batches
  std::vector<index_t> blocks, piece;
  std::vector<double> out, piece_out;
  // one gathered batch of narrow rows: features, targets, labels, weights
  std::vector<float> xf, yf;
  std::vector<double> xd, yd, sw;
  std::vector<std::int64_t> lb;
};

// Rows of X with at most this many features are copied out of a shuffled
// batch into contiguous buffers, so that the vectorised kernels for
// contiguous rows run on them.
constexpr index_t kGatherMaxD = 8;
// Batches larger than this are drawn and summed this many rows at a time, so a
// shuffle never holds more row indices (or gathered rows) than this.
constexpr index_t kPiece = index_t{1} << 16;

inline namespace FASTSGD_ISA {

// The epoch's rows in order, skipping marked rows.
class RowStream {
 public:
  RowStream(index_t n, index_t shuffle, std::uint64_t seed, std::uint64_t epoch,
            const std::uint8_t* skip, std::vector<index_t>& blocks)
      : n_(n), shuffle_(shuffle), skip_(skip), blocks_(blocks) {
    block_ = shuffle > 1 ? shuffle : 1;
    nfull_ = n / block_;
    if (shuffle == 1) key_ = make_perm_key(static_cast<std::uint64_t>(n), seed, epoch);
    if (shuffle > 1) key_ = make_perm_key(static_cast<std::uint64_t>(nfull_), seed, epoch);
  }

  // The next (up to) m active rows into dst; returns how many.
  index_t next(index_t m, index_t* dst) {
    index_t got = 0;
    while (got < m && pos_ < n_) {
      const index_t cnt = imin(m - got, n_ - pos_);
      map(pos_, cnt, dst + got);
      pos_ += cnt;
      if (skip_ == nullptr) {
        got += cnt;
      } else {
        index_t kept = got;
        for (index_t j = got; j < got + cnt; ++j)
          if (skip_[dst[j]] == 0) dst[kept++] = dst[j];
        got = kept;
      }
    }
    return got;
  }

 private:
  // dst[j] = the row at position first + j
  void map(index_t first, index_t m, index_t* dst) {
    if (shuffle_ == 0) {
      for (index_t j = 0; j < m; ++j) dst[j] = first + j;
    } else if (block_ == 1) {
      perm_positions(key_, first, m, dst);
    } else {  // position p → row perm(p / b)·b + p mod b, for p < nfull·b; the tail in order
      const index_t R = block_;
      const index_t end = first + m < nfull_ * R ? first + m : nfull_ * R;
      const index_t b0 = first / R;
      if (first < end) {
        const index_t nb = (end - 1) / R - b0 + 1;
        blocks_.resize(static_cast<std::size_t>(nb));
        perm_positions(key_, b0, nb, blocks_.data());
      }
      index_t q = first;
      while (q < end) {  // a run of consecutive rows from each block the positions touch
        const index_t blk = q / R, off = q - blk * R;
        const index_t run = (blk + 1) * R < end ? (blk + 1) * R - q : end - q;
        const index_t row0 = blocks_[static_cast<std::size_t>(blk - b0)] * R + off;
        for (index_t t = 0; t < run; ++t) dst[q - first + t] = row0 + t;
        q += run;
      }
      for (; q < first + m; ++q) dst[q - first] = q;
    }
  }

  index_t n_, shuffle_, block_ = 1, nfull_ = 0, pos_ = 0;
  const std::uint8_t* skip_;
  PermKey key_;
  std::vector<index_t>& blocks_;
};

// Ask for the first cache lines of the given rows and their targets.
template <class T>
FASTSGD_ALWAYS_INLINE void prefetch_rows(const DenseRows<T>& src, const Targets<T>& tg,
                                         const index_t* rows, index_t m) {
#if defined(__GNUC__) || defined(__clang__)
  const index_t row_bytes = src.d * static_cast<index_t>(sizeof(T));
  for (index_t i = 0; i < m; ++i) {
    const char* x = reinterpret_cast<const char*>(src.row(rows[i]));
    __builtin_prefetch(x, 0, 3);
    if (row_bytes > 64) __builtin_prefetch(x + 64, 0, 3);
    if (tg.Y != nullptr) __builtin_prefetch(tg.Y + rows[i] * tg.ldy, 0, 3);
    if (tg.labels != nullptr) __builtin_prefetch(tg.labels + rows[i], 0, 3);
  }
#else
  (void)src, (void)tg, (void)rows, (void)m;
#endif
}

template <class T>
std::vector<T>& gather_x(TrainWorkspace& ws);
template <>
inline std::vector<float>& gather_x<float>(TrainWorkspace& ws) {
  return ws.xf;
}
template <>
inline std::vector<double>& gather_x<double>(TrainWorkspace& ws) {
  return ws.xd;
}
template <class T>
std::vector<T>& gather_y(TrainWorkspace& ws);
template <>
inline std::vector<float>& gather_y<float>(TrainWorkspace& ws) {
  return ws.yf;
}
template <>
inline std::vector<double>& gather_y<double>(TrainWorkspace& ws) {
  return ws.yd;
}

// Copies m narrow rows, their targets, labels and weights into contiguous
// buffers; the batch then reads rows [0, m) of the returned source and targets.
template <class T>
void gather_batch(const DenseRows<T>& src, const Targets<T>& tg, index_t k, const index_t* ids,
                  index_t m, TrainWorkspace& ws, DenseRows<T>& bsrc, Targets<T>& btg) {
  const index_t d = src.d;
  std::vector<T>& xb = gather_x<T>(ws);
  xb.resize(static_cast<std::size_t>(m * d + 1));
  for (index_t i = 0; i < m; ++i)
    std::memcpy(xb.data() + i * d, src.row(ids[i]), static_cast<std::size_t>(d) * sizeof(T));
  bsrc = DenseRows<T>{xb.data(), d, m, d};
  btg = tg;
  if (tg.Y != nullptr) {
    std::vector<T>& yb = gather_y<T>(ws);
    yb.resize(static_cast<std::size_t>(m * k));
    for (index_t i = 0; i < m; ++i)
      for (index_t c = 0; c < k; ++c)
        yb[static_cast<std::size_t>(i * k + c)] = tg.Y[ids[i] * tg.ldy + c];
    btg.Y = yb.data();
    btg.ldy = k;
  }
  if (tg.labels != nullptr) {
    ws.lb.resize(static_cast<std::size_t>(m));
    for (index_t i = 0; i < m; ++i) ws.lb[static_cast<std::size_t>(i)] = tg.labels[ids[i]];
    btg.labels = ws.lb.data();
  }
  if (tg.sample_weight != nullptr) {
    ws.sw.resize(static_cast<std::size_t>(m));
    for (index_t i = 0; i < m; ++i) ws.sw[static_cast<std::size_t>(i)] = tg.sample_weight[ids[i]];
    btg.sample_weight = ws.sw.data();
  }
}

// Adds the sums of the rows ids[0..m) (layout of dense_rows.hpp) to out.
template <class T>
void batch_sums(const DenseRows<T>& src, const Targets<T>& tg, const Params& p, const EpochSpec& spec,
                const index_t* ids, index_t m, TrainWorkspace& ws, double* out) {
  if (src.d <= kGatherMaxD) {  // narrow rows: copy them out, then read them in order
    DenseRows<T> bsrc;
    Targets<T> btg;
    gather_batch(src, tg, p.k, ids, m, ws, bsrc, btg);
    loss_grad_sums(bsrc, RowSet{nullptr, 0, m}, btg, p, spec.loss, spec.clip, true, out, ws.kernel);
  } else {
    loss_grad_sums(src, RowSet{ids, 0, m}, tg, p, spec.loss, spec.clip, true, out, ws.kernel);
  }
}

// One epoch over the rows of src (targets tg), updating the model M.
template <class T>
EpochStats train_epoch(const DenseRows<T>& src, const Targets<T>& tg, Model& M,
                       const EpochSpec& spec, TrainWorkspace& ws) {
  const index_t n = src.n, k = M.k, d = M.d;
  index_t active = n;
  if (spec.skip != nullptr)
    for (index_t i = 0; i < n; ++i) active -= spec.skip[i] != 0 ? 1 : 0;
  const index_t B = spec.batch_size > 0 && spec.batch_size < active ? spec.batch_size : active;
  // One batch of every row in order: its order changes nothing, so it is not shuffled.
  const index_t shuffle = B < active ? spec.shuffle : 0;
  const bool in_order = shuffle == 0 && spec.skip == nullptr;  // batches are ranges of rows
  const index_t psize = out_size(k, d, true);
  ws.out.resize(static_cast<std::size_t>(psize));
  double* out = ws.out.data();
  const double* gb = out + kOutGb;
  const double* G = gb + k;
  RowStream stream(n, shuffle, spec.seed, spec.epoch, spec.skip, ws.blocks);

  // Batches of up to kPiece rows are drawn `ahead` batches (at least 512 rows)
  // before they are used and their rows prefetched, so that the cache misses of
  // a shuffled gather overlap with the work on the batches in between.
  const bool pieces = !in_order && B > kPiece;
  const index_t nbatches = B > 0 ? (active + B - 1) / B : 0;
  const index_t ahead = B >= 512 ? 1 : (512 + B - 1) / B;
  const index_t slots = ahead + 1;
  std::vector<index_t> counts;
  auto draw = [&](index_t batch) {
    if (batch >= nbatches) return;
    index_t* dst = ws.ring.data() + (batch % slots) * B;
    const index_t got = stream.next(B, dst);
    counts[static_cast<std::size_t>(batch % slots)] = got;
    prefetch_rows(src, tg, dst, got);
  };
  if (!in_order && !pieces) {
    ws.ring.resize(static_cast<std::size_t>(slots * B));
    counts.assign(static_cast<std::size_t>(slots), 0);
    for (index_t b = 0; b < ahead; ++b) draw(b);
  }

  Params p;
  p.W = M.V.data();
  p.k = k;
  p.d = d;
  EpochStats stats;
  stats.rows = active;
  for (index_t batch = 0; batch < nbatches; ++batch) {
    const index_t start = batch * B;
    const index_t m = imin(B, active - start);
    const double lr = schedule_rate(spec.schedule, M.t);
    if (spec.track_objective)  // scikit-learn's penalty term: the norms before the step
      stats.objective_sum += static_cast<double>(m) *
                             (spec.step.penalty.l2 * 0.5 * M.sq_norm + spec.step.penalty.l1 * M.l1_norm);
    p.scale = M.scale;
    p.b = M.intercept ? M.b.data() : nullptr;
    p.Wf = nullptr;
    if (in_order) {
      loss_grad_sums(src, RowSet{nullptr, start, m}, tg, p, spec.loss, spec.clip, true, out,
                     ws.kernel);
    } else if (!pieces) {
      draw(batch + ahead);
      const index_t* ids = ws.ring.data() + (batch % slots) * B;
      batch_sums(src, tg, p, spec, ids, m, ws, out);
    } else {  // a very large shuffled batch, a piece at a time
      for (index_t j = 0; j < psize; ++j) out[j] = 0.0;
      ws.piece.resize(static_cast<std::size_t>(kPiece));
      ws.piece_out.resize(static_cast<std::size_t>(psize));
      for (index_t q = 0; q < m; q += kPiece) {
        const index_t got = stream.next(imin(kPiece, m - q), ws.piece.data());
        batch_sums(src, tg, p, spec, ws.piece.data(), got, ws, ws.piece_out.data());
        for (index_t j = 0; j < psize; ++j) out[j] += ws.piece_out[static_cast<std::size_t>(j)];
      }
    }
    stats.loss_sum += out[kOutLoss];
    stats.weighted_loss_sum += out[kOutWeighted];
    if (spec.track_objective) stats.objective_sum += out[kOutLoss];
    bool moved = m > 1;
    for (index_t c = 0; c < k && !moved; ++c) moved = gb[c] != 0.0;
    dense_step(M, spec.step, G, gb, static_cast<double>(m), lr, moved);
    ++stats.steps;
    if (spec.should_stop != nullptr && spec.poll_every > 0 && stats.steps % spec.poll_every == 0 &&
        batch + 1 < nbatches && spec.should_stop(spec.poll_context)) {
      stats.stopped = true;
      break;
    }
  }
  return stats;
}

}  // namespace FASTSGD_ISA
}  // namespace fastsgd
