// Chunk benchmarks: per codec and log shape, the ingest path (append + cut: sort, encode,
// compress, token filter) and the read path (decode + iterate every entry), with compression
// ratio, filter overhead and token-filter false-positive rate as counters.
//
//   chunk_bench --benchmark_filter='mix'
//   chunk_bench --benchmark_filter=TokenFilter
//
// Data: ~50 MB of the mixed shape (nginx/JSON/logfmt), ~16 MB of each single shape, built
// like an ingester would: one stream, chunks cut when SpaceFor() says full.
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "storage/chunk/memchunk.h"
#include "storage/chunk/testdata.h"
#include "storage/chunk/token_filter.h"

namespace norn::chunk {
namespace {

constexpr const char* kKindNames[] = {"nginx", "json", "logfmt", "mix"};

struct Corpus {
  std::vector<std::string> lines;
  size_t bytes = 0;
};

const Corpus& GetCorpus(int kind) {
  static std::map<int, Corpus> cache;
  auto [it, inserted] = cache.try_emplace(kind);
  if (inserted) {
    const size_t target = kind == 3 ? 50u << 20 : 16u << 20;
    testdata::LogGenerator gen(100 + kind);
    int64_t ts = 1700000000000000000;
    while (it->second.bytes < target) {
      ts += gen.Uniform(1, 2000000);
      it->second.lines.push_back(gen.Line(kind, ts));
      it->second.bytes += it->second.lines.back().size();
    }
  }
  return it->second;
}

std::vector<std::unique_ptr<MemChunk>> BuildChunks(const Corpus& c, Encoding enc) {
  std::vector<std::unique_ptr<MemChunk>> out;
  ChunkOptions o;
  o.encoding = enc;
  auto chunk = std::make_unique<MemChunk>(o);
  int64_t ts = 1700000000000000000;
  for (const std::string& line : c.lines) {
    if (!chunk->SpaceFor(line.size())) {
      chunk->Close().IgnoreError();
      out.push_back(std::move(chunk));
      chunk = std::make_unique<MemChunk>(o);
    }
    chunk->Append(ts++, line).IgnoreError();
  }
  chunk->Close().IgnoreError();
  out.push_back(std::move(chunk));
  return out;
}

void SetShapeCounters(benchmark::State& state, const std::vector<std::unique_ptr<MemChunk>>& cs) {
  uint64_t raw = 0, comp = 0, filt = 0, blocks = 0;
  for (const auto& c : cs) {
    const ChunkStats s = c->Stats();
    raw += s.raw_bytes;
    comp += s.compressed_bytes;
    filt += s.filter_bytes;
    blocks += s.blocks;
  }
  state.counters["ratio"] = static_cast<double>(raw) / static_cast<double>(comp);
  state.counters["filter_pct"] = 100.0 * static_cast<double>(filt) / static_cast<double>(comp);
  state.counters["chunks"] = static_cast<double>(cs.size());
  state.counters["blocks"] = static_cast<double>(blocks);
  // False positives of random 32-hex needles (trace ids), per block.
  testdata::LogGenerator gen(7);
  uint64_t tests = 0, positives = 0;
  for (int q = 0; q < 200; ++q) {
    const std::string needle = gen.Hex(32);
    for (const auto& c : cs) {
      for (const auto& b : c->blocks()) {
        ++tests;
        positives += b->MayContain(needle);
      }
    }
  }
  state.counters["fp_hex32_pct"] = 100.0 * static_cast<double>(positives) / tests;
}

void BM_Append(benchmark::State& state) {
  const Encoding enc = static_cast<Encoding>(state.range(0));
  const Corpus& corpus = GetCorpus(static_cast<int>(state.range(1)));
  std::vector<std::unique_ptr<MemChunk>> chunks;
  for (auto _ : state) {
    chunks = BuildChunks(corpus, enc);
    benchmark::DoNotOptimize(chunks.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus.bytes));
  state.SetLabel(std::string(EncodingName(enc)) + "/" + kKindNames[state.range(1)]);
  SetShapeCounters(state, chunks);
}

void BM_DecodeIterate(benchmark::State& state) {
  const Encoding enc = static_cast<Encoding>(state.range(0));
  const Corpus& corpus = GetCorpus(static_cast<int>(state.range(1)));
  std::vector<std::string> encoded;
  for (const auto& c : BuildChunks(corpus, enc))
    encoded.push_back(*c->Encode());
  uint64_t entries = 0;
  for (auto _ : state) {
    for (const std::string& e : encoded) {
      auto chunk = MemChunk::Decode(e);
      auto it = (*chunk)->Iterator(std::numeric_limits<int64_t>::min(),
                                   std::numeric_limits<int64_t>::max(), Direction::kForward);
      while (it->Next()) {
        benchmark::DoNotOptimize(it->entry().line.data());
        ++entries;
      }
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus.bytes));
  state.SetLabel(std::string(EncodingName(enc)) + "/" + kKindNames[state.range(1)]);
}

// Codec alone on the cut blocks' raw layout: isolates compression from filter/sort work.
void BM_CodecOnly(benchmark::State& state) {
  const Encoding enc = static_cast<Encoding>(state.range(0));
  const bool decompress = state.range(2) != 0;
  const Corpus& corpus = GetCorpus(static_cast<int>(state.range(1)));
  const Codec* codec = GetCodec(enc);
  // Raw block images from an uncompressed build.
  std::vector<std::string> raws;
  for (const auto& c : BuildChunks(corpus, Encoding::kNone)) {
    for (const auto& b : c->blocks())
      raws.emplace_back(b->data());
  }
  std::vector<std::string> comps(raws.size());
  size_t raw_bytes = 0;
  for (size_t i = 0; i < raws.size(); ++i) {
    codec->Compress(raws[i], &comps[i]).IgnoreError();
    raw_bytes += raws[i].size();
  }
  std::string out;
  for (auto _ : state) {
    for (size_t i = 0; i < raws.size(); ++i) {
      if (decompress) {
        codec->Decompress(comps[i], raws[i].size(), &out).IgnoreError();
      } else {
        out.clear();
        codec->Compress(raws[i], &out).IgnoreError();
      }
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * raw_bytes));
  state.SetLabel(std::string(EncodingName(enc)) + "/" + kKindNames[state.range(1)] +
                 (decompress ? "/decompress" : "/compress"));
}

void Args(benchmark::internal::Benchmark* b) {
  for (int kind : {3, 0, 1, 2}) {
    for (int enc = 0; enc <= 4; ++enc)
      b->Args({enc, kind});
  }
  b->Iterations(2)->Unit(benchmark::kMillisecond);
}

void CodecArgs(benchmark::internal::Benchmark* b) {
  for (int enc = 0; enc <= 4; ++enc) {
    for (int d = 0; d <= 1; ++d)
      b->Args({enc, 3, d});
  }
  b->Iterations(2)->Unit(benchmark::kMillisecond);
}

// TokenFilter::Build alone over ~256 KiB blocks of lines (the default block size), for a given
// filter budget per block: args {budget bytes, kind}. Blocks cut with zstd get ~1-3 KiB at the
// default filter_ratio; larger budgets exercise the resize + multi-hash path.
void BM_TokenFilterBuild(benchmark::State& state) {
  const size_t budget = static_cast<size_t>(state.range(0));
  const Corpus& corpus = GetCorpus(static_cast<int>(state.range(1)));
  std::vector<std::vector<std::string_view>> blocks(1);
  size_t block_bytes = 0;
  for (const std::string& line : corpus.lines) {
    if (block_bytes >= kDefaultBlockSize) {
      blocks.emplace_back();
      block_bytes = 0;
    }
    blocks.back().push_back(line);
    block_bytes += line.size();
  }
  double empty = 0, hashes = 0;
  for (auto _ : state) {
    empty = hashes = 0;
    for (const auto& b : blocks) {
      TokenFilter f = TokenFilter::Build(b, budget);
      empty += f.empty();
      hashes += f.num_hashes();
      benchmark::DoNotOptimize(f);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus.bytes));
  state.counters["empty_frac"] = empty / static_cast<double>(blocks.size());
  state.counters["mean_k"] = hashes / static_cast<double>(blocks.size());
  state.SetLabel(kKindNames[state.range(1)]);
}

void FilterArgs(benchmark::internal::Benchmark* b) {
  for (int kind : {3, 0}) {
    for (int budget : {1024, 2048, 8192, 32768})
      b->Args({budget, kind});
  }
  b->Iterations(3)->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_Append)->Apply(Args);
BENCHMARK(BM_DecodeIterate)->Apply(Args);
BENCHMARK(BM_CodecOnly)->Apply(CodecArgs);
BENCHMARK(BM_TokenFilterBuild)->Apply(FilterArgs);

}  // namespace
}  // namespace norn::chunk

BENCHMARK_MAIN();
