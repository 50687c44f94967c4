#pragma once
// `target: exec`: a program the user names, run under dlv with the given arguments. Nothing on the node is
// taken out of service, so nothing needs restoring beyond stopping dlv and the program.

#include "bridge/targets/target.h"

namespace kdap::targets {

class ExecTarget final : public UnparkedTarget {
 public:
  ExecTarget(const config::LaunchConfig& config, node::Node& node) : config_(config), node_(node) {}
  asio::awaitable<LaunchPlan> plan() override;

 private:
  const config::LaunchConfig& config_;
  node::Node& node_;
};

}  // namespace kdap::targets
