// Template execution: a tree walk with Go text/template's evaluation rules (exec.go): how
// pipelines pass the previous result as the final argument, how arguments are checked against
// parameter types, truthiness, variable scoping, range over the label map, and error context.
#include "logql/template/template.h"

#include <algorithm>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "logql/template/gofmt.h"
#include "logql/template/tree.h"

namespace norn::logql_template {

std::optional<std::string_view> PairsLabelSource::Get(std::string_view name) const {
  for (const auto& [k, v] : pairs_) {
    if (k == name)
      return v;
  }
  return std::nullopt;
}

void PairsLabelSource::ForEach(
    absl::FunctionRef<void(std::string_view, std::string_view)> fn) const {
  for (const auto& [k, v] : pairs_)
    fn(k, v);
}

namespace internal {
namespace {

class EmptyLabels : public LabelSource {
 public:
  std::optional<std::string_view> Get(std::string_view) const override { return std::nullopt; }
  void ForEach(absl::FunctionRef<void(std::string_view, std::string_view)>) const override {}
};

struct ExecError {
  std::string msg;
};

enum class Flow { kNormal, kBreak, kContinue };

constexpr int kMaxDepth = 10000;  // Go's maxExecDepth

class State {
 public:
  State(const Tree& tree, const ExecContext& ctx, std::string* out)
      : tree_(tree), ctx_(ctx), out_(out) {
    labels_ = ctx.labels != nullptr ? ctx.labels : &empty_;
    vars_.resize(static_cast<size_t>(tree.num_slots));
    vars_[0] = Value::Map(labels_);
  }

  void Run() { Walk(vars_[0], *tree_.root); }

 private:
  void At(const Node* n) { node_ = n; }

  [[noreturn]] void Errorf(std::string msg) {
    if (node_ == nullptr) {
      throw ExecError{absl::StrCat("template: ", tree_.name, ": ", msg)};
    }
    size_t pos = std::min(static_cast<size_t>(node_->pos), tree_.text.size());
    std::string_view before(tree_.text.data(), pos);
    size_t nl = before.rfind('\n');
    size_t col = nl == std::string_view::npos ? pos : pos - (nl + 1);
    int line = 1 + static_cast<int>(std::count(before.begin(), before.end(), '\n'));
    std::string context = NodeString(*node_);
    if (context.size() > 20)
      context = context.substr(0, 20) + "...";
    throw ExecError{absl::StrCat("template: ", tree_.name, ":", line, ":", col, ": executing \"",
                                 tree_.name, "\" at <", context, ">: ", msg)};
  }

  Flow Walk(const Value& dot, const Node& n) {
    switch (n.type) {
      case NodeType::kText:
        out_->append(n.text);
        return Flow::kNormal;
      case NodeType::kAction: {
        Value v = EvalPipeline(dot, *n.pipe);
        if (n.pipe->decl_names.empty()) {
          At(&n);
          AppendValue(out_, v);
        }
        return Flow::kNormal;
      }
      case NodeType::kIf:
      case NodeType::kWith: {
        Value v = EvalPipeline(dot, *n.pipe);
        if (IsTrue(v)) {
          if (n.type == NodeType::kWith)
            return Walk(v, *n.list);
          return Walk(dot, *n.list);
        }
        if (n.else_list)
          return Walk(dot, *n.else_list);
        return Flow::kNormal;
      }
      case NodeType::kList:
        for (const auto& c : n.nodes) {
          Flow f = Walk(dot, *c);
          if (f != Flow::kNormal)
            return f;
        }
        return Flow::kNormal;
      case NodeType::kRange:
        return WalkRange(dot, n);
      case NodeType::kBreak:
        return Flow::kBreak;
      case NodeType::kContinue:
        return Flow::kContinue;
      default:
        At(&n);
        Errorf("unknown node");
    }
  }

