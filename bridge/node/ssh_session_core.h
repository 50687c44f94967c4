#pragma once
// One libssh session driven by Asio. libssh is not thread-safe per session, so the session and all of its
// channels live on one strand. libssh runs non-blocking: when it would block, kdap waits for the session's
// socket through Asio and calls libssh again; it never sleeps and never polls on a timer.
//
// Wake-ups: a single driver coroutine waits for the socket to become readable and lets libssh process what
// arrived; channel callbacks move data into kdap-owned buffers and wake that channel's waiters only (a
// session carries dlv's tunnel, dlv's output, the guard and the command shell: waking all of them for each
// packet is wasted work on the relay's path). Coroutines waiting for the session itself (an open
// confirmation, a request's reply, window space, none of which calls a channel callback) are woken when
// libssh's receive counter moves. Either way a libssh call made by one waiter that happens to process another
// channel's packets never loses a wake-up.

#include <libssh/libssh.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "bridge/node/ssh_handles.h"

namespace kdap::node {

namespace asio = boost::asio;

class SshSessionCore : public std::enable_shared_from_this<SshSessionCore> {
 public:
  using Strand = asio::strand<asio::any_io_executor>;
  SshSessionCore(asio::any_io_executor ex, SshSessionPtr session, int fd, std::string describe);
  ~SshSessionCore();

  const Strand& strand() const { return strand_; }
  // True on the thread that runs the event loop (the one that started the driver), where, with kdap's
  // single-threaded loop, the strand's exclusion holds without going through the strand.
  bool on_loop_thread() const { return std::this_thread::get_id() == loop_thread_; }
  ssh_session session() const { return session_.get(); }
  const std::string& name() const { return name_; }

  // Handshake phase (before start_driver): waits until the socket is ready for what libssh wants next.
  asio::awaitable<void> wait_socket();
  // After authentication: hands the session to the driver.
  void start_driver();

  // To be called after every libssh call on this session.
  void settle();
  void mark_progress() { progress_ = true; }
  // Completes when something may have changed; throws NodeError once the connection is gone.
  asio::awaitable<void> wait_progress();
  void throw_if_dead() const;
  bool dead() const { return dead_; }

  // A channel's own wake-up timer, cancelled as well when the connection dies or is shut down.
  void attach_waiter(asio::steady_timer& timer) { channel_waiters_.push_back(&timer); }
  void detach_waiter(asio::steady_timer& timer) { std::erase(channel_waiters_, &timer); }

  void shutdown();
  // Something that lives exactly as long as the connection, as the ProxyCommand it runs over.
  void keep_until_closed(std::shared_ptr<void> companion) { companion_ = std::move(companion); }

 private:
  std::size_t readable_bytes();  // bytes waiting in the socket's receive queue
  // Both hold the core alive from the moment they are created, not only once they first run.
  asio::awaitable<void> drive(std::shared_ptr<SshSessionCore> keep_alive);
  asio::awaitable<void> flush(std::shared_ptr<SshSessionCore> keep_alive);
  void die(std::string reason);
  void wake_everyone();

  Strand strand_;
  std::shared_ptr<void> companion_;  // destroyed after the session, which closes the descriptor it runs over
  SshSessionPtr session_;
  SshEventPtr event_;
  asio::posix::stream_descriptor socket_;
  asio::steady_timer signal_;
  std::vector<asio::steady_timer*> channel_waiters_;
  ssh_counter_struct received_{};
  ssh_counter_struct sent_{};
  std::uint64_t seen_packets_ = 0;
  bool progress_ = false;
  bool flushing_ = false;
  bool dead_ = false;
  bool stopped_ = false;
  std::string death_reason_;
  std::string name_;
  std::thread::id loop_thread_;
};

}  // namespace kdap::node
