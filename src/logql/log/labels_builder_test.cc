#include "logql/log/labels_builder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace norn::logql_log {
namespace {

Labels Base() { return Labels({{"app", "api"}, {"job", "payments/api"}, {"pod", "p-1"}}); }

TEST(LabelsBuilderTest, UnchangedReturnsBase) {
  LabelsBuilder b(Base());
  EXPECT_TRUE(b.Unchanged());
  EXPECT_EQ(b.Hash(), Base().Hash());
  EXPECT_EQ(&b.CachedLabels(), &b.base());
}

TEST(LabelsBuilderTest, SetGetDelAndOutputSorted) {
  LabelsBuilder b(Base());
  b.Set("zeta", "1");
  b.Set("Alpha", "2");
  b.Set("pod", "override");
  EXPECT_EQ(b.Get("pod").value(), "override");
  EXPECT_EQ(b.CategoryOf("pod"), LabelCategory::kParsed);
  EXPECT_EQ(b.CategoryOf("app"), LabelCategory::kStream);
  b.Del("app");
  EXPECT_FALSE(b.Get("app").has_value());
  Labels want({{"Alpha", "2"}, {"job", "payments/api"}, {"pod", "override"}, {"zeta", "1"}});
  EXPECT_EQ(b.ToLabels(), want);
  EXPECT_EQ(b.Hash(), want.Hash());
  EXPECT_EQ(b.CachedLabels(), want);
  // Deleting a set label that shadowed a base label hides both (Loki's del list).
  b.Del("pod");
  EXPECT_FALSE(b.Get("pod").has_value());
  // Setting it again brings it back.
  b.Set("pod", "again");
  EXPECT_EQ(b.Get("pod").value(), "again");
}

TEST(LabelsBuilderTest, ResetKeepsBaseAndReusesSlots) {
  LabelsBuilder b(Base());
  b.Set("a", "1");
  b.Del("job");
  b.SetErr("JSONParserErr");
  b.Reset();
  EXPECT_TRUE(b.Unchanged());
  EXPECT_EQ(b.Get("job").value(), "payments/api");
  EXPECT_FALSE(b.Get("a").has_value());
  EXPECT_FALSE(b.HasErr());
}

TEST(LabelsBuilderTest, ErrorLabels) {
  LabelsBuilder b(Base());
  b.SetErr("JSONParserErr");
  b.SetErrorDetails("expecting json object(6), but it is not");
  EXPECT_EQ(b.Get("__error__").value(), "JSONParserErr");
  Labels got = b.ToLabels();
  EXPECT_EQ(got.Get("__error__"), "JSONParserErr");
  EXPECT_EQ(got.Get("__error_details__"), "expecting json object(6), but it is not");
  EXPECT_EQ(b.Hash(), got.Hash());
  // Sorted order: "__error__" < "__error_details__" < "app"; uppercase sorts before '_'.
  b.Set("ZED", "x");
  std::vector<LabelPair> pairs;
  b.SortedPairs(&pairs);
  ASSERT_GE(pairs.size(), 3u);
  EXPECT_EQ(pairs[0].first, "ZED");
  EXPECT_EQ(pairs[1].first, "__error__");
  EXPECT_EQ(pairs[2].first, "__error_details__");
  EXPECT_EQ(b.Hash(), b.ToLabels().Hash());
  // Set/Del of __error__ route to the error fields.
  b.Del("__error__");
  EXPECT_FALSE(b.HasErr());
  b.Set("__error__", "X");
  EXPECT_EQ(b.GetErr(), "X");
}

TEST(LabelsBuilderTest, StructuredMetadataClashGetsExtracted) {
  LabelsBuilder b(Base());
  std::vector<Label> sm = {{"trace_id", "abc"}, {"pod", "other"}};
  b.AddStructuredMetadata(sm);
  EXPECT_EQ(b.Get("trace_id").value(), "abc");
  EXPECT_EQ(b.CategoryOf("trace_id"), LabelCategory::kStructuredMetadata);
  EXPECT_EQ(b.Get("pod_extracted").value(), "other");
  EXPECT_EQ(b.Get("pod").value(), "p-1");
}

TEST(LabelsBuilderTest, ValueAliasingAnotherSlot) {
  LabelsBuilder b(Base());
  for (int i = 0; i < 20; ++i) b.Set("k" + std::to_string(i), std::string(40, 'a' + i % 26));
  // Copy from a slot into a new slot while the slot vector has to grow.
  std::string_view v = *b.Get("k3");
  b.Set("new", v);
  EXPECT_EQ(b.Get("new").value(), std::string(40, 'd'));
}

TEST(LabelsBuilderTest, BorrowedAndOwnedSlotsSurviveGrowthAndDeletes) {
  LabelsBuilder b(Base());
  // Borrowed names and values are used in place; owned ones (SSO-sized and longer) live in
  // slots that move when the slot vector grows and when Del swaps slots.
  std::vector<std::string> lent;
  for (int i = 0; i < 40; ++i) lent.push_back("borrowed_" + std::to_string(i));
  for (int round = 0; round < 2; ++round) {
    b.Reset();
    for (int i = 0; i < 40; ++i) {
      std::string name = "k" + std::to_string(i);
      if (i % 2 == 0) {
        b.SetBorrowed(lent[i], LabelsBuilder::NameSig(lent[i]), lent[i]);
      } else {
        b.Set(name, std::string(i % 3 == 0 ? 3 : 30, static_cast<char>('a' + i % 26)));
      }
    }
    b.Del("k1");
    b.Del(lent[0]);
    EXPECT_FALSE(b.Get("k1").has_value());
    EXPECT_FALSE(b.Get(lent[0]).has_value());
    for (int i = 2; i < 40; ++i) {
      if (i % 2 == 0) {
        auto v = b.Get(lent[i]);
        ASSERT_TRUE(v.has_value()) << i;
        EXPECT_EQ(v->data(), lent[i].data());  // not copied
      } else {
        EXPECT_EQ(b.Get("k" + std::to_string(i)).value(),
                  std::string(i % 3 == 0 ? 3 : 30, static_cast<char>('a' + i % 26)));
      }
    }
    // Overriding a borrowed value with Set copies; the copy outlives the lender's change.
    std::string temp = "temporary";
    b.Set(lent[2], temp);
    temp.assign("changed!!");
    EXPECT_EQ(b.Get(lent[2]).value(), "temporary");
    EXPECT_EQ(b.num_adds(), 38u);
  }
}

TEST(LabelsBuilderTest, NameSigNeverRejectsAPresentName) {
  LabelsBuilder b(Base());
  EXPECT_TRUE(b.BaseHas("job", LabelsBuilder::NameSig("job")));
  EXPECT_FALSE(b.BaseHas("jobs", LabelsBuilder::NameSig("jobs")));
  for (int i = 0; i < 200; ++i) b.Set("name_" + std::to_string(i * 7919), "v");
  for (int i = 0; i < 200; ++i) EXPECT_TRUE(b.Get("name_" + std::to_string(i * 7919)));
  EXPECT_FALSE(b.Get("name_1"));
}

TEST(ShortEqualTest, AllLengthsAndMismatchPositions) {
  for (size_t n = 0; n <= 40; ++n) {
    std::string a(n, 'x'), b(n, 'x');
    for (size_t i = 0; i < n; ++i) a[i] = static_cast<char>('a' + i % 26);
    b = a;
    EXPECT_TRUE(ShortEqual(a, b)) << n;
    for (size_t i = 0; i < n; ++i) {
      std::string c = a;
      c[i] = '#';
      EXPECT_FALSE(ShortEqual(a, c)) << n << " " << i;
    }
    EXPECT_FALSE(ShortEqual(a, a + "y"));
  }
}

TEST(LabelsBuilderTest, CacheReturnsEqualLabelsAcrossEntries) {
  LabelsBuilder b(Base());
  b.Set("level", "info");
  const Labels* first = &b.CachedLabels();
  Labels copy = *first;
  b.Reset();
  b.Set("level", "info");
  EXPECT_EQ(&b.CachedLabels(), first);  // same cached object
  b.Reset();
  b.Set("level", "warn");
  EXPECT_NE(b.CachedLabels(), copy);
}

TEST(LabelsBuilderTest, Grouping) {
  LabelsBuilder b(Base());
  b.SetGrouping({"pod", "level"}, /*without=*/false, /*no_labels=*/false);
  EXPECT_EQ(b.GroupedLabels(), Labels({{"pod", "p-1"}}));
  b.Set("level", "warn");
  EXPECT_EQ(b.GroupedLabels(), Labels({{"level", "warn"}, {"pod", "p-1"}}));
  EXPECT_EQ(b.GroupedHash(), Labels({{"level", "warn"}, {"pod", "p-1"}}).Hash());
  // Errors bypass grouping (Loki keeps all labels so the error is visible).
  b.SetErr("LabelFilterErr");
  EXPECT_EQ(b.GroupedLabels().Get("__error__"), "LabelFilterErr");
  EXPECT_EQ(b.GroupedLabels().Get("job"), "payments/api");
  b.Reset();
  b.SetGrouping({"value"}, /*without=*/true, false);
  b.Set("value", "3");
  b.Set("x", "y");
  EXPECT_EQ(b.GroupedLabels(),
            Labels({{"app", "api"}, {"job", "payments/api"}, {"pod", "p-1"}, {"x", "y"}}));
}

TEST(LabelsBuilderTest, ByGroupingMatchesFilteringTheFullSet) {
  // `by` reads only the grouping names; it must give what filtering the whole set gives, with
  // overridden and deleted base labels, borrowed values and error details.
  std::mt19937 rng(11);
  const std::vector<std::string> names = {"app", "job", "pod", "level", "status", "zone",
                                          "__error_details__", "method"};
  const std::string lent = "borrowed-value";
  for (int trial = 0; trial < 500; ++trial) {
    std::vector<std::string> groups;
    for (const auto& n : names) {
      if (rng() % 2) groups.push_back(n);
    }
    LabelsBuilder b(Base());
    b.SetGrouping(groups, /*without=*/false, /*no_labels=*/false);
    for (int e = 0; e < 3; ++e) {
      b.Reset();
      for (int k = 0; k < 6; ++k) {
        const std::string& n = names[rng() % names.size()];
        switch (rng() % 4) {
          case 0: b.Del(n); break;
          case 1: b.SetBorrowed(n, LabelsBuilder::NameSig(n), lent); break;
          default: b.Set(n, "v" + std::to_string(rng() % 3)); break;
        }
      }
      std::vector<Label> want;
      for (const Label& l : b.ToLabels()) {
        if (std::find(groups.begin(), groups.end(), l.name) != groups.end()) want.push_back(l);
      }
      ASSERT_EQ(b.GroupedLabels(), Labels(want)) << trial;
      ASSERT_EQ(b.GroupedHash(), Labels(want).Hash()) << trial;
    }
  }
}

TEST(ParserHintsTest, Extract) {
  ParserHints all;
  EXPECT_TRUE(all.ShouldExtract("anything"));
  ParserHints only = ParserHints::Only({"status", "request_client_ip", "job"});
  EXPECT_TRUE(only.ShouldExtract("status"));
  EXPECT_TRUE(only.ShouldExtract("job_extracted"));
  EXPECT_FALSE(only.ShouldExtract("level"));
  EXPECT_TRUE(only.ShouldExtractPrefix("request"));
  EXPECT_TRUE(only.ShouldExtractPrefix("request_client"));
  EXPECT_FALSE(only.ShouldExtractPrefix("response"));
}

TEST(SanitizeKeyTest, Table) {
  struct Case {
    std::string in;
    bool prefix;
    std::string want;
  } cases[] = {
      {"http.route", true, "http_route"},
      {"trace-id", true, "trace_id"},
      {"User-Agent", false, "User_Agent"},
      {"1abc", true, "_1abc"},
      {"1abc", false, "1abc"},
      {"  spaced key ", true, "spaced_key"},
      {"héllo", true, "h_llo"},    // one '_' per rune
      {"日本", true, "__"},
      {"a\xff", true, "a_"},       // invalid byte
      {"", true, ""},
      {"   ", true, ""},
  };
  for (const auto& c : cases) EXPECT_EQ(SanitizeKey(c.in, c.prefix), c.want) << c.in;
}

}  // namespace
}  // namespace norn::logql_log
