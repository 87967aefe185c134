// Tests of the C++ core alone (no Python): the losses against their own values and a
// plain loop, the update rules and the step against their formulas, the permutation, the
// thread-count independence of the sums, and whole epochs. Run once per instruction set:
// `test_core avx2` uses that set's kernels (exit code 77, a skip, where the CPU lacks it).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "check.hpp"
#include "fastsgd/epoch.hpp"
#include "fastsgd/isa_table.hpp"
#include "fastsgd/loss_blocks.hpp"
#include "fastsgd/losses.hpp"
#include "fastsgd/parallel.hpp"
#include "fastsgd/permutation.hpp"
#include "fastsgd/schedule.hpp"
#include "fastsgd/step.hpp"
#include "fastsgd/updates.hpp"

using namespace fastsgd;

namespace {

const double kInf = std::numeric_limits<double>::infinity();

// Deterministic numbers in [-1, 1).
struct Rng {
  std::uint64_t s;
  double next() {
    s += kGolden;
    return static_cast<double>(mix64(s) >> 11) * 0x1.0p-53 * 2.0 - 1.0;
  }
};

LossSpec spec_of(LossId id) {
  LossSpec s;
  s.id = id;
  s.param[0] = 0.7;  // huber's delta, hinge's threshold, the squared loss's scale...
  s.param[1] = 0.7;
  return s;
}

template <class T>
struct Problem {
  index_t n, d, k;
  std::vector<T> X, Y;
  std::vector<std::int64_t> labels;
  std::vector<double> W, b, sw;
};

template <class T>
Problem<T> problem(index_t n, index_t d, index_t k, std::uint64_t seed) {
  Rng r{seed};
  Problem<T> p{n, d, k, {}, {}, {}, {}, {}, {}};
  for (index_t i = 0; i < n * d; ++i) p.X.push_back(static_cast<T>(r.next()));
  for (index_t i = 0; i < n * k; ++i) p.Y.push_back(static_cast<T>(2.0 * r.next()));
  for (index_t i = 0; i < n; ++i)
    p.labels.push_back(static_cast<std::int64_t>((r.next() + 1.0) * 0.5 * static_cast<double>(k)));
  for (index_t i = 0; i < k * d; ++i) p.W.push_back(r.next());
  for (index_t i = 0; i < k; ++i) p.b.push_back(0.3 * r.next());
  for (index_t i = 0; i < n; ++i) p.sw.push_back(1.0 + r.next() * 0.5);
  return p;
}

// The loss sums of a set of rows, by a plain loop over rows and outputs.
template <class T>
std::vector<double> plain_sums(const Problem<T>& p, const Targets<T>& tg, const LossSpec& spec) {
  const index_t k = p.k, d = p.d;
  std::vector<double> out(static_cast<std::size_t>(out_size(k, d, true)), 0.0);
  std::vector<double> z(static_cast<std::size_t>(k)), dz(static_cast<std::size_t>(k));
  for (index_t i = 0; i < p.n; ++i) {
    for (index_t c = 0; c < k; ++c) {
      double s = p.b[static_cast<std::size_t>(c)];
      for (index_t j = 0; j < d; ++j)
        s += p.W[static_cast<std::size_t>(c * d + j)] *
             static_cast<double>(p.X[static_cast<std::size_t>(i * d + j)]);
      z[static_cast<std::size_t>(c)] = s;
    }
    LossSums sums;
    const index_t id = i;
    visit_loss(spec, [&](const auto& L) {
      loss_rows(L, tg, &id, 1, k, z.data(), dz.data(), 1, 1, kInf, sums);
    });
    out[kOutLoss] += sums.loss;
    out[kOutWeighted] += sums.weighted;
    for (index_t c = 0; c < k; ++c) {
      out[static_cast<std::size_t>(kOutGb + c)] += dz[static_cast<std::size_t>(c)];
      for (index_t j = 0; j < d; ++j)
        out[static_cast<std::size_t>(kOutGb + k + c * d + j)] +=
            dz[static_cast<std::size_t>(c)] *
            static_cast<double>(p.X[static_cast<std::size_t>(i * d + j)]);
    }
  }
  return out;
}

template <class T>
std::vector<double> kernel_sums(const Problem<T>& p, const Targets<T>& tg, const LossSpec& spec,
                                int threads) {
  const DenseRows<T> src{p.X.data(), p.d, p.n, p.d};
  Params prm;
  prm.W = p.W.data();
  prm.b = p.b.data();
  prm.k = p.k;
  prm.d = p.d;
  std::vector<double> out(static_cast<std::size_t>(out_size(p.k, p.d, true)));
  Workspace ws;
  ws.threads = threads;
  kernels_of<DenseRows<T>>(active_table())
      .loss_grad(src, RowSet{nullptr, 0, p.n}, tg, prm, spec, kInf, true, out.data(), ws);
  return out;
}

template <class T>
Targets<T> targets_for(const Problem<T>& p, const LossSpec& spec, bool weighted) {
  Targets<T> tg;
  const bool labels = spec.id != LossId::squared && spec.id != LossId::huber;
  if (labels)
    tg.labels = p.labels.data();
  else
    tg.Y = p.Y.data(), tg.ldy = p.k;
  if (weighted) tg.sample_weight = p.sw.data();
  return tg;
}

}  // namespace

