// libFuzzer target for everything that reads untrusted DAP bytes: the framing parser, the envelope scanner
// and rewriter, and SeqMapper. Besides crashes it checks invariants the relay depends on; a violated
// invariant aborts.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "dap/envelope.h"
#include "dap/framing.h"
#include "dap/seq_mapper.h"

namespace {

using kdap::dap::Envelope;
using kdap::dap::NumberField;

#define FUZZ_CHECK(condition)                                                            \
  do {                                                                                   \
    if (!(condition)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)

// Input-derived pseudo-randomness keeps every run reproducible from the input file alone.
class Rng {
 public:
  explicit Rng(std::uint32_t seed) : state_(seed * 2654435761u + 1) {}
  std::uint32_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_;
  }

 private:
  std::uint32_t state_;
};

bool same_routing(const Envelope& a, const Envelope& b) {
  return a.type == b.type && a.request_seq == b.request_seq && a.command == b.command && a.event == b.event &&
         a.success == b.success;
}

void check_body(const std::string& body, kdap::dap::SeqMapper& mapper, bool from_server) {
  const auto env = kdap::dap::scan_envelope(body);

  std::string rewritten = body;
  const bool ok = kdap::dap::set_top_level_number(rewritten, "seq", 123456);
  FUZZ_CHECK(ok == env.has_value());
  if (!ok) FUZZ_CHECK(rewritten == body);
  if (ok) {
    const auto after = kdap::dap::scan_envelope(rewritten);
    FUZZ_CHECK(after.has_value());
    FUZZ_CHECK(after->seq == 123456);
    FUZZ_CHECK(same_routing(*env, *after));
  }

  std::string both = body;
  const NumberField fields[] = {{"seq", -1}, {"request_seq", 9876543210}};
  FUZZ_CHECK(kdap::dap::set_top_level_numbers(both, fields) == ok);
  if (ok) {
    const auto after = kdap::dap::scan_envelope(both);
    FUZZ_CHECK(after && after->seq == -1 && after->request_seq == 9876543210);
  }

  // The scanner must agree with a real parser on valid JSON, or the relay would drop or corrupt messages.
  // (Bounded size: nlohmann's comparison recurses per nesting level.)
  if (body.size() <= 64 * 1024) {
    const auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!json.is_discarded() && json.is_object()) {
      FUZZ_CHECK(env.has_value());
      auto expected = json;
      expected["seq"] = 123456;
      const auto actual = nlohmann::json::parse(rewritten, nullptr, false);
      FUZZ_CHECK(!actual.is_discarded());
      FUZZ_CHECK(actual == expected);
    }
  }

  // A body must survive framing unchanged.
  kdap::dap::FrameParser reparser;
  reparser.feed(kdap::dap::frame(body));
  const auto reparsed = reparser.next();
  FUZZ_CHECK(reparsed && *reparsed == body);

  std::string routed = body;
  if (from_server) {
    (void)mapper.server_to_client(routed);
  } else {
    mapper.client_to_server(routed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Layout: two bytes seed the chunking, the rest is the byte stream.
  if (size < 2) return 0;
  Rng rng(static_cast<std::uint32_t>(data[0]) << 8 | data[1]);
  const std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);

  // A small cap now and then exercises the over-limit path without megabyte inputs.
  kdap::dap::FrameParser parser(rng.next() % 4 == 0 ? 64 : kdap::dap::kDefaultMaxBody);
  kdap::dap::SeqMapper mapper;
  std::size_t offset = 0;
  bool from_server = false;
  try {
    while (offset < stream.size()) {
      const std::size_t chunk = 1 + rng.next() % (1u << (rng.next() % 12));
      parser.feed(stream.substr(offset, chunk));
      offset += chunk;
      while (auto body = parser.next()) {
        check_body(*body, mapper, from_server);
        from_server = !from_server;
      }
    }
  } catch (const kdap::dap::FramingError&) {
    FUZZ_CHECK(parser.failed());
  }
  (void)mapper.take_pending_client_requests();
  return 0;
}
