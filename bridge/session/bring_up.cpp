#include "bridge/session/bring_up.h"

#include <spdlog/spdlog.h>

#include "bridge/node/local_node.h"
#include "bridge/node/ssh_node.h"
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
  if (cfg.host) {
    step_("connecting to " + *cfg.host);
    node::SshOptions ssh;
    ssh.host = *cfg.host;
    ssh.identity_file = cfg.identity_file;
    ssh.known_hosts_file = cfg.known_hosts_file;
    ssh.ssh_config_file = cfg.ssh_config_file;
    ssh.connect_timeout = cfg.connect_timeout;
    node_ = co_await node::SshNode::connect(ex_, ssh);
  } else {
    node_ = std::make_unique<node::LocalNode>(ex_);
  }

  target_ = targets::make_target(cfg, *node_);
  step_("reading " + cfg.target.text);
  auto plan = co_await target_->plan();
  note_(plan.summary);
  for (const auto& w : plan.warnings) note_(w);

  co_await target_->park(step_);

  step_("starting dlv for " + plan.program);
  delve::DlvOptions dlv_options{cfg.dlv_path, cfg.dlv_flags};
  dlv_ = co_await delve::DlvServer::start(*node_, plan, dlv_options, cfg.dlv_timeout);
  dlv_gone_ = false;
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
  if (target_ && target_->parked()) {
    try {
      co_await target_->restore(step_);
    } catch (const std::exception& e) {
      problems += std::string("restoring ") + config_.target.text + " failed: " + e.what() + "\n";
    }
  }
  target_.reset();
  dlv_.reset();
  if (node_) node_->close();
  node_.reset();
  if (!problems.empty()) problems.pop_back();
  if (!problems.empty()) spdlog::error("{}", problems);
  co_return problems;
}

}  // namespace kdap::session
