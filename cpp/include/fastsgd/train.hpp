// The mini-batch loop of one epoch, entirely in C++: take the next batch of a
// shuffled order, compute the fused loss + gradient, step, repeat.
// Between epochs the caller (fastsgd.fit) records the loss, runs the schedule,
// callbacks and early stopping.
#pragma once

#include <cstring>
#include <vector>

#include "fastsgd/core.hpp"
#include "fastsgd/random.hpp"
#include "fastsgd/update.hpp"

namespace fastsgd {

struct EpochSpec {
  index_t batch_size = 0;  // rows per step; the last batch may be smaller
  bool shuffle = true;
  // > 1: shuffle blocks of this many consecutive rows instead of single rows
  // (the last n mod block_rows rows come last, in order). Fewer cache misses.
  index_t block_rows = 1;
  std::uint64_t seed = 0;
  std::uint64_t epoch = 0;
  SgdOptions sgd;  // weight decay applies to Wt only, never to b
  bool fit_intercept = false;
  // Polled every `poll_every` steps; returning true stops the epoch early.
  index_t poll_every = 0;
  bool (*should_stop)(void*) = nullptr;
  void* poll_context = nullptr;
};

struct EpochStats {
  index_t steps = 0;
  double mean_batch_loss = 0.0;  // average over the epoch's batches, before each step
  bool stopped = false;
};

// Model state, all double: Wt (k, d), b (k), and the momentum buffers.
struct TrainState {
  double* Wt = nullptr;
  double* b = nullptr;
  double* vW = nullptr;
  double* vb = nullptr;
};

struct TrainWorkspace {
  Workspace kernel;
  std::vector<index_t> ring;  // shuffled row indices of the next few batches
  std::vector<index_t> blocks;
  std::vector<double> G, gb;
  // one gathered mini-batch of narrow rows (rows, targets, labels)
  std::vector<float> xf, yf;
  std::vector<double> xd, yd;
  std::vector<std::int64_t> lb;
  // a very large shuffled batch, a piece at a time
  std::vector<index_t> piece_rows;
  std::vector<double> piece_G, piece_gb;
};

static inline std::vector<float>& batch_x(TrainWorkspace& ws, const float*) { return ws.xf; }
static inline std::vector<double>& batch_x(TrainWorkspace& ws, const double*) { return ws.xd; }
static inline std::vector<float>& batch_y(TrainWorkspace& ws, const float*) { return ws.yf; }
static inline std::vector<double>& batch_y(TrainWorkspace& ws, const double*) { return ws.yd; }

// Copies the m rows (d ≤ kGatherMaxD values each) of a shuffled batch, their
// targets and labels into contiguous buffers, so that the vectorised kernels
// for contiguous rows run on them. A row of D values is copied as one unit.
static constexpr index_t kGatherMaxD = 8;

template <int D, class T>
void copy_rows(const T* X, index_t ldx, const index_t* rows, index_t m, index_t d, T* out) {
  if constexpr (D > 0) {
    for (index_t i = 0; i < m; ++i) std::memcpy(out + i * D, X + rows[i] * ldx, D * sizeof(T));
  } else {
    for (index_t i = 0; i < m; ++i)
      for (index_t j = 0; j < d; ++j) out[i * d + j] = X[rows[i] * ldx + j];
  }
}

template <class T>
Problem<T> gather_batch(const Problem<T>& data, const index_t* rows, index_t m,
                        TrainWorkspace& ws) {
  Problem<T> p = data;
  const index_t d = data.d, k = data.k;
  std::vector<T>& xb = batch_x(ws, data.X);
  xb.resize(static_cast<std::size_t>(m * d + 1));
  switch (d) {
    case 1:
      copy_rows<1>(data.X, data.ldx, rows, m, d, xb.data());
      break;
    case 2:
      copy_rows<2>(data.X, data.ldx, rows, m, d, xb.data());
      break;
    case 4:
      copy_rows<4>(data.X, data.ldx, rows, m, d, xb.data());
      break;
    default:
      copy_rows<0>(data.X, data.ldx, rows, m, d, xb.data());
      break;
  }
  p.X = xb.data();
  p.ldx = d;
  p.rows = nullptr;
  if (data.Y != nullptr) {
    std::vector<T>& yb = batch_y(ws, data.X);
    yb.resize(static_cast<std::size_t>(m * k));
    if (k == 1) {
      for (index_t i = 0; i < m; ++i) yb[static_cast<std::size_t>(i)] = data.Y[rows[i] * data.ldy];
    } else {
      copy_rows<0>(data.Y, data.ldy, rows, m, k, yb.data());
    }
    p.Y = yb.data();
    p.ldy = k;
  }
  if (data.labels != nullptr) {
    ws.lb.resize(static_cast<std::size_t>(m));
    for (index_t i = 0; i < m; ++i) ws.lb[static_cast<std::size_t>(i)] = data.labels[rows[i]];
    p.labels = ws.lb.data();
  }
  return p;
}

// Always inlined: GCC takes a function whose only effect is prefetching for
// pure and deletes its calls.
#if defined(__GNUC__) || defined(__clang__)
#define FASTSGD_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define FASTSGD_ALWAYS_INLINE inline
#endif
static FASTSGD_ALWAYS_INLINE void prefetch(const void* p) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 0, 3);
#else
  (void)p;
