#include "bridge/cli/endpoint.h"

#include <charconv>
#include <stdexcept>

namespace kdap::cli {

boost::asio::ip::tcp::endpoint parse_listen_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("--listen wants HOST:PORT, e.g. 127.0.0.1:0");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  auto digits = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size() || port > 65535) {
    throw std::invalid_argument("--listen: '" + digits + "' is not a port number");
  }
  boost::system::error_code bad;
  auto address = boost::asio::ip::make_address(host.empty() ? "127.0.0.1" : host, bad);
  if (bad) throw std::invalid_argument("--listen: '" + host + "' is not an IP address");
  if (!address.is_loopback()) {
    throw std::invalid_argument(
        "--listen " + text +
        ": kdap listens on loopback only (127.0.0.1 or [::1]); whoever reaches this port "
        "controls a debugger on the node. Reach it from elsewhere through ssh -L.");
  }
  return {address, static_cast<unsigned short>(port)};
}

}  // namespace kdap::cli
