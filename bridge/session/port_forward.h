#pragma once
// Two byte streams joined both ways until either side ends: the port forward of `kdap up`, where the client
// (GoLand, `dlv connect`) speaks Delve's JSON-RPC, which kdap does not interpret.

#include <boost/asio/awaitable.hpp>

#include "dap/byte_stream.h"

namespace kdap::session {

boost::asio::awaitable<void> join_streams(dap::ByteStream& a, dap::ByteStream& b);

}  // namespace kdap::session
