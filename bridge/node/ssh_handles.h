#pragma once
// Owning handles for libssh objects, so that no error path leaks a session, channel or key.

#include <libssh/libssh.h>

#include <memory>

namespace kdap::node {

struct SshSessionDeleter {
  void operator()(ssh_session s) const {
    ssh_disconnect(s);
    ssh_free(s);
  }
};
struct SshKeyDeleter {
  void operator()(ssh_key k) const { ssh_key_free(k); }
};
struct SshEventDeleter {
  void operator()(ssh_event e) const { ssh_event_free(e); }
};
struct SshStringDeleter {
  void operator()(char* s) const { ssh_string_free_char(s); }
};

using SshSessionPtr = std::unique_ptr<ssh_session_struct, SshSessionDeleter>;
using SshKeyPtr = std::unique_ptr<ssh_key_struct, SshKeyDeleter>;
using SshEventPtr = std::unique_ptr<ssh_event_struct, SshEventDeleter>;
using SshCharPtr = std::unique_ptr<char, SshStringDeleter>;

}  // namespace kdap::node
