// The hot kernels of one instruction set, as plain function pointers.
// cpp/src/isa_kernels.cpp is compiled once per instruction set (baseline,
// AVX2, AVX-512); dispatch.cpp picks the best one the CPU supports.
// Only types live here: an inline function in a header shared by translation
// units built with different instruction sets could be merged by the linker
// into the wrong variant.
#pragma once

#include "fastsgd/random.hpp"
#include "fastsgd/view.hpp"

namespace fastsgd {

template <class T>
using GradRowsFn = void (*)(const Problem<T>&, Loss, index_t r0, index_t r1, bool grad, double* out,
                            double* scratch);
template <class T>
using PredictRowsFn = void (*)(const Problem<T>&, index_t r0, index_t r1, T* out, index_t ldo);

using PermFn = void (*)(const PermKey&, index_t start, index_t count, index_t* out);

struct IsaKernels {
  const char* name;
  GradRowsFn<float> grad_f32;
  GradRowsFn<double> grad_f64;
  PredictRowsFn<float> predict_f32;
  PredictRowsFn<double> predict_f64;
  PermFn perm;
  double (*sum_f32)(const float*, index_t);
  double (*sum_f64)(const double*, index_t);
};

const IsaKernels& isa_kernels_baseline();
const IsaKernels& isa_kernels_avx2();
const IsaKernels& isa_kernels_avx512();

}  // namespace fastsgd
