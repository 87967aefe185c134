// Bindings of training: the model state (Model), the options of an epoch
// (EpochOptions, one bound struct) and the Trainer, which runs whole epochs in
// C++ with the GIL released, polling for Ctrl-C (KeyboardInterrupt).
#include <chrono>
#include <cmath>
#include <string>

#include "fastsgd/isa_table.hpp"
#include "fastsgd/model.hpp"
#include "fastsgd/step.hpp"
#include "pybind.hpp"

namespace fastsgd::bind {
namespace {

// Signals are checked at most every 10 ms of the epoch's wall time (a clock read every
// poll_every steps; the GIL only then): Ctrl-C stays prompt, and a loop of tiny steps does
// not take the GIL from other Python threads every ~100 µs.
constexpr std::chrono::milliseconds kSignalInterval{10};

struct Poll {
  bool signalled = false;
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
};

bool check_signals(void* ctx) {
  auto* pl = static_cast<Poll*>(ctx);
  const auto now = std::chrono::steady_clock::now();
  if (now - pl->last < kSignalInterval) return false;
  pl->last = now;
  const py::gil_scoped_acquire acquire;
  if (PyErr_CheckSignals() != 0) {  // leaves the exception set for the caller
    pl->signalled = true;
    return true;
  }
  return false;
}

// EpochSpec without its raw pointers: the skip mask and the order are held as arrays.
struct PyEpochOptions {
  EpochSpec spec;
  py::object skip = py::none();
  py::object order = py::none();
};

py::array_t<double> to_array(const std::vector<double>& v, index_t rows, index_t cols) {
  py::array_t<double> a = rows < 0 ? py::array_t<double>(static_cast<py::ssize_t>(v.size()))
                                   : py::array_t<double>({rows, cols});
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

void from_array(std::vector<double>& v, const py::object& o, const char* name, std::size_t size) {
  if (o.is_none()) {
    v.clear();
    return;
  }
  const py::array a = py::array::ensure(o, py::array::c_style | py::array::forcecast);
  if (!a || !has_dtype<double>(a)) fail(std::string(name) + " must be a float64 array");
  if (static_cast<std::size_t>(a.size()) != size)
    fail(std::string(name) + " must have " + std::to_string(size) + " values, got " +
         std::to_string(a.size()));
  const auto* p = static_cast<const double*>(a.data());
  v.assign(p, p + size);
}

py::dict model_state(const Model& M) {
  py::dict s;
  s["k"] = M.k;
  s["d"] = M.d;
  s["intercept"] = M.intercept;
  s["V"] = to_array(M.V, M.k, M.d);
  s["scale"] = M.scale;
  s["b"] = to_array(M.b, -1, 0);
  s["t"] = M.t;
  s["rule_steps"] = M.rule_steps;
  s["average_start"] = M.average_start;
  s["AV"] = to_array(M.AV, M.k, M.d);
  s["ab"] = to_array(M.ab, -1, 0);
  s["avg_a"] = M.avg_a;
  s["avg_b"] = M.avg_b;
  s["u"] = M.u;
  auto opt = [&](const std::vector<double>& v, index_t rows, index_t cols) -> py::object {
    if (v.empty()) return py::none();
    return to_array(v, rows, cols);
  };
  s["Q"] = opt(M.Q, M.k, M.d);
  s["S0"] = opt(M.S0, M.k, M.d);
  s["S1"] = opt(M.S1, M.k, M.d);
  s["Sb0"] = opt(M.Sb0, -1, 0);
  s["Sb1"] = opt(M.Sb1, -1, 0);
  s["sq_norm"] = M.sq_norm;
  s["l1_norm"] = M.l1_norm;
  return s;
}

Model model_from_state(const py::dict& s) {
  Model M;
  const auto k = s["k"].cast<index_t>(), d = s["d"].cast<index_t>();
  if (k < 0 || d < 0) fail("a model's k and d must be >= 0");
  model_reset(M, k, d, s["intercept"].cast<bool>());
  const auto n = static_cast<std::size_t>(k * d), nb = static_cast<std::size_t>(k);
  from_array(M.V, s["V"], "V", n);
  M.scale = s["scale"].cast<double>();
  from_array(M.b, s["b"], "b", nb);
  M.t = s["t"].cast<double>();
  M.rule_steps = s["rule_steps"].cast<double>();
  M.average_start = s["average_start"].cast<double>();
  from_array(M.AV, s["AV"], "AV", n);
  from_array(M.ab, s["ab"], "ab", nb);
  M.avg_a = s["avg_a"].cast<double>();
  M.avg_b = s["avg_b"].cast<double>();
  M.u = s["u"].cast<double>();
  from_array(M.Q, s["Q"], "Q", n);
  from_array(M.S0, s["S0"], "S0", n);
  from_array(M.S1, s["S1"], "S1", n);
  from_array(M.Sb0, s["Sb0"], "Sb0", nb);
  from_array(M.Sb1, s["Sb1"], "Sb1", nb);
  M.sq_norm = s["sq_norm"].cast<double>();
  M.l1_norm = s["l1_norm"].cast<double>();
  return M;
}

class Trainer {
 public:
  Trainer(py::object X, PyTargets targets) : X_(std::move(X)), targets_(std::move(targets)) {
    with_source(X_, [](const auto&) { return 0; });  // checks X's type now
  }

  EpochStats epoch(Model& M, const PyEpochOptions& opts, bool poll, int threads) {
    return with_source(X_, [&](const auto& src) { return run(src, M, opts, poll, threads); });
  }

 private:
  template <class Src>
  EpochStats run(const Src& src, Model& M, const PyEpochOptions& opts, bool poll, int threads) {
    using T = typename Src::value_type;
    if (M.d != src.d)
      fail("the model has " + std::to_string(M.d) + " features but X has " + std::to_string(src.d));
    const Targets<T> tg = bind_targets<T>(targets_, src.n, M.k, loss_info(opts.spec.loss.id).joint);
    EpochSpec spec = opts.spec;
    if (!opts.skip.is_none()) spec.skip = as_vector<std::uint8_t>(opts.skip, "skip", src.n);
    if (!opts.order.is_none()) {
      const py::array a = opts.order.cast<py::array>();
      if (a.ndim() != 1) fail("order must be a 1-d array of row indices, got " + shape_str(a));
      spec.order = as_contiguous<std::int64_t>(a, "order");
      spec.order_size = a.shape(0);
      for (index_t i = 0; i < spec.order_size; ++i)
        if (spec.order[i] < 0 || spec.order[i] >= src.n)
          fail("order must hold row indices in [0, " + std::to_string(src.n) + "), found " +
               std::to_string(spec.order[i]) + " at position " + std::to_string(i));
    }
    const ScheduleSpec& sc = spec.schedule;
    if (sc.id == ScheduleId::optimal && !(sc.alpha > 0.0))
      fail("the optimal schedule needs alpha > 0");
    if (spec.batch_size < 0) fail("batch_size must be >= 0 (0: the full batch)");
    if (spec.shuffle < 0) fail("shuffle must be 0 (in order), 1 (rows) or a block size > 1");
    Poll pl;
    if (poll) {
      const index_t B = spec.batch_size > 0 && spec.batch_size < src.n ? spec.batch_size : src.n;
      const index_t work = imax(B, 1) * imax(src.d, 1) * imax(M.k, 1);
      const index_t every = (index_t{1} << 22) / work;         // about every 4 M multiply-adds
      spec.poll_every = every > 4096 ? 4096 : imax(every, 1);  // tiny batches: every 4096 steps
      spec.should_stop = &check_signals;
      spec.poll_context = &pl;
    }
    ws_.kernel.threads = threads;
    EpochStats stats;
    {
      const py::gil_scoped_release release;
      stats = spec.sklearn_arithmetic
                  ? sequential_epoch(src, tg, M, spec, ws_)
                  : kernels_of<Src>(active_table()).epoch(src, tg, M, spec, ws_);
    }
    if (pl.signalled) throw py::error_already_set();
    return stats;
  }

  py::object X_;
  PyTargets targets_;
  TrainWorkspace ws_;
};

}  // namespace

void register_train(py::module_& m) {
  py::class_<EpochStats>(m, "EpochStats", "What one epoch did.")
      .def_readonly("steps", &EpochStats::steps)
      .def_readonly("rows", &EpochStats::rows)
      .def_readonly("loss_sum", &EpochStats::loss_sum)
      .def_readonly("weighted_loss_sum", &EpochStats::weighted_loss_sum)
      .def_readonly("objective_sum", &EpochStats::objective_sum)
      .def_readonly("stopped", &EpochStats::stopped)
      .def_readonly("row_helper", &EpochStats::row_helper,
                    "Whether a second thread was started to read the epoch's shuffled rows "
                    "ahead of it.")
      .def_readonly("helper_rows", &EpochStats::helper_rows, "The rows that thread read.");

  py::class_<PyEpochOptions>(m, "EpochOptions", R"pbdoc(
      Everything an epoch needs besides the data and the model: the loss, update rule,
      penalty and schedule, batch size (0: the full batch), shuffle (0 in order, 1 rows,
      b > 1 blocks of b rows), seed and epoch number (the permutation), the |dloss/dz|
      limit, the intercept's decay, whether to track scikit-learn's objective, and the
      rows to skip (a uint8 mask, or None), and whether batches of one row take their step in
      scikit-learn's order of floating-point operations (bit-for-bit its results).)pbdoc")
      .def(py::init([](const LossSpec& loss, const py::object& update, const py::object& penalty,
                       const py::object& schedule, index_t batch_size, index_t shuffle,
                       std::uint64_t seed, const py::object& clip, double intercept_decay,
                       bool track_objective, py::object skip, bool sklearn_arithmetic,
                       bool sum_loss) {
             PyEpochOptions o;
             o.spec.loss = loss;
             if (!update.is_none()) o.spec.step.update = update.cast<UpdateSpec>();
             if (!penalty.is_none()) o.spec.step.penalty = penalty.cast<PenaltySpec>();
             if (!schedule.is_none()) o.spec.schedule = schedule.cast<ScheduleSpec>();
             o.spec.batch_size = batch_size;
             o.spec.shuffle = shuffle;
             o.spec.seed = seed;
             if (!clip.is_none()) o.spec.clip = clip.cast<double>();
             if (!(o.spec.clip > 0.0)) fail("clip must be > 0");
             o.spec.step.intercept_decay = intercept_decay;
             o.spec.track_objective = track_objective;
             o.spec.step.track_norms = track_objective;
             o.skip = std::move(skip);
             o.spec.sklearn_arithmetic = sklearn_arithmetic;
             o.spec.sum_loss = sum_loss;
             return o;
           }),
           "loss"_a, "update"_a = py::none(), "penalty"_a = py::none(), "schedule"_a = py::none(),
           "batch_size"_a = 0, "shuffle"_a = 1, "seed"_a = 0, "clip"_a = py::none(),
           "intercept_decay"_a = 1.0, "track_objective"_a = false, "skip"_a = py::none(),
           "sklearn_arithmetic"_a = false, "sum_loss"_a = true)
      .def_property(
          "loss", [](const PyEpochOptions& o) { return o.spec.loss; },
          [](PyEpochOptions& o, const LossSpec& v) { o.spec.loss = v; })
      .def_property(
          "update", [](const PyEpochOptions& o) { return o.spec.step.update; },
          [](PyEpochOptions& o, const UpdateSpec& v) { o.spec.step.update = v; })
      .def_property(
          "penalty", [](const PyEpochOptions& o) { return o.spec.step.penalty; },
          [](PyEpochOptions& o, const PenaltySpec& v) { o.spec.step.penalty = v; })
      .def_property(
          "schedule", [](const PyEpochOptions& o) { return o.spec.schedule; },
          [](PyEpochOptions& o, const ScheduleSpec& v) { o.spec.schedule = v; })
      .def_property(
          "epoch", [](const PyEpochOptions& o) { return o.spec.epoch; },
          [](PyEpochOptions& o, std::uint64_t v) { o.spec.epoch = v; })
      .def_property(
          "seed", [](const PyEpochOptions& o) { return o.spec.seed; },
          [](PyEpochOptions& o, std::uint64_t v) { o.spec.seed = v; })
      .def_property(
          "batch_size", [](const PyEpochOptions& o) { return o.spec.batch_size; },
          [](PyEpochOptions& o, index_t v) { o.spec.batch_size = v; })
      .def_property(
          "shuffle", [](const PyEpochOptions& o) { return o.spec.shuffle; },
          [](PyEpochOptions& o, index_t v) { o.spec.shuffle = v; })
      .def_property_readonly("clip", [](const PyEpochOptions& o) { return o.spec.clip; })
      .def_property_readonly("intercept_decay",
                             [](const PyEpochOptions& o) { return o.spec.step.intercept_decay; })
      .def_property_readonly("track_objective",
                             [](const PyEpochOptions& o) { return o.spec.track_objective; })
      .def_property_readonly("sklearn_arithmetic",
                             [](const PyEpochOptions& o) { return o.spec.sklearn_arithmetic; })
      .def_readwrite("skip", &PyEpochOptions::skip)
      .def_readwrite("order", &PyEpochOptions::order,
                     "The rows to visit, in this order (int64 indices), instead of the shuffle; "
                     "None: the shuffle's order.");

  m.def(
      "xorshift_shuffle",
      [](py::array order, std::uint32_t seed) {
        if (order.ndim() != 1) fail("order must be a 1-d int64 array, got " + shape_str(order));
        std::int64_t* o = as_writable<std::int64_t>(order, "order");
        const index_t n = order.shape(0);
        const py::gil_scoped_release release;
        xorshift_shuffle(o, n, seed);
      },
      "order"_a.noconvert(), "seed"_a,
      R"pbdoc(Shuffle `order` in place as scikit-learn's SequentialDataset.shuffle(seed) does
        (Fisher-Yates driven by its 32-bit xorshift generator).)pbdoc");

  py::class_<Model>(m, "Model", R"pbdoc(
      A linear model being trained: weights W (k, d), intercept b (k,), step counter t, the
      running average of W from step average_start on (0: none), and the update rule's state.
      Float64, owned by the core; W and b are read and set through copies.)pbdoc")
      .def(py::init([](index_t k, index_t d, bool intercept) {
             if (k < 1 || d < 0) fail("a model needs k >= 1 outputs and d >= 0 features");
             Model M;
             model_reset(M, k, d, intercept);
             return M;
           }),
           "k"_a, "d"_a, "intercept"_a)
      .def_readonly("k", &Model::k)
      .def_readonly("d", &Model::d)
      .def_readonly("intercept", &Model::intercept)
      .def_readwrite("t", &Model::t, "Steps taken + 1 (scikit-learn's t_); the schedules read it.")
      .def_readwrite("average_start", &Model::average_start,
                     "Average W from this step on (0: no averaging).")
      .def_readonly("scale", &Model::scale)
      .def(
          "coef",
          [](const Model& M) {
            py::array_t<double> W({M.k, M.d});
            model_weights(M, W.mutable_data());
            return W;
          },
          "W as a new (k, d) array.")
      .def(
          "bias", [](const Model& M) { return to_array(M.b, -1, 0); }, "b as a new (k,) array.")
      .def(
          "average_coef",
          [](const Model& M) {
            py::array_t<double> W({M.k, M.d});
            model_average(M, W.mutable_data());
            return W;
          },
          "The average of W (zeros before averaging starts).")
      .def(
          "average_bias", [](const Model& M) { return to_array(M.ab, -1, 0); }, "The average of b.")
      .def(
          "set_params",
          [](Model& M, const py::object& W, const py::object& b) {
            from_array(M.V, W, "W", static_cast<std::size_t>(M.k * M.d));
            if (M.V.empty()) M.V.assign(static_cast<std::size_t>(M.k * M.d), 0.0);
            M.scale = 1.0;
            if (!b.is_none()) from_array(M.b, b, "b", static_cast<std::size_t>(M.k));
            std::fill(M.AV.begin(), M.AV.end(), 0.0);
            std::fill(M.ab.begin(), M.ab.end(), 0.0);
            M.avg_a = 0.0;
            M.avg_b = 1.0;
          },
          "W"_a, "b"_a = py::none(),
          "Set W (k, d) and b (k,) (float64); the average starts afresh.")
      .def("fold", &model_fold, "Fold the scale into the weights (a no-op on their values).")
      .def("compute_norms", &model_norms, "Recompute ‖W‖² and ‖W‖₁ (scikit-learn's objective).")
      .def(
          "set_rule_state",
          [](Model& M, const py::object& S0, const py::object& Sb0) {
            from_array(M.S0, S0, "S0", static_cast<std::size_t>(M.k * M.d));
            from_array(M.Sb0, Sb0, "Sb0", static_cast<std::size_t>(M.k));
          },
          "S0"_a, "Sb0"_a,
          "Set the update rule's first state array for W (k, d) and b (k,) (float64): the "
          "scales of the normalized rule.")
      .def(
          "clear_state",
          [](Model& M) {
            M.S0.clear();
            M.S1.clear();
            M.Sb0.clear();
            M.Sb1.clear();
            M.rule_steps = 0.0;
          },
          "Forget the update rule's state (velocity, moments).")
      .def(
          "step",
          [](Model& M, const py::array& G, const py::array& gb, double rows, double lr,
             const PyEpochOptions& opts) {
            const Matrix<double> g = as_matrix<double>(G, "G");
            if (g.rows != M.k || g.cols != M.d || (g.rows > 1 && g.ld != g.cols))
              fail("G must be C-contiguous with shape (" + std::to_string(M.k) + ", " +
                   std::to_string(M.d) + ")");
            const double* gbp = as_vector<double>(gb, "gb", M.k);
            if (!(rows > 0)) fail("rows must be > 0");
            if (!(lr > 0.0) || !std::isfinite(lr)) fail("lr must be a finite number > 0");
            dense_step(M, opts.spec.step, g.data, gbp, rows, lr, true);
          },
          "G"_a, "gb"_a, "rows"_a, "lr"_a, "options"_a,
          R"pbdoc(One step from the gradient sums G = Σ dz xᵀ (k, d) and gb = Σ dz (k,) of
            `rows` rows, at learning rate lr, with the options' update rule and penalty.)pbdoc")
      .def("copy", [](const Model& M) { return Model(M); })
      .def(
          "assign", [](Model& M, const Model& other) { M = other; }, "other"_a,
          "Take every field of another model (this object stays the same).")
      .def("state", &model_state, "Every field as a dict of numbers and arrays.")
      .def_static("from_state", &model_from_state, "state"_a)
      .def(py::pickle(&model_state, [](const py::dict& s) { return model_from_state(s); }));

  py::class_<Trainer>(m, "Trainer", R"pbdoc(
      Runs SGD epochs in C++ over one data set (X and its targets). Holds buffers reused from
      one epoch to the next; not meant to be shared between threads.)pbdoc")
      .def(py::init<py::object, PyTargets>(), "X"_a, "targets"_a)
      .def("epoch", &Trainer::epoch, "model"_a, "options"_a, "poll"_a = false, "threads"_a = 0,
           R"pbdoc(
             One epoch of mini-batch SGD, updating the model in place; returns its EpochStats.
             poll=True checks for Ctrl-C every few million multiply-adds.)pbdoc");
}

}  // namespace fastsgd::bind
