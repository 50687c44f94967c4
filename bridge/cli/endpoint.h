#pragma once
// "HOST:PORT" for kdap's own listeners; loopback by default, because whoever reaches the port drives dlv.

#include <string>

#include <boost/asio/ip/tcp.hpp>

namespace kdap::cli {

// Throws std::invalid_argument with a message for the user.
boost::asio::ip::tcp::endpoint parse_listen_endpoint(const std::string& text);

}  // namespace kdap::cli
