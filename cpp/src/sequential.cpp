// Epochs in scikit-learn's order of floating-point operations (sequential.hpp).
// CMake compiles this file without instruction-set flags and with
// -ffp-contract=off: no multiply and add is fused, as in scikit-learn's wheels.
#ifndef FASTSGD_ISA
#error "FASTSGD_ISA must be set (sequential)"
#endif

#include "fastsgd/sequential.hpp"

#include "fastsgd/isa_table.hpp"

namespace fastsgd {

EpochStats sequential_epoch(const DenseRows<float>& src, const Targets<float>& tg, Model& M,
                            const EpochSpec& spec, TrainWorkspace& ws) {
  return train_epoch_sequential(src, tg, M, spec, ws);
}

EpochStats sequential_epoch(const DenseRows<double>& src, const Targets<double>& tg, Model& M,
                            const EpochSpec& spec, TrainWorkspace& ws) {
  return train_epoch_sequential(src, tg, M, spec, ws);
}

}  // namespace fastsgd
