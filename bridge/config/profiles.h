#pragma once
// Named launch configurations in a YAML file (`.kdap.yaml`), for `kdap up --profile NAME` and for a DAP
// launch that says "profile": NAME. A profile holds the launch configuration's own keys:
//
//   profiles:
//     scheduler:
//       host: root@node-1
//       target: static-pod/kube-scheduler
//       extraArgs: ["--v=4"]

#include <string>

#include "bridge/config/launch_config.h"

namespace kdap::config {

// The profile's keys as JSON (YAML scalars typed as YAML 1.2 would: true/false, integers, null, strings).
// Throws ConfigError naming the file, the profile and the profiles that exist.
Json load_profile(const std::string& file, const std::string& name);

// If `arguments` names a "profile", returns the profile overlaid with `arguments` (the launch's own keys
// win); the file is "configFile", else `.kdap.yaml` in "localRoot", else in the current directory.
Json resolve_profile(const Json& arguments);

}  // namespace kdap::config
