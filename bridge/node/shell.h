#pragma once
// Commands reach the node as one /bin/sh string; every value kdap puts into one goes through shell_quote.

#include <string>
#include <string_view>
#include <vector>

namespace kdap::node {

// POSIX single-quoting: safe for any byte sequence without NUL.
std::string shell_quote(std::string_view word);
std::string shell_join(const std::vector<std::string>& words);
// 16 hex digits from the system's random source: markers and delimiters that a command's own text or output
// cannot contain by chance.
std::string random_token();

}  // namespace kdap::node
