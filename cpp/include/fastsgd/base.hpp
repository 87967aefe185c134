// What every header of the core shares: the index type and the namespace of
// the instruction set being compiled.
//
// The hot kernels are compiled once per instruction set (cpp/src/per_isa.cpp
// with -DFASTSGD_ISA=baseline|avx2|avx512, see isa_table.hpp). Every inline
// function they use lives in `inline namespace FASTSGD_ISA`, so the copies built
// with different instruction sets have different names and the linker can never
// merge them. Translation units that are not per-ISA (the bindings, the tests)
// get the namespace `generic`.
#pragma once

#include <cstdint>

#ifndef FASTSGD_ISA
#define FASTSGD_ISA generic
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FASTSGD_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define FASTSGD_ALWAYS_INLINE inline
#endif

namespace fastsgd {

using index_t = std::int64_t;  // every index and size: rows can exceed 2^31

constexpr index_t imin(index_t a, index_t b) { return a < b ? a : b; }
constexpr index_t imax(index_t a, index_t b) { return a < b ? b : a; }

}  // namespace fastsgd
