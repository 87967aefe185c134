// The hot kernels of one instruction set, as plain function pointers, per data
// source. cpp/src/per_isa.cpp is compiled once per instruction set
// (baseline, AVX2, AVX-512) and fills one table; dispatch.cpp picks the best
// one the CPU supports. Adding a data source adds a member here and its
// instantiation there.
#pragma once

#include "fastsgd/csr_rows.hpp"
#include "fastsgd/data.hpp"
#include "fastsgd/epoch.hpp"
#include "fastsgd/permutation.hpp"

namespace fastsgd {

template <class Src>
struct SourceKernels {
  using T = typename Src::value_type;
  // out (zeroed here) = [Σ ℓ, Σ weight·ℓ, Σ dz, Σ dz xᵀ] over the rows of the set
  void (*loss_grad)(const Src&, const RowSet&, const Targets<T>&, const Params&, const LossSpec&,
                    double limit, bool grad, double* out, Workspace&);
  // out[r, c] = scale·(W x_r)[c] + b[c]
  void (*predict)(const Src&, const RowSet&, const Params&, T* out, index_t ldo, int threads);
  // one epoch of mini-batch SGD
  EpochStats (*epoch)(const Src&, const Targets<T>&, Model&, const EpochSpec&, TrainWorkspace&);
};

using PermFn = void (*)(const PermKey&, index_t start, index_t count, index_t* out);

struct IsaTable {
  const char* name;
  SourceKernels<DenseRows<float>> dense_f32;
  SourceKernels<DenseRows<double>> dense_f64;
  SourceKernels<CsrRows<float, std::int32_t>> csr_f32_i32;
  SourceKernels<CsrRows<float, std::int64_t>> csr_f32_i64;
  SourceKernels<CsrRows<double, std::int32_t>> csr_f64_i32;
  SourceKernels<CsrRows<double, std::int64_t>> csr_f64_i64;
  PermFn perm;
  double (*sum_f32)(const float*, index_t);
  double (*sum_f64)(const double*, index_t);
};

template <class Src>
const SourceKernels<Src>& kernels_of(const IsaTable& t);
template <>
inline const SourceKernels<DenseRows<float>>& kernels_of(const IsaTable& t) {
  return t.dense_f32;
}
template <>
inline const SourceKernels<DenseRows<double>>& kernels_of(const IsaTable& t) {
  return t.dense_f64;
}
template <>
inline const SourceKernels<CsrRows<float, std::int32_t>>& kernels_of(const IsaTable& t) {
  return t.csr_f32_i32;
}
template <>
inline const SourceKernels<CsrRows<float, std::int64_t>>& kernels_of(const IsaTable& t) {
  return t.csr_f32_i64;
}
template <>
inline const SourceKernels<CsrRows<double, std::int32_t>>& kernels_of(const IsaTable& t) {
  return t.csr_f64_i32;
}
template <>
inline const SourceKernels<CsrRows<double, std::int64_t>>& kernels_of(const IsaTable& t) {
  return t.csr_f64_i64;
}

const IsaTable& isa_table_baseline();
const IsaTable& isa_table_avx2();
const IsaTable& isa_table_avx512();

// An epoch in scikit-learn's order of floating-point operations (sequential.hpp),
// compiled without fused multiply-adds in cpp/src/sequential.cpp: sequential_epoch picks
// the build for the active kernels' set (the AVX2 one with the avx2 and avx512 kernels),
// the others are those builds.
#define FASTSGD_DECLARE_SEQUENTIAL_EPOCH(name)                                                   \
  EpochStats name(const DenseRows<float>&, const Targets<float>&, Model&, const EpochSpec&,    \
                  TrainWorkspace&);                                                            \
  EpochStats name(const DenseRows<double>&, const Targets<double>&, Model&, const EpochSpec&,  \
                  TrainWorkspace&);                                                            \
  EpochStats name(const CsrRows<float, std::int32_t>&, const Targets<float>&, Model&,          \
                  const EpochSpec&, TrainWorkspace&);                                          \
  EpochStats name(const CsrRows<float, std::int64_t>&, const Targets<float>&, Model&,          \
                  const EpochSpec&, TrainWorkspace&);                                          \
  EpochStats name(const CsrRows<double, std::int32_t>&, const Targets<double>&, Model&,        \
                  const EpochSpec&, TrainWorkspace&);                                          \
  EpochStats name(const CsrRows<double, std::int64_t>&, const Targets<double>&, Model&,        \
                  const EpochSpec&, TrainWorkspace&);
FASTSGD_DECLARE_SEQUENTIAL_EPOCH(sequential_epoch)
FASTSGD_DECLARE_SEQUENTIAL_EPOCH(sequential_baseline_epoch)
FASTSGD_DECLARE_SEQUENTIAL_EPOCH(sequential_avx2_epoch)
#undef FASTSGD_DECLARE_SEQUENTIAL_EPOCH
// The sequential build sequential_epoch runs: "baseline" or "avx2".
const char* sequential_set();

// Picked once from the CPU (or FASTSGD_ISA=baseline|avx2|avx512); see dispatch.cpp.
const IsaTable& active_table();
const char* active_isa();
bool set_isa(const char* name);  // false if unknown or unsupported here

}  // namespace fastsgd
