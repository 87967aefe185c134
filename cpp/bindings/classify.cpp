// Bindings of the classification helpers: row-wise softmax and log-softmax.
// (The fused cross-entropy losses and gradients go through loss_grad.)
#include "fastsgd/softmax.hpp"
#include "pybind.hpp"

namespace fastsgd::bind {
namespace {

template <class T>
py::array softmax_t(const py::array& Z, bool log, int threads) {
  const Matrix<T> z = as_matrix<T>(Z, "Z");
  if (z.cols < 1)
    fail("Z must have at least one column (one score per class), got shape " + shape_str(Z));
  py::array_t<T> out({z.rows, z.cols});
  T* o = out.mutable_data();
  {
    const py::gil_scoped_release release;
    softmax(z.data, z.ld, z.rows, z.cols, log, o, z.cols, threads);
  }
  return std::move(out);
}

}  // namespace

void register_classify(py::module_& m) {
  m.def(
      "softmax",
      [](const py::array& Z, bool log, int threads) {
        return Z.dtype().equal(py::dtype::of<float>()) ? softmax_t<float>(Z, log, threads)
                                                       : softmax_t<double>(Z, log, threads);
      },
      "Z"_a.noconvert(), "log"_a = false, "threads"_a = 0,
      R"pbdoc(
        Row-wise softmax of scores Z (n, k), float32/float64 with contiguous rows (any row
        stride), as a new C-contiguous (n, k) array of Z's dtype: exp(z − max z) / Σ exp(z − max z),
        computed in float64. With log=True, the log-softmax (z − max z) − log Σ exp(z − max z).
      )pbdoc");
}

}  // namespace fastsgd::bind
