// The curvature of the data, which bounds the stable learning rate.
// For A = X̃ᵀX̃/n (X̃ = [X, 1] with an intercept), the MSE's Hessian is 2A/k, and
// full-batch gradient descent is stable for lr < 2 / λ_max(2A/k).
// λ_max(A) comes from power iteration; each product A·v is one fused pass of
// the MSE gradient kernel with zero targets (∇ = 2/n X̃ᵀ X̃ v).
#pragma once

#include <cmath>
#include <vector>

#include "fastsgd/core.hpp"
#include "fastsgd/random.hpp"

namespace fastsgd {

struct Curvature {
  double lambda_max = 0.0;  // largest eigenvalue of A
  double trace = 0.0;       // trace of A (mean squared row norm, +1 with an intercept)
  int iterations = 0;
};

template <class T>
Curvature data_curvature(const Problem<T>& data, index_t n, bool intercept, int max_iter,
                         double tol) {
  const index_t d = data.d;
  const index_t dim = d + (intercept ? 1 : 0);
  Curvature out;
  if (n <= 0 || dim == 0) return out;
  Workspace ws;
  // A deterministic start with every component nonzero.
  std::vector<double> v(static_cast<std::size_t>(dim)), g(static_cast<std::size_t>(d) + 1);
  for (index_t j = 0; j < dim; ++j)
    v[static_cast<std::size_t>(j)] =
        1.0 + static_cast<double>(mix64(static_cast<std::uint64_t>(j)) >> 11) * 0x1.0p-53;
  auto normalise = [&]() {
    double s = 0.0;
    for (double x : v) s += x * x;
    s = std::sqrt(s);
    if (s > 0)
      for (double& x : v) x /= s;
    return s;
  };
  normalise();
  Problem<T> p = data;
  p.k = 1;
  p.Y = nullptr;
  p.labels = nullptr;
  double lambda = 0.0;
  for (int it = 0; it < max_iter; ++it) {
    p.Wt = v.data();
    double bias = intercept ? v[static_cast<std::size_t>(d)] : 0.0;
    p.b = intercept ? &bias : nullptr;
    double gb = 0.0;
    loss_grad(p, n, Loss::mse, g.data(), intercept ? &gb : nullptr, ws);  // g = 2 A v
    double rayleigh = 0.0;
    for (index_t j = 0; j < d; ++j) {
      g[static_cast<std::size_t>(j)] *= 0.5;
      rayleigh += g[static_cast<std::size_t>(j)] * v[static_cast<std::size_t>(j)];
    }
    if (intercept) rayleigh += 0.5 * gb * v[static_cast<std::size_t>(d)];
    for (index_t j = 0; j < d; ++j) v[static_cast<std::size_t>(j)] = g[static_cast<std::size_t>(j)];
    if (intercept) v[static_cast<std::size_t>(d)] = 0.5 * gb;
    out.iterations = it + 1;
    const bool done = it > 0 && std::fabs(rayleigh - lambda) <= tol * std::fabs(rayleigh);
    lambda = rayleigh;
    if (normalise() == 0.0 || done) break;
  }
  out.lambda_max = lambda;
  // trace(A) = mean squared row norm (+1 for the intercept column)
  double tr = 0.0;
  for (index_t i = 0; i < n; ++i) {
    const T* x = data.X + i * data.ldx;
    double s = 0.0;
    for (index_t j = 0; j < d; ++j) s += static_cast<double>(x[j]) * static_cast<double>(x[j]);
    tr += s;
  }
  out.trace = tr / static_cast<double>(n) + (intercept ? 1.0 : 0.0);
  return out;
}

}  // namespace fastsgd
