#pragma once
// A component the kubelet runs from a static-pod manifest (kube-apiserver, kube-scheduler,
// kube-controller-manager, etcd on a kubeadm node). Parking moves the manifest out of the manifest
// directory, which makes the kubelet stop the pod; restoring moves the same bytes back.

#include "bridge/node/node_files.h"
#include "bridge/node/process_table.h"
#include "bridge/targets/pod_spec.h"
#include "bridge/targets/target.h"

namespace kdap::targets {

// The processes that run `spec`: the kubelet starts the container with argv exactly as the manifest writes
// it, so every process whose argv[0] has the same base name and whose arguments are the manifest's.
std::vector<int> pod_processes(const ContainerSpec& spec, const std::vector<node::ProcessInfo>& processes);

class StaticPodTarget final : public Target {
 public:
  StaticPodTarget(const config::LaunchConfig& config, node::Node& node);
  asio::awaitable<LaunchPlan> plan() override;
  asio::awaitable<void> park(StepReporter report) override;
  asio::awaitable<void> restore(StepReporter report) override;
  bool parked() const override { return parked_; }
  std::string undo_script() const override;

  const std::string& manifest_path() const { return manifest_path_; }
  const std::string& parked_path() const { return parked_path_; }

 private:
  asio::awaitable<std::vector<int>> running_pids();
  asio::awaitable<void> wait_until(bool running, std::chrono::seconds limit, StepReporter report);

  const config::LaunchConfig& config_;
  node::Node& node_;
  std::string name_;
  std::string manifest_path_;
  std::string parked_path_;
  std::optional<ContainerSpec> spec_;
  std::optional<node::FileInfo> original_;
  bool parked_ = false;
};

}  // namespace kdap::targets
