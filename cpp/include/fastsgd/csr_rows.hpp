// Compressed sparse rows (scipy.sparse's CSR) as a data source: the fused loss +
// gradient, batched dot products, and the SGD steps, each O(nnz) of the rows it
// reads. Nothing here is O(d) per row or per step except what an update rule with
// per-weight state needs (momentum, AdaGrad, Adam keep dense state and step every
// weight: O(k·d) a step). Plain SGD is lazy: L2 as the model's scale, the average
// as Bottou's lazy form, L1 on the weights a step touched (model.hpp, step.hpp).
#pragma once

#include <cstdint>
#include <vector>

#include "fastsgd/epoch.hpp"
#include "fastsgd/rows.hpp"

namespace fastsgd {
inline namespace FASTSGD_ISA {

// x·v over a sparse row, in four chains.
template <class T, class I>
FASTSGD_ALWAYS_INLINE double sparse_dot(const SparseRowRef<T, I>& x, const double* v) {
  double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
  index_t j = 0;
  for (; j + 4 <= x.n; j += 4) {
    a0 += v[x.idx[j]] * static_cast<double>(x.val[j]);
    a1 += v[x.idx[j + 1]] * static_cast<double>(x.val[j + 1]);
    a2 += v[x.idx[j + 2]] * static_cast<double>(x.val[j + 2]);
    a3 += v[x.idx[j + 3]] * static_cast<double>(x.val[j + 3]);
  }
  for (; j < x.n; ++j) a0 += v[x.idx[j]] * static_cast<double>(x.val[j]);
  return (a0 + a1) + (a2 + a3);
}

// v += c·x
template <class T, class I>
FASTSGD_ALWAYS_INLINE void sparse_axpy(double* v, double c, const SparseRowRef<T, I>& x) {
  for (index_t j = 0; j < x.n; ++j) v[x.idx[j]] += c * static_cast<double>(x.val[j]);
}

// v += c·x and av += c2·x (a plain step and the lazy average following it)
template <class T, class I>
FASTSGD_ALWAYS_INLINE void sparse_axpy2(double* v, double c, double* av, double c2,
                                        const SparseRowRef<T, I>& x) {
  for (index_t j = 0; j < x.n; ++j) {
    const double xv = static_cast<double>(x.val[j]);
    v[x.idx[j]] += c * xv;
    av[x.idx[j]] += c2 * xv;
  }
}

// --- whole-array kernels ------------------------------------------------------------------

// Adds rows [r0, r1) of the set to out = [Σ ℓ, Σ weight·ℓ, Σ dz (k), Σ dz xᵀ (k·d)];
// scratch holds 2k doubles.
template <class T, class I>
inline void csr_loss_rows(const CsrRows<T, I>& src, const RowSet& rows, index_t r0, index_t r1,
                          const Targets<T>& tg, const Params& p, const LossSpec& spec, double limit,
                          bool grad, double* out, double* scratch) {
  const index_t k = p.k, d = p.d;
  double* z = scratch;
  double* dz = scratch + k;
  double* gb = out + kOutGb;
  double* G = gb + k;
  visit_loss(spec, [&](const auto& L) {
    LossSums sums;
    for (index_t r = r0; r < r1; ++r) {
      const index_t id = rows.id(r);
      const auto x = row_ref(src, id);
      for (index_t c = 0; c < k; ++c)
        z[c] = p.scale * sparse_dot(x, p.W + c * d) + (p.b != nullptr ? p.b[c] : 0.0);
      loss_rows(L, tg, &id, 1, k, z, dz, 1, k, limit, sums);
      if (grad) {
        for (index_t c = 0; c < k; ++c) {
          gb[c] += dz[c];
          if (dz[c] != 0.0) sparse_axpy(G + c * d, dz[c], x);
        }
      }
    }
    out[kOutLoss] += sums.loss;
    out[kOutWeighted] += sums.weighted;
  });
}

template <class T, class I>
inline void source_predict_rows(const CsrRows<T, I>& src, const RowSet& rows, index_t r0,
                                index_t r1, const Params& p, T* out, index_t ldo) {
  for (index_t r = r0; r < r1; ++r) {
    const auto x = row_ref(src, rows.id(r));
    for (index_t c = 0; c < p.k; ++c) {
      const double bc = p.b != nullptr ? p.b[c] : 0.0;
      out[r * ldo + c] = static_cast<T>(p.scale * sparse_dot(x, p.W + c * p.d) + bc);
    }
  }
}

// The loss and gradient sums of CSR rows. The gradient is as long as W (k·d, large
// for hashed features), so the rows are not summed in one block per chunk as dense
// rows are: chunks of 256 rows go round-robin to at most kCsrLanes lanes, each
// summing its chunks in order into one block; the blocks are added in lane order.
// The lanes depend on the rows only, so the sums have the same bits for any thread
// count, and the memory is at most kCsrLanes blocks.
constexpr index_t kCsrLanes = 4;
constexpr index_t kCsrChunkRows = 256;

// The lanes of n rows, and the threads loss_grad_sums takes them on (requested:
// Workspace::threads).
inline index_t csr_lanes(index_t n) {
  const index_t nchunks = (n + kCsrChunkRows - 1) / kCsrChunkRows;
  return nchunks < kCsrLanes ? (nchunks > 0 ? nchunks : 1) : kCsrLanes;
}
template <class T, class I>
inline int sum_threads(const CsrRows<T, I>& src, index_t n, index_t k, int requested) {
  const index_t lanes = csr_lanes(n);
  if (lanes == 1) return 1;
  std::int64_t nnz = 0;
  if (n > 0) nnz = static_cast<std::int64_t>(src.indptr[src.n] - src.indptr[0]);
  const int threads = resolve_threads(requested, (nnz > 0 ? nnz : n) * k);
  return threads < lanes ? threads : static_cast<int>(lanes);
}

template <class T, class I>
void loss_grad_sums(const CsrRows<T, I>& src, const RowSet& rows, const Targets<T>& tg, Params p,
                    const LossSpec& spec, double limit, bool grad, double* out, Workspace& ws) {
  const index_t n = rows.size, k = p.k;
  const index_t psize = out_size(k, p.d, grad);
  const index_t nchunks = (n + kCsrChunkRows - 1) / kCsrChunkRows;
  const index_t lanes = csr_lanes(n);
  for (index_t j = 0; j < psize; ++j) out[j] = 0.0;
  if (lanes == 1) {
    ws.scratch.resize(static_cast<std::size_t>(2 * k));
    csr_loss_rows(src, rows, 0, n, tg, p, spec, limit, grad, out, ws.scratch.data());
    return;
  }
  ws.partial.assign(static_cast<std::size_t>(psize * lanes), 0.0);
  ws.scratch.resize(static_cast<std::size_t>(2 * k * lanes));
  parallel_chunks(lanes, sum_threads(src, n, k, ws.threads), [&](index_t lane, int) {
    double* o = ws.partial.data() + lane * psize;
    double* scr = ws.scratch.data() + lane * 2 * k;
    for (index_t c = lane; c < nchunks; c += lanes) {
      const index_t r0 = c * kCsrChunkRows;
      const index_t r1 = r0 + kCsrChunkRows < n ? r0 + kCsrChunkRows : n;
      csr_loss_rows(src, rows, r0, r1, tg, p, spec, limit, grad, o, scr);
    }
  });
  for (index_t lane = 0; lane < lanes; ++lane) {
    const double* o = ws.partial.data() + lane * psize;
    for (index_t j = 0; j < psize; ++j) out[j] += o[j];
  }
}

// --- epochs -------------------------------------------------------------------------------

// Ask for the cache lines of the given rows (their values and columns, up to 1 KiB of
// each: a shuffled row is a short run the hardware prefetcher has no time to follow) and
// their targets.
template <class T, class I>
FASTSGD_ALWAYS_INLINE void prefetch_rows(const CsrRows<T, I>& src, const Targets<T>& tg,
                                         const index_t* rows, index_t m) {
#if defined(__GNUC__) || defined(__clang__)
  constexpr index_t kMaxBytes = 1024;
  for (index_t i = 0; i < m; ++i) {
    const I b = src.indptr[rows[i]], e = src.indptr[rows[i] + 1];
    const char* data = reinterpret_cast<const char*>(src.data + b);
    const char* cols = reinterpret_cast<const char*>(src.indices + b);
    const index_t nnz = static_cast<index_t>(e - b);
    const index_t dbytes = imin(nnz * static_cast<index_t>(sizeof(T)), kMaxBytes);
    const index_t cbytes = imin(nnz * static_cast<index_t>(sizeof(I)), kMaxBytes);
    // into L2 (prefetcht1), as dense rows (epoch.hpp): 500k x 100k CSR rows of 40 values,
    // float64, one thread: fastsgd.fit batch 64 took 0.91 of the time with every line into
    // L2 against the first line into L1, the drop-in's per-row fit 1.00
    prefetch_l2(data, dbytes);
    prefetch_l2(cols, cbytes);
    if (tg.Y != nullptr) __builtin_prefetch(tg.Y + rows[i] * tg.ldy, 0, 3);
    if (tg.labels != nullptr) __builtin_prefetch(tg.labels + rows[i], 0, 3);
    if (tg.sample_weight != nullptr) __builtin_prefetch(tg.sample_weight + rows[i], 0, 3);
  }
#else
  (void)src, (void)tg, (void)rows, (void)m;
#endif
}

// The gradient sums of a batch's CSR rows (any rule but plain SGD: dense G).
template <class T, class I>
void batch_sums(const CsrRows<T, I>& src, const Targets<T>& tg, const Params& p,
                const EpochSpec& spec, const index_t* ids, index_t m, TrainWorkspace& ws,
                double* out) {
  loss_grad_sums(src, RowSet{ids, 0, m}, tg, p, spec.loss, spec.clip, true, out, ws.kernel);
}

// Plain SGD on a batch of m sparse rows: the rows' scores from the weights before the
// step, their derivatives, then the step of step.hpp on the weights the rows touch
// (W ← W − lr·Σ dz x / m, the lazy average following, L1 on the touched weights).
// scikit-learn's norms (its objective) are those of the touched weights, as its
// sparse path keeps them.
template <class L, class T, class I>
struct SparsePlainStep {
  static constexpr bool has_pieces = false;
  static constexpr bool sums_objective = false;
  static constexpr bool reads_labels = false;
  static bool threaded(index_t) { return false; }
  const CsrRows<T, I>& src;
  const Targets<T>& tg;
  Model& M;
  const EpochSpec& spec;
  const L& loss;
  TrainWorkspace& ws;
  std::vector<std::uint32_t>& stamp;  // per weight: the last step that touched it
  std::vector<index_t>& touched;
  std::uint32_t step_id = 0;

  LossSums operator()(const RowSet& rows, index_t m, double lr) {
    const index_t k = M.k, d = M.d;
    ws.out.resize(static_cast<std::size_t>(2 * m * k));
    ws.ids.resize(static_cast<std::size_t>(m));
    double* z = ws.out.data();  // z[r·k + c]
    double* dz = z + m * k;
    index_t* ids = ws.ids.data();
    double* V = M.V.data();
    for (index_t r = 0; r < m; ++r) {
      ids[r] = rows.id(r);
      const auto x = row_ref(src, ids[r]);
      for (index_t c = 0; c < k; ++c)
        z[r * k + c] = M.scale * sparse_dot(x, V + c * d) +
                       (M.intercept ? M.b[static_cast<std::size_t>(c)] : 0.0);
    }
    LossSums sums;
    loss_rows(loss, tg, ids, static_cast<int>(m), k, z, dz, 1, k, spec.clip, sums);
    bool moved = m > 1;
    for (index_t c = 0; c < k && !moved; ++c) moved = dz[c] != 0.0;

    const StepSpec& st = spec.step;
    const double l2 = st.penalty.l2, l1 = st.penalty.l1;
    const bool avg = M.averaging() && M.t >= M.average_start;
    const bool need_touched = l1 > 0.0 || st.track_norms;
    if (l1 > 0.0) model_ensure_state(M, 0, true);
    if (l2 > 0.0) {
      const double c = 1.0 - lr * l2;
      model_shrink(M, c > 0.0 ? c : 0.0);
    }
    if (need_touched) collect_touched(m, ids);
    if (moved) {
      const double base = -lr / (static_cast<double>(m) * M.scale);
      double* AV = M.AV.data();
      const double a = M.avg_a;
      for (index_t r = 0; r < m; ++r) {
        const auto x = row_ref(src, ids[r]);
        for (index_t c = 0; c < k; ++c) {
          const double coef = base * dz[r * k + c];
          if (coef == 0.0) continue;
          if (avg)
            sparse_axpy2(V + c * d, coef, AV + c * d, -a * coef, x);
          else
            sparse_axpy(V + c * d, coef, x);
        }
      }
      if (st.track_norms) {
        double sq = 0.0, a1 = 0.0;
        for (const index_t j : touched) {
          sq += V[j] * V[j];
          a1 += std::fabs(V[j]);
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
      for (const index_t j : touched) l1_truncate(M, j, j + 1);
    }
    M.t += 1.0;
    return sums;
  }

  // The weights (c·d + column) the batch's rows touch, each once.
  void collect_touched(index_t m, const index_t* ids) {
    touched.clear();
    if (++step_id == 0) {  // the stamps wrapped around: start them afresh
      std::fill(stamp.begin(), stamp.end(), 0u);
      step_id = 1;
    }
    for (index_t r = 0; r < m; ++r) {
      const auto x = row_ref(src, ids[r]);
      for (index_t c = 0; c < M.k; ++c) {
        for (index_t j = 0; j < x.n; ++j) {
          const index_t w = c * M.d + x.col(j);
          if (stamp[static_cast<std::size_t>(w)] != step_id) {
            stamp[static_cast<std::size_t>(w)] = step_id;
            touched.push_back(w);
          }
        }
      }
    }
  }
};

// One epoch over CSR rows (targets tg), updating the model M: plain SGD lazily in
// O(nnz) a step, other rules with their dense state.
template <class T, class I>
EpochStats train_epoch(const CsrRows<T, I>& src, const Targets<T>& tg, Model& M,
                       const EpochSpec& spec, TrainWorkspace& ws) {
  const index_t active = active_rows(spec, src.n);
  const index_t B = spec.batch_size > 0 && spec.batch_size < active ? spec.batch_size : active;
  if (update_is_lazy(spec.step.update)) {
    std::vector<std::uint32_t> stamp;
    std::vector<index_t> touched;
    if (spec.step.penalty.l1 > 0.0 || spec.step.track_norms)
      stamp.assign(static_cast<std::size_t>(M.k * M.d), 0u);
    return visit_loss(spec.loss, [&](const auto& loss) {
      SparsePlainStep<std::decay_t<decltype(loss)>, T, I> step{src,  tg, M,     spec,
                                                               loss, ws, stamp, touched};
      return epoch_loop(src, tg, M, spec, ws, active, B, step);
    });
  }
  GradientStep<CsrRows<T, I>> step{src, tg, M, spec, ws};
  return epoch_loop(src, tg, M, spec, ws, active, B, step);
}

}  // namespace FASTSGD_ISA
}  // namespace fastsgd
