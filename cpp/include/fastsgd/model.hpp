// The state of a linear model being trained, owned by the core: the weights
// (as a scale times a vector, so that L2 shrinkage costs O(1)), the intercept,
// the step counter, the running average of the weights, the L1 penalty's
// bookkeeping and the update rule's state. All float64.
#pragma once

#include <cmath>
#include <vector>

#include "fastsgd/base.hpp"

namespace fastsgd {

struct Model {
  index_t k = 1, d = 0;
  bool intercept = false;
  // W = scale · V, (k, d) row-major
  std::vector<double> V;
  double scale = 1.0;
  std::vector<double> b;  // (k,), zeros without an intercept
  // t = steps taken + 1, as in scikit-learn (its t_); the schedules read it.
  double t = 1.0;
  double rule_steps = 0.0;  // steps of a stateful update rule (Adam's bias correction)

  // Averaging (ASGD) from step `average_start` on (0: off). The average of W is
  // (AV + avg_a·V) / avg_b, kept so that a step updates it where V changes only
  // (Bottou's "tricks" and scikit-learn's weight vector); the intercept's is ab.
  double average_start = 0.0;
  std::vector<double> AV, ab;
  double avg_a = 0.0, avg_b = 1.0;

  // L1: u is the penalty each weight could have received so far, Q[j] what it did.
  double u = 0.0;
  std::vector<double> Q;

  // The update rule's per-parameter state, for W and for b.
  std::vector<double> S0, S1, Sb0, Sb1;

  // scikit-learn's running norms for its objective (see step.hpp).
  double sq_norm = 0.0, l1_norm = 0.0;

  index_t size() const { return k * d; }
  bool averaging() const { return average_start > 0.0; }
};

// The functions on a model are compiled per instruction set like every other
// code path of the kernels (base.hpp): types are shared, code is not.
inline namespace FASTSGD_ISA {

inline void model_reset(Model& M, index_t k, index_t d, bool intercept) {
  M.k = k;
  M.d = d;
  M.intercept = intercept;
  M.V.assign(static_cast<std::size_t>(k * d), 0.0);
  M.b.assign(static_cast<std::size_t>(k), 0.0);
  M.scale = 1.0;
  M.t = 1.0;
  M.rule_steps = 0.0;
  M.AV.assign(static_cast<std::size_t>(k * d), 0.0);
  M.ab.assign(static_cast<std::size_t>(k), 0.0);
  M.avg_a = 0.0;
  M.avg_b = 1.0;
  M.u = 0.0;
  M.Q.clear();
  M.S0.clear();
  M.S1.clear();
  M.Sb0.clear();
  M.Sb1.clear();
  M.sq_norm = M.l1_norm = 0.0;
}

// Folds the scale into V (and the lazy average into AV): afterwards scale is 1,
// V = W and AV the average.
inline void model_fold(Model& M) {
  const std::size_t n = M.V.size();
  if (M.avg_a != 0.0 || M.avg_b != 1.0) {
    for (std::size_t j = 0; j < n; ++j) M.AV[j] = (M.AV[j] + M.avg_a * M.V[j]) / M.avg_b;
    M.avg_a = 0.0;
    M.avg_b = 1.0;
  }
  if (M.scale != 1.0) {
    for (std::size_t j = 0; j < n; ++j) M.V[j] *= M.scale;
    M.scale = 1.0;
  }
}

// Scales W by c (L2 shrinkage): O(1), folding when the scale gets small.
inline void model_shrink(Model& M, double c) {
  M.scale *= c;
  M.sq_norm *= c * c;
  M.l1_norm *= std::fabs(c);
  if (M.scale < 1e-9) model_fold(M);
}

// W, and its average, into (k, d) arrays.
inline void model_weights(const Model& M, double* W) {
  const std::size_t n = M.V.size();
  for (std::size_t j = 0; j < n; ++j) W[j] = M.scale * M.V[j];
}
inline void model_average(const Model& M, double* W) {
  const std::size_t n = M.V.size();
  for (std::size_t j = 0; j < n; ++j) W[j] = (M.AV[j] + M.avg_a * M.V[j]) / M.avg_b;
}

// ‖W‖² and ‖W‖₁ exactly (scikit-learn computes them when a fit starts).
inline void model_norms(Model& M) {
  double sq = 0.0, l1 = 0.0;
  for (const double v : M.V) {
    sq += v * v;
    l1 += std::fabs(v);
  }
  M.sq_norm = sq * (M.scale * M.scale);
  M.l1_norm = l1 * std::fabs(M.scale);
}

// Makes sure the state arrays of a rule with n_state arrays, and of L1, exist.
inline void model_ensure_state(Model& M, int n_state, bool l1) {
  const auto n = static_cast<std::size_t>(M.k * M.d), nb = static_cast<std::size_t>(M.k);
  if (n_state >= 1 && M.S0.size() != n) {
    M.S0.assign(n, 0.0);
    M.Sb0.assign(nb, 0.0);
  }
  if (n_state >= 2 && M.S1.size() != n) {
    M.S1.assign(n, 0.0);
    M.Sb1.assign(nb, 0.0);
  }
  if (l1 && M.Q.size() != n) M.Q.assign(n, 0.0);
}

}  // namespace FASTSGD_ISA

}  // namespace fastsgd
