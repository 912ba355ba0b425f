// Parse tree of a template, mirroring Go's text/template/parse node kinds. Internal to the
// template module: built once by the parser, then read-only (shared by concurrent executions).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "logql/template/funcs.h"

namespace norn::logql_template::internal {

enum class NodeType : uint8_t {
  // Statements.
  kText,
  kAction,
  kIf,
  kWith,
  kRange,
  kBreak,
  kContinue,
  kList,
  // Pipeline pieces.
  kPipe,
  kCommand,
  // Operands.
  kField,
  kVariable,
  kDot,
  kNil,
  kBool,
  kNumber,
  kString,
  kIdentifier,
  kChain,
};

struct Node {
  NodeType type;
  int pos = 0;  // byte offset in the template text (for error context)

  // kText: the text. kString: the unquoted value. kNumber/kString: `orig` is the source text.
  std::string text;
  std::string orig;

  // kField: field names. kVariable: "$x" then field names. kChain: field names.
  std::vector<std::string> ident;
  int var_slot = -1;  // kVariable: slot of ident[0]

  // kNumber.
  bool is_int = false, is_float = false;
  int64_t int_val = 0;
  double float_val = 0;
  bool float_syntax = false;  // idealConstant yields float64 (has . e E p P and not hex/rune)

  bool bool_val = false;             // kBool
  const FuncInfo* func = nullptr;    // kIdentifier
  std::unique_ptr<Node> chain_node;  // kChain: the operand the fields apply to

  // kPipe.
  bool is_assign = false;
  std::vector<std::string> decl_names;
  std::vector<int> decl_slots;  // -1 for assignment to an undeclared variable
  std::vector<std::unique_ptr<Node>> cmds;

  // kCommand: args[0] is the function / operand.
  std::vector<std::unique_ptr<Node>> args;
  std::unique_ptr<CompiledRegex> regex;  // literal regex argument, compiled at parse time

  // kAction, kIf, kWith, kRange.
  std::unique_ptr<Node> pipe;
  std::unique_ptr<Node> list, else_list;

  // kList.
  std::vector<std::unique_ptr<Node>> nodes;

  explicit Node(NodeType t, int p) : type(t), pos(p) {}
};

// Go's Node.String(), used in error messages.
std::string NodeString(const Node& n);

struct Tree {
  std::string name;
  std::string text;
  std::unique_ptr<Node> root;  // kList
  int num_slots = 1;           // variable slots; slot 0 is $
  std::vector<std::string> fields;
  bool uses_all_labels = false;
  bool uses_line = false;
  bool uses_timestamp = false;
};

// Parses `text`; errors read like Go's ("template: line:1: unexpected EOF").
absl::StatusOr<std::unique_ptr<Tree>> ParseTree(std::string_view text, std::string_view name);

}  // namespace norn::logql_template::internal
