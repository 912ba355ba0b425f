#include "querier/line_prefilter.h"

#include <algorithm>
#include <cstring>
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

NeedlePrefilter::NeedlePrefilter(std::vector<std::vector<logql_log::Substring>> groups)
    : groups_(std::move(groups)) {
  const std::vector<logql_log::Substring>& first = groups_.front();
  if (first.size() < 2)
    return;
  std::string_view prefix = first.front().needle();
  for (const logql_log::Substring& s : first) {
    if (s.case_insensitive())
      return;
    size_t k = 0;
    while (k < prefix.size() && k < s.needle().size() && prefix[k] == s.needle()[k])
      ++k;
    prefix = prefix.substr(0, k);
  }
  if (prefix.size() >= kMinPrefix)
    first_prefix_.emplace(std::string(prefix));
}

std::unique_ptr<NeedlePrefilter> NeedlePrefilter::For(const logql_log::LineFilter& filter) {
  std::vector<std::vector<logql_log::Substring>> groups;
  filter.CollectNeedleGroups(&groups);
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
    // Whether a hit of `searched` at `hit` in `line` is a needle wholly inside the line: with
    // a common prefix, any of the group's needles found there; else `searched` itself.
    auto complete = [&](const logql_log::Substring& searched, const char* hit,
                        std::string_view line) {
      const size_t room = static_cast<size_t>(line.data() + line.size() - hit);
      if (!first_prefix_)
        return searched.needle().size() <= room;
      for (const logql_log::Substring& s : first) {
        const std::string& n = s.needle();
        if (n.size() <= room && std::memcmp(hit, n.data(), n.size()) == 0)
          return true;
      }
      return false;
    };
    auto scan = [&](const logql_log::Substring& searched) {
      size_t i = lo;
      const char* p = begin;
      while (p < end) {
        const size_t at = searched.Find(std::string_view(p, end - p));
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
        } else if (keep[i] || complete(searched, hit, line)) {
          keep[i] = 1;
          p = line.data() + line.size();  // the next line
          ++i;
        } else {
          p = hit + 1;  // runs into the next line, or no needle continues the prefix here
        }
      }
    };
    if (first_prefix_) {
      scan(*first_prefix_);
    } else {
      for (const logql_log::Substring& needle : first)
        scan(needle);
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
