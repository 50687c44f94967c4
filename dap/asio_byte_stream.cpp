#include "dap/asio_byte_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <boost/system/error_code.hpp>

namespace kdap::dap {

template class AsioByteStream<asio::ip::tcp::socket>;
template class AsioByteStream<asio::posix::stream_descriptor>;

namespace {

std::unique_ptr<ByteStream> make_descriptor_stream(const asio::any_io_executor& executor, int fd,
                                                   const char* what) {
  // Close-on-exec: a child process (dlv, ssh helpers) must not hold the editor's pipe open after we exit.
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    throw boost::system::system_error(boost::system::error_code(errno, boost::system::system_category()),
                                      what);
  }
  asio::posix::stream_descriptor descriptor(executor);
  boost::system::error_code ec;
  descriptor.assign(copy, ec);
  if (ec) {
    ::close(copy);
    throw boost::system::system_error(ec, what);
  }
  return std::make_unique<DescriptorByteStream>(std::move(descriptor));
}

}  // namespace

std::unique_ptr<ByteStream> make_stdin_stream(const asio::any_io_executor& executor) {
  return make_descriptor_stream(executor, STDIN_FILENO, "dup(stdin)");
}

std::unique_ptr<ByteStream> make_stdout_stream(const asio::any_io_executor& executor) {
  return make_descriptor_stream(executor, STDOUT_FILENO, "dup(stdout)");
}

}  // namespace kdap::dap
