#include "bridge/node/shell.h"

#include <charconv>
#include <cstdint>
#include <random>

namespace kdap::node {

const std::string_view kStartTimeFunction =
    "st() { t=; { read -r t < /proc/$1/stat; } 2>/dev/null; t=${t##*) }; set -- $t; t=${20-}; }; ";

std::string kill_same_processes(std::string_view entries) {
  return "for e in " + std::string(entries) +
         "; do k=${e%%:*}; st $k; [ -n \"$t\" ] && [ \"$t\" = \"${e#*:}\" ] && kill -KILL $k 2>/dev/null; "
         "done; ";
}

std::string shell_quote(std::string_view word) {
  bool plain = !word.empty();
  for (char c : word) {
    bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                std::string_view("-_./=:,@+%").find(c) != std::string_view::npos;
    if (!safe) {
      plain = false;
      break;
    }
  }
  if (plain) return std::string(word);
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  quoted += '\'';
  return quoted;
}

std::string shell_join(const std::vector<std::string>& words) {
  std::string joined;
  for (const auto& w : words) {
    if (!joined.empty()) joined += ' ';
    joined += shell_quote(w);
  }
  return joined;
}

std::string random_token() {
  std::random_device device;
  std::uniform_int_distribution<std::uint64_t> any;
  std::uint64_t value = any(device);
  char text[17];
  auto end = std::to_chars(text, text + 16, value, 16).ptr;
  return std::string(text, end);
}

}  // namespace kdap::node
