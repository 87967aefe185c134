// Bindings of the kernels: batched dot, fused loss + gradient, SGD step,
// the shuffle permutation, threads and instruction-set dispatch.
#include "fastsgd/core.hpp"
#include "fastsgd/curvature.hpp"
#include "fastsgd/random.hpp"
#include "fastsgd/update.hpp"
#include "pybind.hpp"

namespace fastsgd::bind {
namespace {

Loss to_loss(int loss) {
  if (loss < 0 || loss > 2) fail("loss must be 0 (mse), 1 (softmax) or 2 (logistic)");
  return static_cast<Loss>(loss);
}

// Model parameters as the core holds them: Wt (k, d) and b (k,) in float64.
template <class T>
void set_params(Problem<T>& p, const Matrix<T>& x, const py::array& Wt, const py::object& b) {
  const Matrix<double> w = as_matrix<double>(Wt, "Wt");
  if (w.cols != x.cols || w.ld != w.cols)
    fail("Wt must be C-contiguous with shape (k, " + std::to_string(x.cols) + "), got " +
         shape_str(Wt));
  p.d = x.cols;
  p.k = w.rows;
  p.Wt = w.data;
  if (!b.is_none()) {
    const py::array ba = b.cast<py::array>();
    if (ba.ndim() != 1 || ba.shape(0) != p.k)
      fail("b must have shape (" + std::to_string(p.k) + ",), got " + shape_str(ba));
    p.b = as_contiguous<double>(ba, "b");
  }
}

// Targets: Y (n, k) of X's dtype for mse; int64 labels (n,) otherwise.
template <class T>
void set_targets(Problem<T>& p, Loss loss, index_t n, const py::object& Yo) {
  if (loss == Loss::mse && Yo.is_none()) return;  // zero targets
  if (Yo.is_none()) fail("labels are required for this loss");
  const py::array Y = Yo.cast<py::array>();
  if (loss == Loss::mse) {
    const Matrix<T> y = as_matrix<T>(Y, "Y");
    if (y.rows != n || y.cols != p.k)
      fail("Y must have shape (" + std::to_string(n) + ", " + std::to_string(p.k) + "), got " +
           shape_str(Y));
    p.Y = y.data;
    p.ldy = y.ld;
  } else {
    if (Y.ndim() != 1 || Y.shape(0) != n)
      fail("labels must have shape (" + std::to_string(n) + ",), got " + shape_str(Y));
    p.labels = as_contiguous<std::int64_t>(Y, "labels");
    if (loss == Loss::logistic && p.k != 1) fail("the logistic loss needs k = 1");
    // Range checks stay in Python, where the labels are validated once.
  }
}

template <class T>
py::tuple curvature_t(const py::array& X, bool intercept, int max_iter, double tol) {
  const Matrix<T> x = as_matrix<T>(X, "X");
  Problem<T> p;
  p.X = x.data;
  p.ldx = x.ld;
  p.d = x.cols;
  Curvature c;
  {
    const py::gil_scoped_release release;
    c = data_curvature(p, x.rows, intercept, max_iter, tol);
  }
  return py::make_tuple(c.lambda_max, c.trace, c.iterations);
}

template <class T>
py::tuple loss_grad_t(const py::array& X, const py::object& Y, const py::array& Wt,
                      const py::object& b, int loss_id, bool want_grad, int threads) {
  const Loss loss = to_loss(loss_id);
  const Matrix<T> x = as_matrix<T>(X, "X");
  Problem<T> p;
  p.X = x.data;
  p.ldx = x.ld;
  set_params(p, x, Wt, b);
  set_targets(p, loss, x.rows, Y);
  py::object G = py::none(), gb = py::none();
  double* Gp = nullptr;
  double* gbp = nullptr;
  if (want_grad) {
    py::array_t<double> Ga({p.k, p.d});
    Gp = Ga.mutable_data();
    G = Ga;
    if (p.b != nullptr) {
      py::array_t<double> gba(p.k);
      gbp = gba.mutable_data();
      gb = gba;
    }
  }
  double value;
  {
    const py::gil_scoped_release release;
    value = loss_grad(p, x.rows, loss, Gp, gbp, threads);
  }
  return py::make_tuple(value, G, gb);
}

template <class T>
py::array predict_t(const py::array& X, const py::array& Wt, const py::object& b, int threads) {
  const Matrix<T> x = as_matrix<T>(X, "X");
  Problem<T> p;
  p.X = x.data;
  p.ldx = x.ld;
  set_params(p, x, Wt, b);
  py::array_t<T> out({x.rows, p.k});
  T* o = out.mutable_data();
  {
    const py::gil_scoped_release release;
    predict(p, x.rows, o, p.k, threads);
  }
  return std::move(out);
}

// dtype equality, not identity: memory-mapped arrays carry their own dtype objects
bool is_float32(const py::array& X) { return X.dtype().equal(py::dtype::of<float>()); }

template <class T>
void sgd_step_t(py::array& w, const py::array& grad, py::object& velocity, const SgdOptions& o) {
  T* wp = as_writable<T>(w, "w");
  const T* gp = as_contiguous<T>(grad, "grad");
  if (grad.size() != w.size())
    fail("grad must have w's shape " + shape_str(w) + ", got " + shape_str(grad));
  T* vp = nullptr;
  if (o.momentum != 0.0) {
    if (velocity.is_none()) fail("velocity is required when momentum > 0");
    py::array v = velocity.cast<py::array>();
    vp = as_writable<T>(v, "velocity");
    if (v.size() != w.size())
      fail("velocity must have w's shape " + shape_str(w) + ", got " + shape_str(v));
  }
  const auto n = static_cast<index_t>(w.size());
  const py::gil_scoped_release release;
  sgd_update(wp, gp, vp, n, o);
}

}  // namespace

void register_kernels(py::module_& m) {
  m.def(
      "loss_grad",
      [](const py::array& X, const py::object& Y, const py::array& Wt, const py::object& b,
         int loss, bool grad, int threads) {
        return is_float32(X) ? loss_grad_t<float>(X, Y, Wt, b, loss, grad, threads)
                             : loss_grad_t<double>(X, Y, Wt, b, loss, grad, threads);
      },
      "X"_a.noconvert(), "Y"_a.none(true), "Wt"_a.noconvert(), "b"_a.none(true) = py::none(),
      "loss"_a = 0, "grad"_a = true, "threads"_a = 0,
      R"pbdoc(
        Mean loss of the linear model z = X Wtᵀ + b and, with grad=True, its gradient,
        in one pass over X. X: (n, d) float32/float64 with contiguous rows; Y: (n, k) of
        X's dtype (mse; None for zero targets) or int64 labels (n,) (softmax, logistic); Wt: (k, d) float64;
        b: (k,) float64 or None. loss: 0 mse, 1 softmax, 2 logistic.
        Returns (loss, G (k, d) float64 or None, gb (k,) float64 or None).
      )pbdoc");
  m.def(
      "curvature",
      [](const py::array& X, bool intercept, int max_iter, double tol) {
        return is_float32(X) ? curvature_t<float>(X, intercept, max_iter, tol)
                             : curvature_t<double>(X, intercept, max_iter, tol);
      },
      "X"_a.noconvert(), "intercept"_a, "max_iter"_a = 100, "tol"_a = 1e-6,
      R"pbdoc(
        (λ_max, trace, iterations) of A = X̃ᵀX̃/n, X̃ = [X, 1] with an intercept: λ_max by power
        iteration, each step one fused pass over X.
      )pbdoc");
  m.def(
      "predict",
      [](const py::array& X, const py::array& Wt, const py::object& b, int threads) {
        return is_float32(X) ? predict_t<float>(X, Wt, b, threads)
                             : predict_t<double>(X, Wt, b, threads);
      },
      "X"_a.noconvert(), "Wt"_a.noconvert(), "b"_a.none(true) = py::none(), "threads"_a = 0,
      R"pbdoc(X Wtᵀ + b as an (n, k) array of X's dtype; sums in float64.)pbdoc");
  m.def(
      "sgd_step",
      [](py::array w, const py::array& grad, py::object velocity, double lr, double momentum,
         double dampening, bool nesterov, double weight_decay) {
        const SgdOptions o{lr, momentum, dampening, nesterov, weight_decay};
        if (is_float32(w))
          sgd_step_t<float>(w, grad, velocity, o);
        else
          sgd_step_t<double>(w, grad, velocity, o);
      },
      "w"_a.noconvert(), "grad"_a.noconvert(), "velocity"_a.none(true), "lr"_a, "momentum"_a,
      "dampening"_a, "nesterov"_a, "weight_decay"_a,
      R"pbdoc(In-place SGD step with torch.optim.SGD's rule (velocity starts at zero).)pbdoc");
  m.def(
      "permutation",
      [](std::int64_t n, std::uint64_t seed, std::uint64_t epoch) {
        if (n < 0) fail("n must be >= 0");
        py::array_t<std::int64_t> out(n);
        std::int64_t* o = out.mutable_data();
        const PermKey key = make_perm_key(static_cast<std::uint64_t>(n), seed, epoch);
        {
          const py::gil_scoped_release release;
          active_kernels().perm(key, 0, n, o);
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
          s = stream_sum(p, static_cast<index_t>(X.size()), threads);
        } else {
          const double* p = as_contiguous<double>(X, "X");
          const py::gil_scoped_release release;
          s = stream_sum(p, static_cast<index_t>(X.size()), threads);
        }
        return s;
      },
      "X"_a.noconvert(), "threads"_a = 0,
      R"pbdoc(Σ X, reading a C-contiguous array once: the memory-bandwidth limit of a one-pass
        kernel, for the benchmarks.)pbdoc");
  m.def("get_num_threads", &num_threads, "Threads the kernels use.");
  m.def("set_num_threads", &set_num_threads, "n"_a,
        "Set the threads the kernels use (0: follow OpenMP's setting).");
  m.def("get_parallel_min_work", &parallel_min_work,
        "Smallest call (element operations) that runs on several threads.");
  m.def("set_parallel_min_work", &set_parallel_min_work, "work"_a,
        "Set the smallest call that runs on several threads (0: every call with two chunks).");
  m.def("active_isa", &active_isa, "Instruction set of the kernels in use.");
  m.def("set_isa", &set_isa, "name"_a,
        "Use the kernels of one instruction set (baseline, avx2, avx512); False if unavailable.");
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
