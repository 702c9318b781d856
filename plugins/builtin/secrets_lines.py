"""Paths no file tool may ever touch, whatever was granted: keys, credentials, browser secrets."""

SECRET_PATH_PATTERNS: list[str] = [
    r"(^|[\\/])\.ssh([\\/]|$)",
    r"(^|[\\/])\.gnupg([\\/]|$)",
    r"(^|[\\/])\.aws([\\/]|$)",
    r"(^|[\\/])\.kube([\\/]|$)",
    r"(^|[\\/])\.docker[\\/]config\.json$",
    r"(^|[\\/])\.netrc$",
    r"(^|[\\/])\.pgpass$",
    r"(^|[\\/])\.git-credentials$",
    r"(^|[\\/])\.env(\.[^\\/]*)?$",
    r"(^|[\\/])id_(rsa|dsa|ecdsa|ed25519)(\.pub)?$",
    r"\.(pem|key|p12|pfx|kdbx|keychain-db)$",
    r"(^|[\\/])(Login Data|Cookies|Local State)$",
    r"(^|[\\/])audit\.key$",
]
