// NeedlePrefilter: the chunk::LinePrefilter of a query's leading line filters. A line can pass
// them only if it holds at least one needle of every group they name
// (logql_log::LineFilter::CollectNeedleGroups), e.g. `|= "error"` names {"error"} and
// `|~ "/api/v1/(orders|cart)/[0-9]+"` names {"/api/v1/orders/", "/api/v1/cart/"}.
//
// Why: searching a block's lines one call per line costs a call, a short vector loop and a
// scalar tail per line, and hands every line through the merge to the filter; a needle that
// few lines hold is found faster by one vector scan over the block's lines buffer (they are
// stored back to back), and the lines without it never leave the chunk iterator. The first
// group is scanned that way (needles sharing a prefix, like a regex's alternatives, by one scan
// for the prefix); further groups are checked line by line on the lines still kept.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "logql/log/line_filter.h"
#include "logql/log/substring.h"
#include "storage/chunk/memchunk.h"

namespace norn::querier {

class NeedlePrefilter : public chunk::LinePrefilter {
 public:
  // Null when `filter` names no needle group (nothing to scan for).
  static std::unique_ptr<NeedlePrefilter> For(const logql_log::LineFilter& filter);

  void Mark(const chunk::DecodedBlock& block, size_t lo, size_t hi,
            std::vector<uint8_t>& keep) const override;

 private:
  explicit NeedlePrefilter(std::vector<std::vector<logql_log::Substring>> groups);

  std::vector<std::vector<logql_log::Substring>> groups_;  // none empty
  // The first group's needles' common prefix, when they are several, case-sensitive and share
  // at least kMinPrefix bytes: the scan looks for it and compares the needles where it is.
  std::optional<logql_log::Substring> first_prefix_;
  static constexpr size_t kMinPrefix = 4;
};

}  // namespace norn::querier
