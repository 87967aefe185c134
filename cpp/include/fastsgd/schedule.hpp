// The learning rate of each step.
#pragma once

#include <algorithm>
#include <cmath>

#include "fastsgd/losses.hpp"

namespace fastsgd {

// The learning rate of the step numbered t = 1, 2, ... (scikit-learn's t):
//   constant:   eta0
//   optimal:    1 / (alpha·(t0 + t − 1))   (Bottou's heuristic; t0 from the loss)
//   invscaling: eta0 / t^power_t
enum class ScheduleId : int { constant = 0, optimal = 1, invscaling = 2 };

struct ScheduleSpec {
  ScheduleId id = ScheduleId::constant;
  double eta0 = 0.1;
  double alpha = 0.0;
  double power_t = 0.5;
  double t0 = 1.0;
};

inline namespace FASTSGD_ISA {

inline double schedule_rate(const ScheduleSpec& s, double t) {
  switch (s.id) {
    case ScheduleId::optimal:
      return 1.0 / (s.alpha * (s.t0 + t - 1.0));
    case ScheduleId::invscaling:
      return s.eta0 / std::pow(t, s.power_t);
    case ScheduleId::constant:
      break;
  }
  return s.eta0;
}

// The offset t0 of the optimal schedule (scikit-learn's heuristic from Bottou):
// the first step's rate is typw / max(1, dℓ/dz(z = −typw, y = 1)), typw = α^(−1/4).
inline double optimal_t0(const LossSpec& loss, double alpha) {
  const double typw = std::sqrt(1.0 / std::sqrt(alpha));
  double value = 0.0, deriv = 0.0;
  loss_at(loss, -typw, 1.0, &value, &deriv);
  const double eta0 = typw / std::max(1.0, deriv);
  return 1.0 / (eta0 * alpha);
}

}  // namespace FASTSGD_ISA
}  // namespace fastsgd