#endif
}

// Ask for the first cache lines of the given rows and their targets.
template <class T>
FASTSGD_ALWAYS_INLINE void prefetch_rows(const Problem<T>& data, const index_t* rows, index_t m) {
  const index_t row_bytes = data.d * static_cast<index_t>(sizeof(T));
  for (index_t i = 0; i < m; ++i) {
    const char* x = reinterpret_cast<const char*>(data.X + rows[i] * data.ldx);
    prefetch(x);
    if (row_bytes > 64) prefetch(x + 64);
    if (data.Y != nullptr) prefetch(data.Y + rows[i] * data.ldy);
    if (data.labels != nullptr) prefetch(data.labels + rows[i]);
  }
}

static constexpr index_t kPiece = index_t{1} << 16;

// The mean loss and gradient (into ws.G, ws.gb) of the batch at shuffled
// positions [first, first + m), summed over pieces of kPiece rows in order.
template <class T, class Positions>
double pieces_loss_grad(const Problem<T>& base, index_t first, index_t m, Loss loss,
                        Positions&& positions, bool intercept, TrainWorkspace& ws) {
  const index_t d = base.d, k = base.k;
  ws.piece_rows.resize(static_cast<std::size_t>(kPiece));
  ws.piece_G.assign(static_cast<std::size_t>(k * d + 1), 0.0);
  ws.piece_gb.assign(static_cast<std::size_t>(k), 0.0);
  double loss_sum = 0.0;
  for (index_t q = first; q < first + m; q += kPiece) {
    const index_t cnt = q + kPiece < first + m ? kPiece : first + m - q;
    positions(q, cnt, ws.piece_rows.data());
    Problem<T> p = base;
    p.rows = ws.piece_rows.data();
    if (d <= kGatherMaxD) p = gather_batch(p, p.rows, cnt, ws);
    const double l = loss_grad(p, cnt, loss, ws.G.data(), intercept ? ws.gb.data() : nullptr,
                               ws.kernel);  // means over the piece
    const double w = static_cast<double>(cnt);
    loss_sum += l * w;
    for (index_t j = 0; j < k * d; ++j)
      ws.piece_G[static_cast<std::size_t>(j)] += ws.G[static_cast<std::size_t>(j)] * w;
    if (intercept)
      for (index_t c = 0; c < k; ++c)
        ws.piece_gb[static_cast<std::size_t>(c)] += ws.gb[static_cast<std::size_t>(c)] * w;
  }
  const double inv = 1.0 / static_cast<double>(m);
  for (index_t j = 0; j < k * d; ++j)
    ws.G[static_cast<std::size_t>(j)] = ws.piece_G[static_cast<std::size_t>(j)] * inv;
  if (intercept)
    for (index_t c = 0; c < k; ++c)
      ws.gb[static_cast<std::size_t>(c)] = ws.piece_gb[static_cast<std::size_t>(c)] * inv;
  return loss_sum * inv;
}

