#include "dap/message.h"

#include <string>

namespace kdap::dap {
namespace {

Json response_skeleton(const Json& request, bool success) {
  Json seq = 0;
  Json command = "";
  if (request.is_object()) {
    if (auto it = request.find("seq"); it != request.end() && it->is_number_integer()) seq = *it;
    if (auto it = request.find("command"); it != request.end() && it->is_string()) command = *it;
  }
  return Json{{"seq", 0},
              {"type", "response"},
              {"request_seq", std::move(seq)},
              {"success", success},
              {"command", std::move(command)}};
}

// Length of the valid UTF-8 sequence at the start of `s`, or 0 if it is not one (RFC 3629: no overlong forms,
// no surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence_length(std::string_view s) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(0);
  if (b0 < 0x80) return 1;
  std::size_t length = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (s.size() < length) return 0;
  if (byte(1) < lo || byte(1) > hi) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if (byte(k) < 0x80 || byte(k) > 0xBF) return 0;
  }
  return length;
}

}  // namespace

Json make_request(std::string_view command, Json arguments) {
  return Json{{"seq", 0},
              {"type", "request"},
              {"command", std::string(command)},
              {"arguments", std::move(arguments)}};
}

Json make_event(std::string_view event, Json body) {
  return Json{{"seq", 0}, {"type", "event"}, {"event", std::string(event)}, {"body", std::move(body)}};
}

Json make_response(const Json& request, Json body) {
  Json response = response_skeleton(request, true);
  response["body"] = std::move(body);
  return response;
}

Json make_error_response(const Json& request, int id, std::string_view format, bool show_user) {
  Json response = response_skeleton(request, false);
  response["message"] = std::string(format);
  response["body"] =
      Json{{"error", Json{{"id", id}, {"format", std::string(format)}, {"showUser", show_user}}}};
  return response;
}

Json make_output_event(std::string_view category, std::string_view output) {
  return make_event("output", Json{{"category", std::string(category)}, {"output", sanitize_utf8(output)}});
}

std::string dump_message(const Json& message) {
  return message.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string sanitize_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    const std::size_t length = utf8_sequence_length(bytes.substr(i));
    if (length == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(bytes.substr(i, length));
      i += length;
    }
  }
  return out;
}

}  // namespace kdap::dap
