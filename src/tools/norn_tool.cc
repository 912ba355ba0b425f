// norn-tool: offline inspection of a Norn store, for operators and tests.
//
//   norn-tool dump <store dir> [tenant]
//
// Reads every index file of the tenant (default "fake") in a filesystem object store, fetches
// the chunks they name and prints each entry once as a JSON line
// {"stream":"{...}","ts":"<ns>","line":"..."}, sorted by stream then time. Identical entries in
// several chunks (replays, replicas) are printed once, as the querier returns them.
#include <iostream>
#include <set>
#include <string>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/json.h"
#include "storage/chunk/memchunk.h"
#include "storage/index/index_reader.h"
#include "storage/index/index_set.h"
#include "storage/index/object_key.h"
#include "storage/objstore/filesystem.h"

namespace {

int Fail(const absl::Status& st) {
  std::cerr << "norn-tool: " << st.message() << "\n";
  return 1;
}

int Dump(const std::string& dir, const std::string& tenant) {
  auto store = norn::objstore::FilesystemObjectClient::Open(dir);
  if (!store.ok()) return Fail(store.status());
  auto listing = (*store)->List("index/", "");
  if (!listing.ok()) return Fail(listing.status());
  norn::index::IndexSet set;
  for (const auto& obj : listing->objects) {
    auto key = norn::index::ParseIndexObjectKey(obj.key);
    if (!key.ok() || key->tenant != tenant) continue;
    auto bytes = (*store)->Get(obj.key);
    if (!bytes.ok()) return Fail(bytes.status());
    auto reader = norn::index::IndexReader::FromBytes(std::move(*bytes));
    if (!reader.ok()) return Fail(reader.status());
    set.Add(std::move(*reader));
  }
  auto series = set.ChunkRefs({}, norn::index::kMinTime, norn::index::kMaxTime);
  if (!series.ok()) return Fail(series.status());
  std::set<std::tuple<std::string, int64_t, std::string>> entries;
  for (const auto& sc : *series) {
    std::string labels = sc.labels.ToString();
    for (const auto& ref : sc.chunks) {
      std::string key = norn::index::ChunkObjectKey(tenant, sc.fingerprint, ref.from_ns,
                                                    ref.through_ns, ref.checksum);
      auto data = (*store)->Get(key);
      if (!data.ok()) return Fail(data.status());
      auto chunk = norn::chunk::MemChunk::DecodeOwned(std::move(*data));
      if (!chunk.ok()) return Fail(chunk.status());
      auto it = (*chunk)->Iterator(INT64_MIN, INT64_MAX, norn::chunk::Direction::kForward);
      while (it->Next()) {
        entries.emplace(labels, it->entry().timestamp_ns, std::string(it->entry().line));
      }
      if (!it->status().ok()) return Fail(it->status());
    }
  }
  std::string out;
  for (const auto& [labels, ts, line] : entries) {
    out.clear();
    out += "{\"stream\":";
    norn::AppendJsonString(&out, labels);
    absl::StrAppend(&out, ",\"ts\":\"", ts, "\",\"line\":");
    norn::AppendJsonString(&out, line);
    out += "}\n";
    std::cout << out;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "dump") {
    return Dump(argv[2], argc >= 4 ? argv[3] : "fake");
  }
  std::cerr << "usage: norn-tool dump <store dir> [tenant]\n";
  return 2;
}
