#pragma once
// Commands reach the node as one /bin/sh string; every value kdap puts into one goes through shell_quote.

#include <string>
#include <string_view>
#include <vector>

namespace kdap::node {

// POSIX single-quoting: safe for any byte sequence without NUL.
std::string shell_quote(std::string_view word);
std::string shell_join(const std::vector<std::string>& words);

}  // namespace kdap::node
