#include "bridge/session/dlv_connection.h"

#include <spdlog/spdlog.h>

#include "bridge/util/timeout.h"
#include "dap/envelope.h"
#include "dap/message.h"

namespace kdap::session {

DlvConnection::DlvConnection(const boost::asio::any_io_executor& ex, std::unique_ptr<dap::ByteStream> tunnel,
                             dap::SeqMapper& mapper, dap::MessageWriter& editor)
    : tunnel_(std::move(tunnel)), mapper_(mapper), editor_(editor), writer_(*tunnel_, ex), changed_(ex) {}

DlvConnection::~DlvConnection() {
  on_closed_ = nullptr;
  close();
}

void DlvConnection::close() {
  if (!closed_) {
    closed_ = true;
    writer_.close();
    tunnel_->close();
    changed_.notify();
    if (on_closed_) on_closed_();
  }
}

boost::asio::awaitable<void> DlvConnection::pump() {
  auto keep_alive = shared_from_this();
  dap::MessageReader reader(*tunnel_);
  try {
    for (;;) {
      auto body = co_await reader.read();
      if (!body) break;
      switch (mapper_.server_to_client(*body)) {
        case dap::Route::kForward:
          co_await editor_.send(std::move(*body));
          break;
        case dap::Route::kOwnResponse: {
          auto env = dap::scan_envelope(*body);
          if (env && env->request_seq) {
            own_[*env->request_seq] = nlohmann::json::parse(*body, nullptr, false);
            changed_.notify();
          }
          break;
        }
        case dap::Route::kDrop:
          break;
      }
    }
  } catch (const std::exception& e) {
    if (!closed_) spdlog::warn("connection to dlv failed: {}", e.what());
  }
  bool was_open = !closed_;
  closed_ = true;
  changed_.notify();
  if (was_open && on_closed_) on_closed_();
}

boost::asio::awaitable<nlohmann::json> DlvConnection::request(std::string command, nlohmann::json arguments,
                                                              std::chrono::steady_clock::duration timeout) {
  auto message = dap::make_request(command, std::move(arguments));
  std::int64_t seq = mapper_.next_server_seq();
  message["seq"] = seq;
  own_[seq] = std::nullopt;
  writer_.post(message.dump());
  auto wait = [&]() -> boost::asio::awaitable<nlohmann::json> {
    for (;;) {
      auto it = own_.find(seq);
      if (it != own_.end() && it->second) {
        nlohmann::json response = std::move(*it->second);
        own_.erase(it);
        co_return response;
      }
      if (closed_) throw std::runtime_error("dlv closed the connection before answering " + command);
      co_await changed_.wait();
    }
  };
  try {
    co_return co_await with_timeout(wait(), timeout, "dlv's answer to " + command);
  } catch (...) {
    own_.erase(seq);
    throw;
  }
}

boost::asio::awaitable<void> DlvConnection::forward(std::string body) {
  mapper_.client_to_server(body);
  co_await writer_.send(std::move(body));
}

}  // namespace kdap::session
