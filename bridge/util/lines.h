#pragma once
// Command output and files from the node are read line by line in many places; one definition of a line.

#include <string_view>
#include <vector>

namespace kdap {

// The lines of `text` without their '\n'. A last line without '\n' counts; an empty text has no lines.
inline std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto end = text.find('\n');
    lines.push_back(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  }
  return lines;
}

}  // namespace kdap