  Flow WalkRange(const Value& dot, const Node& r) {
    At(&r);
    Value v = EvalPipeline(dot, *r.pipe);
    if (v.type() == Type::kMap) {
      std::vector<std::pair<std::string_view, std::string_view>> kv;
      if (v.map() != nullptr) {
        v.map()->ForEach(
            [&](std::string_view k, std::string_view val) { kv.emplace_back(k, val); });
      }
      std::sort(kv.begin(), kv.end());
      if (!kv.empty()) {
        const auto& slots = r.pipe->decl_slots;
        for (const auto& [k, val] : kv) {
          Value elem = Value::Borrowed(val);
          if (slots.size() == 1) {
            SetVar(slots[0], r.pipe->decl_names[0], elem);
          } else if (slots.size() >= 2) {
            SetVar(slots[0], r.pipe->decl_names[0], Value::Borrowed(k));
            SetVar(slots[1], r.pipe->decl_names[1], elem);
          }
          Flow f = Walk(elem, *r.list);
          if (f == Flow::kBreak)
            break;
        }
        return Flow::kNormal;
      }
    } else if (v.type() == Type::kObject || v.type() == Type::kList) {
      const Composite& c = v.comp();
      if (c.size() > 0) {
        const auto& slots = r.pipe->decl_slots;
        const bool is_list = v.type() == Type::kList;
        for (size_t i = 0; i < c.size(); i++) {
          // Go ranges over a map in sorted key order, which is how objects are stored.
          const Value& elem = is_list ? c.list[i] : c.object[i].second;
          if (slots.size() == 1) {
            SetVar(slots[0], r.pipe->decl_names[0], elem);
          } else if (slots.size() >= 2) {
            SetVar(
                slots[0], r.pipe->decl_names[0],
                is_list ? Value::Int(static_cast<int64_t>(i)) : Value::Borrowed(c.object[i].first));
            SetVar(slots[1], r.pipe->decl_names[1], elem);
          }
          Flow f = Walk(elem, *r.list);
          if (f == Flow::kBreak)
            break;
        }
        return Flow::kNormal;
      }
    } else if (v.valid() && v.type() != Type::kNil) {
      At(r.pipe.get());
      std::string s;
      AppendValue(&s, v);
      Errorf("range can't iterate over " + s);
    }
    if (r.else_list)
      return Walk(dot, *r.else_list);
    return Flow::kNormal;
  }

  void SetVar(int slot, const std::string& name, Value v) {
    if (slot < 0)
      Errorf("undefined variable: " + name);
    vars_[static_cast<size_t>(slot)] = std::move(v);
  }

  Value EvalPipeline(const Value& dot, const Node& pipe) {
    if (++depth_ > kMaxDepth)
      Errorf("exceeded maximum template depth (10000)");
    At(&pipe);
    Value value;
    bool have = false;
    for (const auto& cmd : pipe.cmds) {
      value = EvalCommand(dot, *cmd, have ? &value : nullptr);
      have = true;
      // A nil interface{} result (default's) becomes Go's invalid value.
      if (value.type() == Type::kNil)
        value = Value::Invalid();
    }
    for (size_t i = 0; i < pipe.decl_slots.size(); i++) {
      SetVar(pipe.decl_slots[i], pipe.decl_names[i], value);
    }
    depth_--;
    return value;
  }

  void NotAFunction(const std::vector<std::unique_ptr<Node>>& args, const Value* final) {
    if (args.size() > 1 || final != nullptr) {
      Errorf("can't give argument to non-function " + NodeString(*args[0]));
    }
  }

  // `final` (may be null) is the previous pipeline stage's result; it may be moved from.
  Value EvalCommand(const Value& dot, const Node& cmd, Value* final) {
    const Node& first = *cmd.args[0];
    switch (first.type) {
      case NodeType::kField:
        return EvalFieldNode(dot, first, cmd.args, final);
      case NodeType::kChain:
        return EvalChainNode(dot, first, cmd.args, final);
      case NodeType::kIdentifier:
        return EvalFunction(dot, first, cmd, &cmd.args, final);
      case NodeType::kPipe:
        NotAFunction(cmd.args, final);
        return EvalPipeline(dot, first);
      case NodeType::kVariable:
        return EvalVariableNode(dot, first, cmd.args, final);
      default:
        break;
    }
    At(&first);
    NotAFunction(cmd.args, final);
    switch (first.type) {
      case NodeType::kBool:
        return Value::Bool(first.bool_val);
      case NodeType::kDot:
        return dot;
      case NodeType::kNil:
        Errorf("nil is not a command");
      case NodeType::kNumber:
        return IdealConstant(first);
      case NodeType::kString:
        return Value::Borrowed(first.text);
      default:
        Errorf("can't evaluate command " + NodeString(first));
    }
  }