TEST(every_loss_derivative_is_the_slope_of_its_value) {
  const double zs[] = {-2.3, -0.65, 0.35, 1.9};
  const double ys[] = {-1.0, 1.0, 0.4};
  const double h = 1e-6;
  for (const LossId id : kAllLosses) {
    const LossSpec spec = spec_of(id);
    for (const double z : zs)
      for (const double y : ys) {
        if (loss_info(id).joint && y < 0) continue;  // a class index
        double v0, d0, vp, dp, vm, dm;
        loss_at(spec, z, y, &v0, &d0);
        loss_at(spec, z + h, y, &vp, &dp);
        loss_at(spec, z - h, y, &vm, &dm);
        CHECK_CLOSE(d0, (vp - vm) / (2 * h), 1e-6);
        CHECK(std::isfinite(v0));
      }
  }
}

TEST(every_loss_kernel_matches_a_plain_loop) {
  for (const LossId id : kAllLosses) {
    const LossSpec spec = spec_of(id);
    const bool joint = loss_info(id).joint;
    for (const index_t k : {index_t{1}, index_t{3}}) {
      if (joint && k == 1) continue;
      for (const bool weighted : {false, true}) {
        const Problem<double> p = problem<double>(53, 7, k, 11);
        const auto want = plain_sums(p, targets_for(p, spec, weighted), spec);
        const auto got = kernel_sums(p, targets_for(p, spec, weighted), spec, 1);
        for (std::size_t j = 0; j < want.size(); ++j) CHECK_CLOSE(got[j], want[j], 1e-12);
        const Problem<float> q = problem<float>(53, 7, k, 11);
        const auto want32 = plain_sums(q, targets_for(q, spec, weighted), spec);
        const auto got32 = kernel_sums(q, targets_for(q, spec, weighted), spec, 1);
        for (std::size_t j = 0; j < want32.size(); ++j) CHECK_CLOSE(got32[j], want32[j], 2e-5);
      }
    }
  }
}

TEST(the_thread_count_does_not_change_a_bit) {
  const std::int64_t before = parallel_min_work();
  set_parallel_min_work(0);
  for (const LossId id : kAllLosses) {
    const LossSpec spec = spec_of(id);
    const Problem<float> p = problem<float>(70001, 9, 3, 5);
    const Targets<float> tg = targets_for(p, spec, true);
    const auto one = kernel_sums(p, tg, spec, 1);
    const auto two = kernel_sums(p, tg, spec, 2);
    CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(double)) == 0);
  }
  set_parallel_min_work(before);
}

TEST(predictions_are_the_scores) {
  const Problem<double> p = problem<double>(19, 6, 4, 3);
  const DenseRows<double> src{p.X.data(), p.d, p.n, p.d};
  Params prm;
  prm.W = p.W.data();
  prm.b = p.b.data();
  prm.k = p.k;
  prm.d = p.d;
  prm.scale = 0.5;
  std::vector<double> out(static_cast<std::size_t>(p.n * p.k));
  kernels_of<DenseRows<double>>(active_table())
      .predict(src, RowSet{nullptr, 0, p.n}, prm, out.data(), p.k, 1);
  for (index_t i = 0; i < p.n; ++i)
    for (index_t c = 0; c < p.k; ++c) {
      double s = 0.0;
      for (index_t j = 0; j < p.d; ++j)
        s +=
            p.W[static_cast<std::size_t>(c * p.d + j)] * p.X[static_cast<std::size_t>(i * p.d + j)];
      CHECK_CLOSE(out[static_cast<std::size_t>(i * p.k + c)],
                  0.5 * s + p.b[static_cast<std::size_t>(c)], 1e-14);
    }
}

