#include "querier/line_prefilter.h"

#include <algorithm>
#include <string_view>

namespace norn::querier {

namespace {

bool HoldsAny(const std::vector<logql_log::Substring>& group, std::string_view line) {
  for (const logql_log::Substring& s : group) {
    if (s.In(line))
      return true;
  }
  return false;
}

}  // namespace

std::unique_ptr<NeedlePrefilter> NeedlePrefilter::For(const logql_log::LineFilter& filter) {
  std::vector<std::vector<logql_log::Substring>> groups;
  filter.CollectNeedleGroups(&groups);
  std::erase_if(groups, [](const auto& g) { return g.empty(); });
  if (groups.empty())
    return nullptr;
  return std::unique_ptr<NeedlePrefilter>(new NeedlePrefilter(std::move(groups)));
}

void NeedlePrefilter::Mark(const chunk::DecodedBlock& block, size_t lo, size_t hi,
                           std::vector<uint8_t>& keep) const {
  if (lo >= hi)
    return;
  const std::vector<logql_log::Substring>& first = groups_.front();
  if (!block.lines_ascending()) {
    for (size_t i = lo; i < hi; ++i)
      keep[i] = HoldsAny(first, block.line(i));
  } else {
    std::fill(keep.begin() + lo, keep.begin() + hi, 0);
    // The lines of [lo, hi) lie in [begin, end) in entry order; bytes between them (a v1
    // block's lengths and metadata) can hold a needle too, so a hit counts only when it lies
    // wholly inside one line.
    const char* begin = block.line(lo).data();
    const std::string_view last = block.line(hi - 1);
    const char* end = last.data() + last.size();
    for (const logql_log::Substring& needle : first) {
      const size_t n = needle.needle().size();
      size_t i = lo;
      const char* p = begin;
      while (p < end) {
        const size_t at = needle.Find(std::string_view(p, end - p));
        if (at == std::string_view::npos)
          break;
        const char* hit = p + at;
        while (i < hi && block.line(i).data() + block.line(i).size() <= hit)
          ++i;
        if (i == hi)
          break;
        const std::string_view line = block.line(i);
        if (hit < line.data()) {
          p = hit + 1;  // between two lines
        } else if (keep[i] || hit + n <= line.data() + line.size()) {
          keep[i] = 1;
          p = line.data() + line.size();  // the next line
          ++i;
        } else {
          p = hit + 1;  // runs into the next line
        }
      }
    }
  }
  for (size_t g = 1; g < groups_.size(); ++g) {
    for (size_t i = lo; i < hi; ++i) {
      if (keep[i] && !HoldsAny(groups_[g], block.line(i)))
        keep[i] = 0;
    }
  }
}

}  // namespace norn::querier
