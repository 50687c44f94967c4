#include "bridge/session/bring_up.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>

#include "bridge/node/connect.h"
#include "bridge/session/preflight.h"
#include "bridge/targets/find_component.h"
#include "bridge/util/timeout.h"

namespace kdap::session {
namespace {
constexpr auto kDlvStopGrace = std::chrono::seconds(5);
}

BringUp::BringUp(boost::asio::any_io_executor ex, config::LaunchConfig config, Say step, Say note)
    : ex_(ex), config_(std::move(config)), step_(std::move(step)), note_(std::move(note)), dlv_down_(ex) {}

BringUp::~BringUp() = default;

boost::asio::awaitable<void> BringUp::start() {
  const auto& cfg = config_;
  step_(cfg.host ? "connecting to " + *cfg.host : "working on this machine");
  node_ = co_await node::connect_node(ex_, cfg);
  if (cfg.component) {
    step_("looking for " + *cfg.component);
    auto found = co_await targets::find_component(cfg, *node_);
    config_.target = found.target;
    note_("kdap chose " + cfg.target.text + ": " + found.reason);
  }
  target_ = targets::make_target(cfg, *node_);

  guard_ = std::make_shared<guard::NodeGuard>(*node_, cfg.state_dir, config::session_name(cfg));
  co_await guard_->lock();
  step_("reading " + cfg.target.text);
  auto plan = co_await target_->plan();
  attached_ = plan.attach_pid.has_value();
  note_(plan.summary);
  for (const auto& w : plan.warnings) note_(w);

  step_("checking dlv and " + plan.program + " on the node");
  auto checked = co_await preflight(*node_, plan, cfg);
  for (const auto& w : checked.warnings) note_(w);

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
  co_await guard_->record_dlv(dlv_->pid());
}

boost::asio::awaitable<void> BringUp::watch_output(delve::DlvServer::OutputSink sink) {
  auto dlv = dlv_;  // kept alive until dlv's channel is drained, whatever tear_down() does meanwhile
  dlv_exit_status_ = co_await dlv->relay_output(std::move(sink));
  dlv_gone_ = true;
  dlv_down_.notify();
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
