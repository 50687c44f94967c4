#include "bridge/node/ssh_destination.h"

#include <charconv>
#include <stdexcept>

namespace kdap::node {
namespace {

unsigned parse_port(std::string_view text, std::string_view whole) {
  unsigned port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port == 0 || port > 65535) {
    throw std::invalid_argument("host '" + std::string(whole) + "' has an invalid port '" +
                                std::string(text) +
                                "'; write [user@]hostname[:port] with a port from 1 to 65535");
  }
  return port;
}

}  // namespace

SshDestination parse_ssh_destination(std::string_view text) {
  SshDestination dest;
  std::string_view rest = text;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    if (at == 0) throw std::invalid_argument("host '" + std::string(text) + "' has an empty user name");
    dest.user = std::string(rest.substr(0, at));
    rest.remove_prefix(at + 1);
  }
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) {
      throw std::invalid_argument("host '" + std::string(text) + "' opens '[' without a closing ']'");
    }
    dest.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        throw std::invalid_argument("host '" + std::string(text) + "': expected ':' after ']'");
      dest.port = parse_port(rest.substr(1), text);
    }
  } else if (auto colon = rest.find(':'); colon != std::string_view::npos) {
    if (rest.find(':', colon + 1) != std::string_view::npos) {
      throw std::invalid_argument("host '" + std::string(text) + "': write an IPv6 address as [addr]:port");
    }
    dest.host = std::string(rest.substr(0, colon));
    dest.port = parse_port(rest.substr(colon + 1), text);
  } else {
    dest.host = std::string(rest);
  }
  if (dest.host.empty()) throw std::invalid_argument("host '" + std::string(text) + "' names no host");
  return dest;
}

}  // namespace kdap::node
