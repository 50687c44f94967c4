#pragma once
// `target: systemd/<unit>` (the kubelet on a kubeadm node): the unit's effective ExecStart, after drop-ins
// and with its Environment= and EnvironmentFile= expanded as systemd does, runs under dlv while the unit is
// stopped; restoring starts it again if it was running and waits until systemd calls it active.

#include "bridge/targets/target.h"

namespace kdap::targets {

class SystemdTarget final : public Target {
 public:
  SystemdTarget(const config::LaunchConfig& config, node::Node& node);
  asio::awaitable<LaunchPlan> plan() override;
  asio::awaitable<void> park(StepReporter report) override;
  asio::awaitable<void> restore(StepReporter report) override;
  bool parked() const override { return parked_; }
  std::string undo_script() const override;

 private:
  struct UnitState {
    std::string load, active, sub, file_state;
    int main_pid = 0;
  };
  asio::awaitable<UnitState> state();
  asio::awaitable<void> wait_for(bool active, std::chrono::seconds limit, StepReporter report);

  const config::LaunchConfig& config_;
  node::Node& node_;
  std::string unit_;
  UnitState original_;
  bool parked_ = false;
};

}  // namespace kdap::targets
