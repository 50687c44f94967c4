#include <gtest/gtest.h>

#include "bridge/session/bring_up.h"
#include "bridge/session/preflight.h"

namespace kdap::session {
namespace {

TEST(Preflight, ReadsDlvsVersionLine) {
  auto v = parse_dlv_version("Delve Debugger\nVersion: 1.27.2\nBuild: $Id: 0123abcd $\n");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->major, 1);
  EXPECT_EQ(v->minor, 27);
  EXPECT_EQ(v->patch, 2);
  auto debian = parse_dlv_version("Delve Debugger\nVersion: 1.20.2\nBuild: $Id: e0c278ad $\n");
  ASSERT_TRUE(debian);
  EXPECT_EQ(debian->minor, 20);
  EXPECT_FALSE(parse_dlv_version("dlv: command not found\n"));
  EXPECT_FALSE(parse_dlv_version("Build: Version: 1.2.3"));  // not at the start of a line
}

TEST(Preflight, NewestGoADlvReleaseDebugs) {
  // Delve 1.20 and later follow Go's minor numbers; 1.7–1.9 debugged Go 1.17–1.19.
  EXPECT_EQ(newest_go_minor_for_dlv({1, 27, 2}), 27);
  EXPECT_EQ(newest_go_minor_for_dlv({1, 20, 2}), 20);
  EXPECT_EQ(newest_go_minor_for_dlv({1, 9, 1}), 19);
  EXPECT_EQ(newest_go_minor_for_dlv({1, 7, 3}), 17);
}

}  // namespace
}  // namespace kdap::session

namespace kdap::session {
namespace {

targets::LaunchPlan plan_for(std::string program, std::vector<std::string> args) {
  targets::LaunchPlan plan;
  plan.program = std::move(program);
  plan.args = std::move(args);
  return plan;
}

TEST(DebugSafeFlags, ExplainsLeaderElectionAndChangesNothingUnasked) {
  auto plan = plan_for("/usr/local/bin/kube-scheduler",
                       {"--kubeconfig=/etc/kubernetes/scheduler.conf", "--leader-elect=true"});
  auto said = apply_debug_safe_flags(plan, false);
  ASSERT_EQ(said.size(), 1u);
  EXPECT_NE(said[0].find("loses leadership"), std::string::npos);
  EXPECT_NE(said[0].find("\"debugSafeFlags\": true"), std::string::npos);
  EXPECT_EQ(plan.args.back(), "--leader-elect=true");
}

TEST(DebugSafeFlags, ReplacesTheFlagWhenAsked) {
  auto plan = plan_for("/usr/local/bin/kube-controller-manager", {"--leader-elect=true", "--v=2"});
  auto said = apply_debug_safe_flags(plan, true);
  ASSERT_EQ(said.size(), 1u);
  EXPECT_EQ(plan.args, (std::vector<std::string>{"--leader-elect=false", "--v=2"}));
  // leader election is on by default: a component without the flag gets it appended
  auto implicit = plan_for("/opt/debug/cloud-controller-manager", {"--v=2"});
  apply_debug_safe_flags(implicit, true);
  EXPECT_EQ(implicit.args.back(), "--leader-elect=false");
}

TEST(DebugSafeFlags, SilentWhereThereIsNoLeaderElection) {
  auto off = plan_for("/usr/local/bin/kube-scheduler", {"--leader-elect=false"});
  EXPECT_TRUE(apply_debug_safe_flags(off, true).empty());
  EXPECT_EQ(off.args, (std::vector<std::string>{"--leader-elect=false"}));
  auto kubelet = plan_for("/usr/bin/kubelet", {"--config=/var/lib/kubelet/config.yaml"});
  EXPECT_TRUE(apply_debug_safe_flags(kubelet, true).empty());
  // any program that says --leader-elect=true elects, whatever its name
  auto custom = plan_for("/opt/my-controller", {"--leader-elect=true"});
  EXPECT_EQ(apply_debug_safe_flags(custom, false).size(), 1u);
}

}  // namespace
}  // namespace kdap::session
