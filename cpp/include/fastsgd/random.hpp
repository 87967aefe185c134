// Seeded, portable randomness for shuffling: the same numbers on every
// platform, compiler and thread count.
//
// An epoch's order is a pseudorandom permutation of [0, n) computed on the
// fly, one position at a time, so shuffling needs no index array and no sort:
//   x ← i;  repeat x ← step(x) until x < n        (cycle walking on [0, 2^m))
//   perm(i) = (x + offset) mod n
// step is three rounds of  x ← ((x ⊕ kᵣ) · Mᵣ) mod 2^m;  x ← x ⊕ (x ≫ ⌈m/2⌉),
// each a bijection of m-bit integers. The keys kᵣ and the offset come from a
// SplitMix64 stream seeded by (seed, epoch). fastsgd.reference.permutation is
// the same function in NumPy.
#pragma once

#include <cstdint>

#include "fastsgd/view.hpp"

namespace fastsgd {

// Keys of one epoch's permutation (plain data, shared by every ISA).
struct PermKey {
  std::uint64_t n = 0;
  std::uint64_t mask = 0;   // 2^m − 1
  std::uint64_t shift = 1;  // ⌈m/2⌉
  std::uint64_t k[3] = {0, 0, 0};
  std::uint64_t offset = 0;
};

static constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

// SplitMix64's output function (Steele, Lea, Flood 2014).
static inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static inline PermKey make_perm_key(std::uint64_t n, std::uint64_t seed, std::uint64_t epoch) {
  PermKey key;
  key.n = n;
  unsigned m = 1;
  while (m < 64 && (std::uint64_t{1} << m) < n) ++m;
  key.mask = m >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << m) - 1;
  key.shift = (m + 1) / 2;
  const std::uint64_t s = mix64(mix64(seed + kGolden) + (epoch + 1) * kGolden);
  for (int r = 0; r < 3; ++r) key.k[r] = mix64(s + static_cast<std::uint64_t>(r + 1) * kGolden);
  key.offset = n > 0 ? mix64(s + 4 * kGolden) % n : 0;
  return key;
}

}  // namespace fastsgd
