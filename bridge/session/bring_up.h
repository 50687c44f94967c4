#pragma once
// Brings a component up under dlv on its node and puts it back: connect → plan → park → start dlv, and in
// reverse stop dlv → restore. Shared by the DAP session (`kdap dap`) and the port forwarder (`kdap up`),
// which differ only in how the editor reaches dlv.

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "bridge/config/launch_config.h"
#include "bridge/delve/dlv_server.h"
#include "bridge/guard/node_guard.h"
#include "bridge/inspect/source_paths.h"
#include "bridge/node/node.h"
#include "bridge/targets/target.h"
#include "bridge/util/signal.h"

namespace kdap::session {

// Leader-electing components (kube-scheduler, kube-controller-manager, cloud-controller-manager): with
// `enabled`, adds --leader-elect=false to plan.args; returns what to tell the user either way.
std::vector<std::string> apply_debug_safe_flags(targets::LaunchPlan& plan, bool enabled);

class BringUp {
 public:
  using Say = std::function<void(const std::string&)>;
  // `step` tells progress ("parking …"), `note` a line worth keeping in the console (the plan's summary).
  BringUp(boost::asio::any_io_executor ex, config::LaunchConfig config, Say step, Say note);
  ~BringUp();

  // Throws with a message that names the fix; whatever was changed is undone by tear_down().
  boost::asio::awaitable<void> start();
  // Relays the debuggee's output until dlv exits. Run it detached once start() succeeded.
  boost::asio::awaitable<void> watch_output(delve::DlvServer::OutputSink sink);
  // Completes when dlv has exited (or its channel is gone).
  boost::asio::awaitable<void> wait_dlv_gone();
  // Stops dlv and the debuggee and restores the component. Returns what went wrong; empty when all is well.
  boost::asio::awaitable<std::string> tear_down();

  const config::LaunchConfig& config() const { return config_; }
  node::Node& node() { return *node_; }
  delve::DlvServer& dlv() { return *dlv_; }
  bool dlv_gone() const { return dlv_gone_; }
  // Called when dlv's output ends (dlv exited or its channel closed).
  void on_dlv_gone(std::function<void()> callback) { on_dlv_gone_ = std::move(callback); }
  int dlv_exit_status() const { return dlv_exit_status_; }
  bool tearing_down() const { return tearing_down_; }
  // dlv attached to a running process (pid/, process/): ending the session detaches unless asked to kill.
  bool attached() const { return attached_; }
  // The automatic substitutePath (empty when the launch gave one, or none is needed or known).
  const std::vector<inspect::PathMapping>& substitute_path() const { return substitute_path_; }

 private:
  // uploadProgram / uploadDlv: copies them into the session directory (or <stateDir>/uploads with keepUpload)
  // and points program / dlvPath at the copies.
  boost::asio::awaitable<void> upload_files();
  boost::asio::awaitable<void> map_source_paths(targets::LaunchPlan plan, inspect::GoBuildInfo go);

  boost::asio::any_io_executor ex_;
  config::LaunchConfig config_;
  Say step_, note_;
  std::unique_ptr<node::Node> node_;
  std::unique_ptr<targets::Target> target_;
  std::shared_ptr<delve::DlvServer> dlv_;
  std::shared_ptr<guard::NodeGuard> guard_;
  Signal dlv_down_;
  bool dlv_gone_ = true;
  std::function<void()> on_dlv_gone_;
  bool tearing_down_ = false;
  bool attached_ = false;
  std::vector<inspect::PathMapping> substitute_path_;
  int dlv_exit_status_ = -1;
};

}  // namespace kdap::session
