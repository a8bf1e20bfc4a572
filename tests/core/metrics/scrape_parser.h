// Test helper: a small reader of the text exposition format, enough to check our own scrapes
// (sample lines, label pairs with escapes, TYPE lines).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace ribbon::metrics::testing {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;  // unescaped values
  double value = 0;
};

struct Scrape {
  std::map<std::string, std::string> types;  // family name -> counter / gauge / histogram
  std::vector<Sample> samples;

  // The value of the one sample with this name and exactly these labels; -1 if none.
  double Value(const std::string& name,
               const std::map<std::string, std::string>& labels = {}) const;
};

// Parses `text`; throws std::runtime_error on a malformed line (tests only).
Scrape ParseScrape(const std::string& text);

}  // namespace ribbon::metrics::testing
