#pragma once
// `target: daemonset/[<namespace>/]<name>` (kube-proxy): the DaemonSet is kept off this node only, its pod
// here goes away, and the same binary runs under dlv with the pod's arguments and the ConfigMap files it
// mounts, written to the node. Restoring puts the DaemonSet's spec back exactly and waits for its pod.

#include <nlohmann/json.hpp>

#include "bridge/targets/kubectl.h"
#include "bridge/targets/target.h"

namespace kdap::targets {

class DaemonSetTarget final : public Target {
 public:
  DaemonSetTarget(const config::LaunchConfig& config, node::Node& node);
  asio::awaitable<LaunchPlan> plan() override;
  asio::awaitable<void> park(StepReporter report) override;
  asio::awaitable<void> restore(StepReporter report) override;
  // Files written count: restore() removes them even when the patch was refused.
  bool parked() const override { return parked_ || files_written_; }
  std::string undo_script() const override;

 private:
  asio::awaitable<std::vector<std::string>> pods_here();
  asio::awaitable<void> wait_for_pod(bool present, std::chrono::seconds limit, StepReporter report);

  const config::LaunchConfig& config_;
  node::Node& node_;
  Kubectl kubectl_;
  std::string namespace_, name_, node_name_, files_dir_;
  nlohmann::json original_;
  std::vector<std::pair<std::string, std::string>> files_;  // path, content
  std::vector<std::string> file_modes_;
  bool files_written_ = false;
  bool parked_ = false;
};

}  // namespace kdap::targets