  Value IdealConstant(const Node& n) {
    At(&n);
    if (n.float_syntax)
      return Value::Float(n.float_val);
    if (n.is_int)
      return Value::Int(n.int_val);
    Errorf(n.orig + " overflows int");
  }

  Value EvalFieldNode(const Value& dot, const Node& field,
                      const std::vector<std::unique_ptr<Node>>& args, Value* final) {
    At(&field);
    return EvalFieldChain(dot, dot, field, field.ident, 0, args, final);
  }

  Value EvalChainNode(const Value& dot, const Node& chain,
                      const std::vector<std::unique_ptr<Node>>& args, Value* final) {
    At(&chain);
    if (chain.chain_node->type == NodeType::kNil) {
      Errorf("indirection through explicit nil in " + NodeString(chain));
    }
    Value pipe = EvalArg(dot, Param::kValue, *chain.chain_node);
    return EvalFieldChain(dot, pipe, chain, chain.ident, 0, args, final);
  }

  Value EvalVariableNode(const Value& dot, const Node& var,
                         const std::vector<std::unique_ptr<Node>>& args, Value* final) {
    At(&var);
    const Value& value = vars_[static_cast<size_t>(var.var_slot)];
    if (var.ident.size() == 1) {
      NotAFunction(args, final);
      return value;
    }
    return EvalFieldChain(dot, value, var, var.ident, 1, args, final);
  }

  Value EvalFieldChain(const Value& dot, const Value& receiver, const Node& node,
                       const std::vector<std::string>& ident, size_t from,
                       const std::vector<std::unique_ptr<Node>>& args, Value* final) {
    static const std::vector<std::unique_ptr<Node>> kNoArgs;
    if (from + 1 == ident.size())
      return EvalField(dot, ident.back(), node, args, final, receiver);
    // A value looked up in a JSON object keeps Go's static type interface{} along the chain
    // (its dynamic type shows only once a pipeline yields it), which error messages name.
    bool iface = receiver.type() == Type::kObject;
    Value cur = EvalField(dot, ident[from], node, kNoArgs, nullptr, receiver);
    for (size_t i = from + 1; i + 1 < ident.size(); i++) {
      bool next_iface = cur.type() == Type::kObject;
      cur = EvalField(dot, ident[i], node, kNoArgs, nullptr, cur, iface);
      iface = next_iface;
    }
    return EvalField(dot, ident.back(), node, args, final, cur, iface);
  }

  Value EvalField(const Value&, const std::string& name, const Node&,
                  const std::vector<std::unique_ptr<Node>>& args, Value* final,
                  const Value& receiver, bool iface = false) {
    if (!receiver.valid())
      return Value::Invalid();
    if (receiver.type() == Type::kNil)
      Errorf("nil pointer evaluating interface {}." + name);
    bool has_args = args.size() > 1 || final != nullptr;
    if (receiver.type() == Type::kObject) {
      if (has_args)
        Errorf(name + " is not a method but has arguments");
      // missingkey=zero on map[string]interface{}: the zero interface{}, a nil that the
      // pipeline turns into an invalid value ("<no value>").
      const Value* v = receiver.comp().Find(name);
      return v != nullptr ? *v : Value::Nil();
    }
    if (iface) {
      Errorf(absl::StrCat("can't evaluate field ", name, " in type interface {}"));
    }
    if (receiver.type() == Type::kMap) {
      if (has_args)
        Errorf(name + " is not a method but has arguments");
      std::optional<std::string_view> v;
      if (receiver.map() != nullptr)
        v = receiver.map()->Get(name);
      // missingkey=zero on map[string]string: a missing label is "".
      return Value::Borrowed(v.value_or(std::string_view()));
    }
    Errorf(absl::StrCat("can't evaluate field ", name, " in type ", AV(TypeName(receiver.type()))));
  }

