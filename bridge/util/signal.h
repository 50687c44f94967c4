#pragma once
// A level-free wake-up: every coroutine waiting on it resumes at the next notify(). Waiters re-check their
// own condition, so a notify that finds no waiter is never needed later.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace kdap {

class Signal {
 public:
  explicit Signal(const boost::asio::any_io_executor& ex)
      : timer_(ex, boost::asio::steady_timer::time_point::max()) {}
  void notify() { timer_.cancel(); }
  boost::asio::awaitable<void> wait() {
    boost::system::error_code ec;
    co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  }

 private:
  boost::asio::steady_timer timer_;
};

}  // namespace kdap
