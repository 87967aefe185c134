// The losses of a linear model. Each loss is one type below plus one line in
// FASTSGD_LOSSES; nothing else in the core names a loss. A type gives
//
//   a loss of each output (joint = false): value(z, y) and deriv(z, y) = dℓ/dz
//     for one score z and its target y; a row's loss is the sum over outputs;
//   or a joint loss of the k scores of a row (joint = true, softmax):
//     value_deriv(z, k, label, dz) → the row's loss, and dℓ/dz_c into dz;
//
//   n_params and param_names: its parameters, read from LossSpec::param;
//   curvature(): a bound on d²ℓ/dz² (per output), which scales the automatic
//     learning rate and the stable-rate bound (piecewise-linear losses give the
//     curvature of their smoothed version: they have none);
//   label_pos / label_neg: the binary target a class label maps to (margin
//     losses use ±1, the logistic loss 1/0).
//
// The Python registry (src/fastsgd/_losses.py) gives each loss its public
// name, aliases and parameter checks, and reads the rest from here.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "fastsgd/base.hpp"
#include "fastsgd/data.hpp"

namespace fastsgd {

// clang-format off
#define FASTSGD_LOSSES(X) \
  X(squared, Squared)     \
  X(logistic, Logistic)   \
  X(softmax, Softmax)     \
  X(huber, Huber)         \
  X(hinge, Hinge)         \
  X(squared_hinge, SquaredHinge) \
  X(modified_huber, ModifiedHuber) \
  X(epsilon_insensitive, EpsilonInsensitive) \
  X(squared_epsilon_insensitive, SquaredEpsilonInsensitive)
// clang-format on

enum class LossId : int {
#define FASTSGD_LOSS_ENUM(id, Type) id,
  FASTSGD_LOSSES(FASTSGD_LOSS_ENUM)
#undef FASTSGD_LOSS_ENUM
};

// A loss and its parameters, as the bindings hand it to the core.
struct LossSpec {
  LossId id = LossId::squared;
  double param[2] = {0.0, 0.0};
};

inline namespace FASTSGD_ISA {

// Defaults of a loss of each output.
struct EachOutput {
  static constexpr bool joint = false;
  static constexpr double label_pos = 1.0;
  static constexpr double label_neg = -1.0;
  static constexpr int n_params = 0;
  static constexpr const char* param_names[2] = {nullptr, nullptr};
};

// ℓ = scale·(z − y)²: the mean squared error (scale 1/k averages over k outputs)
// or scikit-learn's squared_error (scale 1/2).
struct Squared : EachOutput {
  static constexpr const char* doc = "scale·(z − y)²";
  static constexpr int n_params = 1;
  static constexpr const char* param_names[2] = {"scale", nullptr};
  double scale;
  explicit Squared(const LossSpec& s) : scale(s.param[0]) {}
  double value(double z, double y) const {
    const double r = z - y;
    return scale * (r * r);
  }
  double deriv(double z, double y) const { return (2.0 * scale) * (z - y); }
  double curvature() const { return 2.0 * scale; }
};

// The binary log loss of P(y = 1) = σ(z), targets 1 and 0:
// ℓ = log(1 + e^z) − y·z, dℓ/dz = σ(z) − y, written so that no exp overflows
// and σ(z) − y keeps its digits when σ(z) is close to y.
struct Logistic : EachOutput {
  static constexpr const char* doc = "log(1 + exp(z)) − y·z";
  static constexpr double label_neg = 0.0;
  explicit Logistic(const LossSpec&) {}
  // log(1 + e^z) piecewise, as scikit-learn computes it (its log1pexp): accurate
  // everywhere, and the same numbers as its objective.
  static double softplus(double z) {
    if (z <= -37.0) return std::exp(z);
    if (z <= -2.0) return std::log1p(std::exp(z));
    if (z <= 18.0) return std::log(1.0 + std::exp(z));
    if (z <= 33.3) return z + std::exp(-z);
    return z;
  }
  double value(double z, double y) const { return softplus(z) - y * z; }
  double deriv(double z, double y) const {
    if (z > -37.0) {  // ((1 − y) − y·e^−z) / (1 + e^−z) = σ(z) − y
      const double e = std::exp(-z);
      return ((1.0 - y) - y * e) / (1.0 + e);
    }
    return std::exp(z) - y;  // σ(z) = e^z to double precision
  }
  double curvature() const { return 0.25; }
};

// Softmax cross-entropy of k scores and a class index:
// ℓ = log Σ_c e^{z_c} − z_label, dℓ/dz_c = softmax(z)_c − [c = label].
struct Softmax {
  static constexpr const char* doc = "log Σ_c exp(z_c) − z_label";
  static constexpr bool joint = true;
  static constexpr double label_pos = 1.0;
  static constexpr double label_neg = 0.0;
  static constexpr int n_params = 0;
  static constexpr const char* param_names[2] = {nullptr, nullptr};
  explicit Softmax(const LossSpec&) {}
  // z and dz: k values at stride zs.
  double value_deriv(const double* z, index_t zs, index_t k, std::int64_t label, double* dz) const {
    double m = z[0];
    for (index_t c = 1; c < k; ++c) m = z[c * zs] > m ? z[c * zs] : m;
    double sum = 0.0;
    for (index_t c = 0; c < k; ++c) {
      const double e = std::exp(z[c * zs] - m);  // stable: the largest exponent is 0
      dz[c * zs] = e;
      sum += e;
    }
    const double inv = 1.0 / sum;
    for (index_t c = 0; c < k; ++c) dz[c * zs] *= inv;  // p_c = softmax(z)_c
    dz[label * zs] -= 1.0;                              // p − onehot(label)
    return std::log(sum) - (z[label * zs] - m);         // −log p_label
  }
  double curvature() const { return 0.5; }
};

// Huber's loss: ½(z − y)² within delta of the target, linear beyond it, so that
// outliers pull with a bounded force (scikit-learn's huber, delta its epsilon).
struct Huber : EachOutput {
  static constexpr const char* doc = "½r² if |r| ≤ δ, else δ·(|r| − δ/2), r = z − y";
  static constexpr int n_params = 1;
  static constexpr const char* param_names[2] = {"delta", nullptr};
  double delta;
  explicit Huber(const LossSpec& s) : delta(s.param[0]) {}
  double value(double z, double y) const {
    const double a = std::fabs(y - z);
    return a <= delta ? 0.5 * a * a : delta * (a - 0.5 * delta);
  }
  double deriv(double z, double y) const {
    const double r = z - y;
    return std::fabs(r) <= delta ? r : (r >= 0.0 ? delta : -delta);
  }
  double curvature() const { return 1.0; }
};

// The hinge loss of a margin y·z, targets ±1: ℓ = max(0, threshold − y·z), the
// linear SVM's with threshold 1 and the perceptron's with threshold 0. Not smooth:
// its curvature is that of the squared hinge's half, 1.
struct Hinge : EachOutput {
  static constexpr const char* doc = "max(0, threshold − y·z)";
  static constexpr int n_params = 1;
  static constexpr const char* param_names[2] = {"threshold", nullptr};
  double threshold;
  explicit Hinge(const LossSpec& s) : threshold(s.param[0]) {}
  double value(double z, double y) const {
    const double m = z * y;
    return m <= threshold ? threshold - m : 0.0;
  }
  double deriv(double z, double y) const { return z * y <= threshold ? -y : 0.0; }
  double curvature() const { return 1.0; }
};

// The squared hinge, targets ±1: ℓ = max(0, threshold − y·z)².
struct SquaredHinge : EachOutput {
  static constexpr const char* doc = "max(0, threshold − y·z)²";
  static constexpr int n_params = 1;
  static constexpr const char* param_names[2] = {"threshold", nullptr};
  double threshold;
  explicit SquaredHinge(const LossSpec& s) : threshold(s.param[0]) {}
  double value(double z, double y) const {
    const double m = threshold - z * y;
    return m > 0.0 ? m * m : 0.0;
  }
  double deriv(double z, double y) const {
    const double m = threshold - z * y;
    return m > 0.0 ? -2.0 * y * m : 0.0;
  }
  double curvature() const { return 2.0; }
};

// Zhang's modified Huber loss, targets ±1: (1 − y·z)² for a margin y·z in [−1, 1),
// −4·y·z below, 0 from 1 on (a quadratically smoothed hinge, with probabilities).
struct ModifiedHuber : EachOutput {
  static constexpr const char* doc = "max(0, 1 − y·z)² if y·z ≥ −1, else −4·y·z";
  explicit ModifiedHuber(const LossSpec&) {}
  double value(double z, double y) const {
    const double m = z * y;
    if (m >= 1.0) return 0.0;
    return m >= -1.0 ? (1.0 - m) * (1.0 - m) : -4.0 * m;
  }
  double deriv(double z, double y) const {
    const double m = z * y;
    if (m >= 1.0) return 0.0;
    return m >= -1.0 ? 2.0 * (1.0 - m) * -y : -4.0 * y;
  }
  double curvature() const { return 2.0; }
};

// The epsilon-insensitive loss of regression (support vector regression's):
// ℓ = max(0, |y − z| − epsilon). Not smooth: the curvature of its smoothed version, 1.
struct EpsilonInsensitive : EachOutput {
  static constexpr const char* doc = "max(0, |y − z| − ε)";
  static constexpr int n_params = 1;
  static constexpr const char* param_names[2] = {"epsilon", nullptr};
  double epsilon;
  explicit EpsilonInsensitive(const LossSpec& s) : epsilon(s.param[0]) {}
  double value(double z, double y) const {
    const double r = std::fabs(y - z) - epsilon;
    return r > 0.0 ? r : 0.0;
  }
  double deriv(double z, double y) const {
    if (y - z > epsilon) return -1.0;
    if (z - y > epsilon) return 1.0;
    return 0.0;
  }
  double curvature() const { return 1.0; }
};

// Its square: ℓ = max(0, |y − z| − epsilon)².
struct SquaredEpsilonInsensitive : EachOutput {
  static constexpr const char* doc = "max(0, |y − z| − ε)²";
  static constexpr int n_params = 1;
  static constexpr const char* param_names[2] = {"epsilon", nullptr};
  double epsilon;
  explicit SquaredEpsilonInsensitive(const LossSpec& s) : epsilon(s.param[0]) {}
  double value(double z, double y) const {
    const double r = std::fabs(y - z) - epsilon;
    return r > 0.0 ? r * r : 0.0;
  }
  double deriv(double z, double y) const {
    const double r = y - z;
    if (r > epsilon) return -2.0 * (r - epsilon);
    if (r < -epsilon) return 2.0 * (-r - epsilon);
    return 0.0;
  }
  double curvature() const { return 2.0; }
};

// Calls f(loss) with the loss object of spec's type (a switch generated from the list).
template <class F>
decltype(auto) visit_loss(const LossSpec& spec, F&& f) {
  switch (spec.id) {
#define FASTSGD_LOSS_CASE(id, Type) \
  case LossId::id:                  \
    return f(Type(spec));
    FASTSGD_LOSSES(FASTSGD_LOSS_CASE)
#undef FASTSGD_LOSS_CASE
  }
  return f(Squared(spec));  // not reached: every id has a case
}

// --- targets and weights of one row --------------------------------------------------------

// Whether row `id` is of the positive class of one binary output (k = 1): its byte in
// the mask where the caller made one (Targets::positive_mask), else label == positive.
template <class T>
FASTSGD_ALWAYS_INLINE bool is_positive(const Targets<T>& tg, index_t id) {
  return tg.positive_mask != nullptr ? tg.positive_mask[id] != 0 : tg.labels[id] == tg.positive;
}

// The target of output c of row `id` (see Targets).
template <class Loss, class T>
FASTSGD_ALWAYS_INLINE double target_of(const Targets<T>& tg, index_t id, index_t c, index_t k) {
  if (tg.Y != nullptr) return static_cast<double>(tg.Y[id * tg.ldy + c]);
  if (tg.labels != nullptr) {
    const bool pos = k == 1 ? is_positive(tg, id) : tg.labels[id] == c;
    return pos ? Loss::label_pos : Loss::label_neg;
  }
  return 0.0;
}

// The class weight of output c of row `id` (1 without labels or class weights).
template <class T>
FASTSGD_ALWAYS_INLINE double class_weight_of(const Targets<T>& tg, index_t id, index_t c,
                                             index_t k) {
  if (tg.labels == nullptr) return 1.0;
  if (k == 1) return is_positive(tg, id) ? tg.pos_weight : tg.neg_weight;
  if (tg.labels[id] != c) return tg.neg_weight;
  return tg.class_weight != nullptr ? tg.class_weight[c] : 1.0;
}

FASTSGD_ALWAYS_INLINE double clip(double v, double limit) {
  return v < -limit ? -limit : (v > limit ? limit : v);
}

// Sums over rows: the loss, and the loss times each row's weights.
struct LossSums {
  double loss = 0.0;
  double weighted = 0.0;
};

// For R rows of a block whose source rows are ids[0..R): the scores z (element
// (r, c) at z[c·cs + r·rs]) give dz = weight · clip(dℓ/dz, ±limit) in the same
// layout; the rows' losses are added to sums.
template <class Loss, class T>
FASTSGD_ALWAYS_INLINE void loss_rows(const Loss& L, const Targets<T>& tg, const index_t* ids, int R,
                                     index_t k, const double* z, double* dz, index_t cs, index_t rs,
                                     double limit, LossSums& sums) {
  for (int r = 0; r < R; ++r) {
    const index_t id = ids[r];
    const double sw = tg.sample_weight != nullptr ? tg.sample_weight[id] : 1.0;
    const double* zr = z + r * rs;
    double* dzr = dz + r * rs;
    if constexpr (Loss::joint) {
      const std::int64_t label = tg.labels[id];
      const double w = sw * (tg.class_weight != nullptr ? tg.class_weight[label] : 1.0);
      const double l = L.value_deriv(zr, cs, k, label, dzr);
      for (index_t c = 0; c < k; ++c) dzr[c * cs] = w * clip(dzr[c * cs], limit);
      sums.loss += l;
      sums.weighted += w * l;
    } else {
      for (index_t c = 0; c < k; ++c) {
        const double y = target_of<Loss>(tg, id, c, k);
        const double w = sw * class_weight_of(tg, id, c, k);
        const double zc = zr[c * cs];
        const double l = L.value(zc, y);
        dzr[c * cs] = w * clip(L.deriv(zc, y), limit);
        sums.loss += l;
        sums.weighted += w * l;
      }
    }
  }
}

// --- what the bindings and the Python registry read --------------------------------------

struct LossInfo {
  const char* name;
  const char* doc;
  bool joint;
  int n_params;
  const char* param_names[2];
  double label_pos;
  double label_neg;
};

inline LossInfo loss_info(LossId id) {
  switch (id) {
#define FASTSGD_LOSS_INFO(id, Type)                               \
  case LossId::id:                                                \
    return LossInfo{#id,                                          \
                    Type::doc,                                    \
                    Type::joint,                                  \
                    Type::n_params,                               \
                    {Type::param_names[0], Type::param_names[1]}, \
                    Type::label_pos,                              \
                    Type::label_neg};
    FASTSGD_LOSSES(FASTSGD_LOSS_INFO)
#undef FASTSGD_LOSS_INFO
  }
  return LossInfo{"", "", false, 0, {nullptr, nullptr}, 0.0, 0.0};
}

constexpr LossId kAllLosses[] = {
#define FASTSGD_LOSS_ID(id, Type) LossId::id,
    FASTSGD_LOSSES(FASTSGD_LOSS_ID)
#undef FASTSGD_LOSS_ID
};

inline double loss_curvature(const LossSpec& spec) {
  return visit_loss(spec, [](const auto& L) { return L.curvature(); });
}

// One score's loss and derivative (k = 1), for scalar checks and the schedules.
inline void loss_at(const LossSpec& spec, double z, double y, double* value, double* deriv) {
  visit_loss(spec, [&](const auto& L) {
    using L_t = std::decay_t<decltype(L)>;
    if constexpr (L_t::joint) {  // two classes with scores (0, z), target class y ∈ {0, 1}
      const double zz[2] = {0.0, z};
      double dz[2];
      *value = L.value_deriv(zz, 1, 2, y > 0.5 ? 1 : 0, dz);
      *deriv = dz[1];
    } else {
      *value = L.value(z, y);
      *deriv = L.deriv(z, y);
    }
  });
}

}  // namespace FASTSGD_ISA
}  // namespace fastsgd
