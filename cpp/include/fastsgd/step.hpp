// One step of training: the penalty, the update rule and the running average
// applied to a model from the gradient of one batch.
//
// The order is scikit-learn's (_sgd_fast.pyx), so that a batch of one row
// takes exactly its step:
//   1. L2: W ← (1 − lr·l2)·W          (plain SGD: a change of the scale only)
//   2. the update from the batch's gradient (plain SGD: W ← W − lr·G/m;
//      another rule: its own step from G/m + l2·W, the L2 penalty's gradient)
//   3. the average of W takes in the new W (from step average_start on)
//   4. L1: each weight pulled towards 0 by its outstanding penalty
// and the step counter t grows by one.
#pragma once

#include <cmath>

#include "fastsgd/model.hpp"
#include "fastsgd/updates.hpp"

namespace fastsgd {

struct StepSpec {
  UpdateSpec update;
  PenaltySpec penalty;
  double intercept_decay = 1.0;  // the intercept's step is multiplied by it (sparse data: 0.01)
  bool track_norms = false;      // keep Model::sq_norm, l1_norm (scikit-learn's objective)
};

inline namespace FASTSGD_ISA {

// The average takes in the current W and b: ā ← ā + (w − ā)/num with
// num = t − start + 1, kept lazily (the coordinates were adjusted as V moved).
inline void average_in(Model& M) {
  const double num = M.t - M.average_start + 1.0;
  const double mu = 1.0 / num;
  if (num > 1.0) M.avg_b /= (1.0 - mu);
  M.avg_a += mu * M.avg_b * M.scale;
  for (index_t c = 0; c < M.k; ++c) {
    double& ab = M.ab[static_cast<std::size_t>(c)];
    ab += (M.b[static_cast<std::size_t>(c)] - ab) / num;
  }
}

// L1 on weights j in [j0, j1) (all the weights a dense step touched): the
// cumulative truncated gradient.
inline void l1_truncate(Model& M, index_t j0, index_t j1) {
  const double s = M.scale, u = M.u;
  double* V = M.V.data();
  double* Q = M.Q.data();
  for (index_t j = j0; j < j1; ++j) {
    const double z = V[j];
    if (s * z > 0.0) {
      const double v = z - (u + Q[j]) / s;
      V[j] = v > 0.0 ? v : 0.0;
    } else if (s * z < 0.0) {
      const double v = z + (u - Q[j]) / s;
      V[j] = v < 0.0 ? v : 0.0;
    }
    Q[j] += s * (V[j] - z);
  }
}

// V += c·G over every weight (plain SGD), the lazy average following (AV −= a·Δ).
template <bool Avg, bool Norms>
inline void plain_add(Model& M, const double* G, double c) {
  const index_t n = M.size();
  double* V = M.V.data();
  double* AV = M.AV.data();
  const double a = M.avg_a;
  double sq = 0.0, l1 = 0.0;
  for (index_t j = 0; j < n; ++j) {
    const double dv = c * G[j];
    const double v = V[j] + dv;
    V[j] = v;
    if constexpr (Avg) AV[j] -= a * dv;
    if constexpr (Norms) {
      sq += v * v;
      l1 += std::fabs(v);
    }
  }
  if constexpr (Norms) {
    M.sq_norm = sq * (M.scale * M.scale);
    M.l1_norm = l1 * M.scale;
  }
}

// Every weight takes the rule's step from its gradient g = G/m + l2·w.
template <class Rule, bool Avg>
inline void rule_step(Model& M, const typename Rule::Step& P, const double* G, double inv_m,
                      double l2) {
  const index_t n = M.size();
  double* V = M.V.data();
  double* AV = M.AV.data();
  double* S0 = M.S0.empty() ? nullptr : M.S0.data();
  double* S1 = M.S1.empty() ? nullptr : M.S1.data();
  const double a = M.avg_a;
  for (index_t j = 0; j < n; ++j) {
    const double w = V[j];
    const double g = G[j] * inv_m + l2 * w;
    const double w1 =
        Rule::apply(P, w, g, S0 != nullptr ? S0 + j : nullptr, S1 != nullptr ? S1 + j : nullptr);
    V[j] = w1;
    if constexpr (Avg) AV[j] -= a * (w1 - w);
  }
}

// One step from the gradient sums of a batch of m rows: G (k·d) = Σ dz·xᵀ and
// gb (k) = Σ dz, at learning rate lr. moved = false says every dz was 0 (then
// plain SGD skips its add, as scikit-learn does).
inline void dense_step(Model& M, const StepSpec& s, const double* G, const double* gb, double m,
                       double lr, bool moved) {
  const double l2 = s.penalty.l2, l1 = s.penalty.l1;
  const bool avg = M.averaging() && M.t >= M.average_start;
  const bool lazy = update_is_lazy(s.update);
  if (l1 > 0.0) model_ensure_state(M, 0, true);
  if (lazy) {
    if (l2 > 0.0) {
      const double c = 1.0 - lr * l2;
      model_shrink(M, c > 0.0 ? c : 0.0);  // never past zero: a too large step sets W to 0
    }
    if (moved) {
      const double c = -lr / (m * M.scale);
      if (avg) {
        s.track_norms ? plain_add<true, true>(M, G, c) : plain_add<true, false>(M, G, c);
      } else {
        s.track_norms ? plain_add<false, true>(M, G, c) : plain_add<false, false>(M, G, c);
      }
      if (M.intercept) {
        const double cb = -lr / m;
        for (index_t c2 = 0; c2 < M.k; ++c2)
          M.b[static_cast<std::size_t>(c2)] += (cb * gb[c2]) * s.intercept_decay;
      }
    }
  } else {
    if (M.scale != 1.0) model_fold(M);
    M.rule_steps += 1.0;
    visit_update(s.update, [&](auto rule) {
      using Rule = decltype(rule);
      model_ensure_state(M, Rule::n_state, false);
      const auto P = Rule::prepare(s.update, lr, M.rule_steps);
      const double inv_m = 1.0 / m;
      if (avg)
        rule_step<Rule, true>(M, P, G, inv_m, l2);
      else
        rule_step<Rule, false>(M, P, G, inv_m, l2);
      if (M.intercept) {
        for (index_t c = 0; c < M.k; ++c) {
          const auto i = static_cast<std::size_t>(c);
          M.b[i] =
              Rule::apply(P, M.b[i], gb[c] * inv_m * s.intercept_decay,
                          M.Sb0.empty() ? nullptr : &M.Sb0[i], M.Sb1.empty() ? nullptr : &M.Sb1[i]);
        }
      }
    });
  }
  if (avg) average_in(M);
  if (l1 > 0.0) {
    M.u += lr * l1;
    l1_truncate(M, 0, M.size());
  }
  M.t += 1.0;
}

}  // namespace FASTSGD_ISA
}  // namespace fastsgd
