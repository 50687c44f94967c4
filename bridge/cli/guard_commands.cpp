// `kdap status` and `kdap restore`: the node's kdap sessions, live or left behind, and replaying what a dead
// guard could not (after a node reboot, or when the guard itself was killed).

#include <iostream>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "bridge/cli/commands.h"
#include "bridge/cli/node_command.h"
#include "bridge/guard/node_guard.h"

namespace kdap::cli {
namespace asio = boost::asio;

namespace {

bool wanted(const guard::SessionInfo& s, const std::optional<std::string>& component) {
  if (!component) return true;
  return s.target == *component || s.key == *component || s.target.ends_with("/" + *component);
}

}  // namespace

int run_status(const NodeOptions& options, bool json) {
  return run_on_node(options, [&](node::Node& node, config::LaunchConfig cfg) -> asio::awaitable<int> {
    const std::string& state_dir = cfg.state_dir;
    auto sessions = co_await guard::list_sessions(node, state_dir);
    if (json) {
      nlohmann::json out = {
          {"node", node.describe()}, {"stateDir", state_dir}, {"sessions", nlohmann::json::array()}};
      for (const auto& s : sessions) {
        out["sessions"].push_back({{"target", s.target},
                                   {"key", s.key},
                                   {"dir", s.dir},
                                   {"holder", s.holder},
                                   {"since", s.since},
                                   {"guardPid", s.guard_pid},
                                   {"guardAlive", s.guard_alive},
                                   {"dlvPid", s.dlv_pid},
                                   {"dlvAlive", s.dlv_alive},
                                   {"state", s.guard_alive ? "live" : "leftover"}});
      }
      std::cout << out.dump(2) << "\n";
      co_return 0;
    }
    if (sessions.empty()) std::cout << "no kdap sessions on " << node.describe() << "\n";
    for (const auto& s : sessions) {
      std::cout << (s.guard_alive ? "live     " : "LEFTOVER ") << s.target << "  held by " << s.holder
                << " since " << s.since << (s.dlv_alive ? "  dlv pid " + std::to_string(s.dlv_pid) : "")
                << (s.guard_alive ? "" : "  → run `kdap restore` to put it back") << "\n";
    }
    co_return 0;
  });
}

int run_restore(const NodeOptions& options, const std::optional<std::string>& component) {
  return run_on_node(options, [&](node::Node& node, config::LaunchConfig cfg) -> asio::awaitable<int> {
    const std::string& state_dir = cfg.state_dir;
    auto sessions = co_await guard::list_sessions(node, state_dir);
    int failures = 0;
    int done = 0;
    for (const auto& s : sessions) {
      if (!wanted(s, component)) continue;
      if (s.guard_alive) {
        std::cout << s.target << ": a live session (" << s.holder
                  << ") owns it; its guard restores when it ends. Not touched.\n";
        continue;
      }
      try {
        std::cout << co_await guard::replay(node, s);
        ++done;
      } catch (const std::exception& e) {
        std::cerr << "kdap: " << e.what() << "\n";
        ++failures;
      }
    }
    if (done == 0 && failures == 0) std::cout << "nothing to restore on " << node.describe() << "\n";
    co_return failures == 0 ? 0 : 1;
  });
}

}  // namespace kdap::cli
