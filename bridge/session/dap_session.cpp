#include "bridge/session/dap_session.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>

#include "bridge/config/profiles.h"
#include "bridge/session/capabilities.h"
#include "bridge/util/race.h"
#include "bridge/util/timeout.h"
#include "dap/envelope.h"
#include "dap/message.h"

namespace kdap::session {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

// DAP error ids kdap uses; editors show `format` to the user.
constexpr int kErrorNotLaunched = 3001;
constexpr int kErrorLaunch = 3002;
constexpr int kErrorEnd = 3003;

constexpr auto kDlvAnswerTimeout = std::chrono::seconds(30);

void log_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("background task failed: {}", ex.what());
  }
}

}  // namespace

DapSession::DapSession(asio::any_io_executor ex, dap::ByteStream& editor_in, dap::ByteStream& editor_out)
    : ex_(ex), editor_in_(editor_in), editor_(editor_out, ex), inbox_(ex, editor_in) {}

DapSession::~DapSession() {
  // A connection still being pumped outlives the session; it must not call back into it.
  if (dlv_conn_) dlv_conn_->on_closed(nullptr);
  if (run_) run_->on_dlv_gone(nullptr);
}

void DapSession::send(Json message) {
  message["seq"] = mapper_.next_client_seq();
  editor_.post(message.dump());
}

void DapSession::reply(const Json& request, Json body) {
  send(dap::make_response(request, std::move(body)));
}

void DapSession::reply_error(const Json& request, int id, const std::string& text) {
  spdlog::error("{}: {}", request.value("command", "?"), text);
  send(dap::make_error_response(request, id, text, true));
}

void DapSession::step(const std::string& message) {
  spdlog::info("{}", message);
  if (progress_) progress_->update(message);
}

asio::awaitable<void> DapSession::run() {
  progress_ = std::make_unique<Progress>([this](Json event) { send(std::move(event)); }, false);
  asio::co_spawn(ex_, inbox_.read_loop(), log_exception);
  bool launched = false;
  for (;;) {
    auto body = co_await inbox_.next();
    if (!body) break;
    Json message = Json::parse(*body, nullptr, false);
    if (!message.is_object() || message.value("type", "") != "request") continue;
    std::string command = message.value("command", "");
    if (command == "initialize") {
      initialize_args_ = message.value("arguments", Json::object());
      progress_ = std::make_unique<Progress>([this](Json event) { send(std::move(event)); },
                                             initialize_args_.value("supportsProgressReporting", false));
      reply(message, initial_capabilities());
    } else if ((command == "launch" || command == "attach") && !launched) {
      launched = true;
      bool debugging = co_await launch(message);
      if (debugging) {
        bool over = co_await relay();
        if (over) break;
      }
    } else if (command == "disconnect") {
      reply(message);
      break;
    } else if (command == "terminate") {
      reply(message);
      send(dap::make_event("terminated"));
    } else {
      reply_error(message, kErrorNotLaunched,
                  "kdap has no debug session to send '" + command + "' to" +
                      (launched ? ": the session has ended" : ": send launch first"));
    }
  }
  // Whatever ended the conversation, nothing stays changed on the node.
  auto problem = co_await tear_down();
  if (!problem.empty()) spdlog::error("{}", problem);
  co_await editor_.drain();
  // The reader must be gone before the session is: it writes into the inbox when its read ends.
  editor_in_.close();
  co_await finishes_within(inbox_.wait_reader_done(), std::chrono::seconds(5));
}

asio::awaitable<bool> DapSession::launch(Json request) {
  std::string failure;
  try {
    int winner = co_await race(bring_up(request), inbox_.wait_for_end_request());
    if (winner == 0) co_return true;
    failure = "the launch was cancelled: the editor ended the session";
  } catch (const std::exception& e) {
    failure = e.what();
  }
  // Restore first, then report.
  co_await asio::this_coro::reset_cancellation_state();
  auto problem = co_await tear_down();
  if (!problem.empty()) failure += "\n" + problem;
  progress_->end("failed");
  reply_error(request, kErrorLaunch, "kdap could not start debugging: " + failure);
  co_return false;
}

asio::awaitable<void> DapSession::bring_up(Json request) {
  auto cfg = config::parse_launch_config(config::resolve_profile(request.value("arguments", Json::object())));
  std::string where = cfg.host ? *cfg.host : "this machine";
  progress_->start("kdap-launch", "debugging " + config::subject(cfg) + " on " + where);
  for (const auto& w : cfg.warnings) progress_->console(w);
  run_ = std::make_unique<BringUp>(
      ex_, std::move(cfg), [this](const std::string& m) { step(m); },
      [this](const std::string& m) { progress_->console(m); });
  run_->on_dlv_gone([this] { inbox_.poke(); });
  co_await run_->start();
  auto sink = [this](bool is_stderr, std::string_view text) {
    send(dap::make_output_event(is_stderr ? "stderr" : "stdout", text));
  };
  asio::co_spawn(ex_, run_->watch_output(sink), log_exception);

  std::string attach_error;
  try {
    co_await attach_dlv();
  } catch (const std::exception& e) {
    attach_error = e.what();
  }
  if (!attach_error.empty()) {
    // dlv announces its port before it launches the program, so a program it cannot run shows up here as a
    // broken connection; dlv's own words say why.
    co_await finishes_within(run_->wait_dlv_gone(), std::chrono::seconds(3));
    if (run_->dlv_gone()) {
      throw std::runtime_error("dlv ended before kdap could connect (" + attach_error + "); dlv said:\n" +
                               run_->dlv().last_lines());
    }
    throw std::runtime_error(attach_error);
  }
  reply(request);
  progress_->end("debugging " + run_->config().target.text + " (pid of dlv " +
                 std::to_string(run_->dlv().pid()) + ")");
}

