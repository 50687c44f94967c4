#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include <boost/asio/awaitable.hpp>

namespace kdap::dap {

namespace asio = boost::asio;

// A bidirectional byte transport (stdio, TCP, an SSH channel, an in-memory pipe in tests). Operations must be
// started from the transport's executor; at most one read and one write may be outstanding at a time.
class ByteStream {
 public:
  virtual ~ByteStream() = default;

  // Reads at least one byte into a non-empty `buffer`. 0 means EOF (or the stream was closed); throws
  // boost::system::system_error on any other error.
  virtual asio::awaitable<std::size_t> read_some(std::span<char> buffer) = 0;
  // Writes all of `data`; throws boost::system::system_error on error.
  virtual asio::awaitable<void> write_all(std::string_view data) = 0;
  // Writes all parts in order. Transports that can gather (writev) override this so a large body never has to
  // be concatenated with its header; the default writes the parts one by one.
  virtual asio::awaitable<void> write_gather(std::span<const std::string_view> parts);
  // Idempotent; pending operations complete (reads with 0, writes with operation_aborted).
  virtual void close() = 0;
};

}  // namespace kdap::dap
