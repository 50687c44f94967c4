#pragma once
// One long-lived /bin/sh on the node that runs kdap's short commands one after another. A command in a
// channel of its own pays a channel round trip, sshd's fork and the user's login shell with its rc files
// (130–150 ms on a node whose ~/.bashrc does real work, such as `pyenv init`); through this shell it costs
// one round trip and a fork. The login shell still starts once, so commands see the environment (PATH) it
// sets up, and each command runs in a subshell with stdin from /dev/null, so nothing one command does (cd,
// exit, variables) reaches the next.

#include <cstdint>
#include <memory>
#include <string>

#include "bridge/node/node.h"
#include "bridge/node/ssh_channel.h"

namespace kdap::node {

// The shell could not be started: the command was not sent, and may run in a channel of its own instead.
class ShellUnavailable : public NodeError {
 public:
  using NodeError::NodeError;
};

class CommandShell {
 public:
  explicit CommandShell(std::shared_ptr<SshSessionCore> core);
  // False while a command runs (or was abandoned by a timeout): the caller then uses a channel of its own.
  bool available() const { return !busy_ && failures_ < kMaxFailures; }
  // Whether `input` can reach a command as a here-document: text without NUL bytes that ends with a newline.
  static bool can_pass(const std::string& input);
  // Must run on the core's strand. Throws ShellUnavailable when the shell cannot start, NodeError when it
  // broke after the command was sent (its outcome is unknown). The next call starts a new shell; after
  // kMaxFailures in a row, available() stays false and callers keep to channels of their own. A command
  // abandoned after it was sent (its timeout, a cancellation) does not run on: the old shell and everything
  // under it are ended on the node, from a channel of their own, while the caller goes on.
  asio::awaitable<CommandResult> run(std::string command, std::string input = {});

 private:
  static constexpr int kMaxFailures = 2;
  asio::awaitable<void> start();
  // Reads the stream until `needle` and the rest of its line have arrived; returns all it read.
  asio::awaitable<std::string> read_until(bool stderr_stream, std::string needle);

  std::shared_ptr<SshSessionCore> core_;
  std::unique_ptr<SshChannel> channel_;
  std::string token_;  // random per shell, so that no command's output can end another's
  std::string
      identity_;  // the shell's "PID:START" on the node, to end what an abandoned command left running
  std::uint64_t count_ = 0;
  bool busy_ = false;
  int failures_ = 0;
};

}  // namespace kdap::node
