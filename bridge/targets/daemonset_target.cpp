#include "bridge/targets/daemonset_target.h"

#include <algorithm>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "bridge/node/node_files.h"
#include "bridge/node/shell.h"
#include "bridge/targets/daemonset_plan.h"

namespace kdap::targets {
namespace {
constexpr auto kQuick = std::chrono::seconds(30);
}

DaemonSetTarget::DaemonSetTarget(const config::LaunchConfig& config, node::Node& node)
    : config_(config), node_(node), kubectl_(config, node) {
  auto slash = config.target.name.find('/');
  namespace_ = slash == std::string::npos ? "kube-system" : config.target.name.substr(0, slash);
  name_ = slash == std::string::npos ? config.target.name : config.target.name.substr(slash + 1);
  files_dir_ = config.state_dir + "/daemonset/" + namespace_ + "/" + name_;
}

asio::awaitable<std::vector<std::string>> DaemonSetTarget::pods_here() {
  auto pods = co_await kubectl_.get_list(namespace_, "pods", "spec.nodeName=" + node_name_);
  std::vector<std::string> names;
  for (const auto& pod : pods.value("items", nlohmann::json::array())) {
    for (const auto& owner : pod["metadata"].value("ownerReferences", nlohmann::json::array())) {
      if (owner.value("kind", "") == "DaemonSet" && owner.value("name", "") == name_) {
        names.push_back(pod["metadata"].value("name", ""));
      }
    }
  }
  co_return names;
}

asio::awaitable<LaunchPlan> DaemonSetTarget::plan() {
  node_name_ = co_await node_name(config_, node_);
  bool known = co_await kubectl_.exists("", "node", node_name_);
  if (!known && kubectl_.availability() == "kubectl works") {
    throw TargetError("the API server has no node named " + node_name_ +
                      "; set `nodeName` to this node's name as `kubectl get nodes` shows it");
  }
  original_ = co_await kubectl_.get(namespace_, "daemonset", name_);
  DaemonSetInput input;
  input.daemonset = original_;
  input.node_name = node_name_;
  input.kubeconfig = config_.kubeconfig;
  input.files_dir = files_dir_;
  for (const auto& cm : referenced_configmaps(original_, std::nullopt)) {
    bool exists = co_await kubectl_.exists(namespace_, "configmap", cm);
    if (!exists) continue;  // plan_daemonset says whether the pod could do without it
    input.configmaps[cm] = co_await kubectl_.get(namespace_, "configmap", cm);
  }
  // This node's pod resolves what only a pod knows ($(POD_NAME), status.hostIP, …).
  auto here = co_await pods_here();
  if (!here.empty()) input.pod = co_await kubectl_.get(namespace_, "pod", here.front());
  auto ds_plan = plan_daemonset(input);
  for (const auto& f : ds_plan.files) {
    files_.emplace_back(f.path, f.content);
    file_modes_.push_back(f.mode);
  }
  LaunchPlan plan;
  plan.warnings = ds_plan.warnings;
  std::string program = config_.program.value_or(ds_plan.argv.front());
  auto resolved = co_await node::resolve_program(node_, program);
  if (!resolved) {
    throw TargetError("the program " + program + " of DaemonSet " + namespace_ + "/" + name_ +
                      " comes from its container image and is not on " + node_.describe() +
                      "; copy a debug build (-gcflags=all=-N -l) there and set `program` to its path");
  }
  plan.program = *resolved;
  std::vector<std::string> args(ds_plan.argv.begin() + 1, ds_plan.argv.end());
  plan.args = config::merge_args(config_.args.value_or(args), config_.extra_args);
  plan.env = ds_plan.env;
  plan.env.insert(plan.env.end(), config_.env.begin(), config_.env.end());
  plan.cwd = config_.cwd;
  plan.summary = "DaemonSet " + namespace_ + "/" + name_ + " on node " + node_name_ + ": " + plan.program +
                 " with " + std::to_string(plan.args.size()) + " arguments; " + ds_plan.summary;
  co_return plan;
}

asio::awaitable<void> DaemonSetTarget::wait_for_pod(bool present, std::chrono::seconds limit,
                                                    StepReporter report) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  report(present ? "waiting for the " + name_ + " pod on " + node_name_
                 : "waiting for the " + name_ + " pod on " + node_name_ + " to go");
  for (;;) {
    auto pods = co_await pods_here();
    if (present != pods.empty()) co_return;
    if (std::chrono::steady_clock::now() >= deadline) {
      throw TargetError(present
                            ? "no " + name_ + " pod came back on " + node_name_ + " within " +
                                  std::to_string(limit.count()) + " s; the DaemonSet's spec is restored"
                            : "the " + name_ + " pod on " + node_name_ + " was still there " +
                                  std::to_string(limit.count()) + " s after the DaemonSet excluded the node");
    }
    timer.expires_after(std::chrono::seconds(1));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<void> DaemonSetTarget::park(StepReporter report) {
  if (original_.is_null()) throw TargetError("internal: park() needs plan() first");
  report("writing the pod's config files under " + files_dir_);
  files_written_ = true;
  for (std::size_t i = 0; i < files_.size(); ++i) {
    co_await node::write_file(node_, files_[i].first, files_[i].second, file_modes_[i]);
  }
  report("keeping DaemonSet " + namespace_ + "/" + name_ + " off node " + node_name_);
  // A refused patch changed nothing: restoring must then only remove the files, not patch back.
  co_await kubectl_.patch(namespace_, "daemonset", name_, park_patch(original_, node_name_));
  parked_ = true;
  co_await wait_for_pod(false, config_.stop_timeout, report);
}

asio::awaitable<void> DaemonSetTarget::restore(StepReporter report) {
  bool was_parked = parked_;
  if (parked_) {
    report("restoring DaemonSet " + namespace_ + "/" + name_);
    co_await kubectl_.patch(namespace_, "daemonset", name_, restore_patch(original_, node_name_));
    parked_ = false;
  }
  if (files_written_) {
    co_await node_.run("rm -rf -- " + node::shell_quote(files_dir_), kQuick);
    files_written_ = false;
  }
  if (!was_parked) co_return;
  auto now = co_await kubectl_.get(namespace_, "daemonset", name_);
  if (canonical_spec(now) != canonical_spec(original_)) {
    throw TargetError("the spec of DaemonSet " + namespace_ + "/" + name_ +
                      " differs from the original after the restore; compare it with the journal in " +
                      config_.state_dir + "/sessions");
  }
  co_await wait_for_pod(true, config_.start_timeout, report);
}

std::string DaemonSetTarget::undo_script() const {
  // The guard may run this before the park patch was applied, or after a restore patch that kdap saw fail:
  // only a DaemonSet that carries kdap's annotation for this node is patched back. A failed `get` is a
  // failure (the guard retries), never a reason to skip the patch.
  auto ns = node::shell_quote(namespace_);
  auto name = node::shell_quote(name_);
  auto marker = "\"" + std::string(kParkedOnAnnotation) + "\": \"" + node_name_ + "\"";
  return "# DaemonSet " + namespace_ + "/" + name_ + " was kept off node " + node_name_ + " by kdap\n" +
         "kdap_ds=$(" + kubectl_.command_prefix() + " -n " + ns + " get daemonset " + name +
         " -o json) || exit 1\n" + "if printf '%s' \"$kdap_ds\" | grep -qF -- " + node::shell_quote(marker) +
         "; then\n" + kubectl_.command_prefix() + " -n " + ns + " patch daemonset " + name +
         " --type=json --patch-file=/dev/stdin <<'KDAP_EOF' || exit 1\n" +
         restore_patch(original_, node_name_).dump() + "\nKDAP_EOF\nfi\nrm -rf -- " +
         node::shell_quote(files_dir_) + "\n";
}

}  // namespace kdap::targets
