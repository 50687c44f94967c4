#include "bridge/config/profiles.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <filesystem>

namespace kdap::config {
namespace {

Json scalar_to_json(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted in the file: always a string
  if (text == "true" || text == "True") return true;
  if (text == "false" || text == "False") return false;
  if (text == "null" || text == "~" || text.empty()) return nullptr;
  long long integer = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), integer);
  if (ec == std::errc() && end == text.data() + text.size()) return integer;
  return text;
}

Json to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      Json object = Json::object();
      for (const auto& kv : node) object[kv.first.as<std::string>()] = to_json(kv.second);
      return object;
    }
    case YAML::NodeType::Sequence: {
      Json array = Json::array();
      for (const auto& item : node) array.push_back(to_json(item));
      return array;
    }
    case YAML::NodeType::Scalar:
      return scalar_to_json(node);
    default:
      return nullptr;
  }
}

}  // namespace

Json load_profile(const std::string& file, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    throw ConfigError("profile '" + name + "': cannot read " + file +
                      " (set configFile, or run kdap where .kdap.yaml is)");
  } catch (const YAML::Exception& e) {
    throw ConfigError(file + " is not valid YAML: " + e.msg + " at line " + std::to_string(e.mark.line + 1));
  }
  const YAML::Node profiles = root["profiles"];
  if (!profiles || !profiles.IsMap()) throw ConfigError(file + " has no `profiles:` map");
  const YAML::Node profile = profiles[name];
  if (!profile || !profile.IsMap()) {
    std::string known;
    for (const auto& kv : profiles) known += (known.empty() ? "" : ", ") + kv.first.as<std::string>();
    throw ConfigError("there is no profile '" + name + "' in " + file +
                      "; profiles there: " + (known.empty() ? "none" : known));
  }
  return to_json(profile);
}

Json resolve_profile(const Json& arguments) {
  if (!arguments.is_object() || !arguments.contains("profile")) return arguments;
  if (!arguments["profile"].is_string())
    throw ConfigError("launch configuration: `profile` must be a string");
  std::string file;
  if (arguments.contains("configFile") && arguments["configFile"].is_string()) {
    file = arguments["configFile"].get<std::string>();
  } else if (arguments.contains("localRoot") && arguments["localRoot"].is_string()) {
    file = (std::filesystem::path(arguments["localRoot"].get<std::string>()) / ".kdap.yaml").string();
  } else {
    file = ".kdap.yaml";
  }
  Json merged = load_profile(file, arguments["profile"].get<std::string>());
  for (auto& [key, value] : arguments.items()) {
    if (key != "profile" && key != "configFile") merged[key] = value;
  }
  return merged;
}

}  // namespace kdap::config
