// One epoch of mini-batch SGD, entirely in C++: take the next batch of the
// epoch's order, compute its fused loss and gradient, take the step, repeat.
// Between epochs the caller (fastsgd's Python driver) records the loss, runs
// per-epoch schedules, callbacks and stopping rules.
//
// The order: positions 0..n−1 mapped through the epoch's seeded permutation
// (permutation.hpp; none when shuffle = 0), or the rows listed in `order`
// when it is given, skipping the rows marked in `skip` (a validation split). Batches are
// consecutive runs of batch_size active rows; the last one may be smaller. A step's learning rate
// comes from the schedule at the model's step counter t (updates.hpp).
#pragma once

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <type_traits>
#include <vector>

#include "fastsgd/fused.hpp"
#include "fastsgd/model.hpp"
#include "fastsgd/permutation.hpp"
#include "fastsgd/rows.hpp"
#include "fastsgd/row_ops.hpp"
#include "fastsgd/schedule.hpp"
#include "fastsgd/step.hpp"
#include "fastsgd/toucher.hpp"

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
  bool track_objective = false;        // sum scikit-learn's objective (loss + penalty per row)
  bool sum_loss = true;                // sum the rows' losses (EpochStats::loss_sum, weighted)
  const std::uint8_t* skip = nullptr;  // rows to leave out (nonzero), or null
  // Batches of one row of plain SGD in scikit-learn's order of floating-point
  // operations (sequential.hpp; the bindings send such epochs there).
  bool sklearn_arithmetic = false;
  // The rows to visit, in this order (each in [0, n)), instead of the shuffle; null: none.
  const index_t* order = nullptr;
  index_t order_size = 0;
  // Polled every `poll_every` steps; returning true stops the epoch early.
  index_t poll_every = 0;
  bool (*should_stop)(void*) = nullptr;
  void* poll_context = nullptr;
};

struct EpochStats {
  index_t steps = 0;
  index_t rows = 0;                // rows trained on (not skipped)
  double loss_sum = 0.0;           // Σ ℓ over the rows, each before its step
  double weighted_loss_sum = 0.0;  // Σ weight·ℓ, likewise
  double objective_sum = 0.0;      // Σ (ℓ + penalty) with track_objective
  bool stopped = false;
  bool row_helper = false;  // a second thread was started to read the rows ahead (toucher.hpp)
  index_t helper_rows = 0;  // the rows it read
};

struct TrainWorkspace {
  Workspace kernel;
  std::vector<index_t> ring;  // the rows of the next few batches
  std::vector<index_t> blocks, piece;
  std::vector<double> out, piece_out;
  // one gathered batch of narrow rows: features, targets, labels, weights
  std::vector<float> xf, yf;
  std::vector<double> xd, yd, sw;
  std::vector<std::int64_t> lb;
  std::vector<index_t> ids;  // the rows of a batch (sparse steps)
  HelperRecord helper;       // whether the row helper paid in the epochs so far
};

// Rows of X with at most this many features are copied out of a shuffled
// batch into contiguous buffers, so that the vectorised kernels for
// contiguous rows run on them.
constexpr index_t kGatherMaxD = 8;
// Batches larger than this are drawn and summed this many rows at a time, so a
// shuffle never holds more row indices (or gathered rows) than this.
constexpr index_t kPiece = index_t{1} << 16;
// Rows of small batches are asked for this many rows before their turn.
constexpr index_t kAheadRows = 128;

