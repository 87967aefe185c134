// Binding of sparse data: CsrMatrix, scipy.sparse's CSR arrays checked once for the
// core (fastsgd._sparse turns any scipy.sparse matrix or array into one).
#include <algorithm>
#include <string>
#include <vector>

#include "pybind.hpp"

namespace fastsgd::bind {
namespace {

template <class I>
void check_csr(PyCsr& c) {
  const I* ptr = static_cast<const I*>(c.indptr.data());
  const I* idx = static_cast<const I*>(c.indices.data());
  const auto nnz = static_cast<index_t>(c.indices.shape(0));
  if (c.n > 0 && (ptr[0] < 0 || static_cast<index_t>(ptr[c.n]) > nnz))
    fail("indptr must run from >= 0 to at most len(indices) = " + std::to_string(nnz) + ", got " +
         std::to_string(ptr[0]) + " to " + std::to_string(ptr[c.n]));
  std::vector<index_t> seen;  // per column: the last row holding it (rows with unsorted columns)
  for (index_t i = 0; i < c.n; ++i) {
    if (ptr[i + 1] < ptr[i])
      fail("indptr must be non-decreasing, found indptr[" + std::to_string(i + 1) +
           "] = " + std::to_string(ptr[i + 1]) + " < indptr[" + std::to_string(i) + "]");
    bool row_sorted = true;
    for (I j = ptr[i]; j < ptr[i + 1]; ++j) {
      const I col = idx[j];
      if (col < 0 || static_cast<index_t>(col) >= c.d)
        fail("column index " + std::to_string(col) + " in row " + std::to_string(i) +
             " is out of range for " + std::to_string(c.d) + " columns");
      if (j > ptr[i]) {
        if (col == idx[j - 1]) c.duplicates = true;
        if (col < idx[j - 1]) row_sorted = false;
      }
    }
    if (!row_sorted) {
      c.sorted = false;
      if (seen.empty()) seen.assign(static_cast<std::size_t>(c.d), -1);
      for (I j = ptr[i]; j < ptr[i + 1]; ++j) {
        index_t& last = seen[static_cast<std::size_t>(idx[j])];
        if (last == i) c.duplicates = true;
        last = i;
      }
    }
  }
}

}  // namespace

PyCsr make_csr(py::array data, py::array indices, py::array indptr, index_t n_cols) {
  PyCsr c;
  if (data.ndim() != 1 || indices.ndim() != 1 || indptr.ndim() != 1)
    fail("data, indices and indptr must be 1-d arrays");
  if (!has_dtype<float>(data) && !has_dtype<double>(data))
    throw py::type_error("data must be a float32 or float64 array");
  const bool i32 = has_dtype<std::int32_t>(indices);
  if (!i32 && !has_dtype<std::int64_t>(indices))
    throw py::type_error("indices must be an int32 or int64 array");
  if (!indptr.dtype().equal(indices.dtype()))
    throw py::type_error("indptr must have the dtype of indices");
  for (const py::array* a : {&data, &indices, &indptr}) {
    if (!(a->flags() & py::array::c_style)) fail("data, indices and indptr must be C-contiguous");
    check_aligned(*a, "a CSR array");
  }
  if (data.shape(0) != indices.shape(0))
    fail("data and indices must have the same length, got " + std::to_string(data.shape(0)) +
         " and " + std::to_string(indices.shape(0)));
  if (indptr.shape(0) < 1) fail("indptr must hold n_rows + 1 >= 1 values");
  if (n_cols < 0) fail("n_cols must be >= 0");
  c.data = std::move(data);
  c.indices = std::move(indices);
  c.indptr = std::move(indptr);
  c.n = static_cast<index_t>(c.indptr.shape(0)) - 1;
  c.d = n_cols;
  {
    const py::gil_scoped_release release;
    if (i32)
      check_csr<std::int32_t>(c);
    else
      check_csr<std::int64_t>(c);
  }
  return c;
}

void register_sparse(py::module_& m) {
  py::class_<PyCsr>(m, "CsrMatrix", R"pbdoc(
      A CSR matrix for the core: scipy.sparse's data, indices and indptr arrays (held, not
      copied) and the number of columns, checked once: indptr non-decreasing, every column
      index in range. ``sorted`` and ``duplicates`` say whether each row's columns are
      increasing and whether a column repeats within a row.)pbdoc")
      .def(py::init(&make_csr), "data"_a, "indices"_a, "indptr"_a, "n_cols"_a)
      .def_readonly("data", &PyCsr::data)
      .def_readonly("indices", &PyCsr::indices)
      .def_readonly("indptr", &PyCsr::indptr)
      .def_readonly("sorted", &PyCsr::sorted)
      .def_readonly("duplicates", &PyCsr::duplicates)
      .def_property_readonly("shape", [](const PyCsr& c) { return py::make_tuple(c.n, c.d); })
      .def_property_readonly("dtype", [](const PyCsr& c) { return c.data.dtype(); })
      .def_property_readonly("itemsize", [](const PyCsr& c) { return c.data.itemsize(); })
      .def_property_readonly("nnz", [](const PyCsr& c) { return c.data.shape(0); });
}

}  // namespace fastsgd::bind
