// The learning rate of each step.
#pragma once

#include <algorithm>
#include <cmath>
#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GLIBC__)
#include <immintrin.h>
#define FASTSGD_EXACT_ROOTS 1
#else
#define FASTSGD_EXACT_ROOTS 0
#endif

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

#if FASTSGD_EXACT_ROOTS
// a·b = p + e exactly, two products at a time: from a fused multiply-add where the
// instruction set has one (there, contracting the split's operations would break it),
// otherwise Dekker's split into 26-bit halves, whose products are exact.
FASTSGD_ALWAYS_INLINE void exact_products(__m128d a, __m128d b, __m128d& p, __m128d& e) {
  p = _mm_mul_pd(a, b);
#ifdef __FMA__
  e = _mm_fmsub_pd(a, b, p);
#else
  const __m128d split = _mm_set1_pd(134217729.0);  // 2^27 + 1
  const __m128d ca = _mm_mul_pd(split, a), cb = _mm_mul_pd(split, b);
  const __m128d ah = _mm_sub_pd(ca, _mm_sub_pd(ca, a)), al = _mm_sub_pd(a, ah);
  const __m128d bh = _mm_sub_pd(cb, _mm_sub_pd(cb, b)), bl = _mm_sub_pd(b, bh);
  e = _mm_add_pd(_mm_add_pd(_mm_add_pd(_mm_sub_pd(_mm_mul_pd(ah, bh), p), _mm_mul_pd(ah, bl)),
                            _mm_mul_pd(al, bh)),
                 _mm_mul_pd(al, bl));
#endif
}

// 1/x to 12 bits (rcpps on x rounded to float; |x| within float's normal range)
FASTSGD_ALWAYS_INLINE __m128d approx_reciprocal(__m128d x) {
  return _mm_cvtps_pd(_mm_rcp_ps(_mm_cvtpd_ps(x)));
}

// out[i] = eta0 / pow(t + i, root) for i < n, root 1/4 (kQuarter) or 1/2, 1 <= t and
// t + n <= 2^52 whole numbers: the same doubles as the calls to pow, at a fraction of their
// cost. y = sqrt(sqrt(t)) (or sqrt(t)) is within an ulp of t^(1/4); one Newton step from
// the exact residual y^4 - t (exact products) gives t^(1/4) = y + delta to about 2^-100
// of y, so res = y + delta is t^(1/4) rounded to nearest, unless t^(1/4) lies within
// 0.05 ulp of a midpoint between two doubles (err, the rounding error of y + delta,
// beyond 0.45 ulp). glibc's pow is within 0.54 ulp of x^y (its pow.c states that worst
// case): outside that band its result is the nearest double too, so it is res. Inside
// it (about one t in ten), pow itself is called.
template <bool kQuarter>
void exact_root_rates(double eta0, double t, index_t n, double* out) {
  // In three passes over a block of 64: each pass's chain of dependent operations is
  // short, so many of its steps are in flight at once (in one pass, one step's chain
  // of some 100 cycles had few others beside it).
  constexpr index_t kBlock = 64;
  alignas(16) double y[kBlock], r[kBlock], den[kBlock], away[kBlock];
  const __m128d half_ulps = _mm_set1_pd(1.0 / 0.9), eta = _mm_set1_pd(eta0);
  for (index_t i0 = 0; i0 < n; i0 += kBlock) {
    const index_t m = std::min(kBlock, n - i0);
    const index_t pairs = (m + 1) / 2;  // a last odd one is computed twice
    const double t0 = t + static_cast<double>(i0);
    auto t_of = [&](index_t i) {
      const double t1 = t0 + static_cast<double>(i);
      return _mm_set_pd(i + 1 < m ? t1 + 1.0 : t1, t1);
    };
    for (index_t k = 0; k < pairs; ++k) {
      __m128d v = _mm_sqrt_pd(t_of(2 * k));
      if constexpr (kQuarter) v = _mm_sqrt_pd(v);
      _mm_store_pd(y + 2 * k, v);
    }
    for (index_t k = 0; k < pairs; ++k) {  // the residual y^4 - t (y^2 - t) and its slope
      const __m128d yv = _mm_load_pd(y + 2 * k), tv = t_of(2 * k);
      __m128d p, pe;
      exact_products(yv, yv, p, pe);
      if constexpr (kQuarter) {
        __m128d q, qe;
        exact_products(p, p, q, qe);
        // (q - t) + qe + 2·p·pe, q - t exact
        _mm_store_pd(r + 2 * k, _mm_add_pd(_mm_add_pd(_mm_sub_pd(q, tv), qe),
                                           _mm_mul_pd(_mm_add_pd(p, p), pe)));
        _mm_store_pd(den + 2 * k, _mm_mul_pd(_mm_set1_pd(-4.0), _mm_mul_pd(p, yv)));
      } else {
        _mm_store_pd(r + 2 * k, _mm_add_pd(_mm_sub_pd(p, tv), pe));
        _mm_store_pd(den + 2 * k, _mm_mul_pd(_mm_set1_pd(-2.0), yv));
      }
    }
    for (index_t k = 0; k < pairs; ++k) {
      const __m128d yv = _mm_load_pd(y + 2 * k);
      const __m128d delta = _mm_mul_pd(_mm_load_pd(r + 2 * k),
                                       approx_reciprocal(_mm_load_pd(den + 2 * k)));
      const __m128d res = _mm_add_pd(yv, delta);
      const __m128d err = _mm_sub_pd(delta, _mm_sub_pd(res, yv));  // y + delta = res + err
      // nonzero when |err| > about 0.45 ulp(res): res + err/0.9 rounds away from res
      _mm_store_pd(away + 2 * k, _mm_sub_pd(_mm_add_pd(res, _mm_mul_pd(err, half_ulps)), res));
      _mm_store_pd(y + 2 * k, _mm_div_pd(eta, res));
    }
    for (index_t i = 0; i < m; ++i)
      out[i0 + i] = away[i] == 0.0 ? y[i]
                                   : eta0 / std::pow(t0 + static_cast<double>(i),
                                                     kQuarter ? 0.25 : 0.5);
  }
}
#endif

