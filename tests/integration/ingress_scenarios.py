"""The Ingress conformance scenarios (default backend, host rules, ingress classes, path rules,
service ports), as data: run through the manifests mode by test_routing.py and through a real
kube-apiserver by tests/k8s/test_ingress_conformance.py, with the same objects and the same
expectations.

Builders are passed in (the `ingress`/`ingress_path` of tests/integration/conftest.py) so this
module imports no conftest and loads under either test folder.
"""

# One echo backend per name; each answers with its name.
SERVICES = ["exact-host", "wild", "exact-foo", "prefix-foo", "aaa", "aaa-x-exact", "short",
            "long", "deflt", "deflt-api", "other-class", "no-class", "named", "numbered"]

# (Host header, expected service or status) for requests to /anything.
HOST_CASES = [
    ("exact.example.com", "exact-host"),
    ("EXACT.Example.COM", "exact-host"),          # host names are case-insensitive
    ("exact.example.com:8080", "exact-host"),     # the port in Host is ignored
    ("Exact.Example.Com:1", "exact-host"),
    ("a.wild.example.com", "wild"),               # wildcard: exactly one label
    ("Zz-9.WILD.example.com", "wild"),
    ("a.wild.example.com:443", "wild"),
    ("wild.example.com", 404),                    # not the bare domain
    ("a.b.wild.example.com", 404),                # not two labels
    ("example.com", 404),
    ("nope.example.com", 404),
]

# (path, expected) on paths.example.com.
PATH_CASES = [
    ("/foo", "exact-foo"),          # Exact /foo
    ("/foo/", "prefix-foo"),        # /foo/ is not /foo: the Prefix /foo/ takes it
    ("/foo/bar", "prefix-foo"),
    ("/FOO", 404),                  # Exact is case-sensitive
    ("/aaa", "aaa"),
    ("/aaa/", "aaa"),
    ("/aaa/b", "aaa"),
    ("/aaa/x", "aaa-x-exact"),      # Exact beats Prefix
    ("/aaa/x/", "aaa"),             # ... only for exactly that path
    ("/aaaccc", 404),               # Prefix is element-wise, never a string prefix
    ("/aa", 404),
    ("/p", "short"),
    ("/p/x", "short"),
    ("/p/q", "long"),               # longest prefix wins (listed after the shorter one)
    ("/p/q/", "long"),
    ("/p/qq", "short"),
    ("/p/q/r", "long"),
    ("/p/q/r/s/t", "long"),         # from the second Ingress of the same host
    ("/r", "short"),
    ("/r/s", "long"),               # longest prefix wins (listed before the shorter one)
    ("/r/s/t", "long"),
    ("/", 404),
]

# (host, path, expected): default backend, service ports, classes.
OTHER_CASES = [
    ("deflt.example.com", "/api/v1", "deflt-api"),
    ("deflt.example.com", "/", "deflt"),
    ("deflt.example.com", "/elsewhere/x", "deflt"),
    ("unrelated.example.com", "/elsewhere", 404),   # a default backend serves its own hosts only
    ("ports.example.com", "/by-name", "named"),
    ("ports.example.com", "/by-number", "numbered"),
    ("foreign.example.com", "/", 404),              # another controller's class
    ("unknown-class.example.com", "/", 404),        # a class that does not exist
    ("classless.example.com", "/", "no-class"),     # with --watch-ingress-without-class
]


def routing_ingresses(ingress, ingress_path, namespace="default"):
    """The Ingresses of the scenarios. Every Service is referenced on port 80, except "multi",
    whose named port "admin" and numbered port 80 reach the "named" and "numbered" backends."""
    def ing(name, rules, **kw):
        return ingress(name, rules, namespace=namespace, **kw)
    return [
        ing("hosts", [
            {"host": "exact.example.com", "paths": [ingress_path("/", "exact-host")]},
            {"host": "*.wild.example.com", "paths": [ingress_path("/", "wild")]},
        ]),
        ing("paths", [{"host": "paths.example.com", "paths": [
            ingress_path("/foo", "exact-foo", path_type="Exact"),
            ingress_path("/foo/", "prefix-foo", path_type="Prefix"),
            ingress_path("/aaa", "aaa"),
            ingress_path("/aaa/x", "aaa-x-exact", path_type="Exact"),
            # Longest prefix wins regardless of list order: short first here ...
            ingress_path("/p", "short"),
            ingress_path("/p/q", "long"),
            # ... and long first here.
            ingress_path("/r/s", "long"),
            ingress_path("/r", "short"),
        ]}]),
        # The same host in a second Ingress: merged with the first.
        ing("paths-more", [{"host": "paths.example.com", "paths": [
            ingress_path("/p/q/r/s", "long"),
        ]}]),
        ing("default", [{"host": "deflt.example.com", "paths": [
            ingress_path("/api", "deflt-api"),
        ]}], default_backend=("deflt", 80)),
        ing("ports", [{"host": "ports.example.com", "paths": [
            ingress_path("/by-name", "multi", port="admin"),
            ingress_path("/by-number", "multi", port=80),
        ]}]),
        ing("foreign", [{"host": "foreign.example.com", "paths": [
            ingress_path("/", "other-class"),
        ]}], class_name="other"),
        ing("unknown-class", [{"host": "unknown-class.example.com", "paths": [
            ingress_path("/", "other-class"),
        ]}], class_name="not-installed"),
        ing("classless", [{"host": "classless.example.com", "paths": [
            ingress_path("/", "no-class"),
        ]}], class_name=None),
    ]
