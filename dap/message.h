#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kdap::dap {

using Json = nlohmann::json;

// Builders for the few messages kdap writes itself. Every message starts with "seq": 0; the sender stamps the
// real number (SeqMapper) just before writing, because only the sender knows the order on the wire.

Json make_request(std::string_view command, Json arguments = Json::object());
Json make_event(std::string_view event, Json body = Json::object());

// success=true; request_seq and command are copied from `request` (0 / "" if it lacks them).
Json make_response(const Json& request, Json body = Json::object());

// success=false. `format` is both the short `message` and body.error.format; editors show body.error when
// showUser is set, so it should say what went wrong and how to fix it.
Json make_error_response(const Json& request, int id, std::string_view format, bool show_user = true);

// category: "console" | "important" | "stdout" | "stderr" | "telemetry". Debuggee output is arbitrary bytes;
// invalid UTF-8 is replaced with U+FFFD here because Json::dump() throws on it.
Json make_output_event(std::string_view category, std::string_view output);

// Serialises a message for the wire: compact, and invalid UTF-8 replaced instead of throwing, so a message
// built from foreign bytes can never take the connection down.
std::string dump_message(const Json& message);

// `bytes` with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD.
std::string sanitize_utf8(std::string_view bytes);

}  // namespace kdap::dap
