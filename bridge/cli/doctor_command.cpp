// `kdap doctor`: everything a launch would check, without changing anything — the SSH connection and host
// key, root on the node, the node guard's tools, dlv and its version, and, given a target, the component's
// definition and its binary (debug info, optimizations, Go version against dlv). Exit status 1 when something
// would block a launch.

#include <iostream>
#include <sstream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "bridge/cli/commands.h"
#include "bridge/cli/node_command.h"
#include "bridge/node/connect.h"
#include "bridge/session/preflight.h"
#include "bridge/targets/find_component.h"
#include "bridge/targets/kubectl.h"

namespace kdap::cli {
namespace asio = boost::asio;
namespace {

struct Check {
  std::string name;
  std::string status;  // ok, warn, fail, skip
  std::string message;
};

asio::awaitable<void> examine(asio::any_io_executor ex, config::LaunchConfig cfg,
                              std::vector<Check>& checks) {
  std::unique_ptr<node::Node> node;
  try {
    node = co_await node::connect_node(ex, cfg);
  } catch (const std::exception& e) {
    checks.push_back({"ssh", "fail", e.what()});
    co_return;
  }
  checks.push_back({"ssh", "ok",
                    cfg.host ? "connected to " + node->describe() + "; its host key is the one in known_hosts"
                             : "working on this machine (no --host)"});

  auto id = co_await node->run(
      "id -u; command -v bash >/dev/null && echo bash; "
      "setsid --help 2>&1 | grep -q -- '--wait' && echo setsid-w",
      std::chrono::seconds(20));
  bool root = id.out.starts_with("0\n");
  checks.push_back({"root", root ? "ok" : "fail",
                    root ? "commands run as root"
                         : "commands run as uid " + id.out.substr(0, id.out.find('\n')) +
                               "; kdap needs root on the node (log in as root)"});
  bool guard_tools = id.out.find("bash") != std::string::npos && id.out.find("setsid-w") != std::string::npos;
  checks.push_back({"guard", guard_tools ? "ok" : "fail",
                    guard_tools ? "bash and setsid -w are there for the node guard"
                                : "the node guard needs bash and util-linux setsid with --wait"});

  // dlv listens on 127.0.0.1:0: the kernel picks from the ephemeral range, which must not be used up.
  auto ports = co_await node->run(
      "cat /proc/sys/net/ipv4/ip_local_port_range; "
      "{ tail -n +2 /proc/net/tcp; tail -n +2 /proc/net/tcp6; } 2>/dev/null | wc -l",
      std::chrono::seconds(20));
  {
    std::istringstream in(ports.out);
    long low = 0, high = 0, sockets = 0;
    in >> low >> high >> sockets;
    long range = high - low + 1;
    bool ok = ports.ok() && range > 0 && sockets < range;
    checks.push_back(
        {"ports", ok ? "ok" : "fail",
         ok ? std::to_string(range) + " ephemeral ports (" + std::to_string(low) + "-" +
                  std::to_string(high) + ") for dlv's loopback listener, " + std::to_string(sockets) +
                  " TCP sockets in use"
            : "the node's ephemeral ports look used up (" + ports.out + "); dlv could not listen"});
  }

  if (cfg.component) {
    try {
      auto found = co_await targets::find_component(cfg, *node);
      cfg.target = found.target;
      checks.push_back({"component", "ok", *cfg.component + " is " + cfg.target.text + ": " + found.reason});
    } catch (const std::exception& e) {
      checks.push_back({"component", "fail", e.what()});
      co_return;
    }
  }
  targets::LaunchPlan plan;
  bool have_plan = false;
  if (!cfg.target.text.empty()) {
    try {
      auto target = targets::make_target(cfg, *node);
      plan = co_await target->plan();
      have_plan = true;
      checks.push_back({"target", "ok", plan.summary});
      for (const auto& w : plan.warnings) checks.push_back({"target", "warn", w});
    } catch (const std::exception& e) {
      checks.push_back({"target", "fail", e.what()});
    }
  }
  if (cfg.target.kind == config::TargetKind::kDaemonSet || cfg.target.text.empty()) {
    targets::Kubectl kubectl(cfg, *node);
    bool works = co_await kubectl.exists("kube-system", "daemonset", "kube-proxy");
    (void)works;
    bool usable = kubectl.availability() == "kubectl works" ||
                  kubectl.availability().find("NotFound") != std::string::npos;
    checks.push_back({"kubectl", usable ? "ok" : (cfg.target.text.empty() ? "warn" : "fail"),
                      usable ? "kubectl works with " + cfg.kubeconfig : kubectl.availability()});
  }
  std::optional<inspect::GoRelease> dlv;
  try {
    dlv = co_await session::check_dlv(*node, cfg);
    checks.push_back({"dlv", "ok", "dlv " + session::version_text(*dlv) + " (" + cfg.dlv_path + ")"});
  } catch (const std::exception& e) {
    checks.push_back({"dlv", "fail", e.what()});
  }
  if (have_plan && dlv) {
    try {
      auto result = co_await session::check_program(*node, plan, cfg, *dlv);
      std::string go = result.go ? result.go->go_version : "";
      checks.push_back({"program", "ok",
                        (plan.attach_pid ? "pid " + std::to_string(*plan.attach_pid) : plan.program) +
                            " has debug info" + (go.empty() ? "" : ", built with " + go)});
      for (const auto& w : result.warnings) checks.push_back({"program", "warn", w});
    } catch (const std::exception& e) {
      checks.push_back({"program", "fail", e.what()});
    }
  }
  node->close();
}

}  // namespace

int run_doctor(const NodeOptions& options, bool json) {
  asio::io_context io;
  auto cfg = node_config(options);
  if (options.target) cfg.target = config::parse_target(*options.target);
  cfg.component = options.component;
  if (options.program) cfg.program = options.program;
  if (options.dlv_path) cfg.dlv_path = *options.dlv_path;
  std::vector<Check> checks;
  asio::co_spawn(io, examine(io.get_executor(), cfg, checks), [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      checks.push_back({"kdap", "fail", ex.what()});
    }
  });
  io.run();
  bool blocked = false;
  for (const auto& c : checks) blocked = blocked || c.status == "fail";
  if (json) {
    nlohmann::json out = {{"ok", !blocked}, {"checks", nlohmann::json::array()}};
    for (const auto& c : checks) {
      out["checks"].push_back({{"name", c.name}, {"status", c.status}, {"message", c.message}});
    }
    std::cout << out.dump(2) << "\n";
  } else {
    for (const auto& c : checks) {
      std::string mark = c.status == "ok" ? "ok  " : c.status == "warn" ? "warn" : "FAIL";
      std::cout << mark << "  " << c.name << ": " << c.message << "\n";
    }
    std::cout << (blocked ? "something above blocks a launch\n" : "nothing blocks a launch\n");
  }
  return blocked ? 1 : 0;
}

}  // namespace kdap::cli