TEST(sgd_momentum_and_nesterov_are_torchs_rule) {
  for (const bool nesterov : {false, true}) {
    UpdateSpec u;
    u.momentum = 0.9;
    u.dampening = nesterov ? 0.0 : 0.3;
    u.nesterov = nesterov;
    const double grads[] = {0.5, -1.0, 0.25, 2.0};
    double w = 1.0, v = 0.0, w_ref = 1.0, buf = 0.0;
    for (const double g : grads) {
      w = Sgd::apply(Sgd::prepare(u, 0.1, 1), w, g, &v, nullptr);
      buf = 0.9 * buf + (1.0 - u.dampening) * g;
      w_ref -= 0.1 * (nesterov ? g + 0.9 * buf : buf);
    }
    CHECK_CLOSE(w, w_ref, 1e-15);
    CHECK_CLOSE(v, buf, 1e-15);
  }
}

TEST(adagrad_and_adam_follow_their_formulas) {
  UpdateSpec u;
  const double grads[] = {0.5, -1.0, 0.25, 2.0};
  double w = 1.0, G = 0.0, w_ref = 1.0, G_ref = 0.0;
  for (const double g : grads) {
    w = AdaGrad::apply(AdaGrad::prepare(u, 0.1, 1), w, g, &G, nullptr);
    G_ref += g * g;
    w_ref -= 0.1 * g / (std::sqrt(G_ref) + u.eps);
  }
  CHECK_CLOSE(w, w_ref, 1e-15);
  double a = 1.0, m = 0.0, v = 0.0, a_ref = 1.0, m_ref = 0.0, v_ref = 0.0;
  int t = 0;
  for (const double g : grads) {
    ++t;
    a = Adam::apply(Adam::prepare(u, 0.01, t), a, g, &m, &v);
    m_ref = 0.9 * m_ref + 0.1 * g;
    v_ref = 0.999 * v_ref + 0.001 * g * g;
    a_ref -= 0.01 * (m_ref / (1 - std::pow(0.9, t))) /
             (std::sqrt(v_ref / (1 - std::pow(0.999, t))) + 1e-8);
  }
  CHECK_CLOSE(a, a_ref, 1e-14);
}

TEST(a_plain_step_with_l2_and_averaging_is_the_explicit_form) {
  // W ← (1 − lr·l2)·W − lr·G/m; the average of W from step 3 on. Shrinks to below 1e-9
  // of the scale (lr·l2 near 1) make the model fold its scale on the way.
  for (const double l2 : {0.05, 9.99}) {
    Model M;
    model_reset(M, 2, 3, true);
    M.average_start = 3;
    StepSpec s;
    s.penalty.l2 = l2;
    Rng r{7};
    std::vector<double> W(6, 0.0), b(2, 0.0), avg(6, 0.0), avg_b(2, 0.0);
    for (int t = 1; t <= 40; ++t) {
      std::vector<double> G(6), gb(2);
      for (double& g : G) g = r.next();
      for (double& g : gb) g = r.next();
      const double lr = 0.1;
      dense_step(M, s, G.data(), gb.data(), 4.0, lr, true);
      const double c = std::max(0.0, 1.0 - lr * l2);
      for (int j = 0; j < 6; ++j) W[j] = c * W[j] - lr * G[static_cast<std::size_t>(j)] / 4.0;
      for (int j = 0; j < 2; ++j) b[j] -= lr * gb[static_cast<std::size_t>(j)] / 4.0;
      if (t >= 3) {
        const double num = t - 3 + 1;
        for (int j = 0; j < 6; ++j) avg[j] += (W[j] - avg[j]) / num;
        for (int j = 0; j < 2; ++j) avg_b[j] += (b[j] - avg_b[j]) / num;
      }
      std::vector<double> got(6), got_avg(6);
      model_weights(M, got.data());
      model_average(M, got_avg.data());
      for (int j = 0; j < 6; ++j) {
        CHECK_CLOSE(got[j], W[j], 1e-11);
        if (t >= 3) CHECK_CLOSE(got_avg[j], avg[j], 1e-11);
      }
      for (int j = 0; j < 2; ++j) CHECK_CLOSE(M.b[static_cast<std::size_t>(j)], b[j], 1e-13);
      if (t >= 3) CHECK_CLOSE(M.ab[1], avg_b[1], 1e-13);
    }
    CHECK_CLOSE(M.t, 41.0, 0.0);
  }
}

