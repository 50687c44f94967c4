#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "bridge/cli/endpoint.h"
#include "bridge/config/profiles.h"

namespace kdap {
namespace {

class ProfilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("kdap-profiles-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    file_ = (dir_ / ".kdap.yaml").string();
    std::ofstream(file_) << "profiles:\n"
                            "  sched:\n"
                            "    host: root@node-1:2222\n"
                            "    target: static-pod/kube-scheduler\n"
                            "    stopOnEntry: true\n"
                            "    stopTimeout: 30\n"
                            "    extraArgs: [\"--v=4\", \"--leader-elect=false\"]\n"
                            "    env: {GODEBUG: \"true\"}\n"
                            "  api:\n"
                            "    target: static-pod/kube-apiserver\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string file_;
};

TEST_F(ProfilesTest, TypedValuesAndLaunchKeysWin) {
  auto merged = config::resolve_profile(
      {{"profile", "sched"}, {"configFile", file_}, {"host", "root@other"}, {"request", "launch"}});
  EXPECT_EQ(merged["host"], "root@other");
  EXPECT_EQ(merged["target"], "static-pod/kube-scheduler");
  EXPECT_EQ(merged["stopOnEntry"], true);
  EXPECT_EQ(merged["stopTimeout"], 30);
  EXPECT_EQ(merged["extraArgs"][1], "--leader-elect=false");
  EXPECT_EQ(merged["env"]["GODEBUG"], "true");  // quoted in YAML: stays a string
  EXPECT_FALSE(merged.contains("profile"));
  auto cfg = config::parse_launch_config(merged);
  EXPECT_EQ(cfg.stop_timeout.count(), 30);
  EXPECT_TRUE(cfg.warnings.empty());
}

TEST_F(ProfilesTest, FoundBesideTheWorkspace) {
  auto merged = config::resolve_profile({{"profile", "api"}, {"localRoot", dir_.string()}});
  EXPECT_EQ(merged["target"], "static-pod/kube-apiserver");
}

TEST_F(ProfilesTest, ErrorsNameTheFileAndTheProfiles) {
  try {
    config::load_profile(file_, "nope");
    FAIL();
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("profiles there: sched, api"), std::string::npos) << e.what();
  }
  EXPECT_THROW(config::load_profile((dir_ / "missing.yaml").string(), "sched"), config::ConfigError);
  config::Json without = {{"target", "exec"}};
  EXPECT_EQ(config::resolve_profile(without), without);
}

TEST(ListenEndpoint, LoopbackOnly) {
  EXPECT_EQ(cli::parse_listen_endpoint("127.0.0.1:0").port(), 0);
  EXPECT_EQ(cli::parse_listen_endpoint("[::1]:4711").port(), 4711);
  EXPECT_THROW(cli::parse_listen_endpoint("0.0.0.0:4711"), std::invalid_argument);
  EXPECT_THROW(cli::parse_listen_endpoint("10.1.2.3:4711"), std::invalid_argument);
  EXPECT_THROW(cli::parse_listen_endpoint("127.0.0.1"), std::invalid_argument);
  EXPECT_THROW(cli::parse_listen_endpoint("127.0.0.1:99999"), std::invalid_argument);
  EXPECT_THROW(cli::parse_listen_endpoint("localhost:1"), std::invalid_argument);
}

}  // namespace
}  // namespace kdap
