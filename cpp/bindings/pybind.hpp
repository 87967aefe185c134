// Shared by every binding file; include first.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "fastsgd/view.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

namespace fastsgd::bind {

void register_kernels(py::module_& m);
void register_train(py::module_& m);
void register_classify(py::module_& m);

inline std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    s += std::to_string(a.shape(i));
    if (a.ndim() == 1 || i + 1 < a.ndim()) s += ", ";
  }
  return s.substr(0, a.ndim() == 1 ? s.size() - 1 : s.size()) + (a.ndim() == 1 ? ",)" : ")");
}

[[noreturn]] inline void fail(const std::string& msg) { throw std::invalid_argument(msg); }

// A 2-d array of T with unit column stride; the row stride may be anything.
template <class T>
struct Matrix {
  const T* data;
  index_t rows, cols, ld;
};

// Arrays at an odd address (views of byte buffers) cannot be read as T in C++.
inline void check_aligned(const py::array& a, const char* name) {
  if (!(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
    fail(std::string(name) + " is not aligned in memory: pass np.require(" + name +
         ", requirements='A') (a copy)");
}

template <class T>
Matrix<T> as_matrix(const py::array& a, const char* name) {
  if (!py::isinstance<py::array_t<T>>(a) || a.dtype().kind() != 'f')
    throw py::type_error(std::string(name) + " must be a " +
                         (sizeof(T) == 4 ? "float32" : "float64") + " array");
  if (a.ndim() != 2) fail(std::string(name) + " must be 2-d, got shape " + shape_str(a));
  check_aligned(a, name);
  const auto isz = static_cast<py::ssize_t>(sizeof(T));
  if (a.shape(0) > 0 && a.shape(1) > 1 && a.strides(1) != isz)
    fail(std::string(name) + " must have contiguous rows (column stride " + std::to_string(isz) +
         " bytes), got strides (" + std::to_string(a.strides(0)) + ", " +
         std::to_string(a.strides(1)) + ")");
  if (a.shape(0) > 1 && a.strides(0) % isz != 0)
    fail(std::string(name) + " has a row stride that is not a whole number of elements");
  const auto rows = static_cast<index_t>(a.shape(0)), cols = static_cast<index_t>(a.shape(1));
  // a single row's stride is meaningless (NumPy may report anything)
  const index_t ld = rows > 1 ? static_cast<index_t>(a.strides(0) / isz) : cols;
  return {static_cast<const T*>(a.data()), rows, cols, ld};
}

// A C-contiguous array of T (any ndim), read-only view.
template <class T>
const T* as_contiguous(const py::array& a, const char* name) {
  if (!py::isinstance<py::array_t<T>>(a))
    throw py::type_error(std::string(name) + " must be a " +
                         (sizeof(T) == 4 ? "float32" : (sizeof(T) == 8 ? "float64" : "integer")) +
                         " array");
  if (!(a.flags() & py::array::c_style)) fail(std::string(name) + " must be C-contiguous");
  check_aligned(a, name);
  return static_cast<const T*>(a.data());
}

template <class T>
T* as_writable(py::array& a, const char* name) {
  const T* p = as_contiguous<T>(a, name);
  if (!a.writeable()) fail(std::string(name) + " must be writable");
  return const_cast<T*>(p);
}

}  // namespace fastsgd::bind
