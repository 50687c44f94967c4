#pragma once
// `component: NAME`: which kind of target NAME is on this node. Looked up in the order a kubeadm node
// runs its parts: a static-pod manifest, then a systemd unit, then a DaemonSet in kube-system.

#include "bridge/targets/target.h"

namespace kdap::targets {

struct FoundComponent {
  config::TargetSpec target;
  std::string reason;  // for the console: where kdap found it
};

// Throws TargetError naming what was looked at when NAME is none of them.
asio::awaitable<FoundComponent> find_component(const config::LaunchConfig& config, node::Node& node);

}  // namespace kdap::targets