  // `args` includes the function node at [0] (null when the identifier is itself an argument).
  Value EvalFunction(const Value& dot, const Node& ident, const Node& cmd,
                     const std::vector<std::unique_ptr<Node>>* args, Value* final) {
    At(&ident);
    const FuncInfo& f = *ident.func;
    const size_t nargs = args != nullptr ? args->size() - 1 : 0;
    const size_t num_in = nargs + (final != nullptr ? 1 : 0);
    const size_t num_fixed = f.variadic ? static_cast<size_t>(f.nparams) : nargs;
    if (f.variadic) {
      if (num_in < num_fixed) {
        Errorf(absl::StrCat("wrong number of args for ", AV(f.name), ": want at least ", f.nparams,
                            " got ", nargs));
      }
    } else if (num_in != static_cast<size_t>(f.nparams)) {
      Errorf(absl::StrCat("wrong number of args for ", AV(f.name), ": want ", f.nparams, " got ",
                          num_in));
    }
    if (IsAndOr(f)) {
      bool is_or = f.name == "or";
      Value v;
      for (size_t i = 1; i <= nargs; i++) {
        v = EvalArg(dot, Param::kValue, *(*args)[i]);
        if (IsTrue(v) == is_or)
          return v;
      }
      if (final != nullptr)
        v = std::move(*final);
      return v;
    }
    absl::InlinedVector<Value, 4> argv;
    size_t i = 0;
    for (; i < num_fixed && i < nargs; i++) {
      argv.push_back(EvalArg(dot, f.params[i], *(*args)[i + 1]));
    }
    if (f.variadic) {
      for (; i < nargs; i++)
        argv.push_back(EvalArg(dot, f.variadic_type, *(*args)[i + 1]));
    }
    if (final != nullptr) {
      Param t;
      if (f.variadic) {
        t = num_in - 1 < num_fixed ? f.params[num_in - 1] : f.variadic_type;
      } else {
        t = f.params[f.nparams - 1];
      }
      argv.push_back(ValidateType(std::move(*final), t));
    }
    CallEnv env;
    env.ctx = &ctx_;
    env.regex = cmd.type == NodeType::kCommand ? cmd.regex.get() : nullptr;
    Value result;
    std::string err;
    if (!CallFunc(f, std::span<Value>(argv.data(), argv.size()), env, &result, &err)) {
      At(&cmd);
      Errorf(absl::StrCat("error calling ", AV(f.name), ": ", err));
    }
    return result;
  }

  Value ValidateType(Value v, Param t) {
    if (t == Param::kAny || t == Param::kValue) {
      if (!v.valid() && t == Param::kAny)
        return Value::Nil();
      return v;
    }
    Type want;
    switch (t) {
      case Param::kString:
        want = Type::kString;
        break;
      case Param::kInt:
        want = Type::kInt;
        break;
      case Param::kFloat64:
        want = Type::kFloat64;
        break;
      case Param::kBool:
        want = Type::kBool;
        break;
      default:
        want = Type::kTime;
        break;
    }
    if (!v.valid() || v.type() == Type::kNil) {
      Errorf(absl::StrCat("invalid value; expected ", AV(ParamName(t))));
    }
    if (v.type() != want) {
      Errorf(absl::StrCat("wrong type for value; expected ", AV(ParamName(t)), "; got ",
                          AV(TypeName(v.type()))));
    }
    return v;
  }

