// Bindings of the parts a fit is made of: the loss, the update rule, the
// penalty and the schedule, each a small bound struct built from names and
// numbers, so that no bare integer ever names a loss or a rule. The names come
// from the core's lists (FASTSGD_LOSSES, FASTSGD_UPDATES): adding a loss or a
// rule there adds it here.
#include <cmath>
#include <string>
#include <vector>

#include "fastsgd/schedule.hpp"
#include "fastsgd/updates.hpp"
#include "pybind.hpp"

namespace fastsgd::bind {
namespace {

std::string joined_loss_names() {
  std::string s;
  for (const LossId id : kAllLosses) s += (s.empty() ? "" : ", ") + std::string(loss_info(id).name);
  return s;
}

LossId find_loss(const std::string& name) {
  for (const LossId id : kAllLosses)
    if (name == loss_info(id).name) return id;
  fail("unknown loss '" + name + "'; the core has " + joined_loss_names());
}

LossSpec make_loss(const std::string& name, const std::vector<double>& params) {
  {
    const LossId id = find_loss(name);
    const LossInfo info = loss_info(id);
    if (static_cast<int>(params.size()) != info.n_params)
      fail("the " + name + " loss takes " + std::to_string(info.n_params) + " parameter(s), got " +
           std::to_string(params.size()));
    LossSpec spec;
    spec.id = id;
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (!std::isfinite(params[i]))
        fail("the " + name + " loss's parameter " + info.param_names[i] + " must be finite");
      spec.param[i] = params[i];
    }
    return spec;
  }
}

py::tuple loss_params(const LossSpec& s) {
  const LossInfo info = loss_info(s.id);
  py::list out;
  for (int i = 0; i < info.n_params; ++i) out.append(s.param[i]);
  return py::tuple(out);
}

UpdateId update_id(const std::string& name) {
  int i = 0;
  for (const char* n : kUpdateNames) {
    if (name == n) return static_cast<UpdateId>(i);
    ++i;
  }
  std::string all;
  for (const char* n : kUpdateNames) all += (all.empty() ? "" : ", ") + std::string(n);
  fail("unknown update rule '" + name + "'; the core has " + all);
}

ScheduleId schedule_id(const std::string& name) {
  if (name == "constant") return ScheduleId::constant;
  if (name == "optimal") return ScheduleId::optimal;
  if (name == "invscaling") return ScheduleId::invscaling;
  fail("unknown schedule '" + name + "'; the core has constant, optimal, invscaling");
}
const char* schedule_name(ScheduleId id) {
  switch (id) {
    case ScheduleId::optimal:
      return "optimal";
    case ScheduleId::invscaling:
      return "invscaling";
    case ScheduleId::constant:
      break;
  }
  return "constant";
}

}  // namespace