asio::awaitable<void> DapSession::attach_dlv() {
  auto& dlv = run_->dlv();
  step("opening the tunnel to dlv (127.0.0.1:" + std::to_string(dlv.port()) + " on the node)");
  auto tunnel = co_await run_->node().open_tunnel(dlv.port());
  dlv_conn_ = std::make_shared<DlvConnection>(ex_, std::move(tunnel), mapper_, editor_);
  dlv_conn_->on_closed([this] { inbox_.poke(); });
  asio::co_spawn(ex_, dlv_conn_->pump(), log_exception);  // pump() keeps the connection alive itself

  step("attaching");
  Json init = co_await dlv_conn_->request("initialize", initialize_args_, kDlvAnswerTimeout);
  if (!init.value("success", false))
    throw std::runtime_error("dlv refused initialize: " + init.value("message", ""));
  send(dap::make_event("capabilities",
                       {{"capabilities", adjust_dlv_capabilities(init.value("body", Json::object()))}}));

  Json attach = run_->config().dlv_attach;
  attach["request"] = "attach";
  attach["mode"] = "remote";
  if (!attach.contains("substitutePath") && !run_->substitute_path().empty()) {
    Json rules = Json::array();
    for (const auto& m : run_->substitute_path()) rules.push_back({{"from", m.from}, {"to", m.to}});
    attach["substitutePath"] = std::move(rules);
  }
  Json attached = co_await dlv_conn_->request("attach", attach, kDlvAnswerTimeout);
  if (!attached.value("success", false)) {
    throw std::runtime_error("dlv refused to attach: " + attached.value("message", "") + " " +
                             attached.value("/body/error/format"_json_pointer, std::string()));
  }
}

asio::awaitable<bool> DapSession::relay() {
  for (;;) {
    if (run_->dlv_gone() || !dlv_conn_ || dlv_conn_->closed()) {
      if (!run_->tearing_down()) {
        send(dap::make_output_event("important", "kdap: dlv ended unexpectedly (exit status " +
                                                     std::to_string(run_->dlv_exit_status()) +
                                                     "); restoring " + run_->config().target.text +
                                                     ". dlv's last lines:\n" + run_->dlv().last_lines()));
        auto problem = co_await tear_down();
        if (!problem.empty()) send(dap::make_output_event("important", "kdap: " + problem + "\n"));
        send(dap::make_event("terminated"));
      }
      co_return false;  // the editor's disconnect is still to come; run() answers it
    }
    std::optional<std::string> body;
    // dlv's end pokes the inbox (on_dlv_gone, on_closed): one wait per message, nothing to cancel.
    bool taken = co_await inbox_.next_unless_poked(body);
    if (!taken) continue;
    if (!body) co_return true;  // the editor is gone; run() restores
    auto env = dap::scan_envelope(*body);
    if (env && env->type == "request" && (env->command == "disconnect" || env->command == "terminate")) {
      co_await end_session(Json::parse(*body));
      if (env->command == "disconnect") co_return true;
      continue;
    }
    co_await dlv_conn_->forward(std::move(*body));
  }
}

asio::awaitable<void> DapSession::end_session(Json request) {
  std::string what = run_->config().target.text;
  // A launched component must come back as it was, so its debug process always ends with the session. An
  // attached process runs on (dlv detaches when kdap stops it) unless the editor asks to end it.
  bool terminate = true;
  if (run_->attached()) {
    terminate = request.value("command", "") == "terminate" ||
                request.value("/arguments/terminateDebuggee"_json_pointer, false);
  }
  progress_->start("kdap-end", (terminate || !run_->attached() ? "restoring " : "detaching from ") + what);
  if (dlv_conn_ && !dlv_conn_->closed()) {
    Json terminate_debuggee = {{"terminateDebuggee", terminate}};
    try {
      co_await dlv_conn_->request("disconnect", std::move(terminate_debuggee), std::chrono::seconds(10));
    } catch (const std::exception& e) {
      spdlog::warn("dlv did not answer disconnect: {}", e.what());
    }
  }
  auto problem = co_await tear_down();
  progress_->end(problem.empty() ? what + (terminate ? " restored" : " detached") : "restore failed");
  if (problem.empty()) {
    reply(request);
  } else {
    reply_error(request, kErrorEnd, problem);
  }
  if (request.value("command", "") == "terminate") send(dap::make_event("terminated"));
}

asio::awaitable<std::string> DapSession::tear_down() {
  if (dlv_conn_) dlv_conn_->close();
  std::string problems;
  if (run_) problems = co_await run_->tear_down();
  dlv_conn_.reset();
  co_return problems;
}

}  // namespace kdap::session
