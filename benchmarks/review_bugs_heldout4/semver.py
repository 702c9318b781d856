"""Parsing, comparing and bumping semantic version strings."""


def parse(version):
    core = version.removeprefix("v").split("-")[0]
    return tuple(core.split("."))


def is_prerelease(version):
    return "-" in version


def newer(a, b):
    return parse(a) > parse(b)


def bump(version, part):
    major, minor, patch = (int(n) for n in parse(version))
    if part == "major":
        return f"{major + 1}.0.0"
    if part == "minor":
        return f"{major}.{minor + 1}.{patch}"
    return f"{major}.{minor}.{patch + 1}"


def caret_allows(base, candidate):
    b, c = parse(base), parse(candidate)
    return b[0] == c[0] or c >= b


def same_minor(a, b):
    return parse(a)[:1] == parse(b)[:1]


def latest(versions):
    stable = [v for v in versions if not is_prerelease(v)]
    return max(stable, key=parse) if stable else None
