"""The one list of paths no file tool may ever touch, whatever was granted: keys, credentials, tokens, shell
histories, keychains, cloud CLIs' folders, browser profiles.

files_read, files_list, files_search and docs_index all use it (as the runner's red lines on the argument and
its real path, and as `is_secret` on every entry they walk). Broad by default: a false positive costs a user one
file they can copy elsewhere; a miss leaks a key. Patterns are searched, case-insensitively, in the full path.
"""

from __future__ import annotations

import re

_S = r"(^|[\\/])"  # start of a path component
_E = r"([\\/]|$)"  # end of a component: the folder itself or anything inside it

SECRET_PATH_PATTERNS: list[str] = [
    # SSH, GnuPG, and private keys and certificates stores by extension or name
    _S + r"\.ssh" + _E,
    _S + r"\.gnupg" + _E,
    _S + r"id_(rsa|dsa|ecdsa|ed25519|ecdsa_sk|ed25519_sk|xmss)(\.pub)?$",
    r"\.(pem|key|p12|pfx|ppk|jks|keystore|kdbx|keychain|keychain-db|gpg|asc)$",
    # cloud and cluster CLIs
    _S + r"\.aws" + _E,
    _S + r"\.azure" + _E,
    _S + r"\.config[\\/]gcloud" + _E,
    _S + r"AppData[\\/]Roaming[\\/]gcloud" + _E,
    _S + r"application_default_credentials\.json$",
    _S + r"\.kube" + _E,
    _S + r"\.docker[\\/]config\.json$",
    _S + r"\.oci" + _E,
    _S + r"\.config[\\/](doctl|hcloud|hub|gh|glab-cli)" + _E,
    _S + r"gh[\\/]hosts\.ya?ml$",
    _S + r"\.terraform\.d[\\/]credentials\.tfrc\.json$",
    _S + r"\.(s3cfg|boto|databrickscfg|vault-token)$",
    # package registries and source hosts
    _S + r"\.(npmrc|pypirc|yarnrc\.yml|gem[\\/]credentials)$",
    _S + r"\.cargo[\\/]credentials(\.toml)?$",
    _S + r"\.m2[\\/]settings(-security)?\.xml$",
    _S + r"\.composer[\\/]auth\.json$",
    _S + r"\.(netrc|pgpass|my\.cnf|git-credentials)$",
    _S + r"_netrc$",
    # credential and token files by name
    _S + r"credentials(\.json|\.db|\.toml|\.xml)?$",
    _S + r"(client_secret[^\\/]*|tokens?|access_tokens|service[-_]account[^\\/]*)\.(json|db)$",
    _S + r"secrets?\.(json|ya?ml|toml)$",
    _S + r"\.?htpasswd$",
    _S + r"\.env(\.[^\\/]*)?$",
    # shell and REPL histories (they hold pasted passwords and tokens)
    _S + r"\.[\w.-]*_?history$",
    _S + r"\.zhistory$",
    _S + r"fish_history$",
    _S + r"ConsoleHost_history\.txt$",
    # keychains and password stores
    _S + r"Keychains" + _E,
    _S + r"keyrings" + _E,
    _S + r"kwalletd?" + _E,
    _S + r"\.password-store" + _E,
    _S + r"Microsoft[\\/](Credentials|Protect|Vault)" + _E,
    # browser profiles, and their secret files wherever they are copied
    _S + r"\.mozilla" + _E,
    _S + r"Firefox[\\/]Profiles" + _E,
    _S + r"\.config[\\/](google-chrome|chromium|BraveSoftware|microsoft-edge|vivaldi|opera)" + _E,
    _S + r"(Google[\\/]Chrome|Chromium|BraveSoftware|Microsoft[\\/]Edge|Opera Software|Vivaldi)[\\/]User Data" + _E,
    _S + r"Application Support[\\/](Google[\\/]Chrome|Chromium|BraveSoftware|Microsoft Edge|Firefox|Vivaldi)"
    + _E,
    _S + r"Library[\\/](Safari|Cookies)" + _E,
    _S + r"(Login Data|Cookies|Local State|Web Data|key[34]\.db|logins\.json|cookies\.sqlite|signons\.sqlite)$",
    # EdgeMind's own secrets in its data folder
    _S + r"audit\.key$",
    _S + r"api_key$",
    _S + r"remote_keys\.json$",  # remote servers' API keys where no OS keyring works
    _S + r"mcp_secrets\.json$",  # MCP servers' env/headers secrets where no OS keyring works
    _S + r"audit\.anchor(\.next)?$",
]

_COMPILED = [re.compile(p, re.IGNORECASE) for p in SECRET_PATH_PATTERNS]


def is_secret(path: str) -> bool:
    """Whether any component of `path` is on the secret list (match on the full path, case folded)."""
    return any(p.search(path) for p in _COMPILED)
