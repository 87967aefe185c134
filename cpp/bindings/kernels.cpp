// Bindings of the functional kernels: the fused loss and gradient of any loss,
// batched dot products, the data's curvature and the SGD step on arrays.
#include "fastsgd/curvature.hpp"
#include "fastsgd/isa_table.hpp"
#include "fastsgd/updates.hpp"
#include "pybind.hpp"

namespace fastsgd::bind {
namespace {

// The model's parameters for d features: W (k, d) and b (k,) float64.
Params bind_params(const py::array& W, const py::object& b, index_t d) {
  const Matrix<double> w = as_matrix<double>(W, "W");
  if (w.cols != d || (w.rows > 1 && w.ld != w.cols))
    fail("W must be C-contiguous with shape (k, " + std::to_string(d) + "), got " + shape_str(W));
  Params p;
  p.W = w.data;
  p.k = w.rows;
  p.d = d;
  if (!b.is_none()) p.b = as_vector<double>(b, "b", p.k);
  return p;
}

RowSet bind_rows(const py::object& rows, index_t n) {
  if (rows.is_none()) return RowSet{nullptr, 0, n};
  const py::array r = rows.cast<py::array>();
  if (r.ndim() != 1) fail("rows must be 1-d, got shape " + shape_str(r));
  const auto m = static_cast<index_t>(r.shape(0));
  const index_t* ids = as_contiguous<std::int64_t>(r, "rows");
  for (index_t i = 0; i < m; ++i)
    if (ids[i] < 0 || ids[i] >= n)
      fail("rows must be in [0, " + std::to_string(n) + "), found " + std::to_string(ids[i]));
  return RowSet{ids, 0, m};
}

template <class Src>
py::tuple loss_grad_t(const Src& src, const PyTargets& targets, const py::array& W,
                      const py::object& b, const LossSpec& loss, bool grad, const py::object& rows,
                      int threads) {
  using T = typename Src::value_type;
  const Params p = bind_params(W, b, src.d);
  const Targets<T> tg = bind_targets<T>(targets, src.n, p.k, loss_info(loss.id).joint);
  const RowSet rs = bind_rows(rows, src.n);
  py::array_t<double> sums(out_size(p.k, p.d, grad));
  double* out = sums.mutable_data();
  {
    const py::gil_scoped_release release;
    Workspace ws;
    ws.threads = threads;
    kernels_of<Src>(active_table()).loss_grad(src, rs, tg, p, loss, INFINITY, grad, out, ws);
  }
  py::object G = py::none(), gb = py::none();
  if (grad) {
    py::array_t<double> Ga({p.k, p.d}), gba(p.k);
    std::copy(out + kOutGb + p.k, out + kOutGb + p.k + p.k * p.d, Ga.mutable_data());
    std::copy(out + kOutGb, out + kOutGb + p.k, gba.mutable_data());
    G = Ga;
    gb = gba;
  }
  return py::make_tuple(out[kOutLoss], out[kOutWeighted], G, gb);
}

template <class Src>
py::array predict_t(const Src& src, const py::array& W, const py::object& b, double scale,
                    const py::object& rows, int threads) {
  using T = typename Src::value_type;
  Params p = bind_params(W, b, src.d);
  p.scale = scale;
  const RowSet rs = bind_rows(rows, src.n);
  py::array_t<T> out({rs.size, p.k});
  T* o = out.mutable_data();
  {
    const py::gil_scoped_release release;
    kernels_of<Src>(active_table()).predict(src, rs, p, o, p.k, threads);
  }
  return std::move(out);
}

template <class Src>
py::tuple curvature_t(const Src& src, bool intercept, int max_iter, double tol, int threads,
                      const py::object& weights, const py::object& precond) {
  const double* w = weights.is_none() ? nullptr : as_vector<double>(weights, "weights", src.n);
  const double* p = precond.is_none() ? nullptr
                                      : as_vector<double>(precond, "precond",
                                                          src.d + (intercept ? 1 : 0));
  Curvature c;
  {
    const py::gil_scoped_release release;
    c = data_curvature(src, intercept, max_iter, tol, threads, w, p);
  }
  return py::make_tuple(c.lambda_max, c.trace, c.iterations);
}

template <class Src>
py::array_t<double> mean_squares_t(const Src& src, bool intercept, const py::object& weights) {
  const double* w = weights.is_none() ? nullptr : as_vector<double>(weights, "weights", src.n);
  py::array_t<double> out(static_cast<py::ssize_t>(src.d + (intercept ? 1 : 0)));
  double* o = out.mutable_data();
  {
    const py::gil_scoped_release release;
    mean_squares(src, intercept, w, o);
  }
  return out;
}

template <class T>
void sgd_step_t(py::array& w, const py::array& grad, py::object& velocity, const UpdateSpec& u,
                double lr, double weight_decay) {
  T* wp = as_writable<T>(w, "w");
  const T* gp = as_contiguous<T>(grad, "grad");
  if (grad.size() != w.size())
    fail("grad must have w's shape " + shape_str(w) + ", got " + shape_str(grad));
  T* vp = nullptr;
  if (u.momentum != 0.0) {
    if (velocity.is_none()) fail("velocity is required when momentum > 0");
    py::array v = velocity.cast<py::array>();
    vp = as_writable<T>(v, "velocity");
    if (v.size() != w.size())
      fail("velocity must have w's shape " + shape_str(w) + ", got " + shape_str(v));
  }
  const auto n = static_cast<index_t>(w.size());
  const py::gil_scoped_release release;
  sgd_step_arrays(wp, gp, vp, n, u, lr, weight_decay);
}

}  // namespace

void register_kernels(py::module_& m) {
  py::class_<PyTargets>(m, "Targets", R"pbdoc(
      The targets and weights of a data set's rows: real targets Y (n, k) of X's dtype, or
      int64 labels (n,) (a joint loss reads the class index; a loss of each output reads
      label == positive for k = 1, label == c for output c otherwise); float64
      sample_weight (n,); class weights: class_weight (float64, per class) for k > 1,
      pos_weight / neg_weight for k = 1 (and neg_weight for the other classes of a
      one-vs-rest output). positive_mask (uint8 (n,), k = 1 only): labels == positive as
      0/1 bytes, made by the caller and equal to it, read instead of the labels wherever a
      row's binary target is (on shuffled rows a byte a row stays in cache where 8 do not).)pbdoc")
      .def(py::init([](py::object Y, py::object labels, std::int64_t positive,
                       py::object sample_weight, py::object class_weight, double pos_weight,
                       double neg_weight, py::object positive_mask) {
             return PyTargets{std::move(Y),
                              std::move(labels),
                              positive,
                              std::move(sample_weight),
                              std::move(class_weight),
                              pos_weight,
                              neg_weight,
                              std::move(positive_mask)};
           }),
           "Y"_a = py::none(), "labels"_a = py::none(), "positive"_a = 1,
           "sample_weight"_a = py::none(), "class_weight"_a = py::none(), "pos_weight"_a = 1.0,
           "neg_weight"_a = 1.0, "positive_mask"_a = py::none())
      .def_readonly("Y", &PyTargets::Y)
      .def_readonly("labels", &PyTargets::labels)
      .def_readonly("positive", &PyTargets::positive)
      .def_readonly("sample_weight", &PyTargets::sample_weight)
      .def_readonly("class_weight", &PyTargets::class_weight)
      .def_readonly("pos_weight", &PyTargets::pos_weight)
      .def_readonly("neg_weight", &PyTargets::neg_weight)
      .def_readonly("positive_mask", &PyTargets::positive_mask);

  m.def(
      "loss_grad",
      [](const py::object& X, const PyTargets& targets, const py::array& W, const py::object& b,
         const LossSpec& loss, bool grad, const py::object& rows, int threads) {
        return with_source(X, [&](const auto& src) {
          return loss_grad_t(src, targets, W, b, loss, grad, rows, threads);
        });
      },
      "X"_a.noconvert(), "targets"_a, "W"_a.noconvert(), "b"_a.none(true), "loss"_a,
      "grad"_a = true, "rows"_a.none(true) = py::none(), "threads"_a = 0,
      R"pbdoc(
        Sums over the rows (all, or the int64 indices `rows`) of the loss of the linear model
        z = X Wᵀ + b and, with grad=True, of its gradient, in one pass over X. X: (n, d)
        float32/float64 with contiguous rows; W: (k, d) float64; b: (k,) float64 or None.
        Returns (Σ loss, Σ weight·loss, Σ dz xᵀ (k, d) or None, Σ dz (k,) or None), where
        dz = weight · dloss/dz.
      )pbdoc");
  m.def(
      "predict",
      [](const py::object& X, const py::array& W, const py::object& b, double scale,
         const py::object& rows, int threads) {
        return with_source(
            X, [&](const auto& src) { return predict_t(src, W, b, scale, rows, threads); });
      },
      "X"_a.noconvert(), "W"_a.noconvert(), "b"_a.none(true) = py::none(), "scale"_a = 1.0,
      "rows"_a.none(true) = py::none(), "threads"_a = 0,
      R"pbdoc(scale·(X Wᵀ) + b as an (n, k) array of X's dtype (the rows `rows` only when
        given); sums in float64.)pbdoc");
  m.def(
      "curvature",
      [](const py::object& X, bool intercept, int max_iter, double tol, int threads,
         const py::object& weights, const py::object& precond) {
        return with_source(X, [&](const auto& src) {
          return curvature_t(src, intercept, max_iter, tol, threads, weights, precond);
        });
      },
      "X"_a.noconvert(), "intercept"_a, "max_iter"_a = 100, "tol"_a = 1e-6, "threads"_a = 0,
      "weights"_a.none(true) = py::none(), "precond"_a.none(true) = py::none(),
      R"pbdoc(
        (λ_max, trace, iterations) of A = X̃ᵀ diag(w) X̃/n, X̃ = [X, 1] with an intercept and w
        the row weights (float64 (n,), or None for 1): λ_max by power iteration, each step one
        fused pass over X. With precond (float64, d + 1 values with an intercept, else d), a
        diagonal P: those of P^½ A P^½.
      )pbdoc");
  m.def(
      "mean_squares",
      [](const py::object& X, bool intercept, const py::object& weights) {
        return with_source(X,
                           [&](const auto& src) { return mean_squares_t(src, intercept, weights); });
      },
      "X"_a.noconvert(), "intercept"_a, "weights"_a.none(true) = py::none(),
      R"pbdoc(
        diag(A): the columns' means of squares (weighted by w), then the intercept's mean
        weight when intercept; float64, one pass over X.
      )pbdoc");
  m.def(
      "sgd_step",
      [](py::array w, const py::array& grad, py::object velocity, double lr, double momentum,
         double dampening, bool nesterov, double weight_decay) {
        UpdateSpec u;
        u.momentum = momentum;
        u.dampening = dampening;
        u.nesterov = nesterov;
        if (is_float32(w))
          sgd_step_t<float>(w, grad, velocity, u, lr, weight_decay);
        else
          sgd_step_t<double>(w, grad, velocity, u, lr, weight_decay);
      },
      "w"_a.noconvert(), "grad"_a.noconvert(), "velocity"_a.none(true), "lr"_a, "momentum"_a,
      "dampening"_a, "nesterov"_a, "weight_decay"_a,
      R"pbdoc(In-place SGD step with torch.optim.SGD's rule (velocity starts at zero).)pbdoc");
}

}  // namespace fastsgd::bind
