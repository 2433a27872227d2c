"""docs/migration-from-ingress-nginx.md lists every `nginx.ingress.kubernetes.io/` key that the
Ingress translator reads: the keys it maps (`key == "..."` in ingress_translator.cc and the
canary keys of ingress_canary.cc) and the keys it knows and ignores (its table of ignored keys),
so a key added to the code without its row in the migration table fails here."""

import re

from conftest import REPO_ROOT

TRANSLATOR = REPO_ROOT / "controller" / "translator"
DOC = REPO_ROOT / "docs" / "migration-from-ingress-nginx.md"


def translator_keys():
    keys = set()
    source = (TRANSLATOR / "ingress_translator.cc").read_text()
    keys |= set(re.findall(r'key == "([a-z0-9-]+)"', source))
    # The table of keys that are known and ignored: {"name", "what to do instead"}.
    keys |= {k for k in re.findall(r'^\s*\{"([a-z0-9-]+)",', source, re.M) if len(k) > 1}
    canary = (TRANSLATOR / "ingress_canary.cc").read_text()
    keys |= set(re.findall(r'"(canary(?:-[a-z]+)*)"', canary))
    keys.discard("policy")  # atrium.dev/policy: Atrium's own key, documented with the prefixes
    return keys


def test_every_annotation_key_is_in_the_migration_table():
    doc = DOC.read_text()
    keys = translator_keys()
    assert {"rewrite-target", "enable-cors", "limit-rps", "canary-weight", "auth-type",
            "force-ssl-redirect"} <= keys, keys
    missing = sorted(k for k in keys if f"`{k}`" not in doc)
    assert not missing, f"add these keys to {DOC.name}: {missing}"
