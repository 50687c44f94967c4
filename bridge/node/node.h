#pragma once
// A node is the machine that runs the component: reached over SSH (SshNode) or this machine (LocalNode).
// Targets, delve and the guard speak only to this interface, so every recipe works the same on both.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "dap/byte_stream.h"

namespace kdap::node {

namespace asio = boost::asio;
using Duration = std::chrono::steady_clock::duration;

struct CommandResult {
  int exit_status = -1;  // -1 when the command was killed by a signal or the status is unknown
  std::string out;
  std::string err;
  bool ok() const { return exit_status == 0; }
};

// A command that keeps running while kdap reads its output (dlv).
class RemoteProcess {
 public:
  virtual ~RemoteProcess() = default;
  // Reads some bytes of stdout (stderr == false) or stderr; 0 at end of that stream.
  virtual asio::awaitable<std::size_t> read_some(bool stderr_stream, std::span<char> buffer) = 0;
  // Waits until the process has ended and returns its exit status (-1 if unknown or killed).
  virtual asio::awaitable<int> wait() = 0;
  // Writes to the process's stdin (only for processes started with keep_stdin).
  virtual asio::awaitable<void> write(std::string data) = 0;
  // Drops the connection to the process without waiting; the process itself is stopped through run().
  virtual void close() = 0;
};

class Node {
 public:
  virtual ~Node() = default;
  virtual asio::any_io_executor executor() const = 0;
  // A name for messages: "root@node-1:22" or "this machine".
  virtual std::string describe() const = 0;
  // Runs `command` through /bin/sh -c on the node. `input` becomes its stdin. Throws NodeError on transport
  // failures and on timeout (the command is abandoned, not awaited).
  virtual asio::awaitable<CommandResult> run(std::string command, Duration timeout,
                                             std::string input = {}) = 0;
  // Starts a long-running command through /bin/sh -c. Its stdin is closed unless `keep_stdin`: then it stays
  // open for write() until the process object goes away — which is how the node guard notices kdap is gone.
  virtual asio::awaitable<std::unique_ptr<RemoteProcess>> start(std::string command,
                                                                bool keep_stdin = false) = 0;
  // A hint that `count` start() calls will follow soon: a node that can prepare for them (SSH: start the
  // login shells they need ahead of time) does so in the background.
  virtual void prepare_processes(int /*count*/) {}
  // A byte stream to 127.0.0.1:port as seen from the node.
  virtual asio::awaitable<std::unique_ptr<dap::ByteStream>> open_tunnel(std::uint16_t port) = 0;
  // Closes every channel; later calls fail.
  virtual void close() = 0;
};

class NodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace kdap::node
