#include <gtest/gtest.h>

#include "bridge/delve/dlv_server.h"

namespace kdap::delve {
namespace {

TEST(DlvCommand, ListensOnLoopbackOnlyAndPassesArgumentsVerbatim) {
  targets::LaunchPlan plan;
  plan.program = "/usr/local/bin/kube-scheduler";
  plan.args = {"--kubeconfig=/etc/kubernetes/scheduler.conf", "--v=2", "it's"};
  plan.env = {{"GODEBUG", "a=1 b"}};
  plan.cwd = "/var/lib";
  auto cmd = dlv_command(plan, {"/usr/local/bin/dlv", {"--log"}});
  EXPECT_EQ(
      cmd,
      "echo kdap-dlv-pid $$; exec env 'GODEBUG=a=1 b' /usr/local/bin/dlv exec /usr/local/bin/kube-scheduler "
      "--headless --listen=127.0.0.1:0 --accept-multiclient --api-version=2 --wd=/var/lib --log -- "
      "--kubeconfig=/etc/kubernetes/scheduler.conf --v=2 'it'\\''s'");
}

}  // namespace
}  // namespace kdap::delve
