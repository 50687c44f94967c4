#include "bridge/targets/static_pod.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "bridge/node/process_table.h"
#include "bridge/node/shell.h"
#include "bridge/util/lines.h"

namespace kdap::targets {
namespace {

std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

StaticPodTarget::StaticPodTarget(const config::LaunchConfig& config, node::Node& node)
    : config_(config),
      node_(node),
      name_(config.target.name),
      manifest_path_(config.manifest_dir + "/" + config.target.name + ".yaml"),
      parked_path_(config.state_dir + "/parked/" + config.target.name + ".yaml") {}

asio::awaitable<LaunchPlan> StaticPodTarget::plan() {
  auto text = co_await node::read_file(node_, manifest_path_, 1 << 20);
  if (!text) {
    auto listing = co_await node_.run("ls -1 -- " + node::shell_quote(config_.manifest_dir) + " 2>&1",
                                      std::chrono::seconds(15));
    std::string available;
    for (std::string_view entry : split_lines(listing.out)) {
      if (entry.ends_with(".yaml"))
        available += (available.empty() ? "" : ", ") + std::string(entry.substr(0, entry.size() - 5));
    }
    auto parked = co_await node::stat_file(node_, parked_path_);
    throw TargetError("there is no manifest " + manifest_path_ + " on " + node_.describe() + ". " +
                      (parked ? "It is parked at " + parked_path_ +
                                    " by an earlier kdap session that did not finish; move it back to the "
                                    "manifest directory first. "
                              : "") +
                      (available.empty() ? "No static pods were found in " + config_.manifest_dir +
                                               " (set manifestDir if the kubelet uses another directory)."
                                         : "Static pods there: " + available + "."));
  }
  spec_ = parse_static_pod(*text, manifest_path_);
  // What the journal records and the restore checks against: bytes (SHA-256), mode and owner.
  original_ = co_await node::stat_file(node_, manifest_path_);
  if (!original_) throw TargetError(manifest_path_ + " disappeared while kdap read it");
  LaunchPlan plan;
  std::vector<std::string> args(spec_->command.begin() + 1, spec_->command.end());
  args.insert(args.end(), spec_->args.begin(), spec_->args.end());
  plan.args = config::merge_args(config_.args.value_or(args), config_.extra_args);
  std::string program = config_.program.value_or(spec_->command.front());
  auto resolved = co_await node::resolve_program(node_, program);
  if (!resolved) {
    throw TargetError(
        "the program " + program + " of " + manifest_path_ + " is not " +
        (program.find('/') == std::string::npos ? "on the PATH of " : "an executable file on ") +
        node_.describe() +
        ". Inside the pod it comes from the container image; copy a debug build of it to the node "
        "(built with -gcflags=all=-N -l, without -ldflags '-s -w') and set `program` to its path.");
  }
  plan.program = *resolved;
  plan.env = spec_->env;
  plan.env.insert(plan.env.end(), config_.env.begin(), config_.env.end());
  plan.cwd = config_.cwd ? config_.cwd : spec_->working_dir;
  for (const auto& name : spec_->env_from_refs) {
    plan.warnings.push_back(
        "the manifest sets " + name +
        " from valueFrom, which only the kubelet can resolve; set it in `env` if the component "
        "needs it");
  }
  plan.summary = "static pod " + name_ + " from " + manifest_path_ + ": " + plan.program + " with " +
                 std::to_string(plan.args.size()) + " arguments";
  co_return plan;
}

std::vector<int> pod_processes(const ContainerSpec& spec, const std::vector<node::ProcessInfo>& processes) {
  std::string want = basename_of(spec.command.front());
  std::vector<std::string> want_args(spec.command.begin() + 1, spec.command.end());
  want_args.insert(want_args.end(), spec.args.begin(), spec.args.end());
  std::vector<int> pids;
  for (const auto& p : processes) {
    if (p.argv.empty() || basename_of(p.argv.front()) != want) continue;
    if (std::vector<std::string>(p.argv.begin() + 1, p.argv.end()) == want_args) pids.push_back(p.pid);
  }
  return pids;
}

asio::awaitable<std::vector<int>> StaticPodTarget::running_pids() {
  auto processes = co_await node::list_processes(node_);
  co_return pod_processes(*spec_, processes);
}

asio::awaitable<void> StaticPodTarget::wait_until(bool running, std::chrono::seconds limit,
                                                  StepReporter report) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  bool said = false;
  for (;;) {
    auto pids = co_await running_pids();
    if (running ? !pids.empty() : pids.empty()) co_return;
    if (!said) {
      report(running ? "waiting for " + name_ + " to run again" : "waiting for " + name_ + " to stop");
      said = true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string pid_list;
      for (int pid : pids) pid_list += " " + std::to_string(pid);
      throw TargetError(
          running ? name_ + " did not start again within " + std::to_string(limit.count()) +
                        " s after its manifest "
                        "was put back in " +
                        config_.manifest_dir +
                        ". The manifest is in place; check the kubelet "
                        "(`journalctl -u kubelet`) or raise startTimeout."
                  : name_ + " was still running (pid" + pid_list + ") " + std::to_string(limit.count()) +
                        " s after its manifest was moved out of " + config_.manifest_dir +
                        ". Is the kubelet running and watching that directory? (raise stopTimeout if the pod "
                        "has a long grace period)");
    }
    // The kubelet offers no notification kdap could wait on over SSH; a short timer between /proc reads,
    // short at first (a component usually stops or starts within a second), then gentler on the node.
    auto waited = std::chrono::steady_clock::now() - (deadline - limit);
    timer.expires_after(waited < std::chrono::seconds(3) ? std::chrono::milliseconds(25)
                                                         : std::chrono::milliseconds(250));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<void> StaticPodTarget::park(StepReporter report) {
  if (!spec_) throw TargetError("internal: park() needs plan() first");
  auto leftover = co_await node::stat_file(node_, parked_path_);
  if (leftover) {
    throw TargetError("an earlier kdap session left " + parked_path_ +
                      " parked. kdap will not overwrite it: move it back to " + config_.manifest_dir +
                      " if it is the component's manifest (or remove it if it is stale), then start again.");
  }
  auto running = co_await running_pids();
  if (running.empty()) {
    report("no running process matches " + manifest_path_ +
           " (is the kubelet running it?); kdap parks it anyway");
  }
  auto now = co_await node::stat_file(node_, manifest_path_);
  if (!now || now->sha256 != original_->sha256) {
    throw TargetError(manifest_path_ + " changed while kdap was preparing to park it; start again");
  }
  co_await node::make_private_dir(node_, config_.state_dir + "/parked");
  report("parking " + manifest_path_ + " at " + parked_path_);
  co_await node::move_file(node_, manifest_path_, parked_path_);
  parked_ = true;
  co_await wait_until(false, config_.stop_timeout, report);
}

asio::awaitable<void> StaticPodTarget::restore(StepReporter report) {
  if (!parked_) co_return;
  auto occupied = co_await node::stat_file(node_, manifest_path_);
  if (occupied) {
    throw TargetError("cannot restore " + manifest_path_ +
                      ": a file of that name appeared while it was parked. "
                      "The original is kept at " +
                      parked_path_ + "; compare the two and move the right one back.");
  }
  auto parked = co_await node::stat_file(node_, parked_path_);
  if (!parked) throw TargetError("the parked manifest " + parked_path_ + " is gone; cannot restore " + name_);
  if (parked->sha256 != original_->sha256) {
    throw TargetError("the parked manifest " + parked_path_ + " was changed while parked (sha256 " +
                      parked->sha256 + ", was " + original_->sha256 +
                      "); kdap leaves it there for you to check");
  }
  report("restoring " + manifest_path_);
  co_await node::move_file(node_, parked_path_, manifest_path_);
  parked_ = false;
  auto back = co_await node::stat_file(node_, manifest_path_);
  if (!back || back->sha256 != original_->sha256 || back->mode != original_->mode ||
      back->owner != original_->owner) {
    throw TargetError("restored " + manifest_path_ +
                      " but it differs from the original (mode, owner or bytes)");
  }
  co_await wait_until(true, config_.start_timeout, report);
}

std::string StaticPodTarget::undo_script() const {
  auto parked = node::shell_quote(parked_path_);
  auto manifest = node::shell_quote(manifest_path_);
  std::string script = "# " + manifest_path_ + " was parked at " + parked_path_ + "\n";
  if (original_) {
    script += "# original: sha256 " + original_->sha256 + ", mode " + original_->mode + ", owner " +
              original_->owner + ", " + std::to_string(original_->size) + " bytes\n";
  }
  script += "if [ -e " + parked +
            " ]; then\n"
            "  if [ -e " +
            manifest +
            " ]; then\n"
            "    echo \"kdap: " +
            manifest_path_ + " exists again; the original stays at " + parked_path_ +
            "\" >&2\n"
            "    exit 1\n"
            "  fi\n"
            "  mv -f -- " +
            parked + " " + manifest + " || exit 1\n";
  if (original_) {
    // mv keeps mode and owner; restating them makes the journal enough on its own, whatever moved the file.
    script += "  chmod " + original_->mode + " " + manifest + " && chown " + original_->owner + " " +
              manifest + " || exit 1\n";
  }
  script += "fi\n";
  return script;
}

}  // namespace kdap::targets
