// Bindings of the training loop: a Trainer runs whole epochs in C++ with the
// GIL released, polling for Ctrl-C (KeyboardInterrupt) every few steps.
#include "fastsgd/train.hpp"

#include <cmath>

#include "pybind.hpp"

namespace fastsgd::bind {
namespace {

struct Poll {
  bool signalled = false;
};

bool check_signals(void* ctx) {
  const py::gil_scoped_acquire acquire;
  if (PyErr_CheckSignals() != 0) {  // leaves the exception set for the caller
    static_cast<Poll*>(ctx)->signalled = true;
    return true;
  }
  return false;
}

double* state_array(const py::object& a, const char* name, index_t size, bool required) {
  if (a.is_none()) {
    if (required) fail(std::string(name) + " is required");
    return nullptr;
  }
  py::array arr = a.cast<py::array>();
  if (arr.size() != size)
    fail(std::string(name) + " must have " + std::to_string(size) + " elements, got " +
         shape_str(arr));
  return as_writable<double>(arr, name);
}

class Trainer {
 public:
  py::tuple epoch(const py::array& X, const py::array& Y, const py::object& Wt, const py::object& b,
                  const py::object& vW, const py::object& vb, int loss_id, std::int64_t batch_size,
                  int shuffle, std::uint64_t seed, std::uint64_t epoch, double lr, double momentum,
                  double dampening, bool nesterov, double weight_decay, bool fit_intercept,
                  bool poll, int threads) {
    ws_.kernel.threads = threads;
    return py::isinstance<py::array_t<float>>(X) && X.dtype().kind() == 'f'
               ? run<float>(X, Y, Wt, b, vW, vb, loss_id, batch_size, shuffle, seed, epoch, lr,
                            momentum, dampening, nesterov, weight_decay, fit_intercept, poll)
               : run<double>(X, Y, Wt, b, vW, vb, loss_id, batch_size, shuffle, seed, epoch, lr,
                             momentum, dampening, nesterov, weight_decay, fit_intercept, poll);
  }

 private:
  template <class T>
  py::tuple run(const py::array& X, const py::array& Y, const py::object& Wt, const py::object& b,
                const py::object& vW, const py::object& vb, int loss_id, std::int64_t batch_size,
                int shuffle, std::uint64_t seed, std::uint64_t epoch, double lr, double momentum,
                double dampening, bool nesterov, double weight_decay, bool fit_intercept,
                bool poll) {
    if (loss_id < 0 || loss_id > 2) fail("loss must be 0 (mse), 1 (softmax) or 2 (logistic)");
    const Loss loss = static_cast<Loss>(loss_id);
    const Matrix<T> x = as_matrix<T>(X, "X");
    const py::array Wta = Wt.cast<py::array>();
    if (Wta.ndim() != 2 || Wta.shape(1) != x.cols)
      fail("Wt must have shape (k, " + std::to_string(x.cols) + "), got " + shape_str(Wta));
    const index_t k = Wta.shape(0), d = x.cols;
    Problem<T> p;
    p.X = x.data;
    p.ldx = x.ld;
    p.d = d;
    p.k = k;
    if (loss == Loss::mse) {
      const Matrix<T> y = as_matrix<T>(Y, "Y");
      if (y.rows != x.rows || y.cols != k)
        fail("Y must have shape (" + std::to_string(x.rows) + ", " + std::to_string(k) + "), got " +
             shape_str(Y));
      p.Y = y.data;
      p.ldy = y.ld;
    } else {
      if (Y.ndim() != 1 || Y.shape(0) != x.rows)
        fail("labels must have shape (" + std::to_string(x.rows) + ",), got " + shape_str(Y));
      p.labels = as_contiguous<std::int64_t>(Y, "labels");
    }
    TrainState st;
    st.Wt = state_array(Wt, "Wt", k * d, true);
    st.b = state_array(b, "b", k, fit_intercept);
    st.vW = state_array(vW, "vW", k * d, momentum != 0.0);
    st.vb = state_array(vb, "vb", k, momentum != 0.0 && fit_intercept);
    if (!(lr > 0.0) || !std::isfinite(lr)) fail("lr must be a finite number > 0");
    if (batch_size < 0) fail("batch_size must be >= 0 (0: the full batch)");

    EpochSpec spec;
    spec.batch_size = batch_size;
    if (shuffle < 0) fail("shuffle must be 0 (in order), 1 (rows) or a block size > 1");
    spec.shuffle = shuffle != 0;
    spec.block_rows = shuffle > 1 ? shuffle : 1;
    spec.seed = seed;
    spec.epoch = epoch;
    spec.sgd = SgdOptions{lr, momentum, dampening, nesterov, weight_decay};
    spec.fit_intercept = fit_intercept;
    Poll pl;
    if (poll) {
      const index_t B = batch_size > 0 && batch_size < x.rows ? batch_size : x.rows;
      const index_t work = (B > 0 ? B : 1) * (d > 0 ? d : 1) * (k > 0 ? k : 1);
      const index_t every = (index_t{1} << 22) / work;  // about every 4 M multiply-adds
      spec.poll_every =
          every > 4096 ? 4096 : (every > 0 ? every : 1);  // tiny batches: every 4096 steps
      spec.should_stop = &check_signals;
      spec.poll_context = &pl;
    }
    EpochStats stats;
    {
      const py::gil_scoped_release release;
      stats = train_epoch(p, x.rows, loss, st, spec, ws_);
    }
    if (pl.signalled) throw py::error_already_set();
    return py::make_tuple(stats.steps, stats.mean_batch_loss);
  }

  TrainWorkspace ws_;
};

}  // namespace

void register_train(py::module_& m) {
  py::class_<Trainer>(m, "Trainer", R"pbdoc(
      Runs SGD epochs in C++. Holds buffers reused from one epoch to the next;
      not meant to be shared between threads.)pbdoc")
      .def(py::init<>())
      .def("epoch", &Trainer::epoch, "X"_a.noconvert(), "Y"_a.noconvert(), "Wt"_a, "b"_a.none(true),
           "vW"_a.none(true), "vb"_a.none(true), "loss"_a, "batch_size"_a, "shuffle"_a, "seed"_a,
           "epoch"_a, "lr"_a, "momentum"_a, "dampening"_a, "nesterov"_a, "weight_decay"_a,
           "fit_intercept"_a, "poll"_a, "threads"_a = 0,
           R"pbdoc(
             One epoch of mini-batch SGD over (X, Y), updating Wt (k, d), b (k,) and the
             momentum buffers vW, vb (float64, C-contiguous) in place.
             shuffle: 0 keeps the rows in order, 1 shuffles rows, k > 1 shuffles blocks of
             k consecutive rows. Returns (steps, mean batch loss).)pbdoc");
}

}  // namespace fastsgd::bind
