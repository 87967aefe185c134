// Threads: how many the kernels use, and the driver that runs fixed-size row
// chunks on them. Each chunk's partial sums are kept apart and added in chunk
// order, so a result has the same bits for any number of threads.
#pragma once

#include <climits>
#include <cstdint>
#include <vector>

#include "fastsgd/base.hpp"

#if defined(FASTSGD_HAVE_OPENMP)
#include <omp.h>
#endif

namespace fastsgd {

// Threads used by the kernels: fastsgd's own count, from OMP_NUM_THREADS or the
// processors available when the module loads, changed by set_num_threads(n > 0)
// (0: back to that default). omp_set_num_threads from other code does not
// change it.
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

// Rows per chunk: about 256 Ki elements of X, a multiple of 16 rows. Depends
// on the shape only, never on the thread count.
static inline index_t chunk_rows(index_t d) {
  const index_t target = index_t{1} << 18;
  index_t r = (target / (d > 0 ? d : 1) + 15) / 16 * 16;
  return r < 64 ? 64 : r;
}

// The sums of f over the row chunks of [0, n): f(r0, r1, out, scratch) adds the
// sums of rows [r0, r1) to out (psize doubles, zeroed first). Chunks run on
// `threads` threads (1: a plain loop), each into its own block of `partial`;
// the blocks are added in chunk order into out. scratch: per-thread buffers of
// scratch_size doubles.
template <class F>
void reduce_chunks(index_t n, index_t rows_per_chunk, int threads, index_t psize,
                   index_t scratch_size, std::vector<double>& partial, std::vector<double>& scratch,
                   double* out, F&& f) {
  for (index_t j = 0; j < psize; ++j) out[j] = 0.0;
  if (n <= 0) return;
  const index_t nchunks = (n + rows_per_chunk - 1) / rows_per_chunk;
  if (nchunks == 1 || threads <= 1) {
    scratch.resize(static_cast<std::size_t>(scratch_size > 0 ? scratch_size : 1));
    // one buffer, chunks in order: the same sums as the threaded path
    if (nchunks == 1) {
      f(index_t{0}, n, out, scratch.data());
      return;
    }
  }
  // Partial blocks a whole number of cache lines apart, never a multiple of
  // 4 KiB (which makes the threads' buffers alias in the L1 cache).
  index_t stride = (psize + 7) / 8 * 8;
  if ((stride * 8) % 4096 == 0) stride += 8;
  partial.assign(static_cast<std::size_t>(stride * nchunks), 0.0);
  const int nthreads = threads > 1 ? threads : 1;
  scratch.resize(static_cast<std::size_t>((scratch_size > 0 ? scratch_size : 1) * nthreads));
  double* part = partial.data();
  double* scr = scratch.data();
  parallel_chunks(nchunks, nthreads, [&](index_t c, int tid) {
    const index_t r0 = c * rows_per_chunk;
    const index_t r1 = r0 + rows_per_chunk < n ? r0 + rows_per_chunk : n;
    f(r0, r1, part + c * stride, scr + tid * scratch_size);
  });
  for (index_t c = 0; c < nchunks; ++c) {  // fixed order: chunk 0, 1, 2, ...
    const double* src = part + c * stride;
    for (index_t j = 0; j < psize; ++j) out[j] += src[j];
  }
}

}  // namespace fastsgd
