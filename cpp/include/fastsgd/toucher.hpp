// A second thread that reads the rows a shuffled epoch is about to visit, ahead of
// it. A shuffled row is a cache miss of its own; one core keeps only so many misses
// in flight, and an epoch over data larger than the caches waits on them. The
// helper draws the same rows in the same order as the epoch and reads their cache
// lines (and their targets') some hundreds of rows ahead of it, so that the epoch
// finds them in the caches the cores share. It changes nothing the epoch computes:
// the epoch reads the same memory with or without it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "fastsgd/base.hpp"
#include "fastsgd/data.hpp"
#include "fastsgd/parallel.hpp"

#if defined(_MSC_VER)
#include <intrin.h>
#endif

namespace fastsgd {

// Whether the helper pays, judged on the epochs of one trainer (TrainWorkspace).
// Two threads are not always two cores' worth: on a shared machine (a VM's second
// vCPU busy with another guest) the helper's reads slowed the epoch instead (the
// lesson's fit took 1.1-1.2x its one-thread time in such minutes, 0.6-0.9x in
// others). So the first four epochs that may take it alternate with, without,
// without, with (a trend over the epochs, such as fewer updates as a fit converges,
// weighs on both alike); later ones follow the faster of the two (moving averages of
// their time a row), and every 8th tries the other, as conditions change. Either way
// the epoch computes the same bits. Plain data: the logic is in the ISA's namespace.
struct HelperRecord {
  double s_per_row[2] = {0.0, 0.0};  // without, with
  std::int64_t epochs = 0;
};

inline namespace FASTSGD_ISA {

// The helper reads the rows from lead_min to lead_max positions ahead of the epoch's:
// at most kTouchLeadMax rows and about kTouchWindowBytes of their lines, lead_min a
// quarter of lead_max. The epoch reports its position every kTouchReportEvery rows (a
// store to a line the helper reads: rare, not a step's cost). Measured on a 2-core
// Zen 4 VM, 1M shuffled rows read and summed (2 float32, 20 float64, 100 float32
// features): 0.6-0.8 of the time without the helper with a window of 512-2048 rows
// (once 1.07, on a noisy host), where two threads each reading half of the rows took
// 0.5-0.7. Fits: the lesson's (1M x 2 float32, batches of 64) 0.60-0.89 of the
// one-thread time in quiet minutes; the drop-in's per-row epochs (1M x 20 float64)
// 0.69-0.86.
constexpr index_t kTouchLeadMax = 2048;
constexpr index_t kTouchWindowBytes = index_t{2} << 20;
constexpr index_t kTouchReportEvery = 256;
constexpr index_t kTouchDraw = 64;  // rows the helper draws at a time

// The bytes of cache lines a row brings: its own and its target's.
inline index_t touched_bytes(index_t row_bytes) { return (row_bytes / 64 + 2) * 64; }

// The helper's window's far end, in rows.
inline index_t touch_lead(index_t row_bytes) {
  const index_t rows = kTouchWindowBytes / touched_bytes(row_bytes);
  return rows > kTouchLeadMax ? kTouchLeadMax : (rows < 16 ? 16 : rows);
}

// Whether an epoch of `rows` shuffled rows of about `row_bytes` bytes each, in batches
// of `batch` rows, may take the helper (its steps running on one thread: the caller
// checks): more than one thread allowed (requested > 0, or num_threads()), batches
// no longer than the window's near end (the epoch reports its position once a batch),
// at least four windows of rows, and rows whose lines pass the threads' threshold
// (parallel_min_work, at 16 element operations a 64-byte line: 16 MiB of lines by
// default, more than the caches of most machines hold); never in a forked child.
inline bool use_row_toucher(int requested, index_t rows, index_t row_bytes, index_t batch) {
  const index_t lead = touch_lead(row_bytes);
  if (batch > lead / 4 || rows < 4 * lead) return false;
  return resolve_threads(requested, rows * (touched_bytes(row_bytes) / 64) * 16) > 1;
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
// labels: the epoch reads the labels themselves (a gathered batch of narrow rows), not
// the one-byte mask of a binary problem.
template <class T>
inline std::uint64_t touch_targets(const Targets<T>& tg, index_t id, bool labels) {
  std::uint64_t s = 0;
  if (tg.Y != nullptr) s += reinterpret_cast<const unsigned char*>(tg.Y + id * tg.ldy)[0];
  if (tg.positive_mask != nullptr && !labels)
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

// Whether the next epoch that may take the helper does (HelperRecord), and its time.
inline bool helper_choice(const HelperRecord& r) {
  if (r.epochs < 4) return r.epochs == 0 || r.epochs == 3;
  const bool faster = r.s_per_row[1] <= r.s_per_row[0];
  return r.epochs % 8 == 0 ? !faster : faster;
}
inline void helper_record(HelperRecord& r, bool with_helper, double s_per_row) {
  double& slot = r.s_per_row[with_helper ? 1 : 0];
  slot = r.epochs < 4 ? slot + 0.5 * s_per_row : 0.5 * (slot + s_per_row);  // 2 probes each
  ++r.epochs;
}

// The helper thread of one epoch over the rows of src (targets tg). start() launches it
// (if a thread cannot be made, the epoch runs without one); the destructor stops and
// joins it, so whatever it reads outlives it (the draw too: declare it first). draw(m,
// dst) writes the epoch's next rows (at most m; 0 at the end), in the epoch's order.
class RowToucher {
 public:
  RowToucher() = default;
  RowToucher(const RowToucher&) = delete;
  RowToucher& operator=(const RowToucher&) = delete;
  ~RowToucher() { stop(); }

  template <class Src, class Draw>
  void start(const Src& src, const Targets<typename Src::value_type>& tg, bool labels,
             Draw draw) {
    lead_max_ = touch_lead(row_bytes_of(src));
    lead_min_ = lead_max_ / 4;
    try {
      thread_ = std::thread([this, &src, &tg, labels, draw]() mutable {
        run(draw, [&](index_t id) { return touch_row(src, id) + touch_targets(tg, id, labels); });
      });
    } catch (...) {  // std::system_error: no thread, no helper
    }
  }
  bool started() const { return thread_.joinable(); }
  // Stops and joins the helper; returns how many rows it read.
  index_t stop() {
    stop_.store(true, std::memory_order_relaxed);
    if (thread_.joinable()) thread_.join();
    return touched_;
  }

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
    index_t touched = 0;
    try {
      index_t ids[kTouchDraw];
      index_t drawn = 0;  // rows drawn so far: the helper's position
      std::uint64_t sum = 0;
      int idle = 0;
      while (!stop_.load(std::memory_order_relaxed)) {
        const index_t pos = pos_.load(std::memory_order_relaxed);
        if (drawn >= pos + lead_max_) {  // far enough ahead: wait for the epoch
          // spin briefly, then give the core up (a busy machine); after about a
          // thousand yields without the epoch moving 256 rows it takes microseconds a
          // row, and a 50 µs sleep leaves the window's slack far from used up
          if (idle < 64) {
            for (int i = 0; i < 16; ++i) cpu_relax();
          } else if (idle < 1024) {
            std::this_thread::yield();
          } else {
            std::this_thread::sleep_for(std::chrono::microseconds(50));
          }
          idle += idle < 1024 ? 1 : 0;
          continue;
        }
        idle = 0;
        const index_t got = draw(kTouchDraw, ids);
        if (got <= 0) break;
        // rows closer to the epoch than lead_min are left to it (a helper that fell
        // behind skips them: the epoch's own prefetches ask for the next 16 to 128)
        for (index_t i = 0; i < got; ++i) {
          if (drawn + i >= pos + lead_min_) {
            sum += touch(ids[i]);
            ++touched;
          }
        }
        drawn += got;
      }
      sink_.store(sum, std::memory_order_relaxed);
    } catch (...) {  // a failed draw (allocation) ends the helper, not the epoch
    }
    touched_ = touched;  // read by stop() after the join
  }
  static void cpu_relax() {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_ia32_pause();
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
    asm volatile("yield");
#elif defined(_MSC_VER)
    YieldProcessor();
#endif
  }

  std::thread thread_;
  index_t lead_min_ = 0, lead_max_ = 0;
  index_t reported_ = 0;
  index_t touched_ = 0;
  alignas(64) std::atomic<index_t> pos_{0};
  alignas(64) std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> sink_{0};
};

}  // namespace FASTSGD_ISA
}  // namespace fastsgd
