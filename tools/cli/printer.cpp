#include "printer.hpp"

#include <boost/json/serialize.hpp>

#include <ctime>
#include <iostream>

namespace chatrix::cli {

void printer::record(const boost::json::object& fields, const std::string& line) const {
  if (json_) std::cout << boost::json::serialize(fields) << '\n';
  else std::cout << line << '\n';
  std::cout.flush();
}

std::string utc_time(std::int64_t unix_seconds) {
  const auto seconds = static_cast<std::time_t>(unix_seconds);
  std::tm parts{};
  ::gmtime_r(&seconds, &parts);
  char text[32];
  const std::size_t size = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return std::string(text, size);
}

std::string display(const std::string& username, const std::string& name) {
  return name.empty() || name == username ? username : username + " (" + name + ")";
}

}  // namespace chatrix::cli
