# The C++ core as a static library, fastsgd_core: the per-instruction-set kernels
# (cpp/src/per_isa.cpp, compiled once per set) and their dispatch (cpp/src/dispatch.cpp).
# No Python: the extension (CMakeLists.txt) and the core's own tests (cpp/tests/) link it.
# Needs FASTSGD_SOURCE_DIR (the repository's root) and the options below.

option(FASTSGD_WERROR "Treat compiler warnings as errors" OFF)
option(FASTSGD_NATIVE "Build every kernel for this machine only (-march=native)" OFF)
option(FASTSGD_OPENMP "Use OpenMP threads" ON)
set(FASTSGD_SANITIZE "" CACHE STRING "Sanitizers to build with, e.g. address,undefined or thread")

set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
set(CMAKE_CXX_VISIBILITY_PRESET hidden)
set(CMAKE_VISIBILITY_INLINES_HIDDEN ON)

if(FASTSGD_OPENMP)
  find_package(OpenMP COMPONENTS CXX)
endif()
# std::thread: the epochs' row helper (cpp/include/fastsgd/toucher.hpp)
find_package(Threads REQUIRED)

# Compile options shared by every translation unit.
add_library(fastsgd_options INTERFACE)
target_include_directories(fastsgd_options INTERFACE ${FASTSGD_SOURCE_DIR}/cpp/include)
if(MSVC)
  target_compile_options(fastsgd_options INTERFACE /W4 $<$<BOOL:${FASTSGD_WERROR}>:/WX>)
else()
  target_compile_options(fastsgd_options INTERFACE -Wall -Wextra -Wconversion -Wno-psabi
                                                   $<$<BOOL:${FASTSGD_WERROR}>:-Werror>)
endif()
target_link_libraries(fastsgd_options INTERFACE Threads::Threads)
if(OpenMP_CXX_FOUND)
  target_link_libraries(fastsgd_options INTERFACE OpenMP::OpenMP_CXX)
  target_compile_definitions(fastsgd_options INTERFACE FASTSGD_HAVE_OPENMP=1)
endif()
if(FASTSGD_SANITIZE)
  target_compile_options(fastsgd_options INTERFACE -fsanitize=${FASTSGD_SANITIZE} -fno-omit-frame-pointer -g)
  target_link_options(fastsgd_options INTERFACE -fsanitize=${FASTSGD_SANITIZE})
endif()

# The hot kernels are compiled at -O3; under sanitizers at -O1 (the instrumented -O3 build of
# every kernel template takes most of an hour on two cores, -O1 is the sanitizers' usual level).
if(FASTSGD_SANITIZE)
  set(FASTSGD_KERNEL_OPT -O1)
else()
  set(FASTSGD_KERNEL_OPT -O3)
endif()

# The hot kernels are compiled once per instruction set and picked at run time.
set(FASTSGD_ISAS baseline)
set(FASTSGD_FLAGS_baseline "")
if(FASTSGD_NATIVE)
  set(FASTSGD_FLAGS_baseline -march=native)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64" AND NOT MSVC)
  list(APPEND FASTSGD_ISAS avx2 avx512)
  set(FASTSGD_FLAGS_avx2 -mavx2 -mfma -mf16c)
  set(FASTSGD_FLAGS_avx512 -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma -mf16c -mprefer-vector-width=512)
endif()
set(isa_objects)
set(isa_defs)
foreach(isa IN LISTS FASTSGD_ISAS)
  add_library(fastsgd_isa_${isa} OBJECT ${FASTSGD_SOURCE_DIR}/cpp/src/per_isa.cpp)
  target_link_libraries(fastsgd_isa_${isa} PRIVATE fastsgd_options)
  target_compile_definitions(fastsgd_isa_${isa} PRIVATE FASTSGD_ISA=${isa})
  # GCC 12 reports false positives on vector-extension temporaries at -O3.
  target_compile_options(fastsgd_isa_${isa} PRIVATE ${FASTSGD_FLAGS_${isa}}
                         $<$<NOT:$<CXX_COMPILER_ID:MSVC>>:${FASTSGD_KERNEL_OPT} -ffp-contract=fast>
                         $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
  list(APPEND isa_objects $<TARGET_OBJECTS:fastsgd_isa_${isa}>)
  string(TOUPPER ${isa} ISA_UPPER)
  list(APPEND isa_defs FASTSGD_HAVE_ISA_${ISA_UPPER}=1)
endforeach()

# scikit-learn's order of floating-point operations, without fused multiply-adds
# (cpp/include/fastsgd/sequential.hpp): compiled without instruction-set flags, and on
# x86-64 once more with AVX2 but still without FMA (-ffp-contract=off and no -mfma: the
# same operations, the same bits; the three-operand instructions and sixteen wider
# registers took 0.90-0.93 of a drop-in fit's time), picked with the kernels' set.
set(FASTSGD_SEQUENTIAL_SETS baseline)
set(FASTSGD_SEQUENTIAL_FLAGS_baseline "")
if("avx2" IN_LIST FASTSGD_ISAS)
  list(APPEND FASTSGD_SEQUENTIAL_SETS avx2)
  set(FASTSGD_SEQUENTIAL_FLAGS_avx2 -mavx2)
endif()
set(sequential_objects)
foreach(set IN LISTS FASTSGD_SEQUENTIAL_SETS)
  add_library(fastsgd_sequential_${set} OBJECT ${FASTSGD_SOURCE_DIR}/cpp/src/sequential.cpp)
  target_link_libraries(fastsgd_sequential_${set} PRIVATE fastsgd_options)
  target_compile_definitions(fastsgd_sequential_${set} PRIVATE FASTSGD_ISA=sequential_${set})
  target_compile_options(fastsgd_sequential_${set} PRIVATE ${FASTSGD_SEQUENTIAL_FLAGS_${set}}
                         $<$<NOT:$<CXX_COMPILER_ID:MSVC>>:${FASTSGD_KERNEL_OPT} -ffp-contract=off>
                         $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
  list(APPEND sequential_objects $<TARGET_OBJECTS:fastsgd_sequential_${set}>)
  string(TOUPPER ${set} SET_UPPER)
  list(APPEND isa_defs FASTSGD_HAVE_SEQUENTIAL_${SET_UPPER}=1)
endforeach()

add_library(fastsgd_core STATIC ${FASTSGD_SOURCE_DIR}/cpp/src/dispatch.cpp ${isa_objects}
                                ${sequential_objects})
target_link_libraries(fastsgd_core PUBLIC fastsgd_options)
target_compile_definitions(fastsgd_core PUBLIC ${isa_defs}
                                               FASTSGD_BUILD_NATIVE=$<BOOL:${FASTSGD_NATIVE}>
                                               FASTSGD_SANITIZE_STR="${FASTSGD_SANITIZE}")
