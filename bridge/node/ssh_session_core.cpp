#include "bridge/node/ssh_session_core.h"

#include <spdlog/spdlog.h>

#include <sys/ioctl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "bridge/node/node.h"

namespace kdap::node {
namespace {
constexpr int kMaxPollsPerWakeup = 256;  // 1 MiB at libssh's 4 KiB per read; then others get the strand
}

SshSessionCore::SshSessionCore(asio::any_io_executor ex, SshSessionPtr session, int fd, std::string describe)
    : strand_(asio::make_strand(ex)),
      session_(std::move(session)),
      socket_(strand_, fd),
      signal_(strand_, asio::steady_timer::time_point::max()),
      name_(std::move(describe)) {
  ssh_set_counters(session_.get(), &sent_, &received_);
}

SshSessionCore::~SshSessionCore() {
  // libssh owns the descriptor (it closes it in ssh_disconnect); Asio must only forget it.
  socket_.release();
  event_.reset();
}

std::size_t SshSessionCore::readable_bytes() {
  int n = 0;
  if (::ioctl(socket_.native_handle(), FIONREAD, &n) != 0) return 0;
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

asio::awaitable<void> SshSessionCore::wait_socket() {
  using namespace asio::experimental::awaitable_operators;
  int flags = ssh_get_poll_flags(session_.get());
  boost::system::error_code ec;
  if (flags & SSH_WRITE_PENDING) {
    co_await socket_.async_wait(asio::posix::descriptor_base::wait_write,
                                asio::redirect_error(asio::use_awaitable, ec));
  } else {
    co_await socket_.async_wait(asio::posix::descriptor_base::wait_read,
                                asio::redirect_error(asio::use_awaitable, ec));
  }
  if (ec) throw NodeError("SSH connection to " + name_ + ": " + ec.message());
}

void SshSessionCore::start_driver() {
  event_.reset(ssh_event_new());
  if (!event_ || ssh_event_add_session(event_.get(), session_.get()) != SSH_OK) {
    throw NodeError("SSH connection to " + name_ + ": cannot set up libssh's event loop");
  }
  seen_packets_ = received_.in_packets;
  loop_thread_ = std::this_thread::get_id();
  asio::co_spawn(strand_, drive(shared_from_this()), asio::detached);
}

asio::awaitable<void> SshSessionCore::drive(std::shared_ptr<SshSessionCore> /*keep_alive*/) {
  while (!dead_ && !stopped_) {
    boost::system::error_code ec;
    co_await socket_.async_wait(asio::posix::descriptor_base::wait_read,
                                asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_) break;
    if (ec) {
      die(ec.message());
      break;
    }
    // libssh reads at most 4 KiB per poll: drain what the socket holds before waiting on Asio again, so a
    // megabyte answer costs tens of wake-ups instead of hundreds.
    int polled = ssh_event_dopoll(event_.get(), 0);
    for (int more = 0; more < kMaxPollsPerWakeup && polled != SSH_ERROR && readable_bytes() > 0; ++more) {
      polled = ssh_event_dopoll(event_.get(), 0);
    }
    spdlog::trace("ssh {}: readable, dopoll={}, packets in={}", name_, polled, received_.in_packets);
    if (polled == SSH_ERROR || !ssh_is_connected(session_.get())) {
      const char* why = ssh_get_error(session_.get());
      die(why && *why ? why : "the server closed the connection");
      break;
    }
    settle();
  }
}

asio::awaitable<void> SshSessionCore::flush(std::shared_ptr<SshSessionCore> /*keep_alive*/) {
  while (!dead_ && !stopped_ && (ssh_get_poll_flags(session_.get()) & SSH_WRITE_PENDING)) {
    boost::system::error_code ec;
    co_await socket_.async_wait(asio::posix::descriptor_base::wait_write,
                                asio::redirect_error(asio::use_awaitable, ec));
    if (ec || stopped_) break;
    int polled = ssh_event_dopoll(event_.get(), 0);
    spdlog::trace("ssh {}: writable, dopoll={}, flags={}", name_, polled, ssh_get_poll_flags(session_.get()));
    if (polled == SSH_ERROR) {
      die(ssh_get_error(session_.get()));
      break;
    }
    if (received_.in_packets != seen_packets_ || progress_) {
      seen_packets_ = received_.in_packets;
      progress_ = false;
      signal_.cancel();
    }
  }
  flushing_ = false;
}

void SshSessionCore::settle() {
  spdlog::trace("ssh {}: settle packets in={} seen={} progress={} flags={}", name_, received_.in_packets,
                seen_packets_, progress_, ssh_get_poll_flags(session_.get()));
  if (received_.in_packets != seen_packets_ || progress_) {
    seen_packets_ = received_.in_packets;
    progress_ = false;
    signal_.cancel();
  }
  if (event_ && !flushing_ && !dead_ && (ssh_get_poll_flags(session_.get()) & SSH_WRITE_PENDING)) {
    flushing_ = true;
    spdlog::trace("ssh {}: flushing", name_);
    asio::co_spawn(strand_, flush(shared_from_this()), asio::detached);
  }
}

asio::awaitable<void> SshSessionCore::wait_progress() {
  throw_if_dead();
  boost::system::error_code ec;
  co_await signal_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  throw_if_dead();
}

void SshSessionCore::throw_if_dead() const {
  if (dead_) throw NodeError("SSH connection to " + name_ + " was lost: " + death_reason_);
  if (stopped_) throw NodeError("SSH connection to " + name_ + " was closed");
}

void SshSessionCore::die(std::string reason) {
  if (dead_) return;
  dead_ = true;
  death_reason_ = std::move(reason);
  spdlog::warn("ssh {}: connection lost: {}", name_, death_reason_);
  wake_everyone();
}

void SshSessionCore::wake_everyone() {
  signal_.cancel();
  for (auto* timer : channel_waiters_) timer->cancel();
}

void SshSessionCore::shutdown() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ec;
  socket_.cancel(ec);
  wake_everyone();
}

}  // namespace kdap::node
