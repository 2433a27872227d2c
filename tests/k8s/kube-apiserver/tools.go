//go:build tools

// Package tools only records that this module exists to build kube-apiserver, so that
// `go mod tidy` keeps its dependencies. It is never compiled (the `tools` tag is never set);
// the binary is built with `go build k8s.io/kubernetes/cmd/kube-apiserver` from this folder.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
