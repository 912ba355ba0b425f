// Router: maps (method, path) to a handler. Patterns are literal paths with `{name}` segments
// bound as path parameters, e.g. "/loki/api/v1/label/{name}/values". Exact literal patterns are
// found by one hash look-up; parameterised ones are tried in registration order.
//
// Routes are registered before the server starts; after that the router is read-only and
// Find() is thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/strings.h"
#include "server/http/request.h"
#include "server/http/websocket.h"

namespace norn::http {

using Handler = std::function<void(HttpRequest& request, HttpResponse& response)>;

struct Route {
  std::string pattern;
  // Name used in metrics labels and logs, derived from the pattern the way Loki names its
  // routes: "/loki/api/v1/label/{name}/values" -> "loki_api_v1_label_name_values".
  std::string name;
  std::vector<Method> methods;
  Handler handler;
  // Set for WebSocket routes (HandleWebSocket): the server upgrades the connection instead of
  // calling `handler`.
  WebSocketHandler ws_handler;
};

class Router {
 public:
  enum class Outcome { kFound, kNotFound, kMethodNotAllowed };
  struct Match {
    Outcome outcome = Outcome::kNotFound;
    const Route* route = nullptr;  // Set for kFound.
    std::string allow;             // For kMethodNotAllowed: the Allow header value.
  };

  Router() = default;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Registers `handler` for `methods` on `pattern`. Registering the same pattern again adds
  // methods to it; registering the same method twice is a programmer error.
  void Handle(std::initializer_list<Method> methods, std::string_view pattern, Handler handler);

  // Registers a WebSocket endpoint (GET with `Upgrade: websocket`) on `pattern`; see
  // websocket.h for the handshake and the connection's lifecycle.
  void HandleWebSocket(std::string_view pattern, WebSocketHandler handler);

  // Finds the route for a request. HEAD falls back to GET. On kFound, binds `{name}` segments
  // into `path_params`.
  Match Find(Method method, std::string_view path,
             StringMap<std::string>* path_params) const;

  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

  static std::string RouteName(std::string_view pattern);

 private:
  struct Pattern {
    std::vector<std::string> segments;  // "{x}" marks a parameter.
    Route* route;
  };
  static bool MatchSegments(const Pattern& p, std::string_view path,
                            StringMap<std::string>* params);

  std::vector<std::unique_ptr<Route>> routes_;
  StringMap<std::vector<Route*>> exact_;
  std::vector<Pattern> parameterised_;
};

}  // namespace norn::http
