#include "server/http/router.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace norn::http {
namespace {

bool IsParam(std::string_view seg) {
  return seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
}

}  // namespace

void Router::HandleWebSocket(std::string_view pattern, WebSocketHandler handler) {
  Handle({Method::kGet}, pattern, [](HttpRequest&, HttpResponse& resp) {
    resp.Error(400, "this endpoint only serves WebSocket connections");
  });
  routes_.back()->ws_handler = std::move(handler);  // The route Handle() just added.
}

std::string Router::RouteName(std::string_view pattern) {
  std::string name;
  name.reserve(pattern.size());
  for (char c : pattern) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      name.push_back(c);
    } else if (c == '{' || c == '}') {
      continue;
    } else if (!name.empty() && name.back() != '_') {
      name.push_back('_');
    }
  }
  while (!name.empty() && name.back() == '_') name.pop_back();
  return name.empty() ? std::string("root") : name;
}

void Router::Handle(std::initializer_list<Method> methods, std::string_view pattern,
                    Handler handler) {
  Route* existing = nullptr;
  for (auto& r : routes_) {
    if (r->pattern == pattern) existing = r.get();
  }
  if (existing != nullptr) {
    // Same pattern, other methods: a second route object keeps handlers separate.
    for (Method m : methods) {
      if (std::find(existing->methods.begin(), existing->methods.end(), m) !=
          existing->methods.end()) {
        std::cerr << "router: duplicate route " << MethodName(m) << " " << pattern << "\n";
        std::abort();
      }
    }
  }
  auto route = std::make_unique<Route>();
  route->pattern = std::string(pattern);
  route->name = RouteName(pattern);
  route->methods.assign(methods.begin(), methods.end());
  route->handler = std::move(handler);
  Route* raw = route.get();
  routes_.push_back(std::move(route));

  std::vector<std::string> segments = absl::StrSplit(AV(pattern), '/');
  bool has_params = std::any_of(segments.begin(), segments.end(),
                                [](const std::string& s) { return IsParam(s); });
  if (!has_params) {
    exact_[std::string(pattern)].push_back(raw);
  } else {
    parameterised_.push_back(Pattern{std::move(segments), raw});
  }
}

bool Router::MatchSegments(const Pattern& p, std::string_view path,
                           StringMap<std::string>* params) {
  std::vector<absl::string_view> parts = absl::StrSplit(AV(path), '/');
  if (parts.size() != p.segments.size()) return false;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& seg = p.segments[i];
    if (IsParam(seg)) {
      if (parts[i].empty()) return false;
    } else if (seg != SV(parts[i])) {
      return false;
    }
  }
  if (params != nullptr) {
    for (size_t i = 0; i < parts.size(); ++i) {
      const std::string& seg = p.segments[i];
      if (IsParam(seg)) (*params)[seg.substr(1, seg.size() - 2)] = std::string(parts[i]);
    }
  }
  return true;
}

Router::Match Router::Find(Method method, std::string_view path,
                           StringMap<std::string>* path_params) const {
  // Every route whose pattern matches the path, to pick the one serving `method`.
  std::vector<const Route*> candidates;
  if (auto it = exact_.find(path); it != exact_.end()) {
    candidates.insert(candidates.end(), it->second.begin(), it->second.end());
  }
  for (const Pattern& p : parameterised_) {
    if (MatchSegments(p, path, nullptr)) candidates.push_back(p.route);
  }
  if (candidates.empty()) return Match{};

  auto serves = [](const Route* r, Method m) {
    return std::find(r->methods.begin(), r->methods.end(), m) != r->methods.end();
  };
  for (Method want : {method, Method::kGet}) {
    for (const Route* r : candidates) {
      if (!serves(r, want)) continue;
      if (want == Method::kGet && method != Method::kGet && method != Method::kHead) continue;
      if (path_params != nullptr) {
        for (const Pattern& p : parameterised_) {
          if (p.route == r) MatchSegments(p, path, path_params);
        }
      }
      return Match{Outcome::kFound, r, ""};
    }
  }
  std::vector<std::string> allowed;
  for (const Route* r : candidates) {
    for (Method m : r->methods) allowed.emplace_back(MethodName(m));
  }
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  return Match{Outcome::kMethodNotAllowed, nullptr, absl::StrJoin(allowed, ", ")};
}


}  // namespace norn::http
