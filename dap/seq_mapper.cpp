#include "dap/seq_mapper.h"

#include <algorithm>
#include <initializer_list>
#include <optional>

#include <spdlog/spdlog.h>

#include "dap/envelope.h"
#include "dap/message.h"

namespace kdap::dap {
namespace {

// Routing fields of one message, plus the DOM when the scanner could not read it.
struct Fields {
  std::string type;
  std::optional<std::int64_t> seq;
  std::optional<std::int64_t> request_seq;
  std::string command;
  std::optional<Json> dom;
  Envelope places;  // where the scan found seq and request_seq (when there is no dom)
};

std::optional<Json> parse_object(std::string_view body) {
  // dump() recurses per nesting level; refuse bodies deep enough to exhaust the stack.
  constexpr int kMaxDepth = 512;
  bool too_deep = false;
  Json::parser_callback_t check_depth = [&too_deep](int depth, Json::parse_event_t, Json&) {
    if (depth > kMaxDepth) too_deep = true;
    return true;
  };
  Json json = Json::parse(body, check_depth, /*allow_exceptions=*/false);
  if (too_deep || json.is_discarded() || !json.is_object()) return std::nullopt;
  return json;
}

std::optional<std::int64_t> integer_at(const Json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<std::int64_t>();
}

std::string string_at(const Json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The scanner handles every JSON object, so the DOM path should never run; it exists so that a scanner gap
// degrades into a slow message instead of a dropped one.
std::optional<Fields> read_fields(std::string_view body, EnvelopeScope scope) {
  if (const auto env = scan_envelope(body, scope)) {
    return Fields{std::string(env->type),    env->seq,     env->request_seq,
                  std::string(env->command), std::nullopt, *env};
  }
  auto dom = parse_object(body);
  if (!dom) return std::nullopt;
  spdlog::warn("dap: envelope scanner rejected a valid JSON object; renumbering it via a full parse");
  Fields fields{string_at(*dom, "type"),
                integer_at(*dom, "seq"),
                integer_at(*dom, "request_seq"),
                string_at(*dom, "command"),
                std::nullopt,
                Envelope{}};
  fields.dom = std::move(dom);
  return fields;
}

void apply(std::string& body, Fields& fields, std::initializer_list<NumberField> numbers) {
  if (fields.dom) {
    for (const NumberField& n : numbers) (*fields.dom)[std::string(n.key)] = n.value;
    body = dump_message(*fields.dom);
    return;
  }
  set_scanned_numbers(body, fields.places, std::span<const NumberField>(numbers.begin(), numbers.size()));
}

std::string_view excerpt(std::string_view body) {
  return body.substr(0, 120);
}

}  // namespace

std::int64_t SeqMapper::next_client_seq() {
  return client_seq_++;
}

std::int64_t SeqMapper::next_server_seq() {
  const std::int64_t seq = server_seq_++;
  own_requests_.insert(seq);
  return seq;
}

void SeqMapper::client_to_server(std::string& body) {
  auto fields = read_fields(body, EnvelopeScope::kWhole);
  if (!fields) {
    spdlog::warn("dap: editor sent a message that is not a JSON object, forwarding as is: {}", excerpt(body));
    return;
  }
  const std::int64_t seq = server_seq_++;
  if (fields->type == "request") {
    client_requests_[seq] = PendingRequest{fields->seq.value_or(0), fields->command};
    apply(body, *fields, {{"seq", seq}});
    return;
  }
  if (fields->type == "response") {
    const auto it =
        fields->request_seq ? reverse_requests_.find(*fields->request_seq) : reverse_requests_.end();
    if (it != reverse_requests_.end()) {
      const std::int64_t dlv_seq = it->second;
      reverse_requests_.erase(it);
      apply(body, *fields, {{"seq", seq}, {"request_seq", dlv_seq}});
      return;
    }
    spdlog::warn("dap: editor answered unknown reverse request {} ({}), forwarding unchanged",
                 fields->request_seq.value_or(-1), fields->command);
  }
  apply(body, *fields, {{"seq", seq}});
}

Route SeqMapper::server_to_client(std::string& body) {
  auto fields = read_fields(body, EnvelopeScope::kUpToBody);
  if (!fields) {
    spdlog::warn("dap: dropping a message from dlv that is not a JSON object: {}", excerpt(body));
    return Route::kDrop;
  }
  if (fields->type == "response") {
    if (!fields->request_seq) {
      spdlog::warn("dap: dropping a response from dlv without request_seq ({})", fields->command);
      return Route::kDrop;
    }
    if (own_requests_.erase(*fields->request_seq) > 0) return Route::kOwnResponse;
    const auto it = client_requests_.find(*fields->request_seq);
    if (it == client_requests_.end()) {
      spdlog::warn("dap: dropping a response from dlv to unknown request_seq {} ({})", *fields->request_seq,
                   fields->command);
      return Route::kDrop;
    }
    const std::int64_t editor_seq = it->second.client_seq;
    client_requests_.erase(it);
    apply(body, *fields, {{"seq", next_client_seq()}, {"request_seq", editor_seq}});
    return Route::kForward;
  }
  const std::int64_t seq = next_client_seq();
  if (fields->type == "request") reverse_requests_[seq] = fields->seq.value_or(0);
  apply(body, *fields, {{"seq", seq}});
  return Route::kForward;
}

std::vector<SeqMapper::PendingRequest> SeqMapper::take_pending_client_requests() {
  std::vector<std::pair<std::int64_t, PendingRequest>> by_server_seq(client_requests_.begin(),
                                                                     client_requests_.end());
  client_requests_.clear();
  std::sort(by_server_seq.begin(), by_server_seq.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<PendingRequest> pending;
  pending.reserve(by_server_seq.size());
  for (auto& entry : by_server_seq) pending.push_back(std::move(entry.second));
  return pending;
}

}  // namespace kdap::dap
