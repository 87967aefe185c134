// A small test harness for the core's tests: CHECK(condition) and CHECK_CLOSE(a, b, tol)
// record failures with their file and line; TEST(name) registers a test; main() runs
// them all and exits non-zero if any check failed.
#pragma once

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace check {

struct Test {
  const char* name;
  std::function<void()> run;
};
inline std::vector<Test>& registry() {
  static std::vector<Test> tests;
  return tests;
}
inline int& failures() {
  static int n = 0;
  return n;
}
inline const char*& current() {
  static const char* name = "";
  return name;
}
struct Register {
  Register(const char* name, std::function<void()> f) {
    registry().push_back({name, std::move(f)});
  }
};

inline void fail(const char* file, int line, const std::string& what) {
  ++failures();
  std::fprintf(stderr, "%s:%d: in %s: %s\n", file, line, current(), what.c_str());
}

inline bool close(double a, double b, double tol) {
  if (std::isnan(a) || std::isnan(b)) return false;
  return std::fabs(a - b) <= tol * (1.0 + std::fabs(b));
}

inline int run_all() {
  for (const Test& t : registry()) {
    current() = t.name;
    const int before = failures();
    t.run();
    std::printf("%s %s\n", failures() == before ? "ok  " : "FAIL", t.name);
  }
  std::printf("%zu tests, %d failed checks\n", registry().size(), failures());
  return failures() == 0 ? 0 : 1;
}

}  // namespace check

#define CHECK_CAT_(a, b) a##b
#define CHECK_CAT(a, b) CHECK_CAT_(a, b)
#define TEST(name)                                                       \
  static void name();                                                    \
  static const check::Register CHECK_CAT(register_, name)(#name, &name); \
  static void name()
#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) check::fail(__FILE__, __LINE__, "CHECK(" #cond ")"); \
  } while (0)
#define CHECK_CLOSE(a, b, tol)                                                       \
  do {                                                                               \
    const double check_a_ = (a), check_b_ = (b);                                     \
    if (!check::close(check_a_, check_b_, (tol)))                                    \
      check::fail(__FILE__, __LINE__,                                                \
                  std::string(#a " = ") + std::to_string(check_a_) + ", " #b " = " + \
                      std::to_string(check_b_));                                     \
  } while (0)
