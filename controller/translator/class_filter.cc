#include "controller/translator/class_filter.h"

namespace atrium::controller::translator {

namespace {

bool controlledByUs(const KubeObject& ingress_class) {
  const auto& spec = ingress_class.body.value("spec", nlohmann::json::object());
  auto controller = spec.find("controller");
  return controller != spec.end() && controller->is_string() &&
         controller->get<std::string>() == kControllerName;
}

}  // namespace

ClassFilter::ClassFilter(const ObjectStore& objects, const TranslatorOptions& options)
    : objects_(objects), options_(options) {
  for (const auto& [key, ic] : objects.all("IngressClass")) {
    const auto& annotations =
        ic.body.value("metadata", nlohmann::json::object()).value("annotations", nlohmann::json::object());
    auto flag = annotations.find("ingressclass.kubernetes.io/is-default-class");
    if (controlledByUs(ic) && flag != annotations.end() && flag->is_string() &&
        flag->get<std::string>() == "true") {
      default_class_is_ours_ = true;
    }
  }
}

bool ClassFilter::isOurs(const std::optional<std::string>& class_name) const {
  if (!class_name) return default_class_is_ours_ || options_.watch_without_class;
  if (*class_name == options_.ingress_class) return true;
  const KubeObject* ic = objects_.find("IngressClass", "", *class_name);
  return ic && controlledByUs(*ic);
}

}  // namespace atrium::controller::translator
