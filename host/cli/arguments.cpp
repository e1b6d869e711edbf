#include "cli/arguments.hpp"

namespace connector::host {

Arguments::Arguments(const std::vector<std::string>& words, const std::set<std::string>& valued,
                     const std::set<std::string>& flags) {
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word.rfind("--", 0) != 0) {
      positional_.push_back(word);
      continue;
    }
    std::string name = word.substr(2);
    std::optional<std::string> value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (flags.count(name) != 0 && !value) {
      flags_.insert(name);
    } else if (valued.count(name) != 0) {
      if (!value) {
        if (i + 1 >= words.size()) throw std::invalid_argument("--" + name + " needs a value");
        value = words[++i];
      }
      values_[name] = *value;
    } else {
      throw std::invalid_argument("unknown option --" + name);
    }
  }
}

std::optional<std::string> Arguments::get(const std::string& name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Arguments::get_or(const std::string& name, const std::string& fallback) const {
  return get(name).value_or(fallback);
}

std::string Arguments::required(const std::string& name) const {
  auto value = get(name);
  if (!value || value->empty()) throw std::invalid_argument("--" + name + " is required");
  return *value;
}

} // namespace connector::host
