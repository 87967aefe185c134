// Bindings of the machinery around the kernels: threads, the instruction set in
// use, build facts, the shuffle permutation, and whole-array scans.
#include "fastsgd/bench_peak.hpp"
#include "fastsgd/isa_table.hpp"
#include "fastsgd/permutation.hpp"
#include "fastsgd/scan.hpp"
#include "pybind.hpp"

namespace fastsgd::bind {

void register_system(py::module_& m) {
  m.def(
      "permutation",
      [](std::int64_t n, std::uint64_t seed, std::uint64_t epoch) {
        if (n < 0) fail("n must be >= 0");
        py::array_t<std::int64_t> out(n);
        std::int64_t* o = out.mutable_data();
        const PermKey key = make_perm_key(static_cast<std::uint64_t>(n), seed, epoch);
        {
          const py::gil_scoped_release release;
          active_table().perm(key, 0, n, o);
        }
        return out;
      },
      "n"_a, "seed"_a, "epoch"_a,
      R"pbdoc(The shuffled order of rows 0..n-1 used for the given seed and epoch.)pbdoc");
  m.def(
      "first_nonfinite_row",
      [](const py::array& X, int threads) -> std::int64_t {
        if (is_float32(X)) {
          const Matrix<float> x = as_matrix<float>(X, "X");
          const py::gil_scoped_release release;
          return first_nonfinite_row(x.data, x.rows, x.cols, x.ld, threads);
        }
        const Matrix<double> x = as_matrix<double>(X, "X");
        const py::gil_scoped_release release;
        return first_nonfinite_row(x.data, x.rows, x.cols, x.ld, threads);
      },
      "X"_a.noconvert(), "threads"_a = 0,
      R"pbdoc(Index of the first row of a 2-d float array holding NaN or inf, or -1 (one pass).)pbdoc");
  m.def(
      "stream_read",
      [](const py::array& X, int threads) {
        double s;
        if (is_float32(X)) {
          const float* p = as_contiguous<float>(X, "X");
          const py::gil_scoped_release release;
          s = stream_read(p, static_cast<index_t>(X.size()), threads);
        } else {
          const double* p = as_contiguous<double>(X, "X");
          const py::gil_scoped_release release;
          s = stream_read(p, static_cast<index_t>(X.size()), threads);
        }
        return s;
      },
      "X"_a.noconvert(), "threads"_a = 0,
      R"pbdoc(Σ X, reading a C-contiguous array once: the memory-bandwidth limit of a one-pass
        kernel, for the benchmarks.)pbdoc");
  m.def(
      "gather_read",
      [](const py::array& X, const py::array& order, int threads) {
        const std::int64_t* o = as_contiguous<std::int64_t>(order, "order");
        const index_t m = static_cast<index_t>(order.size());
        auto run = [&](auto tag) {
          using T = decltype(tag);
          const Matrix<T> x = as_matrix<T>(X, "X");
          for (index_t i = 0; i < m; ++i)
            if (o[i] < 0 || o[i] >= x.rows) fail("order must hold rows of X");
          const py::gil_scoped_release release;
          return gather_read(x.data, x.cols, x.ld, o, m, threads);
        };
        return is_float32(X) ? run(float{}) : run(double{});
      },
      "X"_a.noconvert(), "order"_a.noconvert(), "threads"_a = 0,
      R"pbdoc(Σ of the rows X[order], read in that order eight rows at a time (as the fused
        kernels read a shuffled batch), their cache lines asked for 16 rows ahead into L1
        and 64 rows ahead into L2: the memory limit of a pass over the rows in a shuffled
        order (an SGD epoch's gather), for the benchmarks.)pbdoc");
  m.def(
      "fma_peak",
      [](std::int64_t iterations, int threads) {
        if (iterations < 1) fail("iterations must be >= 1");
        int lanes = 1;
        double work;
        {
          const py::gil_scoped_release release;
          work = fma_peak_work(iterations, threads, &lanes);
        }
        return py::make_tuple(work, lanes);
      },
      "iterations"_a, "threads"_a = 0,
      R"pbdoc((multiply-adds, lanes): runs `iterations` rounds of 12 independent chains of
        float32 multiply-adds on the widest vectors of this CPU on each thread; time the call
        to get the machine's multiply-add peak, for the benchmarks.)pbdoc");
  m.def("get_num_threads", &num_threads, "Threads the kernels use.");
  m.def("set_num_threads", &set_num_threads, "n"_a,
        "Set the threads the kernels use (0: back to the default, OMP_NUM_THREADS or the "
        "processors available).");
  m.def("get_parallel_min_work", &parallel_min_work,
        "Smallest call (element operations) that runs on several threads.");
  m.def("set_parallel_min_work", &set_parallel_min_work, "work"_a,
        "Set the smallest call that runs on several threads (0: every call with two chunks).");
  m.def("active_isa", &active_isa, "Instruction set of the kernels in use.");
  m.def("set_isa", &set_isa, "name"_a,
        "Use the kernels of one instruction set (baseline, avx2, avx512); False if unavailable.");
  m.def("sequential_set", &sequential_set,
        "Build of scikit-learn's per-row epochs in use (baseline, or avx2 with the avx2 and "
        "avx512 kernels): both without fused multiply-adds, the same bits.");
  m.def("build_info", []() {
    py::dict info;
    py::list isas;
#if defined(FASTSGD_HAVE_ISA_BASELINE)
    isas.append("baseline");
#endif
#if defined(FASTSGD_HAVE_ISA_AVX2)
    isas.append("avx2");
#endif
#if defined(FASTSGD_HAVE_ISA_AVX512)
    isas.append("avx512");
#endif
    info["isas_compiled"] = isas;
#if defined(FASTSGD_HAVE_OPENMP)
    info["openmp"] = _OPENMP;
#else
    info["openmp"] = py::none();
#endif
#if defined(__clang__)
    info["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    info["compiler"] = std::string("gcc ") + __VERSION__;
#elif defined(_MSC_VER)
    info["compiler"] = "msvc " + std::to_string(_MSC_VER);
#endif
    info["native"] = static_cast<bool>(FASTSGD_BUILD_NATIVE);
    info["sanitize"] = std::string(FASTSGD_SANITIZE_STR);
    return info;
  });
}

}  // namespace fastsgd::bind
