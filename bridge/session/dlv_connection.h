#pragma once
// kdap's DAP connection to dlv through the tunnel. It forwards what dlv says to the editor (renumbered) and
// lets the session send requests of its own (initialize, attach, disconnect) and await their answers.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "bridge/util/signal.h"
#include "dap/message_stream.h"
#include "dap/seq_mapper.h"

namespace kdap::session {

class DlvConnection : public std::enable_shared_from_this<DlvConnection> {
 public:
  DlvConnection(const boost::asio::any_io_executor& ex, std::unique_ptr<dap::ByteStream> tunnel,
                dap::SeqMapper& mapper, dap::MessageWriter& editor);
  ~DlvConnection();
  // Until dlv closes the connection; then `closed()` is true.
  boost::asio::awaitable<void> pump();
  // Sends one of kdap's own requests and returns dlv's response. Throws TimeoutError or std::runtime_error.
  boost::asio::awaitable<nlohmann::json> request(std::string command, nlohmann::json arguments,
                                                 std::chrono::steady_clock::duration timeout);
  // An editor message, renumbered for dlv.
  boost::asio::awaitable<void> forward(std::string body);
  bool closed() const { return closed_; }
  void close();
  // Called once, when the connection ends (dlv closed it, or close()); not from the destructor.
  void on_closed(std::function<void()> callback) { on_closed_ = std::move(callback); }

 private:
  std::unique_ptr<dap::ByteStream> tunnel_;
  dap::SeqMapper& mapper_;
  dap::MessageWriter& editor_;
  dap::MessageWriter writer_;
  std::map<std::int64_t, std::optional<nlohmann::json>> own_;
  Signal changed_;
  bool closed_ = false;
  std::function<void()> on_closed_;
};

}  // namespace kdap::session
