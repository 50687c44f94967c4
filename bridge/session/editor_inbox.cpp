#include "bridge/session/editor_inbox.h"

#include <spdlog/spdlog.h>

#include "dap/envelope.h"

namespace kdap::session {

EditorInbox::EditorInbox(const boost::asio::any_io_executor& ex, dap::ByteStream& in)
    : reader_(in), changed_(ex) {}

boost::asio::awaitable<void> EditorInbox::read_loop() {
  try {
    for (;;) {
      auto message = co_await reader_.read();
      if (!message) break;
      if (closed_) break;
      queue_.push_back(std::move(*message));
      changed_.notify();
    }
    if (!closed_) close_reason_ = "the editor closed the connection";
  } catch (const std::exception& e) {
    if (!closed_) {
      close_reason_ = std::string("the editor's stream is unusable: ") + e.what();
      spdlog::error("{}", close_reason_);
    }
  }
  closed_ = true;
  reader_done_ = true;
  changed_.notify();
}

boost::asio::awaitable<void> EditorInbox::wait_reader_done() {
  while (!reader_done_) co_await changed_.wait();
}

boost::asio::awaitable<std::optional<std::string>> EditorInbox::next() {
  while (queue_.empty()) {
    if (closed_) co_return std::nullopt;
    co_await changed_.wait();
  }
  std::string message = std::move(queue_.front());
  queue_.pop_front();
  co_return message;
}

boost::asio::awaitable<bool> EditorInbox::next_unless_poked(std::optional<std::string>& into) {
  while (queue_.empty()) {
    if (poked_) {
      poked_ = false;
      co_return false;
    }
    if (closed_) {
      into.reset();
      co_return true;
    }
    co_await changed_.wait();
  }
  into = std::move(queue_.front());
  queue_.pop_front();
  co_return true;
}

void EditorInbox::poke() {
  poked_ = true;
  changed_.notify();
}

void EditorInbox::close(std::string reason) {
  if (closed_) return;
  close_reason_ = std::move(reason);
  closed_ = true;
  queue_.clear();
  changed_.notify();
}

bool EditorInbox::end_requested() const {
  if (closed_) return true;
  for (const auto& m : queue_) {
    auto env = dap::scan_envelope(m);
    if (env && env->type == "request" && (env->command == "disconnect" || env->command == "terminate"))
      return true;
  }
  return false;
}

boost::asio::awaitable<void> EditorInbox::wait_for_end_request() {
  while (!end_requested()) co_await changed_.wait();
  spdlog::debug("editor ended the session (closed={})", closed_);
}

}  // namespace kdap::session
