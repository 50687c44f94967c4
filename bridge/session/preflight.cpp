#include "bridge/session/preflight.h"

#include <algorithm>
#include <charconv>
#include <string_view>

#include "bridge/node/shell.h"
#include "bridge/util/lines.h"

namespace kdap::session {
namespace {
constexpr auto kQuick = std::chrono::seconds(30);
constexpr int kNoDlv = 3;
}  // namespace

std::optional<inspect::GoRelease> parse_dlv_version(const std::string& output) {
  // "Version: 1.27.2" on a line of its own (std::regex trips GCC 12's -Wmaybe-uninitialized under ASan).
  constexpr std::string_view kKey = "Version: ";
  for (std::string_view line : split_lines(output)) {
    if (!line.starts_with(kKey)) continue;
    line.remove_prefix(kKey.size());
    inspect::GoRelease v;
    int* parts[] = {&v.major, &v.minor, &v.patch};
    const char* p = line.data();
    const char* last = line.data() + line.size();
    for (int k = 0; k < 3; ++k) {
      auto [next, ec] = std::from_chars(p, last, *parts[k]);
      if (ec != std::errc() || (k < 2 && (next == last || *next != '.'))) return std::nullopt;
      p = k < 2 ? next + 1 : next;
    }
    return v;
  }
  return std::nullopt;
}

int newest_go_minor_for_dlv(const inspect::GoRelease& dlv) {
  return dlv.minor >= 20 ? dlv.minor : dlv.minor + 10;
}

std::string version_text(const inspect::GoRelease& version) {
  return std::to_string(version.major) + "." + std::to_string(version.minor) + "." +
         std::to_string(version.patch);
}

boost::asio::awaitable<PreflightResult> preflight(node::Node& node, targets::LaunchPlan plan,
                                                  config::LaunchConfig config) {
  auto dlv = co_await check_dlv(node, config);
  auto result = co_await check_program(node, std::move(plan), std::move(config), dlv);
  co_return result;
}

boost::asio::awaitable<inspect::GoRelease> check_dlv(node::Node& node, config::LaunchConfig config) {
  auto r = co_await node.run("d=$(command -v -- " + node::shell_quote(config.dlv_path) + ") || exit " +
                                 std::to_string(kNoDlv) + "; \"$d\" version 2>&1",
                             kQuick);
  if (r.exit_status == kNoDlv) {
    throw targets::TargetError(
        "dlv is not on " + node.describe() + " (dlvPath \"" + config.dlv_path +
        "\", looked up in the PATH of its non-interactive shell). Install it there, e.g. `go install "
        "github.com/go-delve/delve/cmd/dlv@latest`, and set dlvPath to where it went (e.g. "
        "/root/go/bin/dlv)");
  }
  auto dlv = parse_dlv_version(r.out);
  if (!r.ok() || !dlv) {
    throw targets::TargetError("`" + config.dlv_path + " version` failed on " + node.describe() + ": " +
                               (r.out + r.err).substr(0, 400));
  }
  co_return *dlv;
}

boost::asio::awaitable<PreflightResult> check_program(node::Node& node, targets::LaunchPlan plan,
                                                      config::LaunchConfig config, inspect::GoRelease dlv) {
  PreflightResult result;
  result.dlv_version = version_text(dlv);
  // An attached process may run a binary that was replaced on disk since; /proc/PID/exe is the one it runs.
  std::string program = plan.attach_pid ? "/proc/" + std::to_string(*plan.attach_pid) + "/exe" : plan.program;
  std::vector<std::string> paths = {program};
  auto reports = co_await inspect::inspect_programs(node, paths);
  const auto& report = reports.at(0);
  std::string errors;
  for (const auto& problem : inspect::problems(report)) {
    if (problem.severity == inspect::Problem::Severity::kError) {
      errors += (errors.empty() ? "" : "\n") + problem.message;
    } else {
      result.warnings.push_back(problem.message);
    }
  }
  if (!errors.empty()) throw targets::TargetError(errors);
  result.go = report.go;

  bool check_go = std::find(config.dlv_flags.begin(), config.dlv_flags.end(), "--check-go-version=false") ==
                  config.dlv_flags.end();
  auto go = report.go ? inspect::parse_go_release(report.go->go_version) : std::nullopt;
  if (check_go && go && go->major == 1 && go->minor > newest_go_minor_for_dlv(dlv)) {
    throw targets::TargetError("dlv " + result.dlv_version + " on " + node.describe() + " is too old for " +
                               plan.program + ", built with " + report.go->go_version + ": dlv " +
                               std::to_string(dlv.major) + "." + std::to_string(dlv.minor) +
                               " debugs Go up to 1." + std::to_string(newest_go_minor_for_dlv(dlv)) +
                               ". Install a newer dlv there (`go install "
                               "github.com/go-delve/delve/cmd/dlv@latest`) and point dlvPath "
                               "at it, or add \"--check-go-version=false\" to dlvFlags to try anyway");
  }
  co_return result;
}

}  // namespace kdap::session
