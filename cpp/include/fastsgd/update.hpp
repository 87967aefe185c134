// The SGD step, with the semantics of torch.optim.SGD:
//   g ← g + λ·w                          (weight decay)
//   v ← μ·v + (1 − τ)·g                  (momentum, dampening τ; v starts at 0)
//   g ← g + μ·v  if Nesterov, else g ← v
//   w ← w − lr·g
// torch sets v = g on its first step instead of (1 − τ)·g; both agree when τ = 0.
#pragma once

#include "fastsgd/view.hpp"

namespace fastsgd {

struct SgdOptions {
  double lr = 0.1;
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
};

// Updates w[0..n) (and v when momentum > 0) in place; arithmetic in double.
template <class T, class G>
void sgd_update(T* w, const G* grad, T* v, index_t n, const SgdOptions& o) {
  const double lr = o.lr, mu = o.momentum, damp = 1.0 - o.dampening, wd = o.weight_decay;
  if (mu == 0.0) {
    for (index_t i = 0; i < n; ++i) {
      const double wi = static_cast<double>(w[i]);
      const double g = static_cast<double>(grad[i]) + wd * wi;
      w[i] = static_cast<T>(wi - lr * g);
    }
    return;
  }
  for (index_t i = 0; i < n; ++i) {
    const double wi = static_cast<double>(w[i]);
    double g = static_cast<double>(grad[i]) + wd * wi;
    const double vi = mu * static_cast<double>(v[i]) + damp * g;
    v[i] = static_cast<T>(vi);
    g = o.nesterov ? g + mu * vi : vi;
    w[i] = static_cast<T>(wi - lr * g);
  }
}

}  // namespace fastsgd
