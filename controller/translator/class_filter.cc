#include "controller/translator/class_filter.h"

#include "controller/translator/field_reader.h"

namespace atrium::controller::translator {

namespace {

bool controlledByUs(const KubeObject& ingress_class) {
  const auto& spec = jsonAt(ingress_class.body, "spec");
  const auto& controller = jsonAt(spec, "controller");
  return controller.is_string() && controller.get<std::string>() == kControllerName;
}

}  // namespace

ClassFilter::ClassFilter(const ObjectStore& objects, const TranslatorOptions& options)
    : objects_(objects), options_(options) {
  for (const auto& [key, ic] : objects.all("IngressClass")) {
    const auto& annotations =
        jsonAt(jsonAt(ic.body, "metadata"), "annotations");
    const auto& flag = jsonAt(annotations, "ingressclass.kubernetes.io/is-default-class");
    if (controlledByUs(ic) && flag.is_string() && flag.get<std::string>() == "true") {
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
