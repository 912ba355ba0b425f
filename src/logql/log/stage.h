// Stage: one step of the LogQL log pipeline (a line filter, parser, label filter, formatter,
// ...). Stages are built once per query from plain parameters (the engine maps AST nodes to the
// constructors in this folder) and then run for every entry.
//
// Process may rewrite the line: it then points `*line` at storage owned by the stage, valid
// until that stage's next Process call (buffers are reused: no per-entry allocation). It
// returns false to drop the entry.
//
// Labels a parser sets may borrow (LabelsBuilder::SetBorrowed) from the entry's line and from
// the parser's own caches instead of copying: the line and the stage must outlive every read of
// the builder for that entry (until its next Reset).
//
// Stages keep scratch buffers, so a stage (and the Pipeline holding it) is used by one thread
// at a time; build one Pipeline per query execution thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace norn::logql_log {

class LabelsBuilder;

class Stage {
 public:
  virtual ~Stage() = default;
  virtual bool Process(int64_t ts_ns, std::string_view* line, LabelsBuilder* lbs) = 0;
  // Labels this stage reads (the engine unions them into ParserHints for lazy parsing).
  virtual std::vector<std::string> RequiredLabelNames() const { return {}; }
  // True for stages that only look at the line (no label reads/writes).
  virtual bool IsLineFilter() const { return false; }
};

}  // namespace norn::logql_log