void register_specs(py::module_& m) {
  py::class_<LossSpec>(m, "LossSpec", R"pbdoc(
      A loss and its parameters, by the core's name for it (see loss_names()).)pbdoc")
      .def(py::init(&make_loss), "name"_a, "params"_a = std::vector<double>{})
      .def_property_readonly("name", [](const LossSpec& s) { return loss_info(s.id).name; })
      .def_property_readonly("params", &loss_params)
      .def_property_readonly("joint", [](const LossSpec& s) { return loss_info(s.id).joint; })
      .def_property_readonly("curvature", &loss_curvature,
                             "A bound on the loss's second derivative in a score.")
      .def(
          "value_deriv",
          [](const LossSpec& s, double z, double y) {
            double v = 0.0, dv = 0.0;
            loss_at(s, z, y, &v, &dv);
            return py::make_tuple(v, dv);
          },
          "z"_a, "y"_a, "(loss, dloss/dz) of one score z against target y (k = 1).")
      .def("__repr__",
           [](const LossSpec& s) {
             return "LossSpec('" + std::string(loss_info(s.id).name) + "', " +
                    py::repr(loss_params(s)).cast<std::string>() + ")";
           })
      .def(py::pickle(
          [](const LossSpec& s) { return py::make_tuple(loss_info(s.id).name, loss_params(s)); },
          [](const py::tuple& t) {
            return make_loss(t[0].cast<std::string>(), t[1].cast<std::vector<double>>());
          }));
  m.def(
      "loss_names",
      []() {
        std::vector<std::string> out;
        for (const LossId id : kAllLosses) out.emplace_back(loss_info(id).name);
        return out;
      },
      "The names of the losses the core implements.");
  m.def(
      "loss_info",
      [](const std::string& name) {
        const LossInfo info = loss_info(find_loss(name));
        py::list params;
        for (int i = 0; i < info.n_params; ++i) params.append(info.param_names[i]);
        py::dict d;
        d["name"] = info.name;
        d["formula"] = info.doc;
        d["joint"] = info.joint;
        d["params"] = params;
        d["label_pos"] = info.label_pos;
        d["label_neg"] = info.label_neg;
        return d;
      },
      "name"_a, "What the core says of a loss: formula, joint, parameter names, label values.");

  py::class_<UpdateSpec>(m, "UpdateSpec", "An update rule and its parameters.")
      .def(py::init([](const std::string& name, double momentum, double dampening, bool nesterov,
                       double beta1, double beta2, double eps) {
             UpdateSpec u;
             u.id = update_id(name);
             u.momentum = momentum;
             u.dampening = dampening;
             u.nesterov = nesterov;
             u.beta1 = beta1;
             u.beta2 = beta2;
             u.eps = eps;
             return u;
           }),
           "name"_a = "sgd", "momentum"_a = 0.0, "dampening"_a = 0.0, "nesterov"_a = false,
           "beta1"_a = 0.9, "beta2"_a = 0.999, "eps"_a = 1e-8)
      .def_property_readonly(
          "name", [](const UpdateSpec& u) { return kUpdateNames[static_cast<int>(u.id)]; })
      .def_readonly("momentum", &UpdateSpec::momentum)
      .def_readonly("dampening", &UpdateSpec::dampening)
      .def_readonly("nesterov", &UpdateSpec::nesterov)
      .def_readonly("beta1", &UpdateSpec::beta1)
      .def_readonly("beta2", &UpdateSpec::beta2)
      .def_readonly("eps", &UpdateSpec::eps)
      .def_property_readonly("lazy", &update_is_lazy,
                             "Plain SGD: applied lazily (O(nnz) steps on sparse rows).");
  m.def(
      "update_names",
      []() { return std::vector<std::string>(std::begin(kUpdateNames), std::end(kUpdateNames)); },
      "The names of the update rules the core implements.");

  py::class_<PenaltySpec>(m, "PenaltySpec", R"pbdoc(
      The penalty alpha·((1 − l1_ratio)·½‖w‖² + l1_ratio·‖w‖₁) on the weights, kept as
      l2 = alpha·(1 − l1_ratio) and l1 = alpha·l1_ratio.)pbdoc")
      .def(py::init([](double alpha, double l1_ratio) {
             if (!(alpha >= 0.0) || !std::isfinite(alpha)) fail("alpha must be finite and >= 0");
             if (!(l1_ratio >= 0.0 && l1_ratio <= 1.0)) fail("l1_ratio must be in [0, 1]");
             return PenaltySpec{alpha * (1.0 - l1_ratio), alpha * l1_ratio, alpha, l1_ratio};
           }),
           "alpha"_a = 0.0, "l1_ratio"_a = 0.0)
      .def_readonly("l2", &PenaltySpec::l2)
      .def_readonly("l1", &PenaltySpec::l1)
      .def_readonly("alpha", &PenaltySpec::alpha)
      .def_readonly("l1_ratio", &PenaltySpec::l1_ratio);

  py::class_<ScheduleSpec>(m, "ScheduleSpec", R"pbdoc(
      The learning rate of step t: constant eta0, optimal 1/(alpha·(t0 + t − 1)),
      invscaling eta0/t^power_t.)pbdoc")
      .def(py::init(
               [](const std::string& name, double eta0, double alpha, double power_t, double t0) {
                 return ScheduleSpec{schedule_id(name), eta0, alpha, power_t, t0};
               }),
           "name"_a = "constant", "eta0"_a = 0.1, "alpha"_a = 0.0, "power_t"_a = 0.5, "t0"_a = 1.0)
      .def_property_readonly("name", [](const ScheduleSpec& s) { return schedule_name(s.id); })
      .def_readonly("eta0", &ScheduleSpec::eta0)
      .def_readonly("alpha", &ScheduleSpec::alpha)
      .def_readonly("power_t", &ScheduleSpec::power_t)
      .def_readonly("t0", &ScheduleSpec::t0)
      .def("rate", &schedule_rate, "t"_a, "The learning rate of step t.");
  m.def("optimal_t0", &optimal_t0, "loss"_a, "alpha"_a,
        "The optimal schedule's t0 for a loss and alpha (Bottou's heuristic, as scikit-learn).");
}

}  // namespace fastsgd::bind
