#include "bridge/session/progress.h"

#include "dap/message.h"

namespace kdap::session {

void Progress::start(const std::string& id, const std::string& title) {
  id_ = id;
  if (events_) {
    send_(dap::make_event("progressStart", {{"progressId", id_}, {"title", title}, {"cancellable", false}}));
  } else {
    console(title);
  }
}

void Progress::update(const std::string& message) {
  if (events_ && !id_.empty()) {
    send_(dap::make_event("progressUpdate", {{"progressId", id_}, {"message", message}}));
  } else {
    console(message);
  }
}

void Progress::end(const std::string& message) {
  if (events_ && !id_.empty()) {
    send_(dap::make_event("progressEnd", {{"progressId", id_}, {"message", message}}));
  } else if (!message.empty()) {
    console(message);
  }
  id_.clear();
}

void Progress::console(const std::string& line) {
  send_(dap::make_output_event("console", "kdap: " + line + "\n"));
}

}  // namespace kdap::session
