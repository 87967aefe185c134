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
#include <cstring>

#include "fastsgd/base.hpp"
#include "fastsgd/simd.hpp"

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

// scikit-learn's shuffle (SequentialDataset.shuffle with its our_rand_r
// generator): a Fisher–Yates pass over `order` in place, driven by a 32-bit
// xorshift. scikit-learn applies it, with the same seed, to the previous
// epoch's order at the start of every epoch; with the same seed fastsgd's
// scikit-learn face visits the rows in the same order.
static inline std::uint32_t xorshift_next(std::uint32_t& state) {
  if (state == 0) state = 1;  // the generator's fixed point; scikit-learn's DEFAULT_SEED
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return state & 0x7FFFFFFFu;  // modulo RAND_R_MAX + 1 = 2^31
}

// static: compiled into each file that uses it, never shared between instruction sets
template <class I>
static void xorshift_shuffle(I* order, index_t n, std::uint32_t seed) {
  // The swap targets of a block of positions depend on the generator only: draw them
  // first and prefetch their entries, so that the random reads of a large order overlap.
  constexpr index_t kBlock = 64;
  index_t js[kBlock];
  for (index_t i0 = 0; i0 + 1 < n; i0 += kBlock) {
    const index_t i1 = i0 + kBlock < n - 1 ? i0 + kBlock : n - 1;
    for (index_t i = i0; i < i1; ++i) {
      const index_t j = static_cast<index_t>(
          static_cast<std::uint32_t>(i) + xorshift_next(seed) % static_cast<std::uint32_t>(n - i));
      js[i - i0] = j;
#if defined(__GNUC__) || defined(__clang__)
      __builtin_prefetch(order + j, 1, 3);
#endif
    }
    for (index_t i = i0; i < i1; ++i) {
      const index_t j = js[i - i0];
      const I tmp = order[i];
      order[i] = order[j];
      order[j] = tmp;
    }
  }
}

inline namespace FASTSGD_ISA {

// The round multipliers of the permutation (see random.hpp).
constexpr std::uint64_t kPermMul[3] = {0xBF58476D1CE4E5B9ULL, 0x94D049BB133111EBULL,
                                       0xD6E8FEB86659FD93ULL};

// One step of the permutation's bijection on [0, 2^m), for one position (U =
// std::uint64_t) or a vector of them (U = vu8).
template <class U>
inline U perm_step(const PermKey& key, U x) {
  const auto& M = kPermMul;
  for (int r = 0; r < 3; ++r) {
    x = ((x ^ key.k[r]) * M[r]) & key.mask;
    x ^= x >> key.shift;
  }
  return x;
}

// out[j] = perm(start + j) for j < count: the rows of one shuffled mini-batch.
inline void perm_positions_scalar(const PermKey& key, index_t start, index_t count, index_t* out) {
  const std::uint64_t n = key.n;
  for (index_t j = 0; j < count; ++j) {
    std::uint64_t x = perm_step(key, static_cast<std::uint64_t>(start + j));
    while (x >= n) x = perm_step(key, x);  // cycle walking
    x += key.offset;                       // rotate: (x + offset) mod n
    out[j] = static_cast<index_t>(x >= n ? x - n : x);
  }
}

#if defined(FASTSGD_NATIVE_VECTORS)
typedef std::uint64_t vu8 __attribute__((vector_size(64)));

// Eight positions at a time; lanes still outside [0, n) walk on together.
inline void perm_positions64(const PermKey& key, index_t start, index_t count, index_t* out) {
  const std::uint64_t n = key.n;
  const vu8 lanes = {0, 1, 2, 3, 4, 5, 6, 7};
  index_t j = 0;
  for (; j + 8 <= count; j += 8) {
    vu8 x = perm_step(key, lanes + static_cast<std::uint64_t>(start + j));
    vu8 outside = x >= n;
    while (((outside[0] | outside[1]) | (outside[2] | outside[3])) |
           ((outside[4] | outside[5]) | (outside[6] | outside[7]))) {
      x = outside ? perm_step(key, x) : x;
      outside = x >= n;
    }
    x += key.offset;
    x = x >= n ? x - n : x;
    std::memcpy(out + j, &x, sizeof x);
  }
  perm_positions_scalar(key, start + j, count - j, out + j);
}

// For n < 2^32 the same permutation in 32-bit lanes, sixteen at a time: every
// step is exact modulo 2^m with m <= 32, so only the low 32 bits matter.
typedef std::uint32_t vu16 __attribute__((vector_size(64)));
typedef std::uint32_t vu16h __attribute__((vector_size(32)));

inline vu16 perm_step32(vu16 x, const std::uint32_t* k, std::uint32_t mask, std::uint32_t shift) {
  for (int r = 0; r < 3; ++r) {  // the multipliers' low halves: exact modulo 2^m, m <= 32
    x = ((x ^ k[r]) * static_cast<std::uint32_t>(kPermMul[r])) & mask;
    x ^= x >> shift;
  }
  return x;
}

inline void perm_positions32(const PermKey& key, index_t start, index_t count, index_t* out) {
  const auto n = static_cast<std::uint32_t>(key.n);
  const auto mask = static_cast<std::uint32_t>(key.mask);
  const auto shift = static_cast<std::uint32_t>(key.shift);
  const std::uint32_t k[3] = {static_cast<std::uint32_t>(key.k[0]),
                              static_cast<std::uint32_t>(key.k[1]),
                              static_cast<std::uint32_t>(key.k[2])};
  const auto wrap =
      static_cast<std::uint32_t>(key.n - key.offset);  // x + offset >= n  iff  x >= wrap
  const auto offset = static_cast<std::uint32_t>(key.offset);
  const vu16 lanes = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  index_t j = 0;
  for (; j + 16 <= count; j += 16) {
    vu16 x = perm_step32(lanes + static_cast<std::uint32_t>(start + j), k, mask, shift);
    vu16 outside = x >= n;
    for (;;) {
      std::uint32_t any = 0;
      for (int l = 0; l < 16; ++l) any |= outside[l];
      if (any == 0) break;
      x = outside ? perm_step32(x, k, mask, shift) : x;
      outside = x >= n;
    }
    x = x >= wrap ? x - wrap : x + offset;
    const vu16h lo = {x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]};
    const vu16h hi = {x[8], x[9], x[10], x[11], x[12], x[13], x[14], x[15]};
    const vu8 lo64 = __builtin_convertvector(lo, vu8);
    const vu8 hi64 = __builtin_convertvector(hi, vu8);
    std::memcpy(out + j, &lo64, sizeof lo64);
    std::memcpy(out + j + 8, &hi64, sizeof hi64);
  }
  perm_positions_scalar(key, start + j, count - j, out + j);
}

inline void perm_positions(const PermKey& key, index_t start, index_t count, index_t* out) {
  if (key.n <= 0xFFFFFFFFULL && static_cast<std::uint64_t>(start + count) <= key.n)
    perm_positions32(key, start, count, out);
  else
    perm_positions64(key, start, count, out);
}
#else
inline void perm_positions(const PermKey& key, index_t start, index_t count, index_t* out) {
  perm_positions_scalar(key, start, count, out);
}
#endif

}  // namespace FASTSGD_ISA
}  // namespace fastsgd
