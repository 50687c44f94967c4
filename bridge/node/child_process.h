#pragma once
// A child process on this machine with its stdio on pipes, awaited through a pidfd. The child gets a new
// session (so a terminal's Ctrl-C reaches kdap, which then restores, rather than dlv directly) and none of
// kdap's descriptors: in stdio mode kdap's stdin/stdout are the DAP channel and must never leak.

#include <sys/types.h>

#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

namespace kdap::node {

class ChildProcess {
 public:
  // Starts argv[0] (looked up in PATH) with stdin from a pipe when `with_stdin`, else /dev/null.
  ChildProcess(const boost::asio::any_io_executor& ex, const std::vector<std::string>& argv, bool with_stdin);
  // Starts argv[0] with its stdin and stdout on `stdio` (a socket, whose descriptor this takes over and
  // closes in kdap) and its stderr on a pipe; read_some(false, …) then reads nothing.
  ChildProcess(const boost::asio::any_io_executor& ex, const std::vector<std::string>& argv, int stdio);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  boost::asio::awaitable<std::size_t> read_some(bool stderr_stream, std::span<char> buffer);
  boost::asio::awaitable<void> write_stdin_and_close(std::string data);
  // Throws when stdin is closed or the pipe broke.
  boost::asio::awaitable<void> write_stdin(std::string data);
  // Exit status, or -1 when killed by a signal.
  boost::asio::awaitable<int> wait();
  void kill_group(int signal);
  void close_pipes();

 private:
  void watch_exit();
  pid_t pid_ = -1;
  std::optional<int> status_;
  boost::asio::posix::stream_descriptor stdin_, stdout_, stderr_, pidfd_;
};

}  // namespace kdap::node