TEST(l1_pulls_towards_zero_never_across_it) {
  Model M;
  model_reset(M, 1, 4, false);
  const double init[] = {0.05, -0.05, 1.0, -1.0};
  for (int j = 0; j < 4; ++j) M.V[static_cast<std::size_t>(j)] = init[j];
  StepSpec s;
  s.penalty.l1 = 1.0;
  const std::vector<double> zero(4, 0.0), gb(1, 0.0);
  dense_step(M, s, zero.data(), gb.data(), 1.0, 0.1, false);  // 0.1 of penalty each
  CHECK(M.V[0] == 0.0);  // 0.05 − 0.1 would cross zero: stops at 0
  CHECK(M.V[1] == 0.0);
  CHECK_CLOSE(M.V[2], 0.9, 1e-15);
  CHECK_CLOSE(M.V[3], -0.9, 1e-15);
  // the weight stopped at zero kept 0.05 of outstanding penalty: a gradient that moves it
  // to 0.2 sees it pulled back by that and this step's 0.1
  std::vector<double> G = {-2.0, 0.0, 0.0, 0.0};
  dense_step(M, s, G.data(), gb.data(), 1.0, 0.1, true);
  CHECK_CLOSE(M.V[0], 0.2 - 0.15, 1e-15);
}

TEST(the_permutation_visits_every_row_once) {
  for (const index_t n : {index_t{1}, index_t{2}, index_t{3}, index_t{17}, index_t{1023},
                          index_t{1024}, index_t{1025}, index_t{70001}}) {
    const PermKey key = make_perm_key(static_cast<std::uint64_t>(n), 42, 3);
    std::vector<index_t> got(static_cast<std::size_t>(n)), scalar(static_cast<std::size_t>(n));
    active_table().perm(key, 0, n, got.data());
    perm_positions_scalar(key, 0, n, scalar.data());
    CHECK(got == scalar);  // the vector paths are the same function
    std::sort(got.begin(), got.end());
    for (index_t i = 0; i < n; ++i) CHECK(got[static_cast<std::size_t>(i)] == i);
  }
  // another epoch, another order
  const PermKey a = make_perm_key(1000, 42, 3), b = make_perm_key(1000, 42, 4);
  std::vector<index_t> pa(1000), pb(1000);
  active_table().perm(a, 0, 1000, pa.data());
  active_table().perm(b, 0, 1000, pb.data());
  CHECK(pa != pb);
}

// The row helper (toucher.hpp) draws an epoch's rows from a stream of its own, 64 at a
// time: the same rows in the same order as the epoch's batches draw, whatever their size.
TEST(a_row_stream_gives_the_same_rows_in_any_chunks) {
  const index_t n = 10007;
  std::vector<std::uint8_t> skip(static_cast<std::size_t>(n));
  std::vector<index_t> order(static_cast<std::size_t>(n));
  Rng rng{5};
  for (index_t i = 0; i < n; ++i) {
    skip[static_cast<std::size_t>(i)] = rng.next() < -0.8 ? 1 : 0;
    order[static_cast<std::size_t>(n - 1 - i)] = i;
  }
  auto drawn = [&](index_t shuffle, const std::uint8_t* sk, const index_t* ord, index_t chunk) {
    std::vector<index_t> blocks, out, buf(static_cast<std::size_t>(chunk));
    RowStream stream(n, shuffle, 11, 2, sk, blocks, ord);
    for (index_t got; (got = stream.next(chunk, buf.data())) > 0;)
      out.insert(out.end(), buf.begin(), buf.begin() + got);
    return out;
  };
  for (const index_t shuffle : {index_t{0}, index_t{1}, index_t{16}, index_t{7}}) {
    for (const bool with_skip : {false, true}) {
      for (const bool with_order : {false, true}) {
        const std::uint8_t* sk = with_skip ? skip.data() : nullptr;
        const index_t* ord = with_order ? order.data() : nullptr;
        const std::vector<index_t> helper = drawn(shuffle, sk, ord, kTouchDraw);
        for (const index_t B : {index_t{1}, index_t{7}, index_t{64}, index_t{1000}})
          CHECK(drawn(shuffle, sk, ord, B) == helper);
        // every row not skipped, once
        std::vector<index_t> sorted = helper;
        std::sort(sorted.begin(), sorted.end());
        CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
        index_t kept = 0;
        for (index_t i = 0; i < n; ++i) kept += sk != nullptr && sk[i] != 0 ? 0 : 1;
        CHECK(static_cast<index_t>(helper.size()) == kept);
      }
    }
  }
}

