#include "tests/core/metrics/scrape_parser.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace ribbon::metrics::testing {
namespace {

// Reads `k="v",...}` starting after the opening brace; returns the index after the '}'.
size_t ParseLabels(const std::string& line, size_t at, std::map<std::string, std::string>& labels) {
  while (at < line.size() && line[at] != '}') {
    const size_t eq = line.find("=\"", at);
    if (eq == std::string::npos) throw std::runtime_error("bad labels: " + line);
    const std::string key = line.substr(at, eq - at);
    std::string value;
    size_t i = eq + 2;
    for (; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) {
        ++i;
        value += line[i] == 'n' ? '\n' : line[i];
      } else {
        value += line[i];
      }
    }
    if (i >= line.size()) throw std::runtime_error("unterminated label value: " + line);
    labels[key] = value;
    at = i + 1;
    if (at < line.size() && line[at] == ',') ++at;
  }
  if (at >= line.size()) throw std::runtime_error("unterminated labels: " + line);
  return at + 1;
}

}  // namespace

double Scrape::Value(const std::string& name,
                     const std::map<std::string, std::string>& labels) const {
  for (const Sample& sample : samples) {
    if (sample.name == name && sample.labels == labels) return sample.value;
  }
  return -1;
}

Scrape ParseScrape(const std::string& text) {
  Scrape scrape;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name, type;
      words >> name >> type;
      scrape.types[name] = type;
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    Sample sample;
    size_t at = line.find_first_of("{ ");
    if (at == std::string::npos) throw std::runtime_error("bad sample: " + line);
    sample.name = line.substr(0, at);
    if (line[at] == '{') at = ParseLabels(line, at + 1, sample.labels);
    if (at >= line.size() || line[at] != ' ') throw std::runtime_error("bad sample: " + line);
    const std::string value = line.substr(at + 1);
    sample.value = value == "+Inf" ? INFINITY : std::stod(value);
    scrape.samples.push_back(std::move(sample));
  }
  return scrape;
}

}  // namespace ribbon::metrics::testing
