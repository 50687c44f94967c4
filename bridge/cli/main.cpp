// kdap: debug a Kubernetes component on its node from any DAP client (or Delve's JSON-RPC, with `kdap up`).

#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "bridge/cli/commands.h"

namespace {

constexpr const char* kUsage =
    "usage:\n"
    "  kdap dap [--listen 127.0.0.1:PORT]     speak DAP on stdin/stdout (what editors run), or on TCP\n"
    "  kdap up [--config .kdap.yaml] [--profile NAME] [--host H] [--target T] [--program P]\n"
    "          [--manifest-dir D] [--listen 127.0.0.1:PORT]\n"
    "                                         run the component under dlv and forward a local port to it\n"
    "                                         (GoLand's Go Remote, dlv connect) until Ctrl-C; then restore\n"
    "  kdap status [--host H] [--state-dir D] [--json]  kdap sessions on a node, live or left behind\n"
    "  kdap restore [--host H] [--state-dir D] [COMPONENT]\n"
    "                                         put back what a session left (its guard gone too)\n"
    "  kdap ls [--host H] [--json] [--manifest-dir D] [--kubeconfig F] [--kubectl P] [--node-name N]\n"
    "                                         what can be debugged on a node: static pods, kube*/etcd*\n"
    "                                         units, DaemonSet pods, Go processes; with debug-info checks\n"
    "  kdap doctor [--host H] [TARGET | --component NAME] [--program P] [--dlv-path D] [--json]\n"
    "                                         check what a launch needs (SSH, root, guard tools, dlv and "
    "its\n"
    "                                         version, the target and its binary) without changing anything\n"
    "  kdap version\n"
    "SSH options for status/restore/ls/doctor: --identity-file F, --known-hosts-file F, --ssh-config F\n"
    "common options: --log-file FILE, --log-level trace|debug|info|warn|error|off\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "kdap: " << message << "\n" << kUsage;
  std::exit(2);
}

void setup_logging(const kdap::cli::CommonOptions& o) {
  // stdout belongs to the protocol (dap) or to the documented result line (up): logs go to stderr or a file.
  std::shared_ptr<spdlog::logger> logger;
  if (o.log_file) {
    logger = spdlog::basic_logger_mt("kdap", *o.log_file);
  } else {
    logger = std::make_shared<spdlog::logger>("kdap", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  }
  auto level = spdlog::level::from_str(o.log_level);
  if (level == spdlog::level::off && o.log_level != "off") usage_error("unknown --log-level " + o.log_level);
  logger->set_level(level);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  if (argc < 2) usage_error("which command?");
  std::string command = argv[1];
  if (command == "version" || command == "--version") {
    std::cout << "kdap 0.1.0\n";
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << kUsage;
    return 0;
  }
  kdap::cli::CommonOptions common;
  std::optional<std::string> listen;
  kdap::cli::UpOptions up;
  kdap::cli::NodeOptions node;
  bool json = false;
  std::optional<std::string> component;
  bool node_command = command == "status" || command == "restore" || command == "ls" || command == "doctor";
  bool inspects = command == "ls" || command == "doctor";
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      std::string flag = std::string("--") + name;
      if (a == flag) {
        if (i + 1 >= argc) usage_error(flag + " needs a value");
        return std::string(argv[++i]);
      }
      if (a.starts_with(flag + "=")) return a.substr(flag.size() + 1);
      return std::nullopt;
    };
    if (auto v = value("log-file")) {
      common.log_file = *v;
    } else if (auto l = value("log-level")) {
      common.log_level = *l;
    } else if (auto li = value("listen")) {
      listen = *li;
    } else if (node_command) {
      if (auto h = value("host")) {
        node.host = *h;
      } else if (auto idf = value("identity-file")) {
        node.identity_file = *idf;
      } else if (auto kh = value("known-hosts-file")) {
        node.known_hosts_file = *kh;
      } else if (auto sc = value("ssh-config")) {
        node.ssh_config_file = *sc;
      } else if (auto sd = value("state-dir")) {
        node.state_dir = *sd;
      } else if (auto md = value("manifest-dir"); md && inspects) {
        node.manifest_dir = *md;
      } else if (auto kc = value("kubeconfig"); kc && inspects) {
        node.kubeconfig = *kc;
      } else if (auto kl = value("kubectl"); kl && inspects) {
        node.kubectl = *kl;
      } else if (auto nn = value("node-name"); nn && inspects) {
        node.node_name = *nn;
      } else if (auto cp = value("component"); cp && command == "doctor") {
        node.component = *cp;
      } else if (auto pg = value("program"); pg && command == "doctor") {
        node.program = *pg;
      } else if (auto dp = value("dlv-path"); dp && command == "doctor") {
        node.dlv_path = *dp;
      } else if (command == "doctor" && !a.starts_with("-") && !node.target) {
        node.target = a;
      } else if (a == "--json" && (command == "status" || command == "ls" || command == "doctor")) {
        json = true;
      } else if (command == "restore" && !a.starts_with("-") && !component) {
        component = a;
      } else {
        usage_error("unknown argument " + a);
      }
    } else if (command == "up") {
      if (auto c = value("config")) {
        up.config_file = *c;
      } else if (auto p = value("profile")) {
        up.profile = *p;
      } else if (auto h = value("host")) {
        up.overrides.emplace_back("host", *h);
      } else if (auto t = value("target")) {
        up.overrides.emplace_back("target", *t);
      } else if (auto pr = value("program")) {
        up.overrides.emplace_back("program", *pr);
      } else if (auto m = value("manifest-dir")) {
        up.overrides.emplace_back("manifestDir", *m);
      } else if (auto s = value("state-dir")) {
        up.overrides.emplace_back("stateDir", *s);
      } else {
        usage_error("unknown argument " + a);
      }
    } else {
      usage_error("unknown argument " + a);
    }
  }
  setup_logging(common);
  if (command == "dap") return kdap::cli::run_dap(listen);
  if (command == "status") return kdap::cli::run_status(node, json);
  if (command == "restore") return kdap::cli::run_restore(node, component);
  if (command == "ls") return kdap::cli::run_ls(node, json);
  if (command == "doctor") {
    try {
      return kdap::cli::run_doctor(node, json);
    } catch (const std::exception& e) {  // a target that does not parse
      usage_error(e.what());
    }
  }
  if (command == "up") {
    if (listen) up.listen = *listen;
    return kdap::cli::run_up(up);
  }
  usage_error("unknown command " + command);
}
