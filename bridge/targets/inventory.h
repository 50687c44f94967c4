#pragma once
// What can be debugged on a node (`kdap ls`): static pods, kube*/etcd* systemd units, DaemonSet pods on this
// node, and running Go processes, each with the binary it runs and, when the binary can be read, whether it
// carries debug info.

#include <optional>
#include <string>
#include <vector>

#include "bridge/targets/target.h"

namespace kdap::targets {

struct InventoryEntry {
  std::string target;  // what to put in `target`, e.g. "static-pod/kube-scheduler"
  std::string kind;    // static-pod, systemd, daemonset, process
  std::string name;
  std::string ns;  // DaemonSets only
  std::optional<int> pid;
  std::string program;  // the running binary (/proc/PID/exe) or, when not running, the configured one
  std::string state;    // running, stopped, active, inactive, …
  std::string source;   // where it is defined: a manifest, a unit, a DaemonSet
  // From reading the binary on the node; empty when it could not be read.
  std::optional<bool> debug_info;
  std::optional<bool> optimizations_disabled;
  std::string go_version;
  std::string binary_note;  // why the binary could not be judged, or what is wrong with it
};

struct Inventory {
  std::string node;
  std::vector<InventoryEntry> components;
  std::vector<std::string> notes;  // what could not be listed, and why
};

asio::awaitable<Inventory> take_inventory(const config::LaunchConfig& config, node::Node& node);

}  // namespace kdap::targets
