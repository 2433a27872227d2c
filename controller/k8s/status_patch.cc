#include "controller/k8s/status_patch.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace atrium::controller::k8s {

namespace {

bool isIp(const std::string& text) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(text, ec);
  return !ec;
}

// RFC 1123 DNS name: labels of [a-z0-9-], not starting or ending with '-', up to 253 chars.
bool isDnsName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '.') {
      if (label == 0 || name[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok || (label == 0 && c == '-') || ++label > 63) return false;
  }
  return label > 0 && name.back() != '-';
}

nlohmann::json addressEntry(const std::string& address) {
  return isIp(address) ? nlohmann::json{{"ip", address}} : nlohmann::json{{"hostname", address}};
}

// The ip/hostname pairs of a status.loadBalancer.ingress array, for comparison.
nlohmann::json addressesOnly(const nlohmann::json& entries) {
  nlohmann::json out = nlohmann::json::array();
  if (!entries.is_array()) return out;
  for (const auto& e : entries) {
    if (!e.is_object()) continue;
    nlohmann::json item = nlohmann::json::object();
    for (const char* key : {"ip", "hostname"}) {
      if (e.contains(key) && e[key].is_string()) item[key] = e[key];
    }
    out.push_back(std::move(item));
  }
  return out;
}

const nlohmann::json& at(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string timeText(bool micros) {
  auto now = std::chrono::system_clock::now();
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[40];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &utc);
  std::string text = buffer;
  if (micros) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()) %
              std::chrono::seconds(1);
    char frac[16];
    std::snprintf(frac, sizeof(frac), ".%06lld", static_cast<long long>(us.count()));
    text += frac;
  }
  return text + "Z";
}

}  // namespace

std::string rfc3339Now() { return timeText(false); }
std::string microTimeNow() { return timeText(true); }

nlohmann::json parsePublishAddresses(const std::string& flag, std::string& error) {
  nlohmann::json out = nlohmann::json::array();
  size_t start = 0;
  while (start <= flag.size()) {
    size_t comma = flag.find(',', start);
    if (comma == std::string::npos) comma = flag.size();
    std::string item = flag.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!isIp(item) && !isDnsName(item)) {
      error = "--publish-address: \"" + item + "\" is neither an IP address nor a DNS name";
      return nlohmann::json::array();
    }
    out.push_back(addressEntry(item));
    start = comma + 1;
  }
  return out;
}

nlohmann::json serviceAddresses(const KubeObject& service) {
  nlohmann::json out = nlohmann::json::array();
  const auto& spec = at(service.body, "spec");
  if (at(spec, "type") == "ExternalName") {
    if (at(spec, "externalName").is_string()) out.push_back(addressEntry(spec["externalName"]));
    return out;
  }
  for (const auto& e : addressesOnly(at(at(at(service.body, "status"), "loadBalancer"), "ingress"))) {
    if (!e.empty()) out.push_back(e);
  }
  const auto& external = at(spec, "externalIPs");
  if (external.is_array()) {
    for (const auto& ip : external) {
      if (!ip.is_string()) continue;
      nlohmann::json entry = {{"ip", ip}};
      if (std::find(out.begin(), out.end(), entry) == out.end()) out.push_back(entry);
    }
  }
  return out;
}

std::optional<nlohmann::json> ingressStatusPatch(const KubeObject& ingress,
                                                 const nlohmann::json& addresses) {
  const auto& current = at(at(at(ingress.body, "status"), "loadBalancer"), "ingress");
  if (addressesOnly(current) == addressesOnly(addresses)) return std::nullopt;
  // A merge patch replaces arrays whole; null removes the field.
  nlohmann::json value = addresses.empty() ? nlohmann::json(nullptr) : addresses;
  return nlohmann::json{{"status", {{"loadBalancer", {{"ingress", value}}}}}};
}

std::optional<nlohmann::json> apiRouteStatusPatch(const KubeObject& route,
                                                  const translator::ObjectStatus& desired,
                                                  const std::string& now) {
  const auto& status = at(route.body, "status");
  const auto& current = at(status, "conditions");
  bool same = at(status, "observedGeneration") == desired.generation && current.is_array() &&
              current.size() == desired.conditions.size();
  nlohmann::json conditions = nlohmann::json::array();
  for (size_t i = 0; i < desired.conditions.size(); ++i) {
    const auto& want = desired.conditions[i];
    const std::string status_text = want.status ? "True" : "False";
    const nlohmann::json* old = nullptr;
    if (current.is_array()) {
      for (const auto& c : current) {
        if (at(c, "type") == want.type) old = &c;
      }
    }
    std::string since = now;
    if (old && at(*old, "status") == status_text && at(*old, "lastTransitionTime").is_string()) {
      since = (*old)["lastTransitionTime"].get<std::string>();
    }
    if (!old || at(*old, "status") != status_text || at(*old, "reason") != want.reason ||
        at(*old, "message") != want.message ||
        at(*old, "observedGeneration") != desired.generation) {
      same = false;
    }
    // Same conditions in another order still count as a change: keep the order stable.
    if (same && at(current[i], "type") != want.type) same = false;
    conditions.push_back({{"type", want.type},
                          {"status", status_text},
                          {"reason", want.reason},
                          {"message", want.message},
                          {"observedGeneration", desired.generation},
                          {"lastTransitionTime", since}});
  }
  if (same) return std::nullopt;
  return nlohmann::json{
      {"status", {{"observedGeneration", desired.generation}, {"conditions", conditions}}}};
}

}  // namespace atrium::controller::k8s
