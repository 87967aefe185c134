// Instantiates the hot kernels for one instruction set. CMake compiles this
// file once per set with -DFASTSGD_ISA=<name> and that set's flags; the name
// is also the inline namespace the kernels live in, so no symbol is shared.
#include "fastsgd/dot.hpp"
#include "fastsgd/kernels_table.hpp"
#include "fastsgd/loss.hpp"

#ifndef FASTSGD_ISA
#error "FASTSGD_ISA must name the instruction set"
#endif
#define FASTSGD_CAT_(a, b) a##b
#define FASTSGD_CAT(a, b) FASTSGD_CAT_(a, b)
#define FASTSGD_STR_(a) #a
#define FASTSGD_STR(a) FASTSGD_STR_(a)

namespace fastsgd {
namespace {

template <class T>
void grad_entry(const Problem<T>& p, Loss loss, index_t r0, index_t r1, bool grad, double* out,
                double* scratch) {
  grad_rows(p, loss, r0, r1, grad, out, scratch);
}
template <class T>
void predict_entry(const Problem<T>& p, index_t r0, index_t r1, T* out, index_t ldo) {
  predict_rows(p, r0, r1, out, ldo);
}

const IsaKernels table{FASTSGD_STR(FASTSGD_ISA), &grad_entry<float>,     &grad_entry<double>,
                       &predict_entry<float>,    &predict_entry<double>, &perm_positions,
                       &stream_sum<float>,       &stream_sum<double>};

}  // namespace

const IsaKernels& FASTSGD_CAT(isa_kernels_, FASTSGD_ISA)() { return table; }

}  // namespace fastsgd
