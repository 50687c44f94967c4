#pragma once
// The kdap subcommands. Each returns the process exit code.

#include <optional>
#include <string>
#include <vector>

namespace kdap::cli {

struct CommonOptions {
  std::optional<std::string> log_file;
  std::string log_level = "info";
};

// `kdap dap`: DAP on stdin/stdout, or with `listen` ("127.0.0.1:0") on TCP, one session after another.
int run_dap(const std::optional<std::string>& listen);

struct UpOptions {
  std::optional<std::string> config_file;
  std::optional<std::string> profile;
  std::vector<std::pair<std::string, std::string>> overrides;  // --host, --target, … as launch keys
  std::string listen = "127.0.0.1:0";
};
// `kdap up`: bring the component up under dlv, forward a local port to it, restore on SIGINT/SIGTERM.
int run_up(const UpOptions& options);

// Where `kdap status` and `kdap restore` look: a node (SSH, or this machine) and its kdap state directory.
struct NodeOptions {
  std::optional<std::string> host;
  std::optional<std::string> identity_file;
  std::optional<std::string> known_hosts_file;
  std::optional<std::string> ssh_config_file;
  std::optional<std::string> state_dir;
  std::optional<std::string> manifest_dir;  // ls
  std::optional<std::string> kubeconfig;    // ls
  std::optional<std::string> kubectl;       // ls
  std::optional<std::string> node_name;     // ls
  std::optional<std::string> target;        // doctor
  std::optional<std::string> component;     // doctor
  std::optional<std::string> program;       // doctor
  std::optional<std::string> dlv_path;      // doctor
};
int run_status(const NodeOptions& options, bool json);
int run_restore(const NodeOptions& options, const std::optional<std::string>& component);
// `kdap ls`: what can be debugged on the node, as a table or (json) as {"node", "components": [...],
// "notes"}.
int run_ls(const NodeOptions& options, bool json);
// `kdap doctor`: what would block a launch, checked without changing anything; exit 1 when something does.
int run_doctor(const NodeOptions& options, bool json);

}  // namespace kdap::cli
