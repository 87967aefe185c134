// Instantiates the hot kernels for one instruction set. CMake compiles this
// file once per set with -DFASTSGD_ISA=<name> and that set's flags; the name
// is also the inline namespace the kernels live in, so no symbol is shared.
#ifndef FASTSGD_ISA
#error "FASTSGD_ISA must name the instruction set"
#endif

#include "fastsgd/csr_rows.hpp"
#include "fastsgd/epoch.hpp"
#include "fastsgd/isa_table.hpp"

#define FASTSGD_CAT_(a, b) a##b
#define FASTSGD_CAT(a, b) FASTSGD_CAT_(a, b)
#define FASTSGD_STR_(a) #a
#define FASTSGD_STR(a) FASTSGD_STR_(a)

namespace fastsgd {
namespace {

template <class Src>
void loss_grad_entry(const Src& src, const RowSet& rows,
                     const Targets<typename Src::value_type>& tg, const Params& p,
                     const LossSpec& spec, double limit, bool grad, double* out, Workspace& ws) {
  loss_grad_sums(src, rows, tg, p, spec, limit, grad, out, ws);
}
template <class Src>
void predict_entry(const Src& src, const RowSet& rows, const Params& p,
                   typename Src::value_type* out, index_t ldo, int threads) {
  predict(src, rows, p, out, ldo, threads);
}
template <class Src>
EpochStats epoch_entry(const Src& src, const Targets<typename Src::value_type>& tg, Model& M,
                       const EpochSpec& spec, TrainWorkspace& ws) {
  return train_epoch(src, tg, M, spec, ws);
}
template <class Src>
constexpr SourceKernels<Src> source_kernels() {
  return {&loss_grad_entry<Src>, &predict_entry<Src>, &epoch_entry<Src>};
}

const IsaTable table{FASTSGD_STR(FASTSGD_ISA),
                     source_kernels<DenseRows<float>>(),
                     source_kernels<DenseRows<double>>(),
                     source_kernels<CsrRows<float, std::int32_t>>(),
                     source_kernels<CsrRows<float, std::int64_t>>(),
                     source_kernels<CsrRows<double, std::int32_t>>(),
                     source_kernels<CsrRows<double, std::int64_t>>(),
                     &perm_positions,
                     &stream_sum<float>,
                     &stream_sum<double>};

}  // namespace

const IsaTable& FASTSGD_CAT(isa_table_, FASTSGD_ISA)() { return table; }

}  // namespace fastsgd
