#pragma once
// Checks made before anything on the node changes: dlv is there and new enough for the program's Go, and the
// program is a Go binary with debug info. A launch that would fail after parking the component fails here
// instead, with the fix; what only makes debugging worse (an optimized build) becomes a console warning.

#include <optional>
#include <string>
#include <vector>

#include "bridge/config/launch_config.h"
#include "bridge/inspect/program_probe.h"
#include "bridge/node/node.h"
#include "bridge/targets/target.h"

namespace kdap::session {

struct PreflightResult {
  std::string dlv_version;  // "1.27.2"
  std::optional<inspect::GoBuildInfo> go;
  std::vector<std::string> warnings;
};

// Both checks below. Throws targets::TargetError naming the problem and the fix.
boost::asio::awaitable<PreflightResult> preflight(node::Node& node, targets::LaunchPlan plan,
                                                  config::LaunchConfig config);
// dlv is on the node (dlvPath) and answers `dlv version`; returns its version.
boost::asio::awaitable<inspect::GoRelease> check_dlv(node::Node& node, config::LaunchConfig config);
// The program (or the attached process's executable) is a Go binary with debug info that `dlv` can debug.
boost::asio::awaitable<PreflightResult> check_program(node::Node& node, targets::LaunchPlan plan,
                                                      config::LaunchConfig config, inspect::GoRelease dlv);
std::string version_text(const inspect::GoRelease& version);

// "Version: 1.27.2" in `dlv version` output → {1, 27, 2}.
std::optional<inspect::GoRelease> parse_dlv_version(const std::string& output);
// The newest Go minor version (1.N) a dlv release debugs: Delve 1.20 and later track Go's numbering (1.27 →
// Go 1.27); before that, 1.N debugged Go 1.(N+10).
int newest_go_minor_for_dlv(const inspect::GoRelease& dlv);

}  // namespace kdap::session