// One epoch over rows [0, n) of `data` (its Wt and b are ignored: the state's are used).
template <class T>
EpochStats train_epoch(const Problem<T>& data, index_t n, Loss loss, TrainState st,
                       const EpochSpec& spec, TrainWorkspace& ws) {
  const index_t d = data.d, k = data.k;
  const index_t B = spec.batch_size > 0 && spec.batch_size < n ? spec.batch_size : n;
  const IsaKernels& kt = active_kernels();
  const PermKey key = make_perm_key(static_cast<std::uint64_t>(n), spec.seed, spec.epoch);
  // One batch holding every row: its order changes nothing, so it is not shuffled.
  const bool shuffle = spec.shuffle && B < n;
  ws.G.resize(static_cast<std::size_t>(k * d + 1));  // never empty: a null G means no gradient
  ws.gb.resize(static_cast<std::size_t>(k));
  // Shuffled batches are drawn `ahead` batches (at least 512 rows) before they
  // are used and their rows prefetched, so the cache misses of the random
  // gather overlap with the arithmetic of the batches in between.
  const index_t nbatches = B > 0 ? (n + B - 1) / B : 0;
  const index_t ahead = B >= 512 ? 1 : (512 + B - 1) / B;
  const index_t slots = ahead + 1;
  const index_t R = spec.block_rows > 1 ? spec.block_rows : 1;
  const index_t nfull = n / R;  // whole blocks; the rest keep their place at the end
  const PermKey bkey =
      R > 1 ? make_perm_key(static_cast<std::uint64_t>(nfull), spec.seed, spec.epoch) : key;
  // dst[j] = the row at shuffled position first + j, for j < m
  auto positions = [&](index_t first, index_t m, index_t* dst) {
    if (R == 1) {
      kt.perm(key, first, m, dst);
    } else {  // position p → row perm(p / R)·R + p mod R, for p < nfull·R
      const index_t end = first + m < nfull * R ? first + m : nfull * R;
      const index_t b0 = first / R;
      if (first < end) {
        const index_t nb = (end - 1) / R - b0 + 1;
        ws.blocks.resize(static_cast<std::size_t>(nb));
        kt.perm(bkey, b0, nb, ws.blocks.data());
      }
      // walk the blocks the batch touches, a run of consecutive rows from each
      index_t q = first;
      while (q < end) {
        const index_t blk = q / R, off = q - blk * R;
        const index_t run = (blk + 1) * R < end ? (blk + 1) * R - q : end - q;
        const index_t row0 = ws.blocks[static_cast<std::size_t>(blk - b0)] * R + off;
        for (index_t t = 0; t < run; ++t) dst[q - first + t] = row0 + t;
        q += run;
      }
      for (; q < first + m; ++q) dst[q - first] = q;  // the tail rows, in order
    }
  };
  auto draw = [&](index_t batch) {
    if (batch >= nbatches) return;
    const index_t first = batch * B;
    const index_t m = first + B < n ? B : n - first;
    index_t* dst = ws.ring.data() + (batch % slots) * B;
    positions(first, m, dst);
    prefetch_rows(data, dst, m);
  };
  // Batches larger than kPiece rows are drawn and summed kPiece rows at a time,
  // so the shuffle holds kPiece row indices (and gathered rows), never a whole
  // batch's: memory stays O(kPiece) however large the batch.
  const bool pieces = shuffle && B > kPiece;
  if (shuffle && !pieces) {
    ws.ring.resize(static_cast<std::size_t>(slots * B));
    for (index_t b = 0; b < ahead; ++b) draw(b);
  }
  SgdOptions bias_opt = spec.sgd;
  bias_opt.weight_decay = 0.0;

  EpochStats stats;
  double loss_sum = 0.0;
  for (index_t start = 0; start < n; start += B) {
    const index_t m = start + B < n ? B : n - start;
    Problem<T> p = data;
    p.Wt = st.Wt;
    p.b = spec.fit_intercept ? st.b : nullptr;
    if (pieces) {
      loss_sum += pieces_loss_grad(p, start, m, loss, positions, spec.fit_intercept, ws);
    } else if (shuffle) {
      const index_t batch = start / B;
      draw(batch + ahead);
      p.rows = ws.ring.data() + (batch % slots) * B;
      if (d <= kGatherMaxD) p = gather_batch(p, p.rows, m, ws);  // narrow rows: copy them
    } else {                                                     // rows [start, start + m) in place
      p.X = data.X + start * data.ldx;
      if (data.Y != nullptr) p.Y = data.Y + start * data.ldy;
      if (data.labels != nullptr) p.labels = data.labels + start;
    }
    if (!pieces)
      loss_sum += loss_grad(p, m, loss, ws.G.data(), spec.fit_intercept ? ws.gb.data() : nullptr,
                            ws.kernel);
    sgd_update(st.Wt, ws.G.data(), st.vW, k * d, spec.sgd);
    if (spec.fit_intercept) sgd_update(st.b, ws.gb.data(), st.vb, k, bias_opt);
    ++stats.steps;
    if (spec.should_stop != nullptr && spec.poll_every > 0 && stats.steps % spec.poll_every == 0 &&
        start + m < n && spec.should_stop(spec.poll_context)) {
      stats.stopped = true;
      break;
    }
  }
  stats.mean_batch_loss = stats.steps > 0 ? loss_sum / static_cast<double>(stats.steps) : 0.0;
  return stats;
}

}  // namespace fastsgd
