// Shared by every binding file; include first. Turns NumPy arrays into the
// core's views (no copies: the Python layer converted what needed converting)
// and raises clear errors for anything the core cannot read in place.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "fastsgd/data.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

namespace fastsgd::bind {

void register_specs(py::module_& m);
void register_kernels(py::module_& m);
void register_train(py::module_& m);
void register_classify(py::module_& m);
void register_system(py::module_& m);
void register_sparse(py::module_& m);

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
const char* dtype_name() {
  if constexpr (std::is_same_v<T, float>) return "float32";
  if constexpr (std::is_same_v<T, double>) return "float64";
  if constexpr (std::is_same_v<T, std::int32_t>) return "int32";
  if constexpr (std::is_same_v<T, std::int64_t>) return "int64";
  if constexpr (std::is_same_v<T, std::uint8_t>) return "uint8";
  return "?";
}

template <class T>
bool has_dtype(const py::array& a) {
  // dtype equality, not identity: memory-mapped arrays carry their own dtype objects
  return a.dtype().equal(py::dtype::of<T>());
}

template <class T>
Matrix<T> as_matrix(const py::array& a, const char* name) {
  if (!has_dtype<T>(a))
    throw py::type_error(std::string(name) + " must be a " + dtype_name<T>() + " array");
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
  if (!has_dtype<T>(a))
    throw py::type_error(std::string(name) + " must be a " + dtype_name<T>() + " array");
  if (!(a.flags() & py::array::c_style)) fail(std::string(name) + " must be C-contiguous");
  check_aligned(a, name);
  return static_cast<const T*>(a.data());
}

template <class T>
const T* as_vector(const py::object& o, const char* name, index_t size) {
  const py::array a = o.cast<py::array>();
  if (a.ndim() != 1 || a.shape(0) != size)
    fail(std::string(name) + " must have shape (" + std::to_string(size) + ",), got " +
         shape_str(a));
  return as_contiguous<T>(a, name);
}

template <class T>
T* as_writable(py::array& a, const char* name) {
  const T* p = as_contiguous<T>(a, name);
  if (!a.writeable()) fail(std::string(name) + " must be writable");
  return const_cast<T*>(p);
}

inline bool is_float32(const py::array& X) { return has_dtype<float>(X); }

// The targets and weights of a data set, as Python hands them over (see
// fastsgd::Targets); the arrays are kept alive with the object.
struct PyTargets {
  py::object Y = py::none();
  py::object labels = py::none();
  std::int64_t positive = 1;
  py::object sample_weight = py::none();
  py::object class_weight = py::none();
  double pos_weight = 1.0;
  double neg_weight = 1.0;
  py::object positive_mask = py::none();
};

// The core's view of targets for n rows and k outputs, checked: shapes, dtypes,
// and (for a joint loss) labels in [0, k), so that the core never reads past
// an array.
template <class T>
Targets<T> bind_targets(const PyTargets& pt, index_t n, index_t k, bool joint) {
  Targets<T> tg;
  if (!pt.Y.is_none()) {
    const Matrix<T> y = as_matrix<T>(pt.Y.cast<py::array>(), "Y");
    if (y.rows != n || y.cols != k)
      fail("Y must have shape (" + std::to_string(n) + ", " + std::to_string(k) + "), got (" +
           std::to_string(y.rows) + ", " + std::to_string(y.cols) + ")");
    tg.Y = y.data;
    tg.ldy = y.ld;
  }
  if (!pt.labels.is_none()) {
    tg.labels = as_vector<std::int64_t>(pt.labels, "labels", n);
    if (joint) {
      for (index_t i = 0; i < n; ++i)
        if (tg.labels[i] < 0 || tg.labels[i] >= k)
          fail("labels must be class indices in [0, " + std::to_string(k) + "), found " +
               std::to_string(tg.labels[i]) + " in row " + std::to_string(i));
    }
  }
  if (joint && tg.labels == nullptr) fail("this loss needs labels (class indices)");
  if (tg.Y != nullptr && tg.labels != nullptr) fail("pass Y or labels, not both");
  tg.positive = pt.positive;
  if (!pt.positive_mask.is_none()) {
    if (tg.labels == nullptr || joint || k != 1)
      fail("positive_mask goes with labels and one binary output (k = 1)");
    tg.positive_mask = as_vector<std::uint8_t>(pt.positive_mask, "positive_mask", n);
  }
  if (!pt.sample_weight.is_none())
    tg.sample_weight = as_vector<double>(pt.sample_weight, "sample_weight", n);
  if (!pt.class_weight.is_none()) {
    const py::array cw = pt.class_weight.cast<py::array>();
    if (cw.ndim() != 1 || cw.shape(0) < k)
      fail("class_weight must have shape (k,) with k >= " + std::to_string(k) + ", got " +
           shape_str(cw));
    tg.class_weight = as_contiguous<double>(cw, "class_weight");
  }
  tg.pos_weight = pt.pos_weight;
  tg.neg_weight = pt.neg_weight;
  return tg;
}

// A CSR matrix as Python hands it over (scipy.sparse's three arrays and the column
// count), checked once when made: data float32/float64, indices and indptr both int32
// or both int64, indptr non-decreasing from >= 0 to at most nnz, every column index in
// [0, d). It records whether the rows' columns are sorted and free of duplicates.
struct PyCsr {
  py::array data, indices, indptr;
  index_t n = 0, d = 0;
  bool sorted = true, duplicates = false;
};

PyCsr make_csr(py::array data, py::array indices, py::array indptr, index_t n_cols);

template <class T, class I>
CsrRows<T, I> csr_view(const PyCsr& c) {
  return CsrRows<T, I>{static_cast<const T*>(c.data.data()),
                       static_cast<const I*>(c.indices.data()),
                       static_cast<const I*>(c.indptr.data()), c.n, c.d};
}

// f(src) with X's data source: DenseRows<T> for a 2-d float array, CsrRows<T, I> for a
// CsrMatrix. Everything f returns must convert to one type (a py::object, say).
template <class F>
decltype(auto) with_source(const py::object& X, F&& f) {
  if (py::isinstance<PyCsr>(X)) {
    const PyCsr& c = X.cast<const PyCsr&>();
    const bool f32 = has_dtype<float>(c.data), i32 = has_dtype<std::int32_t>(c.indices);
    if (f32) return i32 ? f(csr_view<float, std::int32_t>(c)) : f(csr_view<float, std::int64_t>(c));
    return i32 ? f(csr_view<double, std::int32_t>(c)) : f(csr_view<double, std::int64_t>(c));
  }
  if (!py::isinstance<py::array>(X))
    throw py::type_error("X must be a float32 or float64 NumPy array or a CsrMatrix");
  const py::array a = X.cast<py::array>();
  if (has_dtype<float>(a)) {
    const Matrix<float> x = as_matrix<float>(a, "X");
    return f(DenseRows<float>{x.data, x.ld, x.rows, x.cols});
  }
  const Matrix<double> x = as_matrix<double>(a, "X");
  return f(DenseRows<double>{x.data, x.ld, x.rows, x.cols});
}

}  // namespace fastsgd::bind
