#include "bridge/targets/kubectl.h"

#include "bridge/node/shell.h"

namespace kdap::targets {
namespace {
constexpr auto kKubectlTimeout = std::chrono::seconds(60);
constexpr int kNoKubectl = 127;
constexpr int kNoKubeconfig = 126;

// Cluster-scoped objects (nodes) take no namespace.
std::string namespace_flag(const std::string& ns) {
  return ns.empty() ? "" : "-n " + node::shell_quote(ns) + " ";
}
}  // namespace

std::string Kubectl::command_prefix() const {
  // kubectl's discovery cache goes under kdap's own directory, not into the node user's ~/.kube.
  return node::shell_quote(config_.kubectl) + " --kubeconfig=" + node::shell_quote(config_.kubeconfig) +
         " --cache-dir=" + node::shell_quote(config_.state_dir + "/kubectl-cache");
}

asio::awaitable<node::CommandResult> Kubectl::run(std::string args, std::string input) {
  std::string command = "command -v " + node::shell_quote(config_.kubectl) + " >/dev/null 2>&1 || exit " +
                        std::to_string(kNoKubectl) + "; [ -r " + node::shell_quote(config_.kubeconfig) +
                        " ] || exit " + std::to_string(kNoKubeconfig) + "; ";
  if (!input.empty()) {
    // The patch goes through a here-document: it never lands in a file or in the process list.
    command += command_prefix() + " " + args + " <<'KDAP_EOF'\n" + input + "\nKDAP_EOF\n";
  } else {
    command += command_prefix() + " " + args;
  }
  auto r = co_await node_.run(command, kKubectlTimeout);
  if (r.exit_status == kNoKubectl) {
    availability_ = config_.kubectl + " is not on " + node_.describe() + " (set `kubectl` to its path)";
  } else if (r.exit_status == kNoKubeconfig) {
    availability_ = "there is no kubeconfig " + config_.kubeconfig + " on " + node_.describe() +
                    " (set `kubeconfig` to one that kubectl can use there)";
  } else if (!r.ok()) {
    availability_ = "kubectl said: " + r.err.substr(0, 400);
  } else {
    availability_ = "kubectl works";
  }
  co_return r;
}

asio::awaitable<bool> Kubectl::exists(std::string ns, std::string kind, std::string name) {
  auto r = co_await run(namespace_flag(ns) + "get " + node::shell_quote(kind) + " " +
                        node::shell_quote(name) + " -o name");
  co_return r.ok();
}

asio::awaitable<nlohmann::json> Kubectl::get(std::string ns, std::string kind, std::string name) {
  auto r = co_await run(namespace_flag(ns) + "get " + node::shell_quote(kind) + " " +
                        node::shell_quote(name) + " -o json");
  if (!r.ok()) {
    throw TargetError("cannot read " + kind + " " + ns + "/" + name + " with kubectl on " + node_.describe() +
                      ": " + availability_ + ". kdap uses `kubeconfig` (now " + config_.kubeconfig +
                      ") on the node.");
  }
  auto json = nlohmann::json::parse(r.out, nullptr, false);
  if (json.is_discarded()) throw TargetError("kubectl returned no JSON for " + kind + " " + ns + "/" + name);
  co_return json;
}

asio::awaitable<nlohmann::json> Kubectl::get_list(std::string ns, std::string kind,
                                                  std::string field_selector) {
  std::string args = "get " + node::shell_quote(kind) + " " +
                     (ns.empty() ? std::string("--all-namespaces") : "-n " + node::shell_quote(ns)) +
                     " -o json";
  if (!field_selector.empty()) args += " --field-selector=" + node::shell_quote(field_selector);
  auto r = co_await run(args);
  if (!r.ok())
    throw TargetError("cannot list " + kind + " with kubectl on " + node_.describe() + ": " + availability_);
  auto json = nlohmann::json::parse(r.out, nullptr, false);
  if (json.is_discarded()) throw TargetError("kubectl returned no JSON listing " + kind);
  co_return json;
}

asio::awaitable<void> Kubectl::patch(std::string ns, std::string kind, std::string name,
                                     const nlohmann::json& json_patch) {
  auto r = co_await run("-n " + node::shell_quote(ns) + " patch " + node::shell_quote(kind) + " " +
                            node::shell_quote(name) + " --type=json --patch-file=/dev/stdin",
                        json_patch.dump());
  if (!r.ok()) {
    throw TargetError("kubectl could not patch " + kind + " " + ns + "/" + name + ": " + availability_);
  }
}

asio::awaitable<std::string> node_name(const config::LaunchConfig& config, node::Node& node) {
  if (config.node_name) co_return *config.node_name;
  auto r = co_await node.run("hostname | tr '[:upper:]' '[:lower:]'", std::chrono::seconds(30));
  co_return r.out.substr(0, r.out.find('\n'));
}

}  // namespace kdap::targets
