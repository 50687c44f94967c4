#pragma once
// `target: pid/<pid>` and `process/<name>`: dlv attaches to a process that is already running, without
// restarting it. Nothing is parked; when the session ends dlv detaches (SIGTERM makes an attached dlv
// detach and remove its breakpoints), so the process goes on with the same pid.

#include "bridge/targets/target.h"

namespace kdap::targets {

class AttachTarget final : public UnparkedTarget {
 public:
  AttachTarget(const config::LaunchConfig& config, node::Node& node) : config_(config), node_(node) {}
  asio::awaitable<LaunchPlan> plan() override;

 private:
  asio::awaitable<int> find_by_name(const std::string& name);

  const config::LaunchConfig& config_;
  node::Node& node_;
};

}  // namespace kdap::targets
