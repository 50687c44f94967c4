#pragma once
// The node reached over SSH with libssh: ~/.ssh/config honoured, host key checked against known_hosts,
// public-key authentication from an identity file or ssh-agent, one session for every command and tunnel.

#include <optional>
#include <string>

#include "bridge/node/command_shell.h"
#include "bridge/node/node.h"
#include "bridge/node/ssh_session_core.h"

namespace kdap::node {

struct SshOptions {
  std::string host;                             // [user@]hostname[:port] or a ~/.ssh/config alias
  std::optional<std::string> identity_file;     // else ssh-agent and the config's / default identities
  std::optional<std::string> known_hosts_file;  // default ~/.ssh/known_hosts
  std::optional<std::string> ssh_config_file;   // default ~/.ssh/config
  Duration connect_timeout = std::chrono::seconds(15);
};

class ProxyCommand;

class SshNode final : public Node {
 public:
  // Connects, verifies the host key and authenticates. Throws NodeError with a message that names the fix.
  static asio::awaitable<std::unique_ptr<SshNode>> connect(asio::any_io_executor ex, SshOptions options);
  ~SshNode() override;

  asio::any_io_executor executor() const override { return ex_; }
  std::string describe() const override { return core_->name(); }
  asio::awaitable<CommandResult> run(std::string command, Duration timeout, std::string input) override;
  asio::awaitable<std::unique_ptr<RemoteProcess>> start(std::string command, bool keep_stdin) override;
  void prepare_processes(int count) override;
  asio::awaitable<std::unique_ptr<dap::ByteStream>> open_tunnel(std::uint16_t port) override;
  void close() override;

 private:
  SshNode(asio::any_io_executor ex, std::shared_ptr<SshSessionCore> core);
  // The handshake and authentication over a connected descriptor: a TCP connection, or a ProxyCommand's.
  static asio::awaitable<std::unique_ptr<SshNode>> connect_over(asio::any_io_executor ex,
                                                                SshSessionPtr session, SshOptions options,
                                                                int fd, std::string hostname, unsigned port,
                                                                std::string known_hosts, std::string who);
  static asio::awaitable<std::unique_ptr<SshNode>> connect_over(asio::any_io_executor ex,
                                                                SshSessionPtr session, SshOptions options,
                                                                std::shared_ptr<ProxyCommand> proxy,
                                                                std::string hostname, unsigned port,
                                                                std::string known_hosts, std::string who);
  asio::any_io_executor ex_;
  std::shared_ptr<SshSessionCore> core_;
  std::shared_ptr<CommandShell> shell_;  // used on the core's strand only
  std::shared_ptr<struct SpareChannels> spares_;
};

}  // namespace kdap::node
