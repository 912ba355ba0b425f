#include "server/http/router.h"

#include <gtest/gtest.h>

namespace norn::http {
namespace {

Handler Tag(std::string tag) {
  return [tag](HttpRequest&, HttpResponse& r) { r.Text(200, tag); };
}

std::string Invoke(const Router::Match& m) {
  HttpRequest req;
  HttpResponse resp;
  m.route->handler(req, resp);
  return resp.body;
}

TEST(RouterTest, ExactAndParameterisedRoutes) {
  Router router;
  router.Handle({Method::kGet, Method::kPost}, "/loki/api/v1/labels", Tag("labels"));
  router.Handle({Method::kGet}, "/loki/api/v1/label/{name}/values", Tag("values"));
  router.Handle({Method::kGet}, "/loki/api/v1/label", Tag("label"));

  StringMap<std::string> params;
  auto m = router.Find(Method::kGet, "/loki/api/v1/label/job/values", &params);
  ASSERT_EQ(m.outcome, Router::Outcome::kFound);
  EXPECT_EQ(Invoke(m), "values");
  EXPECT_EQ(params["name"], "job");
  EXPECT_EQ(m.route->name, "loki_api_v1_label_name_values");

  m = router.Find(Method::kPost, "/loki/api/v1/labels", nullptr);
  ASSERT_EQ(m.outcome, Router::Outcome::kFound);
  EXPECT_EQ(Invoke(m), "labels");
  EXPECT_EQ(router.Find(Method::kGet, "/loki/api/v1/label", nullptr).outcome,
            Router::Outcome::kFound);
}

TEST(RouterTest, NotFoundAndMethodNotAllowed) {
  Router router;
  router.Handle({Method::kPost}, "/loki/api/v1/push", Tag("push"));
  router.Handle({Method::kGet}, "/x/{id}", Tag("x"));
  EXPECT_EQ(router.Find(Method::kGet, "/nope", nullptr).outcome, Router::Outcome::kNotFound);
  EXPECT_EQ(router.Find(Method::kGet, "/x/", nullptr).outcome, Router::Outcome::kNotFound);
  EXPECT_EQ(router.Find(Method::kGet, "/x/1/2", nullptr).outcome, Router::Outcome::kNotFound);
  auto m = router.Find(Method::kGet, "/loki/api/v1/push", nullptr);
  EXPECT_EQ(m.outcome, Router::Outcome::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "POST");
}

TEST(RouterTest, HeadFallsBackToGetAndSamePatternTwice) {
  Router router;
  router.Handle({Method::kGet}, "/ready", Tag("get"));
  router.Handle({Method::kPost}, "/ready", Tag("post"));
  auto m = router.Find(Method::kHead, "/ready", nullptr);
  ASSERT_EQ(m.outcome, Router::Outcome::kFound);
  EXPECT_EQ(Invoke(m), "get");
  m = router.Find(Method::kPost, "/ready", nullptr);
  ASSERT_EQ(m.outcome, Router::Outcome::kFound);
  EXPECT_EQ(Invoke(m), "post");
  m = router.Find(Method::kDelete, "/ready", nullptr);
  EXPECT_EQ(m.outcome, Router::Outcome::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET, POST");
}

TEST(RouterTest, RouteNames) {
  EXPECT_EQ(Router::RouteName("/ready"), "ready");
  EXPECT_EQ(Router::RouteName("/loki/api/v1/push"), "loki_api_v1_push");
  EXPECT_EQ(Router::RouteName("/"), "root");
}

TEST(QueryStringTest, DecodesRepeatsAndPlus) {
  std::vector<std::pair<std::string, std::string>> out;
  ASSERT_TRUE(ParseQueryString("query=%7Bjob%3D%22a%22%7D&match[]=a&match%5B%5D=b&x=1+2&flag", &out)
                  .ok());
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].second, "{job=\"a\"}");
  EXPECT_EQ(out[2].first, "match[]");
  EXPECT_EQ(out[3].second, "1 2");
  EXPECT_EQ(out[4].first, "flag");
  EXPECT_FALSE(ParseQueryString("a=%zz", &out).ok());
  EXPECT_FALSE(ParseQueryString("a=%4", &out).ok());
}

}  // namespace
}  // namespace norn::http
