#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace kdap::dap {

enum class Route { kForward, kOwnResponse, kDrop };

// Renumbers `seq` / `request_seq` between the editor (client) and dlv (server). dlv stamps every message with
// seq 0, and kdap injects its own events toward the editor and its own requests toward dlv, so both sides get
// fresh, strictly increasing numbering and a map to translate replies back.
//
// Pure logic, not thread-safe: use it from the strand that writes both streams, and stamp + enqueue each
// message without suspending in between, or two messages could reach the wire out of seq order.
class SeqMapper {
 public:
  // A request the editor sent that dlv has not answered yet; lets the session fail them if dlv goes away.
  struct PendingRequest {
    std::int64_t client_seq;
    std::string command;
  };

  // Numbers for messages kdap itself sends to the editor.
  std::int64_t next_client_seq();
  // Numbers for requests kdap itself sends to dlv; their responses come back as Route::kOwnResponse.
  std::int64_t next_server_seq();

  // Editor -> dlv. Stamps server numbering; remembers requests so the reply can be mapped back, and maps the
  // editor's responses to dlv's reverse requests back to dlv's seq. Bodies that are not JSON objects are left
  // untouched (and logged): dlv will reject them with its own error.
  void client_to_server(std::string& body);

  // dlv -> editor. Stamps client numbering and maps request_seq back to the editor's seq. A response to a
  // request from next_server_seq() is left as dlv sent it and returns kOwnResponse; a response nobody is
  // waiting for, or a body that is not a JSON object, returns kDrop (logged).
  Route server_to_client(std::string& body);

  std::size_t pending_client_requests() const { return client_requests_.size(); }
  // Forgets and returns the editor requests still waiting for dlv, oldest first.
  std::vector<PendingRequest> take_pending_client_requests();

 private:
  std::int64_t client_seq_ = 1;
  std::int64_t server_seq_ = 1;
  std::unordered_map<std::int64_t, PendingRequest> client_requests_;  // server seq -> editor request
  std::unordered_set<std::int64_t> own_requests_;                     // server seqs kdap used itself
  std::unordered_map<std::int64_t, std::int64_t> reverse_requests_;   // client seq -> dlv's seq
};

}  // namespace kdap::dap
