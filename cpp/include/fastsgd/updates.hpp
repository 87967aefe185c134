// How a step moves the parameters: the update rule, the penalty and the
// learning-rate schedule. Each update rule is one type below plus one line in
// FASTSGD_UPDATES; the step (step.hpp) reads nothing else about it.
//
// An update rule gives
//   lazy(spec): whether the rule is plain w ← w − lr·g. The core then keeps
//     w as a scale times a vector, applies L2 by the scale and averages lazily,
//     so that a step on sparse rows costs O(nnz), never O(d);
//   n_state: arrays of per-parameter state (velocity, moments);
//   prepare(spec, lr, count) → the constants of the step numbered `count` (1, 2, ...);
//   apply(step, w, g, s0, s1) → the new w from its gradient g, updating its state.
// The gradient g includes the L2 penalty's α₂·w (torch's weight_decay).
#pragma once

#include <cmath>
#include <cstdint>

#include "fastsgd/base.hpp"

namespace fastsgd {

// clang-format off
#define FASTSGD_UPDATES(X) \
  X(sgd, Sgd)              \
  X(adagrad, AdaGrad)      \
  X(adam, Adam)            \
  X(normalized, Normalized)
// clang-format on

enum class UpdateId : int {
#define FASTSGD_UPDATE_ENUM(id, Type) id,
  FASTSGD_UPDATES(FASTSGD_UPDATE_ENUM)
#undef FASTSGD_UPDATE_ENUM
};

// Every rule's parameters (each rule reads its own).
struct UpdateSpec {
  UpdateId id = UpdateId::sgd;
  double momentum = 0.0;   // sgd
  double dampening = 0.0;  // sgd
  bool nesterov = false;   // sgd
  double beta1 = 0.9;      // adam
  double beta2 = 0.999;    // adam
  double eps = 1e-8;       // adagrad, adam
};

// The penalty α·((1 − ρ)·½‖w‖² + ρ·‖w‖₁) on the weights (never the intercept):
// l2 = α(1 − ρ) and l1 = αρ. L2 shrinks w by (1 − lr·l2) each step (its
// gradient l2·w); L1 is the cumulative truncated gradient of Tsuruoka, Tsujii
// and Ananiadou (2009): each weight is pulled towards 0, never across it, by
// the penalty accumulated since it last moved.
// The penalty l2·½‖w‖² + l1·‖w‖₁, and the alpha and l1_ratio it came from
// (l2 = alpha·(1 − l1_ratio), l1 = alpha·l1_ratio; alpha 0 without a penalty), which
// the step in scikit-learn's order of operations (sequential.hpp) multiplies itself.
struct PenaltySpec {
  double l2 = 0.0;
  double l1 = 0.0;
  double alpha = 0.0;
  double l1_ratio = 0.0;
};

inline namespace FASTSGD_ISA {

// torch.optim.SGD's rule (momentum μ, dampening τ; the velocity starts at 0):
//   v ← μ·v + (1 − τ)·g;  g ← g + μ·v if Nesterov else v;  w ← w − lr·g
// With μ = 0 it is plain SGD, which the core applies lazily.
struct Sgd {
  static constexpr int n_state = 1;
  static bool lazy(const UpdateSpec& u) { return u.momentum == 0.0; }
  struct Step {
    double lr, mu, damp;
    bool nesterov;
  };
  static Step prepare(const UpdateSpec& u, double lr, double) {
    return {lr, u.momentum, 1.0 - u.dampening, u.nesterov};
  }
  static double apply(const Step& s, double w, double g, double* v, double*) {
    const double vi = s.mu * *v + s.damp * g;
    *v = vi;
    return w - s.lr * (s.nesterov ? g + s.mu * vi : vi);
  }
};

// AdaGrad (torch.optim.Adagrad without lr decay): G ← G + g²; w ← w − lr·g / (√G + eps).
struct AdaGrad {
  static constexpr int n_state = 1;
  static bool lazy(const UpdateSpec&) { return false; }
  struct Step {
    double lr, eps;
  };
  static Step prepare(const UpdateSpec& u, double lr, double) { return {lr, u.eps}; }
  static double apply(const Step& s, double w, double g, double* G, double*) {
    const double G2 = *G + g * g;
    *G = G2;
    return w - s.lr * g / (std::sqrt(G2) + s.eps);
  }
};

// Adam (torch.optim.Adam): m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²;
// w ← w − lr·(m/(1 − β₁ᵗ)) / (√(v/(1 − β₂ᵗ)) + eps).
struct Adam {
  static constexpr int n_state = 2;
  static bool lazy(const UpdateSpec&) { return false; }
  struct Step {
    double lr, b1, b2, c1, c2, eps;
  };
  static Step prepare(const UpdateSpec& u, double lr, double count) {
    return {lr,
            u.beta1,
            u.beta2,
            1.0 / (1.0 - std::pow(u.beta1, count)),
            1.0 / (1.0 - std::pow(u.beta2, count)),
            u.eps};
  }
  static double apply(const Step& s, double w, double g, double* m, double* v) {
    const double mi = s.b1 * *m + (1.0 - s.b1) * g;
    const double vi = s.b2 * *v + (1.0 - s.b2) * (g * g);
    *m = mi;
    *v = vi;
    return w - s.lr * (mi * s.c1) / (std::sqrt(vi * s.c2) + s.eps);
  }
};

// Normalised SGD: w ← w − lr·p·g, where p (the state) is one over the mean square of
// the weight's feature (1 for the intercept), set from the data before the first step
// (Model::S0, Sb0; the driver does it). It is plain SGD on the features scaled to a mean
// square of 1, so a column's units do not change the fit: the idea of Vowpal Wabbit's
// normalised update, with the scales measured in one pass over the data instead of
// tracked row by row.
struct Normalized {
  static constexpr int n_state = 1;
  static bool lazy(const UpdateSpec&) { return false; }
  struct Step {
    double lr;
  };
  static Step prepare(const UpdateSpec&, double lr, double) { return {lr}; }
  static double apply(const Step& s, double w, double g, double* p, double*) {
    return w - s.lr * (*p * g);
  }
};

// Calls f(rule) with a value of the spec's rule type.
template <class F>
decltype(auto) visit_update(const UpdateSpec& spec, F&& f) {
  switch (spec.id) {
#define FASTSGD_UPDATE_CASE(id, Type) \
  case UpdateId::id:                  \
    return f(Type{});
    FASTSGD_UPDATES(FASTSGD_UPDATE_CASE)
#undef FASTSGD_UPDATE_CASE
  }
  return f(Sgd{});
}

// torch.optim.SGD's step on arrays, in place (the public fastsgd.sgd_step): the
// rule above with the weight decay's gradient wd·w; v (the velocity) is only
// read and written when momentum > 0.
template <class T>
void sgd_step_arrays(T* w, const T* grad, T* v, index_t n, const UpdateSpec& u, double lr,
                     double weight_decay) {
  const Sgd::Step s = Sgd::prepare(u, lr, 0.0);
  for (index_t i = 0; i < n; ++i) {
    const double wi = static_cast<double>(w[i]);
    const double g = static_cast<double>(grad[i]) + weight_decay * wi;
    if (u.momentum == 0.0) {
      w[i] = static_cast<T>(wi - lr * g);
    } else {
      double vi = static_cast<double>(v[i]);
      w[i] = static_cast<T>(Sgd::apply(s, wi, g, &vi, nullptr));
      v[i] = static_cast<T>(vi);
    }
  }
}

inline bool update_is_lazy(const UpdateSpec& spec) {
  return visit_update(spec, [&](auto rule) { return decltype(rule)::lazy(spec); });
}
inline int update_state_count(const UpdateSpec& spec) {
  return visit_update(spec, [](auto rule) { return decltype(rule)::n_state; });
}

}  // namespace FASTSGD_ISA

constexpr const char* kUpdateNames[] = {
#define FASTSGD_UPDATE_NAME(id, Type) #id,
    FASTSGD_UPDATES(FASTSGD_UPDATE_NAME)
#undef FASTSGD_UPDATE_NAME
};

}  // namespace fastsgd
