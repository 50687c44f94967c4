#pragma once
// The DAP `launch` arguments as a typed configuration. Names follow vscode-go where the concept exists.

#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace kdap::config {

using Json = nlohmann::json;

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class TargetKind { kStaticPod, kSystemd, kDaemonSet, kPid, kProcess, kExec };

struct TargetSpec {
  TargetKind kind = TargetKind::kStaticPod;
  std::string name;  // manifest name, unit, [ns/]daemonset, pid, process name; empty for exec
  std::string text;  // as written, for messages
};

struct LaunchConfig {
  std::optional<std::string> host;  // omitted: this machine
  std::optional<std::string> identity_file;
  std::optional<std::string> known_hosts_file;
  std::optional<std::string> ssh_config_file;
  TargetSpec target;
  // `component: NAME` instead of a target: kdap looks for NAME on the node (static pod, systemd unit,
  // DaemonSet) and fills `target` with what it found.
  std::optional<std::string> component;
  std::string manifest_dir = "/etc/kubernetes/manifests";
  std::string state_dir = "/var/lib/kdap";
  std::optional<std::string> program;
  std::optional<std::vector<std::string>> args;  // replaces the component's arguments
  std::vector<std::string> extra_args;           // appended; a flag already present is replaced
  std::vector<std::pair<std::string, std::string>> env;
  std::optional<std::string> cwd;
  std::string kubeconfig = "/etc/kubernetes/admin.conf";  // for kubectl, and what DaemonSet pods get instead
                                                          // of their in-cluster service account
  std::string kubectl = "kubectl";
  std::optional<std::string> node_name;  // the node's Kubernetes name; default: its hostname
  std::string dlv_path = "dlv";
  // Local files (on kdap's machine) copied to the node for this session: the program, and dlv ("" = the dlv
  // on kdap's PATH). Removed when the session ends unless keep_upload.
  std::optional<std::string> upload_program;
  std::optional<std::string> upload_dlv;
  bool keep_upload = false;
  // For components with leader election: add --leader-elect=false, so that a long breakpoint does not lose
  // the lease. Off by default: kdap never changes a component's flags unasked.
  bool debug_safe_flags = false;
  std::vector<std::string> dlv_flags;
  // The editor's workspace folder (the editor integrations fill it): where automatic substitutePath maps the
  // binary's build root to when the launch gives no substitutePath.
  std::optional<std::string> local_root;
  Json dlv_attach = Json::object();  // dlv's own attach options, passed through untouched
  std::chrono::seconds connect_timeout{15};
  std::chrono::seconds stop_timeout{90};
  std::chrono::seconds start_timeout{120};
  std::chrono::seconds dlv_timeout{60};
  std::chrono::seconds guard_keepalive{30};  // silence after which the node guard restores on its own
  std::vector<std::string> warnings;         // unknown attributes, said in the console
};

// Throws ConfigError whose message names the attribute and the fix.
LaunchConfig parse_launch_config(const Json& arguments);
TargetSpec parse_target(const std::string& text);
const char* known_target_kinds();

// What one debug session holds on the node (its lock and journal are named after it); at most one session
// per component, and for exec one per program.
std::string session_name(const LaunchConfig& config);
// What the user asked to debug, for messages before the target is known (`component` not resolved yet).
std::string subject(const LaunchConfig& config);

// extraArgs semantics: "--flag=value" replaces an existing "--flag=..." or "--flag"; anything else is
// appended.
std::vector<std::string> merge_args(std::vector<std::string> base, const std::vector<std::string>& extra);

}  // namespace kdap::config
