{{/*
What Atrium reads and writes, and nothing more (SPEC §7). The namespaced kinds go into a
ClusterRole when the release serves every namespace, or into a Role in watchNamespace when it
serves one (then Secrets of other namespaces stay unreadable). IngressClasses are cluster-scoped
and always need the ClusterRole.

Writes: only the status subresources, which Atrium's leader fills in (Ingress
status.loadBalancer, APIRoute status.conditions). No verb here can change a spec, create or
delete anything; Leases have their own Role in the release namespace (role-leader-election.yaml).
*/}}
{{- define "atrium.rbac.clusterScopedRules" -}}
- apiGroups: ["networking.k8s.io"]
  resources: ["ingressclasses"]
  verbs: ["get", "list", "watch"]
{{- end -}}

{{- define "atrium.rbac.namespacedRules" -}}
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["services", "secrets"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["atrium.dev"]
  resources: ["apiroutes", "apiconsumers"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses/status"]
  verbs: ["update", "patch"]
- apiGroups: ["atrium.dev"]
  resources: ["apiroutes/status"]
  verbs: ["update", "patch"]
{{- end -}}
