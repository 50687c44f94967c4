#pragma once
// A `ProxyCommand` from the SSH configuration (libssh turns a `ProxyJump` into `ssh -W` through the jump
// host, as OpenSSH does): the command runs on this machine with its stdin and stdout on one end of a socket
// pair, and kdap's SSH session runs over the other end. Host key checking and authentication are still
// kdap's, against the node itself; the proxy only carries bytes.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace kdap::node {

struct ProxyTokens {
  std::string host;           // %h: the host name after the SSH configuration
  std::string port;           // %p
  std::string user;           // %r
  std::string original_host;  // %n: the host as the launch configuration names it
};

// The command with OpenSSH's tokens for ProxyCommand replaced (%h %p %r %n %%); any other token is an error,
// as it is for ssh.
std::string expand_proxy_command(std::string_view command, const ProxyTokens& tokens);

class ProxyCommand {
 public:
  // Starts `command` (expanded) with /bin/sh.
  ProxyCommand(const boost::asio::any_io_executor& ex, std::string command);
  ~ProxyCommand();
  ProxyCommand(const ProxyCommand&) = delete;
  ProxyCommand& operator=(const ProxyCommand&) = delete;

  // The SSH session's end of the socket pair; the caller owns it from then on.
  int take_descriptor();
  const std::string& command() const { return command_; }
  // What the command wrote on stderr, waiting up to `limit` for it to end: for an error message once the
  // connection through it failed.
  boost::asio::awaitable<std::string> last_words(std::chrono::milliseconds limit);

  struct State;  // the child and what it wrote on stderr, shared with the coroutine that reads it

 private:
  std::string command_;
  std::shared_ptr<State> state_;
  int descriptor_ = -1;
};

}  // namespace kdap::node
