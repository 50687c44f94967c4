#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "dap/byte_stream.h"
#include "dap/framing.h"

namespace kdap::dap {

namespace detail {
struct MessageWriterState;
}  // namespace detail

// Reads framed DAP bodies from a ByteStream. One read() at a time.
class MessageReader {
 public:
  explicit MessageReader(ByteStream& s, std::size_t max_body = kDefaultMaxBody);

  // The next body; nullopt at a clean EOF (between messages). Throws FramingError on malformed framing or an
  // EOF in the middle of a message, boost::system::system_error on transport errors.
  asio::awaitable<std::optional<std::string>> read();

 private:
  ByteStream& stream_;
  FrameParser parser_;
  std::vector<char> buffer_;
};

// Writes framed DAP bodies to a ByteStream. Any number of coroutines may send; a single internal writer
// coroutine drains a FIFO queue, so there is one outstanding write and messages hit the wire in the order
// post()/send() were *called* (both enqueue immediately, before the returned awaitable is awaited).
//
// Use from one thread (the executor's, or one strand). Lifetime: the writer may be destroyed at any time
// (that closes it); the detached writer coroutine owns only the shared queue state. The ByteStream must
// outlive the writer and any write still in flight: close the stream first (that completes the write with an
// error), or co_await drain(), or destroy it only once the io_context has stopped.
//
// After a write error the writer is failed(): queued messages are dropped, later ones are discarded, and
// every waiter in send()/drain() is released. The reading side notices the broken transport on its own.
class MessageWriter {
 public:
  // send() waits while more than this is queued: a slow editor must slow the relay down, not grow memory.
  static constexpr std::size_t kMaxQueuedBytes = 8 * 1024 * 1024;

  MessageWriter(ByteStream& s, asio::any_io_executor ex);
  ~MessageWriter();
  MessageWriter(const MessageWriter&) = delete;
  MessageWriter& operator=(const MessageWriter&) = delete;

  // Enqueue without waiting, for small control messages that must not be held back by backpressure.
  void post(std::string body);
  // Enqueue, then wait until no more than kMaxQueuedBytes are queued.
  asio::awaitable<void> send(std::string body);
  // Completes when everything enqueued before the call has been written, or the writer failed or was closed.
  asio::awaitable<void> drain();

  bool failed() const;
  std::size_t queued_bytes() const;
  // Drops queued messages and releases waiters. Idempotent. The write in flight, if any, is left to finish:
  // interrupting a frame midway would corrupt the stream for a reader that is still using it; close the
  // ByteStream to abort it.
  void close();

 private:
  std::shared_ptr<detail::MessageWriterState> state_;
};

}  // namespace kdap::dap
