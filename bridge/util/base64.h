#pragma once
// Base64 (RFC 4648, standard alphabet) as the node's `base64` prints it and the Kubernetes API returns
// `binaryData`: line breaks and spaces are skipped, '=' ends the data.

#include <optional>
#include <string>
#include <string_view>

namespace kdap {

// nullopt when `text` holds a character outside the alphabet.
std::optional<std::string> decode_base64(std::string_view text);

}  // namespace kdap
