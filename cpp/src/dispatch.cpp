// Picks the kernels for this CPU once, and holds the thread setting.
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "fastsgd/isa_table.hpp"
#include "fastsgd/parallel.hpp"

#if defined(FASTSGD_HAVE_OPENMP)
#include <omp.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define FASTSGD_HAVE_ATFORK 1
#endif

namespace fastsgd {
namespace {

bool cpu_supports(const char* name) {
  if (std::strcmp(name, "baseline") == 0) return true;
#if defined(FASTSGD_HAVE_ISA_AVX2) && (defined(__GNUC__) || defined(__clang__))
  if (std::strcmp(name, "avx2") == 0)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
#if defined(FASTSGD_HAVE_ISA_AVX512) && (defined(__GNUC__) || defined(__clang__))
  if (std::strcmp(name, "avx512") == 0)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("fma");
#endif
  return false;
}

const IsaTable* kernels_for(const char* name) {
  if (!cpu_supports(name)) return nullptr;
  if (std::strcmp(name, "baseline") == 0) return &isa_table_baseline();
#if defined(FASTSGD_HAVE_ISA_AVX2)
  if (std::strcmp(name, "avx2") == 0) return &isa_table_avx2();
#endif
#if defined(FASTSGD_HAVE_ISA_AVX512)
  if (std::strcmp(name, "avx512") == 0) return &isa_table_avx512();
#endif
  return nullptr;
}

const IsaTable* best_kernels() {
  // FASTSGD_ISA forces a set (an unsupported one falls back to the best available).
  if (const char* forced = std::getenv("FASTSGD_ISA")) {
    if (const IsaTable* k = kernels_for(forced)) return k;
  }
  for (const char* name : {"avx512", "avx2"})
    if (const IsaTable* k = kernels_for(name)) return k;
  return &isa_table_baseline();
}

std::atomic<const IsaTable*> g_kernels{nullptr};

// fastsgd's own thread count, set once from OMP_NUM_THREADS (its first number)
// or the processors available to the process, and by set_num_threads: another
// library calling omp_set_num_threads does not change it.
int default_threads() {
  if (const char* v = std::getenv("OMP_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (end != v && n > 0) return n > 4096 ? 4096 : static_cast<int>(n);
  }
#if defined(FASTSGD_HAVE_OPENMP)
  const int procs = omp_get_num_procs();
  return procs > 0 ? procs : 1;
#else
  return 1;
#endif
}
std::atomic<int> g_threads{default_threads()};
std::atomic<bool> g_forked{false};

std::int64_t initial_parallel_min_work() {
  if (const char* v = std::getenv("FASTSGD_PARALLEL_MIN_WORK")) {
    char* end = nullptr;
    const long long w = std::strtoll(v, &end, 10);
    if (end != v && w >= 0) return w;
  }
  return std::int64_t{1} << 22;
}
std::atomic<std::int64_t> g_parallel_min_work{initial_parallel_min_work()};

#if defined(FASTSGD_HAVE_ATFORK)
void mark_forked_child() { g_forked.store(true, std::memory_order_relaxed); }
// Registered when the extension is loaded.
const int g_atfork_registered = pthread_atfork(nullptr, nullptr, &mark_forked_child);
#endif

}  // namespace

const IsaTable& active_table() {
  const IsaTable* k = g_kernels.load(std::memory_order_acquire);
  if (k == nullptr) {
    k = best_kernels();
    g_kernels.store(k, std::memory_order_release);
  }
  return *k;
}

const char* active_isa() { return active_table().name; }

bool set_isa(const char* name) {
  const IsaTable* k = kernels_for(name);
  if (k == nullptr) return false;
  g_kernels.store(k, std::memory_order_release);
  return true;
}

const char* sequential_set() {
#if defined(FASTSGD_HAVE_SEQUENTIAL_AVX2)
  // the avx2 and avx512 kernels are picked only where AVX2 runs (cpu_supports)
  if (std::strcmp(active_isa(), "baseline") != 0) return "avx2";
#endif
  return "baseline";
}

namespace {
template <class Src>
EpochStats pick_sequential_epoch(const Src& src, const Targets<typename Src::value_type>& tg,
                                 Model& M, const EpochSpec& spec, TrainWorkspace& ws) {
#if defined(FASTSGD_HAVE_SEQUENTIAL_AVX2)
  if (std::strcmp(sequential_set(), "avx2") == 0)
    return sequential_avx2_epoch(src, tg, M, spec, ws);
#endif
  return sequential_baseline_epoch(src, tg, M, spec, ws);
}
}  // namespace

#define FASTSGD_SEQUENTIAL_EPOCH(Src, T)                                      \
  EpochStats sequential_epoch(const Src& src, const Targets<T>& tg, Model& M, \
                              const EpochSpec& spec, TrainWorkspace& ws) {    \
    return pick_sequential_epoch(src, tg, M, spec, ws);                       \
  }
using CsrF32I32 = CsrRows<float, std::int32_t>;
using CsrF32I64 = CsrRows<float, std::int64_t>;
using CsrF64I32 = CsrRows<double, std::int32_t>;
using CsrF64I64 = CsrRows<double, std::int64_t>;
FASTSGD_SEQUENTIAL_EPOCH(DenseRows<float>, float)
FASTSGD_SEQUENTIAL_EPOCH(DenseRows<double>, double)
FASTSGD_SEQUENTIAL_EPOCH(CsrF32I32, float)
FASTSGD_SEQUENTIAL_EPOCH(CsrF32I64, float)
FASTSGD_SEQUENTIAL_EPOCH(CsrF64I32, double)
FASTSGD_SEQUENTIAL_EPOCH(CsrF64I64, double)
#undef FASTSGD_SEQUENTIAL_EPOCH

int num_threads() {
  if (g_forked.load(std::memory_order_relaxed)) return 1;
  return g_threads.load(std::memory_order_relaxed);
}

std::int64_t parallel_min_work() { return g_parallel_min_work.load(std::memory_order_relaxed); }
void set_parallel_min_work(std::int64_t work) {
  g_parallel_min_work.store(work > 0 ? work : 0, std::memory_order_relaxed);
}

bool in_forked_child() { return g_forked.load(std::memory_order_relaxed); }

void set_num_threads(int n) {
  g_threads.store(n > 0 ? n : default_threads(), std::memory_order_relaxed);
}

}  // namespace fastsgd

// The thread count as plain C symbols, for threadpoolctl: fastsgd registers a
// controller that finds the library by them (src/fastsgd/_threads.py).
#if defined(_WIN32)
#define FASTSGD_EXPORT __declspec(dllexport)
#else
#define FASTSGD_EXPORT __attribute__((visibility("default")))
#endif
extern "C" FASTSGD_EXPORT int fastsgd_get_num_threads() { return fastsgd::num_threads(); }
extern "C" FASTSGD_EXPORT void fastsgd_set_num_threads(int n) { fastsgd::set_num_threads(n); }

namespace fastsgd {}  // namespace fastsgd
