// A second thread that reads the rows a shuffled epoch is about to visit, ahead of
// it. A shuffled row is a cache miss of its own; one core keeps only so many misses
// in flight, and an epoch over data larger than the caches waits on them. The
// helper draws the same rows in the same order as the epoch and reads their cache
// lines (and their targets') some hundreds of rows ahead of it, so that the epoch
// finds them in the caches the cores share. It changes nothing the epoch computes:
// the epoch reads the same memory with or without it.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "fastsgd/base.hpp"
#include "fastsgd/data.hpp"
#include "fastsgd/parallel.hpp"

namespace fastsgd {

// The helper reads the rows from kTouchLeadMin to kTouchLeadMax positions ahead of the
// epoch's (closer ones the epoch's own prefetches ask for). The epoch reports its
// position every kTouchReportEvery rows (a store to a line the helper reads: rare,
// not a step's cost). Measured on a 2-core Zen 4 VM, 1M shuffled rows read and summed
// (2 float32, 20 float64, 100 float32 features): 0.6-0.8 of the time without the
// helper with this window (once, 1.07, on a noisy host), where two threads each
// reading half of the rows took 0.5-0.7. Fits: the lesson's (1M x 2 float32, batches
// of 64) 0.60-0.89; the drop-in's per-row epochs (1M x 20 float64) 0.69-0.86.
constexpr index_t kTouchLeadMin = 512;
constexpr index_t kTouchLeadMax = 2048;
constexpr index_t kTouchReportEvery = 256;
constexpr index_t kTouchDraw = 64;  // rows the helper draws at a time

// Whether an epoch of `rows` shuffled rows of about `row_bytes` bytes each takes the
// helper (its steps running on one thread; the caller checks): more than one thread
// allowed (requested > 0, or num_threads()), and rows whose cache lines are worth a
// thread (parallel_min_work, at 16 element operations a line), never in a forked child.
inline bool use_row_toucher(int requested, index_t rows, index_t row_bytes) {
  if (rows < 4 * kTouchLeadMax) return false;
  const index_t lines = rows * (row_bytes / 64 + 2);  // the row's and its target's
  return resolve_threads(requested, lines * 16) > 1;
}

// The cache lines of row id of X and of its targets, read; returns a sum of the bytes
// read, so that the reads are not removed.
template <class T>
inline std::uint64_t touch_row(const DenseRows<T>& src, index_t id) {
  const auto* x = reinterpret_cast<const unsigned char*>(src.row(id));
  const index_t bytes = src.d * static_cast<index_t>(sizeof(T));
  std::uint64_t s = 0;
  for (index_t off = 0; off < bytes; off += 64) s += x[off];
  if (bytes > 0) s += x[bytes - 1];  // rows are not aligned to lines
  return s;
}
template <class T, class I>
inline std::uint64_t touch_row(const CsrRows<T, I>& src, index_t id) {
  const I lo = src.indptr[id], hi = src.indptr[id + 1];
  const auto* v = reinterpret_cast<const unsigned char*>(src.data + lo);
  const auto* c = reinterpret_cast<const unsigned char*>(src.indices + lo);
  const index_t vb = static_cast<index_t>(hi - lo) * static_cast<index_t>(sizeof(T));
  const index_t cb = static_cast<index_t>(hi - lo) * static_cast<index_t>(sizeof(I));
  std::uint64_t s = 0;
  for (index_t off = 0; off < vb; off += 64) s += v[off];
  for (index_t off = 0; off < cb; off += 64) s += c[off];
  if (vb > 0) s += v[vb - 1] + c[cb - 1];
  return s;
}
template <class T>
inline std::uint64_t touch_targets(const Targets<T>& tg, index_t id) {
  std::uint64_t s = 0;
  if (tg.Y != nullptr) s += reinterpret_cast<const unsigned char*>(tg.Y + id * tg.ldy)[0];
  if (tg.positive_mask != nullptr)
    s += tg.positive_mask[id];
  else if (tg.labels != nullptr)
    s += static_cast<std::uint64_t>(tg.labels[id]);
  if (tg.sample_weight != nullptr)
    s += reinterpret_cast<const unsigned char*>(tg.sample_weight + id)[0];
  return s;
}

// About how many bytes of X a row holds.
template <class T>
inline index_t row_bytes_of(const DenseRows<T>& src) {
  return src.d * static_cast<index_t>(sizeof(T));
}
template <class T, class I>
inline index_t row_bytes_of(const CsrRows<T, I>& src) {
  if (src.n <= 0) return 0;
  const index_t nnz = static_cast<index_t>(src.indptr[src.n] - src.indptr[0]);
  return nnz / src.n * static_cast<index_t>(sizeof(T) + sizeof(I));
}

// The rows of a list (an epoch's explicit order), in its order: a draw for RowToucher.
struct ListedRows {
  const index_t* rows;
  index_t size;
  index_t next = 0;
  index_t operator()(index_t m, index_t* dst) {
    const index_t got = m < size - next ? m : size - next;
    for (index_t i = 0; i < got; ++i) dst[i] = rows[next + i];
    next += got;
    return got;
  }
};

// The helper thread of one epoch over the rows of src (targets tg). start() launches it
// (if a thread cannot be made, the epoch runs without one); the destructor stops and
// joins it, so whatever it reads outlives it. draw(m, dst) writes the epoch's next rows
// (at most m; 0 at the end), in the epoch's order.
class RowToucher {
 public:
  RowToucher() = default;
  RowToucher(const RowToucher&) = delete;
  RowToucher& operator=(const RowToucher&) = delete;
  ~RowToucher() {
    stop_.store(true, std::memory_order_relaxed);
    if (thread_.joinable()) thread_.join();
  }

