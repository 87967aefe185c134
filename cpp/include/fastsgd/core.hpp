// The core's entry points: whole-array kernels built from the per-ISA row
// kernels, run over fixed-size row chunks with OpenMP. Each chunk's partial
// sums are kept apart and added in chunk order, so the result has the same
// bits for any number of threads.
#pragma once

#include <climits>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fastsgd/kernels_table.hpp"
#include "fastsgd/view.hpp"

#if defined(FASTSGD_HAVE_OPENMP)
#include <omp.h>
#endif

namespace fastsgd {

// Picked once from the CPU (or FASTSGD_ISA=baseline|avx2|avx512); see dispatch.cpp.
const IsaKernels& active_kernels();
const char* active_isa();
bool set_isa(const char* name);  // false if unknown or unsupported here
// Threads used by the kernels: set_num_threads(n > 0), or 0 to follow OpenMP's
// own setting (OMP_NUM_THREADS, threadpoolctl).
// A process forked after the kernels ran threads (multiprocessing's "fork")
// cannot use libgomp's thread pool; there num_threads() is 1 and no kernel
// enters an OpenMP region.
int num_threads();
void set_num_threads(int n);
bool in_forked_child();

// The threads for one call of `work` element operations: `requested` (> 0)
// or num_threads(); 1 in a forked child, and 1 for calls too small to repay
// waking a thread team (whose threads then spin for milliseconds, taking a
// core from the caller on a busy machine). Results do not depend on it.
// The threshold is 2^22 by default (FASTSGD_PARALLEL_MIN_WORK or
// set_parallel_min_work change it; the tests set 0 to exercise the threads).
std::int64_t parallel_min_work();
void set_parallel_min_work(std::int64_t work);
static inline int resolve_threads(int requested, std::int64_t work = INT64_MAX) {
  if (in_forked_child() || work < parallel_min_work()) return 1;
  return requested > 0 ? requested : num_threads();
}

// f(c, thread) for every chunk c in [0, n), on `threads` OpenMP threads taking
// chunks in turn; with one thread a plain loop that never enters OpenMP.
template <class F>
void parallel_chunks(index_t n, int threads, F&& f) {
#if defined(FASTSGD_HAVE_OPENMP)
  if (threads > 1 && n > 1) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (index_t c = 0; c < n; ++c) f(c, omp_get_thread_num());
    return;
  }
#endif
  for (index_t c = 0; c < n; ++c) f(c, 0);
}

static inline GradRowsFn<float> grad_fn(const IsaKernels& t, const float*) { return t.grad_f32; }
static inline GradRowsFn<double> grad_fn(const IsaKernels& t, const double*) { return t.grad_f64; }
static inline PredictRowsFn<float> predict_fn(const IsaKernels& t, const float*) {
  return t.predict_f32;
}
static inline PredictRowsFn<double> predict_fn(const IsaKernels& t, const double*) {
  return t.predict_f64;
}

// Rows per chunk: about 256 Ki elements of X, a multiple of 16 rows. Depends
// on the shape only, never on the thread count.
static inline index_t chunk_rows(index_t d) {
  const index_t target = index_t{1} << 18;
  index_t r = (target / (d > 0 ? d : 1) + 15) / 16 * 16;
  return r < 64 ? 64 : r;
}

// Buffers reused across calls (the training loop keeps one).
struct Workspace {
  int threads = 0;  // > 0: use this many threads instead of num_threads()
  std::vector<double> partial;
  std::vector<double> scratch;
  std::vector<float> wf;
};

// Mean loss over rows [0, n) of p; with G != nullptr also the mean gradient
// with respect to Wt (k·d, row-major) and, with gb != nullptr, b (k).
//   mse:      loss = Σ r² / (n·k)     G = 2/(n·k) Σ r xᵀ   gb = 2/(n·k) Σ r
//   softmax:  loss = Σ −log p_y / n   G = 1/n Σ (p − onehot) xᵀ
//   logistic: loss = Σ softplus / n   G = 1/n Σ (σ − t) x
template <class T>
double loss_grad(const Problem<T>& problem, index_t n, Loss loss, double* G, double* gb,
                 Workspace& ws) {
  const IsaKernels& kt = active_kernels();
  const GradRowsFn<T> fn = grad_fn(kt, problem.X);
  const index_t d = problem.d, k = problem.k;
  Problem<T> p = problem;
  if constexpr (sizeof(T) == 4) {  // float32 data multiplies by float32 weights
    ws.wf.resize(static_cast<std::size_t>(k * d));
    for (index_t j = 0; j < k * d; ++j)
      ws.wf[static_cast<std::size_t>(j)] = static_cast<float>(p.Wt[j]);
    p.Wf = ws.wf.data();
  }
  const bool want_grad = G != nullptr;
  const index_t psize = want_grad ? 1 + k + k * d : 1;
  // Partial blocks a whole number of cache lines apart, never a multiple of
  // 4 KiB (which makes the threads' buffers alias in the L1 cache).
  index_t stride = (psize + 7) / 8 * 8;
  if ((stride * 8) % 4096 == 0) stride += 8;
  const index_t rows_per_chunk = chunk_rows(d);
  const index_t nchunks = n > 0 ? (n + rows_per_chunk - 1) / rows_per_chunk : 0;
  const int nthreads = nchunks > 1 ? resolve_threads(ws.threads, n * d * k) : 1;
  const index_t scratch_per_thread = 16 * k + 8;  // 2·R·k for blocks of up to R = 8 rows
  ws.scratch.resize(static_cast<std::size_t>(scratch_per_thread * nthreads));
  ws.partial.assign(static_cast<std::size_t>(stride * (nchunks > 0 ? nchunks : 1)), 0.0);
  double* part = ws.partial.data();
  double* scratch = ws.scratch.data();

  if (nchunks <= 1) {
    if (n > 0) fn(p, loss, 0, n, want_grad, part, scratch);
  } else {
    parallel_chunks(nchunks, nthreads, [&](index_t c, int tid) {
      const index_t r0 = c * rows_per_chunk;
      const index_t r1 = r0 + rows_per_chunk < n ? r0 + rows_per_chunk : n;
      fn(p, loss, r0, r1, want_grad, part + c * stride, scratch + tid * scratch_per_thread);
    });
    // Fixed order: chunk 0, 1, 2, ...
    for (index_t c = 1; c < nchunks; ++c) {
      const double* src = part + c * stride;
      for (index_t j = 0; j < psize; ++j) part[j] += src[j];
    }
  }
  const double count = static_cast<double>(n) * (loss == Loss::mse ? static_cast<double>(k) : 1.0);
  const double lscale = n > 0 ? 1.0 / count : 0.0;
  const double gscale = (loss == Loss::mse ? 2.0 : 1.0) * lscale;
  if (want_grad) {
    for (index_t j = 0; j < k * d; ++j) G[j] = part[1 + k + j] * gscale;
    if (gb != nullptr)
      for (index_t c = 0; c < k; ++c) gb[c] = part[1 + c] * gscale;
  }
  return part[0] * lscale;
}

