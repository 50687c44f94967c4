#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>

#include "dap/byte_stream.h"

namespace kdap::dap {

// A ByteStream over any Asio stream: asio::ip::tcp::socket, asio::posix::stream_descriptor, ...
template <class AsyncStream>
class AsioByteStream final : public ByteStream {
 public:
  explicit AsioByteStream(AsyncStream s) : stream_(std::move(s)) {
    if constexpr (kIsTcp) {
      if (stream_.is_open()) {
        // DAP is a ping-pong of small messages; Nagle's algorithm would hold each one back for an ACK.
        boost::system::error_code ignored;
        stream_.set_option(asio::ip::tcp::no_delay(true), ignored);
      }
    }
  }

  AsyncStream& stream() { return stream_; }

  asio::awaitable<std::size_t> read_some(std::span<char> buffer) override {
    // EOF is sticky: Asio's edge-triggered reactor would wait forever for readiness on a socket that already
    // reported EOF, so a second read must not reach the socket.
    if (eof_ || !stream_.is_open()) co_return 0;
    const auto [ec, n] = co_await stream_.async_read_some(asio::buffer(buffer.data(), buffer.size()),
                                                          asio::as_tuple(asio::use_awaitable));
    if (n > 0) co_return n;
    if (ec == asio::error::eof) eof_ = true;
    // A peer hanging up and our own close() are both ordinary ends of a session, not failures.
    if (!ec || ec == asio::error::eof || ec == asio::error::operation_aborted) co_return 0;
    throw boost::system::system_error(ec);
  }

  asio::awaitable<void> write_all(std::string_view data) override {
    co_await asio::async_write(stream_, asio::buffer(data.data(), data.size()), asio::use_awaitable);
  }

  asio::awaitable<void> write_gather(std::span<const std::string_view> parts) override {
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(parts.size());
    for (const std::string_view part : parts) buffers.emplace_back(part.data(), part.size());
    co_await asio::async_write(stream_, buffers, asio::use_awaitable);
  }

  void close() override {
    if (!stream_.is_open()) return;
    boost::system::error_code ignored;
    stream_.cancel(ignored);
    stream_.close(ignored);
  }

 private:
  static constexpr bool kIsTcp = [] {
    if constexpr (requires { typename AsyncStream::protocol_type; }) {
      return std::is_same_v<typename AsyncStream::protocol_type, asio::ip::tcp>;
    } else {
      return false;
    }
  }();

  AsyncStream stream_;
  bool eof_ = false;
};

using TcpByteStream = AsioByteStream<asio::ip::tcp::socket>;
using DescriptorByteStream = AsioByteStream<asio::posix::stream_descriptor>;

extern template class AsioByteStream<asio::ip::tcp::socket>;
extern template class AsioByteStream<asio::posix::stream_descriptor>;

// Streams over (close-on-exec) duplicates of fd 0 / fd 1, so closing them never frees the numbers 0 and 1 for
// an unrelated open() to reuse. Asio switches the shared file description to non-blocking mode: once these
// exist, nothing else may read stdin or write stdout (log to stderr). Writing to a closed pipe raises
// SIGPIPE: the process should ignore it so the write fails with EPIPE instead. Throws
// boost::system::system_error on failure.
std::unique_ptr<ByteStream> make_stdin_stream(const asio::any_io_executor& executor);
std::unique_ptr<ByteStream> make_stdout_stream(const asio::any_io_executor& executor);

}  // namespace kdap::dap
