#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/system/system_error.hpp>

#include "dap/asio_byte_stream.h"

namespace kdap::dap::testing {

// Two connected ends: bytes written to `a` are read from `b` (for TCP the reverse works too).
struct StreamPair {
  std::unique_ptr<ByteStream> a;
  std::unique_ptr<ByteStream> b;
};

inline StreamPair make_tcp_pair(asio::io_context& io) {
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
  asio::ip::tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  asio::ip::tcp::socket server = acceptor.accept();
  return {std::make_unique<TcpByteStream>(std::move(client)),
          std::make_unique<TcpByteStream>(std::move(server))};
}

inline StreamPair make_pipe_pair(asio::io_context& io) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  return {std::make_unique<DescriptorByteStream>(asio::posix::stream_descriptor(io, fds[1])),
          std::make_unique<DescriptorByteStream>(asio::posix::stream_descriptor(io, fds[0]))};
}

inline StreamPair make_pair(const std::string& kind, asio::io_context& io) {
  return kind == "tcp" ? make_tcp_pair(io) : make_pipe_pair(io);
}

// Runs `task` to completion on `io` (with a deadline so a bug hangs no CI job) and rethrows its exception.
// Work still pending afterwards (a read nobody awaits any more) is abandoned with the io_context.
template <class Awaitable>
void run(asio::io_context& io, Awaitable task, std::chrono::seconds deadline = std::chrono::seconds(30)) {
  bool done = false;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e) {
    done = true;
    error = e;
    io.stop();
  });
  io.restart();
  io.run_for(deadline);
  if (!done) throw std::runtime_error("test coroutine did not finish before the deadline");
  if (error) std::rethrow_exception(error);
}

}  // namespace kdap::dap::testing
