#pragma once
// Runs two operations side by side; the first to finish, normally or by exception, wins and the other is
// cancelled and awaited. Asio's `a || b` is not used for this: it waits for the first *success*, so an
// operation that fails would leave the race hanging on the other side.

#include <array>
#include <exception>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace kdap {

// Returns 0 when `a` finished first, 1 when `b` did; rethrows the winner's exception.
inline boost::asio::awaitable<int> race(boost::asio::awaitable<void> a, boost::asio::awaitable<void> b) {
  auto ex = co_await boost::asio::this_coro::executor;
  auto [order, error_a, error_b] =
      co_await boost::asio::experimental::make_parallel_group(
          boost::asio::co_spawn(ex, std::move(a), boost::asio::deferred),
          boost::asio::co_spawn(ex, std::move(b), boost::asio::deferred))
          .async_wait(boost::asio::experimental::wait_for_one(), boost::asio::use_awaitable);
  int first = static_cast<int>(order[0]);
  std::exception_ptr error = first == 0 ? error_a : error_b;
  if (error) std::rethrow_exception(error);
  co_return first;
}

// The same race, for callers that only need it to end.
inline boost::asio::awaitable<void> either(boost::asio::awaitable<void> a, boost::asio::awaitable<void> b) {
  co_await race(std::move(a), std::move(b));
}

}  // namespace kdap
