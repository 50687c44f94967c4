#pragma once
// One SSH channel (an exec'd command or a direct-tcpip tunnel). libssh pushes incoming data into this object
// through callbacks; readers take it from here and never call libssh to read, which keeps every wake-up in
// SshSessionCore's hands.

#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include <memory>
#include <optional>
#include <span>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bridge/node/ssh_session_core.h"

namespace kdap::node {

class SshChannel {
 public:
  explicit SshChannel(std::shared_ptr<SshSessionCore> core);
  ~SshChannel();
  SshChannel(const SshChannel&) = delete;
  SshChannel& operator=(const SshChannel&) = delete;

  // Must run on the core's strand.
  asio::awaitable<void> open_exec(std::string command);
  asio::awaitable<void> open_forward(std::string host, std::uint16_t port);
  asio::awaitable<std::size_t> read_some(bool stderr_stream, std::span<char> buffer);
  asio::awaitable<void> write_all(std::string_view data);
  void send_eof();
  // Waits until the remote side has closed the channel, or the command exited and its output ended.
  asio::awaitable<int> wait_exit();
  void close();

  const std::shared_ptr<SshSessionCore>& core() const { return core_; }

 private:
  static int on_data(ssh_session, ssh_channel, void* data, uint32_t len, int is_stderr, void* self);
  static void on_eof(ssh_session, ssh_channel, void* self);
  static void on_close(ssh_session, ssh_channel, void* self);
  static void on_exit_status(ssh_session, ssh_channel, int status, void* self);
  static int on_write_possible(ssh_session, ssh_channel, uint32_t bytes, void* self);
  std::string error_text(std::string_view what) const;
  // Until this channel's callbacks fired or the connection ended; throws NodeError once it is gone.
  asio::awaitable<void> wait_change();
  void wake() { wake_.cancel(); }

  std::shared_ptr<SshSessionCore> core_;
  asio::steady_timer wake_;
  ssh_channel channel_ = nullptr;
  ssh_channel_callbacks_struct callbacks_{};
  std::string out_, err_;
  std::size_t out_pos_ = 0, err_pos_ = 0;
  bool eof_ = false;
  bool closed_ = false;
  std::optional<int> exit_status_;
};

}  // namespace kdap::node
