#include "bridge/session/bring_up.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <algorithm>
#include <optional>

#include "bridge/inspect/elf_info.h"
#include "bridge/inspect/source_revision.h"
#include "bridge/node/connect.h"
#include "bridge/node/upload.h"
#include "bridge/session/preflight.h"
#include "bridge/targets/find_component.h"
#include "bridge/util/timeout.h"

namespace kdap::session {
namespace {
constexpr auto kDlvStopGrace = std::chrono::seconds(5);

template <class T>
boost::asio::awaitable<T> call(std::function<T()> work) {
  co_return work();
}

// `go env` and git can take seconds (a cold build cache, a toolchain download, a large work tree): they run
// off kdap's event loop, so that DAP requests and the other sessions' relays go on meanwhile. One thread for
// all of them.
boost::asio::thread_pool& blocking_calls() {
  static boost::asio::thread_pool pool(1);
  return pool;
}

template <class T>
boost::asio::awaitable<T> off_loop(std::function<T()> work) {
  auto result = co_await boost::asio::co_spawn(blocking_calls().get_executor(), call<T>(std::move(work)),
                                               boost::asio::use_awaitable);
  co_return result;
}
}  // namespace

BringUp::BringUp(boost::asio::any_io_executor ex, config::LaunchConfig config, Say step, Say note)
    : ex_(ex), config_(std::move(config)), step_(std::move(step)), note_(std::move(note)), dlv_down_(ex) {}

BringUp::~BringUp() = default;

boost::asio::awaitable<void> BringUp::start() {
  const auto& cfg = config_;
  step_(cfg.host ? "connecting to " + *cfg.host : "working on this machine");
  node_ = co_await node::connect_node(ex_, cfg);
  node_->prepare_processes(2);  // the node guard and dlv
  if (cfg.component) {
    step_("looking for " + *cfg.component);
    auto found = co_await targets::find_component(cfg, *node_);
    config_.target = found.target;
    note_("kdap chose " + cfg.target.text + ": " + found.reason);
  }
  target_ = targets::make_target(cfg, *node_);

  guard_ = std::make_shared<guard::NodeGuard>(*node_, cfg.state_dir, config::session_name(cfg));
  co_await guard_->lock();
  co_await upload_files();
  step_("reading " + cfg.target.text);
  auto plan = co_await target_->plan();
  attached_ = plan.attach_pid.has_value();
  note_(plan.summary);
  for (const auto& w : plan.warnings) note_(w);
  if (!attached_) {
    for (const auto& line : apply_debug_safe_flags(plan, cfg.debug_safe_flags)) note_(line);
  }

  step_("checking dlv and " + plan.program + " on the node");
  auto checked = co_await preflight(*node_, plan, cfg);
  for (const auto& w : checked.warnings) note_(w);
  if (cfg.local_root && !cfg.dlv_attach.contains("substitutePath") && checked.go) {
    co_await map_source_paths(plan, *checked.go);
  }

  step_("arming the node guard");
  co_await guard_->arm(target_->undo_script(), cfg.guard_keepalive);
  boost::asio::co_spawn(ex_, guard_->heartbeat(), [](std::exception_ptr e) {
    if (e) spdlog::debug("guard heartbeat ended");
  });

  co_await target_->park(step_);

  step_(plan.attach_pid ? "attaching dlv to pid " + std::to_string(*plan.attach_pid)
                        : "starting dlv for " + plan.program);
  delve::DlvOptions dlv_options{cfg.dlv_path, cfg.dlv_flags};
  dlv_ = co_await delve::DlvServer::start(*node_, plan, dlv_options, cfg.dlv_timeout);
  dlv_gone_ = false;
  co_await guard_->record_dlv(dlv_->pid(), dlv_->launched());
}

namespace {

// GOARCH names for `uname -m`, to compare with the machine in a local binary's ELF header.
std::string goarch_of_uname(const std::string& machine) {
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64" || machine == "arm64") return "arm64";
  if (machine.starts_with("armv")) return "arm";
  if (machine == "i386" || machine == "i686") return "386";
  return machine;  // s390x, ppc64le, riscv64, loong64 are spelled alike
}

std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (std::size_t pos = 0; pos <= dirs.size();) {
    auto end = std::min(dirs.find(':', pos), dirs.size());
    std::string candidate = dirs.substr(pos, end - pos) + "/" + name;
    if (end > pos && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    pos = end + 1;
  }
  return "";
}

}  // namespace

std::vector<std::string> apply_debug_safe_flags(targets::LaunchPlan& plan, bool enabled) {
  static const std::vector<std::string> kLeaders = {"kube-scheduler", "kube-controller-manager",
                                                    "cloud-controller-manager"};
  std::string name = plan.program.substr(plan.program.rfind('/') + 1);
  bool elects =
      std::any_of(kLeaders.begin(), kLeaders.end(), [&](const std::string& n) { return name == n; });
  for (const auto& arg : plan.args) {
    if (arg.starts_with("--leader-elect=") || arg == "--leader-elect") elects = arg != "--leader-elect=false";
  }
  if (!elects) return {};
  if (enabled) {
    plan.args = config::merge_args(plan.args, {"--leader-elect=false"});
    return {
        "debugSafeFlags: kdap added --leader-elect=false, so a long breakpoint cannot lose the lease; "
        "other instances of " +
        name + " on other nodes go on leading alongside this one"};
  }
  return {name +
          " runs with leader election: held at a breakpoint longer than its lease "
          "(--leader-elect-lease-duration, 15 s by default) it loses leadership and exits or hands over. "
          "\"debugSafeFlags\": true adds --leader-elect=false (kdap does not change flags unasked)"};
}

boost::asio::awaitable<void> BringUp::upload_files() {
  if (!config_.upload_program && !config_.upload_dlv) co_return;
  std::string dir = config_.keep_upload ? config_.state_dir + "/uploads" : guard_->dir() + "/upload";
  if (config_.upload_dlv) {
    std::string local = config_.upload_dlv->empty() ? find_on_path("dlv") : *config_.upload_dlv;
    if (local.empty()) {
      throw targets::TargetError("uploadDlv: there is no dlv on kdap's PATH; give its path in uploadDlv");
    }
    std::string header = node::read_local_file(local).substr(0, 64);
    std::string local_arch;
    try {
      local_arch = inspect::parse_elf_header(header).machine;
    } catch (const std::exception& e) {
      throw targets::TargetError("uploadDlv: " + local + " is not an executable for Linux (" + e.what() +
                                 ")");
    }
    auto uname = co_await node_->run("uname -m", std::chrono::seconds(20));
    std::string node_arch = goarch_of_uname(uname.out.substr(0, uname.out.find('\n')));
    if (node_arch != local_arch) {
      throw targets::TargetError("uploadDlv: " + local + " is built for " + local_arch + " but " +
                                 node_->describe() + " is " + node_arch +
                                 "; build one for the node with `GOOS=linux "
                                 "GOARCH=" +
                                 node_arch +
                                 " go install github.com/go-delve/delve/cmd/dlv@latest` and "
                                 "give its path in uploadDlv");
    }
    step_("uploading " + local + " to " + dir);
    auto up = co_await node::upload_file(*node_, local, dir, "dlv", "0755");
    config_.dlv_path = up.path;
    note_("uploaded " + local + " to " + up.path + " (" + std::to_string(up.size) + " bytes, sha256 " +
          up.sha256 + " verified)");
  }
  if (config_.upload_program) {
    const std::string& local = *config_.upload_program;
    std::string name = local.substr(local.rfind('/') + 1);
    step_("uploading " + local + " to " + dir);
    auto up = co_await node::upload_file(*node_, local, dir, name, "0755");
    config_.program = up.path;
    note_("uploaded " + local + " to " + up.path + " (" + std::to_string(up.size) + " bytes, sha256 " +
          up.sha256 + " verified)" + (config_.keep_upload ? "; kept after the session (keepUpload)" : ""));
  }
}

boost::asio::awaitable<void> BringUp::map_source_paths(targets::LaunchPlan plan, inspect::GoBuildInfo go) {
  step_("reading where " + plan.program + " was built");
  std::string binary = plan.attach_pid ? "/proc/" + std::to_string(*plan.attach_pid) + "/exe" : plan.program;
  std::string failure;
  try {
    auto layout = co_await inspect::read_source_layout(*node_, binary, go);
    std::function<inspect::LocalPaths()> read_local = [root = *config_.local_root] {
      return inspect::local_paths(root);
    };
    auto local = co_await off_loop(std::move(read_local));
    // The build root goes to where the workspace holds the main module, or nowhere: an editor opened on an
    // unrelated folder must not get a rule that sends every breakpoint there.
    auto module_root = inspect::find_local_module_root(local.workspace, layout.module_path);
    if (!module_root) {
      note_("source paths: " + local.workspace + " holds no go.mod of module " + layout.module_path +
            "; kdap maps no build root to it (set substitutePath if breakpoints do not verify)");
      local.workspace.clear();
    } else {
      local.workspace = *module_root;
      inspect::add_workspace_replacements(layout, go, inspect::local_replacements_in(*module_root));
      if (auto built = inspect::built_revision(go)) {
        std::function<std::optional<inspect::SourceRevision>()> read_checkout = [root = *module_root] {
          return inspect::local_revision(root);
        };
        auto checkout = co_await off_loop(std::move(read_checkout));
        std::string said =
            checkout ? inspect::revision_note(*built, *checkout, plan.program, *module_root) : "";
        if (!said.empty()) note_(said);
      }
    }
    substitute_path_ = inspect::automatic_substitute_path(layout, local);
    if (substitute_path_.empty()) {
      note_("source paths: no mapping needed or known (" +
            (layout.evidence.empty() ? std::string("no source paths found") : layout.evidence.front()) + ")");
    }
    for (const auto& m : substitute_path_) {
      note_("source paths: " + (m.from.empty() ? std::string("(module-relative)") : m.from) + " → " +
            (m.to.empty() ? std::string("(module-relative)") : m.to) +
            " (automatic substitutePath; set substitutePath to choose your own)");
    }
  } catch (const std::exception& e) {
    failure = e.what();
  }
  // Debugging works without the mapping, only breakpoints may not verify; say so and go on.
  if (!failure.empty()) note_("source paths: kdap could not work out a substitutePath: " + failure);
}

boost::asio::awaitable<void> BringUp::watch_output(delve::DlvServer::OutputSink sink) {
  auto dlv = dlv_;  // kept alive until dlv's channel is drained, whatever tear_down() does meanwhile
  dlv_exit_status_ = co_await dlv->relay_output(std::move(sink));
  dlv_gone_ = true;
  dlv_down_.notify();
  if (on_dlv_gone_) on_dlv_gone_();
}

boost::asio::awaitable<void> BringUp::wait_dlv_gone() {
  while (!dlv_gone_) co_await dlv_down_.wait();
}

boost::asio::awaitable<std::string> BringUp::tear_down() {
  tearing_down_ = true;
  std::string problems;
  if (dlv_) {
    try {
      co_await dlv_->stop(kDlvStopGrace);
      // The output relay ends once dlv's channel closes; wait for it so no output follows the end.
      co_await with_timeout(wait_dlv_gone(), std::chrono::seconds(10), "dlv's output");
    } catch (const std::exception& e) {
      problems += std::string("stopping dlv failed: ") + e.what() + "\n";
    }
  }
  bool restored = true;
  if (target_ && target_->parked()) {
    try {
      co_await target_->restore(step_);
    } catch (const std::exception& e) {
      restored = false;
      problems += std::string("restoring ") + config_.target.text + " failed: " + e.what() + "\n";
    }
  }
  if (guard_ && restored && problems.empty()) {
    try {
      co_await guard_->disarm();
    } catch (const std::exception& e) {
      problems += std::string("removing the session's journal failed: ") + e.what() + "\n";
    }
  } else if (guard_ && guard_->armed()) {
    // Left armed on purpose: when kdap's connection ends, the guard retries the restore on the node.
    problems += "the node guard stays armed and restores when kdap disconnects; `kdap status` shows it\n";
  }
  guard_.reset();
  target_.reset();
  dlv_.reset();
  if (node_) node_->close();
  node_.reset();
  if (!problems.empty()) problems.pop_back();
  if (!problems.empty()) spdlog::error("{}", problems);
  co_return problems;
}

}  // namespace kdap::session
