#include "dap/message_stream.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

namespace kdap::dap {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

}  // namespace

MessageReader::MessageReader(ByteStream& s, std::size_t max_body)
    : stream_(s), parser_(max_body), buffer_(kReadChunk) {}

asio::awaitable<std::optional<std::string>> MessageReader::read() {
  for (;;) {
    if (auto body = parser_.next()) co_return body;
    const std::size_t n = co_await stream_.read_some(buffer_);
    if (n == 0) {
      if (parser_.buffered() > 0) {
        throw FramingError("DAP stream ended inside a message (" + std::to_string(parser_.buffered()) +
                           " bytes of an incomplete message)");
      }
      co_return std::nullopt;
    }
    parser_.feed(std::string_view(buffer_.data(), n));
  }
}

namespace detail {

struct MessageWriterState {
  MessageWriterState(ByteStream& s, const asio::any_io_executor& ex) : stream(s), executor(ex), changed(ex) {
    changed.expires_at(std::chrono::steady_clock::time_point::max());
  }

  struct Frame {
    std::string header;
    std::string body;
    std::size_t size() const { return header.size() + body.size(); }
  };

  // Used like a condition variable: cancel() wakes every coroutine waiting on it; the expiry never changes.
  void notify() { changed.cancel(); }

  ByteStream& stream;
  asio::any_io_executor executor;
  std::deque<Frame> queue;
  std::size_t queued_bytes = 0;  // includes the frame being written
  std::uint64_t enqueued = 0;    // frames accepted so far
  std::uint64_t finished = 0;    // frames written so far
  bool writing = false;          // the writer coroutine is spawned
  bool failed = false;
  bool closed = false;
  asio::steady_timer changed;
};

}  // namespace detail

namespace {

using State = detail::MessageWriterState;

asio::awaitable<void> write_loop(std::shared_ptr<State> st) {
  while (!st->queue.empty() && !st->closed && !st->failed) {
    State::Frame frame = std::move(st->queue.front());
    st->queue.pop_front();
    const std::array<std::string_view, 2> parts{frame.header, frame.body};
    std::optional<std::string> error;
    try {
      co_await st->stream.write_gather(parts);
    } catch (const boost::system::system_error& e) {
      error = e.code().message();
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (st->closed) break;  // close() already dropped the queue and its accounting
    if (error) {
      spdlog::warn("dap: writing a message failed, dropping {} queued: {}", st->queue.size(), *error);
      st->failed = true;
      st->queue.clear();
      st->queued_bytes = 0;
      break;
    }
    st->queued_bytes -= frame.size();
    ++st->finished;
    st->notify();
  }
  st->writing = false;
  st->notify();
}

void enqueue(const std::shared_ptr<State>& st, std::string body) {
  if (st->closed || st->failed) {
    spdlog::debug("dap: discarding a message for a {} writer", st->closed ? "closed" : "failed");
    return;
  }
  State::Frame frame{frame_header(body.size()), std::move(body)};
  st->queued_bytes += frame.size();
  ++st->enqueued;
  st->queue.push_back(std::move(frame));
  if (!st->writing) {
    st->writing = true;
    asio::co_spawn(st->executor, write_loop(st), asio::detached);
  }
}

asio::awaitable<void> wait_for_change(State& st) {
  // Each co_await is its own statement on purpose: g++ 12 miscompiles a co_await inside an `if` condition
  // (the coroutine is later resumed at an invalid suspend point).
  const auto [ec] = co_await st.changed.async_wait(asio::as_tuple(asio::use_awaitable));
  (void)ec;
  // notify() and a cancellation of the waiting coroutine both complete the wait with operation_aborted; only
  // the latter must end the caller's loop.
  const asio::cancellation_state cancellation = co_await asio::this_coro::cancellation_state;
  if (cancellation.cancelled() != asio::cancellation_type::none) {
    throw boost::system::system_error(asio::error::operation_aborted);
  }
}

bool stopped(const State& st) {
  return st.closed || st.failed;
}

asio::awaitable<void> wait_for_room(std::shared_ptr<State> st) {
  while (st->queued_bytes > MessageWriter::kMaxQueuedBytes && !stopped(*st)) co_await wait_for_change(*st);
}

asio::awaitable<void> wait_until_written(std::shared_ptr<State> st, std::uint64_t target) {
  while (st->finished < target && !stopped(*st)) co_await wait_for_change(*st);
}

}  // namespace

MessageWriter::MessageWriter(ByteStream& s, asio::any_io_executor ex)
    : state_(std::make_shared<detail::MessageWriterState>(s, ex)) {}

MessageWriter::~MessageWriter() {
  close();
}

void MessageWriter::post(std::string body) {
  enqueue(state_, std::move(body));
}

asio::awaitable<void> MessageWriter::send(std::string body) {
  enqueue(state_, std::move(body));
  return wait_for_room(state_);
}

asio::awaitable<void> MessageWriter::drain() {
  return wait_until_written(state_, state_->enqueued);
}

bool MessageWriter::failed() const {
  return state_->failed;
}

std::size_t MessageWriter::queued_bytes() const {
  return state_->queued_bytes;
}

void MessageWriter::close() {
  State& st = *state_;
  if (st.closed) return;
  st.closed = true;
  st.queue.clear();
  st.queued_bytes = 0;
  st.notify();
}

}  // namespace kdap::dap
