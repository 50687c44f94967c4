#pragma once
// Tells the editor what a long step is doing: DAP progress events when the client said it supports them,
// console output lines otherwise (nvim-dap and VS Code show those in their REPL / debug console).

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace kdap::session {

class Progress {
 public:
  using Send = std::function<void(nlohmann::json event)>;
  Progress(Send send, bool client_supports_progress)
      : send_(std::move(send)), events_(client_supports_progress) {}
  void start(const std::string& id, const std::string& title);
  void update(const std::string& message);
  void end(const std::string& message);
  void console(const std::string& line);

 private:
  Send send_;
  bool events_;
  std::string id_;
};

}  // namespace kdap::session
