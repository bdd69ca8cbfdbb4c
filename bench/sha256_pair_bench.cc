// Hashing a payload's chunks and the whole payload: Sha256Pair (both
// streams in one interleaved pass where the CPU allows) beside its
// baselines in the same run: one SHA-256 stream (ota::common::Sha256 over
// OpenSSL's EVP, what `openssl speed -evp sha256` measures) and two
// streams updated one after the other (what the downloader did before).
//
//   bazel run -c opt //bench:sha256_pair_bench
//
// Each benchmark hashes 64 MiB in 64 KiB pieces with 1 MiB chunks and
// reports bytes/s of payload; the pair's ratio to the two-stream baseline
// is the speedup (docs/PERFORMANCE.md, "Device download").
#include <string>

#include "benchmark/benchmark.h"
#include "common/crypto/sha256.h"
#include "common/crypto/sha256_pair.h"

namespace {

constexpr size_t kPayload = 64 << 20;
constexpr size_t kPiece = 64 << 10;
constexpr size_t kChunk = 1 << 20;

const std::string& Piece() {
  static const std::string* piece = [] {
    auto* s = new std::string(kPiece, '\0');
    for (size_t i = 0; i < s->size(); ++i) (*s)[i] = static_cast<char>(i * 131 + 7);
    return s;
  }();
  return *piece;
}

void BM_OneStream(benchmark::State& state) {
  const std::string& piece = Piece();
  for (auto _ : state) {
    ota::common::Sha256 whole;
    for (size_t at = 0; at < kPayload; at += kPiece) whole.Update(piece);
    benchmark::DoNotOptimize(whole.Finish());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kPayload);
}

void BM_TwoStreamsInTurn(benchmark::State& state) {
  const std::string& piece = Piece();
  for (auto _ : state) {
    ota::common::Sha256 chunk, whole;
    for (size_t at = 0; at < kPayload; at += kPiece) {
      chunk.Update(piece);
      whole.Update(piece);
      if ((at + kPiece) % kChunk == 0) benchmark::DoNotOptimize(chunk.Finish());
    }
    benchmark::DoNotOptimize(whole.Finish());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kPayload);
}

void BM_Sha256Pair(benchmark::State& state) {
  const std::string& piece = Piece();
  for (auto _ : state) {
    ota::common::Sha256Pair pair;
    for (size_t at = 0; at < kPayload; at += kPiece) {
      pair.Update(piece);
      if ((at + kPiece) % kChunk == 0) benchmark::DoNotOptimize(pair.FinishFirst());
    }
    benchmark::DoNotOptimize(pair.FinishSecond());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kPayload);
  state.SetLabel(ota::common::Sha256Pair::Interleaved() ? "interleaved" : "in turn");
}

BENCHMARK(BM_OneStream)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TwoStreamsInTurn)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Sha256Pair)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
