#pragma once
// Every wait in kdap has a deadline: this races an operation against a timer and names what timed out.

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "bridge/util/race.h"

namespace kdap {

class TimeoutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class T>
boost::asio::awaitable<void> store(boost::asio::awaitable<T> op, std::optional<T>& into) {
  into.emplace(co_await std::move(op));
}
}  // namespace detail

template <class T>
boost::asio::awaitable<T> with_timeout(boost::asio::awaitable<T> op,
                                       std::chrono::steady_clock::duration limit, std::string what) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, limit);
  auto expire = [](boost::asio::steady_timer& t) -> boost::asio::awaitable<void> {
    co_await t.async_wait(boost::asio::use_awaitable);
  };
  int winner = 0;
  if constexpr (std::is_void_v<T>) {
    winner = co_await race(std::move(op), expire(timer));
  } else {
    std::optional<T> result;
    winner = co_await race(detail::store(std::move(op), result), expire(timer));
    if (winner == 0) co_return std::move(*result);
  }
  if (winner == 1) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(limit).count();
    throw TimeoutError(what + " did not finish within " + std::to_string(ms / 1000) + "." +
                       std::to_string(ms % 1000 / 100) + " s");
  }
}

// Waits for `op` at most `limit`; true when it finished in time. Never throws for the timeout.
inline boost::asio::awaitable<bool> finishes_within(boost::asio::awaitable<void> op,
                                                    std::chrono::steady_clock::duration limit) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, limit);
  auto expire = [](boost::asio::steady_timer& t) -> boost::asio::awaitable<void> {
    co_await t.async_wait(boost::asio::use_awaitable);
  };
  int winner = co_await race(std::move(op), expire(timer));
  co_return winner == 0;
}

}  // namespace kdap
