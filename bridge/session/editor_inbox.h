#pragma once
// The editor's messages, read by one coroutine and taken in order by the session. Reading never stops while
// kdap brings a component up, so a `disconnect` sent during a long bring-up is seen at once.

#include <deque>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "bridge/util/signal.h"
#include "dap/message_stream.h"

namespace kdap::session {

class EditorInbox {
 public:
  EditorInbox(const boost::asio::any_io_executor& ex, dap::ByteStream& in);
  // Reads until EOF or a framing error; run it once, detached from the session's own work.
  boost::asio::awaitable<void> read_loop();
  // The next message, or nullopt once the editor is gone.
  boost::asio::awaitable<std::optional<std::string>> next();
  // As next(), but returns false without a message when poke() is called while it waits: the relay waits for
  // the editor and for dlv's end at once without racing two coroutines per message.
  boost::asio::awaitable<bool> next_unless_poked(std::optional<std::string>& into);
  void poke();
  // Completes when a disconnect or terminate request is waiting, or the editor is gone. Consumes nothing.
  boost::asio::awaitable<void> wait_for_end_request();
  // Ends the conversation as if the editor had gone (SIGTERM, Ctrl-C): the session restores and exits.
  void close(std::string reason);
  bool closed() const { return closed_; }
  // Completes once read_loop() has returned (after the stream was closed), so the inbox may be destroyed.
  boost::asio::awaitable<void> wait_reader_done();
  std::string close_reason() const { return close_reason_; }

 private:
  bool end_requested() const;
  dap::MessageReader reader_;
  std::deque<std::string> queue_;
  Signal changed_;
  bool closed_ = false;
  bool poked_ = false;
  bool reader_done_ = false;
  std::string close_reason_;
};

}  // namespace kdap::session
