#pragma once
// A target is one kind of component (static pod, systemd unit, DaemonSet, process, plain exec). It knows how
// to read what the component runs, take it out of service and put it back exactly; it knows nothing of DAP.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "bridge/config/launch_config.h"
#include "bridge/node/node.h"

namespace kdap::targets {

namespace asio = boost::asio;

// What to run under dlv, read from the component's own definition.
struct LaunchPlan {
  std::string program;  // absolute path on the node
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::optional<std::string> cwd;
  // Set when dlv attaches to this running process instead of starting `program` (args, env, cwd unused).
  std::optional<int> attach_pid;
  std::string summary;                // one line for the editor's console
  std::vector<std::string> warnings;  // things the user should know, said in the console
};

// Reports the steps of a long operation ("waiting for kube-scheduler to stop") to the editor.
using StepReporter = std::function<void(const std::string&)>;

class TargetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Target {
 public:
  virtual ~Target() = default;
  // Reads the component's definition; changes nothing on the node.
  virtual asio::awaitable<LaunchPlan> plan() = 0;
  // Takes the component out of service and waits until its process is gone. When it throws, parked() says
  // whether something was changed that the caller must restore.
  virtual asio::awaitable<void> park(StepReporter report) = 0;
  // Puts the component back exactly as it was and waits until it runs again. Safe to call when not parked.
  virtual asio::awaitable<void> restore(StepReporter report) = 0;
  virtual bool parked() const = 0;
  // Shell lines that put the component back without kdap (the node guard and `kdap restore` run them);
  // they exit non-zero, leaving everything in place, when they cannot restore safely.
  virtual std::string undo_script() const = 0;
};

// Throws TargetError for a kind this node cannot serve. `config.target` must be set (see find_component).
std::unique_ptr<Target> make_target(const config::LaunchConfig& config, node::Node& node);

// A target that leaves nothing to restore (exec, attach): parking is a no-op.
class UnparkedTarget : public Target {
 public:
  asio::awaitable<void> park(StepReporter) override { co_return; }
  asio::awaitable<void> restore(StepReporter) override { co_return; }
  bool parked() const override { return false; }
  std::string undo_script() const override { return ""; }
};

}  // namespace kdap::targets
