// Epochs in scikit-learn's order of floating-point operations (sequential.hpp).
// CMake compiles this file with -ffp-contract=off and without -mfma, once per set
// (FASTSGD_ISA=sequential_baseline: no instruction-set flags; sequential_avx2: -mavx2):
// no multiply and add is fused, as in scikit-learn's wheels, so both give the same bits.
#ifndef FASTSGD_ISA
#error "FASTSGD_ISA must be set (sequential_baseline or sequential_avx2)"
#endif

#include "fastsgd/sequential.hpp"

#include "fastsgd/csr_rows.hpp"
#include "fastsgd/isa_table.hpp"

#define FASTSGD_CAT_(a, b) a##b
#define FASTSGD_CAT(a, b) FASTSGD_CAT_(a, b)

namespace fastsgd {

// sequential_baseline_epoch or sequential_avx2_epoch (isa_table.hpp)
#define FASTSGD_SEQUENTIAL_EPOCH(Src, T)                                                    \
  EpochStats FASTSGD_CAT(FASTSGD_ISA, _epoch)(const Src& src, const Targets<T>& tg, Model& M, \
                                              const EpochSpec& spec, TrainWorkspace& ws) {    \
    return train_epoch_sequential(src, tg, M, spec, ws);                                    \
  }
FASTSGD_SEQUENTIAL_EPOCH(DenseRows<float>, float)
FASTSGD_SEQUENTIAL_EPOCH(DenseRows<double>, double)
using CsrF32I32 = CsrRows<float, std::int32_t>;
using CsrF32I64 = CsrRows<float, std::int64_t>;
using CsrF64I32 = CsrRows<double, std::int32_t>;
using CsrF64I64 = CsrRows<double, std::int64_t>;
FASTSGD_SEQUENTIAL_EPOCH(CsrF32I32, float)
FASTSGD_SEQUENTIAL_EPOCH(CsrF32I64, float)
FASTSGD_SEQUENTIAL_EPOCH(CsrF64I32, double)
FASTSGD_SEQUENTIAL_EPOCH(CsrF64I64, double)
#undef FASTSGD_SEQUENTIAL_EPOCH

}  // namespace fastsgd