TEST(a_full_batch_epoch_is_a_gradient_descent_step) {
  const Problem<double> p = problem<double>(40, 3, 1, 9);
  const DenseRows<double> src{p.X.data(), p.d, p.n, p.d};
  Targets<double> tg;
  tg.Y = p.Y.data();
  tg.ldy = 1;
  Model M;
  model_reset(M, 1, 3, true);
  EpochSpec spec;
  spec.loss.id = LossId::squared;
  spec.loss.param[0] = 1.0;
  spec.schedule.eta0 = 0.1;
  spec.shuffle = 0;
  TrainWorkspace ws;
  std::vector<double> w(3, 0.0);
  double b = 0.0;
  for (int e = 0; e < 5; ++e) {
    const EpochStats st = kernels_of<DenseRows<double>>(active_table()).epoch(src, tg, M, spec, ws);
    CHECK(st.steps == 1);
    CHECK(st.rows == 40);
    std::vector<double> g(3, 0.0);
    double gb = 0.0;
    for (index_t i = 0; i < p.n; ++i) {
      double r = b - p.Y[static_cast<std::size_t>(i)];
      for (int j = 0; j < 3; ++j)
        r += w[static_cast<std::size_t>(j)] * p.X[static_cast<std::size_t>(i * 3 + j)];
      for (int j = 0; j < 3; ++j)
        g[static_cast<std::size_t>(j)] += 2.0 * r * p.X[static_cast<std::size_t>(i * 3 + j)] / 40.0;
      gb += 2.0 * r / 40.0;
    }
    for (int j = 0; j < 3; ++j)
      w[static_cast<std::size_t>(j)] -= 0.1 * g[static_cast<std::size_t>(j)];
    b -= 0.1 * gb;
  }
  std::vector<double> got(3);
  model_weights(M, got.data());
  for (int j = 0; j < 3; ++j)
    CHECK_CLOSE(got[static_cast<std::size_t>(j)], w[static_cast<std::size_t>(j)], 1e-12);
  CHECK_CLOSE(M.b[0], b, 1e-12);
}

TEST(an_epoch_leaves_out_the_skipped_rows) {
  const Problem<double> p = problem<double>(30, 2, 1, 4);
  std::vector<std::uint8_t> skip(30, 0);
  std::vector<double> kept_X, kept_Y;
  for (index_t i = 0; i < 30; ++i) {
    skip[static_cast<std::size_t>(i)] = i % 3 == 1;
    if (i % 3 != 1) {
      kept_X.push_back(p.X[static_cast<std::size_t>(2 * i)]);
      kept_X.push_back(p.X[static_cast<std::size_t>(2 * i + 1)]);
      kept_Y.push_back(p.Y[static_cast<std::size_t>(i)]);
    }
  }
  EpochSpec spec;
  spec.loss.id = LossId::squared;
  spec.loss.param[0] = 0.5;
  spec.schedule.eta0 = 0.05;
  spec.batch_size = 4;
  spec.shuffle = 0;
  auto train = [&](const std::vector<double>& X, const std::vector<double>& Y, index_t n,
                   const std::uint8_t* mask) {
    Model M;
    model_reset(M, 1, 2, true);
    EpochSpec s = spec;
    s.skip = mask;
    Targets<double> tg;
    tg.Y = Y.data();
    tg.ldy = 1;
    TrainWorkspace ws;
    const EpochStats st = kernels_of<DenseRows<double>>(active_table())
                              .epoch(DenseRows<double>{X.data(), 2, n, 2}, tg, M, s, ws);
    CHECK(st.rows == 20);
    CHECK(st.steps == 5);
    return M;
  };
  const Model a = train(p.X, p.Y, 30, skip.data());
  const Model b = train(kept_X, kept_Y, 20, nullptr);
  CHECK_CLOSE(a.V[0], b.V[0], 1e-15);
  CHECK_CLOSE(a.V[1], b.V[1], 1e-15);
  CHECK_CLOSE(a.b[0], b.b[0], 1e-15);
}

