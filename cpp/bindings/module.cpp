#include "pybind.hpp"

PYBIND11_MODULE(_core, m, py::mod_gil_not_used()) {
  m.doc() = R"pbdoc(
    fastsgd._core: the compiled core. Use the public functions in ``fastsgd``;
    these take exactly-typed, validated arrays and release the GIL.
  )pbdoc";
  fastsgd::bind::register_sparse(m);
  fastsgd::bind::register_specs(m);
  fastsgd::bind::register_kernels(m);
  fastsgd::bind::register_train(m);
  fastsgd::bind::register_classify(m);
  fastsgd::bind::register_system(m);
  m.attr("__version__") = FASTSGD_VERSION;
}