inline namespace FASTSGD_ISA {

// The epoch's rows in order, skipping marked rows.
class RowStream {
 public:
  RowStream(index_t n, index_t shuffle, std::uint64_t seed, std::uint64_t epoch,
            const std::uint8_t* skip, std::vector<index_t>& blocks, const index_t* order = nullptr)
      : n_(n),
        shuffle_(order != nullptr ? 0 : shuffle),
        skip_(skip),
        order_(order),
        blocks_(blocks) {
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
    if (order_ != nullptr) {
      std::memcpy(dst, order_ + first, static_cast<std::size_t>(m) * sizeof(index_t));
    } else if (shuffle_ == 0) {
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
  const index_t* order_;
  PermKey key_;
  std::vector<index_t>& blocks_;
};

// An epoch's row helper (toucher.hpp), where eligible and its record says it pays: the
// thread, the stream it draws the epoch's rows from (declared first: the thread is
// joined before the stream goes) and the epoch's timing for the record.
class EpochRowHelper {
 public:
  // the stream's arguments are the epoch's RowStream's; labels: as touch_targets'
  template <class Src>
  EpochRowHelper(const Src& src, const Targets<typename Src::value_type>& tg, bool labels,
                 bool eligible, HelperRecord& record, index_t n, index_t shuffle,
                 const EpochSpec& spec, const index_t* order)
      : eligible_(eligible), record_(record) {
    if (eligible_ && helper_choice(record_)) {
      RowStream* rows =
          &stream_.emplace(n, shuffle, spec.seed, spec.epoch, spec.skip, blocks_, order);
      toucher_.start(src, tg, labels,
                     [rows](index_t m, index_t* dst) { return rows->next(m, dst); });
    }
    if (eligible_) start_ = std::chrono::steady_clock::now();
  }
  bool started() const { return toucher_.started(); }
  void report(index_t pos) { toucher_.report(pos); }
  // The epoch is over after rows_done rows: its time a row to the record; the helper
  // stopped and its rows and whether it ran into stats.
  void finish(index_t rows_done, EpochStats& stats) {
    if (eligible_ && rows_done > 0) {
      const std::chrono::duration<double> t = std::chrono::steady_clock::now() - start_;
      helper_record(record_, started(), t.count() / static_cast<double>(rows_done));
    }
    stats.row_helper = started();
    stats.helper_rows = toucher_.stop();
  }

 private:
  std::vector<index_t> blocks_;
  std::optional<RowStream> stream_;
  RowToucher toucher_;
  bool eligible_;
  HelperRecord& record_;
  std::chrono::steady_clock::time_point start_{};
};

// Ask for the first cache lines of the given rows (into L2) and their targets (into L1).
//
// Every cache line of a row up to 1 KiB; of longer rows the first 1 KiB (the hardware
// prefetcher follows a row read front to back). The rows go to L2 only (prefetcht1):
// into L1, the misses on their way are bounded by L1's few miss buffers, which a
// shuffled epoch fills; into L2, more of them are in flight, and a row comes from L2 in
// a few nanoseconds at its turn. Against every line of the first 512 bytes into L1 (one
// thread, Zen 4, fastsgd.fit, shuffled, 3 epochs, the same coefficients): 1M x 100
// float32 batch 64 0.66 of the time, batch 256 0.62; 100k x 1000 0.89 and 0.95;
// 1M x 2 batch 64 0.81, batch 1 0.97. The rows of the next batch asked for again into L1
// as well gained nothing more at d = 100 and lost at d = 2 (1.04).
template <class T>
FASTSGD_ALWAYS_INLINE void prefetch_rows(const DenseRows<T>& src, const Targets<T>& tg,
                                         const index_t* rows, index_t m) {
#if defined(__GNUC__) || defined(__clang__)
  const index_t row_bytes = src.d * static_cast<index_t>(sizeof(T));
  const index_t span = row_bytes < 1024 ? row_bytes : 1024;
  for (index_t i = 0; i < m; ++i) {
    prefetch_l2(src.row(rows[i]), span);
    if (tg.Y != nullptr) __builtin_prefetch(tg.Y + rows[i] * tg.ldy, 0, 3);
    if (tg.labels != nullptr) __builtin_prefetch(tg.labels + rows[i], 0, 3);
    if (tg.sample_weight != nullptr) __builtin_prefetch(tg.sample_weight + rows[i], 0, 3);
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
  T* const dst = xb.data();
  // each row a copy of a size known at compile time (a few moves inline): a call to
  // memcpy a row kept fewer rows' loads in flight and took twice the time (1M × 2
  // float32 rows, shuffled batches of 256)
  auto copy = [&](auto width) {
    constexpr index_t D = decltype(width)::value;
    for (index_t i = 0; i < m; ++i)
      std::memcpy(dst + i * D, src.row(ids[i]), static_cast<std::size_t>(D) * sizeof(T));
  };
  static_assert(kGatherMaxD == 8, "gather_batch copies rows of up to 8 values");
  switch (d) {
    case 1: copy(std::integral_constant<index_t, 1>{}); break;
    case 2: copy(std::integral_constant<index_t, 2>{}); break;
    case 3: copy(std::integral_constant<index_t, 3>{}); break;
    case 4: copy(std::integral_constant<index_t, 4>{}); break;
    case 5: copy(std::integral_constant<index_t, 5>{}); break;
    case 6: copy(std::integral_constant<index_t, 6>{}); break;
    case 7: copy(std::integral_constant<index_t, 7>{}); break;
    case 8: copy(std::integral_constant<index_t, 8>{}); break;
    default:  // not reached (d <= kGatherMaxD)
      for (index_t i = 0; i < m; ++i)
        std::memcpy(dst + i * d, src.row(ids[i]), static_cast<std::size_t>(d) * sizeof(T));
  }
  bsrc = DenseRows<T>{dst, d, m, d};
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
    btg.positive_mask = nullptr;  // indexed by X's rows: the batch reads its own labels
  }
  if (tg.sample_weight != nullptr) {
    ws.sw.resize(static_cast<std::size_t>(m));
    for (index_t i = 0; i < m; ++i) ws.sw[static_cast<std::size_t>(i)] = tg.sample_weight[ids[i]];
    btg.sample_weight = ws.sw.data();
  }
}

// Adds the sums of the rows ids[0..m) (layout of dense_rows.hpp) to out.
template <class T>
void batch_sums(const DenseRows<T>& src, const Targets<T>& tg, const Params& p,
                const EpochSpec& spec, const index_t* ids, index_t m, TrainWorkspace& ws,
                double* out) {
  if (src.d <= kGatherMaxD) {  // narrow rows: copy them out, then read them in order
    DenseRows<T> bsrc;
    Targets<T> btg;
    gather_batch(src, tg, p.k, ids, m, ws, bsrc, btg);
    loss_grad_sums(bsrc, RowSet{nullptr, 0, m}, btg, p, spec.loss, spec.clip, true, out, ws.kernel);
  } else {
    loss_grad_sums(src, RowSet{ids, 0, m}, tg, p, spec.loss, spec.clip, true, out, ws.kernel);
  }
}

// A batch's step from its gradient sums (any update rule, any batch size): the fused
// loss + gradient of the batch's rows into G, then the step of step.hpp.
template <class Src>
struct GradientStep {
  using T = typename Src::value_type;
  static constexpr bool has_pieces = true;
  static constexpr bool sums_objective = false;
  // a batch of narrow dense rows is gathered with its labels (gather_batch), not the mask
  static constexpr bool reads_labels = !Src::sparse;
  const Src& src;
  const Targets<T>& tg;
  Model& M;
  const EpochSpec& spec;
  TrainWorkspace& ws;

  double* out() {
    ws.out.resize(static_cast<std::size_t>(out_size(M.k, M.d, true)));
    return ws.out.data();
  }
  Params params() const {
    Params p;
    p.W = M.V.data();
    p.scale = M.scale;
    p.b = M.intercept ? M.b.data() : nullptr;
    p.k = M.k;
    p.d = M.d;
    return p;
  }
  LossSums finish(const double* o, index_t m, double lr) {
    const double* gb = o + kOutGb;
    bool moved = m > 1;
    for (index_t c = 0; c < M.k && !moved; ++c) moved = gb[c] != 0.0;
    dense_step(M, spec.step, gb + M.k, gb, static_cast<double>(m), lr, moved);
    return LossSums{o[kOutLoss], o[kOutWeighted]};
  }
  // whether a batch of m rows is summed on several threads
  bool threaded(index_t m) const { return sum_threads(src, m, M.k, ws.kernel.threads) > 1; }
  LossSums operator()(const RowSet& rows, index_t m, double lr) {
    double* o = out();
    if (rows.ids == nullptr)
      loss_grad_sums(src, rows, tg, params(), spec.loss, spec.clip, true, o, ws.kernel);
    else
      batch_sums(src, tg, params(), spec, rows.ids, m, ws, o);
    return finish(o, m, lr);
  }
  // a very large shuffled batch, kPiece rows at a time
  LossSums pieces(RowStream& stream, index_t m, double lr) {
    const index_t psize = out_size(M.k, M.d, true);
    double* o = out();
    for (index_t j = 0; j < psize; ++j) o[j] = 0.0;
    ws.piece.resize(static_cast<std::size_t>(kPiece));
    ws.piece_out.resize(static_cast<std::size_t>(psize));
    for (index_t q = 0; q < m; q += kPiece) {
      const index_t got = stream.next(imin(kPiece, m - q), ws.piece.data());
      batch_sums(src, tg, params(), spec, ws.piece.data(), got, ws, ws.piece_out.data());
      for (index_t j = 0; j < psize; ++j) o[j] += ws.piece_out[static_cast<std::size_t>(j)];
    }
    return finish(o, m, lr);
  }
};

// Batches of at most this many rows take plain SGD's step fused with their scores.
constexpr index_t kFusedMaxBatch = 8;

// Plain SGD on a small batch (scikit-learn's per-row SGD is a batch of one), fused: the
// scores of the batch's rows, their derivatives from the loss (its type a template
// parameter: no dispatch per row), then the step of step.hpp applied row by row
// (W ← W − lr·Σ dz x / m), the average following. The same step as dense_step's.
template <class L, class T>
struct FusedPlainStep {
  static constexpr bool has_pieces = false;
  static constexpr bool sums_objective = false;
  static constexpr bool reads_labels = false;
  static bool threaded(index_t) { return false; }
  const DenseRows<T>& src;
  const Targets<T>& tg;
  Model& M;
  const EpochSpec& spec;
  const L& loss;
  TrainWorkspace& ws;

  LossSums operator()(const RowSet& rows, index_t m, double lr) {
    const index_t k = M.k, d = M.d;
    index_t ids[kFusedMaxBatch];
    const T* x[kFusedMaxBatch];
    for (index_t r = 0; r < m; ++r) {
      ids[r] = rows.id(r);
      x[r] = src.row(ids[r]);
    }
    ws.out.resize(static_cast<std::size_t>(2 * kFusedMaxBatch * k));
    double* z = ws.out.data();  // z[r·k + c]
    double* dz = z + kFusedMaxBatch * k;
    double* V = M.V.data();
    for (index_t r = 0; r < m; ++r)
      for (index_t c = 0; c < k; ++c) {
        const double s = row_dot(x[r], V + c * d, d);
        z[r * k + c] = M.scale * s + (M.intercept ? M.b[static_cast<std::size_t>(c)] : 0.0);
      }
    LossSums sums;
    loss_rows(loss, tg, ids, static_cast<int>(m), k, z, dz, 1, k, spec.clip, sums);
    bool moved = m > 1;
    for (index_t c = 0; c < k && !moved; ++c) moved = dz[c] != 0.0;

    const StepSpec& st = spec.step;
    const double l2 = st.penalty.l2, l1 = st.penalty.l1;
    const bool avg = M.averaging() && M.t >= M.average_start;
    if (l1 > 0.0) model_ensure_state(M, 0, true);
    if (l2 > 0.0) {
      const double c = 1.0 - lr * l2;
      model_shrink(M, c > 0.0 ? c : 0.0);
    }
    if (moved) {
      const double base = -lr / (static_cast<double>(m) * M.scale);
      double* AV = M.AV.data();
      const double a = M.avg_a;
      for (index_t r = 0; r < m; ++r)
        for (index_t c = 0; c < k; ++c) {
          const double coef = base * dz[r * k + c];
          if (coef == 0.0) continue;
          if (avg)
            row_axpy2(V + c * d, coef, AV + c * d, -a * coef, x[r], d);
          else
            row_axpy(V + c * d, coef, x[r], d);
        }
      if (st.track_norms) {
        double sq = 0.0, a1 = 0.0;
        for (const double v : M.V) {
          sq += v * v;
          a1 += std::fabs(v);
        }
        M.sq_norm = sq * (M.scale * M.scale);
        M.l1_norm = a1 * M.scale;
      }
      if (M.intercept) {
        const double cb = -lr / static_cast<double>(m);
        for (index_t c = 0; c < k; ++c) {
          double g = 0.0;
          for (index_t r = 0; r < m; ++r) g += dz[r * k + c];
          M.b[static_cast<std::size_t>(c)] += (cb * g) * st.intercept_decay;
        }
      }
    }
    if (avg) average_in(M);
    if (l1 > 0.0) {
      M.u += lr * l1;
      l1_truncate(M, 0, M.size());
    }
    M.t += 1.0;
    return sums;
  }
};

// The rows an epoch trains on: the positions (the order's, or all n rows) not skipped.
inline index_t active_rows(const EpochSpec& spec, index_t n_rows) {
  const index_t n = spec.order != nullptr ? spec.order_size : n_rows;
  index_t active = n;
  if (spec.skip != nullptr) {
    for (index_t i = 0; i < n; ++i) {
      const index_t row = spec.order != nullptr ? spec.order[i] : i;
      active -= spec.skip[row] != 0 ? 1 : 0;
    }
  }
  return active;
}

// The batches of one epoch over the rows of src, each taking step(rows, m, lr).
template <class Src, class Step>
EpochStats epoch_loop(const Src& src, const Targets<typename Src::value_type>& tg, Model& M,
                      const EpochSpec& spec, TrainWorkspace& ws, index_t active, index_t B,
                      Step& step) {
  // An explicit order lists the positions; else they are the rows 0..n−1.
  const index_t n = spec.order != nullptr ? spec.order_size : src.n;
  // One batch of every row in order: its order changes nothing, so it is not shuffled.
  const index_t shuffle = B < active ? spec.shuffle : 0;
  const bool in_order = shuffle == 0 && spec.skip == nullptr && spec.order == nullptr;
  RowStream stream(n, shuffle, spec.seed, spec.epoch, spec.skip, ws.blocks, spec.order);

  // Batches of up to kPiece rows are drawn `ahead` batches (at least 128 rows)
  // before they are used and their rows prefetched, so that the cache misses of
  // a shuffled gather overlap with the work on the batches in between.
  const bool pieces = !in_order && B > kPiece && Step::has_pieces;
  // An explicit order without skipped rows lists each batch's rows as they are: batches
  // point into it (no copy into the ring), and the rows `ahead` batches on are prefetched
  // straight from it (scikit-learn's face: one row a batch, where drawing it through the
  // stream took more instructions than the step).
  const bool listed = spec.order != nullptr && spec.skip == nullptr && !pieces;
  const index_t nbatches = B > 0 ? (active + B - 1) / B : 0;
  const index_t ahead = B >= kAheadRows ? 1 : (kAheadRows + B - 1) / B;
  index_t slots = 2;  // a power of two > ahead: a batch's slot is a mask, not a division
  while (slots <= ahead) slots *= 2;
  const index_t slot_mask = slots - 1;
  // The m rows of a drawn batch: a range, a run of the order, or the batch's ring slot.
  auto batch_rows = [&](index_t batch, index_t m) {
    if (in_order) return RowSet{nullptr, batch * B, m};
    if (listed) return RowSet{spec.order + batch * B, 0, m};
    return RowSet{ws.ring.data() + (batch & slot_mask) * B, 0, m};
  };
  auto draw = [&](index_t batch) {
    if (batch >= nbatches) return;
    if (listed) {
      prefetch_rows(src, tg, spec.order + batch * B, imin(B, active - batch * B));
      return;
    }
    index_t* dst = ws.ring.data() + (batch & slot_mask) * B;
    const index_t got = stream.next(B, dst);
    prefetch_rows(src, tg, dst, got);
  };
  if (!in_order && !pieces) {
    if (!listed) ws.ring.resize(static_cast<std::size_t>(slots * B));
    for (index_t b = 0; b < ahead; ++b) draw(b);
  }
  // A second thread reading the rows ahead (toucher.hpp): for shuffled (or listed) rows,
  // where threads are allowed and the steps take one.
  EpochRowHelper helper(
      src, tg, Step::reads_labels && src.d <= kGatherMaxD,
      (shuffle != 0 || spec.order != nullptr) && !pieces && !step.threaded(B) &&
          use_row_toucher(ws.kernel.threads, active, row_bytes_of(src), B),
      ws.helper, n, shuffle, spec, spec.order);
  EpochStats stats;
  stats.rows = active;
  const bool polls = spec.should_stop != nullptr && spec.poll_every > 0;
  index_t until_poll = spec.poll_every;  // steps left before the next poll
  const double l2 = spec.step.penalty.l2, l1 = spec.step.penalty.l1;
  for (index_t batch = 0; batch < nbatches; ++batch) {
    const index_t start = batch * B;
    const index_t m = imin(B, active - start);
    const double lr = schedule_rate(spec.schedule, M.t);
    if constexpr (!Step::sums_objective) {
      if (spec.track_objective)  // scikit-learn's penalty term: the norms before the step
        stats.objective_sum += static_cast<double>(m) * (l2 * 0.5 * M.sq_norm + l1 * M.l1_norm);
    }
    LossSums sums;
    if (!in_order && !pieces) draw(batch + ahead);
    if (!pieces) {
      sums = step(batch_rows(batch, m), m, lr);
    } else {
      if constexpr (Step::has_pieces) sums = step.pieces(stream, m, lr);
    }
    helper.report(start + m);
    stats.loss_sum += sums.loss;
    stats.weighted_loss_sum += sums.weighted;
    if constexpr (!Step::sums_objective) {
      if (spec.track_objective) stats.objective_sum += sums.loss;
    }
    ++stats.steps;
    if (polls && --until_poll == 0) {
      until_poll = spec.poll_every;
      if (batch + 1 < nbatches && spec.should_stop(spec.poll_context)) {
        stats.stopped = true;
        break;
      }
    }
  }
  if constexpr (Step::sums_objective) stats.objective_sum = step.objective;
  helper.finish(imin(stats.steps * B, active), stats);
  return stats;
}

// One epoch over the rows of src (targets tg), updating the model M.
template <class T>
EpochStats train_epoch(const DenseRows<T>& src, const Targets<T>& tg, Model& M,
                       const EpochSpec& spec, TrainWorkspace& ws) {
  const index_t active = active_rows(spec, src.n);
  const index_t B = spec.batch_size > 0 && spec.batch_size < active ? spec.batch_size : active;
  if (B <= kFusedMaxBatch && update_is_lazy(spec.step.update)) {
    return visit_loss(spec.loss, [&](const auto& loss) {
      FusedPlainStep<std::decay_t<decltype(loss)>, T> step{src, tg, M, spec, loss, ws};
      return epoch_loop(src, tg, M, spec, ws, active, B, step);
    });
  }
  GradientStep<DenseRows<T>> step{src, tg, M, spec, ws};
  return epoch_loop(src, tg, M, spec, ws, active, B, step);
}

}  // namespace FASTSGD_ISA
}  // namespace fastsgd
