#pragma once
// The node-side guard: if kdap, the editor or the connection dies while a component is parked, the node puts
// itself back. Before kdap changes anything it writes, on the node, a session directory that is at once:
//   - the lock: one debug session per component per node (mkdir is atomic); `holder` names who has it;
//   - the journal: `restore.sh`, a plain POSIX script that stops dlv and undoes exactly what was changed;
//   - the dead-man switch: `guard.sh`, started in its own session (so an SSH hang-up does not reach it),
//     reading kdap's heartbeats on its stdin. EOF (kdap, its connection or sshd gone) or silence longer than
//     the keepalive (the editor's machine asleep) runs restore.sh; "disarm" (a clean end) exits quietly.
// `kdap restore` replays a session directory whose guard is gone; `kdap status` lists them.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "bridge/node/node.h"

namespace kdap::guard {

namespace asio = boost::asio;

struct SessionInfo {
  std::string key;     // e.g. static-pod_kube-scheduler
  std::string dir;     // <stateDir>/sessions/<key>
  std::string target;  // as the launch configuration wrote it
  std::string holder;  // user@host pid N
  std::string since;   // ISO 8601, UTC
  int guard_pid = 0;
  bool guard_alive = false;
  int dlv_pid = 0;
  bool dlv_alive = false;
};

class GuardError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class NodeGuard : public std::enable_shared_from_this<NodeGuard> {
 public:
  NodeGuard(node::Node& node, std::string state_dir, std::string target);
  ~NodeGuard();

  // Takes the lock: a live holder → GuardError naming it; a stale session is replayed first. Before anything
  // else, so that a second session never even reads what the first one changed.
  asio::awaitable<void> lock();
  // Writes the journal with `undo` (shell lines that put the component back) and starts the guard.
  asio::awaitable<void> arm(std::string undo, std::chrono::seconds keepalive);
  // Lets the guard stop dlv too, and what dlv launched ("PID:START" entries, see DlvServer::launched).
  asio::awaitable<void> record_dlv(int pid, std::vector<std::string> launched);
  // Keeps the guard quiet while kdap is alive; run detached after arm().
  asio::awaitable<void> heartbeat();
  // A clean end: the guard exits without touching anything and the session directory (lock, journal) goes.
  asio::awaitable<void> disarm();
  bool armed() const { return armed_; }
  // The session directory on the node: removed with the session, whoever ends it.
  const std::string& dir() const { return dir_; }

  static std::string key_for(const std::string& target);

 private:
  node::Node& node_;
  std::string state_dir_;
  std::string target_;
  std::string key_;
  std::string dir_;
  std::unique_ptr<node::RemoteProcess> guard_;
  std::chrono::seconds keepalive_{30};
  bool armed_ = false;
  bool locked_ = false;
};

// Every session directory under <stateDir>/sessions on the node.
asio::awaitable<std::vector<SessionInfo>> list_sessions(node::Node& node, std::string state_dir);
// Runs restore.sh of a session whose guard is gone. Returns restore.sh's output; throws GuardError on
// failure.
asio::awaitable<std::string> replay(node::Node& node, SessionInfo session);

}  // namespace kdap::guard
