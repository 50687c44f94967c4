#pragma once
// The node is this machine: used when the launch configuration names no host.

#include <optional>

#include "bridge/node/node.h"

namespace kdap::node {

class LocalNode final : public Node {
 public:
  explicit LocalNode(asio::any_io_executor ex);
  asio::any_io_executor executor() const override { return ex_; }
  std::string describe() const override { return "this machine"; }
  asio::awaitable<CommandResult> run(std::string command, Duration timeout, std::string input) override;
  asio::awaitable<std::unique_ptr<RemoteProcess>> start(std::string command, bool keep_stdin) override;
  asio::awaitable<std::unique_ptr<dap::ByteStream>> open_tunnel(std::uint16_t port) override;
  void close() override {}

 private:
  asio::any_io_executor ex_;
};

// Runs `command` here on an event loop of its own and waits for it: for threads off kdap's loop. nullopt when
// it could not start or did not finish within `timeout`.
std::optional<CommandResult> run_here_and_wait(std::string command, Duration timeout);

}  // namespace kdap::node
