#include "dap/envelope.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <vector>

namespace kdap::dap {
namespace {

// The scanner is deliberately lenient about nested values (it only balances brackets and skips strings), but
// it never reads past the end and never recurses, so arbitrary bytes are safe to feed it.

enum class Kind { kString, kNumber, kTrue, kFalse, kNull, kNested };

struct Member {
  std::string_view raw_key;  // between the quotes, escapes not decoded
  std::size_t value_begin;
  std::size_t value_end;
  Kind kind;
};

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void skip_ws(std::string_view s, std::size_t& i) {
  while (i < s.size() && is_ws(s[i])) ++i;
}

// `i` is at the opening quote; on success it is just past the closing quote. memchr jumps from quote to quote
// (strings are most of a large answer's bytes); a quote closes the string unless an odd number of backslashes
// precedes it. Each backslash run is counted once, so this stays linear.
bool skip_string(std::string_view s, std::size_t& i) {
  const std::size_t first = i + 1;
  std::size_t pos = first;
  while (pos < s.size()) {
    const void* quote = std::memchr(s.data() + pos, '"', s.size() - pos);
    if (quote == nullptr) return false;
    const std::size_t at = static_cast<std::size_t>(static_cast<const char*>(quote) - s.data());
    std::size_t run = at;
    while (run > first && s[run - 1] == '\\') --run;
    if ((at - run) % 2 == 0) {
      i = at + 1;
      return true;
    }
    pos = at + 1;
  }
  return false;
}

// The bytes skip_nested must look at; everything else (digits, commas, literals) is passed over in a tight
// loop.
constexpr std::array<bool, 256> kStructural = [] {
  std::array<bool, 256> table{};
  for (unsigned char c : {'"', '{', '}', '[', ']'}) table[c] = true;
  return table;
}();

// `i` is at '{' or '['. Iterative with an explicit stack of expected closers: deep nesting costs heap bytes,
// never native stack.
bool skip_nested(std::string_view s, std::size_t& i) {
  std::string closers;
  while (i < s.size()) {
    while (i < s.size() && !kStructural[static_cast<unsigned char>(s[i])]) ++i;
    if (i >= s.size()) break;
    const char c = s[i];
    switch (c) {
      case '"':
        if (!skip_string(s, i)) return false;
        continue;
      case '{':
        closers.push_back('}');
        break;
      case '[':
        closers.push_back(']');
        break;
      case '}':
      case ']':
        if (closers.empty() || closers.back() != c) return false;
        closers.pop_back();
        if (closers.empty()) {
          ++i;
          return true;
        }
        break;
      default:
        break;
    }
    ++i;
  }
  return false;
}

bool is_number_char(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

bool skip_literal(std::string_view s, std::size_t& i, std::string_view literal) {
  if (s.substr(i, literal.size()) != literal) return false;
  i += literal.size();
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Compares a raw (possibly escaped) JSON key with a plain ASCII name, so "s\u0065q" is still "seq" and a key
// spelled with escapes cannot slip past the renumbering.
bool key_equals(std::string_view raw, std::string_view want) {
  if (raw.find('\\') == std::string_view::npos) return raw == want;
  std::size_t j = 0;
  std::size_t i = 0;
  while (i < raw.size()) {
    char c = raw[i];
    if (c != '\\') {
      ++i;
    } else {
      if (i + 1 >= raw.size()) return false;
      switch (raw[i + 1]) {
        case '"':
          c = '"';
          break;
        case '\\':
          c = '\\';
          break;
        case '/':
          c = '/';
          break;
        case 'b':
          c = '\b';
          break;
        case 'f':
          c = '\f';
          break;
        case 'n':
          c = '\n';
          break;
        case 'r':
          c = '\r';
          break;
        case 't':
          c = '\t';
          break;
        case 'u': {
          if (i + 6 > raw.size()) return false;
          int code = 0;
          for (std::size_t k = i + 2; k < i + 6; ++k) {
            const int h = hex_value(raw[k]);
            if (h < 0) return false;
            code = code * 16 + h;
          }
          if (code >= 0x80) return false;  // `want` is ASCII
          c = static_cast<char>(code);
          i += 4;
          break;
        }
        default:
          return false;
      }
      i += 2;
    }
    if (j >= want.size() || want[j] != c) return false;
    ++j;
  }
  return j == want.size();
}

std::optional<std::int64_t> parse_int(std::string_view token) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (ec != std::errc() || end != token.data() + token.size()) return std::nullopt;
  return value;
}

// Calls on_member for every top-level member; returns false unless `s` is one JSON object (plus whitespace).
// `open` receives the index of the opening brace, `members` the member count. When stop_before(key) is true
// the scan ends at that member, counted but not read, and the rest of `s` is not looked at.
template <class OnMember, class StopBefore>
bool scan_members(std::string_view s, std::size_t& open, std::size_t& members, OnMember&& on_member,
                  StopBefore&& stop_before) {
  std::size_t i = 0;
  // A UTF-8 byte order mark is legal before JSON text (nlohmann accepts it); do not reject such a body.
  if (s.starts_with("\xEF\xBB\xBF")) i = 3;
  skip_ws(s, i);
  if (i >= s.size() || s[i] != '{') return false;
  open = i++;
  members = 0;
  skip_ws(s, i);
  if (i < s.size() && s[i] == '}') {
    ++i;
  } else {
    for (;;) {
      skip_ws(s, i);
      if (i >= s.size() || s[i] != '"') return false;
      const std::size_t key_begin = i + 1;
      if (!skip_string(s, i)) return false;
      const std::string_view key = s.substr(key_begin, i - 1 - key_begin);
      if (stop_before(key)) {
        ++members;
        return true;
      }
      skip_ws(s, i);
      if (i >= s.size() || s[i] != ':') return false;
      ++i;
      skip_ws(s, i);
      if (i >= s.size()) return false;
      const std::size_t value_begin = i;
      Kind kind;
      const char c = s[i];
      if (c == '"') {
        kind = Kind::kString;
        if (!skip_string(s, i)) return false;
      } else if (c == '{' || c == '[') {
        kind = Kind::kNested;
        if (!skip_nested(s, i)) return false;
      } else if (c == 't') {
        kind = Kind::kTrue;
        if (!skip_literal(s, i, "true")) return false;
      } else if (c == 'f') {
        kind = Kind::kFalse;
        if (!skip_literal(s, i, "false")) return false;
      } else if (c == 'n') {
        kind = Kind::kNull;
        if (!skip_literal(s, i, "null")) return false;
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        kind = Kind::kNumber;
        while (i < s.size() && is_number_char(s[i])) ++i;
      } else {
        return false;
      }
      on_member(Member{key, value_begin, i, kind});
      ++members;
      skip_ws(s, i);
      if (i >= s.size()) return false;
      if (s[i] == ',') {
        ++i;
        continue;
      }
      if (s[i] != '}') return false;
      ++i;
      break;
    }
  }
  skip_ws(s, i);
  return i == s.size();
}

}  // namespace

std::optional<Envelope> scan_envelope(std::string_view body, EnvelopeScope scope) {
  Envelope env;
  std::size_t open = 0;
  std::size_t members = 0;
  // Every field the relay routes and renumbers by is known once these are: nothing later can change them but
  // a repeated key.
  const auto routing_known = [&] {
    if (!env.seq) return false;
    if (env.type == "response") return env.request_seq && !env.command.empty();
    if (env.type == "event") return !env.event.empty();
    return env.type == "request" && !env.command.empty();
  };
  const auto stop_before = [&](std::string_view raw_key) {
    return scope == EnvelopeScope::kUpToBody && key_equals(raw_key, "body") && routing_known();
  };
  const bool ok = scan_members(
      body, open, members,
      [&](const Member& m) {
        const std::string_view value = body.substr(m.value_begin, m.value_end - m.value_begin);
        const std::string_view string_value =
            m.kind == Kind::kString ? value.substr(1, value.size() - 2) : std::string_view();
        const auto number_value = m.kind == Kind::kNumber ? parse_int(value) : std::nullopt;
        const auto remember_slot = [&](bool request_seq) {
          if (env.slot_count == env.slots.size()) {
            env.too_many_slots = true;
            return;
          }
          env.slots[env.slot_count++] = Envelope::NumberSlot{m.value_begin, m.value_end, request_seq};
        };
        if (key_equals(m.raw_key, "type")) {
          env.type = string_value;
        } else if (key_equals(m.raw_key, "seq")) {
          env.seq = number_value;
          remember_slot(false);
        } else if (key_equals(m.raw_key, "request_seq")) {
          env.request_seq = number_value;
          remember_slot(true);
        } else if (key_equals(m.raw_key, "command")) {
          env.command = string_value;
        } else if (key_equals(m.raw_key, "event")) {
          env.event = string_value;
        } else if (key_equals(m.raw_key, "success")) {
          env.success = m.kind == Kind::kTrue;
        }
      },
      stop_before);
  if (!ok) return std::nullopt;
  env.open = open;
  env.members = members;
  return env;
}

namespace {

struct Edit {
  std::size_t begin;
  std::size_t end;
  std::string text;
};

// Applies value edits and inserts the fields not `seen` after the opening brace, rebuilding the body at most
// once.
void apply_edits(std::string& body, std::vector<Edit>& edits, std::span<const NumberField> fields,
                 const std::vector<bool>& seen, std::size_t open, std::size_t members) {
  std::string inserted;
  for (std::size_t f = 0; f < fields.size(); ++f) {
    if (seen[f]) continue;
    if (!inserted.empty()) inserted += ',';
    inserted += '"';
    inserted.append(fields[f].key);
    inserted += "\":";
    inserted += std::to_string(fields[f].value);
  }
  if (!inserted.empty()) {
    if (members > 0) inserted += ',';
    edits.push_back({open + 1, open + 1, std::move(inserted)});
  }
  if (edits.empty()) return;

  const bool same_sizes =
      std::all_of(edits.begin(), edits.end(), [](const Edit& e) { return e.text.size() == e.end - e.begin; });
  if (same_sizes) {
    for (const Edit& e : edits) body.replace(e.begin, e.end - e.begin, e.text);
    return;
  }
  // Rebuild once instead of shifting a large tail per edit.
  std::sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
  std::size_t size = body.size();
  for (const Edit& e : edits) size = size - (e.end - e.begin) + e.text.size();
  std::string out;
  out.reserve(size);
  std::size_t pos = 0;
  for (const Edit& e : edits) {
    out.append(body, pos, e.begin - pos);
    out += e.text;
    pos = e.end;
  }
  out.append(body, pos, std::string::npos);
  body = std::move(out);
}

}  // namespace

bool set_top_level_numbers(std::string& body, std::span<const NumberField> fields) {
  std::vector<Edit> edits;
  std::vector<bool> seen(fields.size(), false);
  std::size_t open = 0;
  std::size_t members = 0;
  const bool ok = scan_members(
      body, open, members,
      [&](const Member& m) {
        for (std::size_t f = 0; f < fields.size(); ++f) {
          if (key_equals(m.raw_key, fields[f].key)) {
            seen[f] = true;
            edits.push_back({m.value_begin, m.value_end, std::to_string(fields[f].value)});
            break;
          }
        }
      },
      [](std::string_view) { return false; });
  if (!ok) return false;
  apply_edits(body, edits, fields, seen, open, members);
  return true;
}

bool set_scanned_numbers(std::string& body, const Envelope& env, std::span<const NumberField> fields) {
  if (env.too_many_slots) return set_top_level_numbers(body, fields);
  std::vector<Edit> edits;
  std::vector<bool> seen(fields.size(), false);
  for (std::size_t k = 0; k < env.slot_count; ++k) {
    const auto& slot = env.slots[k];
    for (std::size_t f = 0; f < fields.size(); ++f) {
      if (fields[f].key == (slot.request_seq ? "request_seq" : "seq")) {
        seen[f] = true;
        edits.push_back({slot.begin, slot.end, std::to_string(fields[f].value)});
        break;
      }
    }
  }
  apply_edits(body, edits, fields, seen, env.open, env.members);
  return true;
}

bool set_top_level_number(std::string& body, std::string_view key, std::int64_t value) {
  const NumberField field{key, value};
  return set_top_level_numbers(body, std::span<const NumberField>(&field, 1));
}

}  // namespace kdap::dap
