#include "controller/translator/backend_ref_reader.h"

namespace atrium::controller::translator {

std::optional<config::WeightedBackend> readBackendRef(TranslationContext& ctx, FieldReader& r,
                                                      const KubeObject& object,
                                                      const nlohmann::json& ref,
                                                      const std::string& path, uint32_t weight,
                                                      const std::optional<UpstreamTls>& tls) {
  const auto* service = r.object(ref, path, "service");
  auto url = r.string(ref, path, "url");
  if ((service != nullptr) == url.has_value()) {
    r.error(path, "exactly one of service or url is required");
    return std::nullopt;
  }
  if (url) {
    auto backend = ctx.resolveUrl(*url, weight, tls);
    if (backend.cluster.empty()) {
      r.error(FieldReader::join(path, "url"), backend.unresolved_reason);
      return std::nullopt;
    }
    return backend;
  }
  const std::string spath = FieldReader::join(path, "service");
  auto name = r.string(*service, spath, "name");
  if (!name || name->empty()) {
    r.error(FieldReader::join(spath, "name"), "is required");
    return std::nullopt;
  }
  ServicePortRef port_ref;
  const auto port = service->value("port", nlohmann::json());
  if (port.is_number_integer() && port.get<int64_t>() >= 1 && port.get<int64_t>() <= 65535) {
    port_ref.port = port.get<int64_t>();
  } else if (port.is_string() && !port.get<std::string>().empty()) {
    port_ref.port = port.get<std::string>();
  } else {
    r.error(FieldReader::join(spath, "port"), "must be a port number (1-65535) or a port name");
    return std::nullopt;
  }
  auto backend = ctx.resolveService(object.ns, *name, port_ref, weight, tls.value_or(UpstreamTls{}));
  if (backend.cluster.empty()) {
    r.warning(spath, backend.unresolved_reason + " (requests answer 500)");
    ctx.noteUnresolved(object, spath, backend.unresolved_reason);
  }
  return backend;
}

}  // namespace atrium::controller::translator
