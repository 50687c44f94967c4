#pragma once
// dlv running headless on the node, on the node's loopback only, reached through a tunnel. Readiness is
// dlv's own "API server listening at:" line: a probe connection would use up a single-client server and
// would race its start.

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bridge/node/node.h"
#include "bridge/targets/target.h"

namespace kdap::delve {

namespace asio = boost::asio;

struct DlvOptions {
  std::string dlv_path = "dlv";
  std::vector<std::string> extra_flags;
};

// The shell command that starts dlv for `plan`; exposed for tests and `kdap up` style printing.
std::string dlv_command(const targets::LaunchPlan& plan, const DlvOptions& options);

class DlvServer {
 public:
  using OutputSink = std::function<void(bool is_stderr, std::string_view text)>;

  // Starts dlv and waits until it listens. Throws DlvError with dlv's own words when it does not.
  static asio::awaitable<std::unique_ptr<DlvServer>> start(node::Node& node, targets::LaunchPlan plan,
                                                           DlvOptions options, node::Duration timeout);
  ~DlvServer();

  std::uint16_t port() const { return port_; }
  int pid() const { return pid_; }
  // What dlv launched, as "PID:START" (pid and start time), once dlv listens; empty when it attached.
  const std::vector<std::string>& launched() const { return launched_; }
  // Relays the debuggee's output (dlv passes it through on its own stdout/stderr in headless mode) until dlv
  // exits; returns dlv's exit status.
  asio::awaitable<int> relay_output(OutputSink sink);
  // The last lines dlv printed, for messages when it dies.
  std::string last_lines() const;
  // Ends dlv and everything it started on the node: SIGTERM, then SIGKILL after `grace`.
  asio::awaitable<void> stop(node::Duration grace);
  bool exited() const { return exited_; }

 private:
  DlvServer(node::Node& node, std::unique_ptr<node::RemoteProcess> process);
  void remember(std::string_view text);
  asio::awaitable<void> wait_listening();

  asio::awaitable<void> note_launched(std::string program);

  node::Node& node_;
  std::unique_ptr<node::RemoteProcess> process_;
  std::uint16_t port_ = 0;
  int pid_ = 0;
  // The processes dlv launched, as "pid:start time" (the start time tells a reused pid apart): a debuggee in
  // a group-stop stays stopped when dlv dies, holding the component's ports, and is no longer dlv's child
  // then.
  std::vector<std::string> launched_;
  std::string pending_stdout_;
  std::deque<std::string> tail_;
  bool exited_ = false;
};

class DlvError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace kdap::delve
