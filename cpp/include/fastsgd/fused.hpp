// Whole-array kernels over any data source, on fixed-size row chunks run in
// parallel and summed in chunk order (parallel.hpp): the fused loss and
// gradient, and the batched dot products. Compiled per instruction set; the
// table in isa_table.hpp exposes them and the epoch loop (epoch.hpp) calls them.
#pragma once

#include <vector>

#include "fastsgd/dense_rows.hpp"
#include "fastsgd/parallel.hpp"

namespace fastsgd {

// Buffers reused across calls (a training loop keeps one).
struct Workspace {
  int threads = 0;  // > 0: use this many threads instead of num_threads()
  std::vector<double> partial;
  std::vector<double> scratch;
  std::vector<float> wf;
};

inline namespace FASTSGD_ISA {

// The rows of one chunk (see dense_rows.hpp for the sums).
template <class T>
inline void source_loss_rows(const DenseRows<T>& src, const RowSet& rows, index_t r0, index_t r1,
                             const Targets<T>& tg, const Params& p, const LossSpec& spec,
                             double limit, bool grad, double* out, double* scratch) {
  dense_loss_rows(src, rows, r0, r1, tg, p, spec, limit, grad, out, scratch);
}
template <class T>
inline void source_predict_rows(const DenseRows<T>& src, const RowSet& rows, index_t r0, index_t r1,
                                const Params& p, T* out, index_t ldo) {
  dense_predict_rows(src, rows, r0, r1, p, out, ldo);
}
template <class T>
inline index_t source_chunk_rows(const DenseRows<T>& src) {
  return chunk_rows(src.d);
}

// Rounds W to float32 for float32 data, into ws.wf (the float kernels multiply
// float32 rows by float32 weights, summing in double).
template <class T>
inline void set_float_weights(Params& p, Workspace& ws) {
  if constexpr (sizeof(T) == 4) {
    ws.wf.resize(static_cast<std::size_t>(p.k * p.d));
    for (index_t j = 0; j < p.k * p.d; ++j)
      ws.wf[static_cast<std::size_t>(j)] = static_cast<float>(p.W[j]);
    p.Wf = ws.wf.data();
  }
}

// The threads loss_grad_sums takes n rows of src on (requested: Workspace::threads):
// one for a single chunk of rows.
template <class T>
inline int sum_threads(const DenseRows<T>& src, index_t n, index_t k, int requested) {
  const index_t per_chunk = source_chunk_rows(src), d = src.d;
  if ((n + per_chunk - 1) / per_chunk <= 1) return 1;
  return resolve_threads(requested, n * (d > 0 ? d : 1) * k);
}

// out = [Σ ℓ, Σ weight·ℓ, Σ dz (k), Σ dz xᵀ (k·d)] over the rows of the set
// (the gradient parts with grad only); see dense_rows.hpp.
template <class Src>
void loss_grad_sums(const Src& src, const RowSet& rows, const Targets<typename Src::value_type>& tg,
                    Params p, const LossSpec& spec, double limit, bool grad, double* out,
                    Workspace& ws) {
  using T = typename Src::value_type;
  const index_t n = rows.size, k = p.k, d = p.d;
  if (n > 0 && d > 4 && n >= 16) set_float_weights<T>(p, ws);
  const index_t per_chunk = source_chunk_rows(src);
  const int threads = sum_threads(src, n, k, ws.threads);
  const index_t psize = out_size(k, d, grad);
  reduce_chunks(n, per_chunk, threads, psize, fused_scratch(k, d), ws.partial, ws.scratch, out,
                [&](index_t r0, index_t r1, double* o, double* scratch) {
                  source_loss_rows(src, rows, r0, r1, tg, p, spec, limit, grad, o, scratch);
                });
}

// out[r, c] = scale·(W x_r)[c] + b[c] for the rows of the set, rows in parallel.
template <class Src>
void predict(const Src& src, const RowSet& rows, const Params& p, typename Src::value_type* out,
             index_t ldo, int threads) {
  const index_t n = rows.size;
  const index_t per_chunk = chunk_rows(p.d * p.k);
  const index_t nchunks = (n + per_chunk - 1) / per_chunk;
  if (nchunks <= 1) {
    if (n > 0) source_predict_rows(src, rows, 0, n, p, out, ldo);
    return;
  }
  parallel_chunks(nchunks, resolve_threads(threads, n * p.d * p.k), [&](index_t c, int) {
    const index_t r0 = c * per_chunk;
    const index_t r1 = r0 + per_chunk < n ? r0 + per_chunk : n;
    source_predict_rows(src, rows, r0, r1, p, out, ldo);
  });
}

}  // namespace FASTSGD_ISA
}  // namespace fastsgd