template <class T>
double loss_grad(const Problem<T>& p, index_t n, Loss loss, double* G, double* gb,
                 int threads = 0) {
  Workspace ws;
  ws.threads = threads;
  return loss_grad(p, n, loss, G, gb, ws);
}

// out[i, c] = Σ_j X[i, j] Wt[c, j] + b[c], rows in parallel.
template <class T>
void predict(const Problem<T>& p, index_t n, T* out, index_t ldo, int threads = 0) {
  const PredictRowsFn<T> fn = predict_fn(active_kernels(), p.X);
  const index_t rows_per_chunk = chunk_rows(p.d * p.k);
  const index_t nchunks = (n + rows_per_chunk - 1) / rows_per_chunk;
  if (nchunks <= 1) {
    if (n > 0) fn(p, 0, n, out, ldo);
    return;
  }
  parallel_chunks(nchunks, resolve_threads(threads, n * p.d * p.k), [&](index_t c, int) {
    const index_t r0 = c * rows_per_chunk;
    const index_t r1 = r0 + rows_per_chunk < n ? r0 + rows_per_chunk : n;
    fn(p, r0, r1, out, ldo);
  });
}

// The first row of the (rows, cols) matrix at X (row stride ld) that holds a
// NaN or an infinity, or -1. One read of X in parallel chunks; x − x is 0 for
// finite x and NaN otherwise, so a chunk is finite iff its sum of x − x is 0.
template <class T>
index_t first_nonfinite_row(const T* X, index_t rows, index_t cols, index_t ld, int threads = 0) {
  if (rows <= 0 || cols <= 0) return -1;
  const index_t per_chunk = chunk_rows(cols);
  const index_t nchunks = (rows + per_chunk - 1) / per_chunk;
  std::vector<unsigned char> bad(static_cast<std::size_t>(nchunks), 0);
  parallel_chunks(nchunks, resolve_threads(threads, rows * cols), [&](index_t c, int) {
    const index_t r1 = (c + 1) * per_chunk < rows ? (c + 1) * per_chunk : rows;
    T acc = 0;
    if (ld == cols) {  // contiguous rows: one flat run
      const T* x = X + c * per_chunk * ld;
      const index_t m = (r1 - c * per_chunk) * cols;
#if defined(FASTSGD_HAVE_OPENMP)
#pragma omp simd reduction(+ : acc)
#endif
      for (index_t j = 0; j < m; ++j) acc += x[j] - x[j];
    } else {
      for (index_t i = c * per_chunk; i < r1; ++i) {
        const T* x = X + i * ld;
#if defined(FASTSGD_HAVE_OPENMP)
#pragma omp simd reduction(+ : acc)
#endif
        for (index_t j = 0; j < cols; ++j) acc += x[j] - x[j];
      }
    }
    bad[static_cast<std::size_t>(c)] = acc != acc;  // NaN
  });
  for (index_t c = 0; c < nchunks; ++c) {
    if (!bad[static_cast<std::size_t>(c)]) continue;
    const index_t r1 = (c + 1) * per_chunk < rows ? (c + 1) * per_chunk : rows;
    for (index_t i = c * per_chunk; i < r1; ++i)
      for (index_t j = 0; j < cols; ++j) {
        const T v = X[i * ld + j];
        if (v - v != 0 || v != v) return i;
      }
  }
  return -1;
}

// Σ of a contiguous array, read once in fixed-size chunks (threads in parallel).
template <class T>
double stream_sum(const T* x, index_t n, int threads = 0) {
  const IsaKernels& kt = active_kernels();
  double (*fn)(const T*, index_t) = nullptr;
  if constexpr (sizeof(T) == 4)
    fn = kt.sum_f32;
  else
    fn = kt.sum_f64;
  const index_t chunk = index_t{1} << 18;
  const index_t nchunks = (n + chunk - 1) / chunk;
  if (nchunks <= 1) return n > 0 ? fn(x, n) : 0.0;
  std::vector<double> part(static_cast<std::size_t>(nchunks));
  parallel_chunks(nchunks, resolve_threads(threads, n), [&](index_t c, int) {
    const index_t r0 = c * chunk;
    part[static_cast<std::size_t>(c)] = fn(x + r0, (r0 + chunk < n ? r0 + chunk : n) - r0);
  });
  double s = 0.0;
  for (double v : part) s += v;
  return s;
}

}  // namespace fastsgd
