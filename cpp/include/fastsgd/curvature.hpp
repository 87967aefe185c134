// The curvature of the data, which bounds the stable learning rate.
// For A = X̃ᵀX̃/n (X̃ = [X, 1] with an intercept), the MSE's Hessian is 2A/k, and
// full-batch gradient descent is stable for lr < 2 / λ_max(2A/k).
//
// λ_max(A) comes from block power iteration on two vectors: each product A·V
// is one fused pass of the MSE gradient kernel with two outputs and zero
// targets (∇ = 2/(2n) X̃ᵀ X̃ V = A V), followed by a Rayleigh–Ritz step on the
// 2×2 matrix VᵀAV. The two start vectors are a fixed pseudorandom one and
// the square roots of A's diagonal (a pass of its own, which also gives the
// trace), so the top eigenvector is missed only if it is orthogonal to both.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "fastsgd/isa_table.hpp"
#include "fastsgd/permutation.hpp"
#include "fastsgd/rows.hpp"

namespace fastsgd {

struct Curvature {
  double lambda_max = 0.0;  // largest eigenvalue of A
  double trace = 0.0;       // trace of A (mean squared row norm, +1 with an intercept)
  int iterations = 0;
};

// Orthonormalises the columns a, b of length m in place (Gram–Schmidt, with
// the projection done twice for accuracy); returns false when a vanishes. A b
// that is numerically parallel to a (less than 1e-8 of it left) becomes zeros.
static inline bool orthonormalise(double* a, double* b, index_t m) {
  double na = 0.0, nb0 = 0.0;
  for (index_t j = 0; j < m; ++j) {
    na += a[j] * a[j];
    nb0 += b[j] * b[j];
  }
  na = std::sqrt(na);
  nb0 = std::sqrt(nb0);
  if (!(na > 0.0)) return false;
  for (index_t j = 0; j < m; ++j) a[j] /= na;
  double nb = 0.0;
  for (int pass = 0; pass < 2; ++pass) {
    double ab = 0.0;
    for (index_t j = 0; j < m; ++j) ab += a[j] * b[j];
    nb = 0.0;
    for (index_t j = 0; j < m; ++j) {
      b[j] -= ab * a[j];
      nb += b[j] * b[j];
    }
    nb = std::sqrt(nb);
  }
  const bool keep = nb > 1e-8 * nb0 && nb > 0.0;
  for (index_t j = 0; j < m; ++j) b[j] = keep ? b[j] / nb : 0.0;
  return true;
}

// diag(A) into diag (d + 1 values with an intercept, else d): the columns' (weighted)
// means of squares, one pass over the rows.
template <class Src>
void mean_squares(const Src& src, bool intercept, const double* row_weight, double* diag) {
  const index_t n = src.n, d = src.d;
  std::fill(diag, diag + d + (intercept ? 1 : 0), 0.0);
  if (n <= 0) return;
  double wsum = 0.0;
  for (index_t i = 0; i < n; ++i) {
    const auto x = row_ref(src, i);  // every column of a dense row, the stored ones of a sparse one
    const double w = row_weight != nullptr ? row_weight[i] : 1.0;
    wsum += w;
    for (index_t j = 0; j < x.n; ++j)
      diag[x.col(j)] += w * static_cast<double>(x.val[j]) * static_cast<double>(x.val[j]);
  }
  for (index_t j = 0; j < d; ++j) diag[j] /= static_cast<double>(n);
  if (intercept) diag[d] = wsum / static_cast<double>(n);
}

// With row_weight (n values >= 0, or null for 1): A = X̃ᵀ diag(w) X̃ / n, the
// curvature of the weighted loss. With precond (a diagonal P, d + 1 values with
// an intercept, or null for I): the curvature P^½ A P^½ of the loss in the
// coordinates where the update w ← w − lr·P·g is plain gradient descent.
template <class Src>
Curvature data_curvature(const Src& src, bool intercept, int max_iter, double tol, int threads = 0,
                         const double* row_weight = nullptr, const double* precond = nullptr) {
  using T = typename Src::value_type;
  const index_t n = src.n, d = src.d;
  const index_t dim = d + (intercept ? 1 : 0);
  Curvature out;
  if (n <= 0 || dim == 0) return out;
  // diag(P^½ A P^½) (one pass), and its sum, the trace.
  std::vector<double> diag(static_cast<std::size_t>(dim), 0.0), root(static_cast<std::size_t>(dim));
  mean_squares(src, intercept, row_weight, diag.data());
  double trace = 0.0;
  for (index_t j = 0; j < dim; ++j) {
    const auto jj = static_cast<std::size_t>(j);
    root[jj] = precond != nullptr ? std::sqrt(precond[j]) : 1.0;
    diag[jj] *= root[jj] * root[jj];
    trace += diag[jj];
  }
  out.trace = trace;
  if (!(out.trace > 0.0)) return out;

  // V: two columns of length dim, stored as rows of Vt (2, dim).
  std::vector<double> V(static_cast<std::size_t>(2 * dim)), W(static_cast<std::size_t>(2 * dim));
  double* v1 = V.data();
  double* v2 = V.data() + dim;
  for (index_t j = 0; j < dim; ++j) {
    v1[j] = 1.0 + static_cast<double>(mix64(static_cast<std::uint64_t>(j)) >> 11) * 0x1.0p-53;
    v2[j] = std::sqrt(diag[static_cast<std::size_t>(j)]);
  }
  orthonormalise(v1, v2, dim);

  // A·V is the gradient of the squared loss with scale 1/2 and zero targets,
  // two outputs: (1/n) X̃ᵀ X̃ V.
  Workspace ws;
  ws.threads = threads;
  const SourceKernels<Src>& kern = kernels_of<Src>(active_table());
  std::vector<double> Wt(static_cast<std::size_t>(2 * d)),
      sums(static_cast<std::size_t>(out_size(2, d, true)));
  double b[2];
  LossSpec spec;
  spec.id = LossId::squared;
  spec.param[0] = 0.5;
  Params p;
  p.k = 2;
  p.d = d;
  Targets<T> zero;  // zero targets: the residuals are X̃ V
  zero.sample_weight = row_weight;
  double lambda = 0.0;
  for (int it = 0; it < max_iter; ++it) {
    for (int c = 0; c < 2; ++c) {
      for (index_t j = 0; j < d; ++j)
        Wt[static_cast<std::size_t>(c * d + j)] =
            V[static_cast<std::size_t>(c * dim + j)] * root[static_cast<std::size_t>(j)];
      b[c] = intercept ? V[static_cast<std::size_t>(c * dim + d)] * root[static_cast<std::size_t>(d)]
                       : 0.0;
    }
    p.W = Wt.data();
    p.b = intercept ? b : nullptr;
    kern.loss_grad(src, RowSet{nullptr, 0, n}, zero, p, spec,
                   std::numeric_limits<double>::infinity(), true, sums.data(), ws);
    const double inv_n = 1.0 / static_cast<double>(n);
    const double* gb = sums.data() + 2;
    const double* G = gb + 2;
    for (int c = 0; c < 2; ++c) {
      for (index_t j = 0; j < d; ++j)
        W[static_cast<std::size_t>(c * dim + j)] =
            G[c * d + j] * inv_n * root[static_cast<std::size_t>(j)];
      if (intercept)
        W[static_cast<std::size_t>(c * dim + d)] = gb[c] * inv_n * root[static_cast<std::size_t>(d)];
    }
    // Rayleigh–Ritz: the larger eigenvalue of H = VᵀAV (2×2, symmetric).
    double h11 = 0.0, h12 = 0.0, h22 = 0.0;
    for (index_t j = 0; j < dim; ++j) {
      h11 += v1[j] * W[static_cast<std::size_t>(j)];
      h12 += v1[j] * W[static_cast<std::size_t>(dim + j)];
      h22 += v2[j] * W[static_cast<std::size_t>(dim + j)];
    }
    const double mean = 0.5 * (h11 + h22), half = 0.5 * (h11 - h22);
    const double ritz = mean + std::sqrt(half * half + h12 * h12);
    out.iterations = it + 1;
    const bool done = it > 0 && std::fabs(ritz - lambda) <= tol * std::fabs(ritz);
    lambda = ritz;
    V.swap(W);
    v1 = V.data();
    v2 = V.data() + dim;
    if (done || !orthonormalise(v1, v2, dim)) break;
  }
  // λ_max ≤ trace(A) for a positive semi-definite A: a guard against rounding
  out.lambda_max = lambda < out.trace ? lambda : out.trace;
  return out;
}

}  // namespace fastsgd
