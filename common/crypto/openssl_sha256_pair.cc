// Sha256Pair: OpenSSL's SHA256_CTX for each stream (its block functions use
// the CPU's SHA instructions where there are some), and for whole blocks at
// the same offset in both streams, an interleaved compression over the x86
// SHA extensions.
//
// The SHA256_CTX interface is deprecated in OpenSSL 3 in favour of EVP,
// which hides the chaining state this file has to reach; the structure
// itself is unchanged since OpenSSL 0.9.8.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "common/base/check.h"
#include "common/crypto/sha256.h"
#include "common/crypto/sha256_pair.h"

namespace ota::common {
namespace {

SHA256_CTX* Ctx(void* bytes) { return static_cast<SHA256_CTX*>(bytes); }

// Counts `n` more bytes in a context whose blocks were compressed outside
// SHA256_Update (the length goes into the final padding).
void AddBytes(SHA256_CTX* ctx, uint64_t n) {
  uint64_t bits = (static_cast<uint64_t>(ctx->Nh) << 32 | ctx->Nl) + (n << 3);
  ctx->Nl = static_cast<SHA_LONG>(bits);
  ctx->Nh = static_cast<SHA_LONG>(bits >> 32);
}

#if defined(__x86_64__)

bool HasShaExtensions() {
  unsigned int a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) == 0) return false;
  const bool ssse3 = (c & (1u << 9)) != 0;
  const bool sse41 = (c & (1u << 19)) != 0;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return false;
  const bool sha = (b & (1u << 29)) != 0;
  return ssse3 && sse41 && sha;
}

alignas(16) constexpr uint32_t kRound[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define OTA_SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

// The SHA instructions keep the eight working variables as (A, B, E, F)
// and (C, D, G, H); SHA256_CTX keeps A..H in order.
OTA_SHA_TARGET inline void Load(const SHA_LONG* h, __m128i* abef, __m128i* cdgh) {
  __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h));
  __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + 4));
  __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
  __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  *abef = _mm_alignr_epi8(cdab, efgh, 8);
  *cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
}

OTA_SHA_TARGET inline void Store(__m128i abef, __m128i cdgh, SHA_LONG* h) {
  __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  __m128i dcba = _mm_blend_epi16(feba, dchg, 0xF0);
  __m128i hgfe = _mm_alignr_epi8(dchg, feba, 8);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(h), dcba);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(h + 4), hgfe);
}

// Compresses `blocks` 64-byte blocks from `data` into both chaining
// states. The message schedule is computed once; the two round chains
// depend only on themselves, so their instructions overlap.
OTA_SHA_TARGET void CompressBoth(SHA_LONG* h1, SHA_LONG* h2,
                                 const unsigned char* data, size_t blocks) {
  const __m128i byte_swap =
      _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i a0, a1, b0, b1;  // (ABEF, CDGH) of each stream
  Load(h1, &a0, &a1);
  Load(h2, &b0, &b1);
  for (; blocks > 0; --blocks, data += 64) {
    const __m128i a0_in = a0, a1_in = a1, b0_in = b0, b1_in = b1;
    __m128i w[4];  // the schedule's last 16 words, 4 per register
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) {
      if (i < 4) {
        w[i] = _mm_shuffle_epi8(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 16 * i)),
            byte_swap);
      } else {
        // W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at a time.
        __m128i t = _mm_sha256msg1_epu32(w[i & 3], w[(i - 3) & 3]);
        t = _mm_add_epi32(t, _mm_alignr_epi8(w[(i - 1) & 3], w[(i - 2) & 3], 4));
        w[i & 3] = _mm_sha256msg2_epu32(t, w[(i - 1) & 3]);
      }
      __m128i m = _mm_add_epi32(
          w[i & 3], _mm_load_si128(reinterpret_cast<const __m128i*>(kRound + 4 * i)));
      a1 = _mm_sha256rnds2_epu32(a1, a0, m);
      b1 = _mm_sha256rnds2_epu32(b1, b0, m);
      m = _mm_shuffle_epi32(m, 0x0E);
      a0 = _mm_sha256rnds2_epu32(a0, a1, m);
      b0 = _mm_sha256rnds2_epu32(b0, b1, m);
    }
    a0 = _mm_add_epi32(a0, a0_in);
    a1 = _mm_add_epi32(a1, a1_in);
    b0 = _mm_add_epi32(b0, b0_in);
    b1 = _mm_add_epi32(b1, b1_in);
  }
  Store(a0, a1, h1);
  Store(b0, b1, h2);
}

#undef OTA_SHA_TARGET

#else  // !defined(__x86_64__)

bool HasShaExtensions() { return false; }

void CompressBoth(SHA_LONG*, SHA_LONG*, const unsigned char*, size_t) {
  OTA_CHECK(false);
}

#endif

const bool kInterleaved = HasShaExtensions();

std::string FinishStream(SHA256_CTX* ctx) {
  std::string out(kSha256Size, '\0');
  OTA_CHECK(SHA256_Final(reinterpret_cast<unsigned char*>(out.data()), ctx) == 1);
  OTA_CHECK(SHA256_Init(ctx) == 1);
  return out;
}

}  // namespace

Sha256Pair::Sha256Pair() {
  static_assert(sizeof(Stream) == sizeof(SHA256_CTX));
  static_assert(alignof(Stream) >= alignof(SHA256_CTX));
  OTA_CHECK(SHA256_Init(Ctx(first_.bytes)) == 1);
  OTA_CHECK(SHA256_Init(Ctx(second_.bytes)) == 1);
}

bool Sha256Pair::Interleaved() { return kInterleaved; }

void Sha256Pair::Update(absl::string_view data) {
  SHA256_CTX* a = Ctx(first_.bytes);
  SHA256_CTX* b = Ctx(second_.bytes);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t size = data.size();
  if (kInterleaved && a->num == b->num) {
    // Up to the next block boundary, shared by both.
    if (a->num != 0) {
      size_t n = std::min<size_t>(size, SHA256_CBLOCK - a->num);
      SHA256_Update(a, p, n);
      SHA256_Update(b, p, n);
      p += n;
      size -= n;
    }
    if (a->num == 0 && size >= SHA256_CBLOCK) {
      const size_t blocks = size / SHA256_CBLOCK;
      CompressBoth(a->h, b->h, p, blocks);
      AddBytes(a, blocks * SHA256_CBLOCK);
      AddBytes(b, blocks * SHA256_CBLOCK);
      p += blocks * SHA256_CBLOCK;
      size -= blocks * SHA256_CBLOCK;
    }
  }
  if (size > 0) {
    SHA256_Update(a, p, size);
    SHA256_Update(b, p, size);
  }
}

void Sha256Pair::UpdateSecond(absl::string_view data) {
  SHA256_Update(Ctx(second_.bytes), data.data(), data.size());
}

std::string Sha256Pair::FinishFirst() { return FinishStream(Ctx(first_.bytes)); }

std::string Sha256Pair::FinishSecond() { return FinishStream(Ctx(second_.bytes)); }

}  // namespace ota::common