TEST(the_optimal_schedule_starts_at_scikit_learns_rate) {
  // alpha = 1e-4: typw = 10, the first rate typw / max(1, dℓ/dz(−10, 1)) = 10 for the logistic
  // loss (its derivative there is negative), so t0 = 1 / (10·alpha) = 1000
  LossSpec logistic;
  logistic.id = LossId::logistic;
  CHECK_CLOSE(optimal_t0(logistic, 1e-4), 1000.0, 1e-12);
  ScheduleSpec s;
  s.id = ScheduleId::optimal;
  s.alpha = 1e-4;
  s.t0 = 1000.0;
  CHECK_CLOSE(schedule_rate(s, 1.0), 10.0, 1e-12);
  s.id = ScheduleId::invscaling;
  s.eta0 = 0.5;
  s.power_t = 0.25;
  CHECK_CLOSE(schedule_rate(s, 16.0), 0.25, 1e-15);
}

#if defined(FASTSGD_NATIVE_VECTORS)
TEST(float32_log1p_of_the_logistic_loss_is_within_two_ulp) {
  // log1p_nonneg_m's float32 lanes (2·atanh(t/(2 + t)) by its series) against
  // std::log1p in double on every 61st float32 in [1e-30, 1] (about 14 million) and on
  // 1 and the smallest of them: within 2 units in the last place of the float32 result
  float lo = 1e-30f, hi = 1.0f;
  std::uint32_t b0, b1;
  std::memcpy(&b0, &lo, 4);
  std::memcpy(&b1, &hi, 4);
  double worst = 0.0;
  auto check_one = [&](float t) {
    const vfn tv = nbroadcast(t);
    vfn out;
    log1p_nonneg_m<1>(&tv, &tv, &tv, &out);
    const double want = std::log1p(static_cast<double>(t));
    const float w32 = static_cast<float>(want);
    const double ulp = static_cast<double>(std::nextafter(w32, 2.0f) - w32);
    worst = std::max(worst, std::fabs(static_cast<double>(out[0]) - want) / ulp);
  };
  for (std::uint32_t b = b0; b < b1; b += 61) {
    float t;
    std::memcpy(&t, &b, 4);
    check_one(t);
  }
  check_one(lo);
  check_one(hi);
  CHECK(worst <= 2.0);
}
#endif

TEST(rates_in_blocks_are_the_rates_one_at_a_time) {
  // schedule_rates and RateRing give schedule_rate's doubles: invscaling at power_t 1/4
  // and 1/2 through exact_root_rates (no std::pow a step), to the bit, on runs of whole
  // steps from 1 up to 2^52 and across the ring's refills; other exponents, the other
  // schedules and steps that are not whole numbers one at a time
  ScheduleSpec s;
  s.id = ScheduleId::invscaling;
  s.eta0 = 0.01;
  const index_t n = 1 << 16;
  std::vector<double> out(static_cast<std::size_t>(n));
  const double starts[] = {1.0, 65537.0, 1e9 + 7.0, 0x1p40 + 12345.0, 0x1p52 - 65536.0, 2.5};
  long mismatches = 0;
  for (const double power_t : {0.25, 0.5, 0.3}) {
    s.power_t = power_t;
    for (const double t0 : starts) {
      const double end = schedule_rates(s, t0, n, out.data());
      double t = t0;
      for (index_t i = 0; i < n; ++i, t += 1.0)
        mismatches += out[static_cast<std::size_t>(i)] == s.eta0 / std::pow(t, power_t) ? 0 : 1;
      CHECK(end == t);
    }
  }
  CHECK(mismatches == 0);
  for (const ScheduleId id : {ScheduleId::invscaling, ScheduleId::optimal, ScheduleId::constant}) {
    s.id = id;
    s.power_t = 0.25;
    s.alpha = 1e-4;
    s.t0 = 1000.0;
    RateRing ring(s, 3.0, 1000);
    double t = 3.0;
    for (index_t step = 0; step < 1000; ++step, t += 1.0)
      mismatches += ring(step) == schedule_rate(s, t) ? 0 : 1;
  }
  CHECK(mismatches == 0);
}

