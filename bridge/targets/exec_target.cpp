#include "bridge/targets/exec_target.h"

#include "bridge/node/node_files.h"

namespace kdap::targets {

asio::awaitable<LaunchPlan> ExecTarget::plan() {
  if (!config_.program) throw TargetError("`exec` runs `program`, and none is set");
  const std::string& program = *config_.program;
  auto resolved = co_await node::resolve_program(node_, program);
  if (!resolved) {
    throw TargetError(
        "the program " + program + " is not " +
        (program.find('/') == std::string::npos ? "on the PATH of " : "an executable file on ") +
        node_.describe() + "; set `program` to the path of a debug build on the node");
  }
  LaunchPlan plan;
  plan.program = *resolved;
  plan.args = config::merge_args(config_.args.value_or(std::vector<std::string>{}), config_.extra_args);
  plan.env = config_.env;
  plan.cwd = config_.cwd;
  plan.summary = "exec " + plan.program + " with " + std::to_string(plan.args.size()) + " arguments";
  co_return plan;
}

}  // namespace kdap::targets
