#include "bridge/session/dap_session.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>

#include "bridge/node/local_node.h"
#include "bridge/node/ssh_node.h"
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
constexpr auto kDlvStopGrace = std::chrono::seconds(5);

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
    : ex_(ex), editor_(editor_out, ex), inbox_(ex, editor_in), dlv_down_(ex) {}

DapSession::~DapSession() = default;

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
  while (auto body = co_await inbox_.next()) {
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
        co_await relay();
        break;
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
                      (launched ? ": the launch failed (see the message above)" : ": send launch first"));
    }
  }
  // Whatever ended the conversation, nothing stays changed on the node.
  auto problem = co_await tear_down();
  if (!problem.empty()) spdlog::error("{}", problem);
  co_await editor_.drain();
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
  config_ = config::parse_launch_config(request.value("arguments", Json::object()));
  const auto& cfg = *config_;
  std::string where = cfg.host ? *cfg.host : "this machine";
  progress_->start("kdap-launch", "debugging " + cfg.target.text + " on " + where);
  for (const auto& w : cfg.warnings) progress_->console(w);

  if (cfg.host) {
    step("connecting to " + *cfg.host);
    node::SshOptions ssh;
    ssh.host = *cfg.host;
    ssh.identity_file = cfg.identity_file;
    ssh.known_hosts_file = cfg.known_hosts_file;
    ssh.ssh_config_file = cfg.ssh_config_file;
    ssh.connect_timeout = cfg.connect_timeout;
    node_ = co_await node::SshNode::connect(ex_, ssh);
  } else {
    node_ = std::make_unique<node::LocalNode>(ex_);
  }

  target_ = targets::make_target(cfg, *node_);
  step("reading " + cfg.target.text);
  auto plan = co_await target_->plan();
  progress_->console(plan.summary);

  auto report = [this](const std::string& m) { step(m); };
  co_await target_->park(report);

  step("starting dlv for " + plan.program);
  delve::DlvOptions dlv_options{cfg.dlv_path, cfg.dlv_flags};
  dlv_ = co_await delve::DlvServer::start(*node_, plan, dlv_options, cfg.dlv_timeout);
  dlv_gone_ = false;
  asio::co_spawn(ex_, watch_dlv(dlv_), log_exception);

  step("opening the tunnel to dlv (127.0.0.1:" + std::to_string(dlv_->port()) + " on the node)");
  auto tunnel = co_await node_->open_tunnel(dlv_->port());
  dlv_conn_ = std::make_shared<DlvConnection>(ex_, std::move(tunnel), mapper_, editor_);
  asio::co_spawn(
      ex_, [conn = dlv_conn_]() { return conn->pump(); }, log_exception);

  step("attaching");
  Json init = co_await dlv_conn_->request("initialize", initialize_args_, kDlvAnswerTimeout);
  if (!init.value("success", false))
    throw std::runtime_error("dlv refused initialize: " + init.value("message", ""));
  send(dap::make_event("capabilities",
                       {{"capabilities", adjust_dlv_capabilities(init.value("body", Json::object()))}}));

  Json attach = cfg.dlv_attach;
  attach["request"] = "attach";
  attach["mode"] = "remote";
  Json attached = co_await dlv_conn_->request("attach", attach, kDlvAnswerTimeout);
  if (!attached.value("success", false)) {
    throw std::runtime_error("dlv refused to attach: " + attached.value("message", "") + " " +
                             attached.value("/body/error/format"_json_pointer, std::string()));
  }
  reply(request);
  progress_->end("debugging " + cfg.target.text + " (pid of dlv " + std::to_string(dlv_->pid()) + ")");
}

asio::awaitable<void> DapSession::watch_dlv(std::shared_ptr<delve::DlvServer> dlv) {
  auto sink = [this](bool is_stderr, std::string_view text) {
    send(dap::make_output_event(is_stderr ? "stderr" : "stdout", text));
  };
  int status = co_await dlv->relay_output(sink);
  dlv_exit_status_ = status;
  dlv_gone_ = true;
  dlv_down_.notify();
}

