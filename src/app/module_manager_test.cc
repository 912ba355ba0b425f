#include "app/module_manager.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace norn::app {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Records every Start/Stop into a shared journal.
class RecordingService : public Service {
 public:
  RecordingService(std::string name, std::vector<std::string>* journal, bool fail_start)
      : name_(std::move(name)), journal_(journal), fail_start_(fail_start) {}
  absl::Status Start() override {
    journal_->push_back("start " + name_);
    if (fail_start_) return absl::UnavailableError("cannot bind");
    return absl::OkStatus();
  }
  void Stop() override { journal_->push_back("stop " + name_); }

 private:
  std::string name_;
  std::vector<std::string>* journal_;
  bool fail_start_;
};

class ModuleManagerTest : public ::testing::Test {
 protected:
  void Add(std::string name, std::vector<std::string> deps, bool visible = true,
           bool implemented = true, bool fail = false) {
    ModuleDef def;
    def.name = name;
    def.deps = std::move(deps);
    def.user_visible = visible;
    def.implemented = implemented;
    def.factory = [this, name, fail]() -> absl::StatusOr<std::unique_ptr<Service>> {
      return std::make_unique<RecordingService>(name, &journal_, fail);
    };
    mm_.Register(std::move(def));
  }
  void SetUpGraph() {
    Add("server", {}, /*visible=*/false);
    Add("runtime-config", {}, false);
    Add("ingester", {"server", "runtime-config"});
    Add("distributor", {"server", "runtime-config", "ingester"});
    Add("querier", {"server", "ingester"});
    Add("ruler", {"server"}, true, /*implemented=*/false);
    mm_.RegisterGroup("all", {"distributor", "ingester", "querier", "ruler"}, /*lenient=*/true);
    mm_.RegisterGroup("write", {"distributor", "ingester"}, /*lenient=*/false);
    mm_.RegisterGroup("backend", {"ruler"}, /*lenient=*/false);
  }
  ModuleManager mm_;
  std::vector<std::string> journal_;
};

TEST_F(ModuleManagerTest, StartsInDependencyOrderStopsInReverse) {
  SetUpGraph();
  auto order = mm_.Resolve("write");
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_THAT(*order, ElementsAre("server", "runtime-config", "ingester", "distributor"));
  ASSERT_TRUE(mm_.Init(*order).ok());
  EXPECT_FALSE(mm_.AllRunning());
  ASSERT_TRUE(mm_.Start().ok());
  EXPECT_TRUE(mm_.AllRunning());
  EXPECT_EQ(mm_.State("ingester"), ModuleState::kRunning);
  mm_.Stop();
  mm_.Stop();  // Idempotent.
  EXPECT_THAT(journal_, ElementsAre("start server", "start runtime-config", "start ingester",
                                    "start distributor", "stop distributor", "stop ingester",
                                    "stop runtime-config", "stop server"));
  EXPECT_EQ(mm_.State("server"), ModuleState::kTerminated);
}

TEST_F(ModuleManagerTest, CommaSeparatedTargetsShareDependencies) {
  SetUpGraph();
  auto order = mm_.Resolve("querier, ingester");
  ASSERT_TRUE(order.ok());
  EXPECT_THAT(*order, ElementsAre("server", "runtime-config", "ingester", "querier"));
}

TEST_F(ModuleManagerTest, UnknownTargetListsValidOnes) {
  SetUpGraph();
  auto order = mm_.Resolve("ingestor");
  ASSERT_FALSE(order.ok());
  EXPECT_THAT(order.status().message(), HasSubstr("unrecognised module name: ingestor"));
  EXPECT_THAT(order.status().message(),
              HasSubstr("all, backend, distributor, ingester, querier, ruler, write"));
  // Internal modules cannot be selected directly.
  EXPECT_FALSE(mm_.Resolve("server").ok());
}

TEST_F(ModuleManagerTest, NotImplementedExplicitTargetIsAnError) {
  SetUpGraph();
  auto order = mm_.Resolve("ruler");
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(order.status().message(), HasSubstr("\"ruler\" is not implemented yet"));
  // A strict group containing it fails the same way.
  EXPECT_EQ(mm_.Resolve("backend").status().code(), absl::StatusCode::kUnimplemented);
}

TEST_F(ModuleManagerTest, NotImplementedUnderGroupIsSkippedVisibly) {
  SetUpGraph();
  auto order = mm_.Resolve("all");
  ASSERT_TRUE(order.ok());
  EXPECT_THAT(*order, ElementsAre("server", "runtime-config", "ingester", "distributor", "querier"));
  EXPECT_EQ(mm_.State("ruler"), ModuleState::kNotImplemented);
  ASSERT_TRUE(mm_.Init(*order).ok());
  ASSERT_TRUE(mm_.Start().ok());
  EXPECT_TRUE(mm_.AllRunning());
  EXPECT_THAT(mm_.ServicesText(), HasSubstr("ruler => Not implemented\n"));
  EXPECT_THAT(mm_.ServicesText(), HasSubstr("querier => Running\n"));
  mm_.Stop();
}

TEST_F(ModuleManagerTest, FailedStartStopsWhatAlreadyStarted) {
  Add("server", {}, false);
  Add("ingester", {"server"}, true, true, /*fail=*/true);
  auto order = mm_.Resolve("ingester");
  ASSERT_TRUE(order.ok());
  ASSERT_TRUE(mm_.Init(*order).ok());
  absl::Status st = mm_.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("starting module ingester: cannot bind"));
  EXPECT_THAT(journal_, ElementsAre("start server", "start ingester", "stop server"));
  EXPECT_EQ(mm_.State("ingester"), ModuleState::kFailed);
}

TEST_F(ModuleManagerTest, CycleIsDetected) {
  Add("a", {"b"});
  Add("b", {"a"});
  EXPECT_FALSE(mm_.Resolve("a").ok());
}

}  // namespace
}  // namespace norn::app
