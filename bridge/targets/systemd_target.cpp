#include "bridge/targets/systemd_target.h"

#include <charconv>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "bridge/node/node_files.h"
#include "bridge/node/shell.h"
#include "bridge/targets/systemd_unit.h"
#include "bridge/util/lines.h"

namespace kdap::targets {
namespace {

constexpr auto kQuick = std::chrono::seconds(30);
constexpr int kNoSystemctl = 127;

bool is_running_state(const std::string& active) {
  return active == "active" || active == "activating" || active == "reloading";
}

}  // namespace

SystemdTarget::SystemdTarget(const config::LaunchConfig& config, node::Node& node)
    : config_(config),
      node_(node),
      unit_(config.target.name.find('.') == std::string::npos ? config.target.name + ".service"
                                                              : config.target.name) {}

asio::awaitable<SystemdTarget::UnitState> SystemdTarget::state() {
  auto r = co_await node_.run("command -v systemctl >/dev/null 2>&1 || exit " + std::to_string(kNoSystemctl) +
                                  "; systemctl show -p LoadState -p ActiveState -p SubState -p UnitFileState "
                                  "-p MainPID -- " +
                                  node::shell_quote(unit_),
                              kQuick);
  if (r.exit_status == kNoSystemctl) {
    throw TargetError(node_.describe() + " has no systemctl: systemd/ targets need a node run by systemd");
  }
  if (!r.ok()) throw TargetError("systemctl show " + unit_ + " failed on " + node_.describe() + ": " + r.err);
  UnitState s;
  for (std::string_view line : split_lines(r.out)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key(line.substr(0, eq)), value(line.substr(eq + 1));
    if (key == "LoadState") s.load = value;
    if (key == "ActiveState") s.active = value;
    if (key == "SubState") s.sub = value;
    if (key == "UnitFileState") s.file_state = value;
    if (key == "MainPID") std::from_chars(value.data(), value.data() + value.size(), s.main_pid);
  }
  co_return s;
}

asio::awaitable<LaunchPlan> SystemdTarget::plan() {
  original_ = co_await state();
  if (original_.load != "loaded") {
    throw TargetError("there is no systemd unit " + unit_ + " on " + node_.describe() +
                      " (LoadState=" + original_.load +
                      "). `systemctl list-units 'kube*'` there, or `kdap ls`, shows what runs.");
  }
  auto cat = co_await node_.run("systemctl cat -- " + node::shell_quote(unit_), kQuick);
  if (!cat.ok())
    throw TargetError("systemctl cat " + unit_ + " failed on " + node_.describe() + ": " + cat.err);
  auto definition = parse_service_definition(split_systemctl_cat(cat.out), unit_);
  std::vector<std::optional<std::string>> env_files;
  for (const auto& file : definition.environment_files) {
    env_files.push_back(co_await node::read_file(node_, file.path, 1 << 20));
  }
  auto environment = effective_environment(definition, env_files);
  auto argv = expand_exec_start(definition, environment);

  LaunchPlan plan;
  plan.warnings = definition.warnings;
  std::string program = config_.program.value_or(argv.front());
  auto resolved = co_await node::resolve_program(node_, program);
  if (!resolved) {
    throw TargetError("the program " + program + " of " + unit_ + " is not an executable file on " +
                      node_.describe() + "; set `program` to a debug build of it on the node");
  }
  plan.program = *resolved;
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  plan.args = config::merge_args(config_.args.value_or(args), config_.extra_args);
  plan.env = environment;
  plan.env.insert(plan.env.end(), config_.env.begin(), config_.env.end());
  plan.cwd = config_.cwd;
  if (!plan.cwd && definition.working_directory && definition.working_directory->front() == '/') {
    plan.cwd = definition.working_directory;
  }
  if (definition.user && *definition.user != "root" && *definition.user != "0") {
    plan.warnings.push_back(unit_ + " runs as User=" + *definition.user +
                            "; under dlv it runs as the SSH user instead");
  }
  if (!is_running_state(original_.active)) {
    plan.warnings.push_back(unit_ + " is " + original_.active + "; kdap runs it under dlv and leaves it " +
                            original_.active + " afterwards");
  }
  plan.summary = "systemd unit " + unit_ + " (" + original_.active + ", " + original_.file_state +
                 "): " + plan.program + " with " + std::to_string(plan.args.size()) +
                 " arguments from its ExecStart after drop-ins and environment";
  co_return plan;
}

asio::awaitable<void> SystemdTarget::wait_for(bool active, std::chrono::seconds limit, StepReporter report) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  bool said = false;
  for (;;) {
    auto now = co_await state();
    bool done = active ? now.active == "active" : (!is_running_state(now.active) && now.main_pid == 0);
    if (done) co_return;
    if (active && now.active == "failed") {
      throw TargetError(unit_ + " failed to start again (" + now.sub + "); see `journalctl -u " + unit_ +
                        "` on " + node_.describe());
    }
    if (!said) {
      report(active ? "waiting for " + unit_ + " to be active" : "waiting for " + unit_ + " to stop");
      said = true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      throw TargetError(unit_ + (active ? " was not active " : " had not stopped ") +
                        std::to_string(limit.count()) + " s later (ActiveState=" + now.active +
                        ", SubState=" + now.sub + "); see `journalctl -u " + unit_ + "`, or raise " +
                        (active ? "startTimeout" : "stopTimeout"));
    }
    // systemd's D-Bus signals are not reachable through a plain SSH command; a short poll instead.
    timer.expires_after(std::chrono::milliseconds(250));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<void> SystemdTarget::park(StepReporter report) {
  if (original_.load.empty()) throw TargetError("internal: park() needs plan() first");
  if (!is_running_state(original_.active)) co_return;
  report("stopping " + unit_);
  parked_ = true;  // from here on a restore is due, even if the stop fails half-way
  auto r = co_await node_.run("systemctl stop -- " + node::shell_quote(unit_), config_.stop_timeout);
  if (!r.ok()) throw TargetError("systemctl stop " + unit_ + " failed: " + r.err);
  co_await wait_for(false, config_.stop_timeout, report);
}

asio::awaitable<void> SystemdTarget::restore(StepReporter report) {
  if (!parked_) co_return;
  report("starting " + unit_);
  auto r = co_await node_.run("systemctl start -- " + node::shell_quote(unit_), config_.start_timeout);
  if (!r.ok()) {
    throw TargetError("systemctl start " + unit_ + " failed: " + r.err + "; see `journalctl -u " + unit_ +
                      "`");
  }
  parked_ = false;
  co_await wait_for(true, config_.start_timeout, report);
  auto now = co_await state();
  if (now.file_state != original_.file_state) {
    throw TargetError(unit_ + " is " + now.file_state + " now but was " + original_.file_state +
                      " before the session; something else changed it meanwhile");
  }
}

std::string SystemdTarget::undo_script() const {
  if (!is_running_state(original_.active)) return "# " + unit_ + " was not running; nothing to start\n";
  return "# " + unit_ + " was " + original_.active + " (" + original_.file_state +
         ") and was stopped by kdap\n" + "systemctl start -- " + node::shell_quote(unit_) + " || exit 1\n";
}

}  // namespace kdap::targets