asio::awaitable<void> DapSession::take_next(std::optional<std::string>& into) {
  into = co_await inbox_.next();
}

asio::awaitable<void> DapSession::race_void(asio::awaitable<void> a, asio::awaitable<void> b) {
  co_await race(std::move(a), std::move(b));
}

asio::awaitable<void> DapSession::wait_dlv_gone() {
  while (!dlv_gone_) co_await dlv_down_.wait();
}

asio::awaitable<void> DapSession::relay() {
  for (;;) {
    if (dlv_gone_ || dlv_conn_->closed()) {
      if (!tearing_down_) {
        send(dap::make_output_event("important", "kdap: dlv ended unexpectedly (exit status " +
                                                     std::to_string(dlv_exit_status_) + "); restoring " +
                                                     config_->target.text + ". dlv's last lines:\n" +
                                                     dlv_->last_lines()));
        auto problem = co_await tear_down();
        if (!problem.empty()) send(dap::make_output_event("important", "kdap: " + problem + "\n"));
        send(dap::make_event("terminated"));
      }
      co_return;  // run() answers the editor's disconnect
    }
    std::optional<std::string> body;
    int winner = co_await race(take_next(body), race_void(dlv_down_.wait(), dlv_conn_->wait_closed()));
    if (winner != 0) continue;
    if (!body) co_return;  // the editor is gone; run() restores
    auto env = dap::scan_envelope(*body);
    if (env && env->type == "request" && (env->command == "disconnect" || env->command == "terminate")) {
      co_await end_session(Json::parse(*body));
      if (env->command == "disconnect") co_return;
      continue;
    }
    co_await dlv_conn_->forward(std::move(*body));
  }
}

asio::awaitable<void> DapSession::end_session(Json request) {
  progress_->start("kdap-end", "restoring " + config_->target.text);
  // The component must come back as it was, so the debug process always ends with the session.
  if (dlv_conn_ && !dlv_conn_->closed()) {
    Json terminate_debuggee = {{"terminateDebuggee", true}};
    try {
      co_await dlv_conn_->request("disconnect", std::move(terminate_debuggee), std::chrono::seconds(10));
    } catch (const std::exception& e) {
      spdlog::warn("dlv did not answer disconnect: {}", e.what());
    }
  }
  auto problem = co_await tear_down();
  progress_->end(problem.empty() ? config_->target.text + " restored" : "restore failed");
  if (problem.empty()) {
    reply(request);
  } else {
    reply_error(request, kErrorEnd, problem);
  }
  if (request.value("command", "") == "terminate") send(dap::make_event("terminated"));
}

asio::awaitable<std::string> DapSession::tear_down() {
  tearing_down_ = true;
  std::string problems;
  if (dlv_conn_) dlv_conn_->close();
  if (dlv_) {
    try {
      co_await dlv_->stop(kDlvStopGrace);
      // The output relay ends once dlv's channel closes; wait for it so no output event follows the end.
      co_await with_timeout(wait_dlv_gone(), std::chrono::seconds(10), "dlv's output");
    } catch (const std::exception& e) {
      problems += std::string("stopping dlv failed: ") + e.what() + "\n";
    }
  }
  if (target_ && target_->parked()) {
    targets::StepReporter report = [this](const std::string& m) { step(m); };
    try {
      co_await target_->restore(report);
    } catch (const std::exception& e) {
      problems += std::string("restoring ") + config_->target.text + " failed: " + e.what() + "\n";
    }
  }
  target_.reset();
  dlv_conn_.reset();
  dlv_.reset();
  if (node_) node_->close();
  node_.reset();
  if (!problems.empty()) problems.pop_back();
  co_return problems;
}

}  // namespace kdap::session
