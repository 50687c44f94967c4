#pragma once
// One debug session between an editor and a component on a node: the DAP handlers kdap owns (initialize,
// launch/attach, disconnect, terminate) and the orchestration of connect → plan → park → dlv → tunnel →
// attach, and back. Everything else passes between editor and dlv untouched but for seq renumbering.

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "bridge/config/launch_config.h"
#include "bridge/delve/dlv_server.h"
#include "bridge/node/node.h"
#include "bridge/session/bring_up.h"
#include "bridge/session/dlv_connection.h"
#include "bridge/session/editor_inbox.h"
#include "bridge/session/progress.h"
#include "bridge/targets/target.h"
#include "bridge/util/signal.h"
#include "dap/message_stream.h"
#include "dap/seq_mapper.h"

namespace kdap::session {

using Json = nlohmann::json;

class DapSession {
 public:
  DapSession(boost::asio::any_io_executor ex, dap::ByteStream& editor_in, dap::ByteStream& editor_out);
  ~DapSession();
  // Serves the editor until it disconnects or goes away; the node is restored before this returns.
  boost::asio::awaitable<void> run();
  // Ends the session from outside (a signal): restore, then return from run().
  void stop(const std::string& reason) { inbox_.close(reason); }

 private:
  void send(Json message);
  void reply(const Json& request, Json body = Json::object());
  void reply_error(const Json& request, int id, const std::string& text);

  boost::asio::awaitable<bool> launch(Json request);
  boost::asio::awaitable<void> bring_up(Json request);
  // Tunnel to dlv, replay initialize, attach.
  boost::asio::awaitable<void> attach_dlv();
  // True when the conversation is over (disconnect answered or editor gone); false when dlv went away.
  boost::asio::awaitable<bool> relay();
  boost::asio::awaitable<void> end_session(Json request);
  // Stops dlv and the debuggee and puts the component back. Returns what went wrong, empty when all is well.
  boost::asio::awaitable<std::string> tear_down();
  void step(const std::string& message);

  boost::asio::any_io_executor ex_;
  dap::ByteStream& editor_in_;
  dap::MessageWriter editor_;
  EditorInbox inbox_;
  dap::SeqMapper mapper_;
  Json initialize_args_ = Json::object();
  std::unique_ptr<Progress> progress_;
  std::unique_ptr<BringUp> run_;
  std::shared_ptr<DlvConnection> dlv_conn_;
};

}  // namespace kdap::session
