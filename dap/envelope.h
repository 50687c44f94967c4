#pragma once

#include <array>
#include <cstddef>
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

  // Where scan_envelope found the top-level "seq" and "request_seq" values, so that renumbering the same body
  // needs no second pass over it (a second pass is most of the relay's work on a megabyte answer).
  struct NumberSlot {
    std::size_t begin = 0;
    std::size_t end = 0;
    bool request_seq = false;  // else "seq"
  };
  std::size_t open = 0;     // index of the opening brace
  std::size_t members = 0;  // top-level member count
  std::array<NumberSlot, 4> slots{};
  std::size_t slot_count = 0;
  bool too_many_slots = false;  // repeated keys beyond the slots: renumbering scans again
};

enum class EnvelopeScope {
  kWhole,
  // Stops at a top-level "body" once the routing fields have been read. For dlv's messages, whose encoder
  // (go-dap's structs through encoding/json) writes "body" last and never repeats a key: a megabyte answer is
  // then routed and renumbered without being looked at. Messages from an editor are always scanned whole.
  kUpToBody,
};

// nullopt if `body` is not a JSON object. Only the top level is examined; nested values are skipped, not
// validated. When a key repeats, the last occurrence wins (as in nlohmann::json and Go's encoding/json),
// among the members scanned.
std::optional<Envelope> scan_envelope(std::string_view body, EnvelopeScope scope = EnvelopeScope::kWhole);

struct NumberField {
  std::string_view key;  // plain key: no characters that need JSON escaping
  std::int64_t value;
};

// Sets each top-level `key` to `value` in one pass over `body`: every occurrence of the key is replaced (so
// any reader agrees on the result) and missing keys are inserted right after the opening brace. Returns
// false, and leaves `body` untouched, if `body` is not a JSON object.
bool set_top_level_numbers(std::string& body, std::span<const NumberField> fields);
bool set_top_level_number(std::string& body, std::string_view key, std::int64_t value);

// set_top_level_numbers for a body scan_envelope has just read (unchanged since), using the places it found.
// `fields` may only name "seq" and "request_seq".
bool set_scanned_numbers(std::string& body, const Envelope& env, std::span<const NumberField> fields);

}  // namespace kdap::dap