// out[i] = the rate of step t_i, i < n, where t_0 = t and t_{i+1} = t_i + 1.0 (as a loop
// counts steps); returns t_n. Invscaling with power_t 1/4 (scikit-learn's regressors'
// default) or 1/2 and whole-numbered steps takes exact_root_rates' way.
inline double schedule_rates(const ScheduleSpec& s, double t, index_t n, double* out) {
#if FASTSGD_EXACT_ROOTS
  if (s.id == ScheduleId::invscaling && (s.power_t == 0.25 || s.power_t == 0.5) && t >= 1.0 &&
      t + static_cast<double>(n) <= 0x1p52 && t == std::floor(t)) {
    if (s.power_t == 0.25)
      exact_root_rates<true>(s.eta0, t, n, out);
    else
      exact_root_rates<false>(s.eta0, t, n, out);
    return t + static_cast<double>(n);
  }
#endif
  for (index_t i = 0; i < n; ++i, t += 1.0) out[i] = schedule_rate(s, t);
  return t;
}

// The rates of a loop's steps 0, 1, ... (of t, t + 1.0, ...), kBlock steps or more before
// their turn: off the steps' critical paths. Invscaling at power_t 1/4 or 1/2 computes
// them kBlock at a time (exact_root_rates, at a fraction of the cost of a std::pow a
// step) in a ring of two blocks: at each block's first step, the half the previous block
// used gets the block after this one. The other schedules (a division, or nothing, a
// step) compute one a step, kBlock steps ahead: 64 divisions at once took 1.05-1.07 of
// the time on 1M shuffled float32 rows of 100 (the optimal rate, hinge), and a lookup a
// step that filled 64 rates on a miss 1.02-1.17 on rows of 20.
class RateRing {
 public:
  static constexpr index_t kBlock = 64;  // a power of two

  // the rates of `steps` steps from step t (none with steps = 0)
  RateRing(const ScheduleSpec& s, double t, index_t steps) : s_(s), steps_(steps) {
    blocks_ = FASTSGD_EXACT_ROOTS && s.id == ScheduleId::invscaling &&
              (s.power_t == 0.25 || s.power_t == 0.5);
    t_ahead_ = schedule_rates(s_, t, std::min((blocks_ ? 2 : 1) * kBlock, steps), rates_);
  }

  // the rate of step number `step`, called for 0, 1, ... in turn (step < steps)
  double operator()(index_t step) {
    if (blocks_) {
      if ((step & (kBlock - 1)) == 0 && step > 0 && step + kBlock < steps_)
        t_ahead_ = schedule_rates(s_, t_ahead_, kBlock, rates_ + ((step + kBlock) & kBlock));
      return rates_[step & (2 * kBlock - 1)];
    }
    const double rate = rates_[step & (kBlock - 1)];
    rates_[step & (kBlock - 1)] = schedule_rate(s_, t_ahead_);
    t_ahead_ += 1.0;
    return rate;
  }

 private:
  ScheduleSpec s_;
  index_t steps_;
  bool blocks_;
  double t_ahead_;  // the step of the next rate to compute
  double rates_[2 * kBlock];
};

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
