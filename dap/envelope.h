#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace kdap::dap {

// The routing fields of a DAP message, read without building a DOM: the relay only renumbers most messages,
// and responses (variables, stack traces) can exceed a megabyte. String fields are views into the scanned
// body and, if the JSON string contained escapes, are returned raw (still escaped).
struct Envelope {
  std::string_view type;  // "request" | "response" | "event"
  std::optional<std::int64_t> seq;
  std::optional<std::int64_t> request_seq;
  std::string_view command;  // requests and responses
  std::string_view event;    // events
  bool success = true;       // responses
};

// nullopt if `body` is not a JSON object. Only the top level is examined; nested values are skipped, not
// validated. When a key repeats, the last occurrence wins (as in nlohmann::json and Go's encoding/json).
std::optional<Envelope> scan_envelope(std::string_view body);

struct NumberField {
  std::string_view key;  // plain key: no characters that need JSON escaping
  std::int64_t value;
};

// Sets each top-level `key` to `value` in one pass over `body`: every occurrence of the key is replaced (so
// any reader agrees on the result) and missing keys are inserted right after the opening brace. Returns
// false, and leaves `body` untouched, if `body` is not a JSON object.
bool set_top_level_numbers(std::string& body, std::span<const NumberField> fields);
bool set_top_level_number(std::string& body, std::string_view key, std::int64_t value);

}  // namespace kdap::dap
