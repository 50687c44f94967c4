#pragma once
// kubectl on the node, with the kubeconfig the launch configuration names. kdap talks to the API server the
// way the node's administrator does, so it needs no credentials of its own and no route to the API server.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "bridge/targets/target.h"

namespace kdap::targets {

class Kubectl {
 public:
  Kubectl(const config::LaunchConfig& config, node::Node& node) : config_(config), node_(node) {}

  // False when the object does not exist or kubectl cannot be used; availability() then says which.
  asio::awaitable<bool> exists(std::string ns, std::string kind, std::string name);
  // Throws TargetError with kubectl's own words and the fix.
  asio::awaitable<nlohmann::json> get(std::string ns, std::string kind, std::string name);
  asio::awaitable<nlohmann::json> get_list(std::string ns, std::string kind, std::string field_selector);
  asio::awaitable<void> patch(std::string ns, std::string kind, std::string name,
                              const nlohmann::json& json_patch);
  std::string availability() const { return availability_; }
  // The command prefix, for journal scripts that run without kdap.
  std::string command_prefix() const;

 private:
  asio::awaitable<node::CommandResult> run(std::string args, std::string input = "");

  const config::LaunchConfig& config_;
  node::Node& node_;
  std::string availability_ = "kubectl was not asked";
};

// The node's name in the cluster: `nodeName`, else its hostname lower-cased, as kubeadm registers it.
asio::awaitable<std::string> node_name(const config::LaunchConfig& config, node::Node& node);

}  // namespace kdap::targets