  template <class Src, class Draw>
  void start(const Src& src, const Targets<typename Src::value_type>& tg, Draw draw) {
    try {
      thread_ = std::thread([this, &src, &tg, draw]() mutable {
        run(draw, [&](index_t id) { return touch_row(src, id) + touch_targets(tg, id); });
      });
    } catch (...) {  // std::system_error: no thread, no helper
    }
  }
  bool running() const { return thread_.joinable(); }

  // The epoch has finished its first pos rows.
  void report(index_t pos) {
    if (pos - reported_ >= kTouchReportEvery) {
      reported_ = pos;
      pos_.store(pos, std::memory_order_relaxed);
    }
  }

 private:
  template <class Draw, class Touch>
  void run(Draw& draw, Touch touch) noexcept {
    try {
      index_t ids[kTouchDraw];
      index_t drawn = 0;  // rows drawn so far: the helper's position
      std::uint64_t sum = 0;
      int idle = 0;
      while (!stop_.load(std::memory_order_relaxed)) {
        const index_t pos = pos_.load(std::memory_order_relaxed);
        if (drawn >= pos + kTouchLeadMax) {  // far enough ahead: wait for the epoch
          if (++idle < 64) {
            for (int i = 0; i < 16; ++i) cpu_relax();
          } else {
            std::this_thread::yield();  // the epoch is slow (or descheduled): give the core up
          }
          continue;
        }
        idle = 0;
        const index_t got = draw(kTouchDraw, ids);
        if (got <= 0) break;
        // rows within kTouchLeadMin of the epoch are its own prefetches' (a helper that
        // fell behind skips them)
        for (index_t i = 0; i < got; ++i)
          if (drawn + i >= pos + kTouchLeadMin) sum += touch(ids[i]);
        drawn += got;
      }
      sink_.store(sum, std::memory_order_relaxed);
    } catch (...) {  // a failed draw (allocation) ends the helper, not the epoch
    }
  }
  static void cpu_relax() {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_ia32_pause();
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
    asm volatile("yield");
#endif
  }

  std::thread thread_;
  index_t reported_ = 0;
  alignas(64) std::atomic<index_t> pos_{0};
  alignas(64) std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> sink_{0};
};

}  // namespace fastsgd