TEST(the_xorshift_shuffle_is_scikit_learns) {
  // scikit-learn's ArrayDataset64._shuffle_py(12345) on rows 0..16, three times in a row
  std::vector<std::int64_t> order(17);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
  const std::int64_t first[3][6] = {
      {10, 16, 13, 15, 8, 3}, {4, 14, 0, 5, 1, 15}, {8, 7, 10, 3, 16, 5}};
  for (const auto& want : first) {
    xorshift_shuffle(order.data(), 17, 12345u);
    for (int j = 0; j < 6; ++j) CHECK(order[static_cast<std::size_t>(j)] == want[j]);
  }
  std::vector<std::int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) CHECK(sorted[i] == static_cast<std::int64_t>(i));
}

// One epoch of per-row SGD (hinge, L2, averaging) over rows in the given order, skipping
// marked rows, with the fused step or scikit-learn's order of operations.
Model epoch_over(const std::vector<double>& X, const std::vector<std::int64_t>& labels, index_t n,
                 const std::int64_t* order, index_t order_size, const std::uint8_t* skip,
                 bool sequential) {
  Model M;
  model_reset(M, 1, 3, true);
  M.average_start = 5.0;
  EpochSpec s;
  s.loss.id = LossId::hinge;
  s.loss.param[0] = 1.0;
  s.step.penalty.alpha = 0.01;
  s.step.penalty.l2 = 0.01;
  s.schedule.eta0 = 0.1;
  s.batch_size = 1;
  s.shuffle = 0;
  s.order = order;
  s.order_size = order_size;
  s.skip = skip;
  s.sklearn_arithmetic = sequential;
  Targets<double> tg;
  tg.labels = labels.data();
  TrainWorkspace ws;
  const DenseRows<double> src{X.data(), 3, n, 3};
  if (sequential)
    sequential_epoch(src, tg, M, s, ws);
  else
    kernels_of<DenseRows<double>>(active_table()).epoch(src, tg, M, s, ws);
  model_fold(M);
  return M;
}

TEST(an_order_visits_its_rows_and_skips_the_marked_ones) {
  const index_t n = 40;
  Rng rng{11};
  std::vector<double> X(static_cast<std::size_t>(3 * n));
  std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
  for (double& v : X) v = rng.next();
  for (index_t i = 0; i < n; ++i) labels[static_cast<std::size_t>(i)] = rng.next() > 0 ? 1 : 0;
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  xorshift_shuffle(order.data(), n, 7u);
  std::vector<std::uint8_t> skip(static_cast<std::size_t>(n), 0);
  for (index_t i = 0; i < n; i += 4) skip[static_cast<std::size_t>(i)] = 1;
  // the same rows copied out in the order's sequence, marked rows left out
  std::vector<double> Xc;
  std::vector<std::int64_t> lc;
  for (const std::int64_t r : order) {
    if (skip[static_cast<std::size_t>(r)] != 0) continue;
    for (int j = 0; j < 3; ++j) Xc.push_back(X[static_cast<std::size_t>(3 * r + j)]);
    lc.push_back(labels[static_cast<std::size_t>(r)]);
  }
  const auto m = static_cast<index_t>(lc.size());
  CHECK(m == 30);
  for (const bool sequential : {false, true}) {
    const Model a = epoch_over(X, labels, n, order.data(), n, skip.data(), sequential);
    const Model b = epoch_over(Xc, lc, m, nullptr, 0, nullptr, sequential);
    CHECK(a.t == 31.0);
    CHECK(b.t == 31.0);
    for (std::size_t j = 0; j < 3; ++j) {
      CHECK_CLOSE(a.V[j], b.V[j], 1e-15);
      CHECK_CLOSE(a.AV[j], b.AV[j], 1e-15);
    }
    CHECK_CLOSE(a.b[0], b.b[0], 1e-15);
  }
  // both steps are the same algorithm: they agree to rounding
  const Model f = epoch_over(X, labels, n, order.data(), n, skip.data(), false);
  const Model q = epoch_over(X, labels, n, order.data(), n, skip.data(), true);
  for (std::size_t j = 0; j < 3; ++j) CHECK_CLOSE(f.V[j], q.V[j], 1e-12);
}

int main(int argc, char** argv) {
  if (argc > 1 && !set_isa(argv[1])) {
    std::printf("skipped: this machine cannot run the %s kernels\n", argv[1]);
    return 77;
  }
  std::printf("kernels: %s\n", active_isa());
  return check::run_all();
}
