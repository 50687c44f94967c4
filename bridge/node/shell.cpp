#include "bridge/node/shell.h"

#include <charconv>
#include <cstdint>
#include <random>

namespace kdap::node {

const std::string_view kStartTimeFunction =
    "kdap_start_time() { t=; { read -r t < /proc/$1/stat; } 2>/dev/null; t=${t##*) }; set -- $t; t=${20-}; "
    "}; ";

std::string end_process_tree(std::string_view pid_and_start) {
  std::string entry(pid_and_start);
  std::string pid = entry.substr(0, entry.find(':'));
  std::string start = entry.substr(entry.find(':') + 1);
  // Breadth first through /proc/PID/task/*/children: a shell function cannot recurse with local variables.
  return "k=" + shell_quote(pid) + "; kdap_start_time $k; [ -n \"$t\" ] && [ \"$t\" = " + shell_quote(start) +
         " ] || exit 0; all=; todo=$k; "
         "while [ -n \"$todo\" ]; do set -- $todo; todo=; for p in \"$@\"; do all=\"$all $p\"; "
         "for f in /proc/$p/task/*/children; do c=; { read -r c < \"$f\"; } 2>/dev/null; todo=\"$todo $c\"; "
         "done; "
         "done; done; kill -TERM $all 2>/dev/null; i=0; while [ $i -lt 10 ]; do alive=; "
         "for p in $all; do s=; { read -r s < /proc/$p/stat; } 2>/dev/null; s=${s##*) }; "
         "[ -n \"$s\" ] && [ \"${s%% *}\" != Z ] && alive=1; done; [ -n \"$alive\" ] || exit 0; sleep 0.1; "
         "i=$((i+1)); done; kill -KILL $all 2>/dev/null; true";
}

std::string kill_same_processes(std::string_view entries) {
  return "for e in " + std::string(entries) +
         "; do k=${e%%:*}; kdap_start_time $k; [ -n \"$t\" ] && [ \"$t\" = \"${e#*:}\" ] && kill -KILL $k "
         "2>/dev/null; "
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