  Value EvalArg(const Value& dot, Param t, const Node& n) {
    At(&n);
    switch (n.type) {
      case NodeType::kDot:
        return ValidateType(dot, t);
      case NodeType::kNil:
        if (t == Param::kAny)
          return Value::Nil();
        Errorf(absl::StrCat("cannot assign nil to ", AV(ParamName(t))));
      case NodeType::kField:
        return ValidateType(EvalFieldNode(dot, n, {}, nullptr), t);
      case NodeType::kVariable:
        return ValidateType(EvalVariableNode(dot, n, {}, nullptr), t);
      case NodeType::kPipe:
        return ValidateType(EvalPipeline(dot, n), t);
      case NodeType::kIdentifier:
        return ValidateType(EvalFunction(dot, n, n, nullptr, nullptr), t);
      case NodeType::kChain:
        return ValidateType(EvalChainNode(dot, n, {}, nullptr), t);
      default:
        break;
    }
    switch (t) {
      case Param::kBool:
        if (n.type == NodeType::kBool)
          return Value::Bool(n.bool_val);
        Errorf("expected bool; found " + NodeString(n));
      case Param::kFloat64:
        if (n.type == NodeType::kNumber && n.is_float)
          return Value::Float(n.float_val);
        Errorf("expected float; found " + NodeString(n));
      case Param::kInt:
        if (n.type == NodeType::kNumber && n.is_int)
          return Value::Int(n.int_val);
        Errorf("expected integer; found " + NodeString(n));
      case Param::kString:
        if (n.type == NodeType::kString)
          return Value::Borrowed(n.text);
        Errorf("expected string; found " + NodeString(n));
      case Param::kAny:
      case Param::kValue:
        switch (n.type) {
          case NodeType::kBool:
            return Value::Bool(n.bool_val);
          case NodeType::kNumber:
            return IdealConstant(n);
          case NodeType::kString:
            return Value::Borrowed(n.text);
          default:
            break;
        }
        Errorf("can't handle " + NodeString(n) + " for arg of type " +
               std::string(AV(ParamName(t))));
      case Param::kTime:
        Errorf("can't handle " + NodeString(n) + " for arg of type time.Time");
    }
    Errorf("unreachable");
  }

  const Tree& tree_;
  const ExecContext& ctx_;
  std::string* out_;
  EmptyLabels empty_;
  const LabelSource* labels_;
  absl::InlinedVector<Value, 4> vars_;
  const Node* node_ = nullptr;
  int depth_ = 0;
};

}  // namespace
}  // namespace internal

Template::Template(std::unique_ptr<internal::Tree> tree) : tree_(std::move(tree)) {}
Template::~Template() = default;

absl::StatusOr<std::unique_ptr<Template>> Template::Parse(std::string_view text,
                                                          std::string_view name) {
  auto tree = internal::ParseTree(text, name);
  if (!tree.ok())
    return tree.status();
  return std::unique_ptr<Template>(new Template(std::move(*tree)));
}

absl::Status Template::Execute(const ExecContext& ctx, std::string* out) const {
  out->clear();
  if (IsConstant()) {
    out->append(ConstantText());
    return absl::OkStatus();
  }
  try {
    internal::State(*tree_, ctx, out).Run();
  } catch (const internal::ExecError& e) {
    return absl::InvalidArgumentError(e.msg);
  }
  return absl::OkStatus();
}

const std::vector<std::string>& Template::RequiredLabelNames() const {
  return tree_->fields;
}
bool Template::UsesAllLabels() const {
  return tree_->uses_all_labels;
}
bool Template::UsesLine() const {
  return tree_->uses_line;
}
bool Template::UsesTimestamp() const {
  return tree_->uses_timestamp;
}

bool Template::IsConstant() const {
  const auto& nodes = tree_->root->nodes;
  return nodes.empty() || (nodes.size() == 1 && nodes[0]->type == internal::NodeType::kText);
}

std::string_view Template::ConstantText() const {
  const auto& nodes = tree_->root->nodes;
  if (nodes.size() == 1 && nodes[0]->type == internal::NodeType::kText)
    return nodes[0]->text;
  return {};
}

std::string_view Template::text() const {
  return tree_->text;
}

}  // namespace norn::logql_template
