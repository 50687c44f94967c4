#pragma once
// What kdap answers to `initialize` before it knows the target: the capabilities of dlv's DAP server
// (v1.27), which kdap sits in front of, plus the terminate request kdap itself implements. dlv's own answer
// follows later as a `capabilities` event.

#include <nlohmann/json.hpp>

namespace kdap::session {

nlohmann::json initial_capabilities();
// dlv's initialize response body, with what kdap changes.
nlohmann::json adjust_dlv_capabilities(nlohmann::json dlv_body);

}  // namespace kdap::session
