#include "bridge/node/ssh_channel.h"

#include <algorithm>
#include <cstring>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "bridge/node/node.h"

namespace kdap::node {

SshChannel::SshChannel(std::shared_ptr<SshSessionCore> core)
    : core_(std::move(core)), wake_(core_->strand(), asio::steady_timer::time_point::max()) {
  core_->throw_if_dead();
  channel_ = ssh_channel_new(core_->session());
  if (!channel_) throw NodeError(error_text("cannot create a channel"));
  ssh_callbacks_init(&callbacks_);
  callbacks_.userdata = this;
  callbacks_.channel_data_function = &SshChannel::on_data;
  callbacks_.channel_eof_function = &SshChannel::on_eof;
  callbacks_.channel_close_function = &SshChannel::on_close;
  callbacks_.channel_exit_status_function = &SshChannel::on_exit_status;
  callbacks_.channel_write_wontblock_function = &SshChannel::on_write_possible;
  ssh_set_channel_callbacks(channel_, &callbacks_);
  core_->attach_waiter(wake_);
}

SshChannel::~SshChannel() {
  close();
  core_->detach_waiter(wake_);
}

asio::awaitable<void> SshChannel::wait_change() {
  core_->throw_if_dead();
  boost::system::error_code ec;
  co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  core_->throw_if_dead();
}

void SshChannel::close() {
  if (!channel_) return;
  ssh_remove_channel_callbacks(channel_, &callbacks_);
  // Only an open channel may be closed: a close for a channel the server never confirmed is a protocol
  // error that makes sshd drop the whole connection, and with it the restore that follows.
  if (!core_->dead() && ssh_channel_is_open(channel_)) ssh_channel_close(channel_);
  ssh_channel_free(channel_);
  channel_ = nullptr;
  closed_ = true;
  wake();  // its own readers end
  core_->mark_progress();
  core_->settle();
}

std::string SshChannel::error_text(std::string_view what) const {
  const char* detail = ssh_get_error(core_->session());
  return "SSH " + core_->name() + ": " + std::string(what) +
         (detail && *detail ? std::string(": ") + detail : "");
}

asio::awaitable<void> SshChannel::open_exec(std::string command) {
  for (;;) {
    int rc = ssh_channel_open_session(channel_);
    core_->settle();
    if (rc == SSH_OK) break;
    if (rc == SSH_ERROR) throw NodeError(error_text("cannot open a session channel"));
    co_await core_->wait_progress();
  }
  for (;;) {
    int rc = ssh_channel_request_exec(channel_, command.c_str());
    core_->settle();
    if (rc == SSH_OK) break;
    if (rc == SSH_ERROR) throw NodeError(error_text("the node refused to run a command"));
    co_await core_->wait_progress();
  }
}

asio::awaitable<void> SshChannel::open_forward(std::string host, std::uint16_t port) {
  for (;;) {
    int rc = ssh_channel_open_forward(channel_, host.c_str(), port, "127.0.0.1", 0);
    core_->settle();
    if (rc == SSH_OK) co_return;
    if (rc == SSH_ERROR) {
      throw NodeError(error_text("cannot open a tunnel to " + host + ":" + std::to_string(port) +
                                 " (is AllowTcpForwarding enabled in the node's sshd_config?)"));
    }
    co_await core_->wait_progress();
  }
}

asio::awaitable<std::size_t> SshChannel::read_some(bool stderr_stream, std::span<char> buffer) {
  std::string& data = stderr_stream ? err_ : out_;
  std::size_t& pos = stderr_stream ? err_pos_ : out_pos_;
  for (;;) {
    if (pos < data.size()) {
      std::size_t n = std::min(buffer.size(), data.size() - pos);
      std::memcpy(buffer.data(), data.data() + pos, n);
      pos += n;
      if (pos == data.size()) {
        data.clear();
        pos = 0;
      }
      co_return n;
    }
    if (eof_ || closed_ || core_->dead()) co_return 0;
    co_await wait_change();
  }
}

asio::awaitable<void> SshChannel::write_all(std::string_view data) {
  while (!data.empty()) {
    if (closed_ || !channel_) throw NodeError("SSH " + core_->name() + ": the channel is closed");
    int n = ssh_channel_write(channel_, data.data(),
                              static_cast<uint32_t>(std::min<std::size_t>(data.size(), 1 << 20)));
    core_->settle();
    if (n < 0) throw NodeError(error_text("write failed"));
    data.remove_prefix(static_cast<std::size_t>(n));
    // Window space comes with a window-adjust packet, which calls no callback of this channel: any packet
    // wakes a blocked writer, which is rare (large uploads) and off the relay's path for small messages.
    if (!data.empty()) co_await core_->wait_progress();
  }
}

void SshChannel::send_eof() {
  if (channel_ && !closed_) {
    ssh_channel_send_eof(channel_);
    core_->settle();
  }
}

asio::awaitable<int> SshChannel::wait_exit() {
  while (!closed_ && !(eof_ && exit_status_)) {
    if (core_->dead()) co_return -1;
    co_await wait_change();
  }
  co_return exit_status_.value_or(-1);
}

int SshChannel::on_data(ssh_session, ssh_channel, void* data, uint32_t len, int is_stderr, void* self) {
  auto* me = static_cast<SshChannel*>(self);
  (is_stderr ? me->err_ : me->out_).append(static_cast<const char*>(data), len);
  me->wake();
  return static_cast<int>(len);
}

void SshChannel::on_eof(ssh_session, ssh_channel, void* self) {
  auto* me = static_cast<SshChannel*>(self);
  me->eof_ = true;
  me->wake();
}

void SshChannel::on_close(ssh_session, ssh_channel, void* self) {
  auto* me = static_cast<SshChannel*>(self);
  me->closed_ = true;
  me->wake();
}

void SshChannel::on_exit_status(ssh_session, ssh_channel, int status, void* self) {
  auto* me = static_cast<SshChannel*>(self);
  me->exit_status_ = status;
  me->wake();
}

int SshChannel::on_write_possible(ssh_session, ssh_channel, uint32_t, void* self) {
  static_cast<SshChannel*>(self)->wake();
  return 0;
}

}  // namespace kdap::node
